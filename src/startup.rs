//! Wiring: turns a command and validated settings into running parts (pool + migrations, API
//! client, token gates, jobs, scheduler) and runs them until done or shut down.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::budget::{Budget, DailyEstimate};
use crate::cli::WatermarkAction;
use crate::cli::{Cli, Command};
use crate::clock::Clock;
use crate::config::{ConfigError, LogFormat, LogSettings, Settings};
use crate::health::Health;
use crate::simulator::{FaultPlan, Simulator, SimulatorConfig};
use crate::store::locks::Coordinator;
use crate::store::watermark::{self, StreamKey};
use crate::store::{runs::RunStatus, Backend, Db};
use crate::sync::{run_once, Faults, JobContext, Range, ReportJob, WindowHook};
use crate::time::{local_to_utc, parse_local_datetime, utc_to_local};
use crate::wolkvox::{Tokens, WolkvoxClient};
use crate::{demo, scheduler, status, telemetry};

/// The parts a daemon or a `sync` needs, connected and migrated.
pub struct App {
    /// Shared run context.
    pub ctx: Arc<JobContext>,
    /// One job per enabled report.
    pub jobs: Vec<ReportJob>,
    /// The validated settings.
    pub settings: Settings,
    /// The tokens and their gates (shared by every job of this process).
    pub tokens: Tokens,
}

impl App {
    /// Connects the database (failing fast), runs migrations and builds the API client and jobs.
    pub async fn build(settings: Settings, clock: Clock, faults: Faults) -> anyhow::Result<App> {
        let mut apps = App::build_all(vec![settings], clock, faults).await?;
        Ok(apps.remove(0))
    }

    /// One app per configured operation, sharing one database pool, one set of cross-replica
    /// locks, one health view and one budget of concurrent runs (the process's).
    pub async fn build_all(all: Vec<Settings>, clock: Clock, faults: Faults) -> anyhow::Result<Vec<App>> {
        let first = all.first().context("no account is configured")?;
        // Configuration errors first: they name a key, a connection error does not.
        for settings in &all {
            settings.api()?;
        }
        let db = connect_and_migrate_all(&all).await?;
        // Two runs per token keep each token busy (one requesting while the other writes).
        let tokens_count: u32 = all.iter().map(|s| u32::try_from(s.tokens.len().max(1)).unwrap_or(u32::MAX)).sum();
        let run_slots = tokens_count.saturating_mul(2);
        let coordinator = Coordinator::new(&db, run_slots + tokens_count + 1);
        let slots = Arc::new(tokio::sync::Semaphore::new(run_slots as usize));
        let health = Arc::new(Health::new(first.http.max_failing, clock.clone()));
        let mut apps = Vec::with_capacity(all.len());
        for settings in all {
            let api = settings.api()?;
            let client = WolkvoxClient::new(api.base_url.clone(), settings.request_timeout, settings.retry)?;
            let tokens = Tokens::new(api.tokens);
            let jobs = settings.reports.iter().map(|rc| job_for(&tokens, rc.clone())).collect::<Result<Vec<_>, _>>()?;
            let ctx = Arc::new(JobContext {
                budget: Budget::new(db.clone(), settings.account.clone(), settings.timezone, clock.clone()),
                health: Arc::clone(&health),
                on_window: WindowHook::default(),
                coordinator: coordinator.clone(),
                run_slots: Arc::clone(&slots),
                db: db.clone(),
                client,
                account: settings.account.clone(),
                timezone: settings.timezone,
                clock: clock.clone(),
                faults,
            });
            apps.push(App { ctx, jobs, settings, tokens });
        }
        Ok(apps)
    }

    /// The job for report `api`, enabled or not.
    pub fn job(&self, api: &str) -> anyhow::Result<ReportJob> {
        if let Some(job) = self.jobs.iter().find(|j| j.config.report.api == api) {
            return Ok(job.clone());
        }
        Ok(job_for(&self.tokens, self.settings.report_config(api)?)?)
    }
}

fn job_for(tokens: &Tokens, config: crate::config::ReportConfig) -> Result<ReportJob, ConfigError> {
    let token = tokens.get(&config.token_label).ok_or_else(|| ConfigError::Invalid {
        key: format!("reports.{}.token", config.report.api),
        problem: format!("no token is labelled {:?}", config.token_label),
        fix: "use a label defined under [wolkvox.tokens], or set wolkvox.token".into(),
    })?;
    Ok(ReportJob { config, token })
}

