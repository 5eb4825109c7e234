//! Row typing: one window's answer, flattened, cleaned, typed field by field and merged by key
//! into the batches the store writes.
//!
//! Pure (no I/O), unit-tested. The invariants it protects:
//! - **No row is dropped silently.** A value that does not parse is NULL and the row kept (the
//!   original stays in `raw`); a text key keeps the literal text the API sent (`""`, `"-"`); a
//!   row whose key still cannot be read is handed back, with its reason, for the quarantine.
//! - **NUL characters are removed** (and counted) before anything is typed, hashed or bound:
//!   PostgreSQL's `text` and `jsonb` refuse them, which would fail the window for ever.
//! - **Copies of one key in one answer resolve the same way every run**: the last copy wins,
//!   decided before the known-hash filter, so a re-read neither flips between the copies nor
//!   rewrites them. A copy whose earlier copy is still waiting to be written replaces it; only
//!   an earlier copy already written (more than a write batch before) is written over.
//! - **A slot of a fall-back's repeated hour is not a copy**: a per-slot report names it twice
//!   in one answer, once per pass, and the second row under a label read twice by the zone's
//!   clocks is the second pass (`catalog::SlotKey`): the later instant of a stamp, or `pass` 2.
//!   Decided by the answer's order alone, so a re-read of the same answer keys it the same way.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use tracing::{error, warn};

use super::outcome::RunCounts;
use crate::store::rejected::Rejected;
use crate::store::rows::{raw_hash, TypedRow};
use crate::wolkvox::catalog::{self, Field, Report, SlotKey};
use crate::wolkvox::envelope::{self, BatchLimits};
use crate::wolkvox::values::{self, Parsed, Typed};
use crate::wolkvox::Row;

/// How many individual bad rows or values are logged per window before only counting them.
const LOG_EXAMPLES: usize = 5;

/// What typing noticed across a run's rows, beyond the counts: reported once per run.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Fields the catalogue does not know (kept in `raw`).
    pub unknown_fields: UnknownFields,
    /// The first row rejected for want of a key, as sent.
    pub rejected_example: Option<String>,
    /// The first key the API sent more than once in one answer.
    pub duplicate_example: Option<String>,
    /// Answer bytes on the wire and decoded since the last window's count took them.
    pub bytes: (u64, u64),
}

/// How many unknown field names a run names in its WARN.
const UNKNOWN_SHOWN: usize = 20;

/// How many distinct unknown field names a run counts; past it the count is a lower bound.
const UNKNOWN_COUNTED: usize = 10_000;

/// The fields the catalogue does not know, as a run reports them: the [`UNKNOWN_SHOWN`]
/// alphabetically first names, each on one line and cut ([`envelope::clean`]), and how many
/// more there were. Bounded whatever the API sends, though a hostile answer can make every
/// row's names new and each name a mebibyte long.
#[derive(Debug, Default)]
pub(super) struct UnknownFields {
    /// The names shown, cleaned.
    shown: BTreeSet<String>,
    /// Fingerprints of the names as sent, at most [`UNKNOWN_COUNTED`].
    seen: HashSet<u64>,
    /// A new name arrived once `seen` was full.
    overflowed: bool,
}

impl UnknownFields {
    /// Whether `name` (as sent) was noted already.
    pub fn contains(&self, name: &str) -> bool {
        self.seen.contains(&name_fingerprint(name))
    }

    /// Notes `name` (as sent).
    pub fn insert(&mut self, name: String) {
        if self.seen.len() >= UNKNOWN_COUNTED {
            self.overflowed = true;
            return;
        }
        if self.seen.insert(name_fingerprint(&name)) {
            self.shown.insert(envelope::clean(&name));
            if self.shown.len() > UNKNOWN_SHOWN {
                self.shown.pop_last();
            }
        }
    }

    /// Whether no unknown field arrived.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The names shown, in order, on one line and cut.
    pub fn shown(&self) -> impl Iterator<Item = &str> {
        self.shown.iter().map(String::as_str)
    }

    /// How many names were not shown, and whether that is only a lower bound.
    pub fn more(&self) -> (usize, bool) {
        (self.seen.len() - self.shown.len(), self.overflowed)
    }
}

fn name_fingerprint(name: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// Values of the synthetic columns that come from the request, not the response.
pub(super) struct Synthetic<'a> {
    /// The local day an aggregate was asked for.
    pub day: Option<NaiveDate>,
    /// The stream (code group) it was fetched in.
    pub stream: &'a str,
    /// The window's start: a row the parser cut is quarantined per window (see `push`).
    pub window_start: Option<DateTime<Utc>>,
}

/// One window's answer as it streams in: rows typed, merged by key and held until a write batch
/// is full. Made afresh for every attempt (an attempt that fails rolls its writes back).
pub(super) struct WindowRows<'a> {
    report: &'a Report,
    tz: Tz,
    synthetic: &'a Synthetic<'a>,
    key_idx: Vec<usize>,
    /// How the key names a slot of a per-slot report (whose repeated hour has two passes).
    slot: Option<SlotKey>,
    /// Hashes of the rows stored unchanged before this answer: such a row is not written again.
    known: HashSet<i64>,
    /// Every key of the answer so far (a fingerprint) → the raw hash of its latest copy.
    seen: HashMap<u64, i64>,
    /// Keys (fingerprints) of which this attempt has handed a copy over to be written: the table
    /// holds that copy now, whatever was stored before the answer.
    written: HashSet<u64>,
    /// Rows with a readable key so far (written, waiting, or stored already): a day is replaced
    /// only by an answer that has at least one.
    kept: u64,
    /// Rows waiting to be written, in arrival order; a later copy of a key empties the slot of
    /// the earlier copy it replaces.
    pending: Vec<Option<TypedRow>>,
    /// The key of every row waiting in `pending` → its slot.
    slots: HashMap<Vec<Typed>, usize>,
    /// `raw` bytes waiting in `pending`.
    pending_bytes: u64,
    /// When a write batch is full.
    limits: BatchLimits,
    counts: RunCounts,
    bad_values: usize,
}

