//! The audit trail: every operator command that changes state leaves a row in `etl_audit`, with
//! who ran it and the values before and after, and `status` shows the latest ones.

use crate::on_both_backends;
use crate::support::*;

/// Runs the real binary against `db` as the OS user `who`; panics unless it succeeds.
fn run(db: &TestDb, who: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("USER", who)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

on_both_backends! {
    async fn watermark_set_and_reset_are_audited_with_old_and_new_values_and_status_shows_them(backend) {
        let test_db = TestDb::new(backend).await;
        run(&test_db, "alice", &["watermark", "set", "--report", "chat_14", "--to", "2026-11-18T06:00:00"]);
        run(&test_db, "bob", &["watermark", "set", "--report", "chat_14", "--to", "2026-11-19"]);
        run(&test_db, "carol", &["watermark", "reset", "--report", "chat_14"]);

        let db = test_db.db().await;
        let rows = db.recent_audit(None, 10).await.unwrap();
        let seen: Vec<_> = rows
            .iter()
            .map(|e| (e.who.as_str(), e.command.as_str(), e.old_value.as_deref(), e.new_value.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("carol", "watermark reset", Some("2026-11-19 00:00:00 (America/Bogota)"), None),
                (
                    "bob",
                    "watermark set",
                    Some("2026-11-18 06:00:00 (America/Bogota)"),
                    Some("2026-11-19 00:00:00 (America/Bogota)")
                ),
                ("alice", "watermark set", None, Some("2026-11-18 06:00:00 (America/Bogota)")),
            ]
        );
        assert!(rows.iter().all(|e| e.account == "default" && e.report == "chat_14" && e.stream.is_empty()));
        db.close().await;

        let text = run(&test_db, "dave", &["status"]);
        assert!(text.contains("latest operator changes"), "{text}");
        assert!(
            text.contains("watermark set    by bob: 2026-11-18 06:00:00 (America/Bogota) -> 2026-11-19 00:00:00"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&run(&test_db, "dave", &["status", "--json"])).unwrap();
        let changes = json["operator_changes"].as_array().expect("operator_changes");
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0]["who"], "carol");
        assert_eq!(changes[2]["new_value"], "2026-11-18 06:00:00 (America/Bogota)");
    }
}

#[tokio::test]
async fn status_shows_only_the_last_five_changes() {
    let test_db = TestDb::new(wolkvox_etl::store::Backend::Sqlite).await;
    for day in 10..17 {
        run(&test_db, "alice", &["watermark", "set", "--report", "chat_14", "--to", &format!("2026-11-{day}")]);
    }
    let json: serde_json::Value = serde_json::from_str(&run(&test_db, "alice", &["status", "--json"])).unwrap();
    let changes = json["operator_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 5);
    assert_eq!(changes[0]["new_value"], "2026-11-16 00:00:00 (America/Bogota)");
}

#[tokio::test]
async fn without_user_or_logname_the_operator_is_the_numeric_uid() {
    // The binary in a clean environment (no USER, no LOGNAME), as under a bare systemd unit.
    let test_db = TestDb::new(wolkvox_etl::store::Backend::Sqlite).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("DATABASE_URL", &test_db.url)
        .env("NO_COLOR", "1")
        .args(["watermark", "set", "--report", "chat_14", "--to", "2026-11-18"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = test_db.db().await;
    let rows = db.recent_audit(None, 1).await.unwrap();
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    assert_eq!(rows[0].who, format!("uid:{uid}"));
}
