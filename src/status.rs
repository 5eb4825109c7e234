//! The status document: what `status --json` prints, `/status.json` serves and the status page
//! renders — built once here, so the three can never disagree.
//!
//! Read-only: every query is a SELECT the read-only BI role may run. Times are shown in each
//! operation's zone; API text (a run's error) arrives cut to one line.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::Settings;
use crate::store::api_token_count::TokenInfoRead;
use crate::store::audit::AuditEntry;
use crate::store::ledger::DayStatus;
use crate::store::suspect::SuspectDay;
use crate::store::token_usage::TokenUsage;
use crate::store::unanswered::OpenEntry;
use crate::store::{Db, StoreError};
use crate::time::utc_to_local;

/// How many operator changes the document holds.
pub const AUDIT_ENTRIES: i64 = 5;
/// How many recent days `completeness` lists when they are suspect, short or unanswered.
pub const RECENT_DAYS: i64 = 7;
/// The calendar's length, today included.
pub const CALENDAR_DAYS: i64 = 31;

/// Everything `status` knows, as of one instant.
#[derive(Serialize)]
pub struct Status {
    /// The instant the document describes, in the first operation's zone.
    pub generated_at_local: String,
    /// That zone.
    pub time_zone: String,
    /// One line per report stream with state, then the enabled reports never run.
    pub reports: Vec<ReportLine>,
    /// The last [`CALENDAR_DAYS`] local days × the enabled report streams.
    pub calendar: Calendar,
    /// Per stream: its last complete day and its recent odd days.
    pub completeness: Vec<Completeness>,
    /// Calls per token today, per operation.
    pub token_calls_today: Vec<AccountCalls>,
    /// The API's own count, latest read per token.
    pub api_token_info: Vec<TokenInfoRead>,
    /// Days answered empty while holding rows.
    pub suspect_empty_days: Vec<SuspectDay>,
    /// Re-reads the API could not answer.
    pub unanswered_windows: Vec<OpenEntry>,
    /// The latest operator changes, newest first.
    pub operator_changes: Vec<AuditEntry>,
}

