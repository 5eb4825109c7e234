//! Advisory locks: coordination between replicas, through the PostgreSQL they already share.
//!
//! Two rules must hold across every process of a deployment, not only within one:
//! - **one request in flight per token**: before each request, a replica takes the token's lock
//!   (waiting for it, up to `database.lock_timeout_seconds`), and releases it once the response
//!   body has been read;
//! - **one sync of a report stream at a time**: a run takes its stream's lock without waiting;
//!   if another replica holds it, the run is skipped (that replica is doing the work).
//!
//! Every wait is bounded by the coordinator's `wait` (`database.lock_timeout_seconds`): when it
//! runs out the caller gets [`StoreError::LockBusy`], naming the lock, and decides (a run is
//! skipped until the next tick; start-up stops and says what to do). Without the bound a holder
//! stuck on a hung request would stall every other process's runs on that token for good. The
//! server enforces that wait; a server gone silent would not, so each lock and unlock statement
//! is also bounded here, at the wait plus [`ANSWER_MARGIN`]: past it the connection is closed
//! (which gives back whatever it holds, once the server notices) and the caller gets
//! [`StoreError::Silent`].
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
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, PgPool, Postgres};

use super::{Db, StoreError, ANSWER_MARGIN};

/// Takes cross-process locks, or nothing on an in-memory store.
#[derive(Clone, Debug)]
pub struct Coordinator {
    inner: Locks,
    /// The longest a waiting lock is waited for.
    wait: Duration,
    /// Run locks this process tried and found held elsewhere: a run another holder had, so
    /// a skip a test or an operator can see (the scheduler's own guard should make these rare
    /// within one process).
    refused_runs: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A lock that is waited for (a run's lock is only tried), as named in [`StoreError::LockBusy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitedLock {
    /// A token's: one request in flight per token across every process.
    Token,
    /// The schema's: one process creating or changing tables at a time.
    Schema,
}

impl WaitedLock {
    /// What an operator can do when another process keeps the lock past the wait.
    pub fn fix(self) -> &'static str {
        match self {
            WaitedLock::Token => {
                "nothing if it is rare: the run is skipped and the next tick tries again. If it keeps happening, look \
                 for the process using this token (another replica, a `sync`, a `demo`) stuck on a slow request, or \
                 raise database.lock_timeout_seconds"
            }
            WaitedLock::Schema => {
                "another replica or a `migrate` is creating or changing tables (or is stuck doing it): start again \
                 once it has finished. If none is running, find the holder (PostgreSQL: SELECT pid FROM pg_locks \
                 WHERE locktype = 'advisory'; SQLite: the process with the database's `.locks/schema-…` file open), \
                 or raise database.lock_timeout_seconds"
            }
        }
    }

    /// The lock file's prefix beside an SQLite database; never changed, so versions take turns.
    fn file_prefix(self) -> &'static str {
        match self {
            WaitedLock::Token => "token",
            WaitedLock::Schema => "schema",
        }
    }
}

impl std::fmt::Display for WaitedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WaitedLock::Token => "token",
            WaitedLock::Schema => "schema",
        })
    }
}

/// How [`Coordinator::lock`] takes a lock.
#[derive(Clone, Copy)]
enum Take {
    /// Wait for it, up to the coordinator's `wait`.
    Wait(WaitedLock),
    /// Take it only if it is free (a report stream's run lock).
    Try,
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
    /// `answer`: how long the unlock's answer is waited for.
    Advisory {
        conn: PoolConnection<Postgres>,
        key: i64,
        answer: Duration,
    },
    File(File),
}

/// How often a waiting file lock asks again (the kernel cannot wake an async waiter).
const FILE_LOCK_POLL: Duration = Duration::from_millis(20);

