//! The simulator's deterministic report data: which rows exist, and which of them the API would
//! show at a given moment.
//!
//! Everything here is a pure function of `(seed, rows_per_hour, window, now)`: no I/O, no global
//! state, no wall clock. The invariant it protects is that a row is a fixed fact of the seed — the
//! same `(seed, minute, index)` always yields the same chat with the same timestamps — while *what
//! is visible* of it depends only on `now`. That is what lets tests compare what a client stored
//! against [`report_rows`] computed independently, and lets a re-read of an old window show late
//! rows and changed typifications exactly as the real API does.
//!
//! Rows are the API layer's [`Row`], every field a JSON string keyed by the API's field names.
//! This module owns the public surface ([`rows_for`], [`report_rows`], [`Ask`]) and the
//! draws both generators share: the hash of one random choice, its salts (kept in one list so
//! that no two choices can share one by accident), and how an hourly rate is spread over minutes.
//! Behind it:
//!
//! - `chat_14`: chat_14's own hand-written generator (its data is pinned by tests).
//! - `generic`: every other report, driven by the catalogue: event reports get one row per
//!   generated event, aggregates sum the events of their window or slot.
//! - `vocabulary`: the fixed words rows are made of: agents, skills, typification codes and the
//!   values of enumerated fields.
//! - `format`: how the API spells a datetime, a count, a duration, a decimal or a percent.
//! - `formats`: which of those spellings each field of each report gets: a table of its own,
//!   written from the research notes, so no value is served in a format because the catalogue
//!   types its field that way.
//! - `zone`: the operation's clock: the fixed-offset timeline rows are facts of, and its local
//!   readings.
//!
//! Rows are generated on the zone's timeline (minutes, delays, "now"), and everything the API
//! shows or is asked (dates, `date_ini`/`date_end`) is a naive local time in the operation's zone,
//! because that is what the API speaks. In a zone without DST the two are the same.

mod chat_14;
mod dimensions;
mod format;
mod formats;
mod generic;
mod vocabulary;
mod zone;

pub use chat_14::chat_14_rows;
pub use dimensions::{agent_name_on, information_rows};
pub use zone::Zone;

use chrono::NaiveDateTime;

use crate::wolkvox::catalog;
use crate::wolkvox::Row;

/// The rows report `api` answers for `[from, to_inclusive]` at `now_local` with the catalogue's
/// default parameters (see [`rows_for`]), in the default zone (Bogota, without DST); event rows
/// newest first (chat_14: ties broken by ascending id).
///
/// Unknown names have no rows; the server rejects unknown names before it gets here, so an empty
/// answer means "no data" (HTTP 404).
pub fn report_rows(
    api: &str,
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now_local: NaiveDateTime,
) -> Vec<Row> {
    newest_report_rows(api, seed, rows_per_hour, from, to_inclusive, now_local, usize::MAX)
}

/// The first `limit` rows of [`report_rows`], without generating the older ones.
///
/// The server needs this so that a 31-day window at a high density costs `limit` rows of memory
/// and work rather than millions, exactly as the API truncates it.
pub fn newest_report_rows(
    api: &str,
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now_local: NaiveDateTime,
    limit: usize,
) -> Vec<Row> {
    let Some(report) = catalog::find(api) else {
        return Vec::new();
    };
    let ask = Ask { api, from, to: to_inclusive, params: report.params, range_totals: false };
    rows_for(&ask, &Zone::default(), seed, rows_per_hour, now_local, limit)
}

/// What one request asks for: the report, its inclusive window and its parameters.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The `api=` value.
    pub api: &'a str,
    /// `date_ini`, local.
    pub from: NaiveDateTime,
    /// `date_end`, local and inclusive.
    pub to: NaiveDateTime,
    /// The request's extra parameters; only `cod_act` (act_*, the code group) and `agent_id`
    /// (agent_2) change the data.
    pub params: &'a [(&'a str, &'a str)],
    /// How a dated aggregate (per-day / per-slot totals with their own date) is totalled:
    /// `false`, each slot the range touches is totalled whole; `true`, only the events inside
    /// the range count. The docs do not say which the API does.
    pub range_totals: bool,
}

