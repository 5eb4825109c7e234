//! The core pipeline against ground truth: exactly once, look-back, splitting, the token gate,
//! the transaction rule.

use std::sync::Arc;

use chrono::Duration;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::config::NamedToken;
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::{run_once, Faults, JobContext, Range, ReportJob};
use wolkvox_etl::wolkvox::Tokens;

use crate::helpers::*;

#[tokio::test]
async fn a_first_sync_fills_chat_14_and_matches_the_simulators_ground_truth_row_for_row() {
    let t = spawn_app(Options::default()).await;
    let outcome = t.sync(Range::Scheduled).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);

    // Now is 10:00 local; the settle delay is 2 minutes.
    let watermark = t.watermark().await.expect("a watermark");
    assert_eq!(watermark, local("2026-11-20 09:58:00"));
    let truth = t.truth(local("2026-11-18 00:00:00"), watermark);
    assert!(
        truth.len() > 5_000,
        "the scenario has real volume: {}",
        truth.len()
    );
    assert_same_rows(&t.chat_14_rows().await, &truth);
    assert_eq!(outcome.rows_fetched, truth.len() as u64);

    // Typed columns agree with raw: date is the local time read in America/Bogota, and the
    // empty cod_act placeholder is NULL.
    let (mismatched,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM chat_14
         WHERE to_char(date AT TIME ZONE 'America/Bogota', 'YYYY-MM-DD HH24:MI:SS') <> raw->>'date'
            OR chat_id <> raw->>'chat_id'
            OR (cod_act IS NULL) <> (raw->>'cod_act' = '')",
    )
    .fetch_one(&t.pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
}

