//! The run history (`etl_run`) and the per-report status read from it.
//!
//! A run's record is written after its data transactions, in its own statement: it is an audit
//! trail, not part of the exactly-once guarantee, which the watermark alone carries.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Db, StoreError};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Every planned window was committed.
    Succeeded,
    /// A window failed; the watermark stopped before it.
    Failed,
    /// Every window committed, but every row received was rejected (no usable key): nothing
    /// of the report is being stored.
    Rejected,
    /// Shutdown stopped the run between windows.
    Cancelled,
    /// The token was paused by the daily budget; nothing was requested (not recorded).
    Paused,
    /// Another replica was syncing the stream; nothing was requested (not recorded).
    Skipped,
}

impl RunStatus {
    /// The value stored in `etl_run.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Rejected => "rejected",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Paused => "paused",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// Declares [`RunCounts`] from one list, so a new counter is one line here plus one column in
/// the migrations: the struct, its sum and the `etl_run` columns all come from the list.
macro_rules! run_counts {
    ($($(#[doc = $doc:literal])* $name:ident: $ty:ty,)*) => {
        /// What a run counts as it goes: summed per window, per stream and per run, shown in the
        /// progress lines, the run summary and `etl_run`.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct RunCounts {
            $($(#[doc = $doc])* pub $name: $ty,)*
        }

        impl std::ops::AddAssign for RunCounts {
            fn add_assign(&mut self, other: RunCounts) {
                $(self.$name += other.$name;)*
            }
        }

        impl RunCounts {
            /// The `etl_run` columns holding the counters, in field order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The counters in [`RunCounts::COLUMNS`] order, as the database stores them.
            pub fn values(&self) -> Vec<i64> {
                vec![$(i64::try_from(self.$name).unwrap_or(i64::MAX)),*]
            }
        }
    };
}

run_counts! {
    /// Windows committed.
    windows: u32,
    /// API requests made, retries included.
    requests: u32,
    /// Requests that repeated a failed attempt.
    retries: u32,
    /// Windows bisected because a response hit the record limit.
    splits: u32,
    /// Rows received in committed windows (after flattening).
    rows_fetched: u64,
    /// Rows inserted or changed.
    rows_upserted: u64,
    /// Rows whose key could not be read (each also kept in `etl_rejected`).
    rows_rejected: u64,
    /// Days answered empty while holding rows: kept, marked suspect, asked again.
    suspect_empty_days: u32,
    /// Rows that repeated a key already in the same answer: the last copy of each key is kept.
    rows_duplicate: u64,
    /// NUL characters removed from values (PostgreSQL's text and jsonb refuse them).
    nul_removed: u64,
    /// Re-reads (rows committed before) the API could not answer: recorded and skipped.
    windows_unanswered: u32,
    /// Elements of an answer that hold no row and say so (a parent with an empty list, an
    /// answer object with no bucket): counted, not stored, not quarantined.
    rows_empty: u64,
    /// Answer bytes received on the wire, compressed as they came, every attempt included.
    bytes_wire: u64,
    /// The same answers' bytes once decoded: what the parser read.
    bytes_decoded: u64,
}

/// One row of `etl_run`.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// Label of the token used.
    pub token_label: String,
    /// Planned range start (UTC).
    pub window_start: Option<DateTime<Utc>>,
    /// Planned range end (UTC).
    pub window_end: Option<DateTime<Utc>>,
    /// When the run began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Outcome.
    pub status: RunStatus,
    /// The run's counters.
    pub counts: RunCounts,
    /// Watermark after the run.
    pub watermark: Option<DateTime<Utc>>,
    /// Error kind, when failed.
    pub error_kind: Option<String>,
    /// Error message (never contains secrets), when failed.
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub duration_ms: i64,
}

/// `INSERT INTO etl_run`: the fixed columns, then one per counter.
fn insert_sql() -> String {
    const FIXED: [&str; 13] = [
        "account",
        "report",
        "stream",
        "token_label",
        "window_start",
        "window_end",
        "started_at",
        "finished_at",
        "status",
        "watermark",
        "error_kind",
        "error",
        "duration_ms",
    ];
    let columns: Vec<&str> = FIXED.iter().chain(RunCounts::COLUMNS).copied().collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    format!("INSERT INTO etl_run ({}) VALUES ({})", columns.join(", "), params.join(", "))
}

/// Binds a run's values in `insert_sql`'s order; a macro because the two backends' query types
/// differ.
macro_rules! bind_run {
    ($query:expr, $run:expr) => {{
        let mut query = $query
            .bind(&$run.account)
            .bind(&$run.report)
            .bind(&$run.stream)
            .bind(&$run.token_label)
            .bind($run.window_start)
            .bind($run.window_end)
            .bind($run.started_at)
            .bind($run.finished_at)
            .bind($run.status.as_str())
            .bind($run.watermark)
            .bind(&$run.error_kind)
            .bind(&$run.error)
            .bind($run.duration_ms);
        for value in $run.counts.values() {
            query = query.bind(value);
        }
        query
    }};
}

impl Db {
    /// Appends a run record. Its error is stored on one line and cut ([`crate::text::one_line`]):
    /// it may quote the API.
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        // Fixed column names (RunCounts' compiled-in list); values are binds.
        let sql = super::sql::built(insert_sql());
        let error = run.error.as_deref().map(|e| crate::text::one_line(e, crate::text::MESSAGE_CHARS));
        let run = RunRecord { error, ..run.clone() };
        on_pool!(self, pool => {
            bind_run!(sqlx::query(sql), run).execute(pool).await?;
        });
        Ok(())
    }

    /// The state of every (account, report, stream) that has a watermark or a run.
    pub async fn status(&self) -> Result<Vec<ReportStatus>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(STATUS).fetch_all(pool).await?))
    }
}

