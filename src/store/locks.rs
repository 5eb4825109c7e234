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
//! the data needs (the job context also bounds how many runs hold one at once).
//!
//! On SQLite the same locks are file locks (`flock`) on files in a directory beside the database
//! (`<file>.locks/`): a `sync` or a `demo` started beside a daemon on the same file takes turns
//! with it exactly as a replica would. The kernel drops a dead process's file locks, as the server
//! drops a dead session's advisory locks. An in-memory database (tests) has no other process.

use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use super::{Db, StoreError};

/// Takes cross-process locks, or nothing on an in-memory store.
#[derive(Clone, Debug)]
pub struct Coordinator {
    inner: Locks,
}

#[derive(Clone, Debug)]
enum Locks {
    /// Advisory locks on the shared server.
    Server(PgPool),
    /// File locks in this directory.
    Files(PathBuf),
    /// No other process can reach the store.
    None,
}

/// A held lock. Release it with [`HeldLock::release`]; if it is dropped instead, its
/// connection or file is closed, which releases the lock too.
#[derive(Debug)]
pub struct HeldLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    Nothing,
    Advisory { conn: PoolConnection<Postgres>, key: i64 },
    File(File),
}

/// How often a waiting file lock asks again (the kernel cannot wake an async waiter).
const FILE_LOCK_POLL: Duration = Duration::from_millis(20);

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
                Coordinator { inner: Locks::Server(locks) }
            }
            Db::Sqlite(pool) => {
                let file = pool.connect_options().get_filename().to_path_buf();
                // An in-memory database is not a file on disk (sqlx names it `file:sqlx-in-memory-…`).
                if !file.is_file() {
                    return Coordinator { inner: Locks::None };
                }
                // One directory whatever path spells the file (a symlink, a relative path).
                let file = std::fs::canonicalize(&file).unwrap_or(file);
                let mut dir = file.into_os_string();
                dir.push(".locks");
                Coordinator { inner: Locks::Files(dir.into()) }
            }
        }
    }

    /// Takes no lock at all: for a store no other process can reach, and for the tests' control
    /// runs that show what happens without the locks.
    pub fn disabled() -> Self {
        Coordinator { inner: Locks::None }
    }

    /// Waits for the lock of a token (one request in flight across all replicas).
    pub async fn lock_token(&self, gate_id: &str) -> Result<HeldLock, StoreError> {
        // Per secret, not per account: two operations sharing a secret share the API's limit.
        self.lock("token", key(&["token", gate_id]), true).await.map(|held| held.unwrap_or(HeldLock::none()))
    }

    /// Takes the lock of a report stream if no other replica holds it.
    pub async fn try_lock_run(
        &self,
        account: &str,
        report: &str,
        stream: &str,
    ) -> Result<Option<HeldLock>, StoreError> {
        self.lock("run", key(&["run", account, report, stream]), false).await
    }

    /// Waits for the schema lock, so replicas starting together do not create tables together.
    pub async fn lock_schema(&self) -> Result<HeldLock, StoreError> {
        self.lock("schema", key(&["schema"]), true).await.map(|held| held.unwrap_or(HeldLock::none()))
    }

    async fn lock(&self, kind: &str, key: i64, wait: bool) -> Result<Option<HeldLock>, StoreError> {
        match &self.inner {
            Locks::None => Ok(Some(HeldLock::none())),
            Locks::Server(pool) => {
                let mut conn = pool.acquire().await?;
                let got: bool = if wait {
                    sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut *conn).await?;
                    true
                } else {
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut *conn).await?
                };
                Ok(got.then_some(HeldLock { held: Held::Advisory { conn, key } }))
            }
            Locks::Files(dir) => {
                let path = dir.join(format!("{kind}-{:016x}", key as u64));
                let file =
                    open_lock_file(dir, &path).map_err(|e| StoreError::LockFile { path: path.clone(), source: e })?;
                loop {
                    match file.try_lock() {
                        Ok(()) => return Ok(Some(HeldLock { held: Held::File(file) })),
                        Err(TryLockError::WouldBlock) if wait => tokio::time::sleep(FILE_LOCK_POLL).await,
                        Err(TryLockError::WouldBlock) => return Ok(None),
                        Err(TryLockError::Error(e)) => return Err(StoreError::LockFile { path, source: e }),
                    }
                }
            }
        }
    }
}

/// Opens (creating it and its directory if need be) a lock file. Lock files are never deleted:
/// deleting one while another process waits on it would let two processes hold "the" lock.
fn open_lock_file(dir: &std::path::Path, path: &std::path::Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)
}

impl HeldLock {
    fn none() -> Self {
        HeldLock { held: Held::Nothing }
    }

    /// Releases the lock and returns the connection to the pool.
    pub async fn release(mut self) {
        match std::mem::replace(&mut self.held, Held::Nothing) {
            Held::Nothing => {}
            Held::File(file) => {
                let _ = file.unlock();
            }
            Held::Advisory { mut conn, key } => {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut *conn).await;
                if unlocked.is_err() {
                    // The connection is in doubt: close it, which releases any lock it holds.
                    drop(conn.detach());
                }
            }
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Not released explicitly (an error path, a cancelled task): closing the connection is
        // the only synchronous way to give an advisory lock back (a file closes by itself).
        if let Held::Advisory { conn, .. } = std::mem::replace(&mut self.held, Held::Nothing) {
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
    use super::*;

    #[tokio::test]
    async fn file_locks_beside_an_sqlite_database_exclude_a_second_holder_until_released() {
        let dir = std::env::temp_dir().join(format!("wolkvox-locks-{:x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("etl.db").display());
        let db = Db::connect(&url.into(), 1).await.unwrap();
        // Two coordinators stand for two processes: flock excludes across open files.
        let (a, b) = (Coordinator::new(&db, 1), Coordinator::new(&db, 1));
        let held = a.try_lock_run("acme", "chat_14", "").await.unwrap().expect("free at first");
        assert!(b.try_lock_run("acme", "chat_14", "").await.unwrap().is_none(), "held by a");
        assert!(b.try_lock_run("acme", "cdr_1", "").await.unwrap().is_some(), "another stream is free");
        held.release().await;
        assert!(b.try_lock_run("acme", "chat_14", "").await.unwrap().is_some(), "released");

        // A waiting lock waits for the holder, and gets the lock once it lets go.
        let token = a.lock_token("gate").await.unwrap();
        let waiter = tokio::spawn(async move { b.lock_token("gate").await.unwrap() });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "the token is held by a");
        drop(token);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap().release().await;
        assert!(dir.join("etl.db.locks").is_dir());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_in_memory_database_needs_no_lock_files() {
        let db = Db::connect(&"sqlite::memory:".to_string().into(), 1).await.unwrap();
        let c = Coordinator::new(&db, 1);
        let _held = c.try_lock_run("acme", "chat_14", "").await.unwrap().expect("no-op");
        assert!(c.try_lock_run("acme", "chat_14", "").await.unwrap().is_some(), "nothing to exclude");
    }

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(key(&["run", "a", "chat_14", ""]), key(&["run", "a", "chat_14", ""]));
        assert_ne!(key(&["run", "a", "chat_14", ""]), key(&["run", "b", "chat_14", ""]));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
    }
}
