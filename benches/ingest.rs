//! The ingestion benchmark: `cargo bench --bench ingest` (PostgreSQL at BENCH_DATABASE_URL or
//! TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
//!
//! Measured the way `shared/PEERS.md` measures the alternatives, so the figures compare:
//! - **end to end**: a new `wolkvox-etl sync` process fetches one ~60,000-row chat_14 page from a
//!   loopback server that serves pre-rendered bytes, parses, upserts keyed on (chat_id, date)
//!   and commits. Fresh insert into an empty table, and a re-read of the unchanged page;
//! - **COPY**: the same rows as CSV, loaded by plain `COPY` into an identical table with the
//!   same primary key, in the same run: the physical reference, and our ratio to it;
//! - **in-process writes** of the same typed rows: COPY (what new keys take), the UNNEST upsert
//!   (what changed rows take) and COPY-staging + upsert (the alternative), to justify the choice;
//! - **SQLite** (the embedded default): fresh and re-read through the binary into a database file,
//!   beside the `sqlite3` shell's `.import` of the same CSV into an identical table (one
//!   transaction, WAL, synchronous=NORMAL, as the daemon opens it);
//! - **bloat**: the table's size and dead tuples before and after `BENCH_REREADS` (default 100)
//!   re-reads of the same window;
//! - **peak RSS** of the process while it ingests one ~250 MB response;
//! - a **1,000,000-row backfill**: 17 daily windows of about 60,000 rows in one process, its
//!   rows/s beside one page's, and its peak RSS;
//! - **idle RSS** of the daemon with the default reports scheduled.
//!
//! Medians of `BENCH_RUNS` (default 5) interleaved runs.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;
use chrono::{NaiveDateTime, Utc};
use sqlx::postgres::PgPoolCopyExt;
use sqlx::{Connection, PgConnection, PgPool};
use wolkvox_etl::clock::Clock;
use wolkvox_etl::simulator::{Simulator, SimulatorConfig};
use wolkvox_etl::wolkvox::Row;

const BIN: &str = env!("CARGO_BIN_EXE_wolkvox-etl");
/// 2,500 chats/h over 23 h 59 min: 59,958 rows, just under the 60,000 that would read as cut off.
const ROWS_PER_HOUR: u32 = 2_500;
const DAY: &str = "2026-11-18";
const PAGE_FROM: &str = "2026-11-18 00:00:00";
const PAGE_TO: &str = "2026-11-18 23:59:00";
/// Days of the backfill: 17 × 59,958 = 1,019,286 rows.
const BACKFILL_DAYS: i64 = 17;
/// media_url padding that makes the heavy page about 250 MB (the API's cap is 256 MB).
const HEAVY_PAD: usize = 3_900;

/// A pool whose connections look in the daemon's schema, as the daemon's do.
async fn schema_pool(url: &str) -> PgPool {
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", wolkvox_etl::store::DEFAULT_SCHEMA)]);
    PgPool::connect_with(options).await.unwrap()
}

fn admin_url() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("a local datetime")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// The envelope the API would send for the page, rendered once.
async fn page(pad: usize) -> (Vec<u8>, Vec<Row>) {
    page_between(pad, local(PAGE_FROM), local(PAGE_TO)).await
}

