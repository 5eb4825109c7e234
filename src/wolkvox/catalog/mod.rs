//! The report catalogue: the single description of every `reports_manager.php` report. The
//! dimensions of `information.php` are catalogued beside it, in [`dimensions`].
//!
//! Tables, upserts, the simulator and the docs all derive from these entries, so a field list is
//! written exactly once. It is built from two halves:
//!
//! - **Facts** about the API live in `reports.json` (a verbatim copy of
//!   `shared/wolkvox-reports.json`, compiled in): every report's fields (the union of the
//!   documented table and the Postman example), proposed natural key, timestamp, grain, extra
//!   parameters and the type of the example envelope's `code`.
//! - **Decisions** of this daemon live below, in Rust: how each field is typed, which placeholder
//!   pseudo-fields are dropped, which keys are adjusted, how nested arrays are flattened, which
//!   parameters are required, which reports are split into streams.
//!
//! The JSON is parsed once ([`all`]) into `&'static` entries; the set is fixed and small (104
//! reports), so the parsed data is leaked rather than owned.
//!
//! # Field names
//!
//! Field names are kept exactly as the API spells them, so that `raw` and the typed columns never
//! disagree, misspellings included: `aht_outbund` (agent_1; agent_11 says `aht_outbound`),
//! `destinity` (agent_14; agent_2 says `destiny`), `agent_anwers` (chat_1, sometimes sent with a
//! trailing space that the envelope trims), `anwers_greater_than_51seg` (skill_8/9),
//! `abandon_11seg_20_seg` (skill_9), `campaing_id` (campaign_9), `explation` (wizard_3), `chanel`
//! (chat_13, next to the documented `channel`), `name_agent` (cdr_11). Names with odd characters
//! (`yes/no` in quality_3, `ASA` in chat_1) are kept too; SQL quotes every identifier.
//!
//! Placeholder pseudo-fields of the docs are dropped where the example shows the real names:
//! `q#` (→ `q01`…`q10`), `opt#` (→ `opt1`…`opt12`), `service_level_XXseg` (a dynamic name that
//! only appears with `services_time`, kept in `raw`), `from_name phone` (→ chat_2's nested
//! `from_name`), and cdr_4's `INTERVAL` / `{0_5_seg|…}` (→ the synthetic `bucket` column).
//!
//! # Field types
//!
//! Every value arrives as a string; [`FieldType`] says how it is typed (see
//! [`super::values`] for the accepted formats). The rules, first match wins:
//!
//! | rule (field name) | type | stored as |
//! |---|---|---|
//! | per-report overrides: `date` of agent_7, agent_8, agent_8_1, skill_3, skill_7, chat_6 and `day` of diagram_1_1 | Date | `YYYY-MM-DD` |
//! | per-report overrides: diagram_1_2 `date`/`day` (`YYYY-MM-DD-HH`) | Timestamp | |
//! | per-report overrides: diagram_4 `q01`…`q10` (answers), speech_1 `slow_to_greet` (per call) | Text | |
//! | `date`, `date_ini`, `date_end`, `login`, `logout`, `date_preview`, `start_date`, `end_date`, `close_date`, `date_creation`, `last_update`, `end_date_rp`, `date_inbound_call`, `date_last_outbound_call` | Timestamp | local `YYYY-MM-DD HH:MM:SS` read in the operation's zone, stored in UTC |
//! | `hour` | Time | `13:00`, `9`, `09`, `HH:MM:SS` |
//! | `greeting`, `go_to_agent`, `hit`, `template` | Boolean | `yes`/`no` |
//! | `occupancy`, `percentage`, `percent*`, `*_percent`, `service_level_<N>seg`, `abandon`, `accuracy`, `precision_*`, `silence`, `slow_to_greet` | Percent | numeric: `"15,233.33 %"` → 15233.33 |
//! | `cost`, `credits`, `nlp_credits`, `tts_credits`, `average`, `ivr_minutes`, `minutes`, `time_min`, `billed_minutes`, `q01`…`q10` | Decimal | numeric, exact |
//! | `time`, `*_time`, `time_*`, `aht`, `aht_*`, `tmo`, `talk`, `ring`, `ready`, `not_ready_acw`, `auxiliary_times`, `*_duration`, `asa`, `ata`, `att`, `acw`, `ASA` | Duration | integer seconds; `HH:MM:SS` (hours may pass 24) or plain seconds |
//! | counts: `calls`, `*_calls`, `inbound`, `outbound`, `internal`, `hits`, `rpc`, `count`, `records`, `interactions`, `interaction`, `total`, `total_*` (except `total_time`/`total_duration`), `*_chars`, `chars_*`, `surveys`, `evaluations`, `attempts`, `cantidad`, `units`, `characters`, `nlp_amount`, `times_chatted`, `agents_needed`, `yes`, `no`, `busy`, `congestion`, `failed`, `no_answer`, `answer_machine`, `treatment`, `customer_say_*`, `recall_*`, `ad_*`, `post_*`, `agent_anwers`, `*seg*` buckets of skill_8/9, `inbound_calls_unique_customers` | Integer | `"1,234"` → 1234 |
//! | everything else: ids, names, phones, codes, free text | Text | as sent |
//!
//! When unsure a field is Text: `raw` keeps the original either way.
//!
//! # Keys, synthetic columns, nesting
//!
//! - Window and interval aggregates ([`Grain::WindowAggregate`], [`Grain::IntervalAggregate`])
//!   get a synthetic `day` column (Date, the local calendar day that was queried, filled in by
//!   the caller) as their first field and first key column. The JSON's `+window` /
//!   `+window_date` markers become that column; `+campaign_id param` is dropped, because the
//!   `campaign_id` parameter defaults to `all` (one set of rows per operation).
//! - Event reports with no usable id (cdr_7, cdr_9, diagram_7, diagram_8, diagram_12, wizard_2,
//!   wizard_3: their proposed keys are free text) get a synthetic `row_hash` (Text, the last
//!   field): a stable hex hash of the row's canonical JSON, filled in by [`flatten`]; key
//!   `["row_hash"]`. Such rows never change once written, so a hash identifies them; two
//!   byte-identical rows collapse into one.
//! - cdr_4's `data` is an object keyed by duration bucket ([`DataShape::BucketObject`]):
//!   [`flatten`] turns it into one row per bucket with a synthetic `bucket` column; key
//!   `["day", "bucket"]`.
//! - Nested reports ([`Report::nested`]): agent_5 (`status_x_hour[]`), agent_11 (`agents[]`) and
//!   chat_2 (`conversation[]`) become one row per nested element carrying the parent's scalar
//!   fields; keys `day, agent_id, hour`; `day, skill_name, agent_id`; `conn_id, date, from`.
//! - chat_14 keeps `chat_id, date` (the existing table's primary key); chat_15 (one totals row)
//!   is keyed on `day` alone.
//!
//! # Slots of a fall-back's repeated hour
//!
//! A per-hour (or 30/10-minute) report names its slot by local wall-clock time, and a fall-back
//! lives one hour twice: the API's answer for that day can name the repeated hour's slot twice,
//! once per pass ([`SlotKey`]). The second row under a repeated label in one answer is the
//! second pass (the first row is the first: the answer's order is the order lived), so both are
//! kept, never one dropped as a copy of the other:
//!
//! - diagram_1_2's stamp (`YYYY-MM-DD-HH`, a Timestamp key) is read as the later instant for the
//!   second pass; no extra column.
//! - Reports keyed on a date and a time of day (`day` or `date`, plus `hour`: agent_5, agent_6,
//!   agent_8, agent_8_1, skill_4, skill_4_1, skill_4_2, skill_5, skill_7) get a synthetic `pass`
//!   column (Integer, 1, or 2 for the second pass), last in the key; the label stays as sent.

