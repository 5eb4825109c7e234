//! A faithful loopback stand-in for the wolkvox `reports_manager.php` API, and for
//! `information.php?api=token_info` (the API's own count of a token's daily calls).
//!
//! The real API cannot be reached from tests, the demo or benchmarks, so this module serves the
//! same URL, header, envelope, limits and error bodies over HTTP on a local port, with
//! deterministic data for every report of the catalogue that behaves like the real thing over
//! time (late rows, typifications that change after the fact, aggregates that grow, 404 for
//! empty windows, silent truncation, one request per token, required parameters, per-report
//! `code` types, cdr_4's object `data`, chat_1's untrimmed key), and, on request, the real API's
//! bad days (see `faults`).
//!
//! It owns the simulator's lifecycle and its public surface. The invariant it protects: what the
//! server answers and what [`Simulator::ground_truth`] returns are computed by the same pure
//! function of `(seed, density, window, clock)`, so a test can always tell exactly which rows a
//! correct client must end up with.
//!
//! - `data`: which rows exist and when they become visible (pure, deterministic).
//! - `server`: the HTTP handlers: token, concurrency and quota checks, validation, envelopes;
//!   `token_info` answers from the same per-token daily counter the quota uses.
//! - `faults`: the optional fault plan: wrong answers to valid requests, damaged rows.
//! - `wire`: the listener whose connections a handler can cut mid-body (a connection reset), and
//!   which frees a token only once the last byte of its answer is written to the socket.
//!
//! Row damage is part of that pure function too ([`served_rows`]), so with a fault plan the
//! ground truth is still exactly what a correct client stores.

pub mod data;
pub mod faults;
mod server;
mod wire;

pub use faults::{FaultKind, FaultPlan, HugeAnswer, HugeKind};

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::wolkvox::catalog;
use crate::wolkvox::Row;

/// How the simulator encodes its answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// In the best encoding the request's `Accept-Encoding` offers (br, zstd, gzip, deflate), or
    /// none when it offers none: what a web server in front of the API would do.
    Negotiate,
    /// Only in this encoding (`gzip`, `br`, `zstd` or `deflate`), when the request accepts it.
    Only(&'static str),
    /// Never: every answer as plain JSON.
    Off,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Compression::Negotiate),
            "off" => Ok(Compression::Off),
            "gzip" => Ok(Compression::Only("gzip")),
            "br" => Ok(Compression::Only("br")),
            "zstd" => Ok(Compression::Only("zstd")),
            "deflate" => Ok(Compression::Only("deflate")),
            other => Err(format!("{other:?}: use auto, off, gzip, br, zstd or deflate")),
        }
    }
}