impl<'a> WindowRows<'a> {
    /// An empty answer of `report`; rows whose hash is in `known` are stored already, unchanged.
    /// A write batch is full at `limits` (rows, or bytes of `raw`).
    pub fn new(
        report: &'a Report,
        tz: Tz,
        synthetic: &'a Synthetic<'a>,
        known: HashSet<i64>,
        limits: BatchLimits,
    ) -> Self {
        WindowRows {
            report,
            tz,
            synthetic,
            key_idx: report.key_indexes(),
            slot: report.slot_key(),
            known,
            seen: HashMap::new(),
            written: HashSet::new(),
            kept: 0,
            pending: Vec::new(),
            slots: HashMap::new(),
            pending_bytes: 0,
            limits,
            counts: RunCounts::default(),
            bad_values: 0,
        }
    }

    /// Takes the next rows of the answer, in the order sent. Returns the rows whose key cannot
    /// be read (ERROR with their raw JSON, the first few), for the quarantine; the others wait
    /// for [`WindowRows::take`] unless they are stored already, unchanged.
    pub fn push(&mut self, fetched: impl IntoIterator<Item = Row>, findings: &mut Findings) -> Vec<Rejected> {
        let mut rejected = Vec::new();
        for mut api_row in fetched {
            self.counts.nul_removed += values::remove_nul_from_map(&mut api_row);
            // A row the parser had to cut (a value or the row over its cap) is not what the API
            // sent: storing it would keep a truncated value as if it were the data. It goes to
            // the quarantine, shortened, with the reason.
            if let Some(reason) = envelope::cut_reason(&api_row) {
                let raw = serde_json::to_string(&envelope::shrink_cut(api_row)).unwrap_or_default();
                self.counts.rows_fetched += 1;
                // Two rows cut before their keys can shorten to the same text; the quarantine
                // keeps one row per hash, so the row's place in the answer and the window are
                // hashed too (a re-read of the same answer still finds it kept, and the same
                // place in another window keeps its own row).
                let window = self.synthetic.window_start.map(|w| w.to_rfc3339()).unwrap_or_default();
                let hash = raw_hash(&format!("{raw}\u{0}{}\u{0}{window}", self.counts.rows_fetched));
                self.reject(Rejected { raw_hash: hash, reason, raw }, &mut rejected, findings);
                continue;
            }
            let away = catalog::flattened_away(self.report, &api_row);
            if away == Some(catalog::Away::Empty) {
                // A parent with no children, an answer with no bucket: nothing to store, counted.
                self.counts.rows_empty += 1;
            }
            if let Some(catalog::Away::Malformed(reason)) = away {
                // The element (or part of it) yields no row: counted and kept, never dropped
                // unseen. The whole element is kept, as sent.
                let raw = serde_json::to_string(&api_row).unwrap_or_default();
                self.counts.rows_fetched += 1;
                let raw_hash = self.scoped_hash(&raw);
                self.reject(Rejected { reason, raw, raw_hash }, &mut rejected, findings);
            }
            for mut row in catalog::flatten(self.report, api_row) {
                self.counts.rows_fetched += 1;
                for k in row.keys() {
                    if self.report.field(k).is_none() && !findings.unknown_fields.contains(k) {
                        findings.unknown_fields.insert(k.clone());
                    }
                }
                // `raw` keeps what the API sent; the row hash is ours.
                let row_hash = row.remove(catalog::ROW_HASH);
                let raw = serde_json::to_string(&row).unwrap_or_default();
                let raw_hash = raw_hash(&raw);
                if let Some(hash) = row_hash {
                    row.insert(catalog::ROW_HASH.to_owned(), hash);
                }
                match self.key(&row) {
                    Ok(key) => {
                        self.kept += 1;
                        self.merge(key, &row, raw, raw_hash, findings);
                    }
                    Err(reason) => {
                        let raw_hash = self.scoped_hash(&raw);
                        self.reject(Rejected { reason, raw, raw_hash }, &mut rejected, findings);
                    }
                }
            }
        }
        rejected
    }

    /// The quarantine's hash of a rejected row's `raw`. An aggregate's rows carry no date, so the
    /// same reject on two days is the same text: the day asked for is hashed with it, and each
    /// day keeps its row. (An event row carries its own date: the same text is the same row,
    /// re-read by the look-back, and is kept once.)
    fn scoped_hash(&self, raw: &str) -> i64 {
        match self.synthetic.day {
            Some(day) => raw_hash(&format!("{day}\u{0}{raw}")),
            None => raw_hash(raw),
        }
    }

    /// Rows with a readable key so far: an answer with none stores nothing, whatever it held.
    pub fn kept(&self) -> u64 {
        self.kept
    }

