//! `watermark`: read, move or clear a report's watermark — the operator's way to re-read a range
//! (move it back) or skip one (move it forward). Sync itself never uses `force`. Every change is
//! recorded in `etl_audit` in the transaction that makes it.

use std::process::ExitCode;

use chrono::Utc;

use crate::cli::WatermarkAction;
use crate::config::{ConfigError, Settings};
use crate::startup::connect_and_migrate;
use crate::store::audit::AuditEntry;
use crate::store::watermark::StreamKey;
use crate::time::parse_local_datetime;
use crate::time::{range_start, utc_to_local};

/// `watermark get|set|reset` for one report stream.
pub async fn watermark(settings: Settings, action: WatermarkAction) -> anyhow::Result<ExitCode> {
    let db = connect_and_migrate(&settings).await?;
    let tz = settings.timezone;
    let (report, stream) = match &action {
        WatermarkAction::Get { report, stream }
        | WatermarkAction::Set { report, stream, .. }
        | WatermarkAction::Reset { report, stream } => (report.as_str(), stream.as_str()),
    };
    settings.report_config(report)?;
    let key = StreamKey { account: &settings.account, report, stream };
    let show = |w: Option<chrono::DateTime<Utc>>| -> String {
        w.map(|w| format!("{} ({tz})", utc_to_local(tz, w).format("%Y-%m-%d %H:%M:%S")))
            .unwrap_or_else(|| "none".into())
    };
    match action {
        WatermarkAction::Get { .. } => println!("{report}: watermark {}", show(db.watermark(key).await?)),
        WatermarkAction::Set { ref to, .. } => {
            let local = parse_local_datetime(to).ok_or_else(|| ConfigError::Invalid {
                key: "--to".into(),
                problem: format!("{to:?} is not a date"),
                fix: "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS in the operation's local time".into(),
            })?;
            let mut tx = db.begin().await?;
            let before = tx.watermark(key).await?;
            // A watermark says "everything before this instant is synced": a repeated local time
            // is its earlier instant and a skipped one the clock change, so it claims no more.
            let after = range_start(tz, local);
            tx.force_watermark(key, after).await?;
            tx.audit(&AuditEntry::now(key, "watermark set", before.map(|w| show(Some(w))), Some(show(Some(after)))))
                .await?;
            tx.commit().await?;
            println!("{report}: watermark {} -> {}", show(before), show(db.watermark(key).await?));
        }
        WatermarkAction::Reset { .. } => {
            let mut tx = db.begin().await?;
            let before = tx.watermark(key).await?;
            let existed = tx.reset_watermark(key).await?;
            tx.audit(&AuditEntry::now(key, "watermark reset", before.map(|w| show(Some(w))), None)).await?;
            tx.commit().await?;
            println!(
                "{report}: watermark {}; the next run starts from sync.start_from / initial_days",
                if existed { "removed" } else { "was not set" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
