//! `watermark`: read, move or clear a report's watermark — the operator's way to re-read a range
//! (move it back) or skip one (move it forward). Sync itself never uses `force`.

use std::process::ExitCode;

use chrono::Utc;

use crate::cli::WatermarkAction;
use crate::config::{ConfigError, Settings};
use crate::startup::connect_and_migrate;
use crate::store::watermark::{self, StreamKey};
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
    let show = |w: Option<chrono::DateTime<Utc>>| {
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
            let before = db.watermark(key).await?;
            // A watermark says "everything before this instant is synced": a repeated local time
            // is its earlier instant and a skipped one the clock change, so it claims no more.
            watermark::force(&db, key, range_start(tz, local)).await?;
            println!("{report}: watermark {} -> {}", show(before), show(db.watermark(key).await?));
        }
        WatermarkAction::Reset { .. } => {
            let existed = watermark::reset(&db, key).await?;
            println!(
                "{report}: watermark {}; the next run starts from sync.start_from / initial_days",
                if existed { "removed" } else { "was not set" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