impl Ask<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// The first `limit` rows that answer `ask` in `zone` at timeline time `now` (see [`Zone`]),
/// exactly as served (before any flattening): event reports newest first, aggregates in key
/// order (dated ones newest slot first). cdr_4 answers a single row: the bucket object the API
/// sends as `data`.
pub fn rows_for(
    ask: &Ask<'_>,
    zone: &Zone,
    seed: u64,
    rows_per_hour: u32,
    now: NaiveDateTime,
    limit: usize,
) -> Vec<Row> {
    if ask.api == "chat_14" {
        return chat_14::newest_chat_14_rows(zone, seed, rows_per_hour, ask.from, ask.to, now, limit);
    }
    let Some(report) = catalog::find(ask.api) else {
        return Vec::new();
    };
    generic::rows(report, ask, zone, seed, rows_per_hour, now, limit)
}

/// The highest chat_14 density whose chat ids stay unique (fewer than 1000 rows per minute).
pub const MAX_ROWS_PER_HOUR: u32 = 60_000;

/// How many rows minute `minute` holds at `rows_per_hour`.
///
/// The difference of two floors spreads the hourly rate over minutes with no drift: summed over
/// any whole hour it is exactly `rows_per_hour`, and no minute differs from another by more
/// than one row.
fn rows_in_minute(minute: i64, rows_per_hour: u32) -> u32 {
    let rph = i64::from(rows_per_hour);
    let count = ((minute + 1) * rph).div_euclid(60) - (minute * rph).div_euclid(60);
    // Floors of a non-decreasing sequence never step backwards and step by at most
    // ceil(u32::MAX / 60), so the difference always fits; the fallback is unreachable.
    u32::try_from(count).unwrap_or(0)
}

/// The minute index of `t`: whole minutes since 1970-01-01 00:00:00 (on the timeline, or local).
fn minute_of(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp().div_euclid(60)
}

/// The start of minute `minute` as a naive time, if representable.
fn minute_start(minute: i64) -> Option<NaiveDateTime> {
    let seconds = minute.checked_mul(60)?;
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc())
}

/// Salts keep the independent random choices of one row uncorrelated.
mod salt {
    pub const SECOND: u64 = 1;
    pub const LATE: u64 = 2;
    pub const DELAY: u64 = 3;
    pub const TYPIFY: u64 = 4;
    pub const CODE: u64 = 5;
    pub const SOURCE: u64 = 6;
    pub const AGENT: u64 = 7;
    pub const ROUTING_POINT: u64 = 8;
    pub const SOURCE_ID: u64 = 9;
    pub const SOURCE_TYPE: u64 = 10;
    pub const MEDIA_TYPE: u64 = 11;
    pub const MEDIA_URL: u64 = 12;
    pub const AGENT_ID: u64 = 13;
    pub const ROW: u64 = 14;
}

/// The splitmix64 finaliser: a cheap bijective mix with good avalanche.
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit hash of one random choice: chaining `mix` so that every input changes every bit.
fn hash(seed: u64, minute: i64, index: u32, salt: u64) -> u64 {
    // `as u64` on the minute is a deliberate bit-reinterpretation: only distinctness matters.
    let h = mix(seed ^ mix(salt));
    let h = mix(h ^ minute as u64);
    mix(h ^ u64::from(index))
}

/// A uniform draw in `lo..=hi` (the modulo bias is below 1e-15 for these ranges).
fn uniform(h: u64, lo: u64, hi: u64) -> u64 {
    lo + h % (hi - lo + 1)
}

