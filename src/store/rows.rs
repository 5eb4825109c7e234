//! Upserting report rows, keyed on `(account, <natural key>)`, inside the caller's transaction.
//!
//! Statements are derived from the catalogue entry, so no field list is written by hand. Both
//! backends skip unchanged rows (`WHERE raw_hash IS DISTINCT FROM excluded.raw_hash`, a hash of
//! `raw`), and the caller first drops rows whose hash is already stored, so a look-back
//! re-read of unchanged data writes nothing: no dead tuples, no `synced_at` churn.
//! - Postgres: one statement per batch, `INSERT … SELECT FROM UNNEST(<one array per column>)
//!   ON CONFLICT … DO UPDATE`: one round trip whatever the batch size.
//! - SQLite: one statement per batch too, `INSERT … SELECT … FROM json_each($2)`: the batch
//!   travels as one JSON array of rows, each an array of the values sqlx would bind, in the same
//!   text forms (so a column stores what a bound value would). sqlx runs SQLite on a worker
//!   thread, and a statement per row paid a thread hand-off per row: most of a fresh load's time.
//!   A single row keeps the plain one-row statement.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::schema::quote_ident;
use super::{StoreError, Tx};
use crate::wolkvox::catalog::{DayRows, FieldType, Report};
use crate::wolkvox::values::Typed;

/// One row ready to store: typed values in the catalogue's field order, and the original JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedRow {
    /// One value per `report.fields`, same order.
    pub values: Vec<Typed>,
    /// The row as the API sent it, serialized JSON.
    pub raw: String,
    /// [`raw_hash`] of `raw`: lets a re-read skip unchanged rows without comparing documents.
    pub raw_hash: i64,
}

/// A stable 64-bit FNV-1a hash of a row's JSON text (stable across versions and platforms,
/// unlike `std`'s hasher), stored in `raw_hash`.
pub fn raw_hash(raw: &str) -> i64 {
    crate::hash::fnv1a(raw.bytes()) as i64
}

/// The `ON CONFLICT … DO UPDATE … WHERE` tail both backends share.
fn conflict_clause(report: &Report) -> String {
    let table = quote_ident(report.table);
    let key: Vec<String> =
        std::iter::once("account".to_string()).chain(report.key.iter().map(|k| quote_ident(k))).collect();
    let updates: Vec<String> = report
        .fields
        .iter()
        .map(|f| quote_ident(f.name))
        .chain(["raw".to_string(), "raw_hash".to_string(), "synced_at".to_string()])
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "ON CONFLICT ({}) DO UPDATE SET {} WHERE {table}.raw_hash IS DISTINCT FROM excluded.raw_hash",
        key.join(", "),
        updates.join(", ")
    )
}

fn columns(report: &Report) -> Vec<String> {
    report.fields.iter().map(|f| quote_ident(f.name)).collect()
}

/// Postgres: `$1` account, `$2..` one array per field, then raw, raw_hash, synced_at.
fn pg_upsert_sql(report: &Report) -> String {
    let cols = columns(report);
    let n = report.fields.len();
    let arrays: Vec<String> = report
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            // Decimals travel as text and are cast, so they bind exactly.
            match f.ty {
                FieldType::Decimal | FieldType::Percent => format!("${}::text[]::numeric[]", i + 2),
                ty => format!("${}::{}[]", i + 2, ty.pg_type()),
            }
        })
        .chain([format!("${}::text[]", n + 2), format!("${}::int8[]", n + 3)])
        .collect();
    format!(
        "INSERT INTO {table} (account, {cols}, raw, raw_hash, synced_at) \
         SELECT $1, {ucols}, u.raw::jsonb, u.raw_hash, ${synced} \
         FROM UNNEST({arrays}) AS u({cols}, raw, raw_hash) {conflict}",
        table = quote_ident(report.table),
        cols = cols.join(", "),
        ucols = cols.iter().map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", "),
        synced = n + 4,
        arrays = arrays.join(", "),
        conflict = conflict_clause(report),
    )
}

