//! Typing of the API's string values into SQL values.
//!
//! The API sends every value as a string. This module owns the formats (see
//! `shared/wolkvox-api.md` §5) and the rule that placeholders (`""`, `" "`, `"-"`, `"--"`, and
//! MySQL's zero date for dates) are NULL, except in a text key field ([`parse_key`]), which
//! keeps the literal text so the row can still be stored under it. A value that does not parse
//! becomes NULL and is reported back to the caller, which logs it; the row itself is never
//! dropped for it, because `raw` keeps the original. It also removes NUL characters
//! ([`remove_nul`]), which PostgreSQL's `text` and `jsonb` refuse.
//!
//! Accepted formats, per [`FieldType`]:
//!
//! | type | accepted | typed as |
//! |---|---|---|
//! | Text | anything | the text as sent |
//! | Integer | `"2"`, `"-3"`, `"1,234"` (thousands commas), `"12.0"` (integral) | `i64` |
//! | Decimal | `"2.887"`, `"1,856"`, `"0.5"`, `".5"` | normalized decimal text (`"2.887"`, `"1856"`) |
//! | Percent | a Decimal with an optional `%`: `"34.64 %"`, `"15,233.33 %"`, `"0 %"` | normalized decimal text (`"34.64"`) |
//! | Duration | `"HH:MM:SS"` with any number of hours (`"41:06:00"`), `"MM:SS"`, or plain seconds `"120"` | `i64` seconds |
//! | Boolean | `yes`/`no`, `si`/`sí`, `true`/`false`, `1`/`0` (any case) | `bool` |
//! | Timestamp | `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DDTHH:MM:SS`, `YYYY-MM-DD-HH`, `YYYY-MM-DD` (midnight), local in the operation's zone | UTC instant |
//! | Date | `YYYY-MM-DD`, `YYYYMMDD`, or a Timestamp form (its date) | date |
//! | Time | `"9"`, `"09"`, `"13:00"`, `"13:00:00"` | time of day |

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::catalog::FieldType;
use crate::time::local_to_utc;

/// A typed value ready to bind: one variant per SQL type (Duration binds as `Integer` seconds,
/// Percent as `Decimal`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Typed {
    /// A text column.
    Text(Option<String>),
    /// A `bigint` column: counts and durations in seconds.
    Integer(Option<i64>),
    /// A `numeric` column, as normalized plain decimal text (`"15233.33"`) so it binds exactly.
    Decimal(Option<String>),
    /// A `boolean` column.
    Boolean(Option<bool>),
    /// A `timestamptz` column.
    Timestamp(Option<DateTime<Utc>>),
    /// A `date` column.
    Date(Option<NaiveDate>),
    /// A `time` column.
    Time(Option<NaiveTime>),
}

impl Typed {
    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        match self {
            Typed::Text(v) | Typed::Decimal(v) => v.is_none(),
            Typed::Integer(v) => v.is_none(),
            Typed::Boolean(v) => v.is_none(),
            Typed::Timestamp(v) => v.is_none(),
            Typed::Date(v) => v.is_none(),
            Typed::Time(v) => v.is_none(),
        }
    }

    /// The NULL of the variant `ty` binds as.
    pub fn null(ty: FieldType) -> Typed {
        match ty {
            FieldType::Text => Typed::Text(None),
            FieldType::Integer | FieldType::Duration => Typed::Integer(None),
            FieldType::Decimal | FieldType::Percent => Typed::Decimal(None),
            FieldType::Boolean => Typed::Boolean(None),
            FieldType::Timestamp => Typed::Timestamp(None),
            FieldType::Date => Typed::Date(None),
            FieldType::Time => Typed::Time(None),
        }
    }
}

/// How a value reads in a log line: text quoted (so `""` and `" "` show), NULL as `NULL`,
/// instants in UTC.
impl fmt::Display for Typed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Typed::Text(Some(v)) => write!(f, "{v:?}"),
            Typed::Decimal(Some(v)) => f.write_str(v),
            Typed::Integer(Some(v)) => write!(f, "{v}"),
            Typed::Boolean(Some(v)) => write!(f, "{v}"),
            Typed::Timestamp(Some(v)) => f.write_str(&v.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Typed::Date(Some(v)) => write!(f, "{v}"),
            Typed::Time(Some(v)) => write!(f, "{v}"),
            _ => f.write_str("NULL"),
        }
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

