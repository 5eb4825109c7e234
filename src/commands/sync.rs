//! `sync`: run reports once from the command line (first syncs, backfills, catch-ups) through
//! the same `run_once` as the daemon, with progress on stdout.

use std::io::IsTerminal;
use std::process::ExitCode;

use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use anyhow::Context;

use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::signals::watch_signals;
use crate::startup::{prepare_schema, App};
use crate::store::runs::RunStatus;
use crate::sync::{run_once, Faults, JobContext, Range, RunOutcome, WindowHook};
use crate::time::{parse_local_datetime, utc_to_local};

/// `sync`: one report (or every enabled one) once, on the scheduler's code path, or a backfill of
/// `[from, to)`; a progress line per window and a summary line per report.
pub async fn sync(
    all: Vec<Settings>,
    report: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let range = range_of(from, to)?;
    if let Some(dim) = report.and_then(crate::wolkvox::catalog::dimensions::Dimension::find) {
        return dimension(all, dim).await;
    }
    if let Some(api) = report {
        // Fail on a bad report name before connecting anything.
        for settings in &all {
            settings.report_config(api)?;
        }
    }
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    let enabled = |api: &str| apps.iter().all(|app| app.settings.reports.iter().any(|r| r.report.api == api));
    if let Some(report) = report.and_then(crate::wolkvox::catalog::find).filter(|r| !enabled(r.api)) {
        // A report that is not enabled has no table yet: create it before the first request.
        // (An enabled one's was checked at start-up.)
        prepare_schema(&apps[0].ctx.db, apps[0].settings.db_timeouts.lock, &[report]).await?;
    }
    let mut work = Vec::new();
    for app in &apps {
        let ctx = JobContext { on_window: progress_lines(app.ctx.timezone), ..(*app.ctx).clone() };
        let jobs = match report {
            Some(api) => vec![app.job(api)?],
            None => app.jobs.clone(),
        };
        work.extend(jobs.into_iter().map(|job| (ctx.clone(), job)));
    }
    let several = apps.len() > 1;
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    let mut failed = Vec::new();
    let mut cancelled = false;
    let mut total = work.len();
    for (ctx, job) in &work {
        let api_name = if several {
            format!("{}/{}", ctx.account, job.config.report.api)
        } else {
            job.config.report.api.to_string()
        };
        let api = api_name.as_str();
        let outcome = run_once(ctx, job, range, &shutdown).await;
        if std::io::stdout().is_terminal() {
            println!();
        }
        print_summary(api, ctx.timezone, &outcome);
        match verdict(api, outcome) {
            Verdict::Failed => failed.push(api_name.clone()),
            Verdict::Cancelled => {
                cancelled = true;
                break;
            }
            Verdict::Fine => {}
        }
    }
    // Without --report, the dimensions too.
    if report.is_none() && !cancelled {
        for app in &apps {
            let Some(job) = &app.dimensions else { continue };
            for (table, outcome) in crate::sync::dimensions::read_all(&app.ctx, &job.token, &shutdown).await {
                total += 1;
                if !print_dimension(table, &outcome) {
                    failed.push(table.to_string());
                }
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} of {} report(s) and dimension(s) failed: {}", failed.len(), total, failed.join(", "));
    }
    Ok(if cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// `--from`/`--to` as a range; no `--from`: the scheduler's range.
fn range_of(from: Option<&str>, to: Option<&str>) -> Result<Range, ConfigError> {
    let parse = |flag: &str, text: &str| {
        parse_local_datetime(text).ok_or_else(|| ConfigError::Invalid {
            key: flag.into(),
            problem: format!("{text:?} is not a date"),
            fix: "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS in the operation's local time".into(),
        })
    };
    Ok(match from {
        None => Range::Scheduled,
        Some(from) => Range::Explicit { from: parse("--from", from)?, to: to.map(|t| parse("--to", t)).transpose()? },
    })
}

/// A report's summary line: its status and counts, what was not stored as sent, its watermark.
fn print_summary(api: &str, tz: Tz, outcome: &RunOutcome) {
    let watermark = outcome
        .watermark
        .map(|w| utc_to_local(tz, w).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into());
    // Rows that were not stored as sent are named only when there are any.
    let c = &outcome.counts;
    let unusual = [
        (c.rows_rejected, "rejected (kept in etl_rejected)"),
        (c.rows_duplicate, "repeated a key (the last copy kept)"),
        (c.rows_empty, "empty (a parent without children, an answer without buckets)"),
        (c.nul_removed, "NUL characters removed"),
        (u64::from(c.windows_unanswered), "re-read(s) the API could not answer (in etl_unanswered)"),
    ];
    let unusual: String = unusual.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!(", {n} {what}")).collect();
    println!(
        "{api}: {status}, {windows} windows, {requests} requests, {fetched} rows fetched, {upserted} inserted or changed{unusual}, watermark {watermark} ({tz})",
        status = outcome.status.as_str(),
        windows = c.windows,
        requests = c.requests,
        fetched = c.rows_fetched,
        upserted = c.rows_upserted,
    );
}

/// What a report's run means for the command's exit.
enum Verdict {
    /// Synced.
    Fine,
    /// Not synced, or not cleanly: said on stderr, and the exit code says so.
    Failed,
    /// Shutdown requested: no further report is run.
    Cancelled,
}

/// The run's [`Verdict`], saying on stderr why a report was not synced.
fn verdict(api: &str, outcome: RunOutcome) -> Verdict {
    let unanswered = outcome.counts.windows_unanswered;
    match (outcome.status, outcome.error) {
        (RunStatus::Failed, Some(e)) => {
            eprintln!(
                "error: sync of {api} failed: {}",
                crate::text::one_line(&e.to_string(), crate::text::MESSAGE_CHARS)
            );
            Verdict::Failed
        }
        // A sync that could not run says why, and the exit code says it did not run.
        (RunStatus::Skipped, Some(e)) => {
            eprintln!("error: {api} was not synced: {e}");
            Verdict::Failed
        }
        (RunStatus::Skipped, None) => {
            eprintln!("error: {api} was not synced: another process (a daemon or another sync) is syncing it now");
            Verdict::Failed
        }
        (RunStatus::Paused, _) => {
            eprintln!("error: {api} was not synced: the token's daily call limit is reached until local midnight");
            Verdict::Failed
        }
        (RunStatus::Rejected, _) => {
            eprintln!(
                "error: sync of {api}: every row was rejected (no usable key); they are kept in etl_rejected, and the log shows an example"
            );
            Verdict::Failed
        }
        // The newer windows committed, but a re-read is left unanswered: said, and not
        // called a clean success.
        (RunStatus::Succeeded, _) if unanswered > 0 => {
            eprintln!(
                "error: sync of {api}: {} re-read(s) of rows stored before could not be answered by the API; \
                 they are in etl_unanswered (see `status`) and later runs ask again",
                unanswered
            );
            Verdict::Failed
        }
        (RunStatus::Cancelled, _) => Verdict::Cancelled,
        _ => Verdict::Fine,
    }
}

/// `sync --report dim_agent` (or `agents`): one read of one dimension.
async fn dimension(
    all: Vec<Settings>,
    dim: &'static crate::wolkvox::catalog::dimensions::Dimension,
) -> anyhow::Result<ExitCode> {
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    let mut failed = false;
    for app in &apps {
        let label = app
            .settings
            .dimensions
            .token_label
            .clone()
            .or_else(|| app.settings.tokens.first().map(|t| t.label.clone()));
        let token = label.and_then(|l| app.tokens.get(&l)).context("no token is configured")?;
        let outcome = crate::sync::dimensions::read(&app.ctx, &token, dim).await;
        failed |= !print_dimension(dim.table, &outcome);
    }
    if failed {
        anyhow::bail!("the read of {} did not succeed", dim.table);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a dimension read's line; whether it succeeded.
fn print_dimension(table: &str, outcome: &crate::sync::RunOutcome) -> bool {
    let c = &outcome.counts;
    println!(
        "{table}: {}, {} requests, {} rows read, {} versions opened or closed",
        outcome.status.as_str(),
        c.requests,
        c.rows_fetched,
        c.rows_upserted
    );
    match (&outcome.status, &outcome.error) {
        (RunStatus::Succeeded, _) => true,
        (_, Some(e)) => {
            eprintln!("error: read of {table} failed: {e}");
            false
        }
        (status, None) => {
            eprintln!("error: {table} was not read: {}", status.as_str());
            false
        }
    }
}

/// Progress of a `sync`: one line rewritten in place on a terminal, one line per window otherwise
/// (logs, CI, pipes). Each window shows the local range requested for it in `tz`.
fn progress_lines(tz: Tz) -> WindowHook {
    let terminal = std::io::stdout().is_terminal();
    let windows = std::sync::atomic::AtomicU64::new(0);
    let rows = std::sync::atomic::AtomicU64::new(0);
    WindowHook::new(move |done| {
        use std::sync::atomic::Ordering::Relaxed;
        let n = windows.fetch_add(1, Relaxed) + 1;
        let total = rows.fetch_add(done.rows, Relaxed) + done.rows;
        let line = format!(
            "{}: window {n} {} - {} rows ({} changed), {total} so far",
            done.report,
            done.window.in_zone(tz),
            done.rows,
            done.upserted
        );
        if terminal {
            print!("\r\x1b[2K{line}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        } else {
            println!("{line}");
        }
    })
}
