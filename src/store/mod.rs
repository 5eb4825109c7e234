//! The store: Postgres connection, migrations, and the statements the sync uses.
//!
//! The transaction rule lives here in one sentence: **the caller owns the transaction**. Store
//! functions that write take `&mut PgConnection` (a transaction dereferences to one), so
//! `sync::job` can put a window's rows and its new watermark in one transaction and commit them
//! together — a crash at any instant leaves either both or neither.

mod error;
pub mod rows;
pub mod runs;
pub mod watermark;

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub use error::StoreError;

/// The migrations, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects a pool and checks the server answers now, not at first use: a daemon should fail
/// at start-up when its database URL is wrong.
pub async fn connect(url: &SecretString, max_connections: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url.expose_secret())?.application_name("wolkvox-etl");
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies pending migrations (idempotent; safe to run at every start-up).
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
