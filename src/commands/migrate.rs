//! `migrate`: bring the database schema up to date and exit (every other command does it at
//! start-up too; this one lets a deployment run it first, alone).

use std::process::ExitCode;

use crate::config::Settings;
use crate::startup::connect_and_migrate_all;

/// Applies the embedded migrations and creates the selected operations' report tables.
pub async fn migrate(all: &[Settings]) -> anyhow::Result<ExitCode> {
    connect_and_migrate_all(all).await?;
    println!("Migrations applied.");
    Ok(ExitCode::SUCCESS)
}
