//! The operation's time zone: how its local wall-clock times map to instants and back.
//!
//! The API speaks naive local times in the operation's zone, the store keeps UTC instants, and a
//! local day (the budget's, an aggregate's) starts at local midnight. This module owns those rules
//! in one place: the conversions both ways and their DST rules, where local midnights fall, which
//! local range a span of instants reads as, and the local datetimes an operator writes
//! (`sync.start_from`, `sync --from/--to`, `watermark set`).
//!
//! Two kinds of local time need two DST rules, and this is the only place that tells them apart:
//!
//! - **A row's stamp** ([`local_to_utc`]) was written by a clock: in the repeated hour of a
//!   fall-back it is taken as the earlier instant, and a stamp in a spring-forward gap came from a
//!   clock not yet moved, so it is read on the old offset (an hour later).
//! - **A range bound** ([`range_start`], [`range_end`]) says where a range of local time begins or
//!   ends: a time the clock skips is the clock change itself, and a repeated time is its earlier
//!   instant for a start (so the repeated hour is read whole) and its later one for an end.
//!
//! A stamp or a slot label the API sends twice in one answer for a repeated time is the second
//! pass through it ([`second_pass`], [`is_repeated`]): the first copy is the earlier instant,
//! the second the later one.
//!
//! The invariant it protects: a span of instants `[start, end)` is always requested as a local
//! range that covers every one of its instants ([`local_span`]), so a watermark at `end` never
//! claims an instant that was not asked for.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

/// The instant a row's local stamp stands for in `tz`. An ambiguous time (DST fall-back) takes
/// the earlier instant; a time that does not exist (DST spring-forward gap) is read as the
/// instant one hour later, which is what a clock that was not moved would have shown.
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

/// Whether the clocks of `tz` read `local` twice (the repeated hour of a DST fall-back).
pub fn is_repeated(tz: Tz, local: NaiveDateTime) -> bool {
    matches!(tz.from_local_datetime(&local), LocalResult::Ambiguous(..))
}

/// The second instant reading the same as `t` in `tz`, when `t` is the first of two (in the
/// repeated hour of a fall-back); `None` for any other instant, the second pass's included.
pub fn second_pass(tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&utc_to_local(tz, t)) {
        LocalResult::Ambiguous(first, second) if first.with_timezone(&Utc) == t => Some(second.with_timezone(&Utc)),
        _ => None,
    }
}

/// The instant a range of local time starting at `local` starts: the first instant whose local
/// reading is `local`. A repeated time (DST fall-back) is its earlier instant, so nothing of
/// the repeated hour is skipped; a time the clock skips (spring-forward gap) is the clock change,
/// the first instant whose reading is past it.
pub fn range_start(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => clock_change(tz, local),
    }
}

/// The instant a range of local time ending (exclusively) at `local` ends. A repeated time is
/// its later instant, so the range covers both passes through the times before it; a time the
/// clock skips is the clock change, before which every reading is earlier than `local`.
pub fn range_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).latest() {
        Some(t) => t.with_timezone(&Utc),
        None => clock_change(tz, local),
    }
}

/// The clock change that skips the local time `local` (which must be in a gap): the first
/// instant after the gap.
fn clock_change(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    GapInfo::new(&local, &tz)
        .and_then(|gap| gap.end)
        .map(|t| t.with_timezone(&Utc))
        // Only a time beyond the zone's known transitions has no end; no gap is longer than a
        // few hours, so reading it on the offset before the gap is as close as it gets.
        .unwrap_or_else(|| local_to_utc(tz, local))
}

/// The local wall-clock time of an instant in `tz`.
pub fn utc_to_local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// The instant local midnight starts `day` in `tz` (the clock change when midnight is skipped,
/// as in America/Santiago on the first Sunday of September).
pub fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    range_start(tz, day.and_time(NaiveTime::MIN))
}

/// The first instant of the next local day in `tz` (when wolkvox resets the daily budget).
pub fn next_local_midnight(tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(tz, utc_to_local(tz, now).date() + Duration::days(1))
}

