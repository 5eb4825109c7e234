//! How the API spells values: datetimes, dates, hours, counts, durations, decimals, percents and
//! booleans, each as the real reports write them.
//!
//! It owns the spellings and nothing else. The invariant it protects: a spelling is a pure
//! function of its number (and, where reports disagree, of the field or report name), so both
//! generators render the same number as the same string.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// `YYYY-MM-DD HH:MM:SS`, the API's datetime form.
///
/// Hand-rolled because chrono's general formatter dominates the cost of a 150k-row answer.
pub(super) fn format_datetime(t: NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

/// `H:MM:SS` with at least two hour digits; hours may pass 24 (`"41:06:00"`).
pub(super) fn hms(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `1234` → `"1,234"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count as the API writes it: plain, or with thousands commas when large.
pub(super) fn integer(n: u64) -> String {
    if n >= 1000 && n.is_multiple_of(2) {
        thousands(n)
    } else {
        n.to_string()
    }
}

/// Hundredths as a decimal (`"12.34"`); credits with three decimals (`"2.887"`).
pub(super) fn decimal(hundredths: u64, name: &str) -> String {
    if name == "nlp_credits" {
        format!("{}.{:03}", hundredths / 1000, hundredths % 1000)
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// Basis points as the API's percentage (`"34.64 %"`, `"0 %"`, sometimes `"15,233.33 %"`).
pub(super) fn percent(basis_points: u64, name: &str) -> String {
    let bp = if name == "preview_percent" && basis_points.is_multiple_of(7) { basis_points * 50 } else { basis_points };
    if bp == 0 {
        return "0 %".to_owned();
    }
    format!("{}.{:02} %", thousands(bp / 100), bp % 100)
}

pub(super) fn yes_no(d: u64) -> String {
    if d.is_multiple_of(2) { "yes" } else { "no" }.to_owned()
}

/// The slot's hour as each report writes it (`"13:00"`, `"09"`, `"9"`, `"09:30"`).
pub(super) fn hour_text(api: &str, t: NaiveDateTime) -> String {
    match api {
        "skill_4" => format!("{:02}", t.hour()),
        "skill_5" => t.hour().to_string(),
        _ => format!("{:02}:{:02}", t.hour(), t.minute()),
    }
}

/// `YYYY-MM-DD`.
pub(super) fn format_date(t: NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}
