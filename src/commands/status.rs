//! The `status` command: the status document ([`crate::status`]) as a table for a terminal, or as
//! the JSON that `/status.json` also serves.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::startup::connect_and_migrate_all;
use crate::status::{document, local, Status, RECENT_DAYS};

/// `status` for the selected operations (`only`: the `--account` given, if any), as of `at`
/// (default: now).
pub async fn status(
    all: &[Settings],
    only: Option<&str>,
    json: bool,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<ExitCode> {
    let db = connect_and_migrate_all(all).await?;
    let doc = document(&db, all, only, at.unwrap_or_else(Utc::now)).await?;
    if json {
        println!("{}", doc.to_json());
    } else {
        print_text(all, &doc);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(all: &[Settings], doc: &Status) {
    print_table(all, doc);
    print_completeness(doc);
    print_suspect_and_unanswered(all, doc);
    print_tokens(all, doc);
    print_audit(all, doc);
}

fn print_table(all: &[Settings], doc: &Status) {
    let zones: Vec<String> = all.iter().map(|s| format!("{} {}", s.account, s.timezone)).collect();
    println!("times are local to each account ({})", zones.join(", "));
    println!(
        "{:<10} {:<17} {:<7} {:<19} {:>10} {:<19} {:<10} {:>8} {:>11}  {:<9} LAST ERROR",
        "ACCOUNT", "REPORT", "ENABLED", "WATERMARK", "LAG", "LAST RUN", "STATUS", "ROWS", "QUARANTINED", "LIGHT"
    );
    let dash = || "-".to_string();
    for l in &doc.reports {
        let report = if l.stream.is_empty() { l.report.clone() } else { format!("{} [{}]", l.report, l.stream) };
        println!(
            "{:<10} {:<17} {:<7} {:<19} {:>10} {:<19} {:<10} {:>8} {:>11}  {:<9} {}",
            l.account,
            report,
            if l.enabled { "yes" } else { "no" },
            l.watermark_local.clone().unwrap_or_else(dash),
            l.lag_seconds.map(human_duration).unwrap_or_else(dash),
            l.last_run_at_local.clone().unwrap_or_else(dash),
            l.last_status.clone().unwrap_or_else(dash),
            l.last_rows_upserted.map(|n| n.to_string()).unwrap_or_else(dash),
            l.rows_quarantined,
            l.light,
            l.last_error.clone().unwrap_or_default(),
        );
    }
}

fn print_completeness(doc: &Status) {
    if doc.completeness.is_empty() {
        return;
    }
    println!(
        "\ncompleteness (etl_completeness; days of the last {RECENT_DAYS} that are suspect, short or unanswered):"
    );
    for c in &doc.completeness {
        let stream = if c.stream.is_empty() { String::new() } else { format!(" [{}]", c.stream) };
        let last = c.last_complete_day.map_or_else(|| "-".to_string(), |d| d.to_string());
        let odd: Vec<String> =
            c.incomplete.iter().map(|d| format!("{} {} ({} rows)", d.day, d.status, d.rows)).collect();
        let odd = if odd.is_empty() { String::new() } else { format!("; {}", odd.join(", ")) };
        println!("  {:<10} {:<12} complete to {last}{stream}{odd}", c.account, c.report);
    }
}

fn print_suspect_and_unanswered(all: &[Settings], doc: &Status) {
    if !doc.suspect_empty_days.is_empty() {
        println!("\nsuspect empty days (answered empty while holding rows; kept, asked again every run):");
        for d in &doc.suspect_empty_days {
            let stream = if d.stream.is_empty() { String::new() } else { format!(" [{}]", d.stream) };
            println!("  {:<10} {:<12} {}{stream}  {} empty answer(s)", d.account, d.report, d.day, d.asks);
        }
        println!("  accept one as really empty: wolkvox-etl accept-empty --report R --day YYYY-MM-DD");
    }
    if !doc.unanswered_windows.is_empty() {
        println!(
            "\nunanswered re-reads (committed before, the API could not answer them again; asked again by later runs):"
        );
        for u in &doc.unanswered_windows {
            let stream = if u.stream.is_empty() { String::new() } else { format!(" [{}]", u.stream) };
            let (from, to) = (local(all, &u.account, u.window_start), local(all, &u.account, u.window_end));
            println!(
                "  {:<10} {:<12} {from}..{to}{stream}  {} failed run(s): {}",
                u.account, u.report, u.asks, u.error
            );
        }
    }
}

fn print_tokens(all: &[Settings], doc: &Status) {
    let now = Utc::now();
    for calls in &doc.token_calls_today {
        let budget = calls.daily_budget.map(|b| format!(", daily budget {b}")).unwrap_or_default();
        println!("\ntoken calls today ({}, account {}{budget}):", calls.day, calls.account);
        if calls.tokens.is_empty() {
            println!("  none");
        }
        for t in &calls.tokens {
            let paused = t
                .paused_until
                .filter(|until| *until > now)
                .map(|until| format!("  PAUSED until {} (daily limit)", local(all, &calls.account, until)))
                .unwrap_or_default();
            println!("  {:<12} {:>6}{paused}", t.token_label, t.calls);
        }
    }
    if doc.api_token_info.is_empty() {
        return;
    }
    println!("\nthe API's own count (token_info), latest read per token:");
    let show = crate::sync::api_token_count::shown;
    for r in &doc.api_token_info {
        println!(
            "  {:<10} {:<12} read {}  limit {}, used today {} (our count {}), all tokens today {}, available {}",
            r.account,
            r.token_label,
            local(all, &r.account, r.read_at),
            show(r.token_limit),
            show(r.token_use_today),
            r.our_calls_today,
            show(r.all_token_today),
            show(r.available),
        );
    }
}

fn print_audit(all: &[Settings], doc: &Status) {
    if doc.operator_changes.is_empty() {
        return;
    }
    println!("\nlatest operator changes (etl_audit, newest first):");
    for e in &doc.operator_changes {
        let stream = if e.stream.is_empty() { String::new() } else { format!(" [{}]", e.stream) };
        let none = || "none".to_string();
        println!(
            "  {}  {:<10} {:<12} {:<16} by {}: {} -> {}{stream}",
            local(all, &e.account, e.at),
            e.account,
            e.report,
            e.command,
            e.who,
            e.old_value.clone().unwrap_or_else(none),
            e.new_value.clone().unwrap_or_else(none),
        );
    }
}

/// `3d4h`, `2h05m`, `4m10s`, `12s`.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lags_are_shown_in_their_largest_units() {
        assert_eq!(super::human_duration(12), "12s");
        assert_eq!(super::human_duration(250), "4m10s");
        assert_eq!(super::human_duration(7500), "2h05m");
        assert_eq!(super::human_duration(3 * 86_400 + 4 * 3600 + 5), "3d4h");
        assert_eq!(super::human_duration(-5), "0s");
    }
}
