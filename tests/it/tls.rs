//! `wolkvox.ca_file`: the API behind a TLS server whose certificate a private CA signed (as a
//! corporate TLS-inspecting proxy's is) is refused with the built-in roots alone and reached once
//! the CA's file is configured.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::startup::App;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::{run_once, Faults, Range, SyncError};
use wolkvox_etl::wolkvox::ApiError;

use crate::support::*;

/// A CA made for the test, and a certificate for 127.0.0.1 it signed, with its key.
struct TestPki {
    ca_pem: String,
    server_cert: rustls::pki_types::CertificateDer<'static>,
    server_key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn test_pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "wolkvox-etl test proxy CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server_cert: server_cert.der().clone(),
        server_key: rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    }
}

/// Why handshakes with the front failed, as the server saw them.
type Refusals = Arc<Mutex<Vec<String>>>;

/// An HTTPS front for `target` (the simulator's plain-http port), the way a TLS-inspecting
/// proxy sits between the daemon and the API: TLS in, the same bytes out.
async fn tls_front(target: SocketAddr, pki: &TestPki) -> (SocketAddr, Refusals) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let refusals = Refusals::default();
    let seen = Arc::clone(&refusals);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake with an alert.
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => return seen.lock().unwrap().push(e.to_string()),
                };
                let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (addr, refusals)
}

#[tokio::test]
async fn an_api_behind_a_private_ca_is_refused_without_ca_file_and_synced_with_it() {
    let pki = test_pki();
    let test_db = TestDb::new(wolkvox_etl::store::Backend::Postgres).await;
    let clock = Clock::manual(test_now());
    let config = SimulatorConfig { latency: std::time::Duration::from_millis(1), ..SimulatorConfig::default() };
    let sim = Simulator::start(config, clock.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (front, refusals) = tls_front(sim.local_addr(), &pki).await;
    let url = format!("https://{front}/api/v2/");
    let dir = std::env::temp_dir().join(format!("wolkvox-etl-tls-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("proxy-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();

    // The built-in roots alone: the handshake fails, no request reaches the API.
    let one_attempt = ("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "1".to_string());
    let without =
        App::build(settings(&url, &test_db.url, std::slice::from_ref(&one_attempt)), clock.clone(), Faults::default())
            .await
            .unwrap();
    let job = without.job("chat_14").unwrap();
    let refused = run_once(&without.ctx, &job, Range::Scheduled, &Default::default()).await;
    assert_eq!(refused.status, RunStatus::Failed);
    // A refused handshake is a connection that could not be made: retried, never split.
    assert!(matches!(refused.error, Some(SyncError::Api(ApiError::Connect(_)))), "{:?}", refused.error);
    let seen = refusals.lock().unwrap().clone();
    // Every attempt ended at the handshake.
    assert!(!seen.is_empty() && seen.iter().all(|e| e.contains("UnknownCA")), "the client refused: {seen:?}");
    assert_eq!(sim.stats().requests, 0, "nothing reached the API");

    // With the CA's file: the same server is trusted and the report syncs.
    let with_ca = ("WOLKVOX_ETL__WOLKVOX__CA_FILE", ca_file.display().to_string());
    let with = App::build(settings(&url, &test_db.url, &[one_attempt, with_ca]), clock.clone(), Faults::default())
        .await
        .unwrap();
    let job = with.job("chat_14").unwrap();
    let outcome = run_once(&with.ctx, &job, Range::Scheduled, &Default::default()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(sim.stats().requests > 0);
    assert!(outcome.counts.rows_upserted > 0, "{:?}", outcome.counts);
    assert_eq!(refusals.lock().unwrap().len(), seen.len(), "no handshake refused with the CA trusted");
    std::fs::remove_dir_all(&dir).unwrap();
}
