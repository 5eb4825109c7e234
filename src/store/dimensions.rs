//! Dimension tables with history (slowly changing, type 2): applying one snapshot of an
//! `information.php` API to its `dim_*` table. The rules it owns:
//! - a key whose tracked attributes changed gets its current version closed at the read and a
//!   new version from the read; a new key's first version starts at the epoch (so older report
//!   rows still find it), a key that comes back after being closed starts at the read;
//! - volatile attributes (`last_use`, …) are updated in place on the current version;
//! - a key missing from the snapshot is closed, unless the snapshot is *suspect* (empty, or less
//!   than half the current rows while holding some): then nothing is closed. An empty answer never
//!   erases a dimension, as it never erases a report's day.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use sqlx::SqlStr;

use super::{sql, Db, StoreError, Tx};
use crate::wolkvox::catalog::dimensions::Dimension;

/// One object of a snapshot, its values in the dimension's column order (key, tracked,
/// volatile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimRow {
    /// Key, tracked and volatile values, in [`Dimension::columns`] order.
    pub values: Vec<Option<String>>,
    /// A hash of the tracked values: a change of it starts a new version.
    pub attr_hash: i64,
    /// The object as sent.
    pub raw: String,
}

/// What applying a snapshot did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Keys seen for the first time (or back after being closed).
    pub inserted: u64,
    /// Keys whose tracked attributes changed: a version closed and one opened.
    pub changed: u64,
    /// Keys missing from the snapshot, closed.
    pub closed: u64,
    /// Current rows before the snapshot.
    pub current_before: u64,
    /// The snapshot was empty or much smaller than the current rows: nothing was closed.
    pub suspect: bool,
}

impl Tx {
    /// Applies `rows` (one whole snapshot of `dim`, keys distinct) to its table for `account`, read
    /// at `at`, as part of this transaction; the history rules are the module's.
    pub async fn apply_dimension(
        &mut self,
        dim: &Dimension,
        account: &str,
        rows: &[DimRow],
        at: DateTime<Utc>,
        keep_open: &[String],
    ) -> Result<Applied, StoreError> {
        let keys = dim.key.len();
        let (current, ever) = self.stored_keys(dim, account).await?;
        let mut applied = Applied { current_before: current.len() as u64, ..Applied::default() };
        applied.suspect = !current.is_empty() && rows.len() * 2 < current.len();
        let Statements { insert: insert_sql, close: close_sql, touch: touch_sql } =
            Statements::new(dim, matches!(self, Tx::Postgres(_)));
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let mut seen = HashSet::new();
        for row in rows {
            let key: Vec<String> = row.values[..keys].iter().map(|v| v.clone().unwrap_or_default()).collect();
            seen.insert(key.clone());
            let from = match current.get(&key) {
                Some(hash) if *hash == row.attr_hash => {
                    // Unchanged: only the volatile attributes (and raw) move.
                    on_tx!(self, conn => {
                        let mut q = sqlx::query(touch_sql.clone());
                        for value in &row.values[keys + dim.tracked.len()..] {
                            q = q.bind(value.as_deref());
                        }
                        q = q.bind(&row.raw).bind(account);
                        for k in &key {
                            q = q.bind(k);
                        }
                        q.bind(true).execute(&mut *conn).await?;
                    });
                    continue;
                }
                Some(_) => {
                    close(self, &close_sql, account, &key, at).await?;
                    applied.changed += 1;
                    at
                }
                None if ever.contains(&key) => {
                    applied.inserted += 1;
                    at
                }
                None => {
                    applied.inserted += 1;
                    epoch
                }
            };
            on_tx!(self, conn => {
                let mut q = sqlx::query(insert_sql.clone()).bind(account);
                for value in &row.values {
                    q = q.bind(value.as_deref());
                }
                q.bind(from).bind(true).bind(row.attr_hash).bind(&row.raw).execute(&mut *conn).await?;
            });
        }
        if !applied.suspect {
            // A part asked on its own that answered empty (one skill's agents) keeps its keys open:
            // the empty-answer rule per request, not only for the whole snapshot.
            for key in current.keys().filter(|k| !seen.contains(*k) && !keep_open.contains(&k[0])) {
                close(self, &close_sql, account, key, at).await?;
                applied.closed += 1;
            }
        }
        Ok(applied)
    }

