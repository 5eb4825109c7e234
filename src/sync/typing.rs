//! Row typing: the API's rows, flattened and typed field by field into what the store writes.
//!
//! Pure (no I/O), unit-tested. A value that does not parse is stored as NULL and the row kept
//! (the original stays in `raw`); a row whose key cannot be read cannot be stored and is counted
//! as rejected. A row whose raw hash is already stored unchanged is skipped before typing.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use chrono_tz::Tz;
use tracing::{error, warn};

use crate::store::rows::TypedRow;
use crate::wolkvox::catalog::{self, Report};
use crate::wolkvox::values::{self, Typed};
use crate::wolkvox::Row;

/// How many individual bad rows or values are logged per window before only counting them.
const LOG_EXAMPLES: usize = 5;

/// What typing noticed across a run's rows, beyond the counts: reported once per run.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Fields the catalogue does not know (kept in `raw`).
    pub unknown_fields: BTreeSet<String>,
    /// The first row rejected for want of a key, as sent.
    pub rejected_example: Option<String>,
}

/// What typing one batch produced.
pub(super) struct TypedRows {
    /// The rows to upsert: new or changed, with a usable key.
    pub rows: Vec<TypedRow>,
    /// Rows after flattening nested arrays (what the counts report).
    pub received: u64,
    /// Rows whose key could not be read.
    pub rejected: u64,
}

/// Values of the synthetic columns that come from the request, not the response.
pub(super) struct Synthetic<'a> {
    /// The local day an aggregate was asked for.
    pub day: Option<NaiveDate>,
    /// The stream (code group) it was fetched in.
    pub stream: &'a str,
}

