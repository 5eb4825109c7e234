//! One run of one report: plan windows, fetch, type, upsert, advance the watermark, record.
//!
//! [`run_once`] is a plain async function returning a [`RunOutcome`]; the scheduler, the `sync`
//! command and the tests all call it. Its invariant: for every window it opens **one**
//! transaction, upserts all of the window's rows, moves the watermark to the window's end (if
//! contiguous) and commits — so the watermark never covers rows that are not committed, and a
//! re-run after any crash re-reads from the last committed watermark. A response with 60,000 or
//! more records is treated as truncated: the window is bisected and its halves fetched instead,
//! and nothing of the truncated response is written.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument};

use super::error::SyncError;
use super::window::{self, PlanInput, Window};
use crate::budget::Budget;
use crate::clock::Clock;
use crate::config::ReportConfig;
use crate::coordination::Coordinator;
use crate::http::{Health, Streak};
use crate::store::rows::TypedRow;
use crate::store::runs::{RunRecord, RunStatus};
use crate::store::watermark::StreamKey;
use crate::store::Db;
use crate::wolkvox::catalog::{self, FieldType, Report};
use crate::wolkvox::client::RowStream;
use crate::wolkvox::envelope::Row;
use crate::wolkvox::values::{self, local_to_utc, utc_to_local, Typed};
use crate::wolkvox::{ApiError, Token, WolkvoxClient};

/// The API's per-response record limit: a response this large may have been cut off.
pub const MAX_RECORDS: usize = 60_000;

/// How many individual bad rows or values are logged per window before only counting them.
const LOG_EXAMPLES: usize = 5;

/// Faults a test can inject to prove the transaction rule.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Fail every window after its rows are upserted and before the commit.
    pub fail_before_commit: bool,
}

/// What every run needs: database, API client, operation, clock.
#[derive(Clone, Debug)]
pub struct JobContext {
    /// The database (Postgres or SQLite).
    pub db: Db,
    /// The API client.
    pub client: WolkvoxClient,
    /// The `account` label stored with every row.
    pub account: String,
    /// The operation's time zone (the API's dates are local to it).
    pub timezone: Tz,
    /// The source of "now".
    pub clock: Clock,
    /// Injected faults (none in production).
    pub faults: Faults,
    /// The daily token budget (counts calls, pauses tokens at the limit).
    pub budget: Budget,
    /// Per-report failure streaks, for `/readyz`.
    pub health: Arc<Health>,
    /// Called after each committed window (the `sync` command's progress lines).
    pub on_window: WindowHook,
    /// Cross-replica locks (per token, per report stream).
    pub coordinator: Coordinator,
    /// Runs allowed at once in this process. Runs on one token take turns anyway, so more than
    /// a couple per token only hold connections.
    pub run_slots: Arc<tokio::sync::Semaphore>,
}

/// What a committed window reports to [`JobContext::on_window`].
#[derive(Clone, Copy, Debug)]
pub struct WindowDone<'a> {
    /// The report.
    pub report: &'a str,
    /// The window committed.
    pub window: Window,
    /// Rows received.
    pub rows: u64,
    /// Rows inserted or changed.
    pub upserted: u64,
}

/// An optional callback per committed window.
#[derive(Clone, Default)]
pub struct WindowHook(Option<Arc<WindowFn>>);

/// The callback behind a [`WindowHook`].
type WindowFn = dyn Fn(WindowDone<'_>) + Send + Sync;

impl WindowHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(WindowDone<'_>) + Send + Sync + 'static) -> Self {
        WindowHook(Some(Arc::new(f)))
    }

    fn call(&self, done: WindowDone<'_>) {
        if let Some(f) = &self.0 {
            f(done);
        }
    }
}

impl std::fmt::Debug for WindowHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "WindowHook(set)" } else { "WindowHook(none)" })
    }
}

