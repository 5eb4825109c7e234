//! One window of one stream: the request, and its rows streamed into one transaction with the
//! new watermark.
//!
//! The invariant it protects: an attempt's transaction opens before the first row arrives and
//! commits after the last row and the watermark, so an attempt that fails half-way (API,
//! transport or database) leaves nothing behind and is retried whole; a response at the record
//! limit writes nothing at all. Rows whose key cannot be read go to the quarantine in that same
//! transaction, so the watermark never passes a row that is nowhere. One request is in flight per token: the permit and the
//! cross-replica lock are held until the body is read.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use tracing::{debug, warn};

use super::context::{JobContext, ReportJob};
use super::error::SyncError;
use super::outcome::{RunCounts, WindowWrite};
use super::typing::{Findings, Synthetic, WindowRows};
use super::window::{self, Window};
use crate::store::copy::Written;
use crate::store::ledger::{DayCheck, DayEntry, WindowEntry, WindowOutcome};
use crate::store::rejected::Origin;
use crate::store::rows::TypedRow;
use crate::store::watermark::StreamKey;
use crate::time::{self, local_to_utc, utc_to_local};
use crate::wolkvox::catalog::{DayRows, FieldType, Report};
use crate::wolkvox::client::{RowStream, BATCH};
use crate::wolkvox::ApiError;

/// The API's per-response record limit: a response this large may have been cut off.
pub const MAX_RECORDS: usize = 60_000;

/// Rows typed between two chances for the window's write to progress.
const TYPING_SLICE: usize = 250;

/// One window of one stream, with everything its attempts share.
pub(super) struct Attempt<'a> {
    ctx: &'a JobContext,
    job: &'a ReportJob,
    key: StreamKey<'a>,
    window: Window,
    /// The run's id, kept with quarantined rows.
    run_id: &'a str,
    /// The local day the window starts in (its day, for reports read in whole days).
    day: NaiveDate,
    /// The request's parameters: the stream (code group) replaces its parameter's default.
    params: Vec<(&'a str, &'a str)>,
    synthetic: Synthetic<'a>,
    /// The stored rows this window's day replaces (reports read in whole days).
    replaces: Option<DayRows>,
    /// The watermark once this window commits.
    new_watermark: Option<DateTime<Utc>>,
    /// Splits of the range this window came from since the run's previous commit (the ledger).
    splits: u32,
    /// A window of the reconciliation pass: what it finds is recorded against its day.
    check: bool,
}

impl<'a> Attempt<'a> {
    /// The window `window` of `key`'s stream, after `watermark`, in run `run_id`.
    pub fn new(
        ctx: &'a JobContext,
        job: &'a ReportJob,
        key: StreamKey<'a>,
        window: Window,
        run_id: &'a str,
        watermark: Option<DateTime<Utc>>,
    ) -> Self {
        let report = job.config.report;
        let params = job
            .config
            .params
            .iter()
            .map(|(k, v)| match report.streams.contains(&v.as_str()) && !key.stream.is_empty() {
                true => (k.as_str(), key.stream),
                false => (k.as_str(), v.as_str()),
            })
            .collect();
        // The local day the window starts in: a whole-day window starts at its midnight (or at
        // the clock change, when the day has no midnight).
        let day = utc_to_local(ctx.timezone, window.start).date();
        let synthetic =
            Synthetic { day: report.has_day().then_some(day), stream: key.stream, window_start: Some(window.start) };
        // A report read in whole days replaces the window's day: its rows that vanished from the
        // answer go too, whatever the API's reading of the range.
        let (day_start, day_end) =
            (time::midnight(ctx.timezone, day), time::midnight(ctx.timezone, day + Duration::days(1)));
        let replaces = report.day_rows(day, day_start, day_end).filter(|_| report.in_whole_days());
        let new_watermark = window::advance(watermark, &window);
        Attempt {
            ctx,
            job,
            key,
            window,
            run_id,
            day,
            params,
            synthetic,
            replaces,
            new_watermark,
            splits: 0,
            check: false,
        }
    }

    /// The window came after `splits` splits since the run's previous commit; `check` marks a
    /// window of the reconciliation pass.
    pub fn ledger(mut self, splits: u32, check: bool) -> Self {
        self.splits = splits;
        self.check = check;
        self
    }