/// The envelope of chat_14's rows from `from` until `to`.
async fn page_between(pad: usize, from: NaiveDateTime, to: NaiveDateTime) -> (Vec<u8>, Vec<Row>) {
    let config = SimulatorConfig { rows_per_hour: ROWS_PER_HOUR, pad_bytes: pad, ..SimulatorConfig::default() };
    let sim = Simulator::start(config, Clock::manual(Utc::now()), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let rows = sim.ground_truth("chat_14", from, to - chrono::Duration::seconds(1));
    let body = serde_json::to_vec(&serde_json::json!({
        "code": "200", "error": null, "msg": format!("{} records were found", rows.len()), "data": rows,
    }))
    .unwrap();
    sim.shutdown().await;
    (body, rows)
}

/// A loopback server answering every request with `body`: "bytes from a file", like PEERS.md.
async fn serve_bytes(body: Vec<u8>) -> SocketAddr {
    let body = bytes::Bytes::from(body);
    let app = axum::Router::new().fallback(get(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The link the compressed-answer comparison runs over: 50 Mbit/s.
const LINK_BITS_PER_SECOND: f64 = 50e6;

/// A loopback server answering every request with `body` (and `Content-Encoding: encoding`),
/// sent no faster than [`LINK_BITS_PER_SECOND`]: a small rate-limited link, without touching
/// the machine's network.
async fn serve_throttled(body: Vec<u8>, encoding: Option<&'static str>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = std::sync::Arc::new(body);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let encoding = encoding.map(|e| format!("content-encoding: {e}\r\n")).unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{encoding}content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let started = Instant::now();
                for (i, chunk) in body.chunks(16 * 1024).enumerate() {
                    let due = ((i + 1) * 16 * 1024 * 8) as f64 / LINK_BITS_PER_SECOND;
                    let wait = due - started.elapsed().as_secs_f64();
                    if wait > 0.0 {
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    }
                    if socket.write_all(chunk).await.is_err() {
                        return;
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

/// The page's fresh load over a 50 Mbit/s link, answered as plain JSON and as gzip and zstd:
/// the bytes each way and the medians of `runs` loads.
async fn compressed_over_a_slow_link(body: &[u8], db_url: &str, pool: &PgPool, runs: usize) -> Vec<(String, String)> {
    use async_compression::tokio::bufread::{GzipEncoder, ZstdEncoder};
    use tokio::io::AsyncReadExt;
    let mut gzip = Vec::new();
    GzipEncoder::new(body).read_to_end(&mut gzip).await.unwrap();
    let mut zstd = Vec::new();
    ZstdEncoder::new(body).read_to_end(&mut zstd).await.unwrap();
    let mut rows = Vec::new();
    let mut plain_seconds = 0.0;
    for (name, encoding, bytes) in
        [("plain JSON", None, body.to_vec()), ("gzip", Some("gzip"), gzip), ("zstd", Some("zstd"), zstd)]
    {
        let wire = bytes.len();
        let addr = serve_throttled(bytes, encoding).await;
        let mut times = Vec::new();
        for _ in 0..runs.min(3) {
            reset(pool).await;
            times.push(sync_once(addr, db_url).seconds);
        }
        let seconds = median(times);
        if encoding.is_none() {
            plain_seconds = seconds;
        }
        rows.push((
            format!("over a 50 Mbit/s link, {name}: bytes on the wire / fresh load"),
            format!(
                "{:>9.2} MB ({:.1}x smaller), {seconds:.2} s ({:.1}x faster)",
                wire as f64 / 1e6,
                body.len() as f64 / wire as f64,
                plain_seconds / seconds
            ),
        ));
    }
    rows
}

/// A loopback server answering each request with the page of the day its `date_ini` names
/// (`YYYYMMDD…`), pre-rendered: the backfill's server.
async fn serve_days(pages: std::collections::HashMap<String, bytes::Bytes>) -> SocketAddr {
    use axum::extract::Query;
    let pages = std::sync::Arc::new(pages);
    let app = axum::Router::new().fallback(get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
        let pages = pages.clone();
        async move {
            let day = q.get("date_ini").map(|d| d.chars().take(8).collect::<String>()).unwrap_or_default();
            let body = pages.get(&day).cloned().expect("a page for every day of the backfill");
            ([("content-type", "application/json")], body)
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

struct Run {
    seconds: f64,
    peak_rss_kib: u64,
}

/// Runs the release binary's `sync` for the page; returns wall time and peak RSS (VmHWM).
fn sync_once(addr: SocketAddr, db_url: &str) -> Run {
    sync_range(addr, db_url, DAY, &PAGE_TO.replace(' ', "T"), &[])
}

/// Runs the release binary's `sync` of chat_14 from `from` to `to`, with `env` set too.
fn sync_range(addr: SocketAddr, db_url: &str, from: &str, to: &str, env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", format!("http://{addr}/api/v2/"))
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", "bench")
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(["sync", "--report", "chat_14", "--from", from, "--to", to])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let mut peak = 0;
    loop {
        if let Some(kib) = proc_status_kib(child.id(), "VmHWM:") {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "sync failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Run { seconds: started.elapsed().as_secs_f64(), peak_rss_kib: peak }
}

/// `wolkvox-etl migrate` against `db_url`.
fn migrate(db_url: &str) {
    let status = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .arg("migrate")
        .stdout(Stdio::null())
        .status()
        .expect("start the binary");
    assert!(status.success(), "migrate failed");
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn reset(pool: &PgPool) {
    sqlx::query("TRUNCATE chat_14, etl_watermark, etl_run, etl_token_usage").execute(pool).await.unwrap();
}

/// CSV of the rows in chat_14's column order, as the COPY reference loads them.
fn csv(rows: &[Row]) -> Vec<u8> {
    let report = wolkvox_etl::wolkvox::catalog::chat_14();
    let tz = chrono_tz::America::Bogota;
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = Vec::with_capacity(rows.len() * 400);
    for row in rows {
        let mut fields = vec!["default".to_string()];
        for f in report.fields {
            let text = row.get(f.name).and_then(|v| v.as_str()).unwrap_or("");
            fields.push(match f.name {
                "date" => {
                    let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
                    wolkvox_etl::time::local_to_utc(tz, t).to_rfc3339()
                }
                _ if text.is_empty() => String::new(),
                _ => quote(text),
            });
        }
        let raw = serde_json::Value::Object(row.clone()).to_string();
        fields.push(quote(&raw));
        fields.push(wolkvox_etl::store::rows::raw_hash(&raw).to_string());
        fields.push(Utc::now().to_rfc3339());
        out.extend_from_slice(fields.join(",").as_bytes());
        out.push(b'\n');
    }
    out
}

/// `sqlite3 FILE` with `script` on stdin (the shell the sqlite3 package installs); its wall time.
fn sqlite_shell(file: &std::path::Path, script: &str) -> f64 {
    let started = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the sqlite3 shell (apt-get install sqlite3)");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "sqlite3 failed");
    started.elapsed().as_secs_f64()
}

/// SQLite's own fastest load of the rows: `.import` of the CSV into a fresh table of the same
/// shape as ours (primary key included), in one transaction, WAL and synchronous=NORMAL.
fn sqlite_import_once(dir: &std::path::Path, csv_file: &std::path::Path) -> f64 {
    let file = dir.join("import.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let report = wolkvox_etl::wolkvox::catalog::chat_14();
    let create = wolkvox_etl::store::schema::create_table_sql(wolkvox_etl::store::Backend::Sqlite, report);
    sqlite_shell(&file, &format!("PRAGMA journal_mode=WAL;\n{create};\n"));
    sqlite_shell(
        &file,
        &format!(
            "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\nBEGIN;\n.import --csv {} chat_14\nCOMMIT;\n",
            csv_file.display()
        ),
    )
}

/// Size in bytes of the chat_14 table with its indexes, and its dead tuples, as the server's
/// statistics say a second after the last write.
async fn bloat(pool: &PgPool) -> (i64, i64) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    sqlx::query_as(
        "SELECT pg_total_relation_size('chat_14'), coalesce((SELECT n_dead_tup FROM pg_stat_user_tables
         WHERE relid = 'chat_14'::regclass), 0)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn copy_once(pool: &PgPool, data: &[u8]) -> f64 {
    sqlx::query("TRUNCATE chat_14_copy").execute(pool).await.unwrap();
    let started = Instant::now();
    let mut copy = pool.copy_in_raw("COPY chat_14_copy FROM STDIN (FORMAT csv)").await.unwrap();
    copy.send(data).await.unwrap();
    copy.finish().await.unwrap();
    started.elapsed().as_secs_f64()
}

/// The alternative upsert: COPY into a temporary staging table, then one INSERT … SELECT …
/// ON CONFLICT. Same rows, same target shape, fresh table.
async fn staging_once(pool: &PgPool, data: &[u8]) -> f64 {
    sqlx::query("TRUNCATE chat_14_copy").execute(pool).await.unwrap();
    let started = Instant::now();
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("CREATE TEMP TABLE stage (LIKE chat_14_copy) ON COMMIT DROP").execute(&mut *tx).await.unwrap();
    let mut copy = tx.copy_in_raw("COPY stage FROM STDIN (FORMAT csv)").await.unwrap();
    copy.send(data).await.unwrap();
    copy.finish().await.unwrap();
    sqlx::query(
        "INSERT INTO chat_14_copy SELECT * FROM stage ON CONFLICT (account, chat_id, date) DO UPDATE SET
         raw = excluded.raw, synced_at = excluded.synced_at WHERE chat_14_copy.raw IS DISTINCT FROM excluded.raw",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    started.elapsed().as_secs_f64()
}

/// Our writes, in-process: the same rows, typed, through `Tx::insert_new` (COPY per batch of
/// 5,000, what new keys take) or `Tx::upsert` (one UNNEST statement per batch, what changed rows
/// take), fresh table — to compare with the staging alternative on equal terms.
async fn write_once(db: &wolkvox_etl::store::Db, pool: &PgPool, rows: &[Row], copy: bool) -> f64 {
    use wolkvox_etl::store::rows::{raw_hash, TypedRow};
    let report = wolkvox_etl::wolkvox::catalog::chat_14();
    let tz = chrono_tz::America::Bogota;
    let typed: Vec<TypedRow> = rows
        .iter()
        .map(|row| {
            let values = report
                .fields
                .iter()
                .map(|f| wolkvox_etl::wolkvox::values::parse(row.get(f.name), f.ty, tz).value)
                .collect();
            let raw = serde_json::Value::Object(row.clone()).to_string();
            TypedRow { values, raw_hash: raw_hash(&raw), raw }
        })
        .collect();
    sqlx::query("TRUNCATE chat_14").execute(pool).await.unwrap();
    let started = Instant::now();
    let mut tx = db.begin().await.unwrap();
    for batch in typed.chunks(5_000) {
        if copy {
            tx.insert_new(report, "default", batch).await.unwrap();
        } else {
            tx.upsert(report, "default", batch).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    started.elapsed().as_secs_f64()
}

/// Idle RSS of `run` with the default reports, after its first pass has finished.
async fn idle_rss(db_url: &str) -> u64 {
    let config = SimulatorConfig { latency: Duration::from_millis(1), ..SimulatorConfig::default() };
    let sim = Simulator::start(config, Clock::system(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let pool = schema_pool(db_url).await;
    let mut child = Command::new(BIN)
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", "bench")
        .env("DATABASE_URL", db_url)
        .env("WOLKVOX_ETL__SYNC__INITIAL_DAYS", "1")
        .env("WOLKVOX_ETL__HTTP__BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let defaults = wolkvox_etl::config::Settings::load_with_env(None, Default::default()).unwrap().reports.len() as i64;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM etl_run").fetch_one(&pool).await.unwrap_or(0);
        if n >= defaults {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = proc_status_kib(child.id(), "VmRSS:").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    rss
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = proc_meminfo_gib();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores ({cpu}), {mem:.0} GiB")
}

fn proc_meminfo_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let admin = admin_url();
    let name = format!("wolkvox_bench_{:08x}", fastrand::u32(..));
    let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL for the benchmark");
    sqlx::query(wolkvox_etl::store::sql::built(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    let db_url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let pool = schema_pool(&db_url).await;
    let pg_version: String = sqlx::query_scalar("SHOW server_version").fetch_one(&pool).await.unwrap();

    println!("wolkvox-etl ingestion benchmark — {} — PostgreSQL {pg_version}", machine());
    let (body, rows) = page(0).await;
    let n = rows.len();
    println!("page: {n} chat_14 rows, {:.1} MB of JSON; {runs} interleaved runs, medians", body.len() as f64 / 1e6);
    let page_body = body.clone();
    let addr = serve_bytes(body).await;

    // Creates the schema (migrations + the report table) and warms the server up once.
    reset_or_create(&db_url, addr, &pool).await;
    sqlx::query("CREATE TABLE chat_14_copy (LIKE chat_14 INCLUDING ALL)").execute(&pool).await.unwrap();
    let data = csv(&rows);

    let db = wolkvox_etl::store::Db::Postgres(pool.clone());
    let (mut fresh, mut reread, mut copy, mut staging, mut page_peak) = (vec![], vec![], vec![], vec![], 0);
    let (mut unnest, mut copy_new) = (vec![], vec![]);
    for _ in 0..runs {
        unnest.push(write_once(&db, &pool, &rows, false).await);
        copy_new.push(write_once(&db, &pool, &rows, true).await);
        reset(&pool).await;
        let r = sync_once(addr, &db_url);
        fresh.push(r.seconds);
        page_peak = page_peak.max(r.peak_rss_kib);
        reread.push(sync_once(addr, &db_url).seconds);
        copy.push(copy_once(&pool, &data).await);
        staging.push(staging_once(&pool, &data).await);
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_14").fetch_one(&pool).await.unwrap();
    assert_eq!(stored as usize, n, "every row landed");

    // No bloat: re-reads of the unchanged window write nothing.
    let rereads: usize = std::env::var("BENCH_REREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let before = bloat(&pool).await;
    for _ in 0..rereads {
        sync_once(addr, &db_url);
    }
    let after = bloat(&pool).await;

    // SQLite, the embedded default, beside its own shell's import of the same rows.
    let dir = std::env::temp_dir().join(format!("wolkvox_bench_{:08x}", fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let csv_file = dir.join("rows.csv");
    std::fs::write(&csv_file, &data).unwrap();
    let (mut lite_fresh, mut lite_reread, mut lite_import) = (vec![], vec![], vec![]);
    for run in 0..runs {
        let file = dir.join(format!("etl-{run}.db"));
        let url = format!("sqlite://{}", file.display());
        // Into the empty table, as on PostgreSQL (whose fresh run follows a TRUNCATE): the
        // database file and its schema are made first, untimed, as `.import`'s table is.
        migrate(&url);
        lite_fresh.push(sync_once(addr, &url).seconds);
        lite_reread.push(sync_once(addr, &url).seconds);
        lite_import.push(sqlite_import_once(&dir, &csv_file));
    }
    let _ = std::fs::remove_dir_all(&dir);

    // The heavy page: about 250 MB, still under 60,000 rows.
    let (heavy, heavy_rows) = page(HEAVY_PAD).await;
    let heavy_mb = heavy.len() as f64 / 1e6;
    let heavy_addr = serve_bytes(heavy).await;
    reset(&pool).await;
    let heavy_run = sync_once(heavy_addr, &db_url);
    let heavy_stored: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_14").fetch_one(&pool).await.unwrap();
    assert_eq!(heavy_stored as usize, heavy_rows.len(), "every heavy row landed");

    // A backfill of 1,000,000 rows: 17 days of about 60,000 rows, one request (window) a day,
    // in one process, beside the single page's rate and peak RSS.
    let first = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let mut pages = std::collections::HashMap::new();
    let mut backfill_rows = 0;
    for d in 0..BACKFILL_DAYS {
        let day = first + chrono::Duration::days(d);
        let (body, rows) =
            page_between(0, day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 0).unwrap()).await;
        backfill_rows += rows.len();
        pages.insert(day.format("%Y%m%d").to_string(), bytes::Bytes::from(body));
    }
    let days_addr = serve_days(pages).await;
    let last = first + chrono::Duration::days(BACKFILL_DAYS - 1);
    let (from, to) = (first.format("%Y-%m-%d").to_string(), format!("{}T23:59:00", last.format("%Y-%m-%d")));
    reset(&pool).await;
    let backfill = sync_range(days_addr, &db_url, &from, &to, &[("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1")]);
    let backfill_stored: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_14").fetch_one(&pool).await.unwrap();
    assert_eq!(backfill_stored as usize, backfill_rows, "every backfill row landed");

    let slow_link = compressed_over_a_slow_link(&page_body, &db_url, &pool, runs).await;
    reset(&pool).await;
    let idle = idle_rss(&db_url).await;

    let rate = |secs: f64| n as f64 / secs;
    let (f, r, c, s, u) = (median(fresh), median(reread), median(copy), median(staging), median(unnest));
    let cn = median(copy_new);
    let (lf, lr, li) = (median(lite_fresh), median(lite_reread), median(lite_import));
    let mut out = String::new();
    let _ = writeln_table(
        &mut out,
        &[
            (
                "end to end, fresh insert (new process: GET, parse, upsert, commit)",
                format!("{:>9.0} rows/s  ({f:.2} s)", rate(f)),
            ),
            ("end to end, re-read of the unchanged page", format!("{:>9.0} rows/s  ({r:.2} s)", rate(r))),
            (
                "plain COPY of the same rows (CSV) into the same-shape table",
                format!("{:>9.0} rows/s  ({c:.2} s)", rate(c)),
            ),
            ("ratio: fresh insert / COPY", format!("{:>9.2}", c / f)),
            ("ratio: re-read speed / fresh insert speed", format!("{:>9.2}", f / r)),
            (
                "in-process, new keys: COPY per 5,000-row batch (what we use)",
                format!("{:>9.0} rows/s  ({cn:.2} s)", rate(cn)),
            ),
            (
                "in-process upsert, UNNEST per 5,000-row batch (what changed rows take)",
                format!("{:>9.0} rows/s  ({u:.2} s)", rate(u)),
            ),
            (
                "in-process upsert, COPY to staging + INSERT … ON CONFLICT",
                format!("{:>9.0} rows/s  ({s:.2} s)", rate(s)),
            ),
            (
                &format!("table size and dead tuples, before → after {rereads} re-reads"),
                format!("{} → {} KiB, {} → {} dead", before.0 / 1024, after.0 / 1024, before.1, after.1),
            ),
            ("SQLite: end to end, fresh insert into the empty table", format!("{:>9.0} rows/s  ({lf:.2} s)", rate(lf))),
            ("SQLite: end to end, re-read of the unchanged page", format!("{:>9.0} rows/s  ({lr:.2} s)", rate(lr))),
            (
                "SQLite: sqlite3 shell .import of the same rows, same-shape table",
                format!("{:>9.0} rows/s  ({li:.2} s)", rate(li)),
            ),
            ("SQLite ratio: fresh insert / .import", format!("{:>9.2}", li / lf)),
            ("SQLite ratio: re-read speed / fresh insert speed", format!("{:>9.2}", lf / lr)),
            ("peak RSS, one 60k-row page (17 MB)", format!("{:>9.1} MiB", page_peak as f64 / 1024.0)),
            (
                &format!("backfill, {backfill_rows} rows in {BACKFILL_DAYS} daily windows, one process"),
                format!(
                    "{:>9.0} rows/s  ({:.2} s), peak RSS {:.1} MiB",
                    backfill_rows as f64 / backfill.seconds,
                    backfill.seconds,
                    backfill.peak_rss_kib as f64 / 1024.0
                ),
            ),
            (
                "ratio: backfill rows/s / one page's fresh rows/s",
                format!("{:>9.2}", backfill_rows as f64 / backfill.seconds / rate(f)),
            ),
            (
                &format!("peak RSS, one {heavy_mb:.0} MB response ({} rows)", heavy_rows.len()),
                format!("{:>9.1} MiB  ({:.1} s)", heavy_run.peak_rss_kib as f64 / 1024.0, heavy_run.seconds),
            ),
            ("idle RSS, daemon with the default reports scheduled", format!("{:>9.1} MiB", idle as f64 / 1024.0)),
        ],
    );
    let _ = writeln_table(&mut out, &slow_link.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
    print!("{out}");
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/bench-ingest.txt", &out);

    drop(pool);
    let _ = sqlx::query(wolkvox_etl::store::sql::built(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await;
}

async fn reset_or_create(db_url: &str, addr: SocketAddr, pool: &PgPool) {
    let _ = sync_once(addr, db_url);
    reset(pool).await;
}

fn writeln_table(out: &mut String, rows: &[(&str, String)]) -> std::fmt::Result {
    use std::fmt::Write;
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    writeln!(out, "| {:<width$} | {:<24} |", "measure", "figure")?;
    writeln!(out, "|{}|{}|", "-".repeat(width + 2), "-".repeat(26))?;
    for (k, v) in rows {
        writeln!(out, "| {k:<width$} | {v:<24} |")?;
    }
    let _ = std::io::stdout().flush();
    Ok(())
}