#[tokio::test]
async fn a_second_run_adds_no_duplicates_and_rewrites_nothing() {
    let t = spawn_app(Options::default()).await;
    let first = t.sync(Range::Scheduled).await;
    assert!(first.rows_upserted > 0);
    let before: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT chat_id, synced_at FROM chat_14 ORDER BY chat_id, date")
            .fetch_all(&t.pool)
            .await
            .unwrap();

    let second = t.sync(Range::Scheduled).await;
    assert_eq!(second.status, RunStatus::Succeeded);
    assert!(second.rows_fetched > 0, "the look-back re-read rows");
    assert_eq!(second.rows_upserted, 0, "unchanged rows are not rewritten");
    let after: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT chat_id, synced_at FROM chat_14 ORDER BY chat_id, date")
            .fetch_all(&t.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn late_rows_and_a_changed_cod_act_are_picked_up_by_the_look_back() {
    let t = spawn_app(Options::default()).await;
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
    let late = rows
        .keys()
        .filter(|k| local(&k.1) < first_watermark && !first_rows.contains_key(*k))
        .count();
    let retyped = rows
        .iter()
        .filter(|(k, v)| {
            first_rows
                .get(*k)
                .is_some_and(|old| old["cod_act"] != v["cod_act"])
        })
        .count();
    assert!(
        late > 0,
        "some rows dated before the first watermark arrived late"
    );
    assert!(retyped > 0, "some rows had their cod_act filled in later");
}

#[tokio::test]
async fn a_window_with_more_than_60000_rows_is_split_and_fully_loaded() {
    let options = Options {
        sim: SimulatorConfig {
            rows_per_hour: 5_000,
            latency: std::time::Duration::from_millis(1),
            ..SimulatorConfig::default()
        },
        ..Options::default()
    };
    let t = spawn_app(options).await;
    let from = local("2026-11-18 00:00:00");
    let to = local("2026-11-19 00:00:00");
    let outcome = t.sync(Range::Explicit { from, to: Some(to) }).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(outcome.splits >= 1, "the 120,000-row day was split");
    let truth = t.truth(from, to);
    assert_eq!(truth.len(), 120_000);
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM chat_14")
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert_eq!(count, 120_000);
    assert_same_rows(&t.chat_14_rows().await, &truth);
    assert!(
        t.sim.stats().rows_served >= 120_000 + 60_000,
        "the truncated page was fetched and discarded"
    );
}

/// Ten jobs (ten accounts syncing chat_14) run concurrently, all on one token.
async fn ten_jobs_on_one_secret(t: &TestApp, shared_gate: bool) {
    let mut handles = Vec::new();
    let shared = Tokens::new(&[NamedToken {
        label: "shared".into(),
        secret: TOKEN.to_string().into(),
    }]);
    for i in 0..10 {
        let tokens = if shared_gate {
            shared.clone()
        } else {
            // A separate gate per job: what would happen without the per-token semaphore.
            Tokens::new(&[NamedToken {
                label: "shared".into(),
                secret: TOKEN.to_string().into(),
            }])
        };
        let ctx = Arc::new(JobContext {
            account: format!("acct{i}"),
            ..(*t.app.ctx).clone()
        });
        let mut config = t.app.job("chat_14").unwrap().config;
        config.policy.max_window = Duration::hours(12);
        let job = ReportJob {
            config,
            token: tokens.get("shared").unwrap(),
        };
        handles.push(tokio::spawn(async move {
            run_once(&ctx, &job, Range::Scheduled, &CancellationToken::new()).await
        }));
    }
    for h in handles {
        let outcome = h.await.unwrap();
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    }
}

#[tokio::test]
async fn ten_jobs_sharing_one_token_never_make_the_simulator_count_a_simultaneous_request() {
    let options = Options {
        sim: SimulatorConfig {
            latency: std::time::Duration::from_millis(15),
            ..SimulatorConfig::default()
        },
        ..Options::default()
    };
    let t = spawn_app(options).await;
    ten_jobs_on_one_secret(&t, true).await;
    let stats = t.sim.stats();
    assert!(
        stats.requests >= 50,
        "each of the 10 jobs made several requests: {}",
        stats.requests
    );
    assert_eq!(stats.simultaneous_violations, 0);
}

#[tokio::test]
async fn without_a_shared_token_gate_the_simulator_does_count_simultaneous_requests() {
    // The control for the test above: proves the simulator's detector can fail it.
    let options = Options {
        sim: SimulatorConfig {
            latency: std::time::Duration::from_millis(15),
            ..SimulatorConfig::default()
        },
        env: vec![("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "50".into())],
        ..Options::default()
    };
    let t = spawn_app(options).await;
    ten_jobs_on_one_secret(&t, false).await;
    assert!(t.sim.stats().simultaneous_violations > 0);
}

#[tokio::test]
async fn a_failure_between_the_upsert_and_the_commit_leaves_rows_and_watermark_unchanged() {
    let t = spawn_app(Options::default()).await;
    t.sync(Range::Scheduled).await;
    let watermark = t.watermark().await;
    let rows = t.chat_14_rows().await;

    t.clock.advance(Duration::minutes(45));
    let failing = JobContext {
        faults: Faults {
            fail_before_commit: true,
        },
        ..(*t.app.ctx).clone()
    };
    let job = t.app.job("chat_14").unwrap();
    let outcome = run_once(&failing, &job, Range::Scheduled, &CancellationToken::new()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.is_some());

    assert_eq!(t.watermark().await, watermark);
    assert_eq!(
        t.chat_14_rows().await,
        rows,
        "no row was inserted or changed"
    );
    let (status, kind): (String, Option<String>) =
        sqlx::query_as("SELECT status, error_kind FROM etl_run ORDER BY id DESC LIMIT 1")
            .fetch_one(&t.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), kind.as_deref()),
        ("failed", Some("injected"))
    );

    // And the next healthy run catches up completely.
    let outcome = t.sync(Range::Scheduled).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let wm = t.watermark().await.unwrap();
    assert_same_rows(
        &t.chat_14_rows().await,
        &t.truth(local("2026-11-18 00:00:00"), wm),
    );
}

#[tokio::test]
async fn a_permanent_api_error_fails_the_run_without_moving_the_watermark() {
    let options = Options {
        sim: SimulatorConfig {
            tokens: vec!["some-other-token".into()],
            ..SimulatorConfig::default()
        },
        ..Options::default()
    };
    let t = spawn_app(options).await;
    let outcome = t.sync(Range::Scheduled).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error.kind(), "invalid_token");
    assert!(!error.is_retryable());
    assert_eq!(t.sim.stats().requests, 1, "an invalid token is not retried");
    assert_eq!(t.watermark().await, None);
}

#[tokio::test]
async fn the_chat_14_table_has_one_typed_column_per_catalogue_field() {
    let t = spawn_app(Options::default()).await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_name = 'chat_14' ORDER BY ordinal_position",
    )
    .fetch_all(&t.pool)
    .await
    .unwrap();
    let report = wolkvox_etl::wolkvox::catalog::find("chat_14").unwrap();
    for field in report.fields {
        let expected = match field.ty {
            wolkvox_etl::wolkvox::catalog::FieldType::Text => "text",
            wolkvox_etl::wolkvox::catalog::FieldType::Timestamp => "timestamp with time zone",
        };
        assert!(
            columns
                .iter()
                .any(|(n, ty)| n == field.name && ty == expected),
            "{} {expected} missing from {columns:?}",
            field.name
        );
    }
    for meta in ["account", "raw", "synced_at"] {
        assert!(columns.iter().any(|(n, _)| n == meta), "{meta}");
    }
}
