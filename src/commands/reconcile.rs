//! `reconcile`: the reconciliation pass on demand (the daemon runs it on `reconcile.schedule`):
//! re-read the most recent local days of one report or every enabled one, and print per day
//! what was stored, what the API returns now, and what the re-read added or changed.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::signals::watch_signals;
use crate::startup::{prepare_schema, App};
use crate::store::runs::RunStatus;
use crate::sync::Faults;

/// `reconcile [--report R] [--days N]`; exits non-zero when a report's pass failed or could not run.
pub async fn reconcile(all: Vec<Settings>, report: Option<&str>, days: Option<u32>) -> anyhow::Result<ExitCode> {
    if let Some(api) = report {
        for settings in &all {
            settings.report_config(api)?;
        }
    }
    if let Some(days) = days.filter(|d| *d == 0 || *d > 31) {
        let problem = format!("is {days}");
        return Err(ConfigError::Invalid { key: "--days".into(), problem, fix: "use 1 to 31".into() }.into());
    }
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    if let Some(report) = report.and_then(crate::wolkvox::catalog::find) {
        prepare_schema(&apps[0].ctx.db, apps[0].settings.db_timeouts.lock, &[report]).await?;
    }
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    let mut failed = Vec::new();
    for app in &apps {
        let jobs = match report {
            Some(api) => vec![app.job(api)?],
            None => app.jobs.clone(),
        };
        let days = days.unwrap_or(app.settings.reconcile.days);
        let outcomes = crate::sync::reconcile(&app.ctx, &jobs, days, app.settings.reconcile.ledger, &shutdown).await;
        for (api, outcome) in outcomes {
            let name = if apps.len() > 1 { format!("{}/{api}", app.ctx.account) } else { api.to_string() };
            let c = &outcome.counts;
            println!(
                "{name}: {}, {} windows, {} requests, {} rows read, {} added or changed",
                outcome.status.as_str(),
                c.windows,
                c.requests,
                c.rows_fetched,
                c.rows_upserted
            );
            let checked = app.ctx.db.checked_days(&app.ctx.account, api, &outcome.run_id).await?;
            for d in checked {
                let stream = if d.stream.is_empty() { String::new() } else { format!(" [{}]", d.stream) };
                println!(
                    "  {}{stream}: {}, {} rows stored before, {} from the API now, {} added, {} changed",
                    d.day, d.status, d.check_before, d.check_api, d.check_added, d.check_changed
                );
            }
            match outcome.status {
                RunStatus::Succeeded => {}
                RunStatus::Cancelled => return Ok(ExitCode::from(130)),
                status => {
                    if let Some(e) = &outcome.error {
                        eprintln!("error: reconciliation of {name} failed: {e}");
                    } else {
                        eprintln!("error: reconciliation of {name} ended {}", status.as_str());
                    }
                    failed.push(name);
                }
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("the reconciliation of {} report(s) did not succeed: {}", failed.len(), failed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
