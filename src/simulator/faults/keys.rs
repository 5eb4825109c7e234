//! Key faults, each a switch of its own: placeholder text in a key field, NUL characters in
//! values, one key sent twice in one answer. Rows are picked by their identity, so every answer
//! holding a row treats it alike.

use serde_json::Value;

use super::super::data::{mix, name_salt};
use super::damage::{damageable, row_identity};
use crate::wolkvox::catalog::{self, DataShape, FieldType, Report};
use crate::wolkvox::Row;

/// Whether the row is one of about one in `every` that fault `salt` picks: a pure function of
/// the row's identity, so every answer holding the row picks it alike.
fn picked(report: &Report, row: &Row, every: usize, salt: &str) -> bool {
    every > 0 && mix(row_identity(report, row) ^ name_salt(salt)).is_multiple_of(every as u64)
}

/// About one row in `every` gets a placeholder (`""`, `" "` or `"-"`, in turn by the row) in one
/// of its text key fields, the way the real API sends a call without an agent. Such a row still
/// has a key, and a correct client stores it under that literal text. Reports whose `data` is an
/// object keyed by bucket (cdr_4) are left alone.
pub fn placeholder_keys(api: &str, every: usize, rows: &mut [Row]) {
    const PLACEHOLDERS: [&str; 3] = ["", " ", "-"];
    let Some(report) = catalog::find(api).filter(|r| r.data_shape != DataShape::BucketObject) else {
        return;
    };
    for row in rows.iter_mut().filter(|row| picked(report, row, every, "placeholder")) {
        let h = mix(row_identity(report, row));
        let text_keys: Vec<&str> = report
            .key
            .iter()
            .copied()
            .filter(|k| !report.is_synthetic(k) && report.field(k).is_some_and(|f| f.ty == FieldType::Text))
            .filter(|k| row.get(*k).is_some_and(Value::is_string))
            .collect();
        if text_keys.is_empty() {
            continue;
        }
        let name = text_keys[(h % text_keys.len() as u64) as usize];
        let placeholder = PLACEHOLDERS[(mix(h) % PLACEHOLDERS.len() as u64) as usize];
        row.insert(name.to_owned(), Value::String(placeholder.to_owned()));
    }
}

/// About one row in `every` carries a NUL character (`\u0000`) in the middle of one of its
/// string values (any field: key, timestamp or other). With the NUL removed the row is exactly
/// what it was, which is what a correct client stores.
pub fn nul_values(api: &str, every: usize, rows: &mut [Row]) {
    let Some(report) = catalog::find(api).filter(|r| r.data_shape != DataShape::BucketObject) else {
        return;
    };
    for row in rows.iter_mut().filter(|row| picked(report, row, every, "nul")) {
        let h = mix(row_identity(report, row));
        let strings: Vec<String> = row.iter().filter(|(_, v)| v.is_string()).map(|(k, _)| k.clone()).collect();
        if strings.is_empty() {
            continue;
        }
        if let Some(Value::String(text)) = row.get_mut(&strings[(h % strings.len() as u64) as usize]) {
            let middle = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(at, _)| at);
            text.insert(middle, '\0');
        }
    }
}

/// About one row in `every` is sent a second time, at the end of the same answer, under the same
/// key with one text value changed (` (copy)` appended to a field that is not the key or the
/// timestamp; an identical copy when there is none). A correct client keeps the last copy.
pub fn duplicate_keys(api: &str, every: usize, rows: &mut Vec<Row>) {
    let Some(report) = catalog::find(api).filter(|r| r.data_shape != DataShape::BucketObject) else {
        return;
    };
    let mut copies = Vec::new();
    for row in rows.iter().filter(|row| picked(report, row, every, "duplicate")) {
        let mut copy = row.clone();
        let h = mix(row_identity(report, row));
        let changeable: Vec<String> = copy
            .iter()
            .filter(|(name, value)| value.is_string() && damageable(report, name.trim()) == Some(FieldType::Text))
            .map(|(name, _)| name.clone())
            .collect();
        if !changeable.is_empty() {
            if let Some(Value::String(text)) = copy.get_mut(&changeable[(h % changeable.len() as u64) as usize]) {
                text.push_str(" (copy)");
            }
        }
        copies.push(copy);
    }
    rows.extend(copies);
}
