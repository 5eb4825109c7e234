//! The report catalogue: the single description of every report the daemon knows.
//!
//! Tables, upserts, the simulator and the docs all derive from these entries, so a field list is
//! written exactly once. Field names are kept exactly as the API spells them (including its
//! misspellings) so that the `raw` JSON and the typed columns never disagree.

/// How a report's rows relate to time, which decides how it is synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    /// One row per event, with its own timestamp and id: incremental windows plus look-back.
    Event,
}

/// The SQL type a field is stored as, next to the original string kept in `raw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Free text, stored as sent (empty placeholders become NULL).
    Text,
    /// A local `YYYY-MM-DD HH:MM:SS` datetime, stored as `timestamptz` in the operation's zone.
    Timestamp,
}

/// One column of a report, as named by the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The JSON key, exactly as the API sends it (after trimming whitespace).
    pub name: &'static str,
    /// How the value is typed in its column.
    pub ty: FieldType,
}

/// Everything the daemon needs to know about one `reports_manager.php` report.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// The `api=` parameter value.
    pub api: &'static str,
    /// The Postgres table holding its rows.
    pub table: &'static str,
    /// Every documented field, in the API's order.
    pub fields: &'static [Field],
    /// The natural key within one operation (the table's key is `account` + these).
    pub key: &'static [&'static str],
    /// The field the API filters the window on, for event reports.
    pub timestamp: Option<&'static str>,
    /// How rows relate to time.
    pub grain: Grain,
}

impl Report {
    /// The field with this name, if the report has it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn text(name: &'static str) -> Field {
    Field { name, ty: FieldType::Text }
}

const fn timestamp(name: &'static str) -> Field {
    Field { name, ty: FieldType::Timestamp }
}

/// Click-to-WhatsApp detail: one row per chat started from an ad or post.
pub static CHAT_14: Report = Report {
    api: "chat_14",
    table: "chat_14",
    fields: &[
        text("source_url"),
        text("source_type"),
        text("source_id"),
        text("chat_id"),
        text("rp_id"),
        text("agent_id"),
        text("media_type"),
        text("media_url"),
        timestamp("date"),
        text("cod_act"),
    ],
    key: &["chat_id", "date"],
    timestamp: Some("date"),
    grain: Grain::Event,
};

static ALL: &[&Report] = &[&CHAT_14];

/// Every report in the catalogue.
pub fn all() -> &'static [&'static Report] {
    ALL
}

/// The report whose `api` name is `api`.
pub fn find(api: &str) -> Option<&'static Report> {
    ALL.iter().copied().find(|r| r.api == api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_and_timestamp_field_is_a_declared_field() {
        for report in all() {
            for key in report.key {
                assert!(report.field(key).is_some(), "{}: key {key} is not a field", report.api);
            }
            if let Some(ts) = report.timestamp {
                assert_eq!(report.field(ts).map(|f| f.ty), Some(FieldType::Timestamp), "{}", report.api);
            }
        }
    }

    #[test]
    fn find_returns_reports_by_api_name() {
        assert_eq!(find("chat_14").map(|r| r.table), Some("chat_14"));
        assert!(find("nope").is_none());
    }
}