    /// The watermark once this window commits.
    pub fn new_watermark(&self) -> Option<DateTime<Utc>> {
        self.new_watermark
    }

    /// Syncs the window, attempt after attempt as the client's retry policy allows. Requests and
    /// retries go into `counts` whatever the result (each request costs a daily token, counted
    /// in the budget); a commit adds its window and rows too.
    pub async fn sync(&self, counts: &mut RunCounts, findings: &mut Findings) -> Result<WindowWrite, SyncError> {
        let (ctx, token) = (self.ctx, &self.job.token);
        let mut retrier = ctx.client.retrier();
        let result = loop {
            let attempt = self.once(findings, retrier.attempts() + 1).await;
            // The token's lock stayed with another process: nothing was sent, so it is not a
            // call to count, and waiting again now would only double the wait.
            if attempt.as_ref().is_err_and(SyncError::is_lock_busy) {
                break attempt;
            }
            if !retrier.again(self.job.config.report.api, token, &attempt).await {
                break attempt;
            }
        };
        let attempts = retrier.attempts();
        let (wire, decoded) = std::mem::take(&mut findings.bytes);
        counts.bytes_wire += wire;
        counts.bytes_decoded += decoded;
        counts.requests += attempts;
        counts.retries += attempts.saturating_sub(1);
        if let Err(e) = ctx.budget.record(token.label(), attempts).await {
            warn!(error = %e, "Could not count API calls in the token budget");
        }
        match result {
            Ok(WindowWrite::Committed(done)) => {
                *counts += done;
                debug!(
                    rows = done.rows_fetched,
                    upserted = done.rows_upserted,
                    attempts,
                    watermark = ?self.new_watermark,
                    "Committed window"
                );
                Ok(WindowWrite::Committed(done))
            }
            Ok(truncated) => Ok(truncated),
            Err(SyncError::Api(e @ ApiError::TokenLimit { .. })) => {
                ctx.budget.limit_reached(token.label()).await;
                Err(e.into())
            }
            Err(e) => Err(e),
        }
    }

    /// One attempt: take the token (in this process, then across replicas) and the window's
    /// database connection, send the request, and write its body.
    async fn once(&self, findings: &mut Findings, requests: u32) -> Result<WindowWrite, SyncError> {
        let (ctx, job, w) = (self.ctx, self.job, &self.window);
        let permit = job.token.acquire().await;
        let token_lock = ctx.coordinator.lock_token(job.token.gate_id()).await?;
        // The connection before the request: once the API starts answering, it is not left
        // waiting for a free connection. (On SQLite it may still wait for the database's one
        // write lock while another token's window is being written.)
        // Taken after the token, so connections are held only by windows that can send now.
        // Every wait on the database here is bounded (`DbTimeouts`): a server gone silent fails
        // the attempt like a lost connection, and the token is released.
        let (timeouts, backend) = (ctx.db_timeouts, ctx.db.backend());
        let reserve = ctx.db.reserve();
        let reserved = match crate::store::within(timeouts.connect + timeouts.answer(backend), "BEGIN", reserve).await {
            Ok(reserved) => reserved,
            Err(e) => {
                token_lock.release().await;
                return Err(e.into());
            }
        };
        // Every instant of the window is inside this local range (across a fall-back it is the
        // repeated hour whole), which is what lets the watermark move to the window's end.
        let (date_ini, date_end) = w.request(ctx.timezone);
        let opened = ctx.client.open(&job.token, permit, job.config.report.api, date_ini, date_end, &self.params);
        let mut stream = match opened.await {
            Ok(stream) => stream,
            Err(e) => {
                token_lock.release().await;
                return Err(e.into());
            }
        };
        let write = async {
            // TEST-ONLY CONTROL (cargo feature `broken-watermark-own-tx`, off by default and never
            // for a real build): the watermark commits in its own transaction before the rows,
            // so a kill in between loses the window. The crash harness must fail with it on.
            // (Here, before the rows' transaction: on SQLite that one holds the only write lock.)
            #[cfg(feature = "broken-watermark-own-tx")]
            if let Some(wm) = self.new_watermark {
                let mut own = ctx.db.begin().await?;
                own.advance_watermark(self.key, wm).await?;
                own.commit().await?;
            }
            match reserved.begin().await {
                Ok(tx) => self.write(tx, &mut stream, findings, requests).await,
                Err(e) => Err(e.into()),
            }
        };
        let written = crate::store::within(timeouts.window(backend), "the window's transaction", write).await;
        // The token is free only once the body is read or the connection closed.
        let bytes = stream.bytes();
        stream.finish().await;
        let (wire, decoded) = bytes();
        findings.bytes = (findings.bytes.0 + wire, findings.bytes.1 + decoded);
        token_lock.release().await;
        written
    }

