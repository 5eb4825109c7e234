//! Wiring only: turns validated settings into connected parts — the database (connected fast,
//! migrated under the schema lock), the API client, the token gates, one job per report and one
//! `token_info` job per token.
//! The commands in `commands/` decide what to run with them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::info;

use crate::budget::Budget;
use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::health::Health;
use crate::store::locks::Coordinator;
use crate::store::{Backend, Db};
use crate::sync::api_token_count::TokenInfoJob;
use crate::sync::dimensions::DimensionJob;
use crate::sync::{Faults, JobContext, ReportJob, WindowHook};
use crate::wolkvox::catalog::Report;
use crate::wolkvox::{Tokens, WolkvoxClient};

/// The parts a daemon or a `sync` needs, connected and migrated.
pub struct App {
    /// Shared run context.
    pub ctx: Arc<JobContext>,
    /// One job per enabled report.
    pub jobs: Vec<ReportJob>,
    /// The dimensions' reads, when `[dimensions]` is enabled.
    pub dimensions: Option<DimensionJob>,
    /// One `token_info` job per token, when `[token_info]` is enabled.
    pub token_info: Vec<TokenInfoJob>,
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
        let coordinator = Coordinator::new(&db, run_slots + tokens_count + 1, first.db_timeouts.lock);
        // The database is the first operation's connection: its timeouts are the ones in force.
        let db_timeouts = first.db_timeouts;
        let slots = Arc::new(tokio::sync::Semaphore::new(run_slots as usize));
        let health = Arc::new(Health::new(first.http.max_failing, clock.clone()));
        let mut apps = Vec::with_capacity(all.len());
        for settings in all {
            let api = settings.api()?;
            let client = WolkvoxClient::new(
                api.base_url.clone(),
                settings.request_timeout,
                settings.retry,
                settings.extra_roots(),
            )?;
            let tokens = Tokens::new(api.tokens);
            let jobs = settings.reports.iter().map(|rc| job_for(&tokens, rc.clone())).collect::<Result<Vec<_>, _>>()?;
            let token_info = token_info_jobs(&settings, &tokens);
            let dimensions = dimension_job(&settings, &tokens);
            let ctx = Arc::new(JobContext {
                budget: Budget::new(
                    db.clone(),
                    settings.account.clone(),
                    settings.timezone,
                    clock.clone(),
                    settings.licenses,
                ),
                health: Arc::clone(&health),
                on_window: WindowHook::default(),
                coordinator: coordinator.clone(),
                run_slots: Arc::clone(&slots),
                db: db.clone(),
                db_timeouts,
                client,
                account: settings.account.clone(),
                timezone: settings.timezone,
                clock: clock.clone(),
                faults,
            });
            apps.push(App { ctx, jobs, dimensions, token_info, settings, tokens });
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

/// The dimensions' reads on the configured token (default: the first), none when disabled.
fn dimension_job(settings: &Settings, tokens: &Tokens) -> Option<DimensionJob> {
    if !settings.dimensions.enabled {
        return None;
    }
    let label = settings.dimensions.token_label.as_deref().or(settings.tokens.first().map(|t| t.label.as_str()))?;
    Some(DimensionJob { token: tokens.get(label)?, schedule: settings.dimensions.schedule.clone() })
}

/// One `token_info` job per configured token (by label), none when `[token_info]` is disabled.
fn token_info_jobs(settings: &Settings, tokens: &Tokens) -> Vec<TokenInfoJob> {
    if !settings.token_info.enabled {
        return Vec::new();
    }
    settings
        .tokens
        .iter()
        .filter_map(|named| tokens.get(&named.label))
        .map(|token| TokenInfoJob { token, schedule: settings.token_info.schedule.clone() })
        .collect()
}

fn job_for(tokens: &Tokens, config: crate::config::ReportConfig) -> Result<ReportJob, ConfigError> {
    let token = tokens.get(&config.token_label).ok_or_else(|| ConfigError::Invalid {
        key: format!("reports.{}.token", config.report.api),
        problem: format!("no token is labelled {:?}", config.token_label),
        fix: "use a label defined under [wolkvox.tokens], or set wolkvox.token".into(),
    })?;
    Ok(ReportJob { config, token })
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
    // Each token's window holds a connection from before its request until its commit: a pool
    // smaller than the tokens (plus the run history's and the API budget's) would make answers
    // wait for one.
    let tokens: u32 = all.iter().map(|s| u32::try_from(s.tokens.len().max(1)).unwrap_or(u32::MAX)).sum();
    let pool_size = settings.db_max_connections.max(tokens.saturating_add(2));
    let db = Db::connect_with(&settings.database_url, pool_size, settings.db_timeouts, settings.db_schema.as_deref())
        .await
        .with_context(|| {
            use secrecy::ExposeSecret;
            format!(
                "cannot connect to the database {} (check database.url / DATABASE_URL, and that the server is up)",
                crate::config::redact_url(settings.database_url.expose_secret())
            )
        })?;
    let mut reports: Vec<_> = all.iter().flat_map(|s| s.reports.iter().map(|r| r.report)).collect();
    if db.backend() == Backend::Postgres {
        // The KPI views read these, so their tables exist whether the reports are enabled or not.
        reports.extend(crate::store::bi::INPUTS.iter().filter_map(|api| crate::wolkvox::catalog::find(api)));
    }
    reports.sort_by_key(|r| r.api);
    reports.dedup_by_key(|r| r.api);
    prepare_schema(&db, settings.db_timeouts.lock, &reports).await?;
    // The KPI views read local days: the (first) operation's zone.
    if !db.bi_views_current(settings.timezone).await? {
        let schema_lock = Coordinator::new(&db, 1, settings.db_timeouts.lock).lock_schema().await?;
        let made = db.ensure_bi_views(settings.timezone).await;
        schema_lock.release().await;
        made.map_err(|e| schema_error(e, &["the KPI views (schema bi)".to_string()]))
            .context("cannot create the KPI views (schema bi)")?;
    }
    Ok(db)
}

/// Applies pending migrations and creates or extends the tables of `reports`, when anything is
/// missing: a database already up to date is not changed at all, so the daemon can run as a role
/// that may only read and write rows (docs/security.md, "Roles"). Waits at most `lock_wait`
/// (`database.lock_timeout_seconds`) for another process's schema changes.
pub async fn prepare_schema(db: &Db, lock_wait: Duration, reports: &[&'static Report]) -> anyhow::Result<()> {
    let missing = db.missing_schema(reports).await.context("cannot read the database schema")?;
    if missing.is_empty() {
        return Ok(());
    }
    // Replicas starting together take turns, so two never create the same table at once.
    let schema_lock = Coordinator::new(db, 1, lock_wait).lock_schema().await?;
    let migrated = db.migrate(reports).await;
    schema_lock.release().await;
    migrated.map_err(|e| schema_error(e, &missing)).context("cannot prepare the database schema")?;
    Ok(())
}

/// A schema change the connecting role may not make names what is missing and who can add it;
/// any other failure is passed on as it is.
fn schema_error(error: crate::store::StoreError, missing: &[String]) -> anyhow::Error {
    if !error.is_permission_denied() {
        return error.into();
    }
    let mut list = missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if missing.len() > 5 {
        list.push_str(&format!(" and {} more", missing.len() - 5));
    }
    anyhow::anyhow!(
        "this database role may not change the schema (permission denied), and it lacks: {list}. Fix: run \
         `wolkvox-etl migrate` as the role that owns the schema (docs/security.md, \"Roles\"), then start this again"
    )
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