pub mod dimensions;

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::Row;

/// How a report's rows relate to time, which decides how it is synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grain {
    /// One row per event, with its own timestamp: incremental windows plus look-back, keyed on
    /// the row's own columns.
    Event,
    /// Totals per day or per hour (or 30-minute) slot that carry their own date column (skill_3,
    /// skill_7, agent_7, agent_8, agent_8_1, chat_6, diagram_1_1, diagram_1_2). The docs do not
    /// say whether the API totals the requested range or the whole slot, so they are queried in
    /// whole local days (today: from 00:00), never split below a day, and each day's rows are
    /// replaced whole, keyed on the row's own date column: right under either reading.
    DatedAggregate,
    /// Each row summarises the whole query window and has no date: query whole local days and
    /// key the rows on the synthetic `day` column.
    WindowAggregate,
    /// One row per hour (or 30/10-minute slot) of the window, with the slot's time but no date:
    /// query whole local days and key the rows on `day` plus the slot.
    IntervalAggregate,
}

/// The SQL type a field is stored as, next to the original string kept in `raw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Free text, stored as sent (empty placeholders become NULL).
    Text,
    /// A count, `"1,234"` → 1234.
    Integer,
    /// An exact decimal such as money or credits, `"2.887"`.
    Decimal,
    /// A percentage stored as its number: `"34.64 %"` → 34.64.
    Percent,
    /// A duration stored as whole seconds: `"41:06:00"` → 147960, or plain seconds `"120"`.
    Duration,
    /// A `yes`/`no` flag.
    Boolean,
    /// A local `YYYY-MM-DD HH:MM:SS` datetime, stored as `timestamptz` in the operation's zone.
    Timestamp,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// A time of day such as an hour slot, `13:00`.
    Time,
}

