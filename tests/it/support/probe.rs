//! Reads a binary's database while the binary runs: the committed chat_14 watermark, and whether
//! a window's transaction is open with rows written but not committed. The crash harness and
//! the shutdown tests aim their signals with it.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, SqlitePool};
use wolkvox_etl::store::Backend;

use super::{pg_pool, TestDb};

/// What the harness reads from the binary's database while the binary runs.
pub enum Probe {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Probe {
    pub async fn open(db: &TestDb) -> Probe {
        match db.backend {
            Backend::Postgres => Probe::Postgres(pg_pool(&db.url).await),
            Backend::Sqlite => {
                // No busy wait: a locked database is the answer, not something to wait out.
                let options = SqliteConnectOptions::from_str(&db.url)
                    .unwrap()
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::ZERO);
                Probe::Sqlite(SqlitePool::connect_with(options).await.expect("probe connection"))
            }
        }
    }

    /// The committed chat_14 watermark (`None` before the first commit or the schema).
    pub async fn watermark(&self) -> Option<DateTime<Utc>> {
        const SQL: &str = "SELECT watermark FROM etl_watermark WHERE report = 'chat_14'";
        match self {
            Probe::Postgres(pool) => sqlx::query_scalar(SQL).fetch_optional(pool).await.ok().flatten(),
            Probe::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_optional(pool).await.ok().flatten(),
        }
    }

    /// Whether a window's transaction is open with rows written and not committed (schema
    /// changes at start-up are not a window's).
    pub async fn transaction_open(&self) -> bool {
        match self {
            Probe::Postgres(pool) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL \
                 AND state IN ('active', 'idle in transaction') \
                 AND (query ILIKE '%chat_14%' OR query ILIKE '%etl_watermark%') \
                 AND query NOT ILIKE '%CREATE %' AND query NOT ILIKE '%ALTER %')",
            )
            .fetch_one(pool)
            .await
            .unwrap_or(false),
            // SQLite windows run in BEGIN IMMEDIATE transactions: the write lock is held exactly
            // while one is open. Asking for it without waiting tells whether it is taken.
            Probe::Sqlite(pool) => {
                let Ok(mut conn) = pool.acquire().await else { return false };
                match sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
                    Ok(_) => {
                        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                        false
                    }
                    Err(e) => e.to_string().contains("locked") || e.to_string().contains("busy"),
                }
            }
        }
    }

    /// Every stored chat_14 row's `raw` as text.
    pub async fn raws(&self) -> Vec<String> {
        match self {
            Probe::Postgres(pool) => sqlx::query_scalar("SELECT raw::text FROM chat_14").fetch_all(pool).await.unwrap(),
            Probe::Sqlite(pool) => sqlx::query_scalar("SELECT raw FROM chat_14").fetch_all(pool).await.unwrap(),
        }
    }
}
