//! `healthcheck`: exit 0 when the running daemon answers on `/healthz` (container health checks;
//! the image has no curl).

use std::process::ExitCode;

use crate::config::Settings;

/// Asks the running daemon's `/healthz`; for container health checks (the image has no curl).
pub async fn healthcheck(settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut addr = settings.http.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}/healthz");
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("{url} answered {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("{url} did not answer: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