    /// Counts a row that cannot be stored and logs it (the first few) by its hash and reason.
    fn reject(&mut self, row: Rejected, rejected: &mut Vec<Rejected>, findings: &mut Findings) {
        self.counts.rows_rejected += 1;
        let (raw_hash, reason) = (row.raw_hash, &row.reason);
        // Logs carry keys and hashes, not people: the row (customer names, phones, messages)
        // stays in etl_rejected, found there by its raw_hash.
        findings.rejected_example.get_or_insert_with(|| format!("raw_hash={raw_hash}: {reason}"));
        if self.counts.rows_rejected as usize <= LOG_EXAMPLES {
            error!(raw_hash, reason = %reason, "Row cannot be stored; it is kept in etl_rejected");
        }
        rejected.push(row);
    }

    /// Whether the rows waiting make a full write batch.
    pub fn full(&self) -> bool {
        self.slots.len() >= self.limits.rows || self.pending_bytes >= self.limits.bytes
    }

    /// The rows waiting to be written, in the order they came, their keys distinct.
    pub fn take(&mut self) -> Vec<TypedRow> {
        self.written.extend(self.slots.keys().map(|key| fingerprint(key)));
        self.slots.clear();
        self.pending_bytes = 0;
        self.pending.drain(..).flatten().collect()
    }

    /// The end of the answer: the rows still waiting, and what it counted (rows fetched,
    /// rejected and duplicate; NUL characters removed), after logging how many more values and
    /// rows were bad than were shown.
    pub fn finish(mut self) -> (Vec<TypedRow>, RunCounts) {
        if self.bad_values > LOG_EXAMPLES {
            warn!(count = self.bad_values, "More values failed to parse in this window");
        }
        if self.counts.rows_rejected as usize > LOG_EXAMPLES {
            error!(count = self.counts.rows_rejected, "More rows without a usable key in this window");
        }
        (self.take(), self.counts)
    }

    /// The row's key, or why it cannot be read (every unreadable key field, named).
    fn key(&self, row: &Row) -> Result<Vec<Typed>, String> {
        let mut key = Vec::with_capacity(self.key_idx.len());
        let mut reasons = Vec::new();
        for &i in &self.key_idx {
            let field = &self.report.fields[i];
            let parsed = self.value(field, row, true);
            if parsed.value.is_null() {
                reasons.push(match field.read(row) {
                    None | Some(serde_json::Value::Null) => format!("key field `{}` is missing", field.name),
                    // What was sent, quoted on one line and cut: it may be a mebibyte long.
                    Some(sent) if parsed.failed => {
                        format!(
                            "key field `{}` does not parse as {:?}: {}",
                            field.name,
                            field.ty,
                            envelope::clean(&sent.to_string())
                        )
                    }
                    Some(sent) => {
                        format!(
                            "key field `{}` holds a placeholder: {}",
                            field.name,
                            envelope::clean(&sent.to_string())
                        )
                    }
                });
            }
            key.push(parsed.value);
        }
        if reasons.is_empty() {
            Ok(key)
        } else {
            Err(reasons.join("; "))
        }
    }

    /// Decides what a row with a readable key does to the answer's rows: wait to be written, or
    /// nothing (stored already, or an identical copy).
    fn merge(&mut self, key: Vec<Typed>, row: &Row, raw: String, raw_hash: i64, findings: &mut Findings) {
        // A slot named again is its second pass when the zone's clocks read its label twice;
        // only further copies are copies (of the second pass).
        let key = match self.seen.contains_key(&fingerprint(&key)) {
            true => self.second_pass(key),
            false => key,
        };
        let write = match self.seen.insert(fingerprint(&key), raw_hash) {
            None => !self.known.contains(&raw_hash),
            Some(earlier) => {
                self.counts.rows_duplicate += 1;
                findings.duplicate_example.get_or_insert_with(|| self.key_text(&key));
                if earlier == raw_hash {
                    false
                } else if self.withdraw(&key) {
                    // The waiting copy is never written. If no copy of the key was written by
                    // this attempt, the table still holds what it held before the answer: this
                    // copy is written only if that is not it already. If one was (A, a write
                    // batch later B and this one), the table holds that copy now.
                    !self.known.contains(&raw_hash) || self.written.contains(&fingerprint(&key))
                } else {
                    // The table holds the earlier copy (stored unchanged, or written by this
                    // attempt); this later one replaces it. (A fingerprint shared by two keys,
                    // astronomically unlikely, lands here too: the row is written, never lost.)
                    true
                }
            }
        };
        if write {
            let values = self.values(&key, row);
            let row = TypedRow { values, raw, raw_hash };
            self.pending_bytes += row.raw.len() as u64;
            self.slots.insert(key, self.pending.len());
            self.pending.push(Some(row));
        }
    }

    /// The key of the second pass through `key`'s slot, when the report names slots by local
    /// time and the zone's clocks read this one twice (a fall-back); else `key` as it is.
    fn second_pass(&self, mut key: Vec<Typed>) -> Vec<Typed> {
        match self.slot {
            Some(SlotKey::Stamp(at)) => {
                if let Typed::Timestamp(Some(first)) = key[at] {
                    if let Some(second) = crate::time::second_pass(self.tz, first) {
                        key[at] = Typed::Timestamp(Some(second));
                    }
                }
            }
            Some(SlotKey::Label { date, time, pass }) => {
                if let (Typed::Date(Some(d)), Typed::Time(Some(t)), Typed::Integer(Some(1))) =
                    (&key[date], &key[time], &key[pass])
                {
                    if crate::time::is_repeated(self.tz, d.and_time(*t)) {
                        key[pass] = Typed::Integer(Some(2));
                    }
                }
            }
            None => {}
        }
        key
    }

