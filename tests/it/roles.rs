//! Least privilege, as SECURITY.md documents it: deploy/postgres/roles.sql applied with psql,
//! `migrate` as the owner role, then the daemon's commands as the app role, which may only read
//! and write rows. The app role syncs, shows the status and records an operator change; it cannot
//! create anything, and when the schema lacks a table it says who must add it instead of failing
//! on a bare "permission denied". A table the owner adds later is writable by the app role at once
//! (default privileges).
//!
//! Roles belong to the whole server, not to the test's database: each test names its own and
//! drops them at the end.

use std::process::{Command, Output};

use sqlx::{Connection, PgConnection};
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::Backend;

use crate::support::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/postgres/roles.sql");

/// The two roles of roles.sql, named for one test.
struct Roles {
    owner: String,
    app: String,
    /// The test database as the superuser that applied the script.
    admin_url: String,
}

impl Roles {
    /// `WOLKVOX_OWNER_PASSWORD=… WOLKVOX_APP_PASSWORD=… psql "$ADMIN_DATABASE_URL" -f deploy/postgres/roles.sql`,
    /// as SECURITY.md says, plus this test's role names.
    fn create(admin_url: &str) -> Roles {
        let id = format!("{:08x}", fastrand::u32(..));
        let roles = Roles {
            owner: format!("wolkvox_owner_test_{id}"),
            app: format!("wolkvox_app_test_{id}"),
            admin_url: admin_url.to_string(),
        };
        let out = Command::new("psql")
            .arg(admin_url)
            .args(["-q", "-v", &format!("owner_role={}", roles.owner), "-v", &format!("app_role={}", roles.app)])
            // The passwords from the environment, as compose passes them: never on a command line.
            .env("WOLKVOX_OWNER_PASSWORD", "owner-pw")
            .env("WOLKVOX_APP_PASSWORD", "app-pw")
            .args(["-f", SCRIPT])
            .output()
            .expect("psql runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "roles.sql failed: {stderr}");
        assert!(!stderr.contains("WARNING"), "{stderr}");
        roles
    }

    /// The test database's URL as `role`.
    fn url(&self, role: &str) -> String {
        let mut url = url::Url::parse(&self.admin_url).unwrap();
        url.set_username(role).unwrap();
        url.set_password(Some(if role == self.owner { "owner-pw" } else { "app-pw" })).unwrap();
        url.to_string()
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        let (roles, url) = ([self.app.clone(), self.owner.clone()], self.admin_url.clone());
        // Drop runs outside any runtime guarantee, so clean up on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&url).await.ok()?;
                for role in &roles {
                    // What it owns and was granted in the test database goes first.
                    sqlx::query(wolkvox_etl::store::sql::built(format!("DROP OWNED BY {role} CASCADE")))
                        .execute(&mut conn)
                        .await
                        .ok()?;
                }
                conn.close().await.ok()?;
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                for role in &roles {
                    sqlx::query(wolkvox_etl::store::sql::built(format!("DROP ROLE IF EXISTS {role}")))
                        .execute(&mut conn)
                        .await
                        .ok()?;
                }
                Some(())
            })
        })
        .join();
    }
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("start wolkvox-etl")).await.unwrap()
}
#[tokio::test]
async fn the_daemon_runs_as_a_role_that_may_only_read_and_write_rows() {
    let db = TestDb::new(Backend::Postgres).await;
    let roles = Roles::create(&db.url);
    let sim = simulator_at_midnight(SimulatorConfig::default()).await;
    let today = wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, chrono::Utc::now()).date();
    let (from, to) = ((today - chrono::Duration::days(1)).to_string(), today.to_string());
    let sync = ["sync", "--report", "chat_14", "--from", from.as_str(), "--to", to.as_str()];
    let as_role = |role: &str, args: &[&str]| {
        let mut cmd = binary(&sim, &db, "info", args);
        cmd.env("DATABASE_URL", roles.url(role));
        cmd
    };

    // Before `migrate`, the app role cannot make the schema and says who can.
    let out = run(as_role(&roles.app, &sync)).await;
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("may not change the schema") && said.contains("wolkvox-etl migrate"), "{said}");
    assert!(said.contains("table chat_14") || said.contains("the migrations"), "{said}");

    let out = run(as_role(&roles.owner, &["migrate"])).await;
    assert!(out.status.success(), "migrate as the owner: {}", text(&out));

    // The app role syncs, shows the status and records an operator change.
    let out = run(as_role(&roles.app, &sync)).await;
    assert!(out.status.success(), "sync as the app role: {}", text(&out));
    let out = run(as_role(&roles.app, &["status"])).await;
    assert!(out.status.success(), "status as the app role: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("chat_14"), "{}", text(&out));
    let out =
        run(as_role(&roles.app, &["watermark", "set", "--report", "chat_14", "--to", &format!("{from}T12:00:00")]))
            .await;
    assert!(out.status.success(), "watermark set as the app role: {}", text(&out));

    // Everything is the owner's, in the schema `wolkvox`; the rows are the API's.
    let mut admin = PgConnection::connect(&db.url).await.unwrap();
    let (rows, owner): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM wolkvox.chat_14), tableowner::text FROM pg_tables
         WHERE schemaname = 'wolkvox' AND tablename = 'chat_14'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(owner, roles.owner);
    let truth = sim.ground_truth(
        "chat_14",
        local(&format!("{from} 00:00:00")),
        local(&format!("{to} 00:00:00")) - chrono::Duration::seconds(1),
    );
    assert!(rows > 0);
    assert_eq!(rows as usize, truth.len());
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM wolkvox.etl_audit").fetch_one(&mut admin).await.unwrap();
    assert_eq!(audit, 1, "the watermark set is audited");
    let in_public: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(in_public, 0, "nothing lands in public");

    // The app role itself can change no schema, anywhere.
    let mut app = PgConnection::connect(&roles.url(&roles.app)).await.unwrap();
    for ddl in [
        "CREATE TABLE wolkvox.intruder (i int)",
        "CREATE TABLE public.intruder (i int)",
        "CREATE SCHEMA intruder",
        "ALTER TABLE wolkvox.chat_14 ADD COLUMN intruder int",
        "DROP TABLE wolkvox.chat_14",
        "TRUNCATE wolkvox.chat_14",
        // History is append-only for it: runs, operator changes, migrations, sequences.
        "UPDATE wolkvox.etl_audit SET who = 'someone else'",
        "DELETE FROM wolkvox.etl_audit",
        "UPDATE wolkvox.etl_run SET status = 'succeeded'",
        "DELETE FROM wolkvox.etl_run",
        "TRUNCATE wolkvox.etl_run",
        "INSERT INTO wolkvox._sqlx_migrations (version, description, success, checksum, execution_time) VALUES (1, 'x', true, '\\x00', 0)",
        "UPDATE wolkvox._sqlx_migrations SET success = false",
        "DELETE FROM wolkvox._sqlx_migrations",
        "SELECT setval('wolkvox.etl_run_id_seq', 1)",
        "SELECT setval('wolkvox.etl_audit_id_seq', 1)",
    ] {
        let error = sqlx::query(wolkvox_etl::store::sql::built(ddl)).execute(&mut app).await.expect_err(ddl);
        let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.to_string());
        assert!(matches!(code.as_deref(), Some("42501")), "{ddl}: {error}");
    }

    // A report enabled later: its table is the owner's to add, and the app role writes it at once.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'agent_3'")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(before, 0, "not a table of the default set");
    let enable = |mut cmd: Command| {
        cmd.env("WOLKVOX_ETL__REPORTS__AGENT_3__ENABLED", "true");
        cmd
    };
    let agent_3 = ["sync", "--report", "agent_3", "--from", from.as_str(), "--to", to.as_str()];
    let out = run(enable(as_role(&roles.owner, &["migrate"]))).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(enable(as_role(&roles.app, &agent_3))).await;
    assert!(out.status.success(), "agent_3 as the app role: {}", text(&out));
    let added: i64 = sqlx::query_scalar("SELECT count(*) FROM wolkvox.agent_3").fetch_one(&mut admin).await.unwrap();
    assert!(added > 0);
    drop(admin);
    drop(app);
}

