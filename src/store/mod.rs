//! The store: PostgreSQL (production, what BI tools query) or embedded SQLite (zero set-up),
//! chosen by the database URL, behind one small interface.
//!
//! The interface's shape is the transaction rule. Reads and the run history live on [`Db`];
//! the only way to write report rows, quarantine a row or move a watermark is through a [`Tx`] from
//! [`Db::begin`], and a `Tx` makes nothing visible until [`Tx::commit`] consumes it (dropping it
//! rolls back). So a window's rows and its watermark always commit together — a crash at any
//! instant leaves both or neither.
//!
//! Each table (or concern) has its own file, and its own `impl Db` / `impl Tx` block there: the
//! methods on [`Db`] and [`Tx`] are the only way in; the files' free functions are private.
//!
//! SQL is written once where one statement serves both backends (watermark reads, run history,
//! status); the two backends differ only where their dialects do (array UNNEST vs a prepared
//! per-row insert, `GREATEST` vs `max`).

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds. The two backends' query types
/// differ, so each arm is compiled for its driver, but the SQL and the binds are written once.
/// `$body` must give the same type on both (a count, `()`, a row type).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Postgres($pool) => $body,
            $crate::store::Db::Sqlite($pool) => $body,
        }
    };
}

/// Like [`on_pool!`] for an open transaction: `$conn` is its connection.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

pub mod api_token_count;
pub mod audit;
pub mod bi;
pub mod copy;
pub mod dimensions;
mod error;
pub mod ledger;
pub mod locks;
pub mod rejected;
pub mod rows;
pub mod runs;
pub mod schema;
pub mod sql;
pub mod suspect;
pub mod token_usage;
pub mod unanswered;
pub mod watermark;

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

pub use error::StoreError;

use crate::wolkvox::catalog::Report;

/// The PostgreSQL schema the daemon's tables live in unless `database.schema` says otherwise.
pub const DEFAULT_SCHEMA: &str = "wolkvox";

/// Postgres migrations, compiled into the binary.
pub static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
/// SQLite migrations, compiled into the binary.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Which database engine a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite:` (a file path, `sqlite::memory:` for tests).
    Sqlite,
}

impl Backend {
    /// The backend a URL names, if any.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// A connected database.
#[derive(Clone, Debug)]
pub enum Db {
    /// PostgreSQL.
    Postgres(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

/// A window's connection, taken before its request is sent: a response never waits unread for
/// a free connection while the API's clock runs. Becomes the window's [`Tx`] once the answer
/// opens.
pub enum Reserved {
    /// PostgreSQL: the transaction is already open (BEGIN takes no lock there).
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// SQLite: the connection only. Its transaction takes the database's single write lock, and
    /// holding that through a request would make every token's requests take turns.
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
}

impl Reserved {
    /// The window's transaction, on the reserved connection.
    pub async fn begin(self) -> Result<Tx, StoreError> {
        Ok(match self {
            Reserved::Postgres(tx) => Tx::Postgres(tx),
            Reserved::Sqlite(conn) => Tx::Sqlite(
                sqlx::Transaction::begin(conn, Some(sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE"))).await?,
            ),
        })
    }
}

/// How long the database may take: to connect, to run one statement, to wait for a lock; and
/// how long a window's transaction stays open while its answer is read (the API's request).
///
/// The server enforces its own bounds (`statement_timeout`, `lock_timeout`), but a server that
/// goes silent (a failover, a black-holed route) neither answers nor closes the connection, and
/// nothing server-side ends that wait. So the daemon bounds each wait client-side too, at the
/// server's bound plus [`ANSWER_MARGIN`] ([`DbTimeouts::answer`], [`DbTimeouts::window`]); past
/// it the step fails with [`StoreError::Silent`], like a lost connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbTimeouts {
    /// Connecting, and waiting for a pooled connection.
    pub connect: Duration,
    /// PostgreSQL `statement_timeout`.
    pub statement: Duration,
    /// PostgreSQL `lock_timeout` (advisory locks included).
    pub lock: Duration,
    /// The API's request timeout (`wolkvox.request_timeout_seconds`): a window's transaction is
    /// open while its answer is read.
    pub request: Duration,
}

impl Default for DbTimeouts {
    fn default() -> Self {
        DbTimeouts {
            connect: Duration::from_secs(10),
            statement: Duration::from_secs(300),
            lock: Duration::from_secs(300),
            request: Duration::from_secs(90),
        }
    }
}

/// What the daemon allows past the server's own bound before taking a silent server for gone:
/// the answer's way back, and the server noticing its timeout.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// How long an SQLite statement waits for the database's one write lock (another token's window
/// may hold it while its answer is read).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether `e` is SQLite's "database is locked" (SQLITE_BUSY, code 5).
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "5")
}

impl DbTimeouts {
    /// The longest the daemon waits for one statement's answer: the server's own bound (the
    /// statement timeout; on SQLite, its wait for the write lock when longer) plus
    /// [`ANSWER_MARGIN`].
    pub fn answer(&self, backend: Backend) -> Duration {
        let server = match backend {
            Backend::Postgres => self.statement,
            Backend::Sqlite => self.statement.max(SQLITE_BUSY_TIMEOUT),
        };
        server + ANSWER_MARGIN
    }

    /// The longest a window's transaction may take, from its `BEGIN` to its commit. Its answer
    /// is read meanwhile, which the request timeout bounds whole (writes held up by a slow
    /// database only make the read slower, not longer than that); what follows the last row is
    /// a few statements of its own, each far quicker than one statement's bound.
    pub fn window(&self, backend: Backend) -> Duration {
        self.request + self.answer(backend)
    }