    /// Streams one response into one transaction: the rows, then the watermark, then commit.
    async fn write(
        &self,
        mut tx: crate::store::Tx,
        stream: &mut RowStream,
        findings: &mut Findings,
        requests: u32,
    ) -> Result<WindowWrite, SyncError> {
        let (ctx, report, w) = (self.ctx, self.job.config.report, &self.window);
        let in_stream = (!report.streams.is_empty()).then_some(self.key.stream);
        // `tx` is the one transaction: rows and watermark commit together or not at all.
        // Dropping it on any error path rolls it back.
        let mut done = RunCounts { windows: 1, ..RunCounts::default() };
        // A re-read counts what was stored before it, to tell what it added.
        let checked = match self.check.then(|| self.checked_rows()).flatten() {
            Some(rows) => Some((rows, tx.count_day(report, &ctx.account, rows, in_stream).await?)),
            None => None,
        };
        // An aggregate day is replaced whole (rows that vanished from the answer go too), but
        // only by an answer with a storable row: the delete waits for the first row whose key
        // reads. An answer whose every element was rejected or flattened away is an empty one.
        let mut replaced = false;
        // A re-read (the look-back) mostly returns rows already stored unchanged: knowing their
        // hashes, only new and changed rows are sent to the database.
        let known = self.known_hashes(&mut tx, in_stream).await?;
        // Nothing stored in the window's range (a backfill, a first sync): its rows are most
        // likely new, and go by COPY (PostgreSQL) until a stored key says otherwise (`store::copy`).
        let mut copy = matches!(tx, crate::store::Tx::Postgres(_)) && known.as_ref().is_some_and(HashSet::is_empty);
        let origin = Origin {
            account: &ctx.account,
            report: report.api,
            stream: self.key.stream,
            window_start: w.start,
            window_end: w.end,
            run_id: self.run_id,
        };
        // Rows wait, merged by key, until a write batch is full: a later copy of a key replaces
        // a waiting earlier one, so the answer's last copy is what the table ends with.
        let mut rows = WindowRows::new(report, ctx.timezone, &self.synthetic, known.unwrap_or_default(), BATCH);
        let mut records = 0usize;
        // A full batch is written while the next one is received and typed: the database and
        // this process work at the same time. Writes stay in the answer's order, one at a time.
        let mut writing = Vec::new();
        loop {
            let write = write_batch(&mut tx, report, &ctx.account, &writing, &mut copy);
            let read = read_batch(stream, &mut rows, findings, &mut records);
            let (written, read) = tokio::join!(write, read);
            done.rows_upserted += written?;
            let Some((_sent, rejected)) = read? else { break };
            if records >= MAX_RECORDS {
                // Write nothing: dropping `tx` rolls back what was written, and the window splits.
                return Ok(WindowWrite::Truncated { rows: records });
            }
            if let Some(day) = self.replaces.filter(|_| !replaced && rows.kept() > 0) {
                // Before any of the day's new rows is written: none is until a batch is full.
                done.rows_upserted += tx.delete_day(report, &ctx.account, day, in_stream).await?;
                replaced = true;
            }
            if !rejected.is_empty() {
                // In the window's transaction: the watermark never passes a row that is nowhere.
                tx.quarantine(&origin, &rejected).await?;
            }
            writing = if rows.full() { rows.take() } else { Vec::new() };
        }
        let (rest, counts) = rows.finish();
        done.rows_upserted += write_batch(&mut tx, report, &ctx.account, &rest, &mut copy).await?;
        done += counts;
        self.commit(tx, done, requests, checked, replaced).await
    }