/// A report's state as `status` shows it.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct ReportStatus {
    /// Operation label.
    pub account: String,
    /// Report api name.
    pub report: String,
    /// Stream within the report.
    pub stream: String,
    /// Committed watermark.
    pub watermark: Option<DateTime<Utc>>,
    /// Start of the latest run.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Status of the latest run.
    pub last_status: Option<String>,
    /// Rows upserted by the latest run.
    pub last_rows_upserted: Option<i64>,
    /// How long the latest run took.
    pub last_duration_ms: Option<i64>,
    /// Error of the latest failed run, if the latest run failed.
    pub last_error: Option<String>,
    /// Rows kept in the quarantine (`etl_rejected`): their key could not be read.
    pub quarantined: i64,
}

/// Latest run per stream joined with its watermark, and the stream's quarantined rows; portable
/// SQL (window functions and FULL JOIN exist in both Postgres and SQLite ≥ 3.39).
const STATUS: &str = "WITH ranked AS (
         SELECT account, report, stream, started_at, status, rows_upserted, duration_ms, error,
                ROW_NUMBER() OVER (PARTITION BY account, report, stream ORDER BY started_at DESC, id DESC) AS rn
         FROM etl_run
     ),
     last AS (SELECT * FROM ranked WHERE rn = 1),
     quarantine AS (
         SELECT account, report, stream, COUNT(*) AS n FROM etl_rejected GROUP BY account, report, stream
     ),
     state AS (
         SELECT COALESCE(w.account, l.account) AS account,
                COALESCE(w.report, l.report)   AS report,
                COALESCE(w.stream, l.stream)   AS stream,
                w.watermark                    AS watermark,
                l.started_at                   AS last_run_at,
                l.status                       AS last_status,
                l.rows_upserted                AS last_rows_upserted,
                l.duration_ms                  AS last_duration_ms,
                l.error                        AS last_error
         FROM etl_watermark w
         FULL OUTER JOIN last l
           ON w.account = l.account AND w.report = l.report AND w.stream = l.stream
     )
     SELECT s.account, s.report, s.stream, s.watermark, s.last_run_at, s.last_status, s.last_rows_upserted,
            s.last_duration_ms, s.last_error, COALESCE(q.n, 0) AS quarantined
     FROM state s
     LEFT JOIN quarantine q ON q.account = s.account AND q.report = s.report AND q.stream = s.stream
     ORDER BY 1, 2, 3";