/// Runs the command; the exit code says whether it succeeded.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Simulate {
        port,
        bind,
        seed,
        rows_per_hour,
        tokens,
        latency_ms,
        daily_limit,
        faults,
        fault_rate,
        row_faults,
    } = cli.command
    {
        telemetry::init(&LogSettings { format: LogFormat::Pretty, level: "info".into() });
        let kinds = FaultPlan::parse_kinds(&faults).map_err(|e| ConfigError::Invalid {
            key: "--faults".into(),
            problem: e,
            fix: "list kinds separated by commas, e.g. --faults http503,reset".into(),
        })?;
        if !(0.0..=1.0).contains(&fault_rate) {
            return Err(ConfigError::Invalid {
                key: "--fault-rate".into(),
                problem: format!("{fault_rate} is not between 0 and 1"),
                fix: "use a share such as 0.1".into(),
            }
            .into());
        }
        let config = SimulatorConfig {
            seed,
            rows_per_hour,
            tokens,
            latency: std::time::Duration::from_millis(latency_ms),
            daily_limit,
            faults: FaultPlan { rate: fault_rate, kinds, seed, slow: std::time::Duration::from_secs(95), row_faults },
            ..SimulatorConfig::default()
        };
        return simulate(config, SocketAddr::new(bind, port)).await;
    }
    let mut all = Settings::load_all(cli.config.as_deref())?;
    if let Some(name) = &cli.account {
        all.retain(|s| &s.account == name);
        if all.is_empty() {
            return Err(ConfigError::Invalid {
                key: "--account".into(),
                problem: format!("no account is named {name:?}"),
                fix: "use a name from [accounts.<name>] (or \"default\" for a single-account config)".into(),
            }
            .into());
        }
    }
    telemetry::init(&all[0].log);
    let settings = all[0].clone();
    match cli.command {
        Command::Run => run_daemon(all).await,
        Command::Sync { report, from, to } => sync(all, report.as_deref(), from.as_deref(), to.as_deref()).await,
        Command::Status { json } => {
            let db = connect_and_migrate_all(&all).await?;
            status::print(&db, &all, cli.account.as_deref(), json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { once, days } => demo::run(settings, once, days).await,
        Command::Watermark { action } => watermark_command(settings, action).await,
        Command::CheckConfig => {
            for settings in &all {
                if all.len() > 1 {
                    println!("######## account {}", settings.account);
                }
                println!("{}", settings.describe());
                let estimate = DailyEstimate::of(settings);
                println!("# daily API calls: {}\n", estimate.arithmetic().replace("; ", "\n#   "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reports { json } => {
            reports_command(&settings, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck => healthcheck(&settings).await,
        Command::Migrate => {
            connect_and_migrate_all(&all).await?;
            println!("Migrations applied.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate { .. } => unreachable!("handled above"),
    }
}

/// Connects the configured database (failing fast) and brings its schema up to date: core
/// migrations plus a table for every enabled report.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    connect_and_migrate_all(std::slice::from_ref(settings)).await
}

/// Like [`connect_and_migrate`] for several operations sharing one database: the tables of
/// every account's enabled reports.
pub async fn connect_and_migrate_all(all: &[Settings]) -> anyhow::Result<Db> {
    let settings = all.first().context("no account is configured")?;
    if settings.database_is_default {
        info!(path = %sqlite_path(settings).unwrap_or_default(), "No database configured; using the embedded SQLite file");
    }
    let db = Db::connect(&settings.database_url, settings.db_max_connections).await.with_context(|| {
        use secrecy::ExposeSecret;
        format!(
            "cannot connect to the database {} (check database.url / DATABASE_URL, and that the server is up)",
            crate::config::redact_url(settings.database_url.expose_secret())
        )
    })?;
    let mut reports: Vec<_> = all.iter().flat_map(|s| s.reports.iter().map(|r| r.report)).collect();
    reports.sort_by_key(|r| r.api);
    reports.dedup_by_key(|r| r.api);
    // Replicas starting together take turns, so two never create the same table at once.
    let schema_lock = Coordinator::new(&db, 1).lock_schema().await?;
    db.migrate(&reports).await.context("cannot prepare the database schema")?;
    schema_lock.release().await;
    Ok(db)
}

/// The absolute path of the SQLite file, when the database is SQLite.
pub fn sqlite_path(settings: &Settings) -> Option<String> {
    use secrecy::ExposeSecret;
    let url = settings.database_url.expose_secret();
    if Backend::of_url(url) != Some(Backend::Sqlite) {
        return None;
    }
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let path = std::path::Path::new(path);
    Some(std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf()).display().to_string())
}

async fn run_daemon(all: Vec<Settings>) -> anyhow::Result<ExitCode> {
    // Signals are caught from the first instant: a SIGTERM during start-up (migrations) must
    // end the process cleanly, not kill it with the default disposition.
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    let run_on_start = all.iter().any(|s| s.run_on_start);
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    for app in &apps {
        let reports: Vec<&str> = app.jobs.iter().map(|j| j.config.report.api).collect();
        info!(account = %app.ctx.account, reports = %reports.join(","), timezone = %app.ctx.timezone, "wolkvox-etl started");
        let estimate = DailyEstimate::of(&app.settings);
        if estimate.exceeds_budget() {
            tracing::warn!(account = %app.ctx.account, arithmetic = %estimate.arithmetic(), "The enabled reports need more API calls per day than the operation's budget; some will pause at the daily limit");
        } else {
            info!(account = %app.ctx.account, arithmetic = %estimate.arithmetic(), "Daily API call estimate");
        }
    }
    let first = &apps[0];
    let server = if first.settings.http.enabled {
        let (_, task) = crate::http::serve(
            first.settings.http.bind,
            first.ctx.db.clone(),
            Arc::clone(&first.ctx.health),
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
        schedules.spawn(scheduler::run(Arc::clone(&app.ctx), app.jobs, run_on_start, shutdown.clone()));
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

async fn sync(
    all: Vec<Settings>,
    report: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let parse = |flag: &str, text: &str| {
        parse_local_datetime(text).ok_or_else(|| ConfigError::Invalid {
            key: flag.into(),
            problem: format!("{text:?} is not a date"),
            fix: "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS in the operation's local time".into(),
        })
    };
    let range = match from {
        None => Range::Scheduled,
        Some(from) => Range::Explicit { from: parse("--from", from)?, to: to.map(|t| parse("--to", t)).transpose()? },
    };
    if let Some(api) = report {
        // Fail on a bad report name before connecting anything.
        for settings in &all {
            settings.report_config(api)?;
        }
    }
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    let mut work = Vec::new();
    for app in &apps {
        let ctx = JobContext { on_window: progress_lines(), ..(*app.ctx).clone() };
        let jobs = match report {
            Some(api) => vec![app.job(api)?],
            None => app.jobs.clone(),
        };
        work.extend(jobs.into_iter().map(|job| (ctx.clone(), job)));
    }
    let several = apps.len() > 1;
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    let mut failed = Vec::new();
    let mut cancelled = false;
    let total = work.len();
    for (ctx, job) in &work {
        let api_name = if several {
            format!("{}/{}", ctx.account, job.config.report.api)
        } else {
            job.config.report.api.to_string()
        };
        let api = api_name.as_str();
        let outcome = run_once(ctx, job, range, &shutdown).await;
        if std::io::stdout().is_terminal() {
            println!();
        }
        let watermark =
            outcome.watermark.map(|w| w.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into());
        println!(
            "{api}: {status}, {windows} windows, {requests} requests, {fetched} rows fetched, {upserted} inserted or changed, watermark {watermark} ({tz})",
            status = outcome.status.as_str(),
            windows = outcome.counts.windows,
            requests = outcome.counts.requests,
            fetched = outcome.counts.rows_fetched,
            upserted = outcome.counts.rows_upserted,
            tz = ctx.timezone,
        );
        match (outcome.status, outcome.error) {
            (RunStatus::Failed, Some(e)) => {
                eprintln!("error: sync of {api} failed: {e}");
                failed.push(api_name.clone());
            }
            (RunStatus::Cancelled, _) => {
                cancelled = true;
                break;
            }
            _ => {}
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} of {} report(s) failed: {}", failed.len(), total, failed.join(", "));
    }
    Ok(if cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// Progress of a `sync`: one line rewritten in place on a terminal, one line per window otherwise
/// (logs, CI, pipes).
fn progress_lines() -> WindowHook {
    let terminal = std::io::stdout().is_terminal();
    let windows = std::sync::atomic::AtomicU64::new(0);
    let rows = std::sync::atomic::AtomicU64::new(0);
    WindowHook::new(move |done| {
        use std::sync::atomic::Ordering::Relaxed;
        let n = windows.fetch_add(1, Relaxed) + 1;
        let total = rows.fetch_add(done.rows, Relaxed) + done.rows;
        let line = format!(
            "{}: window {n} {} - {} rows ({} changed), {total} so far",
            done.report, done.window, done.rows, done.upserted
        );
        if terminal {
            print!("\r\x1b[2K{line}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        } else {
            println!("{line}");
        }
    })
}

async fn simulate(config: SimulatorConfig, addr: SocketAddr) -> anyhow::Result<ExitCode> {
    let sim =
        Simulator::start(config, Clock::system(), addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    println!("wolkvox simulator listening; base URL {}", sim.base_url());
    info!(base_url = %sim.base_url(), now_local = %utc_to_local(chrono_tz::America::Bogota, Utc::now()), "Simulator started");
    let stop = CancellationToken::new();
    cancel_on_signal(stop.clone()).await;
    let stats = sim.stats();
    sim.shutdown().await;
    info!(
        requests = stats.requests,
        rows_served = stats.rows_served,
        simultaneous_violations = stats.simultaneous_violations,
        "Simulator stopped"
    );
    Ok(ExitCode::SUCCESS)
}

/// Cancels `token` on Ctrl-C or SIGTERM. The handlers are installed before this returns (not
/// when a task first runs), so a signal arriving right after cannot take the default action.
pub fn watch_signals(token: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(cancel_on_signal(token));
    Ok(())
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    token.cancel();
}

async fn watermark_command(settings: Settings, action: WatermarkAction) -> anyhow::Result<ExitCode> {
    let db = connect_and_migrate(&settings).await?;
    let tz = settings.timezone;
    let (report, stream) = match &action {
        WatermarkAction::Get { report, stream }
        | WatermarkAction::Set { report, stream, .. }
        | WatermarkAction::Reset { report, stream } => (report.as_str(), stream.as_str()),
    };
    settings.report_config(report)?;
    let key = StreamKey { account: &settings.account, report, stream };
    let show = |w: Option<chrono::DateTime<Utc>>| {
        w.map(|w| format!("{} ({tz})", utc_to_local(tz, w).format("%Y-%m-%d %H:%M:%S")))
            .unwrap_or_else(|| "none".into())
    };
    match action {
        WatermarkAction::Get { .. } => println!("{report}: watermark {}", show(db.watermark(key).await?)),
        WatermarkAction::Set { ref to, .. } => {
            let local = parse_local_datetime(to).ok_or_else(|| ConfigError::Invalid {
                key: "--to".into(),
                problem: format!("{to:?} is not a date"),
                fix: "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS in the operation's local time".into(),
            })?;
            let before = db.watermark(key).await?;
            watermark::force(&db, key, local_to_utc(tz, local)).await?;
            println!("{report}: watermark {} -> {}", show(before), show(db.watermark(key).await?));
        }
        WatermarkAction::Reset { .. } => {
            let existed = watermark::reset(&db, key).await?;
            println!(
                "{report}: watermark {}; the next run starts from sync.start_from / initial_days",
                if existed { "removed" } else { "was not set" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the running daemon's `/healthz`; for container health checks (the image has no curl).
async fn healthcheck(settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut addr = settings.http.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}/healthz");
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("{url} answered {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("{url} did not answer: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `reports`: the whole catalogue with grain, key and whether each report is enabled.
fn reports_command(settings: &Settings, json: bool) {
    let rows: Vec<serde_json::Value> = crate::wolkvox::catalog::all()
        .iter()
        .map(|r| {
            let enabled = settings.reports.iter().find(|c| c.report.api == r.api);
            serde_json::json!({
                "api": r.api,
                "title": r.title,
                "grain": format!("{:?}", r.grain),
                "key": r.key,
                "streams": r.streams,
                "params": r.params,
                "enabled": enabled.is_some(),
                "schedule": enabled.map(|c| c.schedule.clone()),
            })
        })
        .collect();
    // Written in one go, ignoring a closed pipe (`reports | head`).
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(&rows).unwrap_or_default();
        out.push('\n');
        let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
        return;
    }
    use std::fmt::Write as _;
    let _ = writeln!(out, "{:<12} {:<18} {:<8} {:<16} KEY / TITLE", "REPORT", "GRAIN", "ENABLED", "SCHEDULE");
    for r in crate::wolkvox::catalog::all() {
        let enabled = settings.reports.iter().find(|c| c.report.api == r.api);
        let _ = writeln!(
            out,
            "{:<12} {:<18} {:<8} {:<16} ({}) {}",
            r.api,
            format!("{:?}", r.grain),
            if enabled.is_some() { "yes" } else { "no" },
            enabled.map(|c| c.schedule.as_str()).unwrap_or("-"),
            r.key.join(", "),
            r.title
        );
    }
    let _ = writeln!(out, "{} reports, {} enabled", crate::wolkvox::catalog::all().len(), settings.reports.len());
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
}
