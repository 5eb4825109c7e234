//! The store's failures.

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server could not be reached or a statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The database holds a migration this binary does not have: a newer release migrated it.
    #[error(
        "this database was migrated by a newer wolkvox-etl (its migration {version} is unknown to this binary). \
         Fix: run that newer release, or restore the database backup taken before the upgrade"
    )]
    NewerDatabase {
        /// The unknown migration's version.
        version: i64,
    },
    /// A lock file beside an SQLite database could not be opened or locked.
    #[error(
        "cannot use the lock file {}: {source}. Fix: let this user create and write files in the database's directory",
        path.display()
    )]
    LockFile {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process held a lock this one waits for (a token's, the schema's) for the whole
    /// wait allowed, `database.lock_timeout_seconds`. Not a fault of the database: the caller
    /// skips its run (the next tick tries again) or, at start-up, stops and says what to do.
    #[error(
        "another process holds the {lock} lock: gave up after waiting {:.1} s for it (database.lock_timeout_seconds). \
         Fix: {}",
        waited.as_secs_f64(),
        lock.fix()
    )]
    LockBusy {
        /// Which lock.
        lock: super::locks::WaitedLock,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// Connecting took longer than `database.connect_timeout_seconds`.
    #[error(
        "the database did not answer within {seconds} s (database.connect_timeout_seconds). Fix: check that the \
         host and port in the URL are the database's, and that it is up"
    )]
    ConnectTimeout {
        /// The timeout.
        seconds: u64,
    },
    /// The server neither answered a step nor closed the connection within the client's bound
    /// (its own timeout plus a margin, see [`super::DbTimeouts`]): it went silent (a failover, a
    /// black-holed route). What the step wrote is rolled back; retried like a lost connection.
    #[error(
        "the database did not answer {step} within {seconds} s (database.statement_timeout_seconds and the margins \
         around it): it went silent, neither answering nor closing the connection. Fix: nothing if it is rare (the \
         work is rolled back and done again); if it keeps happening, check the network path to the database and \
         whether it failed over"
    )]
    Silent {
        /// What was waited for.
        step: &'static str,
        /// How long.
        seconds: u64,
    },
    /// The daemon's tables are both in `public` (a release from before schemas) and in the
    /// default schema, and `database.schema` does not say which to use.
    #[error(
        "the database holds wolkvox-etl tables in schema public and in schema wolkvox (a move half done, or two \
         deployments). Fix: set database.schema to the schema to use, after checking which one holds the data"
    )]
    SchemaAmbiguous,
    /// The database URL names an engine we do not support.
    #[error("unsupported database URL: use postgres://… or sqlite://…")]
    UnsupportedUrl,
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::NewerDatabase { version },
            other => StoreError::Migrate(other),
        }
    }
}

impl StoreError {
    /// Whether the connecting role lacks a privilege (42501), e.g. a role that may only read
    /// and write rows asked to create a table.
    pub fn is_permission_denied(&self) -> bool {
        let code = match self {
            StoreError::Database(sqlx::Error::Database(db)) => db.code(),
            StoreError::Migrate(
                sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(db))
                | sqlx::migrate::MigrateError::ExecuteMigration(sqlx::Error::Database(db), _),
            ) => db.code(),
            _ => None,
        };
        code.as_deref() == Some("42501")
    }

    /// Whether trying again later may succeed (the server restarting, a dropped connection, a
    /// lock wait that reached `lock_timeout`: 55P03).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                        | sqlx::Error::Protocol(_)
                ) || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57") || c.starts_with("08") || c == "40001" || c == "40P01" || c == "55P03"))
            }
            StoreError::Migrate(_)
            | StoreError::NewerDatabase { .. }
            | StoreError::UnsupportedUrl
            | StoreError::SchemaAmbiguous
            | StoreError::LockFile { .. } => false,
            StoreError::ConnectTimeout { .. } | StoreError::LockBusy { .. } | StoreError::Silent { .. } => true,
        }
    }
}
