//! `run`: the daemon. One schedule per operation, the HTTP endpoints, and a clean stop on
//! SIGTERM/Ctrl-C: no new runs start, and the windows in flight commit or roll back.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::budget::DailyEstimate;
use crate::clock::Clock;
use crate::config::Settings;
use crate::scheduler;
use crate::signals::watch_signals;
use crate::startup::App;
use crate::sync::Faults;

/// `run`: every enabled report of every operation on its schedule, until SIGTERM/Ctrl-C.
pub async fn run(all: Vec<Settings>) -> anyhow::Result<ExitCode> {
    // Signals are caught from the first instant: a SIGTERM during start-up (migrations) must
    // end the process cleanly, not kill it with the default disposition.
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    let run_on_start = all.iter().any(|s| s.run_on_start);
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    for app in &apps {
        let reports: Vec<&str> = app.jobs.iter().map(|j| j.config.report.api).collect();
        info!(account = %app.ctx.account, reports = %reports.join(","), timezone = %app.ctx.timezone, "wolkvox-etl started");
        for advice in app.settings.advice() {
            tracing::warn!(account = %app.ctx.account, "{advice}");
        }
        let estimate = DailyEstimate::of(&app.settings);
        if estimate.exceeds_budget() {
            tracing::warn!(account = %app.ctx.account, arithmetic = %estimate.arithmetic(), "The enabled reports need more API calls per day than the operation's budget; some will pause at the daily limit");
        } else {
            info!(account = %app.ctx.account, arithmetic = %estimate.arithmetic(), "Daily API call estimate");
        }
    }
    let first = &apps[0];
    let server = if first.settings.http.enabled {
        let status = first
            .settings
            .http
            .status_page
            .then(|| crate::http::StatusSource::new(apps.iter().map(|a| a.settings.clone()).collect()));
        let (_, task) = crate::http::serve(
            first.settings.http.bind,
            first.ctx.db.clone(),
            Arc::clone(&first.ctx.health),
            status,
            shutdown.clone(),
        )
        .await
        .with_context(|| format!("cannot listen on http.bind = {}", first.settings.http.bind))?;
        Some(task)
    } else {
        None
    };
    // One schedule per operation, all stopping on the same signal.
    let mut schedules = tokio::task::JoinSet::new();
    for app in apps {
        let reconcile = app.settings.reconcile.clone();
        let (ctx, token_info) = (Arc::clone(&app.ctx), app.token_info);
        schedules.spawn(scheduler::run(
            ctx,
            app.jobs,
            token_info,
            run_on_start,
            reconcile,
            app.dimensions,
            shutdown.clone(),
        ));
    }
    while let Some(done) = schedules.join_next().await {
        done.context("a schedule panicked")??;
    }
    if let Some(task) = server {
        let _ = task.await;
    }
    info!("wolkvox-etl stopped");
    Ok(ExitCode::SUCCESS)
}
