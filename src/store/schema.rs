//! Report tables, derived from the catalogue: one typed column per API field, plus `account`,
//! `raw` (the row as sent) and `synced_at`, keyed on `(account, <natural key>)`.
//!
//! Tables are created at start-up if missing, and a field the catalogue gained since is added as
//! a nullable column; nothing is ever dropped or retyped automatically, so an upgrade can never
//! destroy data. A key column the catalogue gained (the slot's `pass`, see `catalog`) is added
//! with its default, which every stored row takes, and the primary key rebuilt to include it
//! ([`add_key_columns`]). Identifiers come only from the catalogue and are always quoted.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, PgPool, SqlitePool};

use super::{sql, Backend, Db, StoreError, DEFAULT_SCHEMA};
use crate::wolkvox::catalog::{FieldType, Report, PASS};

/// The schema a PostgreSQL connection's `search_path` names: `configured`, or
/// [`DEFAULT_SCHEMA`], unless the database holds the tables of a release from before schemas in
/// `public` and none in the default schema: those stay where they are (a WARN says how to keep
/// or move them), since starting afresh in an empty schema would sync everything again.
pub(super) async fn resolve(conn: &mut PgConnection, configured: Option<&str>) -> Result<String, StoreError> {
    if let Some(schema) = configured {
        return Ok(schema.to_string());
    }
    // pg_class, not to_regclass: naming a schema the role may not use would be an error.
    let (ours, legacy): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = $1 AND c.relname = 'etl_watermark'),
                EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'public' AND c.relname = 'etl_watermark')",
    )
    .bind(DEFAULT_SCHEMA)
    .fetch_one(conn)
    .await?;
    if legacy && ours {
        // Half moved, or two deployments: either way one of them would be read as empty.
        return Err(StoreError::SchemaAmbiguous);
    }
    if legacy {
        tracing::warn!(
            "The tables are in schema public (made by a release from before schemas) and stay there. \
             Fix: set database.schema = \"public\" to keep them there and silence this (docs/security.md, \
             \"Least privilege\")"
        );
        return Ok("public".to_string());
    }
    Ok(DEFAULT_SCHEMA.to_string())
}

/// Creates the connection's schema (its `search_path`) if missing, owned by the connecting role.
pub(super) async fn create_schema(pool: &PgPool) -> Result<(), StoreError> {
    let schema: String = sqlx::query_scalar("SELECT current_setting('search_path')").fetch_one(pool).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)")
        .bind(&schema)
        .fetch_one(pool)
        .await?;
    // Asked first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
    // exists, which a role that only owns its schema lacks.
    if !exists {
        // Validated by the configuration as a plain lower-case identifier; quoted anyway.
        sqlx::query(sql::built(format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&schema)))).execute(pool).await?;
    }
    Ok(())
}

impl Db {
    /// What the database still lacks for `reports`: migrations not applied (or applied by another
    /// release), tables, columns. Empty when nothing needs a change, so a role without DDL rights
    /// can run; a start-up then takes no schema lock and changes nothing.
    pub async fn missing_schema(&self, reports: &[&Report]) -> Result<Vec<String>, StoreError> {
        let mut missing = Vec::new();
        let (migrator, tables_sql) = match self.backend() {
            Backend::Postgres => (
                &super::PG_MIGRATOR,
                "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema()",
            ),
            Backend::Sqlite => (
                &super::SQLITE_MIGRATOR,
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
            ),
        };
        let columns: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(tables_sql).fetch_all(pool).await?);
        let indexes_sql = match self.backend() {
            Backend::Postgres => "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
        };
        let indexes: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(indexes_sql).fetch_all(pool).await?);
        let mut tables: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (table, column) in &columns {
            tables.entry(table.as_str()).or_default().insert(column.as_str());
        }
        if !tables.contains_key("_sqlx_migrations") {
            missing.push("the migrations".to_string());
        } else {
            let applied: Vec<(i64, Vec<u8>, bool)> = on_pool!(self, pool => {
                sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations").fetch_all(pool).await?
            });
            let known: HashMap<i64, &[u8]> = migrator
                .iter()
                .filter(|m| !m.migration_type.is_down_migration())
                .map(|m| (m.version, m.checksum.as_ref()))
                .collect();
            for (version, checksum, success) in &applied {
                // Unknown, changed or failed: the migrator's own checks give the precise error.
                if known.get(version).is_none_or(|c| *c != checksum.as_slice()) || !success {
                    missing.push(format!("a check of migration {version}"));
                }
            }
            let mut versions: Vec<i64> = known.keys().copied().collect();
            versions.sort();
            for version in versions {
                if !applied.iter().any(|(v, _, ok)| *v == version && *ok) {
                    missing.push(format!("migration {version}"));
                }
            }
        }
        for report in reports {
            let Some(have) = tables.get(report.table) else {
                missing.push(format!("table {}", report.table));
                continue;
            };
            for field in report.fields.iter().map(|f| f.name).chain(["raw_hash"]) {
                if !have.contains(field) {
                    missing.push(format!("column {}.{field}", report.table));
                }
            }
            // Without its time index every window's read of stored hashes scans the whole table.
            if let Some(ts) = report.timestamp {
                let index = format!("{}_{}_idx", report.table, ts);
                if !indexes.iter().any(|(name,)| *name == index) {
                    missing.push(format!("index {index}"));
                }
            }
        }
        Ok(missing)
    }
}

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

