//! `token-info`: read the API's own count of each token's calls today, once per token of each
//! selected operation (each read costs one call), through the daemon's own read
//! ([`crate::sync::api_token_count::read_once`]): stored, exported, checked against the budget (concerns
//! go to the log at WARN) and printed beside our own count.

use std::process::ExitCode;

use crate::clock::Clock;
use crate::config::Settings;
use crate::startup::App;
use crate::sync::api_token_count::{read_once, shown as show, ReadOutcome, Reading};
use crate::sync::Faults;
use crate::time::utc_to_local;

/// Reads every token of every selected operation once, whether `[token_info]` is enabled or
/// not; exits non-zero if a read failed.
pub async fn token_info(all: Vec<Settings>) -> anyhow::Result<ExitCode> {
    let apps = App::build_all(all, Clock::system(), Faults::default()).await?;
    let mut failed = 0;
    for app in &apps {
        for named in &app.settings.tokens {
            let Some(token) = app.tokens.get(&named.label) else { continue };
            let name = format!("account {}, token {}", app.ctx.account, token.label());
            match read_once(&app.ctx, &token).await {
                Ok(ReadOutcome::Read(reading)) => println!("{name}: {}", figures(&reading)),
                Ok(ReadOutcome::Paused(until)) => println!(
                    "{name}: not asked, paused by the daily limit until {} (local)",
                    utc_to_local(app.ctx.timezone, until).format("%Y-%m-%d %H:%M:%S")
                ),
                Err(e) => {
                    println!("{name}: could not read it: {e}");
                    failed += 1;
                }
            }
        }
    }
    if let Some(app) = apps.first() {
        app.ctx.db.close().await;
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `limit 1000, used today 12 (our count 12), all tokens today 940 (ours 30, others 910), available 988`;
/// a figure the API left blank shows as `?`.
fn figures(r: &Reading) -> String {
    let others = r.info.all_today.map(|all| (all - r.ours_all_tokens).max(0));
    let description = r.info.description.as_deref().map(|d| format!(" ({d:?})")).unwrap_or_default();
    format!(
        "limit {}, used today {} (our count {}), all tokens today {} (ours {}, others {}), available {}{description}",
        show(r.info.limit),
        show(r.info.use_today),
        r.our_calls_today,
        show(r.info.all_today),
        r.ours_all_tokens,
        show(others),
        show(r.info.available),
    )
}
