//! The `etl_audit` table: one row per operator command that changes state (`watermark set`,
//! `watermark reset`, `accept-empty`). An entry is written through the command's [`Tx`], so it
//! commits with the change it describes or not at all.

use chrono::{DateTime, Utc};

use super::watermark::StreamKey;
use super::{Db, StoreError, Tx};

/// One operator change, as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AuditEntry {
    /// When the command ran.
    pub at: DateTime<Utc>,
    /// The OS user that ran it (see [`operator`]).
    pub who: String,
    /// `watermark set`, `watermark reset` or `accept-empty`.
    pub command: String,
    /// The operation.
    pub account: String,
    /// The report's api name.
    pub report: String,
    /// The stream (`""` for reports synced as one stream).
    pub stream: String,
    /// The state before, as text; `None` when there was none.
    pub old_value: Option<String>,
    /// The state after, as text; `None` when there is none.
    pub new_value: Option<String>,
}

impl AuditEntry {
    /// An entry for a change to `key` made now by this process's user ([`operator`]).
    pub fn now(key: StreamKey<'_>, command: &str, old_value: Option<String>, new_value: Option<String>) -> Self {
        AuditEntry {
            at: Utc::now(),
            who: operator(),
            command: command.into(),
            account: key.account.into(),
            report: key.report.into(),
            stream: key.stream.into(),
            old_value,
            new_value,
        }
    }
}

const INSERT: &str = "INSERT INTO etl_audit (at, who, command, account, report, stream, old_value, new_value)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl Tx {
    /// Records an operator change in the transaction that makes it, to commit with it.
    pub async fn audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        on_tx!(self, conn => {
            sqlx::query(INSERT)
                .bind(e.at)
                .bind(&e.who)
                .bind(&e.command)
                .bind(&e.account)
                .bind(&e.report)
                .bind(&e.stream)
                .bind(&e.old_value)
                .bind(&e.new_value)
                .execute(conn)
                .await?;
        });
        Ok(())
    }
}

const RECENT: &str = "SELECT at, who, command, account, report, stream, old_value, new_value FROM etl_audit
     WHERE ($1 IS NULL OR account = $1) ORDER BY id DESC LIMIT $2";

impl Db {
    /// The latest `limit` entries, newest first; with `account`, only that operation's.
    pub async fn recent_audit(&self, account: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(RECENT).bind(account).bind(limit).fetch_all(pool).await?))
    }
}

/// Who runs this process: `$USER`, else `$LOGNAME`, else the numeric uid (`uid:1000`), e.g.
/// under systemd or in a container where neither variable is set.
pub fn operator() -> String {
    ["USER", "LOGNAME"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            format!("uid:{uid}")
        })
}
