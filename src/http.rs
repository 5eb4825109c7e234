//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process is
//! alive), `/readyz` (the database answers, the scheduler is running, and no report has been
//! failing for longer than `http.max_failing_minutes`), and with `http.status_page` the status
//! page `/` and `/status.json`. The scheduler's state and the failure streaks are kept by
//! `crate::health`, the status document by `crate::status`; this module only serves them.
//!
//! Bound to 127.0.0.1 by default. Nothing served here contains a secret: metrics carry token
//! labels, never tokens, and readiness names reports and error kinds only.
//!
//! The server protects the daemon from its clients: at most [`MAX_CONNECTIONS`] connections
//! are served at once (further ones wait in the listen backlog), a connection must send its
//! request headers within [`HEADER_READ_TIMEOUT`], and none is kept longer than
//! [`CONNECTION_MAX_LIFETIME`]. `/readyz` reuses a database ping for
//! [`DB_PING_CACHE`](crate::health::DB_PING_CACHE), so scrapes cannot flood the pool; the status
//! document is built by one request at a time and reused for [`STATUS_CACHE`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
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
    status: Option<Arc<StatusSource>>,
}

/// What `/` and `/status.json` are made of: the operations' settings, and the last document
/// built, reused for [`STATUS_CACHE`] so a refresh storm reaches the database once.
pub struct StatusSource {
    settings: Vec<crate::config::Settings>,
    cache: tokio::sync::Mutex<Option<(std::time::Instant, Arc<Rendered>)>>,
}

impl StatusSource {
    /// The status of `settings`' operations (the first one's zone names the page's times).
    pub fn new(settings: Vec<crate::config::Settings>) -> Arc<Self> {
        Arc::new(StatusSource { settings, cache: tokio::sync::Mutex::new(None) })
    }
}

/// One status document, as JSON and as the page.
struct Rendered {
    json: String,
    html: String,
}

/// How long a built status document is served again before the database is asked anew.
pub const STATUS_CACHE: Duration = Duration::from_secs(5);
/// The longest the status document may take to build; then the request gets a 503.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `addr` and serves until `shutdown`; returns the bound address (port 0 picks one).
/// With `status`, also `/` and `/status.json`.
pub async fn serve(
    addr: SocketAddr,
    db: Db,
    health: Arc<Health>,
    status: Option<Arc<StatusSource>>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    crate::metrics::install();
    let mut app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz));
    let page = status.is_some();
    if page {
        app = app.route("/", get(status_page)).route("/status.json", get(status_json));
    }
    let app = app.with_state(AppState { db, health, status });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, app, shutdown));
    if page {
        tracing::info!(addr = %bound, "Serving the status page at http://{bound}/, and /status.json, /metrics, /healthz, /readyz");
    } else {
        tracing::info!(addr = %bound, "Serving /metrics, /healthz and /readyz");
    }
    Ok((bound, task))
}

/// `?at=2026-12-06T15:00:00Z`: the document as of that instant, as `status --at` gives it.
#[derive(serde::Deserialize)]
struct StatusQuery {
    at: Option<String>,
}

/// The status document, from the cache when it is fresh and no instant was asked for. One
/// request builds it at a time (the others wait for it), within [`STATUS_TIMEOUT`].
async fn rendered(state: &AppState, query: &StatusQuery) -> Result<Arc<Rendered>, (StatusCode, String)> {
    let Some(source) = &state.status else {
        return Err((StatusCode::NOT_FOUND, "the status page is off (http.status_page)\n".into()));
    };
    let at = match &query.at {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| (StatusCode::BAD_REQUEST, "at: give an RFC 3339 instant\n".to_string()))?,
        ),
        None => None,
    };
    let mut cache = source.cache.lock().await;
    if let (None, Some((built, doc))) = (at, cache.as_ref()) {
        if built.elapsed() < STATUS_CACHE {
            return Ok(Arc::clone(doc));
        }
    }
    let now = at.unwrap_or_else(chrono::Utc::now);
    let build = crate::status::document(&state.db, &source.settings, None, now);
    let doc = match tokio::time::timeout(STATUS_TIMEOUT, build).await {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "The status page could not read the database");
            return Err((StatusCode::SERVICE_UNAVAILABLE, "the database did not answer\n".into()));
        }
        Err(_) => return Err((StatusCode::SERVICE_UNAVAILABLE, "the database did not answer in time\n".into())),
    };
    let json = doc.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let rendered = Arc::new(Rendered { html: crate::status_page::render(&value), json });
    if at.is_none() {
        *cache = Some((std::time::Instant::now(), Arc::clone(&rendered)));
    }
    Ok(rendered)
}

async fn status_page(State(state): State<AppState>, Query(query): Query<StatusQuery>) -> impl IntoResponse {
    match rendered(&state, &query).await {
        Ok(doc) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], doc.html.clone()),
        Err((status, text)) => (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text),
    }
}

async fn status_json(State(state): State<AppState>, Query(query): Query<StatusQuery>) -> impl IntoResponse {
    match rendered(&state, &query).await {
        // Exactly what `status --json` prints, its closing newline included.
        Ok(doc) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], format!("{}\n", doc.json)),
        Err((status, text)) => (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text),
    }
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