    /// Hashes of the rows stored in the window's range, for a report windowed on a timestamp (a
    /// re-read sends only new and changed rows); `None` for a replaced day, whose rows go.
    async fn known_hashes(
        &self,
        tx: &mut crate::store::Tx,
        in_stream: Option<&str>,
    ) -> Result<Option<HashSet<i64>>, SyncError> {
        let (ctx, report, w) = (self.ctx, self.job.config.report, &self.window);
        let timestamp = report.timestamp.filter(|ts| report.field(ts).is_some_and(|f| f.ty == FieldType::Timestamp));
        Ok(match timestamp {
            // Never for a replaced day: its stored rows were just deleted.
            Some(ts) if self.replaces.is_none() => {
                // The instants the requested local range's rows are stamped with.
                let (date_ini, date_end) = w.request(ctx.timezone);
                let from = local_to_utc(ctx.timezone, date_ini);
                let to = local_to_utc(ctx.timezone, date_end) + Duration::seconds(1);
                Some(tx.known_hashes(report, &ctx.account, ts, in_stream, from, to).await?)
            }
            _ => None,
        })
    }

    /// Ends the window's transaction: the replaced day settled, the ledger, the watermark, then
    /// the commit that makes them visible together.
    async fn commit(
        &self,
        mut tx: crate::store::Tx,
        mut done: RunCounts,
        requests: u32,
        checked: Option<(DayRows, i64)>,
        replaced: bool,
    ) -> Result<WindowWrite, SyncError> {
        let ctx = self.ctx;
        if let Some(day) = self.replaces {
            self.settle_day(&mut tx, day, replaced, &mut done).await?;
        }
        self.record(&mut tx, &done, requests, checked).await?;
        if let Some(wm) = self.new_watermark {
            tx.advance_watermark(self.key, wm).await?;
        }
        if ctx.faults.fail_before_commit {
            return Err(SyncError::Injected);
        }
        tx.commit().await?;
        Ok(WindowWrite::Committed(done))
    }
}

/// Receives and types the answer's next batch into `rows`; `None` at the end of the answer, and
/// whether the batch held elements with the rows it rejected. Past [`MAX_RECORDS`] nothing is
/// typed: the answer may have been cut off by the API.
async fn read_batch(
    stream: &mut RowStream,
    rows: &mut WindowRows<'_>,
    findings: &mut Findings,
    records: &mut usize,
) -> Result<Option<(bool, Vec<crate::store::rejected::Rejected>)>, SyncError> {
    match stream.next_batch().await? {
        Some(batch) => {
            let (len, sent) = (batch.len(), !batch.is_empty());
            *records += len;
            // Possibly cut off by the API: nothing is written (the window splits).
            if *records >= MAX_RECORDS {
                return Ok::<_, SyncError>(Some((sent, Vec::new())));
            }
            // Typed a slice at a time, yielding between slices: this task also
            // drives the previous batch's write, which must keep the server fed meanwhile.
            let mut rejected = Vec::new();
            let mut batch = batch.into_iter().peekable();
            while batch.peek().is_some() {
                rejected.extend(rows.push(batch.by_ref().take(TYPING_SLICE), findings));
                tokio::task::yield_now().await;
            }
            Ok(Some((sent, rejected)))
        }
        None => Ok(None),
    }
}

/// Writes one batch: by COPY while the window's keys are believed new, else by the upsert;
/// returns how many rows were inserted or changed.
async fn write_batch(
    tx: &mut crate::store::Tx,
    report: &Report,
    account: &str,
    rows: &[TypedRow],
    copy: &mut bool,
) -> Result<u64, SyncError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let changed = if *copy {
        let written = tx.insert_new(report, account, rows).await?;
        if let Written::Upserted(_) = written {
            debug!("A key of this window was stored already: its rows go by the upsert from here");
            *copy = false;
        }
        written.rows()
    } else {
        tx.upsert(report, account, rows).await?
    };
    // The crash harness (tests/crash.rs) kills a run at this line: rows written, not committed.
    debug!(rows = rows.len(), "Rows written in the window's open transaction");
    Ok(changed)
}