    /// Removes the waiting copy of `key`, if one waits; tells whether one did.
    fn withdraw(&mut self, key: &[Typed]) -> bool {
        let Some(slot) = self.slots.remove(key) else {
            return false;
        };
        if let Some(row) = self.pending[slot].take() {
            self.pending_bytes -= row.raw.len() as u64;
        }
        true
    }

    /// Every column's value, the key's as read already. A value that fails to parse is NULL
    /// (WARN, the first few; the row is kept).
    fn values(&mut self, key: &[Typed], row: &Row) -> Vec<Typed> {
        let mut values = Vec::with_capacity(self.report.fields.len());
        for (i, field) in self.report.fields.iter().enumerate() {
            if let Some(k) = self.key_idx.iter().position(|&at| at == i) {
                values.push(key[k].clone());
                continue;
            }
            // The other spelling of a key column (diagram_1_2's `day` beside `date`) reads the
            // same value: it holds the key's, a second pass's later instant included.
            if let Some(k) = self.twin_of_key(field, row) {
                values.push(key[k].clone());
                continue;
            }
            let parsed = self.value(field, row, false);
            if parsed.failed {
                self.bad_values += 1;
                if self.bad_values <= LOG_EXAMPLES {
                    // The API's text, cut and without control characters: it cannot forge a line.
                    let value =
                        crate::wolkvox::envelope_clean(&row.get(field.name).map(|v| v.to_string()).unwrap_or_default());
                    warn!(field = field.name, value = %value, "Value does not parse; stored as NULL (the original is in raw)");
                }
            }
            values.push(parsed.value);
        }
        values
    }

    /// The key position of the key column that `field` is the other spelling of, when both read
    /// the same value of `row` as the same type.
    fn twin_of_key(&self, field: &Field, row: &Row) -> Option<usize> {
        self.key_idx.iter().position(|&at| {
            let key = &self.report.fields[at];
            let twins = field.alias == Some(key.name) || key.alias == Some(field.name);
            twins && key.ty == field.ty && key.read(row) == field.read(row)
        })
    }

    /// One field of `row`: a synthetic column from the request, or the row's value (the docs'
    /// spelling or the API's own, whichever the row carries), read as a key or as a value.
    fn value(&self, field: &Field, row: &Row, key: bool) -> Parsed {
        let value = match field.name {
            catalog::DAY if self.report.has_day() => Typed::Date(self.synthetic.day),
            catalog::STREAM if self.report.is_synthetic(catalog::STREAM) => {
                Typed::Text(Some(self.synthetic.stream.to_string()))
            }
            // The first pass; `merge` tells a second.
            catalog::PASS if self.report.is_synthetic(catalog::PASS) => Typed::Integer(Some(1)),
            _ if key => return values::parse_key(field.read(row), field.ty, self.tz),
            _ => return values::parse(field.read(row), field.ty, self.tz),
        };
        Parsed { value, failed: false }
    }

    /// `name=value, …` of a key, for a log line.
    fn key_text(&self, key: &[Typed]) -> String {
        let names = self.key_idx.iter().map(|&i| self.report.fields[i].name);
        names.zip(key).map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(", ")
    }
}