/// SQLite: one row, `$1` account, `$2..` fields, then raw, raw_hash, synced_at.
fn sqlite_upsert_sql(report: &Report) -> String {
    let n = report.fields.len();
    let params: Vec<String> = (1..=n + 4).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {} (account, {}, raw, raw_hash, synced_at) VALUES ({}) {}",
        quote_ident(report.table),
        columns(report).join(", "),
        params.join(", "),
        conflict_clause(report)
    )
}

/// SQLite, a batch: `$1` account, `$2` the rows as a JSON array of arrays (the fields, then raw
/// and raw_hash), `$3` synced_at. (`WHERE true` lets SQLite's parser tell the upsert's
/// `ON CONFLICT` from a join's `ON`.)
fn sqlite_batch_sql(report: &Report) -> String {
    let n = report.fields.len();
    let values: Vec<String> = (0..n + 2).map(|i| format!("j.value ->> {i}")).collect();
    format!(
        "INSERT INTO {} (account, {}, raw, raw_hash, synced_at) SELECT $1, {}, $3 FROM json_each($2) AS j WHERE true {}",
        quote_ident(report.table),
        columns(report).join(", "),
        values.join(", "),
        conflict_clause(report)
    )
}

/// `rows` as [`sqlite_batch_sql`]'s JSON: each value as sqlx binds it to SQLite (text,
/// integer, 0/1, `to_rfc3339` timestamps, ISO dates, times with their fraction when they have
/// one), so that a column stores exactly what the one-row statement would have.
fn sqlite_batch_json(rows: &[TypedRow]) -> Result<String, sqlx::Error> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(rows.iter().map(|r| 2 * r.raw.len() + 32 * r.values.len()).sum());
    // Writes into a Vec cannot fail; serde_json escapes the strings.
    let text = |out: &mut Vec<u8>, v: &str| serde_json::to_writer(out, v).map_err(|e| sqlx::Error::Encode(Box::new(e)));
    out.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"[" } else { b",[" });
        for value in &row.values {
            match value {
                Typed::Text(Some(v)) | Typed::Decimal(Some(v)) => text(&mut out, v)?,
                Typed::Integer(Some(v)) => write!(out, "{v}")?,
                Typed::Boolean(Some(v)) => out.push(if *v { b'1' } else { b'0' }),
                Typed::Timestamp(Some(v)) => text(&mut out, &v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))?,
                // sqlx binds `%F` and `%T%.f`: the same text as chrono's Display, which needs
                // neither escaping nor a format string parsed per value.
                Typed::Date(Some(v)) => write!(out, "\"{v}\"")?,
                Typed::Time(Some(v)) => write!(out, "\"{v}\"")?,
                _ => out.extend_from_slice(b"null"),
            }
            out.push(b',');
        }
        text(&mut out, &row.raw)?;
        write!(out, ",{}]", row.raw_hash)?;
    }
    out.push(b']');
    // serde_json writes UTF-8, the rest is ASCII.
    String::from_utf8(out).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A PostgreSQL statement being bound.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds one array per field of `report` (its typed values across `rows`), in field order, as
/// [`pg_upsert_sql`]'s UNNEST reads them.
fn bind_columns<'q>(mut query: PgQuery<'q>, report: &Report, rows: &[TypedRow]) -> PgQuery<'q> {
    for (i, field) in report.fields.iter().enumerate() {
        let column = rows.iter().map(|r| &r.values[i]);
        query = match field.ty {
            FieldType::Text | FieldType::Decimal | FieldType::Percent => query.bind(
                column
                    .map(|v| match v {
                        Typed::Text(v) | Typed::Decimal(v) => v.clone(),
                        _ => None,
                    })
                    .collect::<Vec<Option<String>>>(),
            ),
            FieldType::Integer | FieldType::Duration => query
                .bind(column.map(|v| if let Typed::Integer(v) = v { *v } else { None }).collect::<Vec<Option<i64>>>()),
            FieldType::Boolean => query
                .bind(column.map(|v| if let Typed::Boolean(v) = v { *v } else { None }).collect::<Vec<Option<bool>>>()),
            FieldType::Date => query.bind(
                column.map(|v| if let Typed::Date(v) = v { *v } else { None }).collect::<Vec<Option<NaiveDate>>>(),
            ),
            FieldType::Time => query.bind(
                column.map(|v| if let Typed::Time(v) = v { *v } else { None }).collect::<Vec<Option<NaiveTime>>>(),
            ),
            FieldType::Timestamp => query.bind(
                column
                    .map(|v| if let Typed::Timestamp(v) = v { *v } else { None })
                    .collect::<Vec<Option<DateTime<Utc>>>>(),
            ),
        };
    }
    query
}

