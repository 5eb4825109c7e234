//! The commands, one file each; [`execute`] loads the configuration once and dispatches.
//!
//! Every command but `simulate` (which needs no configuration) starts the same way: load and
//! validate the settings of every operation, keep the one `--account` names, start logging.

mod accept_empty;
mod check_config;
mod demo;
mod healthcheck;
mod migrate;
mod reconcile;
mod reports;
mod run;
mod simulate;
mod status;
mod sync;
mod token_info;
mod watermark;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::config::{ConfigError, Settings};
use crate::telemetry;

/// Runs the command; the exit code says whether it succeeded.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let account = cli.account;
    let command = match cli.command {
        Command::Simulate(args) => return simulate::simulate(args).await,
        command => command,
    };
    let all = selected(Settings::load_all(cli.config.iter().map(PathBuf::as_path))?, account.as_deref())?;
    telemetry::init(&all[0].log);
    let first = all[0].clone();
    match command {
        Command::Run => run::run(all).await,
        Command::Sync { report, from, to } => sync::sync(all, report.as_deref(), from.as_deref(), to.as_deref()).await,
        Command::Reconcile { report, days } => reconcile::reconcile(all, report.as_deref(), days).await,
        Command::Status { json, at } => status::status(&all, account.as_deref(), json, at).await,
        Command::Demo { once, days, database } => demo::demo(first, once, days, &database).await,
        Command::Watermark { action } => watermark::watermark(first, action).await,
        Command::AcceptEmpty { report, day, stream } => accept_empty::accept_empty(&first, &report, day, &stream).await,
        Command::CheckConfig => Ok(check_config::check_config(&all)),
        Command::Reports { json, markdown } => {
            let format = match (json, markdown) {
                (true, _) => reports::Format::Json,
                (_, true) => reports::Format::Markdown,
                _ => reports::Format::Table,
            };
            Ok(reports::reports(&first, format))
        }
        Command::Healthcheck => healthcheck::healthcheck(&first).await,
        Command::Migrate => migrate::migrate(&all).await,
        Command::TokenInfo => token_info::token_info(all).await,
        Command::Simulate(_) => unreachable!("answered above, before any configuration is loaded"),
    }
}

/// The operations a command works on: all of them, or the one `--account` names.
fn selected(mut all: Vec<Settings>, account: Option<&str>) -> Result<Vec<Settings>, ConfigError> {
    if let Some(name) = account {
        all.retain(|s| s.account == name);
        if all.is_empty() {
            return Err(ConfigError::Invalid {
                key: "--account".into(),
                problem: format!("no account is named {name:?}"),
                fix: "use a name from [accounts.<name>] (or \"default\" for a single-account config)".into(),
            });
        }
    }
    Ok(all)
}
