//! `wolkvox-etl demo`: the whole daemon working on a fresh machine, before a newcomer has a
//! wolkvox token or a database server.
//!
//! It starts the built-in simulator on a free loopback port, points the configured reports at it
//! with a demo token, syncs the last few days into the configured database (by default the
//! embedded SQLite file), prints per-report progress and a summary saying where the data is, and
//! then keeps running on the normal schedule until Ctrl-C (or stops, with `--once`). Everything
//! runs through the same `App`, `run_once` and scheduler as production.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{NamedToken, Settings};
use crate::scheduler;
use crate::signals::watch_signals;
use crate::simulator::{Simulator, SimulatorConfig};
use crate::startup::{sqlite_path, App};
use crate::store::runs::RunStatus;
use crate::sync::{run_once, Faults, Range};

const DEMO_TOKEN_LABEL: &str = "demo";

/// Points `settings` at the simulator with a demo token, starting `days` back.
fn for_simulator(mut settings: Settings, base_url: &str, days: u32) -> anyhow::Result<Settings> {
    settings.base_url = Some(base_url.parse().context("simulator URL")?);
    settings.tokens =
        vec![NamedToken { label: DEMO_TOKEN_LABEL.into(), secret: SecretString::from("demo-token".to_string()) }];
    for report in &mut settings.reports {
        report.token_label = DEMO_TOKEN_LABEL.into();
        report.policy.start_from = None;
        report.policy.initial_days = days;
    }
    Ok(settings)
}

/// Serves the status page on a free loopback port while the demo runs, and says where.
async fn serve_status_page(app: &App, shutdown: &CancellationToken) -> anyhow::Result<()> {
    if !app.settings.http.enabled || !app.settings.http.status_page {
        return Ok(());
    }
    let status = crate::http::StatusSource::new(vec![app.settings.clone()]);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let (addr, _) =
        crate::http::serve(loopback, app.ctx.db.clone(), Arc::clone(&app.ctx.health), Some(status), shutdown.clone())
            .await
            .context("cannot serve the status page on a loopback port")?;
    println!("Watch it: http://{addr}/ (the status page, until Ctrl-C)");
    Ok(())
}

/// Runs the demo; see the module docs. `database` (the `--database` flag) replaces whatever
/// database the configuration names, so a demo never writes simulator rows into production.
pub async fn demo(mut settings: Settings, once: bool, days: u32, database: &str) -> anyhow::Result<ExitCode> {
    settings.database_is_default = database == crate::config::DEFAULT_DATABASE_URL;
    settings.database_url = SecretString::from(database.to_string());
    let sim = Simulator::start(SimulatorConfig::default(), Clock::system(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("cannot start the simulator on a loopback port")?;
    println!("wolkvox simulator running at {}", sim.base_url());
    let where_data = match sqlite_path(&settings) {
        Some(path) => format!("SQLite file {path}"),
        None => "the configured PostgreSQL database".to_string(),
    };
    println!("Database: {where_data}");

    let settings = for_simulator(settings, &sim.base_url(), days)?;
    let run_on_schedule = !once;
    let app = App::build(settings, Clock::system(), Faults::default()).await?;
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    if run_on_schedule {
        serve_status_page(&app, &shutdown).await?;
    }
    println!("First pass: {} report(s), the last {days} days", app.jobs.len());
    let (failed, total_rows) = first_pass(&app, &shutdown).await?;
    println!("Done: {total_rows} rows in {where_data}");
    if let Some(path) = sqlite_path(&app.settings) {
        println!("Look at them: sqlite3 {path} 'SELECT account, chat_id, date, cod_act FROM chat_14 ORDER BY date DESC LIMIT 5'");
    }

    if run_on_schedule && !shutdown.is_cancelled() {
        println!("Now syncing on schedule (every 5 minutes by default). Ctrl-C to stop.");
        let reconcile = app.settings.reconcile.clone();
        scheduler::run(
            Arc::clone(&app.ctx),
            app.jobs.clone(),
            app.token_info.clone(),
            false,
            reconcile,
            app.dimensions.clone(),
            shutdown,
        )
        .await?;
    }
    app.ctx.db.close().await;
    sim.shutdown().await;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The first pass: every report once (in parallel, queued on the demo token's gate), then the
/// dimensions; a line per run. Returns how many failed, and the rows fetched.
async fn first_pass(app: &App, shutdown: &CancellationToken) -> anyhow::Result<(usize, u64)> {
    let mut failed: usize = 0;
    let mut total_rows: u64 = 0;
    // Reports share the demo token, so they queue on its gate exactly as in production.
    let mut runs = tokio::task::JoinSet::new();
    for job in app.jobs.clone() {
        let (ctx, shutdown) = (Arc::clone(&app.ctx), shutdown.clone());
        runs.spawn(async move {
            let outcome = run_once(&ctx, &job, Range::Scheduled, &shutdown).await;
            (job.config.report.api, outcome)
        });
    }
    while let Some(done) = runs.join_next().await {
        let (api, o) = done.context("a demo run panicked")?;
        let window = o.planned.map(|w| w.in_zone(app.ctx.timezone).to_string()).unwrap_or_else(|| "-".into());
        println!(
            "  {api:<12} {status:<9} {rows:>8} rows  {window}  {secs:.1} s",
            status = o.status.as_str(),
            rows = o.counts.rows_fetched,
            secs = o.duration.as_secs_f64(),
        );
        if let Some(e) = &o.error {
            println!("               error: {e}");
        }
        failed += usize::from(matches!(o.status, RunStatus::Failed | RunStatus::Rejected));
        total_rows += o.counts.rows_fetched;
    }
    if let Some(job) = &app.dimensions {
        for (table, o) in crate::sync::dimensions::read_all(&app.ctx, &job.token, shutdown).await {
            println!(
                "  {table:<17} {status:<9} {rows:>3} rows  (reference data)",
                status = o.status.as_str(),
                rows = o.counts.rows_fetched
            );
            if let Some(e) = &o.error {
                println!("               error: {e}");
            }
            failed += usize::from(o.status == RunStatus::Failed);
            total_rows += o.counts.rows_fetched;
        }
    }
    Ok((failed, total_rows))
}
