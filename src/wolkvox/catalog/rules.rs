//! Decisions: the rule tables (nested arrays, hashed keys, chosen keys and timestamps, slots,
//! streams, window limits) and the building of a [`Report`] from a fact of `reports.json`:
//! its synthetic columns, key, timestamp, grain, required parameters and field aliases.

use serde_json::Value;

use super::facts::{DocVsExample, Entry};
use super::field_types::infer;
use super::suggestions::levenshtein;
use super::{DataShape, Field, FieldType, Grain, Report, BUCKET, DAY, PASS, ROW_HASH, STREAM};

/// The alias pairs of one report: a doc-only name and an example-only name are two spellings
/// of one field when their `_`-separated words are the same (`agent_name` / `name_agent`) or
/// they are at most two letters apart (`channel` / `chanel`, `date` / `day`). One rule for the
/// whole catalogue; names that differ more (`skill_name` / `agent_name`) are different fields.
fn alias_pairs(diff: &DocVsExample) -> Vec<(String, String)> {
    fn words(s: &str) -> Vec<&str> {
        let mut w: Vec<&str> = s.split('_').collect();
        w.sort_unstable();
        w
    }
    let mut pairs = Vec::new();
    let mut taken: Vec<&str> = Vec::new();
    for doc in diff.doc_only.iter().filter(|d| !is_placeholder(d)) {
        let found = diff
            .example_only
            .iter()
            .filter(|x| !is_placeholder(x) && !taken.contains(&x.as_str()))
            .find(|x| words(doc) == words(x) || levenshtein(doc, x) <= 2);
        if let Some(example) = found {
            taken.push(example);
            pairs.push((doc.clone(), example.clone()));
        }
    }
    pairs
}

/// Reports whose rows nest an array, and the array's name.
const NESTED: &[(&str, &str)] = &[("agent_5", "status_x_hour"), ("agent_11", "agents"), ("chat_2", "conversation")];

/// Event reports keyed on a row hash because they have no id (their proposed keys are long
/// composites of free text).
const HASHED: &[&str] =
    &["cdr_7", "cdr_9", "diagram_7", "diagram_8", "diagram_12", "wizard_2", "wizard_3", "audit_log"];

/// Keys chosen here rather than derived from the JSON.
const KEYS: &[(&str, &[&str])] = &[
    ("agent_5", &[DAY, "agent_id", "hour"]),
    ("agent_11", &[DAY, "skill_name", "agent_id"]),
    ("chat_2", &["conn_id", "date", "from"]),
    ("cdr_4", &[DAY, BUCKET]),
    // The existing chat_14 table's primary key; `date` never changes for a chat.
    ("chat_14", &["chat_id", "date"]),
];

/// Timestamp fields chosen here: per-day/per-slot reports filter on their own date column.
const TIMESTAMPS: &[(&str, &str)] = &[("agent_7", "date")];

/// Slot length in minutes of the reports that aggregate per slot.
const SLOTS: &[(&str, u32)] = &[
    ("agent_5", 60),
    ("agent_6", 60),
    ("agent_7", 1440),
    ("agent_8", 60),
    ("agent_8_1", 30),
    ("skill_3", 1440),
    ("skill_4", 60),
    ("skill_4_1", 30),
    ("skill_4_2", 10),
    ("skill_5", 60),
    ("skill_7", 60),
    ("chat_6", 1440),
    ("diagram_1_1", 1440),
    ("diagram_1_2", 60),
];

/// Reports whose parameter is a stream: each value is synced separately.
const STREAMS: &[(&str, &[&str])] = &[("cod_act", &["cod_act1", "cod_act2"])];

/// Reports with a window limit below the general 31 days.
const MAX_WINDOW_DAYS: &[(&str, u32)] = &[("skill_5", 1)];

fn lookup<T: Copy>(table: &[(&str, T)], api: &str) -> Option<T> {
    table.iter().find(|(a, _)| *a == api).map(|(_, v)| *v)
}

fn leak(s: String) -> &'static str {
    s.leak()
}

/// What decides a report's synthetic columns, worked out once per entry.
struct Shape {
    api: &'static str,
    grain: Grain,
    nested: Option<&'static str>,
    streams: &'static [&'static str],
    hashed: bool,
    bucketed: bool,
    /// Keyed on a date and a time of day: the slot's pass is part of the key.
    passes: bool,
}