/// The local range the instants `[start, end)` read as in `tz`, inclusive to the second: the
/// earliest and the latest reading among them, which is what the API's `date_ini`/`date_end`
/// must say to return every row of the span. Without a clock change inside the span that is the
/// readings of `start` and of the last second; a span across a fall-back reaches back to the
/// start of the repeated hour and forward to its end, because the API's one local range covers
/// both passes through it. A span across a spring-forward reads an hour longer than it lasts.
/// An empty span reads as `start`'s reading alone.
pub fn local_span(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> (NaiveDateTime, NaiveDateTime) {
    let last = (end - Duration::seconds(1)).max(start);
    let (mut first_reading, mut last_reading) = (utc_to_local(tz, start), utc_to_local(tz, last));
    // The reading rises with the instant except at a clock change, so its extremes are at the
    // span's ends or on either side of a change.
    for change in clock_changes(tz, start, last) {
        first_reading = first_reading.min(utc_to_local(tz, change));
        last_reading = last_reading.max(utc_to_local(tz, change - Duration::seconds(1)));
    }
    (first_reading, last_reading)
}

/// The instants in `(from, to]` at which `tz`'s offset changes, to the second, oldest first.
/// Looked for a day at a time: no zone changes its offset twice within a day.
pub fn clock_changes(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let mut changes = Vec::new();
    let mut at = from;
    while at < to {
        let next = (at + Duration::days(1)).min(to);
        if offset(at) != offset(next) {
            // Binary search for the first second on the new offset: `lo` is before it, `hi` on it.
            let (mut lo, mut hi) = (at, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
                if offset(mid) == offset(lo) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            changes.push(hi);
        }
        at = next;
    }
    changes
}

/// The first local midnight at or after `t`.
pub fn ceil_to_midnight(t: NaiveDateTime) -> NaiveDateTime {
    let midnight = t.date().and_time(NaiveTime::MIN);
    if midnight == t {
        t
    } else {
        midnight + Duration::days(1)
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` as a local datetime.
pub fn parse_local_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_time(NaiveTime::MIN));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::values::DATETIME_FORMAT;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, DATETIME_FORMAT).unwrap()
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

    // The zones wolkvox operates in with DST, around their 2026 clock changes (see the comment
    // above `sync::window`'s DST tests for the instants).
    use chrono_tz::America::{New_York, Santiago};
    use chrono_tz::Europe::Madrid;

    fn z(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// Each local time as a range start, a range end and a row's stamp: a skipped time is the
    /// clock change as a bound and the old offset as a stamp; a repeated time is its earlier
    /// instant as a start or a stamp and its later one as an end.
    #[test]
    fn local_times_around_each_clock_change_map_to_their_instants() {
        // (zone, local, range_start, range_end, local_to_utc)
        let cases = [
            // New York, spring forward: 02:00–02:59:59 is skipped.
            (New_York, "2026-03-08 01:59:59", "2026-03-08T06:59:59Z", "2026-03-08T06:59:59Z", "2026-03-08T06:59:59Z"),
            (New_York, "2026-03-08 02:00:00", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"),
            (New_York, "2026-03-08 02:30:00", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"),
            (New_York, "2026-03-08 03:00:00", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"),
            // New York, fall back: 01:00–01:59:59 happens twice.
            (New_York, "2026-11-01 00:59:59", "2026-11-01T04:59:59Z", "2026-11-01T04:59:59Z", "2026-11-01T04:59:59Z"),
            (New_York, "2026-11-01 01:30:00", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T05:30:00Z"),
            (New_York, "2026-11-01 02:00:00", "2026-11-01T07:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:00:00Z"),
            // Madrid, spring forward: 02:00–02:59:59 is skipped.
            (Madrid, "2026-03-29 02:30:00", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"),
            (Madrid, "2026-03-29 03:00:00", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"),
            // Madrid, fall back: 02:00–02:59:59 happens twice.
            (Madrid, "2026-10-25 02:00:00", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T00:00:00Z"),
            (Madrid, "2026-10-25 02:30:00", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T00:30:00Z"),
            (Madrid, "2026-10-25 03:00:00", "2026-10-25T02:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:00:00Z"),
            // Santiago, spring forward: midnight to 00:59:59 of 09-06 is skipped.
            (Santiago, "2026-09-05 23:59:59", "2026-09-06T03:59:59Z", "2026-09-06T03:59:59Z", "2026-09-06T03:59:59Z"),
            (Santiago, "2026-09-06 00:00:00", "2026-09-06T04:00:00Z", "2026-09-06T04:00:00Z", "2026-09-06T04:00:00Z"),
            (Santiago, "2026-09-06 00:30:00", "2026-09-06T04:00:00Z", "2026-09-06T04:00:00Z", "2026-09-06T04:30:00Z"),
            // Santiago, fall back: 23:00–23:59:59 of 04-04 happens twice.
            (Santiago, "2026-04-04 23:30:00", "2026-04-05T02:30:00Z", "2026-04-05T03:30:00Z", "2026-04-05T02:30:00Z"),
            (Santiago, "2026-04-05 00:00:00", "2026-04-05T04:00:00Z", "2026-04-05T04:00:00Z", "2026-04-05T04:00:00Z"),
        ];
        for (tz, local, start, end, stamp) in cases {
            assert_eq!(range_start(tz, t(local)), z(start), "{tz} {local} as a start");
            assert_eq!(range_end(tz, t(local)), z(end), "{tz} {local} as an end");
            assert_eq!(local_to_utc(tz, t(local)), z(stamp), "{tz} {local} as a row's stamp");
        }
    }

    /// The local range a span of instants reads as: across a spring-forward an hour longer than
    /// the span; across a fall-back the repeated hour whole, from its first second to its last.
    #[test]
    fn a_span_across_a_clock_change_reads_as_the_local_range_covering_all_of_it() {
        // (zone, start, end, first reading, last reading)
        let cases = [
            (New_York, "2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z", "2026-03-08 01:00:00", "2026-03-08 03:59:59"),
            (New_York, "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01 01:00:00", "2026-11-01 01:59:59"),
            (New_York, "2026-11-01T05:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01 01:00:00", "2026-11-01 01:59:59"),
            (New_York, "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01 01:00:00", "2026-11-01 01:29:59"),
            (Madrid, "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", "2026-03-29 01:30:00", "2026-03-29 03:29:59"),
            (Madrid, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25 02:00:00", "2026-10-25 02:59:59"),
            (Santiago, "2026-09-06T03:00:00Z", "2026-09-06T05:00:00Z", "2026-09-05 23:00:00", "2026-09-06 01:59:59"),
            (Santiago, "2026-04-05T02:30:00Z", "2026-04-05T04:00:00Z", "2026-04-04 23:00:00", "2026-04-04 23:59:59"),
        ];
        for (tz, start, end, first, last) in cases {
            assert_eq!(local_span(tz, z(start), z(end)), (t(first), t(last)), "{tz} {start}..{end}");
        }
    }

    /// A repeated reading's first instant has a second pass, an hour later; its second pass,
    /// and every instant read once, have none.
    #[test]
    fn the_first_pass_through_a_repeated_hour_has_a_second_an_hour_later() {
        // (zone, instant, its second pass)
        let cases = [
            (New_York, "2026-11-01T05:00:00Z", Some("2026-11-01T06:00:00Z")),
            (New_York, "2026-11-01T05:59:59Z", Some("2026-11-01T06:59:59Z")),
            (New_York, "2026-11-01T06:00:00Z", None),
            (New_York, "2026-11-01T04:59:59Z", None),
            (New_York, "2026-11-01T07:00:00Z", None),
            (New_York, "2026-03-08T07:00:00Z", None),
            (Madrid, "2026-10-25T00:00:00Z", Some("2026-10-25T01:00:00Z")),
            (Santiago, "2026-04-05T02:00:00Z", Some("2026-04-05T03:00:00Z")),
            (Santiago, "2026-04-05T03:00:00Z", None),
            (chrono_tz::America::Bogota, "2026-11-01T06:00:00Z", None),
        ];
        for (tz, instant, second) in cases {
            assert_eq!(second_pass(tz, z(instant)), second.map(z), "{tz} {instant}");
        }
        // (zone, local time, read twice)
        let readings = [
            (New_York, "2026-11-01 01:00:00", true),
            (New_York, "2026-11-01 01:59:59", true),
            (New_York, "2026-11-01 02:00:00", false),
            (New_York, "2026-11-01 00:59:59", false),
            (New_York, "2026-03-08 02:30:00", false),
            (Madrid, "2026-10-25 02:30:00", true),
            (Santiago, "2026-04-04 23:00:00", true),
            (Santiago, "2026-04-05 00:00:00", false),
        ];
        for (tz, local, twice) in readings {
            assert_eq!(is_repeated(tz, t(local)), twice, "{tz} {local}");
        }
    }

    #[test]
    fn clock_changes_are_found_to_the_second() {
        let year = (z("2026-01-01T00:00:00Z"), z("2027-01-01T00:00:00Z"));
        let found = |tz| clock_changes(tz, year.0, year.1);
        assert_eq!(found(New_York), [z("2026-03-08T07:00:00Z"), z("2026-11-01T06:00:00Z")]);
        assert_eq!(found(Madrid), [z("2026-03-29T01:00:00Z"), z("2026-10-25T01:00:00Z")]);
        assert_eq!(found(Santiago), [z("2026-04-05T03:00:00Z"), z("2026-09-06T04:00:00Z")]);
        assert!(found(chrono_tz::America::Bogota).is_empty());
    }

    /// A local day starts at its midnight, or at the clock change when midnight is skipped, and
    /// an instant's reading round-trips through a range start except in the second pass through
    /// a repeated hour, which reads back as the first (earlier) pass.
    #[test]
    fn midnights_and_round_trips_across_clock_changes() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(midnight(Santiago, day("2026-09-06")), z("2026-09-06T04:00:00Z"));
        assert_eq!(midnight(Santiago, day("2026-04-05")), z("2026-04-05T04:00:00Z"));
        assert_eq!(midnight(New_York, day("2026-11-01")), z("2026-11-01T04:00:00Z"));
        assert_eq!(midnight(Madrid, day("2026-03-29")), z("2026-03-28T23:00:00Z"));
        assert_eq!(next_local_midnight(Santiago, z("2026-09-06T01:00:00Z")), z("2026-09-06T04:00:00Z"));
        // (zone, instant, its reading, back as a range start)
        let cases = [
            (New_York, "2026-11-01T05:30:00Z", "2026-11-01 01:30:00", "2026-11-01T05:30:00Z"),
            (New_York, "2026-11-01T06:30:00Z", "2026-11-01 01:30:00", "2026-11-01T05:30:00Z"),
            (New_York, "2026-03-08T07:00:00Z", "2026-03-08 03:00:00", "2026-03-08T07:00:00Z"),
            (Madrid, "2026-10-25T01:30:00Z", "2026-10-25 02:30:00", "2026-10-25T00:30:00Z"),
            (Madrid, "2026-03-29T01:00:00Z", "2026-03-29 03:00:00", "2026-03-29T01:00:00Z"),
            (Santiago, "2026-04-05T03:30:00Z", "2026-04-04 23:30:00", "2026-04-05T02:30:00Z"),
            (Santiago, "2026-09-06T04:00:00Z", "2026-09-06 01:00:00", "2026-09-06T04:00:00Z"),
        ];
        for (tz, instant, reading, back) in cases {
            assert_eq!(utc_to_local(tz, z(instant)), t(reading), "{tz} {instant}");
            assert_eq!(range_start(tz, t(reading)), z(back), "{tz} {reading}");
        }
    }

    #[test]
    fn the_budget_resets_at_the_operations_local_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T03:30:00Z").unwrap().to_utc();
        // 22:30 on the 20th in Bogota: the reset is at 05:00 UTC on the 21st.
        let bogota = next_local_midnight(chrono_tz::America::Bogota, now);
        assert_eq!(bogota.to_rfc3339(), "2026-11-21T05:00:00+00:00");
        assert_eq!(next_local_midnight(chrono_tz::UTC, now).to_rfc3339(), "2026-11-22T00:00:00+00:00");
    }

    #[test]
    fn ceil_to_midnight_keeps_midnights_and_rounds_the_rest_up() {
        assert_eq!(ceil_to_midnight(t("2026-11-18 00:00:00")), t("2026-11-18 00:00:00"));
        assert_eq!(ceil_to_midnight(t("2026-11-18 06:00:00")), t("2026-11-19 00:00:00"));
    }

    #[test]
    fn local_datetimes_parse_in_the_three_accepted_forms() {
        let expect = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap().and_hms_opt(6, 30, 0).unwrap();
        assert_eq!(parse_local_datetime("2026-11-18T06:30:00"), Some(expect));
        assert_eq!(parse_local_datetime("2026-11-18 06:30:00"), Some(expect));
        assert_eq!(
            parse_local_datetime("2026-11-18"),
            Some(NaiveDate::from_ymd_opt(2026, 11, 18).unwrap().and_time(NaiveTime::MIN))
        );
        assert_eq!(parse_local_datetime("18/11/2026"), None);
    }
}
