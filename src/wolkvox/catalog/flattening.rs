//! Flattening: one row as the API sent it becomes the rows to store (a nested report's
//! elements, cdr_4's buckets), and the row hash of reports without an id. Owns the rule that
//! nothing the API sends is dropped unseen: what turns into no row is said ([`flattened_away`]).

use serde_json::Value;

use super::{DataShape, Report, BUCKET, ROW_HASH};
use crate::wolkvox::Row;

/// What of an element [`flatten`] turns into no row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Away {
    /// A well-formed "nothing": a nested report's parent with an empty list (an agent without
    /// hours, a skill without agents), a bucket object with no bucket. Counted, not quarantined.
    Empty,
    /// A shape that cannot be read: a parent whose list is missing, null, not a list, or holds
    /// non-objects; a bucket that is not an object. Quarantined with this reason.
    Malformed(String),
}

/// What of `row` [`flatten`] turns into no row, if anything. Nothing the API sends is dropped
/// unseen: the caller counts such an element, and quarantines a malformed one.
pub fn flattened_away(report: &Report, row: &Row) -> Option<Away> {
    if report.key == [ROW_HASH] {
        return None;
    }
    if report.data_shape == DataShape::BucketObject {
        let bad = row.values().filter(|v| !v.is_object()).count();
        return match (row.len(), bad) {
            (0, _) => Some(Away::Empty),
            (_, 0) => None,
            (n, bad) => Some(Away::Malformed(format!("{bad} of {n} bucket(s) are not objects"))),
        };
    }
    let nested = report.nested?;
    let malformed = |why: String| Some(Away::Malformed(why));
    match row.get(nested) {
        None => malformed(format!("`{nested}` is missing: the row has no child rows")),
        Some(Value::Null) => malformed(format!("`{nested}` is null: the row has no child rows")),
        Some(Value::Array(items)) if items.is_empty() => Some(Away::Empty),
        Some(Value::Array(items)) => match items.iter().filter(|i| !i.is_object()).count() {
            0 => None,
            bad => malformed(format!("{bad} of {} element(s) of `{nested}` are not objects", items.len())),
        },
        Some(other) => malformed(format!("`{nested}` is not a list but {}", kind_of(other))),
    }
}

/// What a JSON value is, for a reason.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Turns one row as the API sent it into the rows to store.
///
/// - Nested reports: one row per element of the nested array, each with the parent's scalar
///   fields plus the element's (keys trimmed); a row without elements yields nothing.
/// - cdr_4 ([`DataShape::BucketObject`]): the envelope hands over the `data` object as one row;
///   each object-valued entry becomes a row with a `bucket` field.
/// - Reports keyed on `row_hash`: the hash of the row as sent is added.
///
/// The synthetic `day` is not added here: it comes from the window, so the caller adds it.
pub fn flatten(report: &Report, row: Row) -> Vec<Row> {
    if report.key == [ROW_HASH] {
        let hash = row_hash(&row);
        let mut row = row;
        row.insert(ROW_HASH.to_owned(), Value::String(hash));
        return vec![row];
    }
    if report.data_shape == DataShape::BucketObject {
        return row
            .into_iter()
            .filter_map(|(bucket, value)| match value {
                Value::Object(fields) => {
                    let mut out = trimmed(fields);
                    out.insert(BUCKET.to_owned(), Value::String(bucket.trim().to_owned()));
                    Some(out)
                }
                _ => None,
            })
            .collect();
    }
    let Some(nested) = report.nested else {
        return vec![row];
    };
    let mut parent = row;
    let elements = match parent.remove(nested) {
        Some(Value::Array(elements)) => elements,
        _ => return Vec::new(),
    };
    elements
        .into_iter()
        .filter_map(|element| match element {
            Value::Object(fields) => {
                let mut out = parent.clone();
                out.extend(trimmed(fields));
                Some(out)
            }
            _ => None,
        })
        .collect()
}

/// A stable hex hash (128-bit FNV-1a) of the row's canonical JSON: keys sorted at every level,
/// no whitespace. Stable across runs, platforms and Rust versions, unlike `std`'s hashers.
pub fn row_hash(row: &Row) -> String {
    let mut text = String::new();
    canonical(&Value::Object(row.clone()), &mut text);
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let hash = text.bytes().fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    format!("{hash:032x}")
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn trimmed(fields: Row) -> Row {
    fields.into_iter().map(|(k, v)| (k.trim().to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog::find;
    use serde_json::json;

    fn row(value: Value) -> Row {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn nested_rows_become_one_row_per_element_with_the_parents_fields() {
        let agent_5 = find("agent_5").unwrap();
        let rows = flatten(
            agent_5,
            row(json!({"agent_name": "Ana", "agent_id": "1", "status_x_hour": [
                {"hour": "08:00", "calls": "2"}, {"hour ": "09:00", "calls": "1"}
            ]})),
        );
        assert_eq!(
            rows,
            vec![
                row(json!({"agent_name": "Ana", "agent_id": "1", "hour": "08:00", "calls": "2"})),
                row(json!({"agent_name": "Ana", "agent_id": "1", "hour": "09:00", "calls": "1"})),
            ]
        );
        assert!(flatten(agent_5, row(json!({"agent_id": "1"}))).is_empty());
    }

    #[test]
    fn a_bucket_object_becomes_one_row_per_bucket() {
        let cdr_4 = find("cdr_4").unwrap();
        let rows = flatten(cdr_4, row(json!({"0_5_seg": {"calls": "3"}, "6_20_seg": {"calls": "1"}})));
        assert_eq!(
            rows,
            vec![row(json!({"calls": "3", "bucket": "0_5_seg"})), row(json!({"calls": "1", "bucket": "6_20_seg"})),]
        );
    }

    #[test]
    fn the_row_hash_is_stable_and_ignores_key_order() {
        let cdr_9 = find("cdr_9").unwrap();
        let a = flatten(cdr_9, row(json!({"from": "a", "to": "b", "date": "2026-01-01 00:00:00"})));
        let b = row_hash(&row(json!({"date": "2026-01-01 00:00:00", "to": "b", "from": "a"})));
        assert_eq!(a[0][ROW_HASH], json!(b));
        assert_eq!(b.len(), 32);
        assert_ne!(b, row_hash(&row(json!({"from": "a", "to": "c"}))));
        // Pinned: a changed hash would duplicate every stored row of these reports.
        assert_eq!(row_hash(&Row::new()), "0880955dd2ab1be95aa0733055c655b5");
    }
}