#[tokio::test]
async fn tables_go_to_the_configured_schema_and_a_database_filled_before_schemas_stays_in_public() {
    let sim = simulator_at_midnight(SimulatorConfig::default()).await;
    let today = wolkvox_etl::time::utc_to_local(chrono_tz::America::Bogota, chrono::Utc::now()).date();
    let (from, to) = ((today - chrono::Duration::days(1)).to_string(), today.to_string());
    let sync = ["sync", "--report", "chat_14", "--from", from.as_str(), "--to", to.as_str()];
    let tables_in = |schema: &'static str, url: String| async move {
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = $1")
            .bind(schema)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        n
    };

    // A schema of the operator's choosing.
    let db = TestDb::new(Backend::Postgres).await;
    let mut cmd = binary(&sim, &db, "info", &sync);
    cmd.env("WOLKVOX_ETL__DATABASE__SCHEMA", "acme_etl");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(tables_in("acme_etl", db.url.clone()).await > 10);
    assert_eq!(tables_in("wolkvox", db.url.clone()).await, 0);
    assert_eq!(tables_in("public", db.url.clone()).await, 0);

    // A database whose tables are in public (what releases before schemas made): found there,
    // said once, and nothing is created in the default schema.
    let legacy = TestDb::new(Backend::Postgres).await;
    let mut cmd = binary(&sim, &legacy, "info", &sync);
    cmd.env("WOLKVOX_ETL__DATABASE__SCHEMA", "public");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(binary(&sim, &legacy, "info", &sync)).await;
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("The tables are in schema public") && said.contains("database.schema"), "{said}");
    assert_eq!(tables_in("wolkvox", legacy.url.clone()).await, 0, "no second, empty copy");
    let mut conn = PgConnection::connect(&legacy.url).await.unwrap();
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM public.etl_run WHERE report = 'chat_14'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(runs, 2, "both runs recorded in public");

    // Tables in both public and the default schema (a move half done): refused, not guessed,
    // since one of the two would be read as empty.
    sqlx::query("CREATE SCHEMA wolkvox").execute(&mut conn).await.unwrap();
    sqlx::query("CREATE TABLE wolkvox.etl_watermark (LIKE public.etl_watermark)").execute(&mut conn).await.unwrap();
    let out = run(binary(&sim, &legacy, "info", &sync)).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("in schema public and in schema wolkvox"), "{}", text(&out));

    // A report table whose time index is missing (a start-up killed between the two
    // statements) is completed, not taken as up to date.
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("DROP INDEX acme_etl.chat_14_date_idx").execute(&mut conn).await.unwrap();
    let mut cmd = binary(&sim, &db, "info", &sync);
    cmd.env("WOLKVOX_ETL__DATABASE__SCHEMA", "acme_etl");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    let index: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'acme_etl' AND indexname = 'chat_14_date_idx'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(index, 1);

    // A name that is not a plain identifier, or the KPI views' schema, is a configuration error
    // naming the key.
    for bad in ["acme; DROP TABLE x", "bi"] {
        let mut cmd = binary(&sim, &db, "info", &["check-config"]);
        cmd.env("WOLKVOX_ETL__DATABASE__SCHEMA", bad);
        let out = run(cmd).await;
        assert!(!out.status.success(), "{bad}");
        assert!(text(&out).contains("`database.schema`"), "{}", text(&out));
    }
}