impl FieldType {
    /// The Postgres column type.
    pub fn pg_type(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Integer | FieldType::Duration => "bigint",
            FieldType::Decimal | FieldType::Percent => "numeric",
            FieldType::Boolean => "boolean",
            FieldType::Timestamp => "timestamptz",
            FieldType::Date => "date",
            FieldType::Time => "time",
        }
    }

    /// The SQLite column type (its type affinity).
    pub fn sqlite_type(self) -> &'static str {
        match self {
            FieldType::Integer | FieldType::Duration | FieldType::Boolean => "INTEGER",
            FieldType::Decimal | FieldType::Percent => "NUMERIC",
            FieldType::Text | FieldType::Timestamp | FieldType::Date | FieldType::Time => "TEXT",
        }
    }
}

/// One column of a report, as named by the API (or a synthetic column: `day`, `bucket`,
/// `row_hash`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The JSON key, exactly as the API sends it (after trimming whitespace).
    pub name: &'static str,
    /// How the value is typed in its column.
    pub ty: FieldType,
    /// The other spelling of this field, when the docs and the API's own example name it
    /// differently (`channel` / `chanel`): a row missing this name is read under the alias.
    pub alias: Option<&'static str>,
    /// Whether the API sends it: `false` for a field only the docs list (the example, a real
    /// answer, spells it otherwise or leaves it out).
    pub sent: bool,
}

impl Field {
    /// This field's value in `row`: under its own name, or else under its alias (the docs' and
    /// the API's spellings are one field).
    pub fn read<'r>(&self, row: &'r Row) -> Option<&'r Value> {
        row.get(self.name).or_else(|| self.alias.and_then(|alias| row.get(alias)))
    }
}

/// How a per-slot report's key names its slot (see the module docs): what a fall-back's
/// repeated hour names twice, and how the second pass gets a key of its own. Positions are in
/// [`Report::key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKey {
    /// A local hour stamp read as an instant (diagram_1_2): the second pass is its later instant.
    Stamp(usize),
    /// A date and a time of day, told apart by the synthetic `pass` column.
    Label {
        /// The date (`day`, or the report's own `date`).
        date: usize,
        /// The time of day (`hour`).
        time: usize,
        /// The `pass` column.
        pass: usize,
    },
}

/// The stored rows of one local day of a report read in whole days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayRows {
    /// `column = day`: a date column (the synthetic `day`, or a dated aggregate's own).
    On {
        /// The date column.
        column: &'static str,
        /// The local day.
        day: NaiveDate,
    },
    /// `from <= column < to`: a timestamp column (diagram_1_2's hour stamps), the day's UTC bounds.
    Between {
        /// The timestamp column.
        column: &'static str,
        /// The local midnight starting the day, in UTC.
        from: DateTime<Utc>,
        /// The next local midnight, in UTC.
        to: DateTime<Utc>,
    },
}

/// The shape of the envelope's `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataShape {
    /// An array of row objects (every report but cdr_4).
    Array,
    /// An object keyed by bucket name whose values are the rows (cdr_4); [`flatten`] adds the
    /// bucket name as the synthetic `bucket` field.
    BucketObject,
}