impl Status {
    /// The document as `status --json` prints it and `/status.json` serves it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

/// One report stream's state.
#[derive(Serialize)]
pub struct ReportLine {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report (`""` for most).
    pub stream: String,
    /// Whether the configuration runs it.
    pub enabled: bool,
    /// `ok`, `late`, `failing`, `paused`, `rejected` or `disabled`: see [`light`].
    pub light: &'static str,
    /// The committed watermark, local.
    pub watermark_local: Option<String>,
    /// How far the watermark is behind now.
    pub lag_seconds: Option<i64>,
    /// The latest run's start, local.
    pub last_run_at_local: Option<String>,
    /// The latest run's status.
    pub last_status: Option<String>,
    /// Rows the latest run inserted or changed.
    pub last_rows_upserted: Option<i64>,
    /// How long the latest run took.
    pub last_duration_ms: Option<i64>,
    /// The latest run's error, on one line and cut.
    pub last_error: Option<String>,
    /// Rows kept in `etl_rejected` because their key could not be read.
    pub rows_quarantined: i64,
    /// When the schedule runs it next, local.
    pub next_run_local: Option<String>,
}

/// A stream's completeness: its last complete day, and its recent days that are suspect or short.
#[derive(Serialize)]
pub struct Completeness {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// The latest day known complete.
    pub last_complete_day: Option<NaiveDate>,
    /// Recent days that are suspect, short or unanswered.
    pub incomplete: Vec<DayStatus>,
}

/// One operation's calls today.
#[derive(Serialize)]
pub struct AccountCalls {
    /// Operation label.
    pub account: String,
    /// Its local day.
    pub day: NaiveDate,
    /// Licences × 1000, when `wolkvox.licenses` is set.
    pub daily_budget: Option<i64>,
    /// Per token.
    pub tokens: Vec<TokenUsage>,
}

/// The completeness calendar.
#[derive(Serialize)]
pub struct Calendar {
    /// Today, in the first operation's zone.
    pub today: NaiveDate,
    /// The days shown, oldest first.
    pub days: Vec<NaiveDate>,
    /// One row per enabled report stream.
    pub rows: Vec<CalendarRow>,
}

/// One report stream's days.
#[derive(Serialize)]
pub struct CalendarRow {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// One per day of [`Calendar::days`].
    pub cells: Vec<Cell>,
}

/// One report stream's day.
#[derive(Serialize)]
pub struct Cell {
    /// The local day.
    pub day: NaiveDate,
    /// `complete`, `partial`, `suspect`, `unanswered` or `not-synced`: see [`cell_state`].
    pub state: &'static str,
    /// Rows stored for the day, when it was read.
    pub rows: Option<i64>,
}

/// The status of `all` (only `only`'s operation when given) as of `now`.
pub async fn document(db: &Db, all: &[Settings], only: Option<&str>, now: DateTime<Utc>) -> Result<Status, StoreError> {
    let mine = |account: &str| only.is_none_or(|o| o == account);
    let mut token_calls_today = Vec::new();
    let mut api_token_info = Vec::new();
    for settings in all.iter().filter(|s| mine(&s.account)) {
        let day = utc_to_local(settings.timezone, now).date();
        let tokens = db.token_usage(&settings.account, day).await?;
        let daily_budget = settings.licenses.map(|l| i64::from(l) * 1000);
        token_calls_today.push(AccountCalls { account: settings.account.clone(), day, daily_budget, tokens });
        api_token_info.extend(db.latest_token_info(&settings.account).await?);
    }
    let paused: Vec<(String, String)> = token_calls_today
        .iter()
        .flat_map(|a| {
            a.tokens
                .iter()
                .filter(|t| t.paused_until.is_some_and(|u| u > now))
                .map(|t| (a.account.clone(), t.token_label.clone()))
        })
        .collect();
    let zone = all[0].timezone;
    let today = utc_to_local(zone, now).date();
    let days = db.completeness(today - Duration::days(CALENDAR_DAYS - 1)).await?;
    Ok(Status {
        generated_at_local: utc_to_local(zone, now).format("%Y-%m-%d %H:%M:%S").to_string(),
        time_zone: zone.name().to_string(),
        reports: lines(db, all, only, now, &paused).await?,
        calendar: calendar(all, only, today, &days),
        completeness: completeness(db, only, today, &days).await?,
        token_calls_today,
        api_token_info,
        suspect_empty_days: db.suspect_all().await?.into_iter().filter(|d| mine(&d.account)).collect(),
        unanswered_windows: db.unanswered().await?.into_iter().filter(|u| mine(&u.account)).collect(),
        operator_changes: db.recent_audit(only, AUDIT_ENTRIES).await?,
    })
}

/// `t` in `account`'s zone (accounts without settings: the first account's).
pub fn local(all: &[Settings], account: &str, t: DateTime<Utc>) -> String {
    utc_to_local(zone_of(all, account), t).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn zone_of(all: &[Settings], account: &str) -> Tz {
    all.iter().find(|s| s.account == account).unwrap_or(&all[0]).timezone
}

/// One line per (account, report, stream) with state in the database, then the enabled reports
/// never run.
async fn lines(
    db: &Db,
    all: &[Settings],
    only: Option<&str>,
    now: DateTime<Utc>,
    paused: &[(String, String)],
) -> Result<Vec<ReportLine>, StoreError> {
    let config = |account: &str, report: &str| {
        all.iter().filter(|s| s.account == account).flat_map(|s| s.reports.iter()).find(|r| r.report.api == report)
    };
    let dimension = |account: &str, report: &str| {
        crate::wolkvox::catalog::dimensions::Dimension::find(report).is_some()
            && all.iter().any(|s| s.account == account && s.dimensions.enabled)
    };
    let mut lines: Vec<ReportLine> = Vec::new();
    for s in db.status().await?.into_iter().filter(|s| only.is_none_or(|o| s.account == o)) {
        let configured = config(&s.account, &s.report);
        let is_paused = configured.is_some_and(|c| paused.contains(&(s.account.clone(), c.token_label.clone())));
        let period = configured.map(|c| period_seconds(&c.schedule, zone_of(all, &s.account)));
        let lag = s.watermark.map(|w| (now - w).num_seconds());
        let is_dimension = dimension(&s.account, &s.report);
        let enabled = configured.is_some() || is_dimension;
        // A dimension has no watermark: it is late when its daily read is.
        let (behind, period) =
            if is_dimension { (s.last_run_at.map(|t| (now - t).num_seconds()), Some(86_400)) } else { (lag, period) };
        lines.push(ReportLine {
            light: light(enabled, s.last_status.as_deref(), is_paused, behind, period, s.quarantined),
            enabled,
            watermark_local: s.watermark.map(|t| local(all, &s.account, t)),
            lag_seconds: lag,
            last_run_at_local: s.last_run_at.map(|t| local(all, &s.account, t)),
            last_status: s.last_status,
            last_rows_upserted: s.last_rows_upserted,
            last_duration_ms: s.last_duration_ms,
            // Stored cut since this release; an older one stored it whole, CR/LF and all.
            last_error: s.last_error.map(|e| crate::text::one_line(&e, crate::text::MESSAGE_CHARS)),
            rows_quarantined: s.quarantined,
            next_run_local: configured.and_then(|c| next_run(&c.schedule, zone_of(all, &s.account), now)),
            account: s.account,
            report: s.report,
            stream: s.stream,
        });
    }
    for settings in all.iter().filter(|s| only.is_none_or(|o| s.account == o)) {
        for r in &settings.reports {
            if lines.iter().any(|l| l.account == settings.account && l.report == r.report.api) {
                continue;
            }
            lines.push(ReportLine {
                account: settings.account.clone(),
                report: r.report.api.to_string(),
                stream: String::new(),
                enabled: true,
                light: "late",
                watermark_local: None,
                lag_seconds: None,
                last_run_at_local: None,
                last_status: None,
                last_rows_upserted: None,
                last_duration_ms: None,
                last_error: None,
                rows_quarantined: 0,
                next_run_local: next_run(&r.schedule, settings.timezone, now),
            });
        }
    }
    Ok(lines)
}

/// A report's light, worst first: `failing` (its latest run failed), `paused` (its token reached
/// the daily limit), `late` (its watermark is more than two schedule periods and the settle
/// margin behind, or it never committed one), `rejected` (rows of it are in quarantine, or its
/// latest run had every row rejected), else `ok`. Not run by this configuration: `disabled`.
pub fn light(
    enabled: bool,
    last_status: Option<&str>,
    paused: bool,
    lag_seconds: Option<i64>,
    period_seconds: Option<i64>,
    quarantined: i64,
) -> &'static str {
    if !enabled {
        return "disabled";
    }
    if last_status == Some("failed") {
        return "failing";
    }
    if paused {
        return "paused";
    }
    // Two periods and the settle delay and a margin: an hourly report is not late at 61 minutes.
    let allowed = period_seconds.map_or(2 * 3600, |p| 2 * p + 600);
    if lag_seconds.is_none_or(|lag| lag > allowed) {
        return "late";
    }
    if quarantined > 0 || last_status == Some("rejected") {
        return "rejected";
    }
    "ok"
}

/// Seconds between two runs of `schedule` (a day divided by its runs).
fn period_seconds(schedule: &str, tz: Tz) -> i64 {
    86_400 / i64::from(crate::budget::runs_per_day(schedule, tz).max(1))
}

/// The next time `schedule` fires after `now`, local.
fn next_run(schedule: &str, tz: Tz, now: DateTime<Utc>) -> Option<String> {
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
        .ok()?;
    let next = cron.find_next_occurrence(&now.with_timezone(&tz), false).ok()?;
    Some(next.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A ledger status as the calendar shows it: `pending` (the watermark is still inside the day)
/// and `short` (the API now answers fewer rows than are stored) are both `partial`.
pub fn cell_state(status: &str) -> &'static str {
    match status {
        "complete" => "complete",
        "suspect" => "suspect",
        "unanswered" => "unanswered",
        "pending" | "short" => "partial",
        _ => "not-synced",
    }
}

/// The calendar of the enabled report streams over the days since `today` - 30.
fn calendar(all: &[Settings], only: Option<&str>, today: NaiveDate, days: &[DayStatus]) -> Calendar {
    let shown: Vec<NaiveDate> = (0..CALENDAR_DAYS).rev().map(|back| today - Duration::days(back)).collect();
    // Looked up once per cell: 104 reports × 31 days would otherwise scan every day per cell.
    let by_cell: std::collections::HashMap<(&str, &str, &str, NaiveDate), &DayStatus> =
        days.iter().map(|d| ((d.account.as_str(), d.report.as_str(), d.stream.as_str(), d.day), d)).collect();
    let mut rows = Vec::new();
    for settings in all.iter().filter(|s| only.is_none_or(|o| s.account == o)) {
        for r in &settings.reports {
            let streams: Vec<&str> = if r.report.streams.is_empty() { vec![""] } else { r.report.streams.to_vec() };
            for stream in streams {
                let cells = shown
                    .iter()
                    .map(|day| {
                        let found = by_cell.get(&(settings.account.as_str(), r.report.api, stream, *day));
                        Cell {
                            day: *day,
                            state: found.map_or("not-synced", |d| cell_state(&d.status)),
                            rows: found.map(|d| d.rows),
                        }
                    })
                    .collect();
                rows.push(CalendarRow {
                    account: settings.account.clone(),
                    report: r.report.api.to_string(),
                    stream: stream.to_string(),
                    cells,
                });
            }
        }
    }
    Calendar { today, days: shown, rows }
}

/// Per stream, its last complete day and its days of the last [`RECENT_DAYS`] that are suspect,
/// short or unanswered.
async fn completeness(
    db: &Db,
    only: Option<&str>,
    today: NaiveDate,
    days: &[DayStatus],
) -> Result<Vec<Completeness>, StoreError> {
    let since = today - Duration::days(RECENT_DAYS);
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
    let odd = days.iter().filter(|d| d.day >= since && matches!(d.status.as_str(), "suspect" | "short" | "unanswered"));
    for d in odd {
        let same = |c: &Completeness| c.account == d.account && c.report == d.report && c.stream == d.stream;
        match out.iter_mut().find(|c| same(c)) {
            Some(c) => c.incomplete.push(d.clone()),
            None => out.push(Completeness {
                account: d.account.clone(),
                report: d.report.clone(),
                stream: d.stream.clone(),
                last_complete_day: None,
                incomplete: vec![d.clone()],
            }),
        }
    }
    out.retain(|c| only.is_none_or(|account| c.account == account));
    out.sort_by(|a, b| (&a.account, &a.report, &a.stream).cmp(&(&b.account, &b.report, &b.stream)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_light_is_the_worst_thing_true_of_a_report() {
        // enabled, last status, paused, lag, period, quarantined
        assert_eq!(light(false, Some("failed"), true, None, None, 3), "disabled");
        assert_eq!(light(true, Some("failed"), true, Some(10), Some(300), 3), "failing");
        assert_eq!(light(true, Some("succeeded"), true, Some(10), Some(300), 3), "paused");
        assert_eq!(light(true, Some("succeeded"), false, Some(1201), Some(300), 3), "late");
        assert_eq!(light(true, Some("succeeded"), false, Some(1200), Some(300), 3), "rejected");
        assert_eq!(light(true, Some("rejected"), false, Some(60), Some(300), 0), "rejected");
        assert_eq!(light(true, Some("succeeded"), false, Some(60), Some(300), 0), "ok");
        // Never committed a watermark: late, not ok.
        assert_eq!(light(true, None, false, None, Some(300), 0), "late");
        // An hourly report 70 minutes behind is on time.
        assert_eq!(light(true, Some("succeeded"), false, Some(4200), Some(3600), 0), "ok");
    }

    #[test]
    fn ledger_statuses_map_to_the_calendar_states() {
        let states: Vec<&str> =
            ["complete", "pending", "short", "suspect", "unanswered", "other"].iter().map(|s| cell_state(s)).collect();
        assert_eq!(states, ["complete", "partial", "partial", "suspect", "unanswered", "not-synced"]);
    }

    #[test]
    fn the_next_run_is_the_schedules_next_tick_in_the_operations_zone() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T15:02:10Z").unwrap().with_timezone(&Utc);
        let tz: Tz = "America/Bogota".parse().unwrap();
        assert_eq!(next_run("0 */5 * * * *", tz, now).as_deref(), Some("2026-12-06 10:05:00"));
        assert_eq!(next_run("0 7 * * * *", tz, now).as_deref(), Some("2026-12-06 10:07:00"));
        assert_eq!(period_seconds("0 */5 * * * *", tz), 300);
    }
}
