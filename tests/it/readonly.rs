//! The read-only role for BI tools (deploy/postgres/readonly.sql), applied with psql the way the
//! README says, then used: it reads every table and view, changes nothing, reads what the owner
//! creates after it, and runs every query of the Grafana dashboards.
//!
//! Roles belong to the whole PostgreSQL server, not to the test's database: each test names its
//! own and drops it at the end, so tests running at once never share one.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sqlx::{Connection, PgConnection};
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::Range;

use crate::support::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/postgres/readonly.sql");

/// A role created by readonly.sql in one test database; dropped with everything granted to it.
struct BiRole {
    name: String,
    password: String,
    /// The test database, as its owner (the role the daemon connects as in the tests).
    owner_url: String,
}

impl BiRole {
    /// Runs readonly.sql on the database at `owner_url` for a role of this test's own.
    fn create(owner_url: &str) -> BiRole {
        let role = BiRole {
            name: format!("wolkvox_bi_test_{:08x}", fastrand::u32(..)),
            password: format!("pw-{:016x}", fastrand::u64(..)),
            owner_url: owner_url.to_string(),
        };
        role.apply();
        role
    }

    /// `WOLKVOX_BI_PASSWORD=… psql "$DATABASE_URL" -f deploy/postgres/readonly.sql`, as in the README,
    /// plus this test's role name.
    fn apply(&self) {
        let out = Command::new("psql")
            .arg(&self.owner_url)
            .env("WOLKVOX_BI_PASSWORD", &self.password)
            .args(["-q", "-v", &format!("bi_role={}", self.name)])
            .args(["-f", SCRIPT])
            .output()
            .expect("psql runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "readonly.sql failed: {stderr}");
        assert!(!stderr.contains("WARNING"), "{stderr}");
    }

    /// A connection as the role, with its password.
    async fn connect(&self) -> PgConnection {
        let mut url = url::Url::parse(&self.owner_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.set_password(Some(&self.password)).unwrap();
        PgConnection::connect(url.as_str()).await.expect("the BI role logs in")
    }
}

impl Drop for BiRole {
    fn drop(&mut self) {
        let (name, url) = (self.name.clone(), self.owner_url.clone());
        // Drop runs outside any runtime guarantee, so clean up on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&url).await.ok()?;
                // Its grants (the database's CONNECT included) and default privileges go first.
                sqlx::query(wolkvox_etl::store::sql::built(format!("DROP OWNED BY {name}")))
                    .execute(&mut conn)
                    .await
                    .ok()?;
                sqlx::query(wolkvox_etl::store::sql::built(format!("DROP ROLE {name}"))).execute(&mut conn).await.ok()
            })
        })
        .join();
    }
}

/// The SQLSTATE of a failed statement.
async fn refused(conn: &mut PgConnection, sql: &str) -> String {
    let e = sqlx::query(wolkvox_etl::store::sql::built(sql)).execute(&mut *conn).await.expect_err(sql);
    e.as_database_error().and_then(|d| d.code()).map(|c| c.to_string()).unwrap_or_else(|| panic!("{sql}: {e}"))
}