fn is_placeholder(text: &str, ty: FieldType) -> bool {
    match text.trim() {
        "" | "-" | "--" => true,
        // PHP/MySQL's "no date"; only a placeholder where a date is expected.
        "0000-00-00 00:00:00" | "0000-00-00" => {
            matches!(ty, FieldType::Timestamp | FieldType::Date)
        }
        _ => false,
    }
}

/// Types one JSON value as `ty`, interpreting local datetimes in `tz`.
pub fn parse(value: Option<&Value>, ty: FieldType, tz: Tz) -> Parsed {
    let text = match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let Some(text) = text.filter(|t| !is_placeholder(t, ty)) else {
        return Parsed { value: Typed::null(ty), failed: false };
    };
    let t = text.trim();
    let value = match ty {
        FieldType::Text => Some(Typed::Text(Some(text))),
        FieldType::Integer => parse_integer(t).map(|v| Typed::Integer(Some(v))),
        FieldType::Duration => parse_duration(t).map(|v| Typed::Integer(Some(v))),
        FieldType::Decimal => parse_decimal(t).map(|v| Typed::Decimal(Some(v))),
        FieldType::Percent => {
            parse_decimal(t.strip_suffix('%').unwrap_or(t).trim_end()).map(|v| Typed::Decimal(Some(v)))
        }
        FieldType::Boolean => parse_bool(t).map(|v| Typed::Boolean(Some(v))),
        FieldType::Timestamp => parse_datetime(t).map(|local| Typed::Timestamp(Some(local_to_utc(tz, local)))),
        FieldType::Date => parse_date(t).map(|v| Typed::Date(Some(v))),
        FieldType::Time => parse_time(t).map(|v| Typed::Time(Some(v))),
    };
    match value {
        Some(value) => Parsed { value, failed: false },
        None => Parsed { value: Typed::null(ty), failed: true },
    }
}

/// Types one value of a key field. A text key keeps the literal text the API sent, placeholders
/// included: `""`, `" "` or `"-"` is what the API calls that row (a cdr_1 call without an
/// agent), and reading it as NULL would leave the row nowhere to be stored. Every other type is
/// read like [`parse`]. Only a missing or JSON-null text key is NULL.
pub fn parse_key(value: Option<&Value>, ty: FieldType, tz: Tz) -> Parsed {
    match (ty, value) {
        (FieldType::Text, Some(Value::String(s))) => Parsed { value: Typed::Text(Some(s.clone())), failed: false },
        (FieldType::Text, Some(other)) if !other.is_null() => {
            Parsed { value: Typed::Text(Some(other.to_string())), failed: false }
        }
        _ => parse(value, ty, tz),
    }
}

/// Removes every NUL character (`\u0000`) from `value`'s strings and object keys, at any depth;
/// returns how many were removed. PostgreSQL refuses NUL in `text` and in `jsonb`, so one NUL
/// would fail its window's transaction on every attempt, for ever.
pub fn remove_nul(value: &mut Value) -> u64 {
    match value {
        Value::String(s) => remove_nul_from(s),
        Value::Array(items) => items.iter_mut().map(remove_nul).sum(),
        Value::Object(map) => remove_nul_from_map(map),
        _ => 0,
    }
}

/// [`remove_nul`] for a whole object: its keys and its values.
pub fn remove_nul_from_map(map: &mut serde_json::Map<String, Value>) -> u64 {
    let mut removed: u64 = map.values_mut().map(remove_nul).sum();
    let named: Vec<String> = map.keys().filter(|k| k.contains('\0')).cloned().collect();
    for name in named {
        if let Some(v) = map.remove(&name) {
            let mut clean = name;
            removed += remove_nul_from(&mut clean);
            map.insert(clean, v);
        }
    }
    removed
}

fn remove_nul_from(s: &mut String) -> u64 {
    if !s.contains('\0') {
        return 0;
    }
    let before = s.len();
    s.retain(|c| c != '\0');
    (before - s.len()) as u64
}