/// How the simulated operation behaves: its data, its tokens and the API limits it enforces.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Seeds every generated row; the same seed always yields the same data.
    pub seed: u64,
    /// chat_14 density: average chats per hour (exact over every whole hour), capped at
    /// [`data::MAX_ROWS_PER_HOUR`]. Every other report has a quarter of it (at least 1, at
    /// most 1440 events an hour).
    pub rows_per_hour: u32,
    /// Accepted tokens; empty means any non-empty token is accepted.
    pub tokens: Vec<String>,
    /// Artificial service time of every accepted, valid request, held while the token is busy.
    pub latency: Duration,
    /// The API's per-response record limit; longer answers are silently truncated to it.
    pub max_records: usize,
    /// The longest `date_end − date_ini` accepted, in days of 24 hours.
    pub max_window_days: i64,
    /// The operation's zone: the API's dates, and its days for the daily quota, are local to it.
    /// A zone with DST is served as the real API would: no row is dated in a spring-forward gap,
    /// and a fall-back's repeated hour holds both passes' rows under the same local dates (a
    /// per-hour or per-slot report: one row per pass, under the same label, in the order lived).
    pub timezone: chrono_tz::Tz,
    /// `false`: each report's envelope `code` has the type its Postman example shows (`"200"`
    /// for 21 reports, `200` for the rest); `true`: always the number.
    pub code_as_number: bool,
    /// Calls each token may make per local day; `None` means unlimited.
    pub daily_limit: Option<u64>,
    /// What `token_info` answers as `token_limit` when `daily_limit` is unset.
    pub default_token_limit: u64,
    /// Calls made today by the operation's other integrations, on tokens this simulator never
    /// sees: added into `token_info`'s `all_token_today` (the whole operation's count).
    pub other_integration_calls: u64,
    /// `token_info` answers every figure as `" "`, as the Postman example does.
    pub token_info_blank: bool,
    /// Wrong answers and damaged rows to inject; the default injects nothing.
    pub faults: FaultPlan,
    /// Extra characters appended to every chat_14 `media_url` (as a query string), to make
    /// responses as heavy as the API allows (256 MB) for benchmarks; 0 = the normal rows.
    pub pad_bytes: usize,
    /// Whether answers are compressed (see [`Compression`]); negotiated by default.
    pub compression: Compression,
    /// Windows at least this long always fail with this fault kind (`slow` for a timeout,
    /// `truncated_json` for a cut body, `http503`, …): the API's bad day on big windows.
    pub oversize: Option<(chrono::TimeDelta, FaultKind)>,
    /// Local days for which every window inside the day is answered empty (404) although the
    /// day has data: the "0 rows for some, 172,628 for others" day of a real outage.
    pub blank_days: Vec<chrono::NaiveDate>,
    /// Dated aggregates (skill_3, agent_8, …) total only the requested range instead of each
    /// whole day or slot it touches; the docs allow both readings.
    pub range_totals: bool,
    /// Every n-th row of an answer (by position) comes without its first key field, the way a
    /// broken export might send it; 0 = never. Ground truth shows the same rows.
    pub keyless_every: usize,
    /// About one row in n gets `""`, `" "` or `"-"` in one of its text key fields (a call
    /// without an agent); 0 = never. See [`faults::placeholder_keys`].
    pub placeholder_keys_every: usize,
    /// About one row in n carries a NUL character (`\u0000`) inside one of its values; 0 =
    /// never. See [`faults::nul_values`].
    pub nul_every: usize,
    /// About one row in n is sent again at the end of the same answer, same key, one value
    /// changed; 0 = never. See [`faults::duplicate_keys`].
    pub duplicate_keys_every: usize,
    /// Every report request (after the checks) gets an answer far larger than any real one:
    /// a huge value in a row, or a huge error `msg` (see [`HugeAnswer`]); `None` = never.
    pub huge: Option<HugeAnswer>,
}

impl Default for SimulatorConfig {
    /// The real API's documented limits, a Colombian operation and a modest chat volume.
    fn default() -> Self {
        SimulatorConfig {
            seed: 42,
            rows_per_hour: 120,
            tokens: Vec::new(),
            latency: Duration::from_millis(20),
            max_records: 60_000,
            max_window_days: 31,
            timezone: chrono_tz::America::Bogota,
            code_as_number: false,
            daily_limit: None,
            default_token_limit: 1000,
            other_integration_calls: 0,
            token_info_blank: false,
            faults: FaultPlan::default(),
            pad_bytes: 0,
            keyless_every: 0,
            placeholder_keys_every: 0,
            nul_every: 0,
            duplicate_keys_every: 0,
            huge: None,
            range_totals: false,
            blank_days: Vec::new(),
            oversize: None,
            compression: Compression::Negotiate,
        }
    }
}

/// Counters of what the simulator has seen, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every request that reached the report handler, whatever its outcome.
    pub requests: u64,
    /// Requests refused because their token already had a request in flight.
    pub simultaneous_violations: u64,
    /// Rows returned in clean 200 answers (after truncation); answers spoilt by a fault do not
    /// count, a `Slow` one does.
    pub rows_served: u64,
    /// Requests answered with a fault of the [`FaultPlan`] (a `Slow` one included).
    pub faults_injected: u64,
}

/// How many requests [`Simulator::requests`] remembers; the older half is forgotten beyond it.
pub const MAX_LOGGED_REQUESTS: usize = 100_000;

/// One request as it reached the report handler: which report and window a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The `api` parameter (empty when missing).
    pub api: String,
    /// The `date_ini` parameter as sent, `YYYYMMDDHHMMSS`.
    pub date_ini: String,
    /// The `date_end` parameter as sent.
    pub date_end: String,
}