impl Attempt<'_> {
    /// The stored rows a reconciliation window re-reads: its whole day for a report read in
    /// whole days, else the rows dated inside the window.
    fn checked_rows(&self) -> Option<DayRows> {
        let report = self.job.config.report;
        match self.replaces {
            Some(day) => Some(day),
            None => report.rows_between(self.day, self.window.start, self.window.end),
        }
    }

    /// The ledger, in the window's transaction: the window, each local day it touched with the
    /// day's stored rows after it, and for a reconciliation window what it found.
    async fn record(
        &self,
        tx: &mut crate::store::Tx,
        done: &RunCounts,
        requests: u32,
        checked: Option<(DayRows, i64)>,
    ) -> Result<(), SyncError> {
        let (ctx, report, w) = (self.ctx, self.job.config.report, &self.window);
        let in_stream = (!report.streams.is_empty()).then_some(self.key.stream);
        let now = ctx.clock.now();
        let outcome = if self.check {
            WindowOutcome::Reconciled
        } else if done.suspect_empty_days > 0 {
            WindowOutcome::SuspectEmpty
        } else if done.rows_fetched == 0 {
            WindowOutcome::Empty
        } else {
            WindowOutcome::Rows
        };
        let entry = WindowEntry {
            run_id: self.run_id,
            start: w.start,
            end: w.end,
            rows_received: done.rows_fetched,
            rows_changed: done.rows_upserted,
            requests,
            splits: self.splits,
            outcome,
            committed_at: now,
        };
        tx.record_window(self.key, &entry).await?;
        // A re-read this window covers is answered now.
        tx.clear_unanswered(self.key, w.start, w.end).await?;
        // The local days the window touched: [start, end) ends the second before `end`.
        let first = utc_to_local(ctx.timezone, w.start).date();
        let last = utc_to_local(ctx.timezone, w.end - Duration::seconds(1)).date().max(first);
        for day in first.iter_days().take_while(|d| *d <= last) {
            let (start, end) =
                (time::midnight(ctx.timezone, day), time::midnight(ctx.timezone, day + Duration::days(1)));
            let Some(rows) = report.rows_between(day, start, end) else {
                return Ok(());
            };
            let stored = tx.count_day(report, &ctx.account, rows, in_stream).await?;
            tx.touch_day(self.key, &DayEntry { day, day_end: end, rows: stored, read_at: now }).await?;
        }
        let Some((rows, before)) = checked else {
            return Ok(());
        };
        let after = tx.count_day(report, &ctx.account, rows, in_stream).await?;
        let added = (after - before).max(0);
        let changed = (i64::try_from(done.rows_upserted).unwrap_or(i64::MAX) - added).max(0);
        let api = i64::try_from(done.rows_fetched).unwrap_or(i64::MAX);
        let check = DayCheck { run_id: self.run_id, day: self.day, before, api, added, changed, at: now };
        tx.check_day(self.key, &check).await?;
        if added > 0 {
            crate::metrics::reconcile_rows_added(&ctx.account, report.api, added.unsigned_abs());
            warn!(
                day = %self.day,
                rows_added = added,
                lookback_minutes = self.job.config.policy.lookback.num_minutes(),
                "The reconciliation found rows the normal runs had missed: they arrived later than the look-back. \
                 Raise sync.lookback_minutes (or the report's lookback_minutes) to catch them on the day"
            );
        }
        Ok(())
    }

    /// After a day's answer: an answer with rows clears any suspect mark; an empty answer for a
    /// day that holds rows keeps them and marks the day suspect (one WARN when first marked).
    async fn settle_day(
        &self,
        tx: &mut crate::store::Tx,
        day: DayRows,
        replaced: bool,
        done: &mut RunCounts,
    ) -> Result<(), SyncError> {
        let (ctx, report) = (self.ctx, self.job.config.report);
        let date = self.day;
        if replaced {
            tx.clear_suspect(self.key, date).await?;
            return Ok(());
        }
        let in_stream = (!report.streams.is_empty()).then_some(self.key.stream);
        let stored = tx.count_day(report, &ctx.account, day, in_stream).await?;
        if stored == 0 {
            return Ok(());
        }
        done.suspect_empty_days += 1;
        crate::metrics::suspect_empty_day(&ctx.account, report.api);
        if tx.mark_suspect(self.key, date, ctx.clock.now()).await? {
            warn!(
                day = %date,
                stored,
                "The API answered empty for a day that holds rows; the rows are kept, the day is marked suspect \
                 and asked again on every run (`wolkvox-etl accept-empty` accepts it as empty)"
            );
        }
        Ok(())
    }
}