/// How a run's window loop ended, when it did not fail.
enum Ended {
    /// Every planned window was committed.
    Completed,
    /// Shutdown stopped it between windows.
    Cancelled,
    /// The token is paused by the daily budget until then; nothing was requested.
    Paused(DateTime<Utc>),
    /// Another replica holds this stream's run lock: it is doing the work.
    Elsewhere,
}

/// One configured report with the token it uses.
#[derive(Clone, Debug)]
pub struct ReportJob {
    /// Report, schedule and window policy.
    pub config: ReportConfig,
    /// Its token (and so its place in the token's queue).
    pub token: Token,
}

/// Which range a run covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// From the watermark minus the look-back to now minus the settle delay.
    Scheduled,
    /// An explicit backfill `[from, to)` in local time (`to` defaults to now minus settle).
    Explicit {
        /// First local second.
        from: NaiveDateTime,
        /// End (exclusive), local.
        to: Option<NaiveDateTime>,
    },
}

/// What a run did.
#[derive(Debug)]
pub struct RunOutcome {
    /// A short random id carried by every log line of the run.
    pub run_id: String,
    /// How it ended.
    pub status: RunStatus,
    /// The whole planned range, if anything was planned.
    pub planned: Option<Window>,
    /// Windows committed.
    pub windows: u32,
    /// API requests made, retries included.
    pub requests: u32,
    /// Requests that repeated a failed attempt.
    pub retries: u32,
    /// Windows bisected because of the record limit.
    pub splits: u32,
    /// Rows received in committed windows.
    pub rows_fetched: u64,
    /// Rows inserted or changed.
    pub rows_upserted: u64,
    /// Rows dropped because their key could not be read.
    pub rows_rejected: u64,
    /// The committed watermark after the run (local time).
    pub watermark: Option<NaiveDateTime>,
    /// Why it failed, if it did.
    pub error: Option<SyncError>,
    /// Wall time.
    pub duration: std::time::Duration,
}

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
        let span = tracing::info_span!(
            "run",
            report = job.config.report.api,
            stream,
            account = %ctx.account,
            token = job.token.label(),
            run_id = %run_id,
        );
        let outcome = run_stream(ctx, job, stream, range, shutdown, run_id.clone()).instrument(span).await;
        let stop = matches!(outcome.status, RunStatus::Cancelled | RunStatus::Paused);
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
/// between runs would otherwise sit at its peak size.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the OS; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl RunOutcome {
    /// Adds another stream's outcome to this one: counters add up, the worst status wins.
    fn merge(mut self, other: RunOutcome) -> RunOutcome {
        let rank = |s: RunStatus| match s {
            RunStatus::Succeeded => 0,
            RunStatus::Paused | RunStatus::Skipped => 1,
            RunStatus::Cancelled => 2,
            RunStatus::Failed => 3,
        };
        if rank(other.status) > rank(self.status) {
            self.status = other.status;
        }
        self.planned = match (self.planned, other.planned) {
            (Some(a), Some(b)) => Some(Window::new(a.start.min(b.start), a.end.max(b.end))),
            (a, b) => a.or(b),
        };
        self.windows += other.windows;
        self.requests += other.requests;
        self.retries += other.retries;
        self.splits += other.splits;
        self.rows_fetched += other.rows_fetched;
        self.rows_upserted += other.rows_upserted;
        self.rows_rejected += other.rows_rejected;
        self.watermark = match (self.watermark, other.watermark) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.error = self.error.or(other.error);
        self.duration += other.duration;
        self
    }
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
        Ok(Some(lock)) => (Some(lock), sync_windows(ctx, job, range, shutdown, key, &mut run).await),
        Ok(None) => (None, Ok(Ended::Elsewhere)),
        Err(e) => (None, Err(e.into())),
    };
    if let Some(lock) = run_lock {
        lock.release().await;
    }
    let (status, error) = match result {
        Ok(Ended::Completed) => (RunStatus::Succeeded, None),
        Ok(Ended::Cancelled) => (RunStatus::Cancelled, None),
        Ok(Ended::Paused(until)) => {
            // One WARN was logged when the pause began; a skipped tick is not news.
            debug!(until = %until, "Token paused by the daily budget; skipping this run");
            (RunStatus::Paused, None)
        }
        Ok(Ended::Elsewhere) => {
            debug!("Another replica is syncing this report; skipping this run");
            (RunStatus::Skipped, None)
        }
        Err(e) => (RunStatus::Failed, Some(e)),
    };
    let outcome = RunOutcome {
        run_id,
        status,
        planned: run.planned,
        windows: run.windows,
        requests: run.requests,
        retries: run.retries,
        splits: run.splits,
        rows_fetched: run.rows_fetched,
        rows_upserted: run.rows_upserted,
        rows_rejected: run.rows_rejected,
        watermark: run.watermark,
        error,
        duration: started.elapsed(),
    };
    if !matches!(outcome.status, RunStatus::Paused | RunStatus::Skipped) {
        let health_key = if stream.is_empty() {
            format!("{}/{}", ctx.account, job.config.report.api)
        } else {
            format!("{}/{}/{stream}", ctx.account, job.config.report.api)
        };
        let streak = ctx.health.record_run(&health_key, outcome.status, ctx.clock.now());
        log_outcome(&outcome, streak);
        record(ctx, job, stream, &outcome, started_at).await;
        let api = job.config.report.api;
        crate::metrics::run_finished(
            &ctx.account,
            api,
            outcome.status.as_str(),
            outcome.duration.as_secs_f64(),
            outcome.error.as_ref().map(SyncError::kind),
        );
        crate::metrics::rows_upserted(&ctx.account, api, outcome.rows_upserted);
        if let Some(wm) = outcome.watermark {
            crate::metrics::watermark(&ctx.account, api, local_to_utc(ctx.timezone, wm));
        }
    }
    outcome
}