/// A running simulator bound to a local port. Dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    /// Sending (or dropping) this tells the server to stop accepting and wind down.
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Simulator {
    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves until [`Simulator::shutdown`] or drop.
    ///
    /// Must be called inside a Tokio runtime; the server runs as a task on it.
    pub async fn start(config: SimulatorConfig, clock: Clock, addr: SocketAddr) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(server::Shared::new(config, clock));
        let (shutdown, stop) = oneshot::channel::<()>();
        // Connections carry a `Wire` so that a handler can cut its own mid-body (see `wire`).
        let app = server::router(Arc::clone(&shared)).into_make_service_with_connect_info::<wire::Wire>();
        let listener = wire::CuttingListener(listener);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A send and a dropped sender both mean "stop", so the result is irrelevant.
                    let _ = stop.await;
                })
                .await
        });
        tracing::debug!(%addr, "wolkvox simulator listening");
        Ok(Simulator { addr, shared, shutdown: Some(shutdown), task: Some(task) })
    }

    /// The address actually bound (with the real port when started on port 0).
    /// The simulator's "now" in its operation's zone: the instant its answers are computed at.
    pub fn now_local(&self) -> NaiveDateTime {
        self.shared.now_local()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, `http://127.0.0.1:PORT/api/v2/`, with its trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v2/", self.addr)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        SimStats {
            requests: self.shared.requests.load(Ordering::Relaxed),
            simultaneous_violations: self.shared.violations.load(Ordering::Relaxed),
            rows_served: self.shared.rows_served.load(Ordering::Relaxed),
            faults_injected: self.shared.faults_injected.load(Ordering::Relaxed),
        }
    }

    /// From now on, these dimension APIs of `information.php` (`agents`, `skills`, …; one skill's
    /// agents as `agents_in_skill:102`) answer an empty list; an empty slice ends the outage.
    pub fn set_blank_dimensions(&self, apis: &[&str]) {
        *self.shared.blank_dimensions.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            apis.iter().map(|a| (*a).to_owned()).collect();
    }

    /// From now on, windows inside these local days are answered empty (see
    /// [`SimulatorConfig::blank_days`]); an empty list ends the outage.
    pub fn set_blank_days(&self, days: Vec<chrono::NaiveDate>) {
        *self.shared.blank_days.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = days;
    }

    /// The most tokens that ever had a request in flight at the same moment: 2 or more shows
    /// that requests on different tokens overlapped.
    pub fn peak_tokens_in_flight(&self) -> u64 {
        self.shared.peak_tokens_in_flight.load(Ordering::Relaxed)
    }

    /// Requests that reached `information.php?api=token_info`, whatever their outcome (they are
    /// not in [`SimStats::requests`], which counts report requests).
    pub fn token_info_requests(&self) -> u64 {
        self.shared.token_info_requests.load(Ordering::Relaxed)
    }

    /// Calls `token` has made today (the operation's local day), as the daily quota and
    /// `token_info` count them: every accepted request, reports and `token_info` alike.
    pub fn calls_today(&self, token: &str) -> u64 {
        self.shared.count(token).use_today
    }

    /// The requests that reached the report handler, in arrival order (the newest
    /// [`MAX_LOGGED_REQUESTS`] at most).
    pub fn requests(&self) -> Vec<Served> {
        self.shared.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The rows the API would return right now (per the clock) for `[from, to]` inclusive, local
    /// times, with the catalogue's default parameters, without truncation, each row in exactly
    /// the form served (before flattening; aggregates depend on the window), with the fault
    /// plan's row damage when it has any.
    ///
    /// Unknown report names have no rows.
    pub fn ground_truth(&self, api: &str, from: NaiveDateTime, to: NaiveDateTime) -> Vec<Row> {
        let Some(report) = catalog::find(api) else {
            return Vec::new();
        };
        let ask = data::Ask { api, from, to, params: report.params, range_totals: self.shared.config.range_totals };
        served_rows(&self.shared.config, &ask, self.shared.now_timeline(), usize::MAX)
    }

    /// Like [`Simulator::ground_truth`] with the request's extra parameters (`cod_act`,
    /// `agent_id`, …); `ground_truth` uses the catalogue's defaults.
    pub fn ground_truth_with(
        &self,
        api: &str,
        params: &[(&str, &str)],
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Vec<Row> {
        let ask = data::Ask { api, from, to, params, range_totals: self.shared.config.range_totals };
        served_rows(&self.shared.config, &ask, self.shared.now_timeline(), usize::MAX)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "wolkvox simulator server failed"),
                Err(error) => tracing::warn!(%error, "wolkvox simulator task did not finish"),
            }
        }
    }
}

