//! The reference data of information.php: dimensions read whole through the real client and the
//! simulator, kept with history (a new version only when a tracked attribute changes), never
//! erased by an empty answer, and consistent with the ids the reports carry.

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::dimensions;
use wolkvox_etl::sync::Range;
use wolkvox_etl::wolkvox::catalog::dimensions::ALL;

use crate::on_both_backends;
use crate::support::*;

async fn read_all(t: &TestApp) -> Vec<(&'static str, wolkvox_etl::sync::RunOutcome)> {
    let job = t.app.dimensions.clone().expect("dimensions are enabled by default");
    dimensions::read_all(&t.app.ctx, &job.token, &CancellationToken::new()).await
}

async fn texts(t: &TestApp, sql: &str) -> Vec<String> {
    match t.db() {
        wolkvox_etl::store::Db::Postgres(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(sql)).fetch_all(pool).await.unwrap()
        }
        wolkvox_etl::store::Db::Sqlite(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(sql)).fetch_all(pool).await.unwrap()
        }
    }
}

on_both_backends! {
async fn every_dimension_is_read_whole_and_holds_the_ids_the_reports_carry(backend) {
    let t = spawn_app(backend, Options::default()).await;
    let outcomes = read_all(&t).await;
    assert_eq!(outcomes.len(), ALL.len());
    for (table, o) in &outcomes {
        assert_eq!(o.status, RunStatus::Succeeded, "{table}: {:?}", o.error);
    }
    // Seven APIs once, agents_in_skill once per skill (4).
    let requests: u32 = outcomes.iter().map(|(_, o)| o.counts.requests).sum();
    assert_eq!(requests, 11);
    let spent = t.scalar("SELECT CAST(sum(calls) AS BIGINT) FROM etl_token_usage").await;
    assert_eq!(spent, 11, "every call is counted in the budget");
    for (table, rows) in [
        ("dim_agent", 24),
        ("dim_skill", 4),
        ("dim_campaign", 3),
        ("dim_activity_code", 10),
        ("dim_routing_point", 4),
        ("dim_connector", 5),
        ("dim_agent_skill", 24),
        ("dim_service", 1),
    ] {
        let n = t.scalar(&format!("SELECT count(*) FROM {table} WHERE is_current = {}", truth(backend))).await;
        assert_eq!(n, rows, "{table}");
    }
    assert_eq!(t.scalar("SELECT count(*) FROM etl_run WHERE report LIKE 'dim_%' AND status = 'succeeded'").await, 8);

    // The reports' agents, skills and codes are all in the dimensions.
    let job = t.app.job("cdr_1").unwrap();
    let day = Range::Explicit { from: local("2026-11-19 00:00:00"), to: Some(local("2026-11-20 00:00:00")) };
    assert_eq!(t.sync_job(&job, day).await.status, RunStatus::Succeeded);
    let orphans = "SELECT count(*) FROM cdr_1 c WHERE NOT EXISTS (SELECT 1 FROM dim_agent d WHERE d.agent_id = c.agent_id)";
    assert!(t.scalar("SELECT count(*) FROM cdr_1").await > 0);
    assert_eq!(t.scalar(orphans).await, 0, "every agent of cdr_1 is in dim_agent");
    let skills = "SELECT count(*) FROM cdr_1 c WHERE NOT EXISTS (SELECT 1 FROM dim_skill d WHERE d.skill_id = c.skill_id)";
    assert_eq!(t.scalar(skills).await, 0, "every skill of cdr_1 is in dim_skill");
    let codes = "SELECT count(*) FROM cdr_1 c WHERE NOT EXISTS (SELECT 1 FROM dim_activity_code d WHERE d.cod_act = c.cod_act)";
    assert_eq!(t.scalar(codes).await, 0, "every activity code of cdr_1 is in dim_activity_code");

    // A second read the same day changes nothing.
    for (table, o) in read_all(&t).await {
        assert_eq!(o.counts.rows_upserted, 0, "{table}");
    }
    assert_eq!(t.scalar("SELECT count(*) FROM dim_agent").await, 24, "no new version");
}

async fn a_renamed_agent_gets_a_second_version_and_old_rows_keep_the_old_name(backend) {
    let t = spawn_app(backend, Options::default()).await;
    read_all(&t).await;
    let before = t.clock.now();
    let first = texts(&t, "SELECT agent_name FROM dim_agent ORDER BY agent_id").await;
    // Thirty days on, every agent's surname has flipped at some point; the simulator's names
    // are those of the day it is asked on.
    t.clock.advance(TimeDelta::days(30));
    let outcomes = read_all(&t).await;
    let agents = &outcomes.iter().find(|(t, _)| *t == "dim_agent").unwrap().1;
    let now = texts(&t, &format!("SELECT agent_name FROM dim_agent WHERE is_current = {} ORDER BY agent_id", truth(backend))).await;
    let renamed = first.iter().zip(&now).filter(|(a, b)| a != b).count();
    assert!(renamed > 0, "some agent was renamed");
    assert_eq!(agents.counts.rows_upserted, renamed as u64, "one new version per renamed agent");
    assert_eq!(t.scalar("SELECT count(*) FROM dim_agent").await, 24 + renamed as i64);
    let closed = format!("SELECT count(*) FROM dim_agent WHERE is_current = {} AND valid_to IS NOT NULL", falsehood(backend));
    assert_eq!(t.scalar(&closed).await, renamed as i64);
    // Names as they were on a day: the first read's names for an instant before the rename,
    // the new ones after it (a join on the validity range).
    let as_of = |at: chrono::DateTime<chrono::Utc>| {
        let at = match backend {
            wolkvox_etl::store::Backend::Postgres => format!("'{}'::timestamptz", at.to_rfc3339()),
            wolkvox_etl::store::Backend::Sqlite => format!("julianday('{}')", at.to_rfc3339()),
        };
        let (from, to) = match backend {
            wolkvox_etl::store::Backend::Postgres => ("valid_from".to_owned(), "valid_to".to_owned()),
            wolkvox_etl::store::Backend::Sqlite => ("julianday(valid_from)".to_owned(), "julianday(valid_to)".to_owned()),
        };
        format!("SELECT agent_name FROM dim_agent WHERE {from} <= {at} AND (valid_to IS NULL OR {at} < {to}) ORDER BY agent_id")
    };
    assert_eq!(texts(&t, &as_of(before)).await, first);
    assert_eq!(texts(&t, &as_of(t.clock.now())).await, now);
}

async fn an_empty_or_much_smaller_snapshot_closes_nothing_and_is_kept_as_suspect(backend) {
    let t = spawn_app(backend, Options::default()).await;
    read_all(&t).await;
    t.sim.set_blank_dimensions(&["agents", "skills"]);
    t.clock.advance(TimeDelta::hours(1));
    let outcomes = read_all(&t).await;
    for table in ["dim_agent", "dim_skill"] {
        let o = &outcomes.iter().find(|(t, _)| *t == table).unwrap().1;
        assert_eq!(o.status, RunStatus::Succeeded, "{table}");
        assert_eq!(o.counts.suspect_empty_days, 1, "{table}: kept as suspect");
        assert_eq!(o.counts.rows_upserted, 0, "{table}: nothing closed");
    }
    let current = format!("SELECT count(*) FROM dim_agent WHERE is_current = {}", truth(backend));
    assert_eq!(t.scalar(&current).await, 24, "an empty answer erased no agent");
    let recorded = "SELECT CAST(suspect_empty_days AS BIGINT) FROM etl_run WHERE report = 'dim_agent' ORDER BY id DESC LIMIT 1";
    assert_eq!(t.scalar(recorded).await, 1);
    // One skill's agents answer empty while the other skills answer: that skill's members
    // stay open (the rule holds per request, not only for the whole snapshot).
    t.sim.set_blank_dimensions(&["agents_in_skill:102"]);
    let outcomes = read_all(&t).await;
    let members = &outcomes.iter().find(|(t, _)| *t == "dim_agent_skill").unwrap().1;
    assert_eq!(members.counts.rows_upserted, 0, "nothing closed");
    let open = format!("SELECT count(*) FROM dim_agent_skill WHERE skill_id = '102' AND is_current = {}", truth(backend));
    assert_eq!(t.scalar(&open).await, 6, "skill 102's six agents are still members");
    // The API answers again: nothing to change.
    t.sim.set_blank_dimensions(&[]);
    let back = read_all(&t).await;
    assert_eq!(back.iter().find(|(t, _)| *t == "dim_agent").unwrap().1.counts.rows_upserted, 0);
}
}

/// `true` as each backend stores it.
fn truth(backend: wolkvox_etl::store::Backend) -> &'static str {
    match backend {
        wolkvox_etl::store::Backend::Postgres => "true",
        wolkvox_etl::store::Backend::Sqlite => "1",
    }
}

fn falsehood(backend: wolkvox_etl::store::Backend) -> &'static str {
    match backend {
        wolkvox_etl::store::Backend::Postgres => "false",
        wolkvox_etl::store::Backend::Sqlite => "0",
    }
}