impl Coordinator {
    /// Locks through the server behind `db` when it is PostgreSQL, on a pool of its own of at
    /// most `max_held` connections (one per lock held at once). A waiting lock waits at most
    /// `wait` (`database.lock_timeout_seconds`).
    pub fn new(db: &Db, max_held: u32, wait: Duration) -> Self {
        let inner = match db {
            Db::Postgres(pool) => {
                // The server bounds the wait (it wakes a waiter the moment the holder lets go,
                // which polling would not); set here, so the bound is this coordinator's.
                // Waiting is these statements' job: not "slow statements" for sqlx to warn about.
                let options = pool
                    .connect_options()
                    .as_ref()
                    .clone()
                    .options([("lock_timeout", format!("{}ms", wait.as_millis().max(1)))])
                    .disable_statement_logging();
                let locks = PgPoolOptions::new()
                    .max_connections(max_held.max(1))
                    .acquire_timeout(pool.options().get_acquire_timeout())
                    .min_connections(0)
                    .idle_timeout(std::time::Duration::from_secs(60))
                    // The data pool has just connected with the same options, so connecting on
                    // first use cannot hide a wrong URL.
                    .connect_lazy_with(options);
                Locks::Server(locks)
            }
            Db::Sqlite(pool) => {
                let file = pool.connect_options().get_filename().to_path_buf();
                // An in-memory database is not a file on disk (sqlx names it `file:sqlx-in-memory-…`).
                if !file.is_file() {
                    return Coordinator { inner: Locks::None, wait, refused_runs: Default::default() };
                }
                // One directory whatever path spells the file (a symlink, a relative path).
                let file = std::fs::canonicalize(&file).unwrap_or(file);
                let mut dir = file.into_os_string();
                dir.push(".locks");
                Locks::Files(dir.into())
            }
        };
        Coordinator { inner, wait, refused_runs: Default::default() }
    }

    /// Takes no lock at all: for a store no other process can reach, and for the tests' control
    /// runs that show what happens without the locks.
    pub fn disabled() -> Self {
        Coordinator { inner: Locks::None, wait: Duration::ZERO, refused_runs: Default::default() }
    }

    /// Waits for the lock of a token (one request in flight across all replicas), at most the
    /// coordinator's wait; then [`StoreError::LockBusy`].
    pub async fn lock_token(&self, gate_id: &str) -> Result<HeldLock, StoreError> {
        // Per secret, not per account: two operations sharing a secret share the API's limit.
        self.waited(WaitedLock::Token, key(&["token", gate_id])).await
    }