/// Everything the daemon needs to know about one `reports_manager.php` report.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// The `api=` parameter value.
    pub api: &'static str,
    /// The file it is asked through: `reports_manager.php`, or `information.php` (audit_log).
    pub file: &'static str,
    /// The table holding its rows (the api name: all are valid identifiers).
    pub table: &'static str,
    /// The English title.
    pub title: &'static str,
    /// The typed columns, in API order: synthetic `day`/`bucket` first, then the parent's
    /// fields, then the nested element's fields, then a synthetic `row_hash`.
    pub fields: &'static [Field],
    /// The natural key within one account (synthetic columns included).
    pub key: &'static [&'static str],
    /// Event reports: the field the windows filter on (a Timestamp or Date field).
    pub timestamp: Option<&'static str>,
    /// How rows relate to time.
    pub grain: Grain,
    /// The nested array flattened into rows, if any.
    pub nested: Option<&'static str>,
    /// The names (in [`Report::fields`]) that come from the nested array's elements.
    pub nested_fields: &'static [&'static str],
    /// Required extra query parameters with their defaults (`skill_id=all`, `cod_act=cod_act1`);
    /// an empty default (agent_2's `agent_id`) must be configured.
    pub params: &'static [(&'static str, &'static str)],
    /// Values of the stream parameter (act_1/2/3/5: `cod_act`); each is its own watermark
    /// stream. Empty means one stream.
    pub streams: &'static [&'static str],
    /// The longest window the API accepts, in days (1 for skill_5, else 31).
    pub max_window_days: u32,
    /// Rows per time slot, for reports that aggregate per slot (hour = 60, 30, 10, day = 1440).
    pub slot_minutes: Option<u32>,
    /// The shape of the envelope's `data`.
    pub data_shape: DataShape,
    /// Whether a default configuration syncs it (false when a parameter has no default).
    pub enabled_by_default: bool,
    /// Whether the Postman example's envelope `code` is the string `"200"` (else the number).
    pub code_is_text: bool,
    /// What the research notes say about the report.
    pub notes: &'static str,
}

impl Report {
    /// The field with this name, if the report has it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Positions of the key columns in [`Report::fields`], in key order.
    pub fn key_indexes(&self) -> Vec<usize> {
        self.key.iter().filter_map(|k| self.fields.iter().position(|f| f.name == *k)).collect()
    }

    /// Whether rows carry the synthetic `day` column (filled in by the caller from the window).
    pub fn has_day(&self) -> bool {
        matches!(self.grain, Grain::WindowAggregate | Grain::IntervalAggregate)
    }

    /// Whether the report is read in whole local days, each day replacing the day stored: every
    /// aggregate, whether its rows carry the synthetic `day` or their own date.
    pub fn in_whole_days(&self) -> bool {
        self.grain != Grain::Event
    }

    /// Which stored rows make up local day `day` (`[from, to)` in UTC) of a report read in whole
    /// days: the synthetic `day` column, or a dated aggregate's own date column.
    pub fn day_rows(&self, day: NaiveDate, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DayRows> {
        if self.has_day() {
            return Some(DayRows::On { column: DAY, day });
        }
        let column = self.timestamp.filter(|_| self.grain == Grain::DatedAggregate)?;
        Some(match self.field(column)?.ty {
            FieldType::Date => DayRows::On { column, day },
            _ => DayRows::Between { column, from, to },
        })
    }

    /// The stored rows dated in `[from, to)` (the local `day` for reports that carry a day or
    /// a date), for any report with a date: what the ledger counts per day. `None` for
    /// snapshots, which have no date.
    pub fn rows_between(&self, day: NaiveDate, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DayRows> {
        if self.has_day() {
            return Some(DayRows::On { column: DAY, day });
        }
        let column = self.timestamp?;
        Some(match self.field(column)?.ty {
            FieldType::Date => DayRows::On { column, day },
            FieldType::Timestamp => DayRows::Between { column, from, to },
            _ => return None,
        })
    }

    /// Whether the report's rows carry a date, so a day of them can be re-read and counted
    /// (snapshots cannot, and need not: they are read whole on every run).
    pub fn is_dated(&self) -> bool {
        let epoch = DateTime::UNIX_EPOCH;
        self.rows_between(epoch.date_naive(), epoch, epoch).is_some()
    }

    /// How the key names a slot shorter than a day, for the reports that aggregate per slot.
    pub fn slot_key(&self) -> Option<SlotKey> {
        self.slot_minutes.filter(|minutes| *minutes < 1440)?;
        let position = |ty: FieldType| self.key.iter().position(|k| self.field(k).is_some_and(|f| f.ty == ty));
        match self.key.iter().position(|k| *k == PASS) {
            Some(pass) => {
                Some(SlotKey::Label { date: position(FieldType::Date)?, time: position(FieldType::Time)?, pass })
            }
            None => position(FieldType::Timestamp).map(SlotKey::Stamp),
        }
    }

    /// Whether `name` is a column this daemon adds rather than one the API sends.
    pub fn is_synthetic(&self, name: &str) -> bool {
        match name {
            DAY => self.has_day(),
            PASS => self.key.contains(&PASS),
            STREAM => !self.streams.is_empty(),
            BUCKET => self.data_shape == DataShape::BucketObject,
            ROW_HASH => self.key == [ROW_HASH],
            _ => false,
        }
    }

    /// The fields the API itself sends (everything but the synthetic columns).
    pub fn api_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !self.is_synthetic(f.name))
    }
}