/// Counters a run accumulates as it goes.
#[derive(Default)]
struct Progress {
    planned: Option<Window>,
    windows: u32,
    requests: u32,
    retries: u32,
    splits: u32,
    rows_fetched: u64,
    rows_upserted: u64,
    rows_rejected: u64,
    watermark: Option<NaiveDateTime>,
    unknown_fields: BTreeSet<String>,
}

async fn sync_windows(
    ctx: &JobContext,
    job: &ReportJob,
    range: Range,
    shutdown: &CancellationToken,
    key: StreamKey<'_>,
    run: &mut Progress,
) -> Result<Ended, SyncError> {
    let report = job.config.report;
    let tz = ctx.timezone;
    if let Some(until) = ctx.budget.paused_until(job.token.label()).await? {
        return Ok(Ended::Paused(until));
    }
    let stored = ctx.db.watermark(key).await?;
    run.watermark = stored.map(|w| utc_to_local(tz, w));

    let now = utc_to_local(tz, ctx.clock.now());
    let policy = job.config.policy;
    let max_window = policy.max_window.min(chrono::Duration::days(i64::from(report.max_window_days)));
    let planned = match range {
        Range::Scheduled => window::plan(&PlanInput {
            watermark: run.watermark,
            start_from: policy.start_from.unwrap_or_else(|| window::days_back(now, policy.initial_days)),
            lookback: policy.lookback,
            settle: policy.settle,
            max_window,
            now,
        }),
        Range::Explicit { from, to } => {
            // An aggregate day is replaced whole, so a backfill of one ends at a midnight (or
            // at now − settle for today): a partial day would overwrite a complete one.
            let to = if report.has_day() { to.map(window::ceil_to_midnight) } else { to };
            window::plan_range(from, to, policy.settle, max_window, now)
        }
    };
    // Aggregates only mean something per whole local day: re-cut the plan at midnights, from
    // the start of the first day (so a re-read day is always asked for from 00:00:00).
    let planned = if report.has_day() { window::whole_days(&planned) } else { planned };
    if let (Some(first), Some(last)) = (planned.first(), planned.last()) {
        run.planned = Some(Window::new(first.start, last.end));
    }

    for planned_window in planned {
        // Windows are processed oldest first; a truncated one is replaced by its two halves,
        // so the watermark still only ever advances over contiguous, committed data.
        let mut pending = vec![planned_window];
        while let Some(w) = pending.pop() {
            if shutdown.is_cancelled() {
                info!(window = %w, "Shutdown requested; stopping before the next window");
                return Ok(Ended::Cancelled);
            }
            let span = tracing::info_span!("window", window = %w);
            match sync_window(ctx, job, key, &w, run).instrument(span.clone()).await? {
                WindowWrite::Committed { rows, upserted } => {
                    ctx.on_window.call(WindowDone { report: report.api, window: w, rows, upserted });
                }
                // An aggregate cannot be rebuilt from halves of its day (averages, distinct counts).
                WindowWrite::Truncated { rows } if report.has_day() => {
                    return Err(SyncError::Unsplittable { window: w, rows });
                }
                WindowWrite::Truncated { rows } => {
                    let Some((first, second)) = w.bisect() else {
                        return Err(SyncError::Unsplittable { window: w, rows });
                    };
                    run.splits += 1;
                    crate::metrics::window_split(&ctx.account, report.api);
                    span.in_scope(|| info!(rows, "Response reached the record limit; splitting the window"));
                    pending.push(second);
                    pending.push(first);
                }
            }
        }
    }
    if !run.unknown_fields.is_empty() {
        let fields: Vec<&str> = run.unknown_fields.iter().map(String::as_str).collect();
        warn!(fields = %fields.join(","), "The API sent fields the catalogue does not know; they are kept in `raw`");
    }
    Ok(Ended::Completed)
}

