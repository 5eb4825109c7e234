//! Advisory locks: coordination between replicas, through the PostgreSQL they already share.
//!
//! Two rules must hold across every process of a deployment, not only within one:
//! - **one request in flight per token**: before each request, a replica takes the token's lock
//!   (waiting for it), and releases it once the response body has been read;
//! - **one sync of a report stream at a time**: a run takes its stream's lock without waiting;
//!   if another replica holds it, the run is skipped (that replica is doing the work).
//!
//! Locks are session-level and live on a connection held for their duration, so a replica that
//! dies (even by SIGKILL) loses its connections and with them its locks: another replica takes
//! over at its next tick. They use a pool of their own, so a held lock never takes a connection
//! the data needs (the job context also bounds how many runs hold one at once). On SQLite (one
//! process by construction) every lock is a no-op.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use super::{Db, StoreError};

/// Takes cross-process locks, or nothing on a single-process store.
#[derive(Clone, Debug)]
pub struct Coordinator {
    pool: Option<PgPool>,
}

/// A held advisory lock. Release it with [`HeldLock::release`]; if it is dropped instead, its
/// connection is closed, which releases the lock too.
#[derive(Debug)]
pub struct HeldLock {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

impl Coordinator {
    /// Locks through the server behind `db` when it is PostgreSQL, on a pool of its own of at
    /// most `max_held` connections (one per lock held at once).
    pub fn new(db: &Db, max_held: u32) -> Self {
        match db {
            Db::Postgres(pool) => {
                let options = pool.connect_options().as_ref().clone();
                let locks = PgPoolOptions::new()
                    .max_connections(max_held.max(1))
                    .min_connections(0)
                    .idle_timeout(std::time::Duration::from_secs(60))
                    // The data pool has just connected with the same options, so connecting on
                    // first use cannot hide a wrong URL.
                    .connect_lazy_with(options);
                Coordinator { pool: Some(locks) }
            }
            Db::Sqlite(_) => Coordinator { pool: None },
        }
    }

    /// Waits for the lock of a token (one request in flight across all replicas).
    pub async fn lock_token(&self, gate_id: &str) -> Result<HeldLock, StoreError> {
        // Per secret, not per account: two operations sharing a secret share the API's limit.
        self.lock(key(&["token", gate_id]), true).await.map(|held| held.unwrap_or(HeldLock::none()))
    }

    /// Takes the lock of a report stream if no other replica holds it.
    pub async fn try_lock_run(
        &self,
        account: &str,
        report: &str,
        stream: &str,
    ) -> Result<Option<HeldLock>, StoreError> {
        self.lock(key(&["run", account, report, stream]), false).await
    }

    /// Waits for the schema lock, so replicas starting together do not create tables together.
    pub async fn lock_schema(&self) -> Result<HeldLock, StoreError> {
        self.lock(key(&["schema"]), true).await.map(|held| held.unwrap_or(HeldLock::none()))
    }

    async fn lock(&self, key: i64, wait: bool) -> Result<Option<HeldLock>, StoreError> {
        let Some(pool) = &self.pool else {
            return Ok(Some(HeldLock::none()));
        };
        let mut conn = pool.acquire().await?;
        let got: bool = if wait {
            sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut *conn).await?;
            true
        } else {
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut *conn).await?
        };
        Ok(got.then_some(HeldLock { conn: Some(conn), key }))
    }
}

impl HeldLock {
    fn none() -> Self {
        HeldLock { conn: None, key: 0 }
    }

    /// Releases the lock and returns the connection to the pool.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(self.key).execute(&mut *conn).await;
            if unlocked.is_err() {
                // The connection is in doubt: close it, which releases any lock it holds.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Not released explicitly (an error path, a cancelled task): closing the connection is
        // the only synchronous way to give the lock back.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

/// A stable 64-bit key for a lock name (FNV-1a; the same in every replica and version).
fn key(parts: &[&str]) -> i64 {
    let bytes = "wolkvox-etl".bytes().chain(parts.iter().flat_map(|p| std::iter::once(0u8).chain(p.bytes())));
    crate::hash::fnv1a(bytes) as i64
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(key(&["run", "a", "chat_14", ""]), key(&["run", "a", "chat_14", ""]));
        assert_ne!(key(&["run", "a", "chat_14", ""]), key(&["run", "b", "chat_14", ""]));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
    }
}