/// The report an entry of the facts describes, with this daemon's decisions applied.
pub(super) fn build(e: Entry) -> Report {
    let api: &'static str = leak(e.api.clone());
    let params = required_params(&e);
    let mut shape = Shape {
        api,
        grain: grain_of(&e.grain, &e.fields),
        nested: lookup(NESTED, api),
        streams: params.iter().find_map(|(name, _)| lookup(STREAMS, name)).unwrap_or(&[]),
        hashed: HASHED.contains(&api),
        bucketed: api == "cdr_4",
        passes: false,
    };
    let mut key = key_of(&e, &shape);
    // A slot shorter than a day, labelled by its time of day under a date: the label alone
    // would name both passes of a fall-back's repeated hour.
    let synthetic_day = matches!(shape.grain, Grain::WindowAggregate | Grain::IntervalAggregate);
    let ty = |name: &str| if name == DAY && synthetic_day { FieldType::Date } else { infer(api, name) };
    shape.passes = lookup(SLOTS, api).is_some_and(|minutes| minutes < 1440)
        && key.iter().any(|k| ty(k) == FieldType::Time)
        && key.iter().any(|k| ty(k) == FieldType::Date);
    if shape.passes {
        key.push(PASS);
    }
    let (fields, nested_fields) = fields_of(&e, &shape);
    let enabled_by_default = params.iter().all(|(_, default)| !default.is_empty());
    let file = if e.endpoint.contains("/information.php") { "information.php" } else { "reports_manager.php" };
    Report {
        api,
        file,
        table: api,
        title: leak(e.title.clone()),
        fields: Box::leak(fields.into_boxed_slice()),
        key: Box::leak(key.into_boxed_slice()),
        timestamp: timestamp_of(&e, &shape),
        grain: shape.grain,
        nested: shape.nested,
        nested_fields: Box::leak(nested_fields.into_boxed_slice()),
        params: Box::leak(params.into_boxed_slice()),
        streams: shape.streams,
        max_window_days: lookup(MAX_WINDOW_DAYS, api).unwrap_or(31),
        slot_minutes: lookup(SLOTS, api),
        data_shape: if shape.bucketed { DataShape::BucketObject } else { DataShape::Array },
        enabled_by_default,
        code_is_text: e.postman_example_code == Value::String("200".to_owned()),
        notes: leak(e.notes),
    }
}

/// The request parameters the docs mark required, with the default we send (`all`,
/// `cod_act1`, or none: then the operator must configure it).
fn required_params(e: &Entry) -> Vec<(&'static str, &'static str)> {
    e.params
        .iter()
        .filter(|p| p.contains("required"))
        .filter_map(|p| {
            let name = p.split_whitespace().next()?;
            let default = if p.contains("'all'") {
                "all"
            } else if p.contains("'cod_act1'") {
                "cod_act1"
            } else {
                ""
            };
            Some((leak(name.to_owned()), default))
        })
        .collect()
}