/// Flattens and types every row, skipping rows whose hash is in `known` (stored, unchanged).
/// A value that fails to parse is NULL (WARN, row kept); a row
/// whose key is NULL cannot be stored and is rejected (ERROR with its raw JSON).
pub(super) fn type_rows(
    report: &Report,
    tz: Tz,
    fetched: Vec<Row>,
    synthetic: &Synthetic<'_>,
    known: &HashSet<i64>,
    findings: &mut Findings,
) -> TypedRows {
    let key_idx = report.key_indexes();
    let mut rows = Vec::with_capacity(fetched.len());
    let mut received = 0u64;
    let mut rejected = 0u64;
    let mut bad_values = 0usize;
    for api_row in fetched {
        for mut row in catalog::flatten(report, api_row) {
            received += 1;
            for k in row.keys() {
                if report.field(k).is_none() && !findings.unknown_fields.contains(k) {
                    findings.unknown_fields.insert(k.clone());
                }
            }
            // `raw` keeps what the API sent; the row hash is ours.
            let row_hash = row.remove(catalog::ROW_HASH);
            let raw = serde_json::to_string(&row).unwrap_or_default();
            let raw_hash = crate::store::rows::raw_hash(&raw);
            if known.contains(&raw_hash) {
                // Stored already, unchanged: nothing to type, nothing to send.
                continue;
            }
            if let Some(hash) = row_hash {
                row.insert(catalog::ROW_HASH.to_owned(), hash);
            }
            let mut values = Vec::with_capacity(report.fields.len());
            for field in report.fields {
                let value = match field.name {
                    catalog::DAY if report.has_day() => Typed::Date(synthetic.day),
                    catalog::STREAM if report.is_synthetic(catalog::STREAM) => {
                        Typed::Text(Some(synthetic.stream.to_string()))
                    }
                    name => {
                        // The docs' spelling or the API's own: whichever the row carries.
                        let parsed = values::parse(field.read(&row), field.ty, tz);
                        if parsed.failed {
                            bad_values += 1;
                            if bad_values <= LOG_EXAMPLES {
                                let value = row.get(name).map(|v| v.to_string()).unwrap_or_default();
                                warn!(field = name, value = %value, "Value does not parse; stored as NULL (the original is in raw)");
                            }
                        }
                        parsed.value
                    }
                };
                values.push(value);
            }
            if key_idx.iter().any(|&i| values[i].is_null()) {
                rejected += 1;
                findings.rejected_example.get_or_insert_with(|| raw.clone());
                if rejected as usize <= LOG_EXAMPLES {
                    error!(raw = %raw, "Row has no usable natural key and cannot be stored");
                }
                continue;
            }
            rows.push(TypedRow { values, raw, raw_hash });
        }
    }
    if bad_values > LOG_EXAMPLES {
        warn!(count = bad_values, "More values failed to parse in this window");
    }
    if rejected as usize > LOG_EXAMPLES {
        error!(count = rejected, "More rows without a usable key in this window");
    }
    TypedRows { rows, received, rejected }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat_14() -> &'static Report {
        catalog::find("chat_14").unwrap()
    }

    fn row(value: serde_json::Value) -> Row {
        value.as_object().unwrap().clone()
    }

    const NONE: Synthetic<'static> = Synthetic { day: None, stream: "" };

    fn typed(rows: Vec<Row>, known: &HashSet<i64>) -> (TypedRows, Findings) {
        let mut findings = Findings::default();
        let out = type_rows(chat_14(), chrono_tz::America::Bogota, rows, &NONE, known, &mut findings);
        (out, findings)
    }

    fn value<'a>(t: &'a TypedRow, field: &str) -> &'a Typed {
        let i = chat_14().fields.iter().position(|f| f.name == field).unwrap();
        &t.values[i]
    }

    #[test]
    fn a_row_is_typed_field_by_field_and_keeps_what_the_api_sent_in_raw() {
        let sent = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "cod_act": ""}));
        let (out, findings) = typed(vec![sent], &HashSet::new());
        assert_eq!((out.received, out.rejected, out.rows.len()), (1, 0, 1));
        let t = &out.rows[0];
        assert_eq!(value(t, "chat_id"), &Typed::Text(Some("c-1".into())));
        assert!(value(t, "cod_act").is_null(), "the empty placeholder is NULL");
        let date = chrono::DateTime::parse_from_rfc3339("2026-11-20T14:30:00Z").unwrap().to_utc();
        assert_eq!(value(t, "date"), &Typed::Timestamp(Some(date)));
        assert_eq!(t.raw, r#"{"chat_id":"c-1","cod_act":"","date":"2026-11-20 09:30:00"}"#);
        assert_eq!(t.raw_hash, crate::store::rows::raw_hash(&t.raw));
        assert!(findings.unknown_fields.is_empty() && findings.rejected_example.is_none());
    }

    #[test]
    fn a_row_without_its_key_is_rejected_and_the_others_are_kept() {
        let rows = vec![
            row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00"})),
            row(json!({"date": "2026-11-20 09:31:00"})),
            row(json!({"chat_id": "c-2", "date": "not a date"})),
        ];
        let (out, findings) = typed(rows, &HashSet::new());
        assert_eq!((out.received, out.rejected, out.rows.len()), (3, 2, 1));
        assert_eq!(findings.rejected_example.as_deref(), Some(r#"{"date":"2026-11-20 09:31:00"}"#), "the first one");
    }

    #[test]
    fn a_row_whose_hash_is_known_is_skipped_before_typing_but_counted_as_received() {
        let sent = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00"}));
        let raw = serde_json::to_string(&sent).unwrap();
        let known = HashSet::from([crate::store::rows::raw_hash(&raw)]);
        let (out, _) = typed(vec![sent], &known);
        assert_eq!((out.received, out.rejected, out.rows.len()), (1, 0, 0));
    }

    #[test]
    fn fields_the_catalogue_does_not_know_are_collected_and_kept_in_raw() {
        let sent = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "brand_new": 1}));
        let (out, findings) = typed(vec![sent], &HashSet::new());
        assert_eq!(findings.unknown_fields, BTreeSet::from(["brand_new".to_string()]));
        assert!(out.rows[0].raw.contains("\"brand_new\":1"));
    }

    #[test]
    fn an_aggregates_day_comes_from_the_request_not_the_answer() {
        let report = catalog::find("agent_1").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 19);
        let synthetic = Synthetic { day, stream: "" };
        let mut findings = Findings::default();
        let sent = row(json!({"agent_id": "12500", "calls": "7"}));
        let out = type_rows(report, chrono_tz::America::Bogota, vec![sent], &synthetic, &HashSet::new(), &mut findings);
        assert_eq!((out.received, out.rejected, out.rows.len()), (1, 0, 1));
        let position = |name: &str| report.fields.iter().position(|f| f.name == name).unwrap();
        assert_eq!(out.rows[0].values[position(catalog::DAY)], Typed::Date(day));
        assert_eq!(out.rows[0].values[position("calls")], Typed::Integer(Some(7)));
        assert_eq!(out.rows[0].raw, r#"{"agent_id":"12500","calls":"7"}"#, "raw is what the API sent");
    }
}

#[cfg(test)]
mod aliases {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_sent_under_the_examples_spelling_fills_the_documented_column_and_raw_keeps_it() {
        let report = catalog::find("chat_13").unwrap();
        let synthetic = Synthetic { day: NaiveDate::from_ymd_opt(2026, 11, 19), stream: "" };
        let mut findings = Findings::default();
        let sent = json!({"chanel": "whatsapp", "interaction": "12"}).as_object().unwrap().clone();
        let out = type_rows(report, chrono_tz::America::Bogota, vec![sent], &synthetic, &HashSet::new(), &mut findings);
        assert_eq!((out.received, out.rejected, out.rows.len()), (1, 0, 1));
        let value = |name: &str| &out.rows[0].values[report.fields.iter().position(|f| f.name == name).unwrap()];
        assert_eq!(value("channel"), &Typed::Text(Some("whatsapp".into())));
        assert_eq!(value("chanel"), &Typed::Text(Some("whatsapp".into())));
        assert_eq!(out.rows[0].raw, r#"{"chanel":"whatsapp","interaction":"12"}"#);
        assert!(findings.unknown_fields.is_empty());
    }
}