/// A key's fingerprint, so that remembering every key of a 60,000-row answer costs a few bytes a
/// key rather than a copy of it.
fn fingerprint(key: &[Typed]) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
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

    const NONE: Synthetic<'static> = Synthetic { day: None, stream: "", window_start: None };
    const BIG: BatchLimits = BatchLimits { rows: 5_000, bytes: u64::MAX };

    /// One answer of chat_14 in one batch: the rows to write, the quarantine, the counts.
    fn typed(rows: Vec<Row>, known: &HashSet<i64>) -> (Vec<TypedRow>, Vec<Rejected>, RunCounts, Findings) {
        let mut findings = Findings::default();
        let mut window = WindowRows::new(chat_14(), chrono_tz::America::Bogota, &NONE, known.clone(), BIG);
        let rejected = window.push(rows, &mut findings);
        let (rows, counts) = window.finish();
        (rows, rejected, counts, findings)
    }

    /// A re-read whose table holds X for key K: A and another changed row (a write batch of
    /// two), then B and X. A is written with the first batch, so X must be written after it.
    #[test]
    fn the_last_of_three_copies_is_written_when_an_earlier_copy_was_written_by_the_same_answer() {
        let copy = |v: &str| row(json!({"chat_id": "K", "date": "2026-11-19 08:00:00", "cod_act": v}));
        let other = |id: &str| row(json!({"chat_id": id, "date": "2026-11-19 09:00:00", "cod_act": "2"}));
        let known: HashSet<i64> = [raw_hash(&serde_json::to_string(&copy("X")).unwrap())].into();
        let mut findings = Findings::default();
        let small = BatchLimits { rows: 2, bytes: u64::MAX };
        let mut window = WindowRows::new(chat_14(), chrono_tz::America::Bogota, &NONE, known, small);
        let mut written = Vec::new();
        for r in [copy("A"), other("o1"), copy("B"), copy("X")] {
            window.push([r], &mut findings);
            if window.full() {
                written.extend(window.take());
            }
        }
        written.extend(window.finish().0);
        let k: Vec<&Typed> = written
            .iter()
            .filter(|t| value(t, "chat_id") == &Typed::Text(Some("K".into())))
            .map(|t| value(t, "cod_act"))
            .collect();
        assert_eq!(k, [&Typed::Text(Some("A".into())), &Typed::Text(Some("X".into()))]);
    }

    fn value<'a>(t: &'a TypedRow, field: &str) -> &'a Typed {
        let i = chat_14().fields.iter().position(|f| f.name == field).unwrap();
        &t.values[i]
    }

    fn hash_of(r: &Row) -> i64 {
        raw_hash(&serde_json::to_string(r).unwrap())
    }

    #[test]
    fn a_row_the_parser_cut_is_quarantined_short_with_its_reason_and_never_stored() {
        let huge = format!("{}{}", "x".repeat(envelope::QUARANTINE_PREFIX * 3), envelope::cut_mark());
        let rows = vec![
            row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00"})),
            row(json!({"chat_id": "c-2", "date": "2026-11-20 09:31:00", "media_url": huge})),
            row(json!({"chat_id": "c-3", "date": "2026-11-20 09:32:00"})),
        ];
        let (kept, rejected, counts, findings) = typed(rows, &HashSet::new());
        assert_eq!((counts.rows_fetched, counts.rows_rejected, kept.len(), rejected.len()), (3, 1, 2, 1));
        let ids: Vec<_> = kept.iter().map(|t| value(t, "chat_id").clone()).collect();
        assert_eq!(ids, [Typed::Text(Some("c-1".into())), Typed::Text(Some("c-3".into()))]);
        let reason = format!("value of field `media_url` over {} bytes", envelope::VALUE_CAP);
        assert_eq!(rejected[0].reason, reason);
        let raw: serde_json::Value = serde_json::from_str(&rejected[0].raw).unwrap();
        assert_eq!(raw["chat_id"], json!("c-2"), "the key stays readable in the quarantine");
        assert!(rejected[0].raw.len() < envelope::QUARANTINE_PREFIX + 200, "{} bytes", rejected[0].raw.len());
        assert!(findings.rejected_example.unwrap().ends_with(&reason));
    }

    #[test]
    fn two_rows_cut_to_the_same_text_are_both_kept_in_the_quarantine() {
        // Cut at the row cap before their keys: the kept copies are the same text.
        let cut = || {
            let mut r = Row::new();
            r.insert("media_url".into(), json!("x".repeat(envelope::QUARANTINE_PREFIX * 3)));
            r.insert(envelope::cut_mark().to_owned(), json!("row over 4194304 bytes"));
            r
        };
        let (_, rejected, counts, _) = typed(vec![cut(), cut()], &HashSet::new());
        assert_eq!((counts.rows_rejected, rejected.len()), (2, 2));
        assert_eq!(rejected[0].raw, rejected[1].raw);
        assert_ne!(rejected[0].raw_hash, rejected[1].raw_hash, "one quarantine row each");
        // The same answer read again gives the same hashes (the quarantine does not grow).
        let (_, again, _, _) = typed(vec![cut(), cut()], &HashSet::new());
        assert_eq!(
            again.iter().map(|r| r.raw_hash).collect::<Vec<_>>(),
            rejected.iter().map(|r| r.raw_hash).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_row_is_typed_field_by_field_and_keeps_what_the_api_sent_in_raw() {
        let sent = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "cod_act": ""}));
        let (rows, rejected, counts, findings) = typed(vec![sent], &HashSet::new());
        assert_eq!((counts.rows_fetched, counts.rows_rejected, rows.len(), rejected.len()), (1, 0, 1, 0));
        let t = &rows[0];
        assert_eq!(value(t, "chat_id"), &Typed::Text(Some("c-1".into())));
        assert!(value(t, "cod_act").is_null(), "the empty placeholder is NULL outside the key");
        let date = chrono::DateTime::parse_from_rfc3339("2026-11-20T14:30:00Z").unwrap().to_utc();
        assert_eq!(value(t, "date"), &Typed::Timestamp(Some(date)));
        assert_eq!(t.raw, r#"{"chat_id":"c-1","cod_act":"","date":"2026-11-20 09:30:00"}"#);
        assert_eq!(t.raw_hash, raw_hash(&t.raw));
        assert!(findings.unknown_fields.is_empty() && findings.rejected_example.is_none());
    }

    #[test]
    fn a_row_without_a_readable_key_is_handed_back_with_its_reason_and_the_others_are_kept() {
        let rows = vec![
            row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00"})),
            row(json!({"date": "2026-11-20 09:31:00"})),
            row(json!({"chat_id": "c-2", "date": "not a date"})),
            row(json!({"chat_id": "c-3", "date": "-"})),
            row(json!({"chat_id": null, "date": "2026-11-20 09:33:00"})),
        ];
        let (kept, rejected, counts, findings) = typed(rows, &HashSet::new());
        assert_eq!((counts.rows_fetched, counts.rows_rejected, kept.len()), (5, 4, 1));
        let reasons: Vec<&str> = rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "key field `chat_id` is missing",
                r#"key field `date` does not parse as Timestamp: "not a date""#,
                r#"key field `date` holds a placeholder: "-""#,
                "key field `chat_id` is missing",
            ]
        );
        assert_eq!(rejected[0].raw, r#"{"date":"2026-11-20 09:31:00"}"#);
        assert_eq!(rejected[0].raw_hash, raw_hash(&rejected[0].raw));
        let first = format!("raw_hash={}: key field `chat_id` is missing", rejected[0].raw_hash);
        assert_eq!(findings.rejected_example.as_deref(), Some(first.as_str()), "the first one, by hash, not whole");
    }

    #[test]
    fn a_text_key_holding_a_placeholder_is_stored_under_its_literal_text() {
        let rows = ["", " ", "-"].map(|id| row(json!({"chat_id": id, "date": "2026-11-20 09:30:00"})));
        let (kept, rejected, counts, _) = typed(rows.to_vec(), &HashSet::new());
        assert_eq!((counts.rows_rejected, rejected.len(), counts.rows_duplicate), (0, 0, 0), "three distinct keys");
        let ids: Vec<&Typed> = kept.iter().map(|t| value(t, "chat_id")).collect();
        assert_eq!(ids, ["", " ", "-"].map(|id| Typed::Text(Some(id.into()))).iter().collect::<Vec<_>>());
    }

    #[test]
    fn nul_characters_are_removed_before_typing_and_hashing_and_counted() {
        let sent = row(json!({"chat_id": "c-\u{0}1", "date": "2026-11-20 09:30:00", "media_url": "a\u{0}b\u{0}"}));
        let (kept, _, counts, _) = typed(vec![sent], &HashSet::new());
        assert_eq!(counts.nul_removed, 3);
        assert_eq!(value(&kept[0], "chat_id"), &Typed::Text(Some("c-1".into())));
        assert_eq!(value(&kept[0], "media_url"), &Typed::Text(Some("ab".into())));
        assert_eq!(kept[0].raw, r#"{"chat_id":"c-1","date":"2026-11-20 09:30:00","media_url":"ab"}"#);
        assert!(!kept[0].raw.contains("\\u0000"));
    }

    #[test]
    fn a_row_whose_hash_is_known_is_not_written_but_counted_as_received() {
        let sent = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00"}));
        let known = HashSet::from([hash_of(&sent)]);
        let (kept, _, counts, _) = typed(vec![sent], &known);
        assert_eq!((counts.rows_fetched, counts.rows_rejected, kept.len()), (1, 0, 0));
    }

    /// Two copies of one key, A then B: whatever is stored, B is what the answer leaves, and a
    /// re-read that finds B stored writes nothing (the old flip-flop: run 2 wrote A back).
    #[test]
    fn the_last_copy_of_a_key_wins_before_the_known_hash_filter() {
        let a = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "cod_act": ""}));
        let b = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "cod_act": "SALE"}));
        let other = row(json!({"chat_id": "c-2", "date": "2026-11-20 09:31:00"}));
        let answer = vec![a.clone(), other.clone(), b.clone()];
        // (stored before the answer) → what is written
        let table: [(HashSet<i64>, Vec<&Row>); 4] = [
            (HashSet::new(), vec![&other, &b]),
            (HashSet::from([hash_of(&b), hash_of(&other)]), vec![]),
            (HashSet::from([hash_of(&a), hash_of(&other)]), vec![&b]),
            (HashSet::from([hash_of(&other)]), vec![&b]),
        ];
        for (known, expected) in table {
            let (kept, _, counts, findings) = typed(answer.clone(), &known);
            let raws: Vec<String> = kept.iter().map(|t| t.raw.clone()).collect();
            let want: Vec<String> = expected.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
            assert_eq!(raws, want, "known {known:?}");
            assert_eq!((counts.rows_fetched, counts.rows_duplicate), (3, 1));
            assert_eq!(findings.duplicate_example.as_deref(), Some(r#"chat_id="c-1", date=2026-11-20T14:30:00Z"#));
        }
    }

    #[test]
    fn an_identical_copy_is_counted_and_written_once() {
        let a = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00"}));
        let (kept, _, counts, _) = typed(vec![a.clone(), a.clone(), a], &HashSet::new());
        assert_eq!((kept.len(), counts.rows_duplicate), (1, 2));
    }

    /// Copies further apart than a write batch: an earlier copy already written is written over
    /// by the later one, so the table still ends with the last copy.
    #[test]
    fn copies_across_write_batches_still_end_on_the_last_copy() {
        let mut findings = Findings::default();
        let small = BatchLimits { rows: 2, bytes: u64::MAX };
        let stored_b = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "cod_act": "SALE"}));
        let known = HashSet::from([hash_of(&stored_b)]);
        let mut w = WindowRows::new(chat_14(), chrono_tz::America::Bogota, &NONE, known, small);
        let a = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "cod_act": ""}));
        let c2 = row(json!({"chat_id": "c-2", "date": "2026-11-20 09:31:00"}));
        let c3 = row(json!({"chat_id": "c-3", "date": "2026-11-20 09:32:00"}));
        // A waits with c-2: a full batch, written.
        w.push(vec![a, c2], &mut findings);
        assert!(w.full());
        assert_eq!(w.take().len(), 2);
        // B (stored before) comes after A was written: B is written back, c-3 with it.
        w.push(vec![c3, stored_b.clone()], &mut findings);
        let (last, counts) = w.finish();
        assert_eq!(last[1].raw, serde_json::to_string(&stored_b).unwrap());
        assert_eq!(counts.rows_duplicate, 1);
    }

    #[test]
    fn a_write_batch_is_full_at_its_rows_or_its_bytes() {
        let mut findings = Findings::default();
        let rows = |n: usize| {
            (0..n).map(|i| row(json!({"chat_id": format!("c-{i}"), "date": "2026-11-20 09:30:00"}))).collect::<Vec<_>>()
        };
        let mut w = WindowRows::new(
            chat_14(),
            chrono_tz::America::Bogota,
            &NONE,
            HashSet::new(),
            BatchLimits { rows: 3, bytes: u64::MAX },
        );
        w.push(rows(2), &mut findings);
        assert!(!w.full());
        w.push(rows(3), &mut findings);
        assert!(w.full(), "3 distinct keys wait");
        let mut w = WindowRows::new(
            chat_14(),
            chrono_tz::America::Bogota,
            &NONE,
            HashSet::new(),
            BatchLimits { rows: 100, bytes: 100 },
        );
        w.push(rows(1), &mut findings);
        assert!(!w.full());
        w.push(rows(3), &mut findings);
        assert!(w.full(), "over 100 bytes of raw wait");
    }

    #[test]
    fn fields_the_catalogue_does_not_know_are_collected_and_kept_in_raw() {
        let sent = row(json!({"chat_id": "c-1", "date": "2026-11-20 09:30:00", "brand_new": 1}));
        let (kept, _, _, findings) = typed(vec![sent], &HashSet::new());
        assert_eq!(findings.unknown_fields.shown().collect::<Vec<_>>(), ["brand_new"]);
        assert!(kept[0].raw.contains("\"brand_new\":1"));
    }

    #[test]
    fn unknown_field_names_are_kept_to_the_first_twenty_cleaned_and_cut_and_the_rest_counted() {
        let mut unknown = UnknownFields::default();
        for i in (0..50).rev() {
            let name = format!("f{i:02}\r\nforged{}", "x".repeat(1_000));
            if !unknown.contains(&name) {
                unknown.insert(name.clone());
            }
            assert!(unknown.contains(&name), "noted as sent");
        }
        let shown: Vec<&str> = unknown.shown().collect();
        assert_eq!(shown.len(), UNKNOWN_SHOWN);
        assert!(shown[0].starts_with("f00  forged") && shown[19].starts_with("f19  forged"), "{shown:?}");
        assert!(shown.iter().all(|n| n.chars().count() == crate::text::API_TEXT_CHARS + 1 && n.ends_with('…')));
        assert_eq!(unknown.more(), (30, false));
        // However many new names arrive, what is kept stays bounded; the count says "at least".
        for i in 0..(2 * UNKNOWN_COUNTED) {
            unknown.insert(format!("g{i}"));
        }
        assert_eq!(unknown.more(), (UNKNOWN_COUNTED - UNKNOWN_SHOWN, true));
        assert_eq!(unknown.shown().count(), UNKNOWN_SHOWN);
    }

    #[test]
    fn a_key_that_does_not_parse_is_quoted_short_and_on_one_line_in_its_reason() {
        let date = format!("\r\nforged{}", "z".repeat(1_000_000));
        let sent = row(json!({"chat_id": "c-1", "date": date}));
        let (_, rejected, _, _) = typed(vec![sent], &HashSet::new());
        let reason = &rejected[0].reason;
        assert!(reason.starts_with("key field `date` does not parse as Timestamp: "), "{reason:.300}");
        assert!(reason.len() < 500 && !reason.contains(['\r', '\n']), "{reason:.300}");
    }

    #[test]
    fn an_aggregates_day_comes_from_the_request_not_the_answer() {
        let report = catalog::find("agent_1").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 19);
        let synthetic = Synthetic { day, stream: "", window_start: None };
        let mut findings = Findings::default();
        let sent = row(json!({"agent_id": "12500", "calls": "7"}));
        let mut w = WindowRows::new(report, chrono_tz::America::Bogota, &synthetic, HashSet::new(), BIG);
        assert!(w.push(vec![sent], &mut findings).is_empty());
        let (kept, counts) = w.finish();
        assert_eq!((counts.rows_fetched, kept.len()), (1, 1));
        let position = |name: &str| report.fields.iter().position(|f| f.name == name).unwrap();
        assert_eq!(kept[0].values[position(catalog::DAY)], Typed::Date(day));
        assert_eq!(kept[0].values[position("calls")], Typed::Integer(Some(7)));
        assert_eq!(kept[0].raw, r#"{"agent_id":"12500","calls":"7"}"#, "raw is what the API sent");
    }
}

