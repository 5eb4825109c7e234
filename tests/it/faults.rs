//! Hostile conditions: the database vanishing mid-run, and arbitrary bytes fed to the parsers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::faults::EXTRA_FIELD;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::startup::App;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::{run_once, Faults, JobContext, Range, WindowHook};
use wolkvox_etl::wolkvox::catalog::FieldType;
use wolkvox_etl::wolkvox::{envelope, values};

use crate::support::*;

/// A TCP proxy in front of Postgres that can cut every connection and refuse new ones for a
/// while: what the daemon sees when the server restarts or the network drops.
struct FlakyProxy {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    live: Arc<Mutex<Vec<AbortHandle>>>,
}

impl FlakyProxy {
    async fn start(upstream: SocketAddr) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = FlakyProxy {
            addr: listener.local_addr().unwrap(),
            down: Arc::default(),
            refused: Arc::default(),
            live: Arc::default(),
        };
        let (down, refused, live) = (proxy.down.clone(), proxy.refused.clone(), proxy.live.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    refused.fetch_add(1, Ordering::SeqCst);
                    continue; // dropping the socket refuses the connection
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                live.lock().unwrap().push(task.abort_handle());
            }
        });
        proxy
    }

    /// Cuts every open connection and refuses new ones until `refusals` connections have been
    /// refused, or until `gave_up()`: the outage ends on what the client did, not after a fixed
    /// time, so it spans the same number of reconnection attempts on a fast or a loaded machine.
    async fn outage_until_refused(&self, refusals: u64, gave_up: impl Fn() -> bool) {
        self.down.store(true, Ordering::SeqCst);
        for conn in self.live.lock().unwrap().drain(..) {
            conn.abort();
        }
        // Only a safety net: the client gives up (12 attempts) long before this.
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.refused.load(Ordering::SeqCst) < refusals && !gave_up() {
            assert!(Instant::now() < deadline, "the daemon neither reconnected nor gave up within 120 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn postgres_vanishing_mid_run_is_waited_out_and_no_window_is_lost() {
    let db = TestDb::new(Backend::Postgres).await;
    // The proxy stands between the daemon and whatever server the tests use.
    let admin = url::Url::parse(&admin_url()).unwrap();
    let host_port = format!("{}:{}", admin.host_str().unwrap(), admin.port().unwrap_or(5432));
    let upstream: SocketAddr = tokio::net::lookup_host(&host_port).await.unwrap().next().unwrap();
    let proxy = FlakyProxy::start(upstream).await;
    let via_proxy = db.url.replacen(&host_port, &proxy.addr.to_string(), 1);
    assert_ne!(via_proxy, db.url, "the test database goes through the proxy");

    let clock = Clock::manual(test_now());
    let sim_config = SimulatorConfig { latency: Duration::from_millis(200), ..SimulatorConfig::default() };
    let sim = Simulator::start(sim_config, clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let env = [
        ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".to_string()),
        ("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "12".to_string()),
    ];
    let app = App::build(settings(&sim.base_url(), &via_proxy, &env), clock.clone(), Faults::default()).await.unwrap();

    // Cut the database right after the first window commits, until the daemon has been refused
    // REFUSALS times: well within its 12 attempts, however long each one takes.
    const REFUSALS: u64 = 4;
    let (first_commit, mut committed) = tokio::sync::mpsc::unbounded_channel();
    let ctx = JobContext {
        on_window: WindowHook::new(move |_| {
            let _ = first_commit.send(());
        }),
        ..(*app.ctx).clone()
    };
    let job = app.job("chat_14").unwrap();
    let run = tokio::spawn(async move { run_once(&ctx, &job, Range::Scheduled, &CancellationToken::new()).await });
    committed.recv().await.unwrap();
    proxy.outage_until_refused(REFUSALS, || run.is_finished()).await;
    let outcome = run.await.unwrap();

    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.counts.windows, 3, "every window committed, none lost");
    let refused = proxy.refused.load(Ordering::SeqCst);
    assert!(refused >= REFUSALS, "the daemon did try to reconnect during the outage: {refused} refusals");
    assert!(outcome.counts.retries > 0, "the window in flight during the outage was retried");
    let direct = db.db().await;
    assert_eq!(scalar(&direct, "SELECT count(*) FROM etl_watermark").await, 1);
    // Read back through the proxy, which is up again: exactly the simulator's rows, by key and value.
    let t = TestApp { test_db: db, sim, clock, app };
    let wm = t.watermark().await.unwrap();
    assert_eq!(wm, local("2026-11-20 09:58:00"));
    assert_same_rows(&t.chat_14_rows().await, &t.truth(local("2026-11-18 00:00:00"), wm));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn the_envelope_decoder_never_panics_on_any_bytes(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = envelope::decode(status, &body);
    }

    #[test]
    fn the_envelope_decoder_never_panics_on_json_shaped_input(
        status in prop_oneof![Just(200u16), Just(403u16), Just(404u16), Just(500u16)],
        code in prop_oneof![Just("200".to_string()), Just(r#""200""#.to_string()), Just("null".to_string()), "-?[0-9]{1,6}", r#""[A-Z ]{0,12}""#],
        data in prop_oneof![Just("[]".to_string()), Just("null".to_string()), Just("{}".to_string()), Just("[1]".to_string()), r#"\[\{"[a-z ]{1,5}":"[a-z0-9 :-]{0,19}"\}\]"#],
    ) {
        let body = format!(r#"{{"code":{code},"error":null,"msg":"x","data":{data}}}"#);
        let _ = envelope::decode(status, body.as_bytes());
    }

    #[test]
    fn value_parsers_never_panic_and_never_fail_a_placeholder(text in ".{0,40}") {
        for ty in [FieldType::Text, FieldType::Timestamp] {
            let parsed = values::parse(Some(&serde_json::Value::String(text.clone())), ty, chrono_tz::America::Bogota);
            if matches!(text.trim(), "" | "-" | "--") {
                prop_assert!(!parsed.failed && parsed.value.is_null());
            }
        }
    }
}

/// The daemon against one injected fault kind at a time: every transient kind is retried until
/// the window commits, and the table still matches ground truth exactly.
#[tokio::test]
async fn every_transient_fault_kind_is_retried_and_the_table_still_matches_ground_truth() {
    use wolkvox_etl::simulator::{FaultKind, FaultPlan};
    // A `Slow` answer stalls STALL while the client gives up after TIMEOUT, and the stalled
    // request keeps the server's slot until the stall ends, so the retry must come later than
    // that. Both races have a second of margin (several times what a loaded machine needs): the
    // stall outlasts the timeout by 1 s, and the shortest backoff (half of BACKOFF, jitter
    // included; the cap keeps later ones in the same range) ends 1 s after the stall.
    const TIMEOUT: Duration = Duration::from_secs(1);
    const STALL: Duration = Duration::from_secs(2);
    const BACKOFF: Duration = Duration::from_secs(4);
    for kind in FaultKind::TRANSIENT.iter().copied() {
        let mut env = vec![
            ("WOLKVOX_ETL__SYNC__START_FROM", "2026-11-19".to_string()),
            ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".into()),
            ("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "12".into()),
        ];
        // Seed 7 answers the 20th's window with six faults in a row (the backoff doubles five
        // times); seed 8 the 19th's with two, enough for a stall that costs seconds each time.
        // Only `Slow` needs a short timeout; the other kinds keep the default, so that no
        // healthy answer on a busy machine times out and is retried into a still-busy slot.
        let seed = if kind == FaultKind::Slow {
            env.extend([
                ("WOLKVOX_ETL__WOLKVOX__REQUEST_TIMEOUT_SECONDS", TIMEOUT.as_secs().to_string()),
                ("WOLKVOX_ETL__WOLKVOX__RETRY_INITIAL_BACKOFF_MS", BACKOFF.as_millis().to_string()),
                ("WOLKVOX_ETL__WOLKVOX__RETRY_MAX_BACKOFF_SECONDS", BACKOFF.as_secs().to_string()),
            ]);
            8
        } else {
            7
        };
        let plan = FaultPlan { rate: 0.5, kinds: vec![kind], seed, slow: STALL, row_faults: false };
        let options = Options {
            sim: SimulatorConfig { faults: plan, latency: Duration::from_millis(1), ..SimulatorConfig::default() },
            env,
            ..Options::default()
        };
        let t = spawn_app(Backend::Sqlite, options).await;
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{kind:?}: {:?}", outcome.error);
        let stats = t.sim.stats();
        let faults = if kind == FaultKind::Slow { 2 } else { 6 };
        assert_eq!(stats.faults_injected, faults, "{kind:?} was injected");
        // Two one-day windows (the 19th, the 20th up to 09:58), each request either a fault
        // (retried once) or the answer that commits.
        assert_eq!(u64::from(outcome.counts.retries), faults, "{kind:?}: every fault was retried, once");
        assert_eq!(outcome.counts.windows, 2, "{kind:?}");
        assert_eq!(outcome.counts.requests, outcome.counts.windows + outcome.counts.retries, "{kind:?}");
        assert_eq!(stats.requests, u64::from(outcome.counts.requests), "{kind:?}");
        assert_eq!(stats.simultaneous_violations, 0, "{kind:?}");
        let wm = t.watermark().await.unwrap();
        assert_eq!(wm, local("2026-11-20 09:58:00"), "{kind:?}");
        assert_same_rows(&t.chat_14_rows().await, &t.truth(local("2026-11-19 00:00:00"), wm));
        let recorded = t.scalar("SELECT sum(retries) FROM etl_run").await;
        assert_eq!(recorded, i64::from(outcome.counts.retries), "{kind:?}: retries are in the run history");
    }
}

#[tokio::test]
async fn permanent_faults_fail_the_run_at_once_without_retrying() {
    use wolkvox_etl::simulator::{FaultKind, FaultPlan};
    for kind in [FaultKind::InvalidToken, FaultKind::TokenLimit] {
        let plan = FaultPlan { rate: 1.0, kinds: vec![kind], seed: 1, ..FaultPlan::default() };
        let options =
            Options { sim: SimulatorConfig { faults: plan, ..SimulatorConfig::default() }, ..Options::default() };
        let t = spawn_app(Backend::Sqlite, options).await;
        let outcome = t.sync(Range::Scheduled).await;
        // The daily limit is a pause (recorded, no error); an invalid token is a failure.
        let (status, recorded) = match kind {
            FaultKind::TokenLimit => (RunStatus::Paused, ("paused".to_string(), None)),
            _ => (RunStatus::Failed, ("failed".to_string(), Some("invalid_token".to_string()))),
        };
        assert_eq!(outcome.status, status, "{kind:?}");
        assert_eq!(outcome.counts.requests, 1, "{kind:?} is not retried");
        assert_eq!(t.watermark().await, None);
        assert_eq!(t.last_run().await, recorded, "{kind:?}");
    }
}

#[tokio::test]
async fn damaged_rows_are_stored_with_nulls_and_their_originals_in_raw() {
    use wolkvox_etl::simulator::FaultPlan;
    let plan = FaultPlan { row_faults: true, seed: 3, ..FaultPlan::default() };
    let options = Options { sim: SimulatorConfig { faults: plan, ..SimulatorConfig::default() }, ..Options::default() };
    let t = spawn_app(Backend::Postgres, options).await;
    for api in ["chat_14", "cdr_1", "agent_1"] {
        let job = t.app.job(api).unwrap();
        let outcome = t.sync_job(&job, Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{api}: {:?}", outcome.error);
        assert_eq!(outcome.counts.rows_rejected, 0, "keys are never damaged, so no row is lost");
    }
    // Every damaged row is there, exactly as sent (extra field included).
    let wm = t.watermark().await.unwrap();
    assert_same_rows(&t.chat_14_rows().await, &t.truth(local("2026-11-18 00:00:00"), wm));
    // What the simulator served: cdr_1 in one window up to the watermark; agent_1, an
    // aggregate, one window per local day. Its damage is in the ground truth too.
    let until = wm - chrono::Duration::seconds(1);
    let days = [
        (local("2026-11-18 00:00:00"), local("2026-11-18 23:59:59")),
        (local("2026-11-19 00:00:00"), local("2026-11-19 23:59:59")),
        (local("2026-11-20 00:00:00"), until),
    ];
    let served = [
        ("cdr_1", t.sim.ground_truth("cdr_1", local("2026-11-18 00:00:00"), until)),
        ("agent_1", days.iter().flat_map(|(from, to)| t.sim.ground_truth("agent_1", *from, *to)).collect()),
    ];
    let extra = t.scalar(&format!("SELECT count(*) FROM cdr_1 WHERE raw ? '{EXTRA_FIELD}'")).await;
    let extra_served = served[0].1.iter().filter(|row| row.contains_key(EXTRA_FIELD)).count();
    assert_eq!(extra as usize, extra_served, "rows with an unknown field are kept, the field in raw");
    assert!(extra > 0, "the simulator did add unknown fields");
    // A malformed value is NULL in its typed column, its original text in raw.
    const MARKERS: [&str; 6] = ["abc", "n/a %", "maybe", "2026-13-45 99:00:00", "2026-13-45", "99:99"];
    let markers = MARKERS.map(|m| format!("'{m}'")).join(", ");
    let mut malformed = 0;
    for (api, rows) in &served {
        let report = wolkvox_etl::wolkvox::catalog::find(api).unwrap();
        for field in report.api_fields().filter(|f| f.ty != wolkvox_etl::wolkvox::catalog::FieldType::Text) {
            let col = wolkvox_etl::store::schema::quote_ident(field.name);
            let bad = format!("SELECT count(*) FROM {api} WHERE raw->>'{}' IN ({markers})", field.name);
            let bad_and_null = format!("{bad} AND {col} IS NULL");
            let n = t.scalar(&bad).await;
            let sent = rows
                .iter()
                .filter(|row| row.get(field.name).and_then(|v| v.as_str()).is_some_and(|v| MARKERS.contains(&v)));
            assert_eq!(n as usize, sent.count(), "{api}.{}: every malformed value sent is stored", field.name);
            assert_eq!(t.scalar(&bad_and_null).await, n, "{api}.{} keeps malformed values out", field.name);
            malformed += n;
        }
    }
    assert!(malformed > 0, "the simulator did damage some typed values");
}
