//! Secrets from files and out of every output: a token read from `wolkvox.token_file` syncs, and
//! neither it nor a password in a URL is ever printed.

use std::process::Command;

use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::Backend;
use wolkvox_etl::time::utc_to_local;

use crate::support::*;

#[tokio::test]
async fn a_token_read_from_token_file_syncs_and_never_appears_in_the_output() {
    let sim = simulator_at_midnight(SimulatorConfig { tokens: vec![TOKEN.into()], ..SimulatorConfig::default() }).await;
    let db = TestDb::new(Backend::Postgres).await;
    let dir = std::env::temp_dir().join(format!("wolkvox-etl-token-file-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("wolkvox-token");
    // As `echo TOKEN > file` or a credential store writes it: with a trailing newline.
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();

    let today = utc_to_local(chrono_tz::America::Bogota, chrono::Utc::now()).date();
    let day = today - chrono::Duration::days(1);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"));
    cmd.env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", sim.base_url())
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE", &token_file)
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "debug")
        .args(["sync", "--report", "chat_14", "--from", &day.to_string(), "--to", &today.to_string()]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token leaked:\n{stdout}\n{stderr}");
    assert!(sim.stats().requests > 0);
    let rows = scalar(&db.db().await, "SELECT count(*) FROM chat_14").await;
    assert_eq!(
        rows as usize,
        sim.ground_truth("chat_14", day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 59).unwrap()).len()
    );
    assert!(rows > 0);

    // The simulator accepts only TOKEN, so the rows prove the file's content was what was sent.
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_token_file_is_a_config_error_naming_the_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE", "/nonexistent/wolkvox-token")
        .arg("check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("`wolkvox.token_file`") && stderr.contains("Fix:"), "{stderr}");
}

#[test]
fn check_config_redacts_the_credentials_of_every_url_it_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", TOKEN)
        .env(
            "WOLKVOX_ETL__WOLKVOX__BASE_URL",
            "https://apiuser:api-PASS-1@wv0010.example.com/api/v2/?token=tok-QUERY-1",
        )
        .env("DATABASE_URL", "postgres://etl:db-PASS-2@db:5432/wolkvox?password=ssl-PASS-3&sslmode=require")
        // `require` does not verify the server: accepted only by this opt-in.
        .env("WOLKVOX_ETL__DATABASE__ALLOW_UNVERIFIED_TLS", "true")
        .arg("check-config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for secret in ["apiuser", "api-PASS-1", "tok-QUERY-1", "db-PASS-2", "ssl-PASS-3", TOKEN] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
    assert!(
        text.contains("base_url = \"https://REDACTED:REDACTED@wv0010.example.com/api/v2/?token=REDACTED\""),
        "{text}"
    );
    assert!(text.contains("postgres://etl:REDACTED@db:5432/wolkvox?password=REDACTED&sslmode=require"), "{text}");

    // A rejected URL is not echoed with its credentials either.
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://apiuser:api-PASS-1@api.example.com/api/v2/")
        .arg("check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("`wolkvox.base_url`") && !stderr.contains("api-PASS-1"), "{stderr}");
}

/// A Secret file with a syntax error on its token line: the error names the file, line and
/// column, and never quotes the line.
#[test]
fn a_config_file_that_does_not_parse_is_reported_without_quoting_its_line() {
    let dir = std::env::temp_dir().join(format!("wolkvox_bad_toml_{:016x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret.toml");
    std::fs::write(&file, "[wolkvox]\nbase_url = \"http://127.0.0.1:1/api/v2/\"\ntoken = \"s3cr3t-unterminated\n")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .arg("--config")
        .arg(&file)
        .arg("check-config")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success());
    assert!(!text.contains("s3cr3t"), "the line was quoted:\n{text}");
    assert!(text.contains("secret.toml") && text.contains("line 3, column"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A database URL parameter the driver does not know (a misspelled `pasword=`) is refused,
/// naming the parameter, never its value; the driver's own WARN with the value never shows.
#[test]
fn an_unknown_database_url_parameter_is_refused_without_its_value() {
    for (url, key) in [
        ("postgres://postgres@127.0.0.1:5432/postgres?pasword=hunter2-XYZ", "pasword"),
        ("postgres://postgres@127.0.0.1:5432/postgres?sslmode=prefer&sslpassword=hunter2-XYZ", "sslpassword"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "trace")
            .arg("migrate")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{text}");
        assert!(!text.contains("hunter2"), "the value was printed:\n{text}");
        assert!(text.contains("`database.url`") && text.contains(&format!("`{key}`")), "{text}");
    }
}