/// What one window's attempt did.
enum WindowWrite {
    /// Its rows and the watermark were committed.
    Committed {
        /// Rows received (after flattening).
        rows: u64,
        /// Rows inserted, changed or (aggregates) replaced.
        upserted: u64,
    },
    /// The response reached the record limit; nothing was written.
    Truncated {
        /// Records received when the limit was reached.
        rows: usize,
    },
}

/// Syncs one window: request, stream its rows into one transaction with the new watermark,
/// commit. A failed attempt (API or database) rolls back and is retried as a whole by the
/// client's retry policy; each request costs a daily token, counted in the budget.
async fn sync_window(
    ctx: &JobContext,
    job: &ReportJob,
    key: StreamKey<'_>,
    w: &Window,
    run: &mut Progress,
) -> Result<WindowWrite, SyncError> {
    let report = job.config.report;
    // The stream (code group) replaces its parameter's default; the rest come from the config.
    let params: Vec<(&str, &str)> = job
        .config
        .params
        .iter()
        .map(|(k, v)| match report.streams.contains(&v.as_str()) && !key.stream.is_empty() {
            true => (k.as_str(), key.stream),
            false => (k.as_str(), v.as_str()),
        })
        .collect();
    let synthetic = Synthetic { day: report.has_day().then(|| w.start.date()), stream: key.stream };
    let new_watermark = window::advance(run.watermark, w);
    let mut retrier = ctx.client.retrier();
    let result = loop {
        let attempt = write_window(ctx, job, key, w, &params, &synthetic, new_watermark, &mut run.unknown_fields).await;
        if !retrier.again(report.api, &job.token, &attempt).await {
            break attempt;
        }
    };
    let attempts = retrier.attempts();
    run.requests += attempts;
    run.retries += attempts.saturating_sub(1);
    // Every request sent costs one daily token, whatever its outcome.
    if let Err(e) = ctx.budget.record(job.token.label(), attempts).await {
        warn!(error = %e, "Could not count API calls in the token budget");
    }
    match result {
        Ok(AttemptWrite::Committed { rows, upserted, rejected }) => {
            run.windows += 1;
            run.rows_fetched += rows;
            run.rows_upserted += upserted;
            run.rows_rejected += rejected;
            run.watermark = new_watermark;
            debug!(rows, upserted, attempts, watermark = ?new_watermark, "Committed window");
            Ok(WindowWrite::Committed { rows, upserted })
        }
        Ok(AttemptWrite::Truncated { rows }) => Ok(WindowWrite::Truncated { rows }),
        Err(SyncError::Api(e @ ApiError::TokenLimit { .. })) => {
            match ctx.budget.pause(job.token.label()).await {
                Ok(until) => warn!(
                    until = %until,
                    "Daily token limit reached; this token's reports pause until the local midnight reset"
                ),
                Err(store) => warn!(error = %store, "Daily token limit reached, and the pause could not be saved"),
            }
            Err(e.into())
        }
        Err(e) => Err(e),
    }
}

