//! The COPY path for new keys (`store::copy`): what it stores is what the upsert stores, column
//! by column, for every report; and a key stored after the hash query said the window was empty
//! sends the batch through the upsert instead of failing the window or writing it twice.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use wolkvox_etl::store::copy::Written;
use wolkvox_etl::store::rows::{raw_hash, TypedRow};
use wolkvox_etl::store::Backend;
use wolkvox_etl::wolkvox::catalog::{self, FieldType, Report};
use wolkvox_etl::wolkvox::values::Typed;

use crate::support::*;

/// A row of `report` whose every field holds a value of its type, varied by `n` so that keys
/// differ; texts carry what COPY's text format must escape.
fn full_row(report: &Report, n: i64) -> TypedRow {
    let at =
        Utc.with_ymd_and_hms(2026, 11, 18, 5, 0, 0).unwrap() + Duration::seconds(n) + Duration::microseconds(n * 7);
    let values = report
        .fields
        .iter()
        .map(|f| match f.ty {
            FieldType::Text => Typed::Text(Some(format!("{} {n}\ttab\nline\\slash \"q\" ñ\r", f.name))),
            FieldType::Integer | FieldType::Duration => Typed::Integer(Some(-3 + n * 1_000_000_007)),
            FieldType::Decimal | FieldType::Percent => Typed::Decimal(Some(format!("{}.05", 15_233 + n))),
            FieldType::Boolean => Typed::Boolean(Some(n % 2 == 1)),
            FieldType::Date => Typed::Date(NaiveDate::from_ymd_opt(2026, 1, 1).map(|d| d + Duration::days(n))),
            FieldType::Time => {
                Typed::Time(NaiveTime::from_num_seconds_from_midnight_opt(3_600 + n as u32, 250 * n as u32))
            }
            FieldType::Timestamp => Typed::Timestamp(Some(at)),
        })
        .collect();
    let raw = serde_json::json!({ "n": n, "text": "a \\ b\tc\nd" }).to_string();
    TypedRow { raw_hash: raw_hash(&raw), raw, values }
}

/// A row of chat_14 with this key and `note` in its raw JSON; its other fields NULL.
fn chat(id: &str, at: DateTime<Utc>, note: &str) -> TypedRow {
    let values = catalog::chat_14()
        .fields
        .iter()
        .map(|f| match f.name {
            "chat_id" => Typed::Text(Some(id.into())),
            "date" => Typed::Timestamp(Some(at)),
            _ => Typed::null(f.ty),
        })
        .collect();
    let raw = serde_json::json!({ "chat_id": id, "note": note }).to_string();
    TypedRow { raw_hash: raw_hash(&raw), raw, values }
}

#[tokio::test]
async fn rows_written_by_copy_read_back_exactly_as_the_upsert_writes_them_in_every_report() {
    let t = TestDb::new(Backend::Postgres).await;
    let db = t.db().await;
    db.migrate(catalog::all()).await.unwrap();
    let pool = pg_pool(&t.url).await;
    for report in catalog::all() {
        let rows = [full_row(report, 1), full_row(report, 2)];
        let mut tx = db.begin().await.unwrap();
        assert_eq!(tx.insert_new(report, "by_copy", &rows).await.unwrap(), Written::Copied(2), "{}", report.api);
        assert_eq!(tx.upsert(report, "by_upsert", &rows).await.unwrap(), 2, "{}", report.api);
        tx.commit().await.unwrap();
        // Every column but the account and the time of writing, as the server reads it back.
        let sql = format!(
            "SELECT (to_jsonb(t) - 'account' - 'synced_at')::text FROM \"{}\" t WHERE account = $1 ORDER BY raw_hash",
            report.table
        );
        let read = |account: &'static str| {
            let (pool, sql) = (&pool, &sql);
            async move {
                sqlx::query_scalar::<_, String>(wolkvox_etl::store::sql::built(sql))
                    .bind(account)
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
        };
        let (copied, upserted) = (read("by_copy").await, read("by_upsert").await);
        assert_eq!(copied.len(), 2, "{}", report.api);
        assert_eq!(copied, upserted, "{}: COPY and the upsert stored different values", report.api);
    }
}

