//! Typing of the API's string values into SQL values.
//!
//! The API sends every value as a string. This module owns the formats (see
//! `shared/wolkvox-api.md` §5) and the rule that placeholders (`""`, `"-"`, `"--"`, `" "`) are
//! NULL. A value that does not parse becomes NULL and is reported back to the caller, which logs
//! it; the row itself is never dropped for it, because `raw` keeps the original.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::catalog::FieldType;

/// A typed value ready to bind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Typed {
    /// A text column.
    Text(Option<String>),
    /// A `timestamptz` column.
    Timestamp(Option<DateTime<Utc>>),
}

impl Typed {
    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Typed::Text(None) | Typed::Timestamp(None))
    }
}

/// Result of typing one value: the typed value, and whether a non-placeholder failed to parse.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The value to store.
    pub value: Typed,
    /// True when the input was a real value that could not be read (stored as NULL).
    pub failed: bool,
}

/// The API's local datetime format.
pub const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

fn is_placeholder(text: &str) -> bool {
    matches!(text.trim(), "" | "-" | "--")
}

/// Types one JSON value as `ty`, interpreting local datetimes in `tz`.
pub fn parse(value: Option<&Value>, ty: FieldType, tz: Tz) -> Parsed {
    let text = match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str().to_owned()),
        Some(other) => Some(other.to_string()),
    };
    let Some(text) = text.filter(|t| !is_placeholder(t)) else {
        return Parsed { value: null_of(ty), failed: false };
    };
    match ty {
        FieldType::Text => Parsed { value: Typed::Text(Some(text)), failed: false },
        FieldType::Timestamp => match NaiveDateTime::parse_from_str(text.trim(), DATETIME_FORMAT) {
            Ok(local) => Parsed { value: Typed::Timestamp(Some(local_to_utc(tz, local))), failed: false },
            Err(_) => Parsed { value: Typed::Timestamp(None), failed: true },
        },
    }
}

fn null_of(ty: FieldType) -> Typed {
    match ty {
        FieldType::Text => Typed::Text(None),
        FieldType::Timestamp => Typed::Timestamp(None),
    }
}

/// The instant a local wall-clock time stands for in `tz`. An ambiguous time (DST fall-back)
/// takes the earlier instant; a time that does not exist (DST spring-forward gap) is read as
/// the instant one hour later, which is what a clock that was not moved would have shown.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => tz
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            // Every zone's gaps are shorter than an hour past their start; UTC is a safe fallback.
            .unwrap_or_else(|| Utc.from_utc_datetime(&local)),
    }
}

/// The local wall-clock time of an instant in `tz`.
pub fn utc_to_local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOGOTA: Tz = chrono_tz::America::Bogota;

    #[test]
    fn local_datetimes_are_read_in_the_operation_zone() {
        let p = parse(Some(&json!("2026-01-18 19:34:31")), FieldType::Timestamp, BOGOTA);
        let expected = DateTime::parse_from_rfc3339("2026-01-19T00:34:31Z").unwrap().to_utc();
        assert_eq!(p, Parsed { value: Typed::Timestamp(Some(expected)), failed: false });
    }

    #[test]
    fn placeholders_are_null_without_a_failure() {
        for text in ["", "-", "--", " "] {
            for ty in [FieldType::Text, FieldType::Timestamp] {
                let p = parse(Some(&json!(text)), ty, BOGOTA);
                assert!(p.value.is_null() && !p.failed, "{text:?} {ty:?}");
            }
        }
        assert!(parse(None, FieldType::Text, BOGOTA).value.is_null());
    }

    #[test]
    fn an_unreadable_datetime_is_null_and_flagged() {
        let p = parse(Some(&json!("18/01/2026")), FieldType::Timestamp, BOGOTA);
        assert_eq!(p, Parsed { value: Typed::Timestamp(None), failed: true });
    }

    #[test]
    fn non_string_json_values_are_kept_as_their_text() {
        let p = parse(Some(&json!(42)), FieldType::Text, BOGOTA);
        assert_eq!(p.value, Typed::Text(Some("42".into())));
    }

    #[test]
    fn dst_gaps_and_overlaps_resolve_to_a_real_instant() {
        let ny: Tz = chrono_tz::America::New_York;
        let gap = NaiveDateTime::parse_from_str("2026-03-08 02:30:00", DATETIME_FORMAT).unwrap();
        assert_eq!(local_to_utc(ny, gap).to_rfc3339(), "2026-03-08T07:30:00+00:00");
        let overlap = NaiveDateTime::parse_from_str("2026-11-01 01:30:00", DATETIME_FORMAT).unwrap();
        assert_eq!(local_to_utc(ny, overlap).to_rfc3339(), "2026-11-01T05:30:00+00:00");
        assert_eq!(utc_to_local(ny, local_to_utc(ny, overlap)), overlap);
    }
}
