//! The simulated operation's clock: the fixed-offset timeline its rows are facts of, and what
//! that timeline reads as on the zone's wall clocks.
//!
//! A row is generated on a *timeline*: the instants counted on one fixed offset (the zone's
//! standard offset), where no minute is ever skipped or repeated, so a minute's rows, their
//! delays and their typification times stay fixed facts of the seed however the zone's clocks
//! move. What a row shows (its dates) and which local ranges it answers is its timeline time read
//! on the zone's clock: no row is ever stamped inside a spring-forward gap, and a fall-back's
//! repeated hour holds two hours of rows under the same local times, as on the real API. In a
//! zone without DST the timeline *is* local time, so its data are exactly what they always were.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::{OffsetComponents, Tz};

use crate::time::{local_span, range_end, range_start, utc_to_local};

/// A zone with its timeline (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Zone {
    tz: Tz,
    /// The timeline's fixed offset from UTC: the zone's standard offset.
    offset: TimeDelta,
}

impl Zone {
    /// `tz`'s timeline, on its standard offset (as of 2026).
    pub fn new(tz: Tz) -> Zone {
        let reference = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default().and_time(NaiveTime::MIN);
        Zone { tz, offset: tz.offset_from_utc_datetime(&reference).base_utc_offset() }
    }

    /// Where instant `t` is on the timeline.
    pub fn timeline(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + self.offset
    }

    /// The instant at timeline time `t`.
    pub fn instant(&self, t: NaiveDateTime) -> DateTime<Utc> {
        (t - self.offset).and_utc()
    }

    /// What the zone's clocks read at timeline time `t`.
    pub fn local(&self, t: NaiveDateTime) -> NaiveDateTime {
        utc_to_local(self.tz, self.instant(t))
    }

    /// The timeline times, first and last inclusive, between which lies every second whose
    /// reading is in the local range `[from, to]` (across a fall-back some seconds in between
    /// read outside it; callers filter on the reading).
    pub fn span(&self, from: NaiveDateTime, to: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        let first = self.timeline(range_start(self.tz, from));
        let last = self.timeline(range_end(self.tz, to + TimeDelta::seconds(1))) - TimeDelta::seconds(1);
        (first, last)
    }

    /// Which pass through its slot timeline time `t` is in, for a slot whose local start is
    /// `slot_start`: 2 when the zone's clocks read `slot_start` twice (a fall-back's repeated
    /// hour) and `t` is at or after the second reading, else 1. A slot that starts at a time read
    /// once (a whole day, an hour outside the change) has one pass, whatever it spans.
    pub fn pass(&self, slot_start: NaiveDateTime, t: NaiveDateTime) -> u8 {
        match self.tz.from_local_datetime(&slot_start) {
            LocalResult::Ambiguous(_, second) if self.instant(t) >= second.with_timezone(&Utc) => 2,
            _ => 1,
        }
    }

    /// The latest reading of any second of timeline `[from, before)`; `from`'s own reading when
    /// the span is empty.
    pub fn latest_reading(&self, from: NaiveDateTime, before: NaiveDateTime) -> NaiveDateTime {
        local_span(self.tz, self.instant(from), self.instant(before)).1
    }
}

impl Default for Zone {
    /// The simulator's default operation, in Bogota: no DST, so local time is the timeline.
    fn default() -> Zone {
        Zone::new(chrono_tz::America::Bogota)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_zone_without_dst_reads_its_timeline_as_local_time() {
        let bogota = Zone::new(chrono_tz::America::Bogota);
        assert_eq!(bogota.local(at("2026-03-10 12:00:00")), at("2026-03-10 12:00:00"));
        assert_eq!(bogota.instant(at("2026-03-10 12:00:00")).to_rfc3339(), "2026-03-10T17:00:00+00:00");
        assert_eq!(bogota.span(at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59")).1, at("2026-03-10 23:59:59"));
    }

    /// New York's timeline runs on EST: in summer its clocks read an hour ahead of it, the
    /// skipped hour is never read, and the repeated hour is read twice.
    #[test]
    fn a_dst_zone_reads_its_timeline_through_both_clock_changes() {
        let ny = Zone::new(chrono_tz::America::New_York);
        // (timeline, reading)
        let cases = [
            ("2026-03-08 01:59:59", "2026-03-08 01:59:59"),
            ("2026-03-08 02:00:00", "2026-03-08 03:00:00"),
            ("2026-07-01 12:00:00", "2026-07-01 13:00:00"),
            ("2026-11-01 00:30:00", "2026-11-01 01:30:00"),
            ("2026-11-01 01:30:00", "2026-11-01 01:30:00"),
            ("2026-11-01 02:00:00", "2026-11-01 02:00:00"),
        ];
        for (timeline, reading) in cases {
            assert_eq!(ny.local(at(timeline)), at(reading), "{timeline}");
        }
        // Local 01:00–01:59:59 on 11-01 is timeline 00:00 to 01:59:59 (both passes).
        let span = ny.span(at("2026-11-01 01:00:00"), at("2026-11-01 01:59:59"));
        assert_eq!(span, (at("2026-11-01 00:00:00"), at("2026-11-01 01:59:59")));
        // Local 02:00–02:59:59 on 03-08 does not exist: an empty span.
        let (first, last) = ny.span(at("2026-03-08 02:00:00"), at("2026-03-08 02:59:59"));
        assert!(last < first, "{first}..{last}");
        assert_eq!(ny.latest_reading(at("2026-11-01 00:00:00"), at("2026-11-01 01:10:00")), at("2026-11-01 01:59:59"));
    }

    /// The repeated hour's slots have two passes, told apart by the instant; a slot starting at
    /// a time read once has one, even a whole day spanning the change.
    #[test]
    fn a_slot_starting_in_the_repeated_hour_has_a_second_pass() {
        let ny = Zone::new(chrono_tz::America::New_York);
        // (slot start, timeline time, pass): timeline 00:00–00:59 reads 01:00–01:59 EDT, 01:00–01:59 reads EST.
        let cases = [
            ("2026-11-01 01:00:00", "2026-11-01 00:00:00", 1),
            ("2026-11-01 01:00:00", "2026-11-01 00:59:59", 1),
            ("2026-11-01 01:00:00", "2026-11-01 01:00:00", 2),
            ("2026-11-01 01:30:00", "2026-11-01 01:45:00", 2),
            ("2026-11-01 01:30:00", "2026-11-01 00:45:00", 1),
            ("2026-11-01 02:00:00", "2026-11-01 02:10:00", 1),
            ("2026-11-01 00:00:00", "2026-11-01 01:30:00", 1),
            ("2026-03-08 01:00:00", "2026-03-08 01:30:00", 1),
        ];
        for (slot, t, pass) in cases {
            assert_eq!(ny.pass(at(slot), at(t)), pass, "slot {slot}, timeline {t}");
        }
        let bogota = Zone::new(chrono_tz::America::Bogota);
        assert_eq!(bogota.pass(at("2026-11-01 01:00:00"), at("2026-11-01 01:30:00")), 1);
    }
}
