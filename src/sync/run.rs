//! One run of one report: plan its windows, sync them oldest first, record the outcome.
//!
//! [`run_once`] is a plain async function returning a [`RunOutcome`]; the scheduler, the `sync`
//! command and the tests all call it. Its invariant: the watermark only moves with a window's
//! committed rows (see [`super::attempt`]), so a re-run after any crash re-reads from the last
//! committed watermark. A response with 60,000 or more records is treated as truncated: the
//! window is bisected and its halves fetched instead, and nothing of the truncated response is
//! written. One replica at a time runs a stream (a run lock); the others skip their tick. A run
//! whose token another process keeps past `database.lock_timeout_seconds` is skipped too.

use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use super::attempt::Attempt;
use super::context::{JobContext, Range, ReportJob, WindowDone};
use super::error::SyncError;
use super::outcome::{Ended, RecordKey, RunCounts, RunOutcome, WindowWrite};
use super::typing::Findings;
use super::window::{self, PlanInput, Window};
use crate::config::SyncPolicy;
use crate::store::runs::RunStatus;
use crate::store::watermark::StreamKey;
use crate::store::StoreError;
use crate::time;
use crate::wolkvox::catalog::Report;
use crate::wolkvox::ApiError;

/// Runs one report once: each of its streams in turn (most reports have one). Never panics on
/// bad input; every stream's run is recorded; errors are in the outcome.
pub async fn run_once(ctx: &JobContext, job: &ReportJob, range: Range, shutdown: &CancellationToken) -> RunOutcome {
    let run_id = format!("{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    let streams: Vec<&str> =
        if job.config.report.streams.is_empty() { vec![""] } else { job.config.report.streams.to_vec() };
    // The semaphore is never closed, so acquiring can only fail on a bug.
    let _slot = ctx.run_slots.acquire().await.expect("run slots are never closed");
    let mut total: Option<RunOutcome> = None;
    for stream in streams {
        // ERROR-level spans are enabled whatever the filter, so even a WARN-only log names the
        // report, token and window of every line.
        let span = tracing::error_span!(
            "run",
            report = job.config.report.api,
            stream,
            account = %ctx.account,
            token = job.token.label(),
            run_id = %run_id,
        );
        let outcome = run_stream(ctx, job, stream, range, shutdown, run_id.clone()).instrument(span).await;
        // A token held elsewhere for the whole wait is as busy for the next stream: waiting
        // again per stream would hold this run's slot for streams × lock_timeout.
        let busy = outcome.error.as_ref().is_some_and(SyncError::is_lock_busy);
        let stop = busy || matches!(outcome.status, RunStatus::Cancelled | RunStatus::Paused);
        total = Some(match total {
            None => outcome,
            Some(sum) => sum.merge(outcome),
        });
        if stop {
            break;
        }
    }
    release_freed_memory();
    // `streams` is never empty, so one outcome exists.
    total.expect("at least one stream ran")
}

/// Hands memory freed by the run back to the OS. A run's peak (a page being parsed and
/// written) is short, but glibc keeps freed heap for reuse, so a daemon that idles for minutes
/// between runs would otherwise sit at its peak size. (The binary's own allocations are
/// mimalloc's, which returns freed pages at once, see `main.rs`; glibc still serves C code
/// such as SQLite's page cache.)
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the OS; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What a stream's run has done so far.
#[derive(Default)]
struct Progress {
    planned: Option<Window>,
    counts: RunCounts,
    watermark: Option<DateTime<Utc>>,
    findings: Findings,
}

async fn run_stream(
    ctx: &JobContext,
    job: &ReportJob,
    stream: &str,
    range: Range,
    shutdown: &CancellationToken,
    run_id: String,
) -> RunOutcome {
    let started_at = ctx.clock.now();
    let started = Instant::now();
    let mut run = Progress::default();
    let key = StreamKey { account: &ctx.account, report: job.config.report.api, stream };
    // One replica at a time per stream; the others skip their tick.
    let (run_lock, result) = match ctx.coordinator.try_lock_run(&ctx.account, job.config.report.api, stream).await {
        Ok(Some(lock)) => (Some(lock), sync_windows(ctx, job, range, shutdown, key, &run_id, &mut run).await),
        Ok(None) => {
            crate::metrics::tick_skipped(&ctx.account, job.config.report.api, "another_holder");
            (None, Ok(Ended::Elsewhere))
        }
        Err(e) => (None, Err(e.into())),
    };
    if let Some(lock) = run_lock {
        lock.release().await;
    }
    report_findings(&run);
    let hit_limit = matches!(result, Ok(Ended::LimitReached));
    let (status, error) = status_of(result, &run, job);
    let outcome = RunOutcome {
        run_id,
        status,
        planned: run.planned,
        counts: run.counts,
        watermark: run.watermark,
        error,
        duration: started.elapsed(),
    };
    // Quiet skips (paused before asking, another replica at work) are not news; a run that
    // hit the daily limit is, and is recorded as paused, and so is one that committed windows
    // before a lock wait ran out.
    let committed = run.counts.windows > 0;
    if !matches!(outcome.status, RunStatus::Paused | RunStatus::Skipped) || hit_limit || committed {
        finish(ctx, job, stream, &outcome, started_at).await;
    }
    outcome
}

/// A run's status (and the error it keeps) from how its windows ended, logged as the operator
/// needs it.
fn status_of(result: Result<Ended, SyncError>, run: &Progress, job: &ReportJob) -> (RunStatus, Option<SyncError>) {
    let every_row_rejected = run.counts.rows_fetched > 0 && run.counts.rows_rejected == run.counts.rows_fetched;
    match result {
        // Rows arrived and none could be stored: not a success, whatever else went right.
        Ok(Ended::Completed) if every_row_rejected => {
            let example = run.findings.rejected_example.as_deref().unwrap_or("-");
            warn!(
                rows_rejected = run.counts.rows_rejected,
                example = %example,
                "Every row of the run was rejected: none carries a usable key; the report's rows are not being stored"
            );
            (RunStatus::Rejected, None)
        }
        Ok(Ended::Completed) => (RunStatus::Succeeded, None),
        Ok(Ended::Cancelled) => (RunStatus::Cancelled, None),
        Ok(Ended::LimitReached) => (RunStatus::Paused, None),
        Ok(Ended::Paused(until)) => {
            // One WARN was logged when the pause began; a skipped tick is not news.
            debug!(until = %until, "Token paused by the daily budget; skipping this run");
            (RunStatus::Paused, None)
        }
        Ok(Ended::Elsewhere) => {
            debug!("Another replica is syncing this report; skipping this run");
            (RunStatus::Skipped, None)
        }
        // Another process kept the token's lock for the whole wait: skipped like a stream
        // another replica is syncing (not a failure, health's streak is unchanged), but at WARN,
        // since a holder that long may be stuck. The error stays in the outcome, for the `sync`
        // command to print and for the run history when windows were committed before it.
        Err(e @ SyncError::Store(StoreError::LockBusy { .. })) => {
            if let SyncError::Store(StoreError::LockBusy { lock, waited }) = &e {
                warn!(
                    lock = %lock,
                    waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    windows = run.counts.windows,
                    "Another process holds the lock of token {}: waited {:.1} s for it \
                     (database.lock_timeout_seconds); skipping this run, the next tick tries again",
                    job.token.label(),
                    waited.as_secs_f64(),
                );
            }
            (RunStatus::Skipped, Some(e))
        }
        Err(e) => (RunStatus::Failed, Some(e)),
    }
}

/// Reports a run that did something: health, the summary line, the run history, metrics.
async fn finish(
    ctx: &JobContext,
    job: &ReportJob,
    stream: &str,
    outcome: &RunOutcome,
    started_at: chrono::DateTime<chrono::Utc>,
) {
    let api = job.config.report.api;
    record_run(ctx, api, stream, job.token.label(), outcome, started_at).await;
    if let Some(wm) = outcome.watermark {
        crate::metrics::watermark(&ctx.account, api, wm);
    }
    if job.config.report.in_whole_days() {
        let key = StreamKey { account: &ctx.account, report: api, stream };
        match ctx.db.suspect_days(key).await {
            Ok(days) => crate::metrics::suspect_days(&ctx.account, api, days.len()),
            Err(e) => debug!(error = %e, "Could not count the suspect days for the metrics"),
        }
    }
}

/// The health streak, the summary line, the run history and the metrics of a run of `api` (a
/// report, or a dimension's table), whatever ran it.
pub(crate) async fn record_run(
    ctx: &JobContext,
    api: &str,
    stream: &str,
    token_label: &str,
    outcome: &RunOutcome,
    started_at: chrono::DateTime<chrono::Utc>,
) {
    let health_key =
        if stream.is_empty() { format!("{}/{api}", ctx.account) } else { format!("{}/{api}/{stream}", ctx.account) };
    let streak = ctx.health.record_run(&health_key, outcome.status, ctx.clock.now());
    outcome.log(streak);
    let key = RecordKey { account: &ctx.account, report: api, stream, token_label };
    if let Err(e) = ctx.db.record_run(&outcome.record(key, started_at)).await {
        // The data and watermark are already safe; only the audit row is missing.
        warn!(error = %e, "Could not record the run in etl_run");
    }
    crate::metrics::run_finished(
        &ctx.account,
        api,
        outcome.status.as_str(),
        outcome.duration.as_secs_f64(),
        outcome.error.as_ref().map(SyncError::kind),
    );
    crate::metrics::rows_upserted(&ctx.account, api, outcome.counts.rows_upserted);
}

/// The windows a run covers, oldest first: from the watermark (minus the look-back) or the
/// backfill's start, cut at the report's longest window; aggregates in whole local days of `tz`.
/// The configured and requested local times become instants here, by the range-bound rules of
/// [`crate::time`]: a skipped time is the clock change, a repeated one its earlier instant for a
/// start and its later one for an end.
fn plan(
    report: &Report,
    policy: &SyncPolicy,
    tz: Tz,
    range: Range,
    watermark: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Window> {
    let max_window = policy.max_window.min(chrono::Duration::days(i64::from(report.max_window_days)));
    let planned = match range {
        Range::Scheduled => window::plan(&PlanInput {
            tz,
            watermark,
            start_from: policy
                .start_from
                .map_or_else(|| window::days_back(tz, now, policy.initial_days), |s| time::range_start(tz, s)),
            lookback: policy.lookback,
            settle: policy.settle,
            max_window,
            now,
        }),
        Range::Explicit { from, to } => {
            // An aggregate day is replaced whole, so a backfill of one ends at a midnight (or
            // at now − settle for today): a partial day would overwrite a complete one. That
            // midnight is the next day's start, as `whole_days` cuts it.
            let to = match to {
                Some(to) if report.in_whole_days() => Some(time::midnight(tz, time::ceil_to_midnight(to).date())),
                Some(to) => Some(time::range_end(tz, to)),
                None => None,
            };
            window::plan_range(tz, time::range_start(tz, from), to, policy.settle, max_window, now)
        }
        Range::Reconcile { days } => reconcile_days(tz, watermark, days, max_window),
    };
    // Aggregates only mean something per whole local day: re-cut the plan at midnights, from
    // the start of the first day (so a re-read day is always asked for from 00:00:00).
    if report.in_whole_days() {
        window::whole_days(tz, &planned)
    } else {
        planned
    }
}

/// The reconciliation's windows: each of the `days` local days up to the one the watermark is
/// in, from its midnight to its end or the watermark, whichever is first (a day the watermark
/// has not reached is not re-read: nothing of it was committed), cut at `max_window`.
fn reconcile_days(tz: Tz, watermark: Option<DateTime<Utc>>, days: u32, max_window: chrono::Duration) -> Vec<Window> {
    let Some(watermark) = watermark else {
        return Vec::new();
    };
    // The day of the watermark's last second: a watermark at midnight ends the day before.
    let last = time::utc_to_local(tz, watermark - chrono::Duration::seconds(1)).date();
    let mut windows = Vec::new();
    for back in (0..days).rev() {
        let day = last - chrono::Duration::days(i64::from(back));
        let start = time::midnight(tz, day);
        let end = time::midnight(tz, day + chrono::Duration::days(1)).min(watermark);
        let mut from = start;
        while from < end {
            let to = (from + max_window).min(end);
            windows.push(Window::new(from, to));
            from = to;
        }
    }
    windows
}

/// The smallest window a failing event window is split down to: below an hour, a window the
/// API cannot answer is broken for another reason than its size.
const SMALLEST_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// Whether an API failure (after the client's retries) may come from the window's size: the
/// server ran out of its 60 s, the body was cut or broken on the way, or a 5xx.
fn too_big(e: &ApiError) -> bool {
    matches!(e, ApiError::Timeout { .. } | ApiError::Malformed { .. } | ApiError::Server { .. } | ApiError::Network(_))
}

/// Whether a failure (after the retries and splits) means the API cannot answer the window now,
/// rather than that the request or the configuration is wrong: a re-read failing so is skipped.
fn unanswerable(e: &ApiError) -> bool {
    too_big(e) || matches!(e, ApiError::Contradictory { .. })
}

/// Whether the window's day was read and committed before (the ledger has it): only such a
/// window is a re-read that may be skipped. Behind the watermark is not enough: a reconciliation
/// reaching before the first sync, or a watermark an operator moved on, has never-read days
/// behind it, and skipping one of those would hide data nobody stored.
async fn was_read(ctx: &JobContext, key: StreamKey<'_>, w: Window) -> Result<bool, SyncError> {
    let day = time::utc_to_local(ctx.timezone, w.start).date();
    Ok(ctx.db.day_was_read(key, day).await?)
}

/// Records a re-read the API could not answer (`etl_unanswered`, the ledger, a metric) and says
/// so once, at WARN.
async fn skip_unanswered(
    ctx: &JobContext,
    key: StreamKey<'_>,
    run_id: &str,
    w: Window,
    splits: u32,
    e: &ApiError,
) -> Result<(), SyncError> {
    let error = crate::wolkvox::envelope_clean(&e.to_string());
    let day = time::utc_to_local(ctx.timezone, w.start).date();
    let entry = crate::store::unanswered::Unanswered {
        run_id,
        start: w.start,
        end: w.end,
        day,
        requests: ctx.client.max_attempts(),
        splits,
        error: error.clone(),
        at: ctx.clock.now(),
    };
    ctx.db.record_unanswered(key, &entry).await?;
    crate::metrics::window_unanswered(key.account, key.report);
    warn!(
        error_kind = e.kind(),
        "The API could not answer a re-read of rows committed before; it is recorded (etl_unanswered, \
         `status`) and skipped, the newer windows still run, and later runs ask again: {error}"
    );
    Ok(())
}

/// `planned` plus a whole-day window for each of the local `days` of `tz` it does not already
/// cover (from the day's midnight, or its clock change when midnight is skipped, never past the
/// instant `ceiling`), oldest first.
fn with_days(tz: Tz, mut planned: Vec<Window>, days: &[chrono::NaiveDate], ceiling: DateTime<Utc>) -> Vec<Window> {
    for &day in days {
        let start = time::midnight(tz, day);
        let end = time::midnight(tz, day + chrono::Duration::days(1)).min(ceiling);
        if end > start && !planned.iter().any(|w| time::utc_to_local(tz, w.start).date() == day) {
            planned.push(Window::new(start, end));
        }
    }
    planned.sort();
    planned
}

async fn sync_windows(
    ctx: &JobContext,
    job: &ReportJob,
    range: Range,
    shutdown: &CancellationToken,
    key: StreamKey<'_>,
    run_id: &str,
    run: &mut Progress,
) -> Result<Ended, SyncError> {
    let report = job.config.report;
    if let Some(until) = ctx.budget.paused_until(job.token.label()).await? {
        return Ok(Ended::Paused(until));
    }
    let planned = plan_windows(ctx, job, range, key, run).await?;
    let check = matches!(range, Range::Reconcile { .. });
    // Splits since the last commit: the ledger row of the window that finally commits says
    // how many it took.
    let mut splits = 0;
    for planned_window in planned {
        // Windows are processed oldest first; a truncated one is replaced by its two halves,
        // so the watermark still only ever advances over contiguous, committed data.
        let mut pending = vec![planned_window];
        while let Some(w) = pending.pop() {
            if shutdown.is_cancelled() {
                info!(window = %w, "Shutdown requested; stopping before the next window");
                return Ok(Ended::Cancelled);
            }
            let span = tracing::error_span!("window", window = %w);
            let attempt = Attempt::new(ctx, job, key, w, run_id, run.watermark).ledger(splits, check);
            let written = match attempt.sync(&mut run.counts, &mut run.findings).instrument(span.clone()).await {
                // The one WARN was logged by the attempt, which paused the token.
                Err(SyncError::Api(ApiError::TokenLimit { .. })) => return Ok(Ended::LimitReached),
                // The API could not answer this window (timeouts, cut or broken bodies, 5xx,
                // after the retries): a smaller window may be answerable, down to the floor.
                Err(SyncError::Api(e)) if too_big(&e) && !report.in_whole_days() && w.len() > SMALLEST_WINDOW => {
                    let Some((first, second)) = w.bisect() else {
                        return Err(e.into());
                    };
                    count_split(ctx, report.api, run, &mut splits);
                    span.in_scope(|| {
                        warn!(error_kind = e.kind(), "The API could not answer the window; splitting it: {e}")
                    });
                    pending.push(second);
                    pending.push(first);
                    continue;
                }
                // A re-read (its rows were committed before) that the API cannot answer even at
                // the floor must not hold back the new data after it: recorded and skipped, and
                // asked again by later runs and the nightly reconciliation.
                Err(SyncError::Api(e))
                    if unanswerable(&e)
                        && !matches!(range, Range::Explicit { .. })
                        && run.watermark.is_some_and(|wm| w.end <= wm)
                        && was_read(ctx, key, w).await? =>
                {
                    skip_unanswered(ctx, key, run_id, w, splits, &e).instrument(span.clone()).await?;
                    run.counts.windows_unanswered += 1;
                    continue;
                }
                other => other?,
            };
            match written {
                WindowWrite::Committed(done) => {
                    splits = 0;
                    run.watermark = attempt.new_watermark();
                    let (rows, upserted) = (done.rows_fetched, done.rows_upserted);
                    ctx.on_window.call(WindowDone { report: report.api, window: w, rows, upserted });
                }
                // An aggregate cannot be rebuilt from halves of its day (averages, distinct counts).
                WindowWrite::Truncated { rows } if report.in_whole_days() => {
                    return Err(SyncError::Unsplittable { window: w, rows });
                }
                WindowWrite::Truncated { rows } => {
                    let Some((first, second)) = w.bisect() else {
                        return Err(SyncError::Unsplittable { window: w, rows });
                    };
                    count_split(ctx, report.api, run, &mut splits);
                    span.in_scope(|| info!(rows, "Response reached the record limit; splitting the window"));
                    pending.push(second);
                    pending.push(first);
                }
            }
        }
    }
    Ok(Ended::Completed)
}

/// Counts one split of a window in the run, in the splits since the last commit, and in the
/// metrics.
fn count_split(ctx: &JobContext, report: &str, run: &mut Progress, splits: &mut u32) {
    run.counts.splits += 1;
    *splits += 1;
    crate::metrics::window_split(&ctx.account, report);
}

/// The run's windows, oldest first, from the stream's committed watermark (read into `run`), and
/// for reports read in whole days its suspect days again; `run.planned` is their span.
async fn plan_windows(
    ctx: &JobContext,
    job: &ReportJob,
    range: Range,
    key: StreamKey<'_>,
    run: &mut Progress,
) -> Result<Vec<Window>, SyncError> {
    let report = job.config.report;
    let tz = ctx.timezone;
    run.watermark = ctx.db.watermark(key).await?;
    let now = ctx.clock.now();
    let mut planned = plan(report, &job.config.policy, tz, range, run.watermark, now);
    if report.in_whole_days() {
        // Days that answered empty while holding rows are asked again until an answer has rows.
        let suspects = ctx.db.suspect_days(key).await?;
        // The reconciliation never reads past the watermark, so it never moves it.
        let ceiling = match (range, run.watermark) {
            (Range::Reconcile { .. }, Some(wm)) => wm.min(now - job.config.policy.settle),
            _ => now - job.config.policy.settle,
        };
        planned = with_days(tz, planned, &suspects, ceiling);
    }
    if let (Some(first), Some(last)) = (planned.first(), planned.last()) {
        run.planned = Some(Window::new(first.start, last.end));
    }
    Ok(planned)
}

/// What the run's rows showed, once per run (however it ended): fields the catalogue does not
/// know, and keys the API sent more than once in one answer.
fn report_findings(run: &Progress) {
    let unknown = &run.findings.unknown_fields;
    if !unknown.is_empty() {
        // The names are the API's: a few, each on one line and cut (see `UnknownFields`).
        let fields: Vec<&str> = unknown.shown().collect();
        let (more, at_least) = unknown.more();
        let rest = match (more, at_least) {
            (0, _) => String::new(),
            (n, false) => format!(" ({n} more not named here)"),
            (n, true) => format!(" (at least {n} more not named here)"),
        };
        warn!(
            fields = %fields.join(","),
            more,
            "The API sent fields the catalogue does not know; they are kept in `raw`{rest}"
        );
    }
    if run.counts.rows_duplicate > 0 {
        let example = run.findings.duplicate_example.as_deref().unwrap_or("-");
        warn!(
            rows_duplicate = run.counts.rows_duplicate,
            example = %crate::text::one_line(example, crate::text::MESSAGE_CHARS),
            "The API sent rows with the same key more than once in one answer; the last copy of each was kept"
        );
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;
    use chrono_tz::America::Bogota;

    use super::*;
    use crate::wolkvox::catalog;

    /// A local time in Bogota, where these plans are written.
    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        time::range_start(Bogota, t(s))
    }

    fn policy() -> SyncPolicy {
        SyncPolicy {
            lookback: chrono::Duration::hours(3),
            settle: chrono::Duration::minutes(2),
            start_from: None,
            initial_days: 2,
            max_window: chrono::Duration::days(31),
        }
    }

    /// Each window as its local bounds in Bogota, `start..end`.
    fn spans(windows: &[Window]) -> Vec<String> {
        let show = |i| time::utc_to_local(Bogota, i).format("%Y-%m-%dT%H:%M:%S").to_string();
        windows.iter().map(|w| format!("{}..{}", show(w.start), show(w.end))).collect()
    }

    fn plan_in_bogota(api: &str, range: Range, watermark: Option<&str>, now: &str) -> Vec<Window> {
        plan(catalog::find(api).unwrap(), &policy(), Bogota, range, watermark.map(at), at(now))
    }

    #[test]
    fn a_first_scheduled_run_starts_initial_days_back_and_ends_settle_before_now() {
        let w = plan_in_bogota("chat_14", Range::Scheduled, None, "2026-11-20 10:00:30");
        assert_eq!(spans(&w), ["2026-11-18T00:00:00..2026-11-20T09:58:30"]);
    }

    #[test]
    fn a_scheduled_run_resumes_the_look_back_before_the_watermark() {
        let w = plan_in_bogota("chat_14", Range::Scheduled, Some("2026-11-20 09:00:00"), "2026-11-20 10:00:00");
        assert_eq!(spans(&w), ["2026-11-20T06:00:00..2026-11-20T09:58:00"]);
    }

    #[test]
    fn an_aggregate_is_planned_in_whole_local_days_from_midnight() {
        let w = plan_in_bogota("agent_1", Range::Scheduled, Some("2026-11-20 01:00:00"), "2026-11-20 10:00:00");
        assert_eq!(spans(&w), ["2026-11-19T00:00:00..2026-11-20T00:00:00", "2026-11-20T00:00:00..2026-11-20T09:58:00"]);
    }

    #[test]
    fn an_aggregate_backfill_ending_mid_day_is_extended_to_the_midnight() {
        let range = Range::Explicit { from: t("2026-11-18 00:00:00"), to: Some(t("2026-11-18 06:00:00")) };
        let w = plan_in_bogota("agent_1", range, None, "2026-11-20 10:00:00");
        assert_eq!(spans(&w), ["2026-11-18T00:00:00..2026-11-19T00:00:00"]);
    }

    #[test]
    fn suspect_days_are_asked_again_as_whole_days_and_once() {
        let planned = vec![Window::new(at("2026-11-20 00:00:00"), at("2026-11-20 09:58:00"))];
        let days = [t("2026-11-17 00:00:00").date(), t("2026-11-20 00:00:00").date()];
        let w = with_days(Bogota, planned, &days, at("2026-11-20 09:58:00"));
        assert_eq!(spans(&w), ["2026-11-17T00:00:00..2026-11-18T00:00:00", "2026-11-20T00:00:00..2026-11-20T09:58:00"]);
    }

    #[test]
    fn the_reconciliation_re_reads_whole_days_up_to_the_watermark_and_never_past_it() {
        let days = |n| Range::Reconcile { days: n };
        // Mid-day: yesterday whole and today up to the watermark.
        let w = plan_in_bogota("chat_14", days(2), Some("2026-11-20 03:30:00"), "2026-11-20 04:00:00");
        assert_eq!(spans(&w), ["2026-11-19T00:00:00..2026-11-20T00:00:00", "2026-11-20T00:00:00..2026-11-20T03:30:00"]);
        // A watermark at midnight ends the day before: one day is that day, not an empty today.
        let w = plan_in_bogota("chat_14", days(1), Some("2026-11-20 00:00:00"), "2026-11-20 04:00:00");
        assert_eq!(spans(&w), ["2026-11-19T00:00:00..2026-11-20T00:00:00"]);
        // Never synced: nothing to re-read.
        assert!(plan_in_bogota("chat_14", days(2), None, "2026-11-20 04:00:00").is_empty());
    }

    #[test]
    fn a_report_with_a_shorter_limit_is_cut_at_it() {
        let w = plan_in_bogota("skill_5", Range::Scheduled, None, "2026-11-20 10:00:00");
        assert!(w.iter().all(|w| w.len() <= chrono::Duration::days(1)), "{:?}", spans(&w));
        assert_eq!(w.first().map(|w| w.start), Some(at("2026-11-18 00:00:00")));
    }

    /// Configured and requested local times in a DST zone become instants by the range-bound
    /// rules: `start_from` and `--from` in a skipped hour start at the clock change, a `--to` in
    /// a repeated hour ends after its second pass, and an aggregate's days start at midnight or,
    /// when midnight is skipped, at the clock change.
    #[test]
    fn local_bounds_in_a_dst_zone_become_the_right_instants() {
        use chrono_tz::America::{New_York, Santiago};
        use chrono_tz::Europe::Madrid;
        let z = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let utc = |windows: &[Window]| windows.iter().map(ToString::to_string).collect::<Vec<_>>();
        let explicit = |from: &str, to: Option<&str>| Range::Explicit { from: t(from), to: to.map(t) };
        // (zone, report, range, start_from, now, windows in UTC)
        #[rustfmt::skip]
        let cases = [
            // `start_from` 02:30 does not exist in New York on 03-08: the first window starts
            // at the change, 07:00Z, not at 07:30Z.
            (New_York, "chat_14", Range::Scheduled, Some("2026-03-08 02:30:00"), "2026-03-08T08:02:00Z",
             vec!["2026-03-08T07:00:00Z..2026-03-08T08:00:00Z"]),
            // `--to` 01:30 happens twice in New York on 11-01: the backfill reads through the
            // second pass.
            (New_York, "chat_14", explicit("2026-11-01 00:00:00", Some("2026-11-01 01:30:00")), None,
             "2026-11-02T00:00:00Z", vec!["2026-11-01T04:00:00Z..2026-11-01T06:30:00Z"]),
            // `--from` 02:15 does not exist in Madrid on 03-29.
            (Madrid, "chat_14", explicit("2026-03-29 02:15:00", Some("2026-03-29 04:00:00")), None,
             "2026-03-30T00:00:00Z", vec!["2026-03-29T01:00:00Z..2026-03-29T02:00:00Z"]),
            // An aggregate across Santiago's changes: a 23-hour day starting at the change,
            // and a 25-hour day.
            (Santiago, "agent_1", explicit("2026-09-06 00:00:00", Some("2026-09-06 12:00:00")), None,
             "2026-09-10T00:00:00Z", vec!["2026-09-06T04:00:00Z..2026-09-07T03:00:00Z"]),
            (Santiago, "agent_1", explicit("2026-04-04 00:00:00", Some("2026-04-05 00:00:00")), None,
             "2026-04-10T00:00:00Z", vec!["2026-04-04T03:00:00Z..2026-04-05T04:00:00Z"]),
        ];
        for (tz, api, range, start_from, now, want) in cases {
            let policy = SyncPolicy { start_from: start_from.map(t), ..policy() };
            let w = plan(catalog::find(api).unwrap(), &policy, tz, range, None, z(now));
            assert_eq!(utc(&w), want, "{tz} {api} {range:?}");
        }
    }
}