    /// PostgreSQL's `idle_in_transaction_session_timeout`: a window's transaction waits idle
    /// through its request, so the server ends only one idle for longer than the daemon would
    /// ever leave it, that of a client gone silent (its row locks go with it).
    pub fn idle_in_transaction(&self) -> Duration {
        self.window(Backend::Postgres)
    }
}

/// `step` (a call to the database) bounded by `limit`: past it, [`StoreError::Silent`], and the
/// step is dropped (a transaction it held rolls back; its connection is checked, within the same
/// bound, before it is pooled again).
pub async fn within<T, E: From<StoreError>>(
    limit: Duration,
    step: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Silent { step, seconds: limit.as_secs() }.into()),
    }
}

/// An open transaction: the only handle that writes rows and watermarks.
pub enum Tx {
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Db {
    /// Connects and checks the server answers now, not at first use: a daemon should fail at
    /// start-up when its database URL is wrong. SQLite files are created if missing.
    pub async fn connect(url: &SecretString, max_connections: u32) -> Result<Db, StoreError> {
        Db::connect_with(url, max_connections, DbTimeouts::default(), None).await
    }

    /// [`Db::connect`] with explicit timeouts and PostgreSQL schema: connecting, and on
    /// PostgreSQL every statement and every lock wait (advisory locks included) are bounded, and
    /// every connection's `search_path` is the schema (`schema`, or [`DEFAULT_SCHEMA`] unless
    /// the database holds a release's tables from before schemas, in `public`).
    pub async fn connect_with(
        url: &SecretString,
        max_connections: u32,
        timeouts: DbTimeouts,
        schema: Option<&str>,
    ) -> Result<Db, StoreError> {
        let url = url.expose_secret();
        match Backend::of_url(url) {
            Some(Backend::Postgres) => {
                let millis = |d: Duration| format!("{}ms", d.as_millis());
                let settings = [
                    ("statement_timeout", millis(timeouts.statement)),
                    ("lock_timeout", millis(timeouts.lock)),
                    // A transaction whose client went silent ends, and its row locks with it.
                    ("idle_in_transaction_session_timeout", millis(timeouts.idle_in_transaction())),
                    // The server probes an idle client, so the locks and connections of a
                    // replica that vanished from the network (no FIN, no RST) are freed within
                    // about two minutes instead of the kernel's two hours.
                    ("tcp_keepalives_idle", "60".to_string()),
                    ("tcp_keepalives_interval", "10".to_string()),
                    ("tcp_keepalives_count", "6".to_string()),
                ];
                let base = PgConnectOptions::from_str(url)?.application_name("wolkvox-etl").options(settings);
                // One direct connection first: a pool that cannot connect only says it timed out,
                // while the connection says why (refused, unknown host, bad password). Bounded:
                // a listener that accepts and never answers must not hold start-up forever.
                let direct = <sqlx::PgConnection as sqlx::Connection>::connect_with(&base);
                let mut conn = tokio::time::timeout(timeouts.connect, direct)
                    .await
                    .map_err(|_| StoreError::ConnectTimeout { seconds: timeouts.connect.as_secs() })??;
                let schema = schema::resolve(&mut conn, schema).await?;
                sqlx::Connection::close(conn).await?;
                let options = base.options([("search_path", schema)]);
                let answer = timeouts.answer(Backend::Postgres);
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(timeouts.connect)
                    // A connection handed back mid-statement (a window past its bound) rolls back
                    // before it is pooled again; one whose server stays silent is closed instead
                    // of holding its place in the pool for ever.
                    .after_release(move |conn, _| {
                        Box::pin(async move {
                            match tokio::time::timeout(answer, sqlx::Connection::ping(conn)).await {
                                Ok(pinged) => pinged.map(|()| true),
                                Err(_) => Ok(false),
                            }
                        })
                    })
                    .connect_with(options)
                    .await?;
                Ok(Db::Postgres(pool))
            }
            Some(Backend::Sqlite) => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    // WAL lets `status` and BI tools read while the daemon writes.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    // One writer at a time holds the lock while a window's answer is read: wait for it.
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                // Two processes opening a new file together (a `sync` beside `run`) race to switch
                // it to WAL, and SQLite answers that switch "database is locked" at once, without
                // its busy handler: the loser waits and tries again, as for any lock.
                let deadline = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
                let pool = loop {
                    let opened = SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(timeouts.connect)
                        .connect_with(options.clone())
                        .await;
                    match opened {
                        Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(50 + fastrand::u64(..100))).await;
                        }
                        other => break other?,
                    }
                };
                Ok(Db::Sqlite(pool))
            }
            None => Err(StoreError::UnsupportedUrl),
        }
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Postgres(_) => Backend::Postgres,
            Db::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies pending migrations and creates or extends the tables of `reports` (idempotent;
    /// safe at every start-up).
    pub async fn migrate(&self, reports: &[&Report]) -> Result<(), StoreError> {
        match self {
            Db::Postgres(pool) => {
                schema::create_schema(pool).await?;
                PG_MIGRATOR.run(pool).await?
            }
            Db::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
        }
        for report in reports {
            schema::ensure_table(self, report).await?;
        }
        Ok(())
    }

    /// Opens the transaction a window's rows and watermark are written in.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            // IMMEDIATE takes SQLite's write lock up front: a transaction that reads first and
            // writes later could otherwise fail with "database is locked" (a stale snapshot)
            // when another writer committed in between; waiting for the lock instead is safe.
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Reserves a window's connection before its request (see [`Reserved`]).
    pub async fn reserve(&self) -> Result<Reserved, StoreError> {
        Ok(match self {
            Db::Postgres(pool) => Reserved::Postgres(pool.begin().await?),
            Db::Sqlite(pool) => Reserved::Sqlite(pool.acquire().await?),
        })
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned (flushes SQLite's WAL).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

impl Tx {
    /// Makes everything written in this transaction visible, atomically.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