/// One attempt at a window: the transaction opens before the first row arrives and commits
/// after the last, so a response that fails half-way leaves nothing behind.
#[allow(clippy::too_many_arguments)]
async fn write_window(
    ctx: &JobContext,
    job: &ReportJob,
    key: StreamKey<'_>,
    w: &Window,
    params: &[(&str, &str)],
    synthetic: &Synthetic<'_>,
    new_watermark: Option<NaiveDateTime>,
    unknown: &mut BTreeSet<String>,
) -> Result<AttemptWrite, SyncError> {
    let report = job.config.report;
    // One request in flight per token: first within this process, then across replicas.
    let permit = job.token.acquire().await;
    let token_lock = ctx.coordinator.lock_token(&ctx.account, job.token.gate_id()).await?;
    let mut stream = match ctx.client.open(&job.token, permit, report.api, w.start, w.last_second(), params).await {
        Ok(stream) => stream,
        Err(e) => {
            token_lock.release().await;
            return Err(e.into());
        }
    };
    let written = write_stream(ctx, report, key, w, synthetic, new_watermark, unknown, &mut stream).await;
    // The token is free only once the body is read or the connection closed.
    stream.finish().await;
    token_lock.release().await;
    written
}

/// Streams one response into one transaction: the rows, then the watermark, then commit.
#[allow(clippy::too_many_arguments)]
async fn write_stream(
    ctx: &JobContext,
    report: &Report,
    key: StreamKey<'_>,
    w: &Window,
    synthetic: &Synthetic<'_>,
    new_watermark: Option<NaiveDateTime>,
    unknown: &mut BTreeSet<String>,
    stream: &mut RowStream,
) -> Result<AttemptWrite, SyncError> {
    // The one transaction: rows and watermark commit together or not at all. Dropping `tx`
    // on any error path rolls it back.
    let mut tx = ctx.db.begin().await?;
    let mut upserted = 0;
    if let Some(day) = synthetic.day {
        // An aggregate day is replaced whole: rows that vanished from the answer go too.
        let stream = (!report.streams.is_empty()).then_some(key.stream);
        upserted += tx.delete_day(report, &ctx.account, day, stream).await?;
    }
    // A re-read (the look-back) mostly returns rows already stored unchanged: knowing their
    // hashes, only new and changed rows are sent to the database.
    let known = match report.timestamp.filter(|ts| report.field(ts).is_some_and(|f| f.ty == FieldType::Timestamp)) {
        Some(ts) if synthetic.day.is_none() => {
            let (from, to) = (local_to_utc(ctx.timezone, w.start), local_to_utc(ctx.timezone, w.end));
            let stream = (!report.streams.is_empty()).then_some(key.stream);
            tx.known_hashes(report, &ctx.account, ts, stream, from, to).await?
        }
        _ => HashSet::new(),
    };
    let (mut records, mut rows, mut rejected) = (0usize, 0u64, 0u64);
    while let Some(batch) = stream.next_batch().await? {
        records += batch.len();
        if records >= MAX_RECORDS {
            // Possibly cut off by the API: write nothing (dropping `tx` rolls back) and split.
            return Ok(AttemptWrite::Truncated { rows: records });
        }
        let typed = type_rows(report, ctx.timezone, batch, synthetic, &known, unknown);
        rows += typed.received;
        rejected += typed.rejected;
        if !typed.rows.is_empty() {
            upserted += tx.upsert(report, &ctx.account, &typed.rows).await?;
        }
    }
    if let Some(wm) = new_watermark {
        tx.advance_watermark(key, local_to_utc(ctx.timezone, wm)).await?;
    }
    if ctx.faults.fail_before_commit {
        return Err(SyncError::Injected);
    }
    tx.commit().await?;
    Ok(AttemptWrite::Committed { rows, upserted, rejected })
}

