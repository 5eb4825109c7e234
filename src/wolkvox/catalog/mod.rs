//! The report catalogue: the single description of every `reports_manager.php` report. The
//! dimensions of `information.php` are catalogued beside it, in [`dimensions`].
//!
//! Tables, upserts, the simulator and the docs all derive from these entries, so a field list is
//! written exactly once. It is built from two halves:
//!
//! - **Facts** about the API live in `reports.json` (a verbatim copy of
//!   `shared/wolkvox-reports.json`, compiled in): every report's fields (the union of the
//!   documented table and the Postman example), proposed natural key, timestamp, grain, extra
//!   parameters and the type of the example envelope's `code` (`facts.rs` reads it).
//! - **Decisions** of this daemon live in Rust: how each field is typed (`field_types.rs`), which
//!   placeholder pseudo-fields are dropped, which keys are adjusted, which parameters are
//!   required, which reports are split into streams (`rules.rs`), how nested arrays are flattened
//!   (`flattening.rs`).
//!
//! This file keeps the model ([`Report`], [`Field`], [`FieldType`], …) and the public surface
//! ([`all`], [`find`], [`flatten`], [`closest`]); `suggestions.rs` finds the names closest to a
//! mistyped one.
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
mod facts;
mod field_types;
mod flattening;
mod rules;
mod suggestions;

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::Row;

pub use flattening::{flatten, flattened_away, row_hash, Away};
pub use suggestions::closest;

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
        let mut entries: Vec<facts::Entry> =
            serde_json::from_str(facts::REPORTS_JSON).expect("reports.json is valid (compiled in)");
        entries.push(serde_json::from_str(facts::AUDIT_LOG_JSON).expect("the audit_log entry is valid (compiled in)"));
        let reports: Vec<&'static Report> =
            entries.into_iter().map(|e| &*Box::leak(Box::new(rules::build(e)))).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

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