#[tokio::test]
async fn a_key_stored_after_the_hash_query_sends_the_batch_through_the_upsert_and_nothing_is_lost_or_doubled() {
    let t = TestDb::new(Backend::Postgres).await;
    let db = t.db().await;
    let report = catalog::chat_14();
    db.migrate(&[report]).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 18, 5, 0, 0).unwrap();
    let batch = [chat("1", at, "new"), chat("2", at, "new"), chat("3", at, "new")];

    // The window's transaction asks what is stored in its range: nothing, so COPY is chosen.
    let mut tx = db.begin().await.unwrap();
    let known = tx.known_hashes(report, "default", "date", None, at, at + Duration::hours(1)).await.unwrap();
    assert!(known.is_empty());
    // Meanwhile another writer (a manual sync, the reconciliation) commits one of its keys.
    let mut other = db.begin().await.unwrap();
    assert_eq!(other.upsert(report, "default", &[chat("2", at, "older")]).await.unwrap(), 1);
    other.commit().await.unwrap();

    let written = tx.insert_new(report, "default", &batch).await.unwrap();
    // Two rows inserted and one changed, by the upsert: the COPY was undone, not half kept.
    assert_eq!(written, Written::Upserted(3));
    // The transaction is still usable after the failed COPY: the window goes on and commits.
    let later = [chat("4", at, "new")];
    assert_eq!(tx.upsert(report, "default", &later).await.unwrap(), 1);
    tx.commit().await.unwrap();

    let pool = pg_pool(&t.url).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT chat_id, raw->>'note' FROM chat_14 WHERE account = 'default' ORDER BY chat_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<(String, String)> =
        ["1", "2", "3", "4"].iter().map(|id| (id.to_string(), "new".into())).collect();
    assert_eq!(rows, expected, "each key once, the window's version of it");
}

#[tokio::test]
async fn on_sqlite_new_rows_go_through_the_upsert() {
    let t = TestDb::new(Backend::Sqlite).await;
    let db = t.db().await;
    let report = catalog::chat_14();
    db.migrate(&[report]).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 18, 5, 0, 0).unwrap();
    let mut tx = db.begin().await.unwrap();
    assert_eq!(tx.upsert(report, "default", &[chat("2", at, "older")]).await.unwrap(), 1);
    let written = tx.insert_new(report, "default", &[chat("1", at, "new"), chat("2", at, "new")]).await.unwrap();
    assert_eq!(written, Written::Upserted(2));
    tx.commit().await.unwrap();
    assert_eq!(scalar(&db, "SELECT count(*) FROM chat_14 WHERE raw LIKE '%\"new\"%'").await, 2);
}

#[tokio::test]
async fn on_sqlite_a_batch_in_one_statement_stores_what_one_statement_per_row_stores_in_every_report() {
    let t = TestDb::new(Backend::Sqlite).await;
    let db = t.db().await;
    db.migrate(catalog::all()).await.unwrap();
    let wolkvox_etl::store::Db::Sqlite(pool) = &db else { unreachable!() };
    for report in catalog::all() {
        let rows = [full_row(report, 1), full_row(report, 2)];
        let mut tx = db.begin().await.unwrap();
        // One row per call takes the one-row statement; two rows, the batch statement.
        for row in &rows {
            assert_eq!(tx.upsert(report, "one_by_one", std::slice::from_ref(row)).await.unwrap(), 1);
        }
        assert_eq!(tx.upsert(report, "batched", &rows).await.unwrap(), 2, "{}", report.api);
        // Written again unchanged: nothing changes, as with the one-row statement.
        assert_eq!(tx.upsert(report, "batched", &rows).await.unwrap(), 0, "{}", report.api);
        tx.commit().await.unwrap();
        // Every column but the account and the time of writing, with its storage class (quote()).
        let expr: String = sqlx::query_scalar(
            "SELECT group_concat('quote(\"' || name || '\")', ' || char(9) || ') FROM pragma_table_info(?) \
             WHERE name NOT IN ('account', 'synced_at')",
        )
        .bind(report.table)
        .fetch_one(pool)
        .await
        .unwrap();
        let sql = format!("SELECT {expr} FROM \"{}\" WHERE account = ? ORDER BY raw_hash", report.table);
        let read = |account: &'static str| {
            let sql = &sql;
            async move {
                sqlx::query_scalar::<_, String>(wolkvox_etl::store::sql::built(sql))
                    .bind(account)
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
        };
        let (one, batched) = (read("one_by_one").await, read("batched").await);
        assert_eq!(one.len(), 2, "{}", report.api);
        assert_eq!(one, batched, "{}: the batch statement stored different values", report.api);
    }
}