/// What one attempt wrote.
enum AttemptWrite {
    Committed { rows: u64, upserted: u64, rejected: u64 },
    Truncated { rows: usize },
}

struct TypedRows {
    rows: Vec<TypedRow>,
    /// Rows after flattening nested arrays (what the counts report).
    received: u64,
    rejected: u64,
}

/// Values of the synthetic columns that come from the request, not the response.
struct Synthetic<'a> {
    /// The local day an aggregate was asked for.
    day: Option<NaiveDate>,
    /// The stream (code group) it was fetched in.
    stream: &'a str,
}

/// Flattens and types every row, skipping rows whose hash is in `known` (stored, unchanged).
/// A value that fails to parse is NULL (WARN, row kept); a row
/// whose key is NULL cannot be stored and is rejected (ERROR with its raw JSON).
fn type_rows(
    report: &Report,
    tz: Tz,
    fetched: Vec<Row>,
    synthetic: &Synthetic<'_>,
    known: &HashSet<i64>,
    unknown: &mut BTreeSet<String>,
) -> TypedRows {
    let key_idx = report.key_indexes();
    let mut rows = Vec::with_capacity(fetched.len());
    let mut received = 0u64;
    let mut rejected = 0u64;
    let mut bad_values = 0usize;
    for api_row in fetched {
        for mut row in catalog::flatten(report, api_row) {
            received += 1;
            for k in row.keys() {
                if report.field(k).is_none() && !unknown.contains(k) {
                    unknown.insert(k.clone());
                }
            }
            // `raw` keeps what the API sent; the row hash is ours.
            let row_hash = row.remove(catalog::ROW_HASH);
            let raw = serde_json::to_string(&row).unwrap_or_default();
            let raw_hash = crate::store::rows::raw_hash(&raw);
            if known.contains(&raw_hash) {
                // Stored already, unchanged: nothing to type, nothing to send.
                continue;
            }
            if let Some(hash) = row_hash {
                row.insert(catalog::ROW_HASH.to_owned(), hash);
            }
            let mut values = Vec::with_capacity(report.fields.len());
            for field in report.fields {
                let value = match field.name {
                    catalog::DAY if report.has_day() => Typed::Date(synthetic.day),
                    catalog::STREAM if report.is_synthetic(catalog::STREAM) => {
                        Typed::Text(Some(synthetic.stream.to_string()))
                    }
                    name => {
                        let parsed = values::parse(row.get(name), field.ty, tz);
                        if parsed.failed {
                            bad_values += 1;
                            if bad_values <= LOG_EXAMPLES {
                                let value = row.get(name).map(|v| v.to_string()).unwrap_or_default();
                                warn!(field = name, value = %value, "Value does not parse; stored as NULL (the original is in raw)");
                            }
                        }
                        parsed.value
                    }
                };
                values.push(value);
            }
            if key_idx.iter().any(|&i| values[i].is_null()) {
                rejected += 1;
                if rejected as usize <= LOG_EXAMPLES {
                    error!(raw = %raw, "Row has no usable natural key and cannot be stored");
                }
                continue;
            }
            rows.push(TypedRow { values, raw, raw_hash });
        }
    }
    if bad_values > LOG_EXAMPLES {
        warn!(count = bad_values, "More values failed to parse in this window");
    }
    if rejected as usize > LOG_EXAMPLES {
        error!(count = rejected, "More rows without a usable key in this window");
    }
    TypedRows { rows, received, rejected }
}

