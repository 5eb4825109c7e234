//! `reports`: the whole catalogue, with each report's grain, key, and whether and when it runs.

use std::process::ExitCode;

use crate::config::Settings;

/// `reports`: the whole catalogue with grain, key and whether each report is enabled.
pub fn reports(settings: &Settings, json: bool) -> ExitCode {
    let rows: Vec<serde_json::Value> = crate::wolkvox::catalog::all()
        .iter()
        .map(|r| {
            let enabled = settings.reports.iter().find(|c| c.report.api == r.api);
            serde_json::json!({
                "api": r.api,
                "title": r.title,
                "grain": format!("{:?}", r.grain),
                "key": r.key,
                "streams": r.streams,
                "params": r.params,
                "enabled": enabled.is_some(),
                "schedule": enabled.map(|c| c.schedule.clone()),
            })
        })
        .collect();
    // Written in one go, ignoring a closed pipe (`reports | head`).
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(&rows).unwrap_or_default();
        out.push('\n');
        let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
        return ExitCode::SUCCESS;
    }
    use std::fmt::Write as _;
    let _ = writeln!(out, "{:<12} {:<18} {:<8} {:<16} KEY / TITLE", "REPORT", "GRAIN", "ENABLED", "SCHEDULE");
    for r in crate::wolkvox::catalog::all() {
        let enabled = settings.reports.iter().find(|c| c.report.api == r.api);
        let _ = writeln!(
            out,
            "{:<12} {:<18} {:<8} {:<16} ({}) {}",
            r.api,
            format!("{:?}", r.grain),
            if enabled.is_some() { "yes" } else { "no" },
            enabled.map(|c| c.schedule.as_str()).unwrap_or("-"),
            r.key.join(", "),
            r.title
        );
    }
    let _ = writeln!(out, "{} reports, {} enabled", crate::wolkvox::catalog::all().len(), settings.reports.len());
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    ExitCode::SUCCESS
}