/// The typed fields, synthetic columns first (`day`, `stream`, `bucket`, `pass`) and `row_hash` last,
/// and the names read from a nested array's elements.
fn fields_of(e: &Entry, shape: &Shape) -> (Vec<Field>, Vec<&'static str>) {
    let mut names: Vec<String> = Vec::new();
    let mut nested_fields: Vec<&'static str> = Vec::new();
    let synthetic_day = matches!(shape.grain, Grain::WindowAggregate | Grain::IntervalAggregate);
    if synthetic_day {
        names.push(DAY.to_owned());
    }
    if !shape.streams.is_empty() {
        names.push(STREAM.to_owned());
    }
    if shape.bucketed {
        names.push(BUCKET.to_owned());
    }
    if shape.passes {
        names.push(PASS.to_owned());
    }
    match shape.nested {
        // The example shows the nesting (`x[]`, `x[].y`); the doc list flattens it ambiguously.
        Some(array) => {
            let prefix = format!("{array}[].");
            names.extend(e.fields_example.iter().filter(|f| !f.contains('[')).cloned());
            for inner in e.fields_example.iter().filter_map(|f| f.strip_prefix(&prefix)) {
                names.push(inner.to_owned());
                nested_fields.push(leak(inner.to_owned()));
            }
        }
        None => {
            names.extend(e.fields.iter().filter(|f| !is_placeholder(f)).cloned());
            // Fields seen in live answers are part of the report even if the docs omit them:
            // typed columns for them, and no "unknown field" warning on every run.
            let observed: Vec<String> =
                e.fields_observed_in_real_use.iter().filter(|f| !names.contains(f)).cloned().collect();
            names.extend(observed);
        }
    }
    if shape.hashed {
        names.push(ROW_HASH.to_owned());
    }
    let pairs = alias_pairs(&e.doc_vs_example);
    let alias_of = |name: &str| {
        pairs.iter().find_map(|(doc, example)| match name {
            n if n == doc => Some(leak(example.clone())),
            n if n == example => Some(leak(doc.clone())),
            _ => None,
        })
    };
    let fields = names
        .into_iter()
        .map(|name| {
            let synthetic = match name.as_str() {
                DAY if synthetic_day => Some(FieldType::Date),
                STREAM if !shape.streams.is_empty() => Some(FieldType::Text),
                BUCKET if shape.bucketed => Some(FieldType::Text),
                ROW_HASH if shape.hashed => Some(FieldType::Text),
                PASS if shape.passes => Some(FieldType::Integer),
                _ => None,
            };
            let ty = synthetic.unwrap_or_else(|| infer(shape.api, &name));
            let alias = synthetic.is_none().then(|| alias_of(&name)).flatten();
            let sent = synthetic.is_none() && !e.doc_vs_example.doc_only.contains(&name);
            Field { name: leak(name), ty, alias, sent }
        })
        .collect();
    (fields, nested_fields)
}

/// The natural key: ours where the research's is unusable, `day` first for aggregates and the
/// stream next for reports synced in code groups (the caller appends `pass` where it applies).
fn key_of(e: &Entry, shape: &Shape) -> Vec<&'static str> {
    if shape.hashed {
        return vec![ROW_HASH];
    }
    if let Some(key) = lookup(KEYS, shape.api) {
        return key.to_vec();
    }
    let own = e.key.iter().filter(|k| !k.starts_with('+') && !k.starts_with('<')).map(|k| leak(k.clone()));
    let day = matches!(shape.grain, Grain::WindowAggregate | Grain::IntervalAggregate).then_some(DAY);
    // Rows of different code groups can share every other key value.
    let stream = (!shape.streams.is_empty()).then_some(STREAM);
    day.into_iter().chain(stream).chain(own).collect()
}

/// The field an event report is windowed on, or the date column a dated aggregate's rows carry
/// (none for aggregates with the synthetic `day`).
fn timestamp_of(e: &Entry, shape: &Shape) -> Option<&'static str> {
    match shape.grain {
        Grain::Event | Grain::DatedAggregate => lookup(TIMESTAMPS, shape.api).or_else(|| {
            e.timestamp.as_deref().map(|t| {
                let first = t.split_whitespace().next().unwrap_or(t);
                leak(first.rsplit('.').next().unwrap_or(first).to_owned())
            })
        }),
        _ => None,
    }
}

/// The JSON's grain text as a [`Grain`]. Per-hour or per-day aggregates that carry their own
/// date column are dated aggregates; those without one get the synthetic `day`.
fn grain_of(grain: &str, fields: &[String]) -> Grain {
    let dated = fields.iter().any(|f| f == "date" || f == "day");
    match grain {
        "aggregate over query window" => Grain::WindowAggregate,
        "aggregate per hour/interval" | "aggregate per day" if dated => Grain::DatedAggregate,
        "aggregate per hour/interval" | "aggregate per day" => Grain::IntervalAggregate,
        _ => Grain::Event,
    }
}