/// The synthetic column naming the stream (code group) a row was fetched in, for reports
/// synced as several streams (act_1/2/3/5); part of their key.
pub const STREAM: &str = "stream";
/// The synthetic window-day column of aggregates.
pub const DAY: &str = "day";
/// The synthetic bucket column of cdr_4.
pub const BUCKET: &str = "bucket";
/// The synthetic row-hash column of reports without an id.
pub const ROW_HASH: &str = "row_hash";
/// The synthetic pass column of reports keyed on a date and a time of day: 1, or 2 for the
/// second pass through a fall-back's repeated hour (see the module docs).
pub const PASS: &str = "pass";

/// Every report in the catalogue, in the JSON's order.
pub fn all() -> &'static [&'static Report] {
    static ALL: OnceLock<&'static [&'static Report]> = OnceLock::new();
    ALL.get_or_init(|| {
        // The file is compiled in and checked by the tests, so a parse failure is a build bug.
        let mut entries: Vec<Entry> = serde_json::from_str(REPORTS_JSON).expect("reports.json is valid (compiled in)");
        entries.push(serde_json::from_str(AUDIT_LOG_JSON).expect("the audit_log entry is valid (compiled in)"));
        let reports: Vec<&'static Report> = entries.into_iter().map(|e| &*Box::leak(Box::new(build(e)))).collect();
        Box::leak(reports.into_boxed_slice())
    })
}

/// The report whose `api` name is `api`.
pub fn find(api: &str) -> Option<&'static Report> {
    all().iter().copied().find(|r| r.api == api)
}

/// Click-to-WhatsApp detail: one row per chat started from an ad or post.
pub fn chat_14() -> &'static Report {
    // chat_14 is in the compiled-in JSON; the tests check it.
    find("chat_14").expect("chat_14 is in the catalogue")
}

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

// ---------------------------------------------------------------------------------------------
// Facts: the compiled-in JSON.

const REPORTS_JSON: &str = include_str!("reports.json");

/// The part of one `reports.json` entry the catalogue uses.
#[derive(Deserialize)]
struct Entry {
    api: String,
    title: String,
    params: Vec<String>,
    fields: Vec<String>,
    fields_example: Vec<String>,
    /// Field names only the docs use, and names only the example (a real answer) uses.
    #[serde(default)]
    doc_vs_example: DocVsExample,
    /// Keys real users saw in live responses beyond the documented ones (chat_1's `date_close`…).
    fields_observed_in_real_use: Vec<String>,
    key: Vec<String>,
    timestamp: Option<String>,
    grain: String,
    notes: String,
    postman_example_code: Value,
    /// `GET https://…/api/v2/<file>?api=…`: which file the API is asked through.
    #[serde(default)]
    endpoint: String,
}

/// The two spellings' differences, as the research recorded them.
#[derive(Debug, Default, Deserialize)]
struct DocVsExample {
    #[serde(default)]
    doc_only: Vec<String>,
    #[serde(default)]
    example_only: Vec<String>,
}

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

/// The `n` report names closest to `api` (a mistyped `--report`), closest first.
pub fn closest(api: &str, n: usize) -> Vec<&'static str> {
    let mut names: Vec<(usize, &'static str)> = all().iter().map(|r| (levenshtein(api, r.api), r.api)).collect();
    names.sort();
    names.into_iter().take(n).map(|(_, name)| name).collect()
}

/// The edit distance between two short names.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Decisions.

/// Reports whose rows nest an array, and the array's name.
const NESTED: &[(&str, &str)] = &[("agent_5", "status_x_hour"), ("agent_11", "agents"), ("chat_2", "conversation")];

/// Event reports keyed on a row hash because they have no id (their proposed keys are long
/// composites of free text).
const HASHED: &[&str] =
    &["cdr_7", "cdr_9", "diagram_7", "diagram_8", "diagram_12", "wizard_2", "wizard_3", "audit_log"];