/// `WHERE` of one day of an aggregate report, its parameters bound by [`bind_day`].
fn day_filter(day: DayRows, stream: Option<&str>) -> String {
    let (mut sql, next) = match day {
        DayRows::On { column, .. } => (format!("account = $1 AND {} = $2", quote_ident(column)), 3),
        DayRows::Between { column, .. } => {
            let column = quote_ident(column);
            (format!("account = $1 AND {column} >= $2 AND {column} < $3"), 4)
        }
    };
    if stream.is_some() {
        sql.push_str(&format!(" AND {} = ${next}", quote_ident(crate::wolkvox::catalog::STREAM)));
    }
    sql
}

/// Binds [`day_filter`]'s parameters; a macro because the two backends' query types differ.
macro_rules! bind_day {
    ($query:expr, $account:expr, $day:expr, $stream:expr) => {{
        let q = $query.bind($account);
        let q = match $day {
            DayRows::On { day, .. } => q.bind(day),
            DayRows::Between { from, to, .. } => q.bind(from).bind(to),
        };
        if let Some(s) = $stream {
            q.bind(s)
        } else {
            q
        }
    }};
}

impl Tx {
    /// Hashes of the stored rows of `report` whose `ts` field lies in `[from, to)`: a re-read of a
    /// window sends only rows whose hash is not among them.
    pub async fn known_hashes(
        &mut self,
        report: &Report,
        account: &str,
        ts: &str,
        stream: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<std::collections::HashSet<i64>, StoreError> {
        let mut sql = format!(
            "SELECT raw_hash FROM {} WHERE account = $1 AND {ts} >= $2 AND {ts} < $3 AND raw_hash IS NOT NULL",
            quote_ident(report.table),
            ts = quote_ident(ts)
        );
        // Streams share rows' text but not their key: a row of one code group says nothing of another's.
        if stream.is_some() {
            sql.push_str(&format!(" AND {} = $4", quote_ident(crate::wolkvox::catalog::STREAM)));
        }
        // The compiled-in report's table and time column, quoted; values are binds.
        let sql = super::sql::built(sql);
        let hashes: Vec<i64> = on_tx!(self, conn => {
            let q = sqlx::query_scalar(sql).bind(account).bind(from).bind(to);
            let q = if let Some(s) = stream { q.bind(s) } else { q };
            q.fetch_all(conn).await?
        });
        Ok(hashes.into_iter().collect())
    }

    /// Deletes an aggregate report's rows for one local `day` (and stream, for reports synced
    /// in several), so the day can be replaced whole; returns how many rows went.
    pub async fn delete_day(
        &mut self,
        report: &Report,
        account: &str,
        day: DayRows,
        stream: Option<&str>,
    ) -> Result<u64, StoreError> {
        // The compiled-in report's table and day column, quoted; values are binds.
        let sql =
            super::sql::built(format!("DELETE FROM {} WHERE {}", quote_ident(report.table), day_filter(day, stream)));
        Ok(on_tx!(self, conn => bind_day!(sqlx::query(sql), account, day, stream).execute(conn).await?.rows_affected()))
    }

    /// How many rows an aggregate report holds for one local day.
    pub async fn count_day(
        &mut self,
        report: &Report,
        account: &str,
        day: DayRows,
        stream: Option<&str>,
    ) -> Result<i64, StoreError> {
        // The compiled-in report's table and day column, quoted; values are binds.
        let sql = super::sql::built(format!(
            "SELECT count(*) FROM {} WHERE {}",
            quote_ident(report.table),
            day_filter(day, stream)
        ));
        Ok(on_tx!(self, conn => bind_day!(sqlx::query_scalar(sql), account, day, stream).fetch_one(conn).await?))
    }

    /// Upserts `rows` for `account` in `tx`; returns how many rows were inserted or changed.
    ///
    /// Their keys must be distinct: `ON CONFLICT` cannot touch one row twice in a statement. Typing
    /// guarantees it (`sync::typing` keeps the last copy of each key of an answer).
    pub async fn upsert(&mut self, report: &Report, account: &str, rows: &[TypedRow]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let synced_at = Utc::now();
        // Every upsert statement below names the compiled-in report's table and columns, quoted;
        // rows travel as binds (arrays, a JSON document, or one row's values).
        match self {
            Tx::Postgres(tx) => {
                let mut query = sqlx::query(super::sql::built(pg_upsert_sql(report))).bind(account);
                query = bind_columns(query, report, rows);
                let raws: Vec<&str> = rows.iter().map(|r| r.raw.as_str()).collect();
                let hashes: Vec<i64> = rows.iter().map(|r| r.raw_hash).collect();
                let done = query.bind(raws).bind(hashes).bind(synced_at).execute(&mut **tx).await?;
                Ok(done.rows_affected())
            }
            Tx::Sqlite(tx) if rows.len() > 1 => {
                let sql = super::sql::built(sqlite_batch_sql(report));
                let json = sqlite_batch_json(rows)?;
                let done = sqlx::query(sql).bind(account).bind(json).bind(synced_at).execute(&mut **tx).await?;
                Ok(done.rows_affected())
            }
            Tx::Sqlite(tx) => {
                let sql = super::sql::built(sqlite_upsert_sql(report));
                let mut changed = 0;
                for row in rows {
                    let mut query = sqlx::query(sql.clone()).bind(account);
                    for value in &row.values {
                        query = match value {
                            Typed::Text(v) | Typed::Decimal(v) => query.bind(v.as_deref()),
                            Typed::Integer(v) => query.bind(*v),
                            Typed::Boolean(v) => query.bind(*v),
                            Typed::Timestamp(v) => query.bind(*v),
                            Typed::Date(v) => query.bind(*v),
                            Typed::Time(v) => query.bind(*v),
                        };
                    }
                    changed += query
                        .bind(row.raw.as_str())
                        .bind(row.raw_hash)
                        .bind(synced_at)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                }
                Ok(changed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog;

    fn chat_14() -> &'static Report {
        catalog::chat_14()
    }

    #[test]
    fn the_postgres_upsert_is_one_unnest_statement_keyed_on_account_and_the_natural_key() {
        let sql = pg_upsert_sql(chat_14());
        assert!(sql.contains("ON CONFLICT (account, \"chat_id\", \"date\")"), "{sql}");
        assert!(sql.contains("WHERE \"chat_14\".raw_hash IS DISTINCT FROM excluded.raw_hash"), "{sql}");
        assert!(sql.contains("$10::timestamptz[]"), "date is the 9th field: {sql}");
        assert!(sql.contains("$12::text[]") && sql.contains("$13::int8[]") && sql.contains("$14 FROM"), "{sql}");
    }

    #[test]
    fn the_sqlite_upsert_binds_one_row_with_the_same_conflict_rule() {
        let sql = sqlite_upsert_sql(chat_14());
        assert!(sql.contains("VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"), "{sql}");
        assert!(sql.ends_with(&conflict_clause(chat_14())), "{sql}");
    }

    #[test]
    fn the_raw_hash_is_stable_and_tells_rows_apart() {
        assert_eq!(raw_hash(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(raw_hash(r#"{"a":"1"}"#), raw_hash(r#"{"a":"1"}"#));
        assert_ne!(raw_hash(r#"{"a":"1"}"#), raw_hash(r#"{"a":"2"}"#));
    }
}
