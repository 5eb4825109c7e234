//! The core pipeline against ground truth, on both backends: exactly once, look-back,
//! splitting, the token gate, the transaction rule.

use std::sync::Arc;

use chrono::Duration;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::config::NamedToken;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::{run_once, Faults, JobContext, Range, ReportJob};
use wolkvox_etl::time::local_to_utc;
use wolkvox_etl::wolkvox::Tokens;

use crate::on_both_backends;
use crate::support::*;

/// Ten jobs (ten accounts syncing chat_14) run concurrently, all on one token secret.
async fn ten_jobs_on_one_secret(t: &TestApp, shared_gate: bool) {
    let named = || vec![NamedToken { label: "shared".into(), secret: TOKEN.to_string().into() }];
    let shared = Tokens::new(&named());
    let mut handles = Vec::new();
    for i in 0..10 {
        // Without the shared gate each job has its own semaphore: what would happen if the
        // one-request-per-token rule were not enforced process-wide.
        let tokens = if shared_gate { shared.clone() } else { Tokens::unshared(&named()) };
        // ... and without the locks between processes, which also keep them apart.
        let coordinator = if shared_gate {
            t.app.ctx.coordinator.clone()
        } else {
            wolkvox_etl::store::locks::Coordinator::disabled()
        };
        let ctx = Arc::new(JobContext { account: format!("acct{i}"), coordinator, ..(*t.app.ctx).clone() });
        let mut config = t.app.job("chat_14").unwrap().config;
        config.policy.max_window = Duration::hours(12);
        let job = ReportJob { config, token: tokens.get("shared").unwrap() };
        handles
            .push(tokio::spawn(async move { run_once(&ctx, &job, Range::Scheduled, &CancellationToken::new()).await }));
    }
    for h in handles {
        let outcome = h.await.unwrap();
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    }
}

fn slow_sim(ms: u64) -> SimulatorConfig {
    SimulatorConfig { latency: std::time::Duration::from_millis(ms), ..SimulatorConfig::default() }
}

