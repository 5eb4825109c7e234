//! Report tables, derived from the catalogue: one typed column per API field, plus `account`,
//! `raw` (the row as sent) and `synced_at`, keyed on `(account, <natural key>)`.
//!
//! Tables are created at start-up if missing, and a field the catalogue gained since is added as
//! a nullable column; nothing is ever dropped or retyped automatically, so an upgrade can never
//! destroy data. Identifiers come only from the catalogue and are always quoted.

use super::{Backend, Db, StoreError};
use crate::wolkvox::catalog::{FieldType, Report};

/// Quotes an identifier from the catalogue for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The column type a field is stored as on `backend`.
pub fn column_type(backend: Backend, ty: FieldType) -> &'static str {
    match backend {
        Backend::Postgres => ty.pg_type(),
        // SQLite has no date type: timestamps are ISO-8601 text in UTC, which sorts correctly.
        Backend::Sqlite => ty.sqlite_type(),
    }
}

/// `CREATE TABLE IF NOT EXISTS` for a report.
pub fn create_table_sql(backend: Backend, report: &Report) -> String {
    let (text, json, ts) = match backend {
        Backend::Postgres => ("text", "jsonb", "timestamptz"),
        Backend::Sqlite => ("TEXT", "TEXT", "TEXT"),
    };
    let mut columns = vec![format!("account {text} NOT NULL")];
    for field in report.fields {
        let not_null = if report.key.contains(&field.name) { " NOT NULL" } else { "" };
        columns.push(format!("{} {}{not_null}", quote_ident(field.name), column_type(backend, field.ty)));
    }
    columns.push(format!("raw {json} NOT NULL"));
    columns.push(format!("raw_hash {int}", int = if backend == Backend::Postgres { "bigint" } else { "INTEGER" }));
    columns.push(format!("synced_at {ts} NOT NULL"));
    let key: Vec<String> = std::iter::once("account".into()).chain(report.key.iter().map(|k| quote_ident(k))).collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    {},\n    PRIMARY KEY ({})\n)",
        quote_ident(report.table),
        columns.join(",\n    "),
        key.join(", ")
    )
}

/// Creates the report's table and time index if missing, and adds columns for new fields.
pub async fn ensure_table(db: &Db, report: &Report) -> Result<(), StoreError> {
    let backend = db.backend();
    let table = quote_ident(report.table);
    let mut statements = vec![create_table_sql(backend, report)];
    if let Some(ts) = report.timestamp {
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} ({})",
            quote_ident(&format!("{}_{}_idx", report.table, ts)),
            quote_ident(ts)
        ));
    }
    on_pool!(db, pool => {
        for sql in &statements {
            sqlx::query(sql).execute(pool).await?;
        }
    });
    let columns_sql = match backend {
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1)",
    };
    let existing: Vec<(String,)> =
        on_pool!(db, pool => sqlx::query_as(columns_sql).bind(report.table).fetch_all(pool).await?);
    let hash_type = if backend == Backend::Postgres { "bigint" } else { "INTEGER" };
    let wanted = report
        .fields
        .iter()
        .map(|f| (f.name, column_type(backend, f.ty)))
        .chain(std::iter::once(("raw_hash", hash_type)));
    for (name, ty) in wanted {
        if existing.iter().any(|(c,)| c == name) {
            continue;
        }
        let sql = format!("ALTER TABLE {table} ADD COLUMN {} {ty}", quote_ident(name));
        on_pool!(db, pool => {
            sqlx::query(&sql).execute(pool).await?;
        });
        tracing::info!(report = report.api, column = name, "Added a column for a new catalogue field");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog;

    #[test]
    fn the_table_is_keyed_on_account_and_the_natural_key_with_typed_columns() {
        let sql = create_table_sql(Backend::Postgres, catalog::find("chat_14").unwrap());
        assert!(sql.contains("PRIMARY KEY (account, \"chat_id\", \"date\")"), "{sql}");
        assert!(sql.contains("\"date\" timestamptz NOT NULL"), "{sql}");
        assert!(sql.contains("\"cod_act\" text,"), "{sql}");
        assert!(sql.contains("raw jsonb NOT NULL"), "{sql}");
        let lite = create_table_sql(Backend::Sqlite, catalog::find("chat_14").unwrap());
        assert!(lite.contains("\"date\" TEXT NOT NULL") && lite.contains("raw TEXT NOT NULL"), "{lite}");
    }

    #[test]
    fn identifiers_are_quoted_even_with_quotes_inside() {
        assert_eq!(quote_ident("yes/no"), "\"yes/no\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