    /// Takes the lock of a report stream if no other replica holds it.
    pub async fn try_lock_run(
        &self,
        account: &str,
        report: &str,
        stream: &str,
    ) -> Result<Option<HeldLock>, StoreError> {
        let held = self.lock(Take::Try, key(&["run", account, report, stream])).await?;
        if held.is_none() {
            self.refused_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(held)
    }

    /// Run locks this coordinator (and its clones) found held by another holder so far.
    pub fn runs_refused(&self) -> u64 {
        self.refused_runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits for the schema lock, so replicas starting together do not create tables together;
    /// at most the coordinator's wait, then [`StoreError::LockBusy`].
    pub async fn lock_schema(&self) -> Result<HeldLock, StoreError> {
        self.waited(WaitedLock::Schema, key(&["schema"])).await
    }

    async fn waited(&self, lock: WaitedLock, key: i64) -> Result<HeldLock, StoreError> {
        // A waited lock is either taken or an error, never "not taken".
        self.lock(Take::Wait(lock), key).await.map(|held| held.unwrap_or(HeldLock::none()))
    }

    async fn lock(&self, take: Take, key: i64) -> Result<Option<HeldLock>, StoreError> {
        let started = Instant::now();
        let busy = |lock| StoreError::LockBusy { lock, waited: started.elapsed() };
        match &self.inner {
            Locks::None => Ok(Some(HeldLock::none())),
            Locks::Server(pool) => {
                let mut conn = pool.acquire().await?;
                let answer = self.wait + ANSWER_MARGIN;
                let statement = async {
                    match take {
                        Take::Wait(lock) => {
                            match sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut *conn).await {
                                Ok(_) => Ok(true),
                                // 55P03: the pool's lock_timeout ran out; 57014: a
                                // statement_timeout shorter than it did. The statement failed
                                // alone: the connection holds nothing and goes back to the pool.
                                Err(sqlx::Error::Database(e))
                                    if matches!(e.code().as_deref(), Some("55P03" | "57014")) =>
                                {
                                    Err(busy(lock))
                                }
                                Err(e) => Err(e.into()),
                            }
                        }
                        Take::Try => Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                            .bind(key)
                            .fetch_one(&mut *conn)
                            .await?),
                    }
                };
                let got = match tokio::time::timeout(answer, statement).await {
                    Ok(got) => got?,
                    Err(_) => {
                        // The server went silent: whether it took the lock is unknown, so the
                        // connection goes (its session, and any lock in it, with it).
                        drop(conn.detach());
                        return Err(StoreError::Silent { step: "a lock statement", seconds: answer.as_secs() });
                    }
                };
                Ok(got.then_some(HeldLock { held: Held::Advisory { conn, key, answer } }))
            }
            Locks::Files(dir) => {
                let prefix = match take {
                    Take::Wait(lock) => lock.file_prefix(),
                    Take::Try => "run",
                };
                let path = dir.join(format!("{prefix}-{:016x}", key as u64));
                let file =
                    open_lock_file(dir, &path).map_err(|e| StoreError::LockFile { path: path.clone(), source: e })?;
                let deadline = started + self.wait;
                loop {
                    match (file.try_lock(), take) {
                        (Ok(()), _) => return Ok(Some(HeldLock { held: Held::File(file) })),
                        (Err(TryLockError::WouldBlock), Take::Wait(lock)) => {
                            let now = Instant::now();
                            if now >= deadline {
                                return Err(busy(lock));
                            }
                            tokio::time::sleep(FILE_LOCK_POLL.min(deadline - now)).await;
                        }
                        (Err(TryLockError::WouldBlock), Take::Try) => return Ok(None),
                        (Err(TryLockError::Error(e)), _) => return Err(StoreError::LockFile { path, source: e }),
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
            Held::Advisory { mut conn, key, answer } => {
                let unlock = sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut *conn);
                // Bounded: a silent server must not keep the caller (and its token) waiting.
                if !matches!(tokio::time::timeout(answer, unlock).await, Ok(Ok(_))) {
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
        let wait = std::time::Duration::from_secs(30);
        let (a, b) = (Coordinator::new(&db, 1, wait), Coordinator::new(&db, 1, wait));
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

    async fn take(c: &Coordinator, lock: WaitedLock) -> Result<HeldLock, StoreError> {
        match lock {
            WaitedLock::Token => c.lock_token("gate").await,
            WaitedLock::Schema => c.lock_schema().await,
        }
    }

    #[tokio::test]
    async fn a_waiting_file_lock_gives_up_after_the_coordinators_wait_naming_the_lock() {
        let dir = std::env::temp_dir().join(format!("wolkvox-locks-{:x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("etl.db").display());
        let db = Db::connect(&url.into(), 1).await.unwrap();
        let wait = std::time::Duration::from_millis(300);
        let (holder, waiter) = (Coordinator::new(&db, 1, wait), Coordinator::new(&db, 1, wait));
        for lock in [WaitedLock::Token, WaitedLock::Schema] {
            let held = take(&holder, lock).await.unwrap();
            let started = std::time::Instant::now();
            let result = take(&waiter, lock).await;
            let took = started.elapsed();
            match result {
                Err(StoreError::LockBusy { lock: named, waited }) => {
                    assert_eq!(named, lock);
                    assert!(waited >= wait && took < wait * 4, "waited {waited:?}, took {took:?}");
                }
                other => panic!("{lock} lock: expected LockBusy, got {other:?}"),
            }
            held.release().await;
            take(&waiter, lock).await.expect("free once released").release().await;
        }
        let message = StoreError::LockBusy { lock: WaitedLock::Schema, waited: wait }.to_string();
        assert!(message.contains("schema lock") && message.contains("Fix:"), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_in_memory_database_needs_no_lock_files() {
        let db = Db::connect(&"sqlite::memory:".to_string().into(), 1).await.unwrap();
        let c = Coordinator::new(&db, 1, std::time::Duration::from_secs(1));
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
