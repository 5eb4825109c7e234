//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process is
//! alive) and `/readyz` (the database answers, the scheduler is running, and no report has been
//! failing for longer than `http.max_failing_minutes`). The scheduler's state and the failure
//! streaks are kept by `crate::health`; this module only serves them.
//!
//! Bound to 127.0.0.1 by default. Nothing served here contains a secret: metrics carry token
//! labels, never tokens, and readiness names reports and error kinds only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::health::Health;
use crate::store::Db;

#[derive(Clone)]
struct AppState {
    db: Db,
    health: Arc<Health>,
}

/// Binds `addr` and serves until `shutdown`; returns the bound address (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    db: Db,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    crate::metrics::install();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { db, health });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "The metrics/health server stopped");
        }
    });
    tracing::info!(addr = %bound, "Serving /metrics, /healthz and /readyz");
    Ok((bound, task))
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render())
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: &'static str,
    scheduler: &'static str,
    failing_reports: Vec<FailingReport>,
}

#[derive(Serialize)]
struct FailingReport {
    report: String,
    failing_for_seconds: i64,
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) => "error",
        Err(_) => "timeout",
    };
    let scheduler = if state.health.scheduler_running() { "running" } else { "stopped" };
    let failing_reports: Vec<FailingReport> = state
        .health
        .failing_too_long()
        .into_iter()
        .map(|(report, failing_for_seconds)| FailingReport { report, failing_for_seconds })
        .collect();
    let ready = database == "ok" && scheduler == "running" && failing_reports.is_empty();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::to_string(&Readiness { ready, database, scheduler, failing_reports }).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}