/// The first `limit` rows answering `ask` at timeline time `now` (see [`data::Zone`]), exactly as
/// served: the generated rows with the fault plan's row damage. The one function behind both the
/// server's answers and the ground truth.
fn served_rows(config: &SimulatorConfig, ask: &data::Ask<'_>, now: NaiveDateTime, limit: usize) -> Vec<Row> {
    let zone = data::Zone::new(config.timezone);
    let mut rows = data::rows_for(ask, &zone, config.seed, config.rows_per_hour, now, limit);
    if config.faults.row_faults {
        faults::damage_rows(ask.api, config.faults.seed, &mut rows);
    }
    if let (n @ 1.., Some(key)) = (config.keyless_every, catalog::find(ask.api).and_then(|r| r.key.first())) {
        for row in rows.iter_mut().skip(n - 1).step_by(n) {
            row.remove(*key);
        }
    }
    faults::placeholder_keys(ask.api, config.placeholder_keys_every, &mut rows);
    faults::nul_values(ask.api, config.nul_every, &mut rows);
    faults::duplicate_keys(ask.api, config.duplicate_keys_every, &mut rows);
    // Copies come at the end of the answer, and the answer still stops at the record limit.
    rows.truncate(limit);
    if config.pad_bytes > 0 && ask.api == "chat_14" {
        let pad = format!("?pad={}", "x".repeat(config.pad_bytes));
        for row in &mut rows {
            if let Some(serde_json::Value::String(url)) = row.get_mut("media_url") {
                url.push_str(&pad);
            }
        }
    }
    rows
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // The task keeps running detached, but the signal makes it wind down on its own.
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator").field("addr", &self.addr).field("stats", &self.stats()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn bogota_clock(local: &str) -> Clock {
        Clock::manual(chrono_tz::America::Bogota.from_local_datetime(&at(local)).unwrap().to_utc())
    }

    async fn start(config: SimulatorConfig, clock: Clock) -> Simulator {
        Simulator::start(config, clock, "127.0.0.1:0".parse().unwrap()).await.unwrap()
    }

    #[test]
    fn the_default_config_matches_the_real_api_limits() {
        let c = SimulatorConfig::default();
        assert_eq!(c.seed, 42);
        assert_eq!(c.rows_per_hour, 120);
        assert!(c.tokens.is_empty());
        assert_eq!(c.latency, Duration::from_millis(20));
        assert_eq!(c.max_records, 60_000);
        assert_eq!(c.max_window_days, 31);
        assert_eq!(c.timezone, chrono_tz::America::Bogota);
        assert!(!c.code_as_number);
        assert_eq!(c.daily_limit, None);
        assert_eq!((c.default_token_limit, c.other_integration_calls, c.token_info_blank), (1000, 0, false));
        assert!(!c.faults.draws_requests() && !c.faults.row_faults, "no faults unless asked for");
    }

    #[tokio::test]
    async fn base_url_is_the_bound_loopback_address_with_a_trailing_slash() {
        let sim = start(SimulatorConfig::default(), Clock::system()).await;
        let port = sim.local_addr().port();
        assert_ne!(port, 0);
        assert_eq!(sim.base_url(), format!("http://127.0.0.1:{port}/api/v2/"));
        assert_eq!(sim.stats(), SimStats::default());
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn ground_truth_follows_the_clock_in_the_operations_zone() {
        let clock = bogota_clock("2026-03-10 12:00:00");
        let sim = start(SimulatorConfig { max_records: 5, ..Default::default() }, clock.clone()).await;
        let (from, to) = (at("2026-03-10 11:00:00"), at("2026-03-10 11:59:59"));
        let now = sim.ground_truth("chat_14", from, to);
        assert_eq!(now, data::chat_14_rows(42, 120, from, to, at("2026-03-10 12:00:00")));
        assert!(now.len() > 5, "ground truth is never truncated");
        clock.advance(TimeDelta::hours(4));
        let later = sim.ground_truth("chat_14", from, to);
        assert_eq!(later.len(), 120, "every late row has arrived by now");
        assert!(sim.ground_truth("no_such_api", from, to).is_empty());
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_stops_the_server_and_frees_the_port() {
        let sim = start(SimulatorConfig::default(), Clock::system()).await;
        let addr = sim.local_addr();
        sim.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn dropping_the_simulator_stops_the_server() {
        let sim = start(SimulatorConfig::default(), Clock::system()).await;
        let addr = sim.local_addr();
        drop(sim);
        // The server winds down on its own task, so give it a moment rather than a fixed sleep.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the simulator still accepts connections after being dropped");
    }
}