async fn count(conn: &mut PgConnection, table: &str) -> i64 {
    sqlx::query_scalar(wolkvox_etl::store::sql::built(format!("SELECT count(*) FROM {table}")))
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
#[cfg_attr(not(has_psql), ignore = "psql is not installed (apt-get install postgresql-client)")]
async fn the_bi_role_reads_every_table_and_view_and_can_change_nothing() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    assert_eq!(t.sync(Range::Scheduled).await.status, RunStatus::Succeeded);
    let mut owner = PgConnection::connect(&t.test_db.url).await.unwrap();
    sqlx::query("SET search_path = wolkvox").execute(&mut owner).await.unwrap();
    // A schema of the owner's besides the daemon's.
    sqlx::query("CREATE SCHEMA extra").execute(&mut owner).await.unwrap();
    sqlx::query("CREATE TABLE extra.own AS SELECT 1 AS x").execute(&mut owner).await.unwrap();
    let role = BiRole::create(&t.test_db.url);
    role.apply(); // idempotent: a second run only sets the password and the grants again
    let mut bi = role.connect().await;

    let tables = [
        "chat_14",
        "etl_run",
        "etl_watermark",
        "etl_window",
        "etl_day",
        "etl_completeness",
        "etl_token_usage",
        "extra.own",
    ];
    for table in tables {
        assert_eq!(count(&mut bi, table).await, count(&mut owner, table).await, "{table}");
    }
    assert!(count(&mut bi, "chat_14").await > 0);
    assert!(count(&mut bi, "etl_run").await > 0);

    // Sessions are read-only by default...
    let insert = "INSERT INTO etl_watermark (account, report, watermark) VALUES ('x', 'x', now())";
    assert_eq!(refused(&mut bi, insert).await, "25006", "read_only_sql_transaction");
    // ...and without that lock the privileges still refuse every change.
    sqlx::query("SET default_transaction_read_only = off").execute(&mut bi).await.unwrap();
    for sql in [
        insert,
        "UPDATE chat_14 SET cod_act = 'x'",
        "DELETE FROM etl_run",
        "TRUNCATE etl_run",
        "CREATE TABLE bi_scratch (x int)",
        "CREATE SCHEMA bi_scratch",
        "ALTER TABLE chat_14 ADD COLUMN x int",
        "DROP TABLE etl_run",
        "CREATE INDEX ON chat_14 (cod_act)",
    ] {
        assert_eq!(refused(&mut bi, sql).await, "42501", "insufficient_privilege: {sql}");
    }
    for table in tables {
        assert_eq!(count(&mut bi, table).await, count(&mut owner, table).await, "{table} unchanged");
    }

    // What the owner creates later is readable too: a table, and a schema of KPI views.
    for sql in [
        "CREATE TABLE later_report AS SELECT 1 AS x",
        "CREATE SCHEMA later_kpi",
        "CREATE VIEW later_kpi.chats_per_day AS SELECT date::date AS day, count(*) AS chats FROM chat_14 GROUP BY 1",
    ] {
        sqlx::query(wolkvox_etl::store::sql::built(sql)).execute(&mut owner).await.unwrap();
    }
    assert_eq!(count(&mut bi, "later_report").await, 1);
    let chats: i64 =
        sqlx::query_scalar("SELECT sum(chats)::bigint FROM later_kpi.chats_per_day").fetch_one(&mut bi).await.unwrap();
    assert_eq!(chats, count(&mut owner, "chat_14").await);
    assert_eq!(refused(&mut bi, "DELETE FROM later_report").await, "42501");
    assert_eq!(refused(&mut bi, "CREATE VIEW bi.mine AS SELECT 1").await, "42501");
    // The KPI views the daemon made at start-up (before the script) are readable too.
    let health: i64 = sqlx::query_scalar("SELECT count(*) FROM bi.pipeline_health").fetch_one(&mut bi).await.unwrap();
    assert_eq!(health, count(&mut owner, "etl_watermark").await);
    bi.close().await.unwrap();
    // The status page's document (what `/`, `/status.json` and `status --json` show) is built
    // from queries this role may run: one reading as it sees what the owner sees.
    let mut url = url::Url::parse(&role.owner_url).unwrap();
    url.set_username(&role.name).unwrap();
    url.set_password(Some(&role.password)).unwrap();
    let as_bi = wolkvox_etl::store::Db::connect(&url.to_string().into(), 2).await.expect("the BI role connects");
    let settings = std::slice::from_ref(&t.app.settings);
    let now = chrono::Utc::now();
    let seen =
        wolkvox_etl::status::document(&as_bi, settings, None, now).await.expect("the BI role builds the document");
    let owned = wolkvox_etl::status::document(t.db(), settings, None, now).await.unwrap();
    assert_eq!(seen.to_json(), owned.to_json());
    assert_eq!(seen.calendar.rows.len(), t.app.settings.reports.len());
    as_bi.close().await;
}

