//! How the API spells values: datetimes, dates, hours, counts, durations, decimals, percents and
//! booleans, each as the real reports write them.
//!
//! It owns the spellings and nothing else; which spelling a field gets is `formats`' table. The
//! invariant it protects: a spelling is a pure function of its number and its [`Format`], so
//! both generators render the same number as the same string.

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::formats::{Format, HourStyle};

/// `YYYY-MM-DD HH:MM:SS`, the API's datetime form.
///
/// Hand-rolled because chrono's general formatter dominates the cost of a 150k-row answer.
pub(super) fn format_datetime(t: NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

/// `H:MM:SS` with at least two hour digits; hours may pass 24 (`"41:06:00"`).
fn hms(seconds: i64) -> String {
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

/// `units` of `10^-places` as a decimal with `places` decimals: `(1234, 2)` → `"12.34"`,
/// `(2887, 3)` → `"2.887"`.
pub(super) fn decimal(units: u64, places: u8) -> String {
    let scale = 10u64.pow(u32::from(places));
    format!("{}.{:0width$}", units / scale, units % scale, width = usize::from(places))
}

/// Basis points as the API's percentage (`"34.64 %"`, `"0 %"`); one in seven of a percentage
/// that can pass 100 is fifty times larger, with a thousands comma (`"15,233.33 %"`).
pub(super) fn percent(basis_points: u64, past_100: bool) -> String {
    let bp = if past_100 && basis_points.is_multiple_of(7) { basis_points * 50 } else { basis_points };
    if bp == 0 {
        return "0 %".to_owned();
    }
    format!("{}.{:02} %", thousands(bp / 100), bp % 100)
}

pub(super) fn yes_no(d: u64) -> String {
    if d.is_multiple_of(2) { "yes" } else { "no" }.to_owned()
}

/// The slot's time of day in `style` (`"13:00"`, `"09"`, `"9"`).
pub(super) fn hour_text(style: HourStyle, t: NaiveDateTime) -> String {
    match style {
        HourStyle::TwoDigits => format!("{:02}", t.hour()),
        HourStyle::Number => t.hour().to_string(),
        HourStyle::HoursMinutes => format!("{:02}:{:02}", t.hour(), t.minute()),
    }
}

/// A duration of `seconds` in `format` (a [`Format::Clock`], [`Format::Seconds`], or either by
/// `d`'s parity for [`Format::ClockOrSeconds`]).
pub(super) fn duration(format: Format, seconds: i64, d: u64) -> String {
    let plain = match format {
        Format::Seconds => true,
        Format::ClockOrSeconds => d.is_multiple_of(2),
        _ => false,
    };
    if plain {
        seconds.to_string()
    } else {
        hms(seconds)
    }
}

/// `YYYY-MM-DD`.
pub(super) fn format_date(t: NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

/// `YYYY-MM-DD-HH`, diagram_1_2's hour stamp.
pub(super) fn hour_stamp(t: NaiveDateTime) -> String {
    format!("{}-{:02}", format_date(t), t.hour())
}
