//! `accept-empty`: the operator's decision that a day the API keeps answering empty really is
//! empty. The only way a suspect day's stored rows are removed without an answer with rows;
//! recorded in `etl_audit` in the same transaction.

use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;

use crate::config::{ConfigError, Settings};
use crate::startup::{connect_and_migrate, prepare_schema};
use crate::store::audit::AuditEntry;
use crate::store::watermark::StreamKey;
use crate::time::{ceil_to_midnight, local_to_utc};

/// Removes `report`'s stored rows for `day` and its suspect mark, in one transaction.
pub async fn accept_empty(settings: &Settings, report: &str, day: NaiveDate, stream: &str) -> anyhow::Result<ExitCode> {
    let config = settings.report_config(report)?;
    let report = config.report;
    let (start, end) =
        (day.and_time(chrono::NaiveTime::MIN), ceil_to_midnight(day.and_hms_opt(0, 0, 1).unwrap_or_default()));
    let tz = settings.timezone;
    let rows =
        report.day_rows(day, local_to_utc(tz, start), local_to_utc(tz, end)).ok_or_else(|| ConfigError::Invalid {
            key: "--report".into(),
            problem: format!("{} is not read in whole days", report.api),
            fix: "use it only for aggregates".into(),
        })?;
    let db = connect_and_migrate(settings).await?;
    prepare_schema(&db, settings.db_timeouts.lock, &[report]).await?;
    let key = StreamKey { account: &settings.account, report: report.api, stream };
    let in_stream = (!report.streams.is_empty()).then_some(stream);
    let mut tx = db.begin().await?;
    let removed = tx.delete_day(report, &settings.account, rows, in_stream).await?;
    let was_suspect = tx.clear_suspect(key, day).await?;
    // The day's roll-up says what is stored now: nothing.
    let day_end = local_to_utc(tz, end);
    let entry = crate::store::ledger::DayEntry { day, day_end, rows: 0, read_at: chrono::Utc::now() };
    tx.touch_day(key, &entry).await?;
    let suspect = if was_suspect { ", marked suspect" } else { "" };
    let old = format!("{day}: {removed} stored row(s){suspect}");
    tx.audit(&AuditEntry::now(key, "accept-empty", Some(old), Some(format!("{day}: accepted as empty, 0 rows"))))
        .await?;
    tx.commit().await.context("cannot accept the day")?;
    println!(
        "{}: {day} accepted as empty; {removed} stored row(s) removed{}",
        report.api,
        if was_suspect { "" } else { " (it was not marked suspect)" }
    );
    Ok(ExitCode::SUCCESS)
}
