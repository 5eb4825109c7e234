//! Upserting report rows: one statement per batch, keyed on the report's natural key.
//!
//! The statement is derived from the catalogue entry, so no field list is written by hand:
//! `INSERT … SELECT FROM UNNEST(<one array per column>) ON CONFLICT (account, key…) DO UPDATE …
//! WHERE raw IS DISTINCT FROM EXCLUDED.raw`. The `WHERE` makes a look-back re-read of unchanged
//! rows write nothing (no dead tuples, no `synced_at` churn). Identifiers come only from the
//! catalogue and are quoted; values are always bound.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::wolkvox::catalog::{FieldType, Report};
use crate::wolkvox::values::Typed;

/// One row ready to store: typed values in the catalogue's field order, and the original JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedRow {
    /// One value per `report.fields`, same order.
    pub values: Vec<Typed>,
    /// The row as the API sent it, serialized JSON.
    pub raw: String,
}

/// Quotes an identifier from the catalogue for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn upsert_sql(report: &Report) -> String {
    let columns: Vec<String> = report.fields.iter().map(|f| quote_ident(f.name)).collect();
    let table = quote_ident(report.table);
    let mut unnest = Vec::with_capacity(columns.len() + 1);
    for (i, field) in report.fields.iter().enumerate() {
        let ty = match field.ty {
            FieldType::Text => "text",
            FieldType::Timestamp => "timestamptz",
        };
        unnest.push(format!("${}::{ty}[]", i + 2));
    }
    unnest.push(format!("${}::text[]", report.fields.len() + 2));
    let key: Vec<String> = std::iter::once("account".to_string())
        .chain(report.key.iter().map(|k| quote_ident(k)))
        .collect();
    let updates: Vec<String> = columns
        .iter()
        .chain(["raw".to_string(), "synced_at".to_string()].iter())
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} (account, {cols}, raw, synced_at) \
         SELECT $1, {ucols}, u.raw::jsonb, now() \
         FROM UNNEST({unnest}) AS u({cols}, raw) \
         ON CONFLICT ({key}) DO UPDATE SET {updates} \
         WHERE {table}.raw IS DISTINCT FROM EXCLUDED.raw",
        cols = columns.join(", "),
        ucols = columns
            .iter()
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        unnest = unnest.join(", "),
        key = key.join(", "),
        updates = updates.join(", "),
    )
}

/// Keeps the last occurrence of each natural key: `ON CONFLICT` cannot touch one row twice in
/// a statement, and the API's later copy of a row is the one to keep.
fn dedupe_by_key<'a>(report: &Report, rows: &'a [TypedRow]) -> Vec<&'a TypedRow> {
    let key_idx: Vec<usize> = report
        .key
        .iter()
        .filter_map(|k| report.fields.iter().position(|f| f.name == *k))
        .collect();
    let mut last: HashMap<Vec<&Typed>, usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        last.insert(key_idx.iter().map(|&k| &row.values[k]).collect(), i);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| &rows[i]).collect()
}

/// Upserts `rows` for `account`; returns how many rows were inserted or changed.
pub async fn upsert(
    conn: &mut PgConnection,
    report: &Report,
    account: &str,
    rows: &[TypedRow],
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let rows = dedupe_by_key(report, rows);
    let sql = upsert_sql(report);
    let mut query = sqlx::query(&sql).bind(account);
    for (i, field) in report.fields.iter().enumerate() {
        query = match field.ty {
            FieldType::Text => query.bind(
                rows.iter()
                    .map(|r| match &r.values[i] {
                        Typed::Text(v) => v.clone(),
                        Typed::Timestamp(_) => None,
                    })
                    .collect::<Vec<Option<String>>>(),
            ),
            FieldType::Timestamp => query.bind(
                rows.iter()
                    .map(|r| match &r.values[i] {
                        Typed::Timestamp(v) => *v,
                        Typed::Text(_) => None,
                    })
                    .collect::<Vec<Option<DateTime<Utc>>>>(),
            ),
        };
    }
    query = query.bind(rows.iter().map(|r| r.raw.as_str()).collect::<Vec<&str>>());
    Ok(query.execute(conn).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog::CHAT_14;

    #[test]
    fn the_upsert_is_keyed_on_account_and_the_natural_key_and_skips_unchanged_rows() {
        let sql = upsert_sql(&CHAT_14);
        assert!(
            sql.contains("ON CONFLICT (account, \"chat_id\", \"date\")"),
            "{sql}"
        );
        assert!(
            sql.contains("WHERE \"chat_14\".raw IS DISTINCT FROM EXCLUDED.raw"),
            "{sql}"
        );
        assert!(
            sql.contains("$10::timestamptz[]"),
            "date is the 9th field: {sql}"
        );
        assert!(
            sql.contains("$12::text[]"),
            "raw is the last parameter: {sql}"
        );
    }

    #[test]
    fn identifiers_are_quoted_even_with_quotes_inside() {
        assert_eq!(quote_ident("yes/no"), "\"yes/no\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn duplicate_keys_in_a_batch_keep_the_last_copy() {
        let row = |chat: &str, cod: &str| TypedRow {
            values: CHAT_14
                .fields
                .iter()
                .map(|f| match f.name {
                    "chat_id" => Typed::Text(Some(chat.into())),
                    "cod_act" => Typed::Text(Some(cod.into())),
                    "date" => Typed::Timestamp(Some(DateTime::<Utc>::UNIX_EPOCH)),
                    _ => Typed::Text(None),
                })
                .collect(),
            raw: cod.into(),
        };
        let rows = vec![row("1", "old"), row("2", "x"), row("1", "new")];
        let kept: Vec<&str> = dedupe_by_key(&CHAT_14, &rows)
            .iter()
            .map(|r| r.raw.as_str())
            .collect();
        assert_eq!(kept, vec!["x", "new"]);
    }
}