/// One line per run. A failure is logged in full when a streak starts and once an hour while it
/// lasts (quietly, at DEBUG, in between), so a report that keeps failing does not flood the log;
/// the recovery is logged too.
fn log_outcome(o: &RunOutcome, streak: Streak) {
    let window = o.planned.map(|w| w.to_string()).unwrap_or_else(|| "-".into());
    let watermark = o.watermark.map(|w| w.format("%Y-%m-%dT%H:%M:%S").to_string()).unwrap_or_else(|| "-".into());
    let duration_ms = o.duration.as_millis() as u64;
    let Some(e) = o.error.as_ref().filter(|_| o.status == RunStatus::Failed) else {
        if let Streak::Recovered { since, failures } = streak {
            info!(since = %since, failures, "Report recovered after failing runs");
        }
        info!(
            window = %window, status = o.status.as_str(), windows = o.windows, requests = o.requests,
            retries = o.retries, splits = o.splits, rows_fetched = o.rows_fetched, rows_upserted = o.rows_upserted,
            rows_rejected = o.rows_rejected, watermark = %watermark, duration_ms,
            "Run finished"
        );
        return;
    };
    let (loud, failures) = match streak {
        Streak::Started => (true, 1),
        Streak::Continuing { failures, remind, .. } => (remind, failures),
        _ => (true, 1),
    };
    if !loud {
        debug!(window = %window, failures, error_kind = e.kind(), "Run failed again: {e}");
    } else if e.is_retryable() {
        warn!(
            window = %window, windows = o.windows, requests = o.requests, retries = o.retries,
            rows_upserted = o.rows_upserted, watermark = %watermark, duration_ms, error_kind = e.kind(), failures,
            "Run failed; it will be retried on the next schedule: {e}"
        );
    } else {
        error!(
            window = %window, windows = o.windows, requests = o.requests, retries = o.retries,
            rows_upserted = o.rows_upserted, watermark = %watermark, duration_ms, error_kind = e.kind(), failures,
            "Run failed and needs an operator: {e}"
        );
    }
}

async fn record(ctx: &JobContext, job: &ReportJob, stream: &str, o: &RunOutcome, started_at: DateTime<Utc>) {
    let tz = ctx.timezone;
    let to_i32 = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let record = RunRecord {
        account: ctx.account.clone(),
        report: job.config.report.api.to_string(),
        stream: stream.to_string(),
        token_label: job.token.label().to_string(),
        window_start: o.planned.map(|w| local_to_utc(tz, w.start)),
        window_end: o.planned.map(|w| local_to_utc(tz, w.end)),
        started_at,
        finished_at: started_at + chrono::Duration::from_std(o.duration).unwrap_or_default(),
        status: o.status,
        windows: to_i32(o.windows),
        requests: to_i32(o.requests),
        retries: to_i32(o.retries),
        splits: to_i32(o.splits),
        rows_fetched: to_i64(o.rows_fetched),
        rows_upserted: to_i64(o.rows_upserted),
        rows_rejected: to_i64(o.rows_rejected),
        watermark: o.watermark.map(|w| local_to_utc(tz, w)),
        error_kind: o.error.as_ref().map(|e| e.kind().to_string()),
        error: o.error.as_ref().map(ToString::to_string),
        duration_ms: i64::try_from(o.duration.as_millis()).unwrap_or(i64::MAX),
    };
    if let Err(e) = ctx.db.record_run(&record).await {
        // The data and watermark are already safe; only the audit row is missing.
        warn!(error = %e, "Could not record the run in etl_run");
    }
}
