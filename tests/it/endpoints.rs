//! The metrics/health server defends itself: `/readyz` scrapes share one database ping per
//! cache period, and a client that never sends its headers is disconnected.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wolkvox_etl::health::DB_PING_CACHE;
use wolkvox_etl::http::HEADER_READ_TIMEOUT;
use wolkvox_etl::store::Backend;

use crate::support::*;
#[tokio::test]
async fn many_concurrent_readyz_requests_send_at_most_one_database_ping_per_cache_period() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    t.app.ctx.health.set_scheduler_running(true);
    let (addr, shutdown) = serve_metrics(&t).await;
    let health = &t.app.ctx.health;
    let before = health.database_pings();
    let started = Instant::now();
    let client = reqwest::Client::new();
    let requests = (0..60).map(|_| {
        let (client, url) = (client.clone(), format!("http://{addr}/readyz"));
        tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
    });
    for code in join_all(requests).await {
        assert_eq!(code, 200);
    }
    assert!(started.elapsed() < DB_PING_CACHE, "the burst must fit in one period to count");
    assert_eq!(health.database_pings() - before, 1, "60 scrapes, one ping");

    tokio::time::sleep(DB_PING_CACHE).await;
    assert_eq!(client.get(format!("http://{addr}/readyz")).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(health.database_pings() - before, 2, "a new period, a new ping");
    shutdown.cancel();
}

/// Awaits every task, in order.
async fn join_all<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_connection_that_never_sends_its_headers_is_closed_after_the_header_timeout() {
    let t = spawn_app(Backend::Sqlite, Options::default()).await;
    let (addr, shutdown) = serve_metrics(&t).await;
    for partial in [&b""[..], b"GET /metrics HTTP/1.1\r\nHost: x\r\n"] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(partial).await.unwrap();
        let opened = Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(HEADER_READ_TIMEOUT * 3, stream.read_to_end(&mut buf)).await;
        let waited = opened.elapsed();
        assert!(read.is_ok(), "still open after {waited:?} ({partial:?})");
        assert!(waited >= HEADER_READ_TIMEOUT - Duration::from_millis(200), "closed too early: {waited:?}");
    }
    // The server still answers others.
    assert_eq!(reqwest::get(format!("http://{addr}/healthz")).await.unwrap().status().as_u16(), 200);
    shutdown.cancel();
}