/// Pseudo-fields of the docs that stand for a family of real names (see the module docs).
pub(super) fn is_placeholder(name: &str) -> bool {
    name.contains(['#', '{', '[', ' ']) || matches!(name, "service_level_XXseg" | "INTERVAL")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog::{all, find};

    #[test]
    fn fields_seen_in_live_answers_are_catalogued_and_typed() {
        let chat_1 = find("chat_1").unwrap();
        assert_eq!(chat_1.field("date_close").map(|f| f.ty), Some(FieldType::Timestamp));
        assert_eq!(chat_1.field("agent_average_response_time").map(|f| f.ty), Some(FieldType::Duration));
        assert_eq!(chat_1.field("transfer").map(|f| f.ty), Some(FieldType::Text));
    }

    #[test]
    fn field_names_are_unique_and_no_placeholder_survives() {
        for report in all() {
            let mut names: Vec<&str> = report.fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(names.len(), before, "{}", report.api);
            for f in report.fields {
                assert!(!is_placeholder(f.name), "{}: {}", report.api, f.name);
                assert!(f.name.trim() == f.name && !f.name.is_empty());
            }
        }
    }

    #[test]
    fn aggregates_start_with_a_day_column_and_key() {
        for report in all() {
            if report.has_day() {
                assert_eq!(report.fields[0], Field { name: DAY, ty: FieldType::Date, alias: None, sent: false });
                assert_eq!(report.key[0], DAY, "{}", report.api);
            } else {
                assert!(!report.is_synthetic(DAY));
            }
        }
    }

    #[test]
    fn grains_follow_the_json_and_the_date_columns() {
        let grain = |api| find(api).unwrap().grain;
        for api in ["agent_5", "agent_6", "skill_4", "skill_4_1", "skill_4_2", "skill_5"] {
            assert_eq!(grain(api), Grain::IntervalAggregate, "{api}");
        }
        for api in ["agent_7", "agent_8", "agent_8_1", "skill_3", "skill_7", "chat_6", "diagram_1_2"] {
            assert_eq!(find(api).unwrap().timestamp, Some("date"), "{api}");
        }
        assert_eq!(find("diagram_1_1").unwrap().timestamp, Some("day"));
        assert_eq!(find("chat_2").unwrap().timestamp, Some("date"));
        assert_eq!(grain("agent_1"), Grain::WindowAggregate);
        assert_eq!(grain("chat_14"), Grain::Event);
        assert_eq!(all().iter().filter(|r| r.grain == Grain::WindowAggregate).count(), 44);
    }

    #[test]
    fn special_reports_have_their_keys_params_and_shapes() {
        let r = |api| find(api).unwrap();
        assert_eq!(r("agent_1").key, [DAY, "agent_id"]);
        assert_eq!(r("agent_5").key, [DAY, "agent_id", "hour", PASS]);
        assert_eq!(r("agent_5").nested, Some("status_x_hour"));
        assert!(r("agent_5").field("status_x_hour").is_none());
        assert_eq!(r("agent_11").key, [DAY, "skill_name", "agent_id"]);
        assert_eq!(r("chat_2").key, ["conn_id", "date", "from"]);
        assert!(r("chat_2").field("from_name").is_some());
        assert_eq!(r("cdr_4").key, [DAY, BUCKET]);
        assert_eq!(r("cdr_4").data_shape, DataShape::BucketObject);
        assert!(r("cdr_4").field("INTERVAL").is_none());
        assert_eq!(r("campaign_1").key, [DAY, "result"]);
        assert_eq!(r("campaign_1").params, [("campaign_id", "all")]);
        assert_eq!(r("chat_15").key, [DAY]);
        assert_eq!(r("skill_4").params, [("skill_id", "all")]);
        assert_eq!(r("skill_5").max_window_days, 1);
        assert_eq!(r("skill_4_2").slot_minutes, Some(10));
        assert_eq!(r("act_1").params, [("cod_act", "cod_act1")]);
        assert_eq!(r("act_3").streams, ["cod_act1", "cod_act2"]);
        assert!(r("act_4").streams.is_empty());
        assert_eq!(r("agent_2").params, [("agent_id", "")]);
        assert!(!r("agent_2").enabled_by_default);
        assert!(r("agent_1").params.is_empty(), "agent_1's agent_id is optional");
        assert!(r("diagram_3").key.contains(&"ani"));
        for api in HASHED {
            assert_eq!(r(api).key, [ROW_HASH]);
            assert!(r(api).is_synthetic(ROW_HASH));
        }
        assert_eq!(r("diagram_4").fields.iter().filter(|f| f.name.starts_with('q')).count(), 10);
        assert_eq!(r("campaign_3").fields.iter().filter(|f| f.name.starts_with("opt")).count(), 12);
        assert!(r("skill_1").field("service_level_XXseg").is_none());
        assert!(r("agent_15").code_is_text && !r("agent_1").code_is_text);
        assert_eq!(all().iter().filter(|r| r.code_is_text).count(), 21);
    }
}