/// The value a key column takes in rows stored before the catalogue keyed on it, if it can be
/// added to a table that has rows: the first pass.
fn key_default(name: &str) -> Option<&'static str> {
    (name == PASS).then_some("1")
}

/// `CREATE TABLE IF NOT EXISTS` for a report.
pub fn create_table_sql(backend: Backend, report: &Report) -> String {
    let (text, json, ts) = match backend {
        Backend::Postgres => ("text", "jsonb", "timestamptz"),
        Backend::Sqlite => ("TEXT", "TEXT", "TEXT"),
    };
    let mut columns = vec![format!("account {text} NOT NULL")];
    for field in report.fields {
        let not_null = match (report.key.contains(&field.name), key_default(field.name)) {
            (true, Some(default)) => format!(" NOT NULL DEFAULT {default}"),
            (true, None) => " NOT NULL".to_string(),
            (false, _) => String::new(),
        };
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

/// Creates the report's table and time index if missing, and adds columns for new fields (and
/// for new key columns, with the key that includes them).
pub(super) async fn ensure_table(db: &Db, report: &Report) -> Result<(), StoreError> {
    let backend = db.backend();
    let table = quote_ident(report.table);
    let columns_sql = match backend {
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1)",
    };
    let existing: Vec<(String,)> =
        on_pool!(db, pool => sqlx::query_as(columns_sql).bind(report.table).fetch_all(pool).await?);
    let new_keys: Vec<&str> = report
        .key
        .iter()
        .copied()
        .filter(|k| key_default(k).is_some() && !existing.iter().any(|(c,)| c == k))
        .collect();
    if !existing.is_empty() && !new_keys.is_empty() {
        add_key_columns(db, report, &new_keys).await?;
    }
    let mut statements = vec![create_table_sql(backend, report)];
    if let Some(ts) = report.timestamp {
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} ({})",
            quote_ident(&format!("{}_{}_idx", report.table, ts)),
            quote_ident(ts)
        ));
    }
    on_pool!(db, pool => {
        for text in &statements {
            // DDL of the compiled-in report: its table, columns and index, quoted.
            sqlx::query(sql::built(text.as_str())).execute(pool).await?;
        }
    });
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
        // A compiled-in catalogue column and its type, quoted.
        let sql = sql::built(format!("ALTER TABLE {table} ADD COLUMN {} {ty}", quote_ident(name)));
        on_pool!(db, pool => {
            sqlx::query(sql).execute(pool).await?;
        });
        tracing::info!(report = report.api, column = name, "Added a column for a new catalogue field");
    }
    Ok(())
}

/// Adds `columns` (key columns of the catalogue, each with a [`key_default`]) to a report table
/// that exists without them, and makes the primary key the catalogue's: every stored row takes
/// the default. One transaction, so a failure leaves the table as it was. PostgreSQL alters the
/// table in place; SQLite cannot change a primary key, so the table is copied into its new shape
/// (every column kept, the catalogue's or not, with its type, constraint and default) and its
/// indexes are made again.
async fn add_key_columns(db: &Db, report: &Report, columns: &[&str]) -> Result<(), StoreError> {
    let table = quote_ident(report.table);
    let key: Vec<String> = std::iter::once("account".into()).chain(report.key.iter().map(|k| quote_ident(k))).collect();
    let key = key.join(", ");
    let added = |backend: Backend| -> Vec<String> {
        columns
            .iter()
            .filter_map(|name| {
                let ty = report.field(name).map(|f| column_type(backend, f.ty))?;
                Some(format!("{} {ty} NOT NULL DEFAULT {}", quote_ident(name), key_default(name)?))
            })
            .collect()
    };
    match db {
        Db::Postgres(pool) => rekey_postgres(pool, &table, &key, added(Backend::Postgres)).await?,
        Db::Sqlite(pool) => rekey_sqlite(pool, report, &table, &key, added(Backend::Sqlite)).await?,
    }
    tracing::info!(
        report = report.api,
        columns = columns.join(", "),
        "Added key columns to the table and rebuilt its primary key; stored rows took their defaults"
    );
    Ok(())
}

