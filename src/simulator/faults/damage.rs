//! Row damage: a small, fixed share of served rows carry an unknown field, miss a field or hold
//! an unparseable value; a pure function of the plan's seed and the row, so the ground truth
//! takes the same damage. Never a key field or the report's timestamp.

use serde_json::Value;

use super::super::data::{mix, name_salt};
use crate::wolkvox::catalog::{self, DataShape, FieldType, Grain, Report};
use crate::wolkvox::Row;

/// Share of rows, in per mille, given each kind of damage (an extra field, a missing field, a
/// malformed value): about 2% each, never two on one row.
const DAMAGE_PER_MILLE: u64 = 20;
/// The undocumented field added to damaged rows.
pub const EXTRA_FIELD: &str = "x_new_field";

/// Applies the plan's row damage to `rows` of `report`, as served (cdr_4: the bucket object's
/// rows; nested reports: the parent's own fields).
///
/// Which rows are damaged, and how, is a pure function of `seed` and the row: for event reports
/// with an id, of its key fields, so a row keeps the same damage when it changes later (late
/// typification); otherwise of its whole content. About 2% of rows get [`EXTRA_FIELD`], about 2%
/// lose one field and about 2% get one value malformed (`"abc"` for a count, `"2026-13-45
/// 99:00:00"` for a datetime, `"n/a %"` for a percent…). Key fields and the report's timestamp
/// field are never touched, and neither is a row of a report not in the catalogue.
pub fn damage_rows(api: &str, seed: u64, rows: &mut [Row]) {
    let Some(report) = catalog::find(api) else {
        return;
    };
    for row in rows {
        if report.data_shape == DataShape::BucketObject {
            for (bucket, value) in row.iter_mut() {
                if let Value::Object(inner) = value {
                    damage_row(report, mix(seed ^ name_salt(bucket)), inner);
                }
            }
        } else {
            damage_row(report, seed, row);
        }
    }
}

/// The damage done to one row, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    Extra,
    Missing,
    Malformed,
}

fn damage_row(report: &Report, seed: u64, row: &mut Row) {
    let h = mix(seed ^ row_identity(report, row));
    let damage = match h % 1000 {
        x if x < DAMAGE_PER_MILLE => Damage::Extra,
        x if x < 2 * DAMAGE_PER_MILLE => Damage::Missing,
        x if x < 3 * DAMAGE_PER_MILLE => Damage::Malformed,
        _ => return,
    };
    let pick = mix(h);
    if damage == Damage::Extra {
        row.insert(EXTRA_FIELD.to_owned(), Value::String(format!("sim-{:08x}", pick & 0xffff_ffff)));
        return;
    }
    let candidates: Vec<(&String, FieldType)> = row
        .iter()
        .filter(|(_, value)| value.is_string())
        .filter_map(|(name, _)| Some((name, damageable(report, name.trim())?)))
        .filter(|(_, ty)| damage == Damage::Missing || malformed(*ty).is_some())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let (name, ty) = candidates[(pick % candidates.len() as u64) as usize];
    let name = name.clone();
    match malformed(ty).filter(|_| damage == Damage::Malformed) {
        Some(bad) => {
            row.insert(name, Value::String(bad.to_owned()));
        }
        None => {
            row.remove(&name);
        }
    }
}

/// What identifies a row for its damage draw (see [`damage_rows`]).
pub(super) fn row_identity(report: &Report, row: &Row) -> u64 {
    let keys: Vec<&str> = report.key.iter().filter_map(|k| row.get(*k)?.as_str()).collect();
    if matches!(report.grain, Grain::Event | Grain::DatedAggregate) && !keys.is_empty() {
        keys.iter().fold(name_salt(report.api), |h, value| mix(h ^ name_salt(value)))
    } else {
        mix(name_salt(report.api) ^ name_salt(&catalog::row_hash(row)))
    }
}

/// The type of `name` when it is a field damage may touch: a catalogued field, not synthetic,
/// not part of the key and not the report's timestamp.
pub(super) fn damageable(report: &Report, name: &str) -> Option<FieldType> {
    let field = report.field(name)?;
    let protected = report.key.contains(&name) || report.timestamp == Some(name) || report.is_synthetic(name);
    (!protected).then_some(field.ty)
}

/// An unparseable value of type `ty`; free text cannot be malformed.
fn malformed(ty: FieldType) -> Option<&'static str> {
    Some(match ty {
        FieldType::Text => return None,
        FieldType::Integer | FieldType::Decimal | FieldType::Duration => "abc",
        FieldType::Percent => "n/a %",
        FieldType::Boolean => "maybe",
        FieldType::Timestamp => "2026-13-45 99:00:00",
        FieldType::Date => "2026-13-45",
        FieldType::Time => "99:99",
    })
}