    /// The keys stored for `account`: the current ones with their attribute hash, and every key
    /// ever stored (a key back after being closed starts at the read, not at the epoch).
    async fn stored_keys(
        &mut self,
        dim: &Dimension,
        account: &str,
    ) -> Result<(CurrentKeys, HashSet<Vec<String>>), StoreError> {
        let keys = dim.key.len();
        let key_list = dim.key.join(", ");
        let current_sql =
            format!("SELECT {key_list}, attr_hash FROM {} WHERE account = $1 AND is_current = $2", dim.table);
        let ever_sql = format!("SELECT DISTINCT {key_list} FROM {} WHERE account = $1", dim.table);
        // Every statement here names only the compiled-in dimension's table and columns; values are binds.
        let (current_sql, ever_sql) = (sql::built(current_sql), sql::built(ever_sql));
        let mut current: CurrentKeys = HashMap::new();
        let mut ever: HashSet<Vec<String>> = HashSet::new();
        on_tx!(self, conn => {
            let found = sqlx::query(current_sql).bind(account).bind(true).fetch_all(&mut *conn).await?;
            for row in found {
                let key = (0..keys).map(|i| sqlx::Row::try_get::<String, _>(&row, i)).collect::<Result<Vec<_>, _>>()?;
                current.insert(key, sqlx::Row::try_get::<i64, _>(&row, keys)?);
            }
            let found = sqlx::query(ever_sql).bind(account).fetch_all(&mut *conn).await?;
            for row in found {
                ever.insert((0..keys).map(|i| sqlx::Row::try_get::<String, _>(&row, i)).collect::<Result<Vec<_>, _>>()?);
            }
        });
        Ok((current, ever))
    }
}

/// The current keys of a dimension's table, with their attribute hash.
type CurrentKeys = HashMap<Vec<String>, i64>;

/// The statements a snapshot is applied with. Each names only the compiled-in dimension's table
/// and columns; values are binds.
struct Statements {
    /// A new version of a key.
    insert: SqlStr,
    /// A key's current version closed.
    close: SqlStr,
    /// An unchanged key's volatile attributes (and raw) updated in place.
    touch: SqlStr,
}

impl Statements {
    fn new(dim: &Dimension, postgres: bool) -> Statements {
        let jsonb = if postgres { "::jsonb" } else { "" };
        let keys = dim.key.len();
        let columns: Vec<&str> = dim.columns().collect();
        let n = columns.len();
        let insert_sql = format!(
            "INSERT INTO {} (account, {}, valid_from, valid_to, is_current, attr_hash, raw) VALUES ($1, {}, ${}, NULL, ${}, ${}, ${}{jsonb})",
            dim.table,
            columns.join(", "),
            (0..n).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", "),
            n + 2,
            n + 3,
            n + 4,
            n + 5
        );
        let key_match =
            dim.key.iter().enumerate().map(|(i, k)| format!("{k} = ${}", i + 4)).collect::<Vec<_>>().join(" AND ");
        let close_sql = format!(
            "UPDATE {} SET valid_to = $1, is_current = $2 WHERE account = $3 AND {key_match} AND is_current = ${}",
            dim.table,
            keys + 4
        );
        let volatile = &columns[keys + dim.tracked.len()..];
        let set_volatile: String = volatile.iter().enumerate().map(|(i, c)| format!("{c} = ${}, ", i + 1)).collect();
        let v = volatile.len();
        let touch_key =
            dim.key.iter().enumerate().map(|(i, k)| format!("{k} = ${}", v + 3 + i)).collect::<Vec<_>>().join(" AND ");
        let touch_sql = format!(
            "UPDATE {} SET {set_volatile}raw = ${}{jsonb} WHERE account = ${} AND {touch_key} AND is_current = ${}",
            dim.table,
            v + 1,
            v + 2,
            v + 3 + keys
        );
        Statements { insert: sql::built(insert_sql), close: sql::built(close_sql), touch: sql::built(touch_sql) }
    }
}

async fn close(tx: &mut Tx, sql: &SqlStr, account: &str, key: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        let mut q = sqlx::query(sql.clone()).bind(at).bind(false).bind(account);
        for k in key {
            q = q.bind(k);
        }
        q.bind(true).execute(&mut *conn).await?;
    });
    Ok(())
}

impl Db {
    /// The current keys' first key column (e.g. every current `skill_id`), for APIs asked per key.
    pub async fn dimension_keys(&self, dim: &Dimension, account: &str) -> Result<Vec<String>, StoreError> {
        // The compiled-in dimension's table and key column.
        let sql = sql::built(format!(
            "SELECT {} FROM {} WHERE account = $1 AND is_current = $2 ORDER BY 1",
            dim.key[0], dim.table
        ));
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(account).bind(true).fetch_all(pool).await?))
    }

    /// Whether `dim` was ever read for `account`.
    pub async fn dimension_ever_read(&self, dim: &Dimension, account: &str) -> Result<bool, StoreError> {
        // The compiled-in dimension's table.
        let sql = sql::built(format!("SELECT count(*) FROM {} WHERE account = $1", dim.table));
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(sql).bind(account).fetch_one(pool).await?);
        Ok(n > 0)
    }
}