#[cfg(test)]
mod repeated_hours {
    use super::*;
    use serde_json::json;

    const NEW_YORK: Tz = chrono_tz::America::New_York;
    const LIMITS: BatchLimits = BatchLimits { rows: 5_000, bytes: u64::MAX };

    /// One answer of `api` for New York's fall-back day (2026-11-01, 01:00–01:59 lived twice)
    /// in `tz`: the rows to write (each column by name) and the counts.
    fn typed(api: &str, tz: Tz, rows: &[serde_json::Value]) -> (Vec<HashMap<&'static str, Typed>>, RunCounts) {
        let report = catalog::find(api).unwrap();
        let synthetic = Synthetic { day: NaiveDate::from_ymd_opt(2026, 11, 1), stream: "", window_start: None };
        let mut w = WindowRows::new(report, tz, &synthetic, HashSet::new(), LIMITS);
        let mut findings = Findings::default();
        assert!(w.push(rows.iter().map(|r| r.as_object().unwrap().clone()), &mut findings).is_empty());
        let (kept, counts) = w.finish();
        let named = kept
            .into_iter()
            .map(|row| report.fields.iter().map(|f| f.name).zip(row.values).collect::<HashMap<_, _>>())
            .collect();
        (named, counts)
    }

    fn at(s: &str) -> Typed {
        Typed::Timestamp(Some(chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()))
    }