/// `information.php?api=audit_log`, the Manager's audit trail: the one date-ranged API outside
/// `reports_manager.php`, synced like an event report (same date parameters, same limits). Its
/// facts are from `shared/wolkvox-information-api.md` §2.10; it has no id, so its rows are keyed
/// by a hash of the row (as real users de-duplicate it: `date|user|action`).
const AUDIT_LOG_JSON: &str = r#"{
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

fn build(e: Entry) -> Report {
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
fn is_placeholder(name: &str) -> bool {
    name.contains(['#', '{', '[', ' ']) || matches!(name, "service_level_XXseg" | "INTERVAL")
}

/// The type of field `name` of report `api` (the table in the module docs).
fn infer(api: &str, name: &str) -> FieldType {
    use FieldType::*;
    let question = name.len() == 3 && name.starts_with('q') && name[1..].bytes().all(|b| b.is_ascii_digit());
    match (api, name) {
        ("agent_7" | "agent_8" | "agent_8_1" | "skill_3" | "skill_7" | "chat_6", "date") => return Date,
        ("diagram_1_1", "day") => return Date,
        ("diagram_1_2", "date" | "day") => return Timestamp,
        ("diagram_4", _) if question => return Text,
        ("speech_1", "slow_to_greet") => return Text,
        _ => {}
    }
    let ends = |s: &str| name.ends_with(s);
    let starts = |s: &str| name.starts_with(s);
    match name {
        "date"
        | "date_ini"
        | "date_end"
        | "login"
        | "logout"
        | "date_preview"
        | "start_date"
        | "end_date"
        | "close_date"
        | "date_close"
        | "date_creation"
        | "last_update"
        | "end_date_rp"
        | "date_inbound_call"
        | "date_last_outbound_call" => Timestamp,
        "day" => Date,
        "hour" => Time,
        "greeting" | "go_to_agent" | "hit" | "template" => Boolean,
        "occupancy" | "percentage" | "abandon" | "accuracy" | "silence" | "slow_to_greet" => Percent,
        _ if starts("percent") || ends("_percent") || starts("precision_") => Percent,
        _ if starts("service_level_") && ends("seg") => Percent,
        "cost" | "credits" | "nlp_credits" | "tts_credits" | "average" | "ivr_minutes" | "minutes" | "time_min"
        | "billed_minutes" => Decimal,
        _ if question => Decimal,
        "time" | "aht" | "tmo" | "talk" | "ring" | "ready" | "not_ready_acw" | "auxiliary_times" | "asa" | "ata"
        | "att" | "acw" | "ASA" => Duration,
        _ if ends("_time") || starts("time_") || starts("aht_") || ends("_duration") => Duration,
        "calls"
        | "inbound"
        | "outbound"
        | "internal"
        | "hits"
        | "rpc"
        | "count"
        | "records"
        | "interactions"
        | "interaction"
        | "total"
        | "surveys"
        | "evaluations"
        | "attempts"
        | "cantidad"
        | "units"
        | "characters"
        | "nlp_amount"
        | "times_chatted"
        | "agents_needed"
        | "yes"
        | "no"
        | "busy"
        | "congestion"
        | "failed"
        | "no_answer"
        | "answer_machine"
        | "treatment"
        | "agent_anwers"
        | "inbound_calls_unique_customers" => Integer,
        _ if ends("_calls") || ends("_chars") || starts("chars_") || starts("total_") => Integer,
        _ if starts("customer_say_") || starts("recall_") || starts("ad_") || starts("post_") => Integer,
        _ if (starts("answer_") || starts("abandon_") || starts("anwers_")) && name.contains("seg") => Integer,
        _ => Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(value: Value) -> Row {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_catalogue_has_all_104_reports_and_the_audit_log_with_unique_names() {
        let mut names: Vec<&str> = all().iter().map(|r| r.api).collect();
        assert_eq!(names.len(), 105);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 105);
        assert_eq!(all().iter().filter(|r| r.file == "reports_manager.php").count(), 104);
        let audit = find("audit_log").unwrap();
        assert_eq!((audit.file, audit.grain, audit.key), ("information.php", Grain::Event, &[ROW_HASH][..]));
        assert!(all().iter().all(|r| r.table == r.api));
    }

    #[test]
    fn fields_seen_in_live_answers_are_catalogued_and_typed() {
        let chat_1 = find("chat_1").unwrap();
        assert_eq!(chat_1.field("date_close").map(|f| f.ty), Some(FieldType::Timestamp));
        assert_eq!(chat_1.field("agent_average_response_time").map(|f| f.ty), Some(FieldType::Duration));
        assert_eq!(chat_1.field("transfer").map(|f| f.ty), Some(FieldType::Text));
    }

    #[test]
    fn every_key_and_timestamp_field_is_a_declared_field() {
        for report in all() {
            assert!(!report.key.is_empty(), "{}", report.api);
            assert_eq!(report.key_indexes().len(), report.key.len(), "{}", report.api);
            if let Some(ts) = report.timestamp {
                assert!(
                    matches!(report.field(ts).map(|f| f.ty), Some(FieldType::Timestamp | FieldType::Date)),
                    "{}: {ts}",
                    report.api
                );
            }
            let dated = matches!(report.grain, Grain::Event | Grain::DatedAggregate);
            assert_eq!(report.timestamp.is_some(), dated, "{}", report.api);
        }
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
    fn the_dated_aggregates_are_exactly_the_per_day_and_per_slot_totals_with_their_own_date() {
        // Checked against the research's `grain` and `notes`: every "aggregate per day" and every
        // "aggregate per hour/interval" that carries a date or day column.
        let mut dated: Vec<&str> = all().iter().filter(|r| r.grain == Grain::DatedAggregate).map(|r| r.api).collect();
        dated.sort_unstable();
        assert_eq!(
            dated,
            ["agent_7", "agent_8", "agent_8_1", "chat_6", "diagram_1_1", "diagram_1_2", "skill_3", "skill_7"]
        );
        for api in dated {
            let r = find(api).unwrap();
            assert!(r.in_whole_days() && !r.has_day(), "{api}: whole days, keyed on its own date");
            assert!(r.key.contains(&r.timestamp.unwrap()), "{api}: its date is in its key");
        }
        let day = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        let (from, to) = (
            DateTime::parse_from_rfc3339("2026-11-19T05:00:00Z").unwrap().to_utc(),
            DateTime::parse_from_rfc3339("2026-11-20T05:00:00Z").unwrap().to_utc(),
        );
        assert_eq!(find("skill_3").unwrap().day_rows(day, from, to), Some(DayRows::On { column: "date", day }));
        assert_eq!(
            find("diagram_1_2").unwrap().day_rows(day, from, to),
            Some(DayRows::Between { column: "date", from, to }),
            "hour stamps: the day's instants"
        );
        assert_eq!(find("agent_1").unwrap().day_rows(day, from, to), Some(DayRows::On { column: DAY, day }));
        assert_eq!(find("chat_14").unwrap().day_rows(day, from, to), None);
    }

    /// The reports keyed on a date and a time of day, checked against the research's keys by
    /// hand, carry the `pass` last in their key; diagram_1_2's stamp is its own pass.
    #[test]
    fn slots_labelled_by_a_time_of_day_carry_a_pass_and_diagram_1_2_its_stamp() {
        let mut passes: Vec<&str> = all().iter().filter(|r| r.key.contains(&PASS)).map(|r| r.api).collect();
        passes.sort_unstable();
        let labelled =
            ["agent_5", "agent_6", "agent_8", "agent_8_1", "skill_4", "skill_4_1", "skill_4_2", "skill_5", "skill_7"];
        assert_eq!(passes, labelled);
        let r = |api| find(api).unwrap();
        assert_eq!(r("skill_4").key, [DAY, "skill_id", "hour", PASS]);
        assert_eq!(r("agent_6").key, [DAY, "hour", PASS]);
        assert_eq!(r("skill_7").key, ["date", "skill_id", "hour", PASS]);
        assert_eq!(r("agent_8").key, ["agent_id", "date", "hour", PASS]);
        assert_eq!(r("skill_4").slot_key(), Some(SlotKey::Label { date: 0, time: 2, pass: 3 }));
        assert_eq!(r("agent_8").slot_key(), Some(SlotKey::Label { date: 1, time: 2, pass: 3 }));
        assert_eq!(r("diagram_1_2").key, ["date"]);
        assert_eq!(r("diagram_1_2").slot_key(), Some(SlotKey::Stamp(0)));
        for api in labelled {
            let pass = r(api).field(PASS).unwrap();
            assert_eq!((pass.ty, pass.sent, r(api).is_synthetic(PASS)), (FieldType::Integer, false, true), "{api}");
        }
        // Whole days, windows and events have no slot to repeat.
        for api in ["agent_7", "skill_3", "diagram_1_1", "agent_1", "chat_14", "cdr_1"] {
            assert_eq!((r(api).slot_key(), r(api).is_synthetic(PASS)), (None, false), "{api}");
        }
    }

    #[test]
    fn a_mistyped_report_name_finds_its_closest_names() {
        assert_eq!(closest("chat14", 3), ["chat_14", "chat_4", "chat_1"]);
        assert_eq!(closest("agnet_1", 1), ["agent_1"]);
    }

    #[test]
    fn chat_14_keeps_its_shape() {
        let r = chat_14();
        let names: Vec<&str> = r.fields.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "source_url",
                "source_type",
                "source_id",
                "chat_id",
                "rp_id",
                "agent_id",
                "media_type",
                "media_url",
                "date",
                "cod_act"
            ]
        );
        assert_eq!(r.key, ["chat_id", "date"]);
        assert_eq!(r.timestamp, Some("date"));
        assert_eq!(r.field("date").unwrap().ty, FieldType::Timestamp);
        assert!(r.fields.iter().filter(|f| f.name != "date").all(|f| f.ty == FieldType::Text));
        assert!(r.code_is_text && r.enabled_by_default && r.params.is_empty());
    }

    #[test]
    fn types_follow_the_rule_table() {
        use FieldType::*;
        let ty = |api: &str, name: &str| find(api).unwrap().field(name).unwrap().ty;
        for (api, name, expected) in [
            ("agent_1", "agent_id", Text),
            ("agent_1", "calls", Integer),
            ("agent_1", "ready_time", Duration),
            ("agent_1", "aht_outbund", Duration),
            ("agent_1", "occupancy", Percent),
            ("agent_1", "login", Timestamp),
            ("agent_15", "preview_percent", Percent),
            ("agent_15", "total_duration", Duration),
            ("agent_16", "calls", Integer),
            ("agent_8", "date", Date),
            ("agent_8", "hour", Time),
            ("skill_1", "service_level_20seg", Percent),
            ("skill_1", "abandon", Percent),
            ("skill_1", "asa", Duration),
            ("skill_1", "abandon_calls", Integer),
            ("skill_8", "anwers_greater_than_51seg", Integer),
            ("skill_9", "abandon_11seg_20_seg", Integer),
            ("cdr_1", "cost", Decimal),
            ("cdr_1", "time_seg", Duration),
            ("cdr_1", "time_min", Decimal),
            ("cdr_7", "total_chars", Integer),
            ("diagram_1_1", "day", Date),
            ("diagram_1_2", "date", Timestamp),
            ("diagram_4", "q01", Text),
            ("diagram_5", "q01", Decimal),
            ("diagram_11", "go_to_agent", Boolean),
            ("diagram_11", "total_time", Duration),
            ("diagram_15", "nlp_credits", Decimal),
            ("diagram_15", "ivr_time", Duration),
            ("quality_3", "yes/no", Text),
            ("quality_4", "yes", Integer),
            ("campaign_9", "campaing_id", Text),
            ("campaign_10", "cantidad", Integer),
            ("chat_1", "agent_anwers", Integer),
            ("chat_1", "chat_duration", Duration),
            ("chat_1", "ASA", Duration),
            ("chat_10", "template", Boolean),
            ("chat_15", "total_agents", Integer),
            ("chat_16", "percent_transfer", Percent),
            ("speech_1", "greeting", Boolean),
            ("speech_3", "slow_to_greet", Percent),
            ("wizard_3", "explation", Text),
        ] {
            assert_eq!(ty(api, name), expected, "{api}.{name}");
        }
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

    #[test]
    fn sql_types_cover_every_field_type() {
        assert_eq!(FieldType::Duration.pg_type(), "bigint");
        assert_eq!(FieldType::Percent.pg_type(), "numeric");
        assert_eq!(FieldType::Time.pg_type(), "time");
        assert_eq!(FieldType::Boolean.sqlite_type(), "INTEGER");
        assert_eq!(FieldType::Timestamp.sqlite_type(), "TEXT");
    }

    #[test]
    fn find_returns_reports_by_api_name() {
        assert_eq!(find("chat_14").map(|r| r.table), Some("chat_14"));
        assert!(find("nope").is_none());
    }
}
