//! An empty answer never erases stored rows: a day that held rows and is answered empty keeps
//! its rows, is marked suspect (status, run history), is asked again on later runs, and is
//! replaced only by an answer with rows — or accepted as empty by an operator.

use std::process::Command;

use chrono::NaiveDate;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::sync::Range;
use wolkvox_etl::wolkvox::catalog;

use crate::on_both_backends;
use crate::support::*;

fn day_19() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
}

on_both_backends! {
async fn an_empty_answer_for_a_day_that_holds_rows_keeps_them_until_an_answer_with_rows(backend) {
    let t = spawn_app(backend, Options::default()).await;
    // A window aggregate (synthetic day) and a dated aggregate (its own date column).
    for (api, rows_of_19) in [("agent_1", "SELECT count(*) FROM agent_1 WHERE day = '2026-11-19'"),
                              ("skill_3", "SELECT count(*) FROM skill_3 WHERE date = '2026-11-19'")] {
        t.sim.set_blank_days(Vec::new());
        let report = catalog::find(api).unwrap();
        t.db().migrate(&[report]).await.unwrap();
        let job = t.app.job(api).unwrap();
        let day = Range::Explicit { from: local("2026-11-19 00:00:00"), to: Some(local("2026-11-20 00:00:00")) };
        assert_eq!(t.sync_job(&job, day).await.status, RunStatus::Succeeded);
        let stored = t.scalar(rows_of_19).await;
        assert!(stored > 0, "{api}");

        // The API's bad day: the 19th answers empty. The rows stay; the day is suspect.
        t.sim.set_blank_days(vec![day_19()]);
        let blank = t.sync_job(&job, day).await;
        assert_eq!(blank.status, RunStatus::Succeeded, "{api}: {:?}", blank.error);
        assert_eq!(blank.counts.suspect_empty_days, 1, "{api}");
        assert_eq!(t.scalar(rows_of_19).await, stored, "{api}: an empty answer erased nothing");
        let suspect = format!("SELECT count(*) FROM etl_suspect_day WHERE report = '{api}' AND day = '2026-11-19'");
        assert_eq!(t.scalar(&suspect).await, 1, "{api}");
        let in_view = |status: &str| {
            format!("SELECT count(*) FROM etl_completeness WHERE report = '{api}' AND day = '2026-11-19' AND status = '{status}'")
        };
        assert_eq!(t.scalar(&in_view("suspect")).await, 1, "{api}: the view shows the day suspect");
        let recorded = format!("SELECT CAST(suspect_empty_days AS BIGINT) FROM etl_run WHERE report = '{api}' ORDER BY id DESC LIMIT 1");
        assert_eq!(t.scalar(&recorded).await, 1, "{api}");

        // A scheduled run (the look-back reaches only today) asks the suspect day again.
        let asked = t.sim.requests().len();
        let again = t.sync_job(&job, Range::Scheduled).await;
        assert_eq!(again.counts.suspect_empty_days, 1, "{api}: still empty, still kept");
        let days: Vec<String> = t.sim.requests()[asked..].iter().map(|r| r.date_ini.clone()).collect();
        assert!(days.contains(&"20261119000000".to_string()), "{api}: asked {days:?}");
        assert_eq!(t.scalar(&format!("SELECT CAST(asks AS BIGINT) FROM etl_suspect_day WHERE report = '{api}'")).await, 2);

        // The outage ends: the next run's answer has rows, replaces the day and clears the mark.
        t.sim.set_blank_days(Vec::new());
        let back = t.sync_job(&job, Range::Scheduled).await;
        assert_eq!(back.counts.suspect_empty_days, 0, "{api}");
        assert_eq!(t.scalar(&suspect).await, 0, "{api}: no longer suspect");
        assert_eq!(t.scalar(&in_view("complete")).await, 1, "{api}: the view shows the day complete again");
        assert_eq!(t.scalar(rows_of_19).await, stored, "{api}");
    }
}

async fn an_operator_accepts_a_suspect_day_as_empty(backend) {
    let t = spawn_app(backend, Options::default()).await;
    let job = t.app.job("agent_1").unwrap();
    t.db().migrate(&[catalog::find("agent_1").unwrap()]).await.unwrap();
    let day = Range::Explicit { from: local("2026-11-19 00:00:00"), to: Some(local("2026-11-20 00:00:00")) };
    t.sync_job(&job, day).await;
    t.sim.set_blank_days(vec![day_19()]);
    assert_eq!(t.sync_job(&job, day).await.counts.suspect_empty_days, 1);

    let binary = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("DATABASE_URL", &t.test_db.url)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let status = binary(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("suspect empty days") && text.contains("agent_1      2026-11-19"), "{text}");
    let accepted = binary(&["accept-empty", "--report", "agent_1", "--day", "2026-11-19"]);
    let out = String::from_utf8_lossy(&accepted.stdout);
    assert!(accepted.status.success(), "{}", String::from_utf8_lossy(&accepted.stderr));
    assert!(out.starts_with("agent_1: 2026-11-19 accepted as empty;"), "{out}");
    assert_eq!(t.scalar("SELECT count(*) FROM agent_1 WHERE day = '2026-11-19'").await, 0);
    assert_eq!(t.scalar("SELECT count(*) FROM etl_suspect_day").await, 0);
    let view = "SELECT count(*) FROM etl_completeness WHERE report = 'agent_1' AND day = '2026-11-19' AND status = 'complete' AND rows = 0";
    assert_eq!(t.scalar(view).await, 1, "the view shows the accepted day complete and empty");
    let audit = t.db().recent_audit(None, 5).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!((audit[0].command.as_str(), audit[0].report.as_str()), ("accept-empty", "agent_1"));
    assert!(audit[0].old_value.as_deref().is_some_and(|v| v.starts_with("2026-11-19: ") && v.contains("stored row(s), marked suspect")), "{audit:?}");
    assert_eq!(audit[0].new_value.as_deref(), Some("2026-11-19: accepted as empty, 0 rows"));
}
}