on_both_backends! {
    async fn a_first_sync_fills_chat_14_and_matches_the_simulators_ground_truth_row_for_row(backend) {
        let t = spawn_app(backend, Options::default()).await;
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);

        // Now is 10:00 local; the settle delay is 2 minutes.
        let watermark = t.watermark().await.expect("a watermark");
        assert_eq!(watermark, local("2026-11-20 09:58:00"));
        let truth = t.truth(local("2026-11-18 00:00:00"), watermark);
        assert!(truth.len() > 5_000, "the scenario has real volume: {}", truth.len());
        assert_same_rows(&t.chat_14_rows().await, &truth);
        assert_eq!(outcome.counts.rows_fetched, truth.len() as u64);

        // Typed columns agree with raw: date is the local time read in America/Bogota, and the
        // empty cod_act placeholder is NULL.
        let bogota = chrono_tz::America::Bogota;
        for row in t.typed_chat_14().await {
            let raw_date = local(row.raw["date"].as_str().unwrap());
            assert_eq!(row.date, local_to_utc(bogota, raw_date), "{}", row.raw);
            let raw_cod = row.raw["cod_act"].as_str().unwrap();
            assert_eq!(row.cod_act.as_deref(), Some(raw_cod).filter(|c| !c.is_empty()), "{}", row.raw);
        }
    }

    async fn a_second_run_adds_no_duplicates_and_rewrites_nothing(backend) {
        let t = spawn_app(backend, Options::default()).await;
        let first = t.sync(Range::Scheduled).await;
        let watermark = local("2026-11-20 09:58:00");
        assert_eq!(first.counts.rows_upserted, t.truth(local("2026-11-18 00:00:00"), watermark).len() as u64);
        let before = t.synced_at().await;

        let second = t.sync(Range::Scheduled).await;
        assert_eq!(second.status, RunStatus::Succeeded);
        // The three-hour look-back behind the watermark, and nothing else, was read again.
        let lookback = t.truth(local("2026-11-20 06:58:00"), watermark);
        assert!(!lookback.is_empty());
        assert_eq!(second.counts.rows_fetched, lookback.len() as u64, "the look-back re-read rows");
        assert_eq!(second.counts.rows_upserted, 0, "unchanged rows are not rewritten");
        assert_eq!(t.synced_at().await, before);
    }

    async fn late_rows_and_a_changed_cod_act_are_picked_up_by_the_look_back(backend) {
        let t = spawn_app(backend, Options::default()).await;
        t.sync(Range::Scheduled).await;
        let first_watermark = t.watermark().await.unwrap();
        let first_rows = t.chat_14_rows().await;

        t.clock.advance(Duration::minutes(60));
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        let watermark = t.watermark().await.unwrap();
        assert_eq!(watermark, first_watermark + Duration::minutes(60));

        let rows = t.chat_14_rows().await;
        assert_same_rows(&rows, &t.truth(local("2026-11-18 00:00:00"), watermark));

        // The scenario really exercised both kinds of change, so the equality above means something.
        let late = rows.keys().filter(|k| local(&k.1) < first_watermark && !first_rows.contains_key(*k)).count();
        let retyped = rows
            .iter()
            .filter(|(k, v)| first_rows.get(*k).is_some_and(|old| old["cod_act"] != v["cod_act"]))
            .count();
        assert!(late > 0, "some rows dated before the first watermark arrived late");
        assert!(retyped > 0, "some rows had their cod_act filled in later");
    }

    async fn a_window_with_more_than_60000_rows_is_split_and_fully_loaded(backend) {
        let options = Options {
            sim: SimulatorConfig { rows_per_hour: 5_000, ..slow_sim(1) },
            ..Options::default()
        };
        let t = spawn_app(backend, options).await;
        let (from, to) = (local("2026-11-18 00:00:00"), local("2026-11-19 00:00:00"));
        let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        // The day's 60,000-row answer may be cut off, and so may each half's (exactly 60,000
        // rows: 5,000 an hour for 12 hours), so the day is loaded in four quarters of 30,000.
        let counts = (outcome.counts.splits, outcome.counts.requests, outcome.counts.windows);
        assert_eq!(counts, (3, 7, 4), "the 120,000-row day was split");
        let truth = t.truth(from, to);
        assert_eq!(truth.len(), 120_000);
        assert_eq!(t.scalar("SELECT count(*) FROM chat_14").await, 120_000);
        assert_same_rows(&t.chat_14_rows().await, &truth);
        let served = 3 * 60_000 + 4 * 30_000;
        assert_eq!(t.sim.stats().rows_served, served, "the truncated pages were fetched and discarded");
    }

    async fn ten_jobs_sharing_one_token_never_make_the_simulator_count_a_simultaneous_request(backend) {
        let t = spawn_app(backend, Options { sim: slow_sim(15), ..Options::default() }).await;
        ten_jobs_on_one_secret(&t, true).await;
        let stats = t.sim.stats();
        // 2026-11-18 00:00 to 2026-11-20 09:58 in 12-hour windows is five requests per job, and
        // the shared gate means none is ever refused and retried.
        assert_eq!(stats.requests, 50, "each of the 10 jobs made five requests");
        assert_eq!(stats.simultaneous_violations, 0);
    }

    async fn a_failure_between_the_upsert_and_the_commit_leaves_rows_and_watermark_unchanged(backend) {
        let t = spawn_app(backend, Options::default()).await;
        t.sync(Range::Scheduled).await;
        let watermark = t.watermark().await;
        let rows = t.chat_14_rows().await;

        t.clock.advance(Duration::minutes(45));
        let failing = JobContext { faults: Faults { fail_before_commit: true, ..Faults::default() }, ..(*t.app.ctx).clone() };
        let job = t.app.job("chat_14").unwrap();
        let outcome = run_once(&failing, &job, Range::Scheduled, &CancellationToken::new()).await;
        assert_eq!(outcome.status, RunStatus::Failed);

        assert_eq!(t.watermark().await, watermark);
        assert_eq!(t.chat_14_rows().await, rows, "no row was inserted or changed");
        assert_eq!(t.last_run().await, ("failed".to_string(), Some("injected".to_string())));

        // And the next healthy run catches up completely.
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Succeeded);
        let wm = t.watermark().await.unwrap();
        assert_same_rows(&t.chat_14_rows().await, &t.truth(local("2026-11-18 00:00:00"), wm));
    }

    async fn a_permanent_api_error_fails_the_run_without_moving_the_watermark(backend) {
        let options = Options {
            sim: SimulatorConfig { tokens: vec!["some-other-token".into()], ..SimulatorConfig::default() },
            ..Options::default()
        };
        let t = spawn_app(backend, options).await;
        let outcome = t.sync(Range::Scheduled).await;
        assert_eq!(outcome.status, RunStatus::Failed);
        let error = outcome.error.unwrap();
        assert_eq!(error.kind(), "invalid_token");
        assert!(!error.is_retryable());
        assert_eq!(t.sim.stats().requests, 1, "an invalid token is not retried");
        assert_eq!(t.watermark().await, None);
        assert_eq!(t.last_run().await, ("failed".to_string(), Some("invalid_token".to_string())));
    }

    async fn the_chat_14_table_has_one_typed_column_per_catalogue_field(backend) {
        let t = spawn_app(backend, Options::default()).await;
        let columns: Vec<(String, String)> = match t.db() {
            wolkvox_etl::store::Db::Postgres(pool) => sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_name = 'chat_14' AND table_schema = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap(),
            wolkvox_etl::store::Db::Sqlite(pool) => sqlx::query_as("SELECT name, type FROM pragma_table_info('chat_14')")
                .fetch_all(pool)
                .await
                .unwrap(),
        };
        let report = wolkvox_etl::wolkvox::catalog::find("chat_14").unwrap();
        for field in report.fields {
            let declared = wolkvox_etl::store::schema::column_type(backend, field.ty);
            let expected = match declared {
                "timestamptz" => "timestamp with time zone",
                other => other,
            };
            assert!(
                columns.iter().any(|(n, ty)| n == field.name && ty == expected),
                "{} {expected} missing from {columns:?}",
                field.name
            );
        }
        for meta in ["account", "raw", "synced_at"] {
            assert!(columns.iter().any(|(n, _)| n == meta), "{meta}");
        }
    }
}