#[test]
#[cfg_attr(not(has_psql), ignore = "psql is not installed (apt-get install postgresql-client)")]
fn readonly_sql_refuses_to_run_without_a_password() {
    let out = Command::new("psql").arg(admin_url()).args(["-q", "-f", SCRIPT]).output().expect("psql runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("readonly.sql needs a password"), "{stderr}");
}

/// A Grafana SQL query as Grafana would send it for a range covering the test's data (November
/// 2026), the account `default` and the operation's time zone. Panics on a macro or variable
/// it does not know, so a new one is added here rather than run unexpanded.
fn grafana_sql(sql: &str) -> String {
    let mut out = sql.replace("$account", "'default'").replace("$timezone", "America/Bogota");
    while let Some(at) = out.find("$__") {
        let open = at + out[at..].find('(').unwrap_or_else(|| panic!("macro without arguments in {sql}"));
        let close = open + out[open..].find(')').unwrap();
        let args: Vec<&str> = out[open + 1..close].split(',').map(str::trim).collect();
        let expanded = match &out[at..open] {
            "$__timeFilter" => format!("{} BETWEEN '2026-11-01T00:00:00Z' AND '2026-12-01T00:00:00Z'", args[0]),
            "$__timeGroupAlias" => format!("floor(extract(epoch from {})/300)*300 AS \"time\"", args[0]),
            other => panic!("{other} is not expanded by this test: {sql}"),
        };
        out.replace_range(at..=close, &expanded);
    }
    assert!(!out.contains('$'), "an unknown variable in {out}");
    out
}

#[tokio::test]
#[cfg_attr(not(has_psql), ignore = "psql is not installed (apt-get install postgresql-client)")]
async fn every_dashboard_query_runs_as_the_bi_role() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    // Every report the KPI views read, and the dimensions that name their ids.
    for api in wolkvox_etl::store::bi::INPUTS {
        let job = t.app.job(api).unwrap();
        assert_eq!(t.sync_job(&job, Range::Scheduled).await.status, RunStatus::Succeeded, "{api}");
    }
    let dims = t.app.dimensions.clone().unwrap();
    wolkvox_etl::sync::dimensions::read_all(&t.app.ctx, &dims.token, &tokio_util::sync::CancellationToken::new()).await;
    let role = BiRole::create(&t.test_db.url);
    let mut bi = role.connect().await;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards");
    let mut ran = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // The SQL of the panels and of the query variables (the account picker).
        let panels = dashboard["panels"].as_array().unwrap().iter().map(|p| (p["title"].clone(), &p["targets"]));
        let mut queries: Vec<(String, String)> = panels
            .flat_map(|(title, targets)| {
                let title = title.as_str().unwrap_or_default().to_string();
                targets
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |t| Some((title.clone(), t["rawSql"].as_str()?.to_string())))
            })
            .collect();
        for v in dashboard["templating"]["list"].as_array().unwrap() {
            if v["type"] == "query" && v["datasource"]["type"] == "grafana-postgresql-datasource" {
                queries.push((format!("variable {}", v["name"]), v["query"].as_str().unwrap().to_string()));
            }
        }
        for (title, sql) in queries {
            let sql = grafana_sql(&sql);
            let rows = sqlx::query(wolkvox_etl::store::sql::built(&sql))
                .fetch_all(&mut bi)
                .await
                .unwrap_or_else(|e| panic!("{}: {title}: {e}\n{sql}", path.display()));
            ran += 1;
            let must_have_rows = [
                "Freshness",
                "Runs per status",
                "Rows inserted",
                "API calls",
                "variable",
                // Contact centre, on the KPI views.
                "Agents yesterday",
                "AHT per day",
                "Skills per hour",
                "Effectiveness per day",
                "Outcomes per activity code",
                "Chats per channel",
            ];
            if must_have_rows.iter().any(|p| title.starts_with(p)) {
                assert!(!rows.is_empty(), "{title} returned no rows after a sync:\n{sql}");
            }
        }
    }
    assert!(ran >= 10, "{ran} queries");
    bi.close().await.unwrap();
}
