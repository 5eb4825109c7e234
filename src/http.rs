//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process is
//! alive) and `/readyz` (the database answers, the scheduler is running, and no report has been
//! failing for longer than `http.max_failing_minutes`). The scheduler's state and the failure
//! streaks are kept by `crate::health`; this module only serves them.
//!
//! Bound to 127.0.0.1 by default. Nothing served here contains a secret: metrics carry token
//! labels, never tokens, and readiness names reports and error kinds only.
//!
//! The server protects the daemon from its clients: at most [`MAX_CONNECTIONS`] connections
//! are served at once (further ones wait in the listen backlog), a connection must send its
//! request headers within [`HEADER_READ_TIMEOUT`], and none is kept longer than
//! [`CONNECTION_MAX_LIFETIME`]. `/readyz` reuses a database ping for
//! [`DB_PING_CACHE`](crate::health::DB_PING_CACHE), so scrapes cannot flood the pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::sync::Semaphore;
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
    let task = tokio::spawn(accept_loop(listener, app, shutdown));
    tracing::info!(addr = %bound, "Serving /metrics, /healthz and /readyz");
    Ok((bound, task))
}

/// Connections served at once; more wait in the kernel's listen backlog.
pub const MAX_CONNECTIONS: usize = 16;
/// A connection that has not sent a request's headers this long after it opened, or after its
/// previous response, is closed (a half-open or slow client cannot hold a connection slot).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// No connection is served longer than this, keep-alive included.
pub const CONNECTION_MAX_LIFETIME: Duration = Duration::from_secs(60);

/// Accepts connections until `shutdown`, each holding one of [`MAX_CONNECTIONS`] permits for
/// its whole life; the permit is taken before `accept`, so a full server accepts nothing.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "The metrics/health server could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let lifetime = tokio::time::sleep(CONNECTION_MAX_LIFETIME);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = lifetime => {}
                () = shutdown.cancelled() => {
                    // Finish the response in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(HEADER_READ_TIMEOUT, conn).await;
                }
            }
        });
    }
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
    let ping = async {
        match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
            Ok(Ok(())) => "ok",
            Ok(Err(_)) => "error",
            Err(_) => "timeout",
        }
    };
    let database = state.health.database(ping).await;
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