/// [`add_key_columns`] on PostgreSQL: the table altered in place, in one transaction.
async fn rekey_postgres(pool: &PgPool, table: &str, key: &str, added: Vec<String>) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    // Rebuilding the key of a big table can take longer than one statement may: a
    // start-up cut off here would fail the same way at every start. Lock waits stay
    // bounded (the daemon's lock_timeout), so a busy table fails start-up clearly.
    sqlx::query("SET LOCAL statement_timeout = 0").execute(&mut *tx).await?;
    // The compiled-in report's table, key columns and their defaults, and the name the
    // server gave its primary key, all quoted.
    for column in added {
        sqlx::query(sql::built(format!("ALTER TABLE {table} ADD COLUMN {column}"))).execute(&mut *tx).await?;
    }
    let primary: Option<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'",
    )
    .bind(table)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(name) = primary {
        sqlx::query(sql::built(format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote_ident(&name))))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(sql::built(format!("ALTER TABLE {table} ADD PRIMARY KEY ({key})"))).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// [`add_key_columns`] on SQLite: the table copied into its new shape, its indexes made again,
/// in one transaction.
async fn rekey_sqlite(
    pool: &SqlitePool,
    report: &Report,
    table: &str,
    key: &str,
    added: Vec<String>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let old: Vec<(String, String, bool, Option<String>)> =
        sqlx::query_as("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info($1) ORDER BY cid")
            .bind(report.table)
            .fetch_all(&mut *tx)
            .await?;
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL")
            .bind(report.table)
            .fetch_all(&mut *tx)
            .await?;
    let kept: Vec<String> = old.iter().map(|(name, ..)| quote_ident(name)).collect();
    let mut definitions: Vec<String> = old
        .iter()
        .map(|(name, ty, not_null, default)| {
            let mut column = format!("{} {ty}", quote_ident(name));
            if *not_null {
                column.push_str(" NOT NULL");
            }
            if let Some(default) = default {
                column.push_str(&format!(" DEFAULT {default}"));
            }
            column
        })
        .collect();
    definitions.extend(added);
    let upgraded = quote_ident(&format!("{}__rekeyed", report.table));
    let statements = [
        format!("CREATE TABLE {upgraded} (\n    {},\n    PRIMARY KEY ({key})\n)", definitions.join(",\n    ")),
        format!("INSERT INTO {upgraded} ({cols}) SELECT {cols} FROM {table}", cols = kept.join(", ")),
        format!("DROP TABLE {table}"),
        format!("ALTER TABLE {upgraded} RENAME TO {table}"),
    ];
    // The compiled-in report's table and key, and the column definitions and index DDL
    // SQLite kept of the table we created: nothing from outside the schema.
    for text in statements.iter().chain(&indexes) {
        sqlx::query(sql::built(text.as_str())).execute(&mut *tx).await?;
    }
    tx.commit().await?;
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
    fn a_slot_keyed_by_its_time_of_day_is_keyed_on_its_pass_too_the_first_by_default() {
        let sql = create_table_sql(Backend::Postgres, catalog::find("skill_4").unwrap());
        assert!(sql.contains("PRIMARY KEY (account, \"day\", \"skill_id\", \"hour\", \"pass\")"), "{sql}");
        assert!(sql.contains("\"pass\" bigint NOT NULL DEFAULT 1"), "{sql}");
        let lite = create_table_sql(Backend::Sqlite, catalog::find("agent_8").unwrap());
        assert!(lite.contains("\"pass\" INTEGER NOT NULL DEFAULT 1"), "{lite}");
    }

    #[test]
    fn identifiers_are_quoted_even_with_quotes_inside() {
        assert_eq!(quote_ident("yes/no"), "\"yes/no\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