/// A stable salt for a name (FNV-1a), so each field draws independently.
pub(super) fn name_salt(name: &str) -> u64 {
    crate::hash::fnv1a(name.bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::DateTime;
    use serde_json::Value;

    use super::*;
    use crate::wolkvox::catalog::{self, Report, DAY};

    // `at`, `much_later`, `field` and `day_rows` are shared with the generators' test modules.

    pub(super) fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// Far enough ahead that every row is visible and typified.
    pub(super) fn much_later() -> NaiveDateTime {
        at("2030-01-01 00:00:00")
    }

    pub(super) fn field<'a>(row: &'a Row, name: &str) -> &'a str {
        row[name].as_str().unwrap()
    }

    #[test]
    fn every_hour_holds_exactly_rows_per_hour_and_minutes_differ_by_at_most_one() {
        let first = minute_of(at("2026-03-10 00:00:00"));
        for rph in [1, 59, 61, 120, 6000] {
            for hour in 0..24 {
                let minutes = (first + hour * 60..first + hour * 60 + 60).map(|m| rows_in_minute(m, rph));
                let (sum, min, max) = minutes.fold((0, u32::MAX, 0), |(s, lo, hi), n| (s + n, lo.min(n), hi.max(n)));
                assert_eq!(sum, rph);
                assert!(max - min <= 1, "rph {rph}: {min}..{max}");
            }
        }
    }

    #[test]
    fn an_empty_or_inverted_window_and_an_unknown_report_have_no_rows() {
        let (from, to) = (at("2026-03-10 10:00:00"), at("2026-03-10 10:59:59"));
        assert!(chat_14_rows(42, 120, to, from, much_later()).is_empty());
        assert!(chat_14_rows(42, 0, from, to, much_later()).is_empty());
        assert!(report_rows("no_such_report", 42, 120, from, to, much_later()).is_empty());
        assert_eq!(report_rows("chat_14", 42, 120, from, to, much_later()).len(), 120);
    }

    /// New York's 2026 clock changes as the API would serve them: the skipped hour has no rows,
    /// the repeated hour has two hours of them under the same local dates, a row seen in the
    /// first pass stays visible in the second, and truncation keeps the newest local dates.
    #[test]
    fn a_dst_zone_serves_no_skipped_hour_and_both_passes_of_the_repeated_one() {
        let ny = Zone::new(chrono_tz::America::New_York);
        let rows = |api: &str, from: &str, to: &str, now: NaiveDateTime, limit: usize| {
            let params = catalog::find(api).unwrap().params;
            let ask = Ask { api, from: at(from), to: at(to), params, range_totals: false };
            rows_for(&ask, &ny, 42, 120, now, limit)
        };
        let settled = |api, from, to| rows(api, from, to, much_later(), usize::MAX);
        let ids = |rows: &[Row]| rows.iter().map(|r| field(r, "chat_id").to_owned()).collect::<Vec<_>>();
        // chat_14 at 120 an hour, cdr_1 (a generic event report) at 30.
        for (api, per_hour) in [("chat_14", 120), ("cdr_1", 30)] {
            assert!(settled(api, "2026-03-08 02:00:00", "2026-03-08 02:59:59").is_empty(), "{api}");
            assert_eq!(settled(api, "2026-03-08 01:00:00", "2026-03-08 03:59:59").len(), 2 * per_hour, "{api}");
            assert_eq!(settled(api, "2026-11-01 01:00:00", "2026-11-01 01:59:59").len(), 2 * per_hour, "{api}");
        }
        let both = settled("chat_14", "2026-11-01 01:00:00", "2026-11-01 01:59:59");
        let mut unique = ids(&both);
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 240, "two passes, distinct chats");
        // 01:59 EDT, then 01:10 EST: local time went back, what was visible still is.
        let at_instant = |s: &str| ny.timeline(DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let repeated_hour = |now| ids(&rows("chat_14", "2026-11-01 01:00:00", "2026-11-01 01:59:59", now, usize::MAX));
        let first_pass = repeated_hour(at_instant("2026-11-01T05:59:00Z"));
        let later = repeated_hour(at_instant("2026-11-01T06:10:00Z"));
        assert!(first_pass.len() > 100 && first_pass.iter().all(|id| later.contains(id)));
        // Truncated across the repeated hour: exactly the newest local dates of the whole answer.
        let whole = settled("chat_14", "2026-11-01 00:30:00", "2026-11-01 02:30:00");
        let cut = rows("chat_14", "2026-11-01 00:30:00", "2026-11-01 02:30:00", much_later(), 100);
        assert_eq!(cut, whole[..100]);
        let cut = rows("chat_14", "2026-11-01 00:30:00", "2026-11-01 02:30:00", much_later(), 150);
        assert_eq!(cut, whole[..150]);
    }

    /// A per-hour or per-slot report answers a fall-back day with one row per pass of the
    /// repeated hour, under the same label, the first pass first; a whole day stays one row, and
    /// a zone without DST has one row per label.
    #[test]
    fn a_dst_zone_serves_each_pass_of_the_repeated_hour_in_its_own_slot_row() {
        let day = |api: &str, zone: &Zone| {
            let params = catalog::find(api).unwrap().params;
            let (from, to) = (at("2026-11-01 00:00:00"), at("2026-11-01 23:59:59"));
            rows_for(&Ask { api, from, to, params, range_totals: false }, zone, 42, 120, much_later(), usize::MAX)
        };
        // The most rows one entity (a skill, or the report's one) has under `label`.
        let most = |rows: &[Row], name: &str, label: &str| {
            let mut per_entity: BTreeMap<Option<&str>, usize> = BTreeMap::new();
            for row in rows.iter().filter(|r| field(r, name) == label) {
                *per_entity.entry(row.get("skill_id").and_then(Value::as_str)).or_default() += 1;
            }
            per_entity.into_values().max().unwrap_or(0)
        };
        let ny = Zone::new(chrono_tz::America::New_York);
        // (report, label field, the repeated hour's label, a later hour's)
        for (api, name, repeated, other) in [
            ("diagram_1_2", "day", "2026-11-01-01", "2026-11-01-03"),
            ("agent_6", "hour", "01:00", "03:00"),
            ("skill_4_1", "hour", "01:30", "03:30"),
        ] {
            let rows = day(api, &ny);
            assert_eq!((most(&rows, name, repeated), most(&rows, name, other)), (2, 1), "{api}");
            let bogota = day(api, &Zone::default());
            assert_eq!((most(&bogota, name, repeated), most(&bogota, name, other)), (1, 1), "{api} in Bogota");
        }
        assert_eq!(day("diagram_1_1", &ny).len(), 1, "the whole day is one slot");
    }

    /// Every report's rows for a busy, settled day, as served with its default parameters.
    pub(super) fn day_rows(api: &str, seed: u64) -> Vec<Row> {
        report_rows(api, seed, 120, at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), much_later())
    }

    /// The rows the ETL stores: flattened, keys trimmed, with the synthetic `day` (and the first
    /// `pass`: a day in Bogotá lives every hour once).
    fn stored(report: &Report, rows: Vec<Row>) -> Vec<Row> {
        rows.into_iter()
            .flat_map(|row| {
                let row: Row = row.into_iter().map(|(k, v)| (k.trim().to_owned(), v)).collect();
                catalog::flatten(report, row)
            })
            .map(|mut row| {
                if report.has_day() {
                    row.insert(DAY.to_owned(), Value::String("2026-03-10".into()));
                }
                if report.is_synthetic(catalog::STREAM) {
                    row.insert(catalog::STREAM.to_owned(), Value::String(report.streams[0].into()));
                }
                if report.is_synthetic(catalog::PASS) {
                    row.insert(catalog::PASS.to_owned(), Value::String("1".into()));
                }
                row
            })
            .collect()
    }

    /// The simulator's spellings (`formats`, written apart from the catalogue) read with the
    /// catalogue's types: a field the catalogue types unlike the API spells it fails here.
    #[test]
    fn every_report_serves_rows_with_every_field_in_a_parseable_format() {
        use crate::wolkvox::values;
        let tz = chrono_tz::America::Bogota;
        for report in catalog::all() {
            let served = day_rows(report.api, 42);
            assert!(!served.is_empty(), "{}", report.api);
            let rows = stored(report, served);
            assert!(!rows.is_empty(), "{}", report.api);
            for row in &rows {
                // Every field the API sends, under its own spelling or its alias; fields only
                // the docs list (with no alias) are not sent.
                for field in report.fields.iter().filter(|f| f.sent || f.alias.is_some() || report.is_synthetic(f.name))
                {
                    let value = field.read(row);
                    assert!(value.is_some_and(Value::is_string), "{}: {} missing in {row:?}", report.api, field.name);
                    let parsed = values::parse(value, field.ty, tz);
                    assert!(!parsed.failed, "{}.{} = {value:?} is not a {:?}", report.api, field.name, field.ty);
                    if report.key.contains(&field.name) {
                        assert!(!parsed.value.is_null(), "{}.{} is a NULL key", report.api, field.name);
                    }
                }
            }
        }
    }

    #[test]
    fn every_report_has_unique_keys_in_a_day() {
        use crate::wolkvox::values;
        let tz = chrono_tz::America::Bogota;
        for report in catalog::all() {
            let rows = stored(report, day_rows(report.api, 7));
            let mut keys: Vec<Vec<values::Typed>> = rows
                .iter()
                .map(|row| {
                    report
                        .key_indexes()
                        .into_iter()
                        .map(|i| {
                            let f = &report.fields[i];
                            values::parse(f.read(row), f.ty, tz).value
                        })
                        .collect()
                })
                .collect();
            let total = keys.len();
            keys.sort_by_key(|k| format!("{k:?}"));
            keys.dedup();
            assert_eq!(keys.len(), total, "{}", report.api);
        }
    }
}