    /// diagram_1_2 names the hour by a stamp: a stamp of the repeated hour sent twice is its
    /// first instant (EDT), then its second (EST), in every spelling of the column; a third copy,
    /// or a copy of an hour lived once, is a copy (the last kept).
    #[test]
    fn a_stamp_of_the_repeated_hour_sent_twice_is_each_pass_at_its_own_instant() {
        let answer = [
            json!({"day": "2026-11-01-01", "calls": "4"}),
            json!({"day": "2026-11-01-02", "calls": "1"}),
            json!({"day": "2026-11-01-01", "calls": "6"}),
        ];
        let (rows, counts) = typed("diagram_1_2", NEW_YORK, &answer);
        let got: Vec<(&Typed, &Typed, &Typed)> = rows.iter().map(|r| (&r["date"], &r["day"], &r["calls"])).collect();
        let (first, second, two) = (at("2026-11-01T05:00:00Z"), at("2026-11-01T06:00:00Z"), at("2026-11-01T07:00:00Z"));
        let n = |v: i64| Typed::Integer(Some(v));
        assert_eq!(got, [(&first, &first, &n(4)), (&two, &two, &n(1)), (&second, &second, &n(6))]);
        assert_eq!((counts.rows_fetched, counts.rows_duplicate), (3, 0));
        // The same answer again: the same rows, keyed the same way.
        assert_eq!(typed("diagram_1_2", NEW_YORK, &answer).0, rows);

        let copies = [
            json!({"day": "2026-11-01-01", "calls": "4"}),
            json!({"day": "2026-11-01-01", "calls": "6"}),
            json!({"day": "2026-11-01-01", "calls": "7"}),
            json!({"day": "2026-11-01-02", "calls": "1"}),
            json!({"day": "2026-11-01-02", "calls": "2"}),
        ];
        let (rows, counts) = typed("diagram_1_2", NEW_YORK, &copies);
        let got: Vec<(&Typed, &Typed)> = rows.iter().map(|r| (&r["date"], &r["calls"])).collect();
        assert_eq!(got, [(&first, &n(4)), (&second, &n(7)), (&two, &n(2))]);
        assert_eq!(counts.rows_duplicate, 2);
        // In a zone that lives every hour once, the second `-01` is a copy.
        let (rows, counts) = typed("diagram_1_2", chrono_tz::America::Bogota, &answer);
        assert_eq!((rows.len(), counts.rows_duplicate), (2, 1));
    }

