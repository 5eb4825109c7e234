//! Facts about the API: the compiled-in `reports.json` (a verbatim copy of the research) and the
//! one entry written here, `audit_log`, in the same shape. Nothing here is a decision of this
//! daemon; those are in `rules`.

use serde::Deserialize;
use serde_json::Value;

/// Every report of `reports_manager.php`, as the research recorded it (`reports.json`).
pub(super) const REPORTS_JSON: &str = include_str!("reports.json");

/// The part of one `reports.json` entry the catalogue uses.
#[derive(Deserialize)]
pub(super) struct Entry {
    pub(super) api: String,
    pub(super) title: String,
    pub(super) params: Vec<String>,
    pub(super) fields: Vec<String>,
    pub(super) fields_example: Vec<String>,
    /// Field names only the docs use, and names only the example (a real answer) uses.
    #[serde(default)]
    pub(super) doc_vs_example: DocVsExample,
    /// Keys real users saw in live responses beyond the documented ones (chat_1's `date_close`…).
    pub(super) fields_observed_in_real_use: Vec<String>,
    pub(super) key: Vec<String>,
    pub(super) timestamp: Option<String>,
    pub(super) grain: String,
    pub(super) notes: String,
    pub(super) postman_example_code: Value,
    /// `GET https://…/api/v2/<file>?api=…`: which file the API is asked through.
    #[serde(default)]
    pub(super) endpoint: String,
}

/// The two spellings' differences, as the research recorded them.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DocVsExample {
    #[serde(default)]
    pub(super) doc_only: Vec<String>,
    #[serde(default)]
    pub(super) example_only: Vec<String>,
}

/// `information.php?api=audit_log`, the Manager's audit trail: the one date-ranged API outside
/// `reports_manager.php`, synced like an event report (same date parameters, same limits). Its
/// facts are from `shared/wolkvox-information-api.md` §2.10; it has no id, so its rows are keyed
/// by a hash of the row (as real users de-duplicate it: `date|user|action`).
pub(super) const AUDIT_LOG_JSON: &str = r#"{
    "api": "audit_log",
    "title": "Manager audit log",
    "params": [],
    "fields": ["date", "ip", "user", "action", "workstation"],
    "fields_example": ["date", "ip", "user", "action", "workstation"],
    "fields_observed_in_real_use": [],
    "key": ["date", "user", "action"],
    "timestamp": "date",
    "grain": "event/detail",
    "notes": "information.php, not reports_manager.php. No id column: hash the whole row.",
    "postman_example_code": "0",
    "endpoint": "GET https://wv{server}.wolkvox.com/api/v2/information.php?api=audit_log&date_ini={YYYYmmddHHiiss}&date_end={YYYYmmddHHiiss}"
}"#;