#[tokio::test]
async fn without_a_shared_token_gate_the_simulator_does_count_simultaneous_requests() {
    // The control for the test above: proves the simulator's detector can fail it. The store
    // plays no part, so one backend is enough.
    let options = Options {
        sim: slow_sim(15),
        env: vec![("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "50".into())],
        ..Options::default()
    };
    let t = spawn_app(Backend::Sqlite, options).await;
    ten_jobs_on_one_secret(&t, false).await;
    assert!(t.sim.stats().simultaneous_violations > 0);
}

#[tokio::test]
async fn a_response_far_larger_than_a_batch_is_streamed_into_one_window_and_every_row_lands() {
    // 2,400 rows/h: a day is 57,600 rows in one response (under the 60,000 limit), which the
    // client hands over in batches of 5,000 into a single transaction.
    let options = Options { sim: SimulatorConfig { rows_per_hour: 2_400, ..slow_sim(1) }, ..Options::default() };
    let t = spawn_app(Backend::Postgres, options).await;
    let (from, to) = (local("2026-11-18 00:00:00"), local("2026-11-19 00:00:00"));
    let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!((outcome.counts.windows, outcome.counts.requests, outcome.counts.splits), (1, 1, 0));
    assert_eq!(outcome.counts.rows_fetched, 57_600);
    assert_same_rows(&t.chat_14_rows().await, &t.truth(from, to));
}
