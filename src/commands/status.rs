//! The `status` command: each report's watermark, lag, last run and quarantined rows, and the
//! latest operator changes (`etl_audit`), as a table or JSON.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::startup::connect_and_migrate_all;
use crate::store::{Db, StoreError};
use crate::time::utc_to_local;

/// `status` for the selected operations (`only`: the `--account` given, if any).
pub async fn status(all: &[Settings], only: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let db = connect_and_migrate_all(all).await?;
    print(&db, all, only, json).await?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Line {
    account: String,
    report: String,
    enabled: bool,
    watermark_local: Option<String>,
    lag_seconds: Option<i64>,
    last_run_at_local: Option<String>,
    last_status: Option<String>,
    last_rows_upserted: Option<i64>,
    last_error: Option<String>,
    /// Rows kept in `etl_rejected` because their key could not be read.
    rows_quarantined: i64,
}

/// Everything `status` shows, read from the database.
struct Status {
    lines: Vec<Line>,
    completeness: Vec<Completeness>,
    /// Each operation's token calls on its local day.
    tokens: Vec<(String, chrono::NaiveDate, Vec<crate::store::token_usage::TokenUsage>)>,
    api_counts: Vec<crate::store::api_token_count::TokenInfoRead>,
    suspect: Vec<crate::store::suspect::SuspectDay>,
    unanswered: Vec<crate::store::unanswered::OpenEntry>,
    audit: Vec<crate::store::audit::AuditEntry>,
}

/// Prints the status of every report that is enabled or has state in the database.
///
/// With `only` (`--account`), history of every other account in the shared database is left out.
async fn print(db: &Db, all: &[Settings], only: Option<&str>, json: bool) -> Result<(), StoreError> {
    let now = Utc::now();
    let status = read(db, all, only, now).await?;
    if json {
        print_json(&status);
        return Ok(());
    }
    let Status { lines, completeness, tokens, api_counts, suspect, unanswered, audit } = status;
    print_table(all, lines);
    print_completeness(&completeness);
    print_suspect(&suspect);
    print_unanswered(all, &unanswered);
    print_tokens(all, tokens, now);
    print_api_counts(all, &api_counts);
    print_audit(all, &audit);
    Ok(())
}

/// Reads what `status` shows; with `only`, of that operation alone.
async fn read(db: &Db, all: &[Settings], only: Option<&str>, now: DateTime<Utc>) -> Result<Status, StoreError> {
    let lines = lines(db, all, only, now).await?;
    let mut tokens = Vec::new();
    let mut api_counts = Vec::new();
    for settings in all {
        let today = utc_to_local(settings.timezone, now).date();
        let usage = db.token_usage(&settings.account, today).await?;
        tokens.push((settings.account.clone(), today, usage));
        api_counts.extend(db.latest_token_info(&settings.account).await?);
    }
    let suspect: Vec<_> =
        db.suspect_all().await?.into_iter().filter(|d| only.is_none_or(|account| d.account == account)).collect();
    let unanswered: Vec<_> =
        db.unanswered().await?.into_iter().filter(|u| only.is_none_or(|account| u.account == account)).collect();
    let completeness = completeness(db, all, only, now).await?;
    let audit = db.recent_audit(only, AUDIT_ENTRIES).await?;
    Ok(Status { lines, completeness, tokens, api_counts, suspect, unanswered, audit })
}

/// `status --json`: one document.
fn print_json(status: &Status) {
    let Status { lines, completeness, tokens, api_counts, suspect, unanswered, audit } = status;
    let usage: Vec<_> = tokens
        .iter()
        .map(|(account, day, usage)| serde_json::json!({ "account": account, "day": day, "tokens": usage }))
        .collect();
    let doc = serde_json::json!({
        "reports": lines,
        "completeness": completeness,
        "token_calls_today": usage,
        "api_token_info": api_counts,
        "suspect_empty_days": suspect,
        "unanswered_windows": unanswered,
        "operator_changes": audit,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into()));
}

/// Streams whose recent days are suspect, short or unanswered.
fn print_completeness(completeness: &[Completeness]) {
    if !completeness.is_empty() {
        println!(
            "\ncompleteness (etl_completeness; days of the last {RECENT_DAYS} that are suspect, short or unanswered):"
        );
        for c in completeness {
            let stream = if c.stream.is_empty() { String::new() } else { format!(" [{}]", c.stream) };
            let last = c.last_complete_day.map_or_else(|| "-".to_string(), |d| d.to_string());
            let odd: Vec<String> =
                c.incomplete.iter().map(|d| format!("{} {} ({} rows)", d.day, d.status, d.rows)).collect();
            let odd = if odd.is_empty() { String::new() } else { format!("; {}", odd.join(", ")) };
            println!("  {:<10} {:<12} complete to {last}{stream}{odd}", c.account, c.report);
        }
    }
}

/// Days answered empty while holding rows.
fn print_suspect(suspect: &[crate::store::suspect::SuspectDay]) {
    if !suspect.is_empty() {
        println!("\nsuspect empty days (answered empty while holding rows; kept, asked again every run):");
        for d in suspect {
            let stream = if d.stream.is_empty() { String::new() } else { format!(" [{}]", d.stream) };
            println!("  {:<10} {:<12} {}{stream}  {} empty answer(s)", d.account, d.report, d.day, d.asks);
        }
        println!("  accept one as really empty: wolkvox-etl accept-empty --report R --day YYYY-MM-DD");
    }
}

/// Re-reads the API could not answer.
fn print_unanswered(all: &[Settings], unanswered: &[crate::store::unanswered::OpenEntry]) {
    if !unanswered.is_empty() {
        println!(
            "\nunanswered re-reads (committed before, the API could not answer them again; asked again by later runs):"
        );
        for u in unanswered {
            let stream = if u.stream.is_empty() { String::new() } else { format!(" [{}]", u.stream) };
            let (from, to) = (local(all, &u.account, u.window_start), local(all, &u.account, u.window_end));
            println!(
                "  {:<10} {:<12} {from}..{to}{stream}  {} failed run(s): {}",
                u.account, u.report, u.asks, u.error
            );
        }
    }
}

/// Each operation's token calls today, and the tokens paused by the daily limit.
fn print_tokens(
    all: &[Settings],
    tokens: Vec<(String, chrono::NaiveDate, Vec<crate::store::token_usage::TokenUsage>)>,
    now: DateTime<Utc>,
) {
    for (account, today, usage) in tokens {
        println!("\ntoken calls today ({today}, account {account}):");
        if usage.is_empty() {
            println!("  none");
        }
        for t in usage {
            let paused = t
                .paused_until
                .filter(|until| *until > now)
                .map(|until| format!("  PAUSED until {} (daily limit)", local(all, &account, until)))
                .unwrap_or_default();
            println!("  {:<12} {:>6}{paused}", t.token_label, t.calls);
        }
    }
}

/// The API's own count of each token's calls, latest read.
fn print_api_counts(all: &[Settings], api_counts: &[crate::store::api_token_count::TokenInfoRead]) {
    if !api_counts.is_empty() {
        println!("\nthe API's own count (token_info), latest read per token:");
        let show = crate::sync::api_token_count::shown;
        for r in api_counts {
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
}

/// The latest operator changes.
fn print_audit(all: &[Settings], audit: &[crate::store::audit::AuditEntry]) {
    if !audit.is_empty() {
        println!("\nlatest operator changes (etl_audit, newest first):");
        for e in audit {
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
}

/// How many operator changes `status` shows.
const AUDIT_ENTRIES: i64 = 5;

/// How many recent days `status` lists when they are suspect or short.
const RECENT_DAYS: i64 = 7;

/// A stream's completeness: its last complete day, and its recent days that are suspect or short.
#[derive(Serialize)]
struct Completeness {
    account: String,
    report: String,
    stream: String,
    last_complete_day: Option<chrono::NaiveDate>,
    incomplete: Vec<crate::store::ledger::DayStatus>,
}

async fn completeness(
    db: &Db,
    all: &[Settings],
    only: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Completeness>, StoreError> {
    let zone = all[0].timezone;
    let since = utc_to_local(zone, now).date() - chrono::Duration::days(RECENT_DAYS);
    let days = db.completeness(since).await?;
    let mut out: Vec<Completeness> = db
        .last_complete()
        .await?
        .into_iter()
        .map(|(account, report, stream, day)| Completeness {
            account,
            report,
            stream,
            last_complete_day: Some(day),
            incomplete: Vec::new(),
        })
        .collect();
    for d in days.into_iter().filter(|d| matches!(d.status.as_str(), "suspect" | "short" | "unanswered")) {
        let same = |c: &Completeness| c.account == d.account && c.report == d.report && c.stream == d.stream;
        match out.iter_mut().find(|c| same(c)) {
            Some(c) => c.incomplete.push(d),
            None => out.push(Completeness {
                account: d.account.clone(),
                report: d.report.clone(),
                stream: d.stream.clone(),
                last_complete_day: None,
                incomplete: vec![d],
            }),
        }
    }
    out.retain(|c| only.is_none_or(|account| c.account == account));
    out.sort_by(|a, b| (&a.account, &a.report, &a.stream).cmp(&(&b.account, &b.report, &b.stream)));
    Ok(out)
}

/// `t` in `account`'s zone (accounts without settings: the first account's).
fn local(all: &[Settings], account: &str, t: chrono::DateTime<Utc>) -> String {
    let zone = all.iter().find(|s| s.account == account).unwrap_or(&all[0]).timezone;
    utc_to_local(zone, t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One line per (account, report) with state in the database, then the enabled reports never run.
async fn lines(db: &Db, all: &[Settings], only: Option<&str>, now: DateTime<Utc>) -> Result<Vec<Line>, StoreError> {
    let mut lines: Vec<Line> = db
        .status()
        .await?
        .into_iter()
        .filter(|s| only.is_none_or(|account| s.account == account))
        .map(|s| Line {
            enabled: all.iter().any(|c| {
                let dimension =
                    crate::wolkvox::catalog::dimensions::Dimension::find(&s.report).is_some() && c.dimensions.enabled;
                c.account == s.account && (dimension || c.reports.iter().any(|r| r.report.api == s.report))
            }),
            watermark_local: s.watermark.map(|t| local(all, &s.account, t)),
            lag_seconds: s.watermark.map(|w| (now - w).num_seconds()),
            last_run_at_local: s.last_run_at.map(|t| local(all, &s.account, t)),
            last_status: s.last_status,
            last_rows_upserted: s.last_rows_upserted,
            // Stored cut since this release; an older one stored it whole, CR/LF and all.
            last_error: s.last_error.map(|e| crate::text::one_line(&e, crate::text::MESSAGE_CHARS)),
            rows_quarantined: s.quarantined,
            account: s.account,
            report: s.report,
        })
        .collect();
    for (settings, r) in all.iter().flat_map(|s| s.reports.iter().map(move |r| (s, r))) {
        if !lines.iter().any(|l| l.account == settings.account && l.report == r.report.api) {
            lines.push(Line {
                account: settings.account.clone(),
                report: r.report.api.to_string(),
                enabled: true,
                watermark_local: None,
                lag_seconds: None,
                last_run_at_local: None,
                last_status: None,
                last_rows_upserted: None,
                last_error: None,
                rows_quarantined: 0,
            });
        }
    }
    Ok(lines)
}

fn print_table(all: &[Settings], lines: Vec<Line>) {
    let zones: Vec<String> = all.iter().map(|s| format!("{} {}", s.account, s.timezone)).collect();
    println!("times are local to each account ({})", zones.join(", "));
    println!(
        "{:<10} {:<17} {:<7} {:<19} {:>10} {:<19} {:<10} {:>8} {:>11}  LAST ERROR",
        "ACCOUNT", "REPORT", "ENABLED", "WATERMARK", "LAG", "LAST RUN", "STATUS", "ROWS", "QUARANTINED"
    );
    let dash = || "-".to_string();
    for l in lines {
        println!(
            "{:<10} {:<17} {:<7} {:<19} {:>10} {:<19} {:<10} {:>8} {:>11}  {}",
            l.account,
            l.report,
            if l.enabled { "yes" } else { "no" },
            l.watermark_local.unwrap_or_else(dash),
            l.lag_seconds.map(human_duration).unwrap_or_else(dash),
            l.last_run_at_local.unwrap_or_else(dash),
            l.last_status.unwrap_or_else(dash),
            l.last_rows_upserted.map(|n| n.to_string()).unwrap_or_else(dash),
            l.rows_quarantined,
            l.last_error.unwrap_or_default(),
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
