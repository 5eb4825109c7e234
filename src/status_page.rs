//! The status page (`GET /` on the daemon's HTTP port): the status document — exactly what
//! `status --json` prints and `/status.json` serves — rendered as one HTML page for a wall screen.
//!
//! It renders the document and nothing else, so the page, the JSON and the terminal can never
//! disagree. Every text it shows is HTML-escaped here (report names, error messages quoting the
//! API, operator names): the page has no script, so nothing in the database can run in a
//! browser. Colours are the Okabe–Ito palette, which colour-blind readers tell apart, and every
//! coloured mark also carries a word or a symbol.

use std::fmt::Write as _;

use serde_json::Value;

/// The page for `doc`, the status document.
pub fn render(doc: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, doc);
    reports(&mut out, doc);
    calendar(&mut out, doc);
    budget(&mut out, doc);
    changes(&mut out, doc);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A string field of `v`, escaped; `-` when absent.
fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => escape(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "-".to_string(),
    }
}

const STYLE: &str = "
body { font: 18px/1.4 system-ui, sans-serif; margin: 0; background: #fafafa; color: #111; }
header { background: #1f2937; color: #fff; padding: 12px 24px; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 28px; margin: 0; }
main { padding: 8px 24px 32px; }
h2 { font-size: 24px; margin: 28px 0 8px; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: 6px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; white-space: nowrap; }
td.error { white-space: normal; }
th { background: #eee; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.light { display: inline-block; min-width: 6.5em; padding: 2px 8px; border-radius: 4px; font-weight: 700; color: #fff; }
.ok, .complete { background: #0072B2; color: #fff; }
.late, .partial { background: #E69F00; color: #000; }
.failing, .suspect { background: #D55E00; color: #fff; }
.paused, .unanswered { background: #CC79A7; color: #000; }
.rejected { background: #56B4E9; color: #000; }
.disabled, .not-synced { background: #e5e5e5; color: #555; }
.error { max-width: 36em; font-size: 15px; color: #7a2100; }
table.calendar td.cell { width: 26px; height: 26px; padding: 0; text-align: center; font-size: 14px; border: 1px solid #fff; }
table.calendar th.day { font-size: 12px; writing-mode: vertical-rl; padding: 4px 2px; }
table.calendar .today { outline: 3px solid #111; outline-offset: -3px; }
.legend span { display: inline-block; margin: 4px 12px 4px 0; padding: 2px 8px; border-radius: 4px; }
.bar { width: 320px; height: 20px; background: #e5e5e5; border-radius: 4px; overflow: hidden; }
.bar div { height: 100%; background: #0072B2; }
.bar div.over { background: #D55E00; }
.muted { color: #555; font-size: 15px; }
";

fn head(out: &mut String, doc: &Value) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"60\">\n<title>wolkvox-etl status</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<header><h1>wolkvox-etl</h1><span>as of {} ({})</span>\
         <span class=\"muted\" style=\"color:#ddd\">refreshes every minute</span></header>\n<main>\n",
        text(doc, "generated_at_local"),
        text(doc, "time_zone"),
    );
}

/// The reports' table: a light, the watermark, lag, the last run and the next one.
fn reports(out: &mut String, doc: &Value) {
    out.push_str(
        "<h2>Reports</h2>\n<table id=\"reports\">\n<tr><th>status</th><th>account</th><th>report</th>\
         <th>watermark</th><th>lag</th><th>last run</th><th>rows</th><th>took</th><th>next run</th>\
         <th>quarantined</th><th>last error</th></tr>\n",
    );
    for line in doc["reports"].as_array().into_iter().flatten() {
        let light = line["light"].as_str().unwrap_or("disabled");
        let lag = line["lag_seconds"].as_i64().map_or_else(|| "-".to_string(), human_duration);
        let took = line["last_duration_ms"]
            .as_i64()
            .map_or_else(|| "-".to_string(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
        let _ = writeln!(
            out,
            "<tr data-report=\"{report}\" data-light=\"{light}\"><td><span class=\"light {light}\">{label}</span></td>\
             <td>{account}</td><td>{report}</td><td>{watermark}</td><td class=\"num\">{lag}</td>\
             <td>{last_run} {status}</td><td class=\"num\">{rows}</td><td class=\"num\">{took}</td><td>{next}</td>\
             <td class=\"num\">{quarantined}</td><td class=\"error\">{error}</td></tr>",
            report = text(line, "report"),
            light = escape(light),
            label = light_label(light),
            account = text(line, "account"),
            watermark = text(line, "watermark_local"),
            last_run = text(line, "last_run_at_local"),
            status = text(line, "last_status"),
            rows = text(line, "last_rows_upserted"),
            next = text(line, "next_run_local"),
            quarantined = text(line, "rows_quarantined"),
            error = if line["last_error"].is_string() { text(line, "last_error") } else { String::new() },
        );
    }
    out.push_str("</table>\n");
}

fn light_label(light: &str) -> &'static str {
    match light {
        "ok" => "✓ ok",
        "late" => "◔ late",
        "failing" => "✗ failing",
        "paused" => "Ⅱ paused",
        "rejected" => "! rejected rows",
        _ => "– off",
    }
}

/// The states of a calendar cell: (state, symbol, legend).
const STATES: &[(&str, &str, &str)] = &[
    ("complete", "✓", "complete"),
    ("partial", "~", "partial (still being read, or fewer rows than before)"),
    ("suspect", "!", "suspect empty (answered empty while holding rows; asked again)"),
    ("unanswered", "?", "unanswerable (the API could not answer a re-read)"),
    ("not-synced", "·", "not yet synced"),
];

/// The completeness calendar: the last 31 local days × the enabled reports.
fn calendar(out: &mut String, doc: &Value) {
    let cal = &doc["calendar"];
    let days: Vec<&str> = cal["days"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let today = cal["today"].as_str().unwrap_or_default();
    out.push_str("<h2>Completeness, last 31 days</h2>\n<div class=\"legend\">");
    for (state, symbol, legend) in STATES {
        let _ = write!(out, "<span class=\"{state}\">{symbol} {legend}</span>");
    }
    out.push_str("</div>\n<table class=\"calendar\" id=\"calendar\">\n<tr><th>report</th>");
    for day in &days {
        let class = if *day == today { "day today" } else { "day" };
        let _ = write!(out, "<th class=\"{class}\">{}</th>", escape(day.get(5..).unwrap_or(day)));
    }
    out.push_str("</tr>\n");
    for row in cal["rows"].as_array().into_iter().flatten() {
        let stream = row["stream"].as_str().filter(|s| !s.is_empty()).map(|s| format!(" [{}]", escape(s)));
        let _ = write!(
            out,
            "<tr data-report=\"{report}\"><th>{account} {report}{stream}</th>",
            account = text(row, "account"),
            report = text(row, "report"),
            stream = stream.unwrap_or_default(),
        );
        for cell in row["cells"].as_array().into_iter().flatten() {
            let state = cell["state"].as_str().unwrap_or("not-synced");
            let symbol = STATES.iter().find(|(s, ..)| *s == state).map_or("·", |(_, sym, _)| sym);
            let day = text(cell, "day");
            let rows = cell["rows"].as_i64();
            let title = match rows {
                Some(rows) => format!("{day}: {} — {rows} rows", escape(state)),
                None => format!("{day}: {}", escape(state)),
            };
            let today_class = if cell["day"].as_str() == Some(today) { " today" } else { "" };
            let _ = write!(
                out,
                "<td class=\"cell {state}{today_class}\" data-day=\"{day}\" data-state=\"{state}\" data-rows=\"{rows}\" \
                 title=\"{title}\">{symbol}</td>",
                state = escape(state),
                rows = rows.map(|r| r.to_string()).unwrap_or_default(),
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Calls today per token beside the daily budget, and the API's own count where read.
fn budget(out: &mut String, doc: &Value) {
    out.push_str(
        "<h2>API calls today</h2>\n<table id=\"budget\">\n<tr><th>account</th><th>token</th><th>calls today</th>\
         <th>of the daily budget</th><th>the API's own count</th></tr>\n",
    );
    for account in doc["token_calls_today"].as_array().into_iter().flatten() {
        let budget = account["daily_budget"].as_i64();
        for token in account["tokens"].as_array().into_iter().flatten() {
            let calls = token["calls"].as_i64().unwrap_or(0);
            let label = token["token_label"].as_str().unwrap_or_default();
            let bar = match budget {
                Some(budget) if budget > 0 => {
                    let share = (calls as f64 / budget as f64 * 100.0).min(100.0);
                    let over = if share >= 90.0 { " class=\"over\"" } else { "" };
                    format!(
                        "<div class=\"bar\" title=\"{calls} of {budget}\"><div{over} style=\"width:{share:.1}%\"></div></div>\
                         {calls} of {budget}"
                    )
                }
                _ => "<span class=\"muted\">no budget set (wolkvox.licenses)</span>".to_string(),
            };
            let api = doc["api_token_info"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["account"] == account["account"] && r["token_label"].as_str() == Some(label))
                .map(|r| format!("{} used, limit {}", text(r, "token_use_today"), text(r, "token_limit")))
                .unwrap_or_else(|| "-".to_string());
            let paused = if token["paused_until"].is_string() { " (paused: daily limit)" } else { "" };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}{paused}</td><td class=\"num\">{calls}</td><td>{bar}</td><td>{api}</td></tr>",
                text(account, "account"),
                escape(label),
            );
        }
    }
    out.push_str("</table>\n");
}

/// The last operator changes.
fn changes(out: &mut String, doc: &Value) {
    out.push_str(
        "<h2>Last operator changes</h2>\n<table id=\"changes\">\n<tr><th>when (UTC)</th><th>who</th>\
         <th>command</th><th>account</th><th>report</th><th>from</th><th>to</th></tr>\n",
    );
    for e in doc["operator_changes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(e, "at"),
            text(e, "who"),
            text(e, "command"),
            text(e, "account"),
            text(e, "report"),
            text(e, "old_value"),
            text(e, "new_value"),
        );
    }
    out.push_str("</table>\n");
}

/// `3725` → `1 h 2 min`.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::json!({
            "generated_at_local": "2026-12-06T10:00:00",
            "time_zone": "America/Bogota",
            "reports": [
                { "account": "default", "report": "chat_14", "light": "failing", "lag_seconds": 3725,
                  "watermark_local": "2026-12-06T08:57:55", "last_run_at_local": "2026-12-06T09:55:00",
                  "last_status": "failed", "last_rows_upserted": 0, "last_duration_ms": 1500,
                  "next_run_local": "2026-12-06T10:00:00", "rows_quarantined": 2,
                  "last_error": "<script>alert('x')</script> & more" },
            ],
            "calendar": { "today": "2026-12-06", "days": ["2026-12-05", "2026-12-06"], "rows": [
                { "account": "default", "report": "chat_14", "stream": "", "cells": [
                    { "day": "2026-12-05", "state": "suspect", "rows": 12 },
                    { "day": "2026-12-06", "state": "partial", "rows": 40 } ] } ] },
            "token_calls_today": [ { "account": "default", "day": "2026-12-06", "daily_budget": 1000,
                "tokens": [ { "token_label": "default", "calls": 950, "paused_until": null } ] } ],
            "api_token_info": [],
            "operator_changes": [ { "at": "2026-12-06T09:00:00Z", "who": "ana<b>", "command": "watermark set",
                "account": "default", "report": "chat_14", "old_value": null, "new_value": "2026-12-01" } ],
        })
    }

    #[test]
    fn every_text_from_the_database_is_escaped_and_the_page_has_no_script() {
        let page = render(&doc());
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
        assert!(page.contains("ana&lt;b&gt;"));
        // A report name is data too.
        let mut hostile = doc();
        hostile["reports"][0]["report"] = "\"><img src=x onerror=alert(1)>".into();
        hostile["calendar"]["rows"][0]["report"] = "\"><img src=x>".into();
        let page = render(&hostile);
        assert!(!page.contains("<img"), "{page}");
    }

    #[test]
    fn each_calendar_cell_carries_its_day_state_and_rows_and_today_is_marked() {
        let page = render(&doc());
        assert!(page.contains(
            "<td class=\"cell suspect\" data-day=\"2026-12-05\" data-state=\"suspect\" data-rows=\"12\" \
             title=\"2026-12-05: suspect — 12 rows\">!</td>"
        ));
        assert!(page.contains("class=\"cell partial today\" data-day=\"2026-12-06\""));
        assert!(page.contains("<th class=\"day today\">12-06</th>"));
        for (state, ..) in STATES {
            assert!(page.contains(&format!("<span class=\"{state}\">")), "the legend lacks {state}");
        }
    }

    #[test]
    fn the_light_lag_and_budget_bar_read_as_words_and_numbers() {
        let page = render(&doc());
        assert!(page.contains("data-light=\"failing\"><td><span class=\"light failing\">✗ failing</span>"));
        assert!(page.contains(">1 h 2 min<"));
        assert!(page.contains("<div class=\"over\" style=\"width:95.0%\"></div></div>950 of 1000"));
        assert_eq!(human_duration(59), "59 s");
        assert_eq!(human_duration(90_000), "1 d 1 h");
    }
}
