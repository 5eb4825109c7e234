//! Hostile conditions: the database vanishing mid-run, and arbitrary bytes fed to the parsers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::startup::App;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::{run_once, Faults, JobContext, Range, WindowHook};
use wolkvox_etl::wolkvox::catalog::FieldType;
use wolkvox_etl::wolkvox::{envelope, values};

use crate::helpers::*;

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

    /// Cuts every open connection and refuses new ones for `outage`.
    async fn outage(&self, outage: Duration) {
        self.down.store(true, Ordering::SeqCst);
        for conn in self.live.lock().unwrap().drain(..) {
            conn.abort();
        }
        tokio::time::sleep(outage).await;
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn postgres_vanishing_mid_run_is_waited_out_and_no_window_is_lost() {
    let db = TestDb::new(Backend::Postgres).await;
    let upstream: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    if !admin_url().contains("127.0.0.1:5432") {
        eprintln!("SKIPPED: the proxy test expects the server at 127.0.0.1:5432");
        return;
    }
    let proxy = FlakyProxy::start(upstream).await;
    let via_proxy = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());

    let clock = Clock::manual(test_now());
    let sim_config = SimulatorConfig { latency: Duration::from_millis(200), ..SimulatorConfig::default() };
    let sim = Simulator::start(sim_config, clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let env = [
        ("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".to_string()),
        ("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "12".to_string()),
    ];
    let app = App::build(settings(&sim.base_url(), &via_proxy, &env), clock, Faults::default()).await.unwrap();

    // Cut the database right after the first window commits, for three seconds.
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
    proxy.outage(Duration::from_secs(3)).await;
    let outcome = run.await.unwrap();

    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.windows, 3, "every window committed, none lost");
    assert!(proxy.refused.load(Ordering::SeqCst) > 0, "the daemon did try to reconnect during the outage");
    let direct = db.db().await;
    assert_eq!(scalar(&direct, "SELECT count(*) FROM etl_watermark").await, 1);
    let rows = scalar(&direct, "SELECT count(*) FROM chat_14").await;
    let truth = sim.ground_truth("chat_14", local("2026-11-18 00:00:00"), local("2026-11-20 09:57:59")).len();
    assert_eq!(rows as usize, truth);
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