/// A whole number, with optional thousands commas or an all-zero fraction (`"12.0"`).
fn parse_integer(t: &str) -> Option<i64> {
    let decimal = parse_decimal(t)?;
    // Normalized decimals carry no trailing zeros, so an integral value has no '.' left.
    decimal.parse().ok()
}

/// A decimal with optional sign and thousands commas, normalized: no commas, no `+`, no
/// redundant zeros (`"007.50"` → `"7.5"`, `"-0"` → `"0"`).
fn parse_decimal(t: &str) -> Option<String> {
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    // Thousands commas only in groups of exactly three digits after the first group.
    let mut groups = int.split(',');
    let first = groups.next()?;
    let rest: Vec<&str> = groups.collect();
    let valid_groups =
        rest.iter().all(|g| g.len() == 3) && (rest.is_empty() || (!first.is_empty() && first.len() <= 3));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !valid_groups || !digits(first) || !rest.iter().all(|g| digits(g)) || !digits(frac) {
        return None;
    }
    let int: String = std::iter::once(first).chain(rest).collect();
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::new();
    if negative && !(int == "0" && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// `H…H:MM:SS` (hours unbounded), `MM:SS`, or whole seconds; an optional leading `-`.
fn parse_duration(t: &str) -> Option<i64> {
    let (negative, body) = match t.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, t),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let seconds = match parts.as_slice() {
        [_] => parse_integer(body)?,
        [m, s] if number(s)? < 60 => number(m)? * 60 + number(s)?,
        [h, m, s] if number(m)? < 60 && number(s)? < 60 => number(h)?.checked_mul(3600)? + number(m)? * 60 + number(s)?,
        _ => return None,
    };
    Some(if negative { -seconds } else { seconds })
}

fn parse_bool(t: &str) -> Option<bool> {
    match t.to_lowercase().as_str() {
        "yes" | "y" | "si" | "sí" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_datetime(t: &str) -> Option<NaiveDateTime> {
    for format in [DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, format) {
            return Some(v);
        }
    }
    // diagram_1_2's `YYYY-MM-DD-HH`.
    if t.len() == 13 && t.as_bytes()[10] == b'-' {
        let date = NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d").ok()?;
        let hour: u32 = t[11..].parse().ok()?;
        return date.and_hms_opt(hour, 0, 0);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn parse_date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .or_else(|| (t.len() == 8).then(|| NaiveDate::parse_from_str(t, "%Y%m%d").ok()).flatten())
        .or_else(|| parse_datetime(t).map(|v| v.date()))
}

fn parse_time(t: &str) -> Option<NaiveTime> {
    let parts: Vec<u32> = t
        .split(':')
        .map(|p| {
            (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok()).flatten()
        })
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [h] => NaiveTime::from_hms_opt(*h, 0, 0),
        [h, m] => NaiveTime::from_hms_opt(*h, *m, 0),
        [h, m, s] => NaiveTime::from_hms_opt(*h, *m, *s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOGOTA: Tz = chrono_tz::America::Bogota;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn ok(text: &str, ty: FieldType) -> Typed {
        let p = parse(Some(&json!(text)), ty, BOGOTA);
        assert!(!p.failed, "{text:?} as {ty:?}");
        p.value
    }

    fn int(v: i64) -> Typed {
        Typed::Integer(Some(v))
    }

    fn dec(v: &str) -> Typed {
        Typed::Decimal(Some(v.into()))
    }

    /// The real agent_1 row of `wolkvox-api.md` §7.1, typed as the catalogue types it.
    #[test]
    fn the_real_agent_1_row_types_cleanly() {
        let row = json!({"agent_id":"12523","agent_dni":"98570460","agent_name":"SERGIO FLOREZ","calls":"2","inbound":"2","outbound":"0","internal":"0","ready_time":"00:55:47","inbound_time":"00:25:53","outbound_time":"00:00:00","acw_time":"00:03:41","ring_time":"00:00:00","login_time":"02:02:47","aht":"00:14:47","occupancy":"34.64 %","aux_time":"00:37:26","hits":"1","rpc":"1","aht_outbund":"00:00:00","aht_inbound":"00:14:47","login":"2026-08-12 08:02:08","logout":"2026-08-12 10:02:42"});
        let report = crate::wolkvox::catalog::find("agent_1").unwrap();
        let typed = |name: &str| {
            let f = report.field(name).unwrap();
            let p = parse(row.get(name), f.ty, BOGOTA);
            assert!(!p.failed, "{name}");
            p.value
        };
        for f in report.api_fields() {
            typed(f.name);
        }
        assert_eq!(typed("agent_id"), Typed::Text(Some("12523".into())));
        assert_eq!(typed("calls"), int(2));
        assert_eq!(typed("login_time"), int(2 * 3600 + 2 * 60 + 47));
        assert_eq!(typed("occupancy"), dec("34.64"));
        assert_eq!(typed("login"), Typed::Timestamp(Some(utc("2026-08-12T13:02:08Z"))));
    }

    #[test]
    fn values_of_the_real_samples_parse_as_expected() {
        use FieldType::*;
        let cases: &[(&str, FieldType, Typed)] = &[
            // agent_15 / agent_16 (§7.2)
            ("00:00:34", Duration, int(34)),
            ("01:45:23", Duration, int(6323)),
            ("28.81 %", Percent, dec("28.81")),
            ("15,233.33 %", Percent, dec("15233.33")),
            ("490.00 %", Percent, dec("490")),
            ("1.13 %", Percent, dec("1.13")),
            ("4", Integer, int(4)),
            ("2026-06-25 10:50:54", Timestamp, Typed::Timestamp(Some(utc("2026-06-25T15:50:54Z")))),
            // diagram_15 (§7.3)
            ("2.887", Decimal, dec("2.887")),
            ("61.4", Decimal, dec("61.4")),
            ("1856", Decimal, dec("1856")),
            ("00:01:41", Duration, int(101)),
            // gamification (§7.4)
            ("0 %", Percent, dec("0")),
            // other formats of §5
            ("41:06:00", Duration, int(147_960)),
            ("120", Duration, int(120)),
            ("05:30", Duration, int(330)),
            ("1,234", Integer, int(1234)),
            ("12.0", Integer, int(12)),
            ("-3", Integer, int(-3)),
            ("34.64", Percent, dec("34.64")),
            ("007.50", Decimal, dec("7.5")),
            (".5", Decimal, dec("0.5")),
            ("-0.00", Decimal, dec("0")),
            ("yes", Boolean, Typed::Boolean(Some(true))),
            ("No", Boolean, Typed::Boolean(Some(false))),
            ("2026-08-11", Date, Typed::Date(NaiveDate::from_ymd_opt(2026, 8, 11))),
            ("20230130", Date, Typed::Date(NaiveDate::from_ymd_opt(2023, 1, 30))),
            ("13:00", Time, Typed::Time(NaiveTime::from_hms_opt(13, 0, 0))),
            ("9", Time, Typed::Time(NaiveTime::from_hms_opt(9, 0, 0))),
            ("09", Time, Typed::Time(NaiveTime::from_hms_opt(9, 0, 0))),
            ("09:30:00", Time, Typed::Time(NaiveTime::from_hms_opt(9, 30, 0))),
            ("2026-03-10-13", Timestamp, Typed::Timestamp(Some(utc("2026-03-10T18:00:00Z")))),
            ("2026-03-10 13:05", Timestamp, Typed::Timestamp(Some(utc("2026-03-10T18:05:00Z")))),
            (" Almuerzo ", Text, Typed::Text(Some(" Almuerzo ".into()))),
        ];
        for (text, ty, expected) in cases {
            assert_eq!(&ok(text, *ty), expected, "{text:?} as {ty:?}");
        }
    }

    #[test]
    fn unreadable_values_are_null_and_flagged() {
        use FieldType::*;
        for (text, ty) in [
            ("18/01/2026", Timestamp),
            ("abc", Integer),
            ("12.5", Integer),
            ("34,64 %", Percent),
            ("1,23", Decimal),
            ("1.2.3", Decimal),
            ("%", Percent),
            ("00:61:00", Duration),
            ("1:2:3:4", Duration),
            ("maybe", Boolean),
            ("2026-13-01", Date),
            ("25:00", Time),
            ("9am", Time),
        ] {
            let p = parse(Some(&json!(text)), ty, BOGOTA);
            assert_eq!(p, Parsed { value: Typed::null(ty), failed: true }, "{text:?} as {ty:?}");
        }
    }

    #[test]
    fn placeholders_are_null_without_a_failure() {
        use FieldType::*;
        for text in ["", "-", "--", " "] {
            for ty in [Text, Integer, Decimal, Percent, Duration, Boolean, Timestamp, Date, Time] {
                let p = parse(Some(&json!(text)), ty, BOGOTA);
                assert!(p.value.is_null() && !p.failed, "{text:?} {ty:?}");
                assert_eq!(p.value, Typed::null(ty));
            }
        }
        assert!(parse(None, Text, BOGOTA).value.is_null());
        assert!(parse(Some(&Value::Null), Integer, BOGOTA).value.is_null());
        let zero = parse(Some(&json!("0000-00-00 00:00:00")), Timestamp, BOGOTA);
        assert!(zero.value.is_null() && !zero.failed);
    }

    #[test]
    fn non_string_json_values_are_read_as_their_text() {
        let p = parse(Some(&json!(42)), FieldType::Text, BOGOTA);
        assert_eq!(p.value, Typed::Text(Some("42".into())));
        assert_eq!(ok_json(json!(42), FieldType::Integer), int(42));
        assert_eq!(ok_json(json!(1.5), FieldType::Decimal), dec("1.5"));
    }

    #[test]
    fn a_text_key_keeps_the_literal_placeholder_and_other_keys_read_as_values() {
        use FieldType::*;
        for text in ["", " ", "-", "--"] {
            let p = parse_key(Some(&json!(text)), Text, BOGOTA);
            assert_eq!(p, Parsed { value: Typed::Text(Some(text.into())), failed: false }, "{text:?}");
        }
        assert_eq!(parse_key(Some(&json!(7)), Text, BOGOTA).value, Typed::Text(Some("7".into())));
        assert!(parse_key(None, Text, BOGOTA).value.is_null(), "a missing key is NULL");
        assert!(parse_key(Some(&Value::Null), Text, BOGOTA).value.is_null());
        // Not text: a placeholder is still NULL, an unreadable value still fails.
        assert_eq!(
            parse_key(Some(&json!("-")), Timestamp, BOGOTA),
            Parsed { value: Typed::Timestamp(None), failed: false }
        );
        assert!(parse_key(Some(&json!("abc")), Timestamp, BOGOTA).failed);
        let at = parse_key(Some(&json!("2026-11-20 09:30:00")), Timestamp, BOGOTA).value;
        assert_eq!(at, Typed::Timestamp(Some(utc("2026-11-20T14:30:00Z"))));
    }

    #[test]
    fn nul_characters_are_removed_from_strings_and_names_at_any_depth_and_counted() {
        let mut v = json!({"a\u{0}b": "x\u{0}y\u{0}", "n": 1, "list": [{"c": "\u{0}"}, "ok"], "clean": "z"});
        assert_eq!(remove_nul(&mut v), 4);
        assert_eq!(v, json!({"ab": "xy", "n": 1, "list": [{"c": ""}, "ok"], "clean": "z"}));
        assert_eq!(remove_nul(&mut v), 0, "nothing left to remove");
    }

    #[test]
    fn typed_values_read_plainly_in_log_lines() {
        assert_eq!(Typed::Text(Some(" ".into())).to_string(), "\" \"");
        assert_eq!(Typed::Timestamp(Some(utc("2026-11-20T14:30:00Z"))).to_string(), "2026-11-20T14:30:00Z");
        assert_eq!(int(3).to_string(), "3");
        assert_eq!(Typed::Date(None).to_string(), "NULL");
    }

    fn ok_json(v: Value, ty: FieldType) -> Typed {
        let p = parse(Some(&v), ty, BOGOTA);
        assert!(!p.failed);
        p.value
    }
}