    /// skill_4 names the hour by its time of day under the window's `day`: a skill's repeated
    /// hour sent twice is pass 1, then pass 2; another skill's is its own; a repeated copy of an
    /// hour lived once is a copy.
    #[test]
    fn an_hour_label_of_the_repeated_hour_sent_twice_is_pass_1_then_pass_2() {
        let answer = [
            json!({"skill_id": "101", "hour": "01", "inbound_calls": "3"}),
            json!({"skill_id": "102", "hour": "01", "inbound_calls": "1"}),
            json!({"skill_id": "101", "hour": "01", "inbound_calls": "5"}),
            json!({"skill_id": "101", "hour": "02", "inbound_calls": "1"}),
            json!({"skill_id": "101", "hour": "02", "inbound_calls": "2"}),
        ];
        let (rows, counts) = typed("skill_4", NEW_YORK, &answer);
        let text = |v: &Typed| v.to_string();
        let got: Vec<[String; 4]> = rows
            .iter()
            .map(|r| [text(&r["skill_id"]), text(&r["hour"]), text(&r["pass"]), text(&r["inbound_calls"])])
            .collect();
        let want = [
            ["\"101\"", "01:00:00", "1", "3"],
            ["\"102\"", "01:00:00", "1", "1"],
            ["\"101\"", "01:00:00", "2", "5"],
            ["\"101\"", "02:00:00", "1", "2"],
        ]
        .map(|r| r.map(str::to_owned));
        assert_eq!(got, want);
        assert_eq!((counts.rows_fetched, counts.rows_duplicate), (5, 1), "only the hour lived once has a copy");
        assert_eq!(typed("skill_4", NEW_YORK, &answer).0, rows, "a re-read keys it the same way");
        let (rows, counts) = typed("skill_4", chrono_tz::America::Bogota, &answer);
        assert_eq!((rows.len(), counts.rows_duplicate), (3, 2));
        assert!(rows.iter().all(|r| r["pass"] == Typed::Integer(Some(1))));
    }
}

#[cfg(test)]
mod aliases {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_sent_under_the_examples_spelling_fills_the_documented_column_and_raw_keeps_it() {
        let report = catalog::find("chat_13").unwrap();
        let synthetic = Synthetic { day: NaiveDate::from_ymd_opt(2026, 11, 19), stream: "", window_start: None };
        let mut findings = Findings::default();
        let sent = json!({"chanel": "whatsapp", "interaction": "12"}).as_object().unwrap().clone();
        let limits = BatchLimits { rows: 10, bytes: u64::MAX };
        let mut w = WindowRows::new(report, chrono_tz::America::Bogota, &synthetic, HashSet::new(), limits);
        assert!(w.push(vec![sent], &mut findings).is_empty());
        let (kept, counts) = w.finish();
        assert_eq!((counts.rows_fetched, kept.len()), (1, 1));
        let value = |name: &str| &kept[0].values[report.fields.iter().position(|f| f.name == name).unwrap()];
        assert_eq!(value("channel"), &Typed::Text(Some("whatsapp".into())));
        assert_eq!(value("chanel"), &Typed::Text(Some("whatsapp".into())));
        assert_eq!(kept[0].raw, r#"{"chanel":"whatsapp","interaction":"12"}"#);
        assert!(findings.unknown_fields.is_empty());
    }
}
