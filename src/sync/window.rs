//! Window planning: which spans of time to request next, and how the watermark may move.
//!
//! Pure functions, no I/O, unit-tested. A [`Window`] is a half-open span of instants
//! `[start, end)` at one-second resolution, planned in UTC so that a clock change in the
//! operation's zone can neither skip nor repeat any of it. The API takes a local range,
//! inclusive to the second, so a window is requested as the local range its instants read as
//! ([`Window::request`], [`crate::time::local_span`]): normally `start` to `end − 1 s` in local
//! time, and across a DST fall-back the whole repeated hour. The invariants this module protects:
//! every instant of a window is inside the local range requested for it, so the watermark (a
//! window's `end`) never passes fetched data; and the watermark only ever moves to the end of a
//! window whose rows were all committed, and only across contiguous data — never over a gap.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::time::{local_span, midnight, utc_to_local};

/// A half-open span of instants `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// First second included.
    pub start: DateTime<Utc>,
    /// First second not included.
    pub end: DateTime<Utc>,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start.format("%Y-%m-%dT%H:%M:%SZ"), self.end.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Window { start, end }
    }

    /// The API's `date_ini` and `date_end` for this window in `tz`: the local range, inclusive
    /// to the second, that covers every instant of it (see [`local_span`]).
    pub fn request(&self, tz: Tz) -> (NaiveDateTime, NaiveDateTime) {
        local_span(tz, self.start, self.end)
    }

    /// The local range requested for the window, `date_ini..date_end` (inclusive), for people.
    pub fn in_zone(&self, tz: Tz) -> impl fmt::Display {
        let (first, last) = self.request(tz);
        format!("{}..{}", first.format("%Y-%m-%dT%H:%M:%S"), last.format("%Y-%m-%dT%H:%M:%S"))
    }

    /// Its length.
    pub fn len(&self) -> Duration {
        self.end - self.start
    }

    /// Whether it covers no second at all.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Splits the window into two halves at a whole second, or `None` if it is a single second
    /// (a truncated one-second window cannot be narrowed further).
    pub fn bisect(&self) -> Option<(Window, Window)> {
        let seconds = self.len().num_seconds();
        if seconds < 2 {
            return None;
        }
        let mid = self.start + Duration::seconds(seconds / 2);
        Some((Window::new(self.start, mid), Window::new(mid, self.end)))
    }
}

/// What planning needs to know: instants, and the zone the API's ranges are local to.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput {
    /// The operation's zone.
    pub tz: Tz,
    /// Everything before this is committed; `None` = never synced.
    pub watermark: Option<DateTime<Utc>>,
    /// Where a never-synced report starts.
    pub start_from: DateTime<Utc>,
    /// How far behind the watermark to re-read.
    pub lookback: Duration,
    /// Windows end this long before `now`.
    pub settle: Duration,
    /// The longest local range one request may cover (≤ 31 days).
    pub max_window: Duration,
    /// The current instant.
    pub now: DateTime<Utc>,
}

/// Plans a scheduled run: from `watermark − lookback` (or `start_from`) up to `now − settle`,
/// in consecutive windows of at most `max_window` of local time each.
pub fn plan(input: &PlanInput) -> Vec<Window> {
    let start = match input.watermark {
        // The look-back never reaches before the configured first date.
        Some(wm) => (wm - input.lookback).max(input.start_from.min(wm)),
        None => input.start_from,
    };
    let end = truncate_to_second(input.now - input.settle);
    chunk(input.tz, Window::new(truncate_to_second(start), end), input.max_window)
}

/// Plans an explicit backfill of `[from, to)`, never past `now − settle`.
pub fn plan_range(
    tz: Tz,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    settle: Duration,
    max_window: Duration,
    now: DateTime<Utc>,
) -> Vec<Window> {
    let ceiling = truncate_to_second(now - settle);
    let end = to.map_or(ceiling, |to| to.min(ceiling));
    chunk(tz, Window::new(truncate_to_second(from), end), max_window)
}

/// Cuts a window into consecutive pieces whose requests each cover at most `max` of local time
/// in `tz`. A piece across a spring-forward lasts an hour less than its local range reads, so
/// it is shortened to keep the request within the API's limit.
pub fn chunk(tz: Tz, window: Window, max: Duration) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let mut end = (start + max).min(window.end);
        loop {
            let (first, last) = local_span(tz, start, end);
            let excess = (last + Duration::seconds(1) - first) - max;
            // A one-second piece reads one second, so this always ends.
            if excess <= Duration::zero() || end - start <= Duration::seconds(1) {
                break;
            }
            end = (end - excess).max(start + Duration::seconds(1));
        }
        out.push(Window::new(start, end));
        start = end;
    }
    out
}

/// Re-cuts planned windows into whole local days of `tz`: the first starts at its day's
/// midnight, and every window ends at or before the next midnight, so a day is 23 or 25 hours
/// long across a clock change. The last may end before midnight (today, up to now − settle).
pub fn whole_days(tz: Tz, planned: &[Window]) -> Vec<Window> {
    let (Some(first), Some(last)) = (planned.first(), planned.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut day = utc_to_local(tz, first.start).date();
    let mut start = midnight(tz, day);
    while start < last.end {
        day += Duration::days(1);
        let next = midnight(tz, day);
        out.push(Window::new(start, next.min(last.end)));
        start = next;
    }
    out
}

/// The watermark after committing `window`: its end if the window starts at or before the
/// current watermark (contiguous data), otherwise unchanged — committing a window beyond a gap
/// must not claim the gap was synced. It never moves backwards.
pub fn advance(watermark: Option<DateTime<Utc>>, window: &Window) -> Option<DateTime<Utc>> {
    match watermark {
        None => Some(window.end),
        Some(wm) if window.start <= wm => Some(wm.max(window.end)),
        Some(wm) => Some(wm),
    }
}

/// The local midnight in `tz` `days` days before `now`'s local date: the default first date of
/// a report.
pub fn days_back(tz: Tz, now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    midnight(tz, utc_to_local(tz, now).date() - Duration::days(i64::from(days)))
}

fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::{Bogota, New_York, Santiago};
    use chrono_tz::Europe::Madrid;

    use super::*;
    use crate::time::range_start;

    /// A local time in Bogota (no DST), the instant the existing plans were written in.
    fn t(s: &str) -> DateTime<Utc> {
        range_start(Bogota, NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap())
    }

    /// An instant written in UTC.
    fn z(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn input(watermark: Option<&str>, now: &str) -> PlanInput {
        PlanInput {
            tz: Bogota,
            watermark: watermark.map(t),
            start_from: t("2026-11-01 00:00:00"),
            lookback: Duration::hours(3),
            settle: Duration::minutes(2),
            max_window: Duration::days(31),
            now: t(now),
        }
    }

    #[test]
    fn a_first_run_starts_at_start_from_and_ends_settle_before_now() {
        let w = plan(&input(None, "2026-11-20 10:00:00.750"));
        assert_eq!(w, vec![Window::new(t("2026-11-01 00:00:00"), t("2026-11-20 09:58:00"))]);
    }

    #[test]
    fn a_later_run_starts_lookback_before_the_watermark() {
        let w = plan(&input(Some("2026-11-20 09:58:00"), "2026-11-20 10:05:00"));
        assert_eq!(w, vec![Window::new(t("2026-11-20 06:58:00"), t("2026-11-20 10:03:00"))]);
    }

    #[test]
    fn the_lookback_never_reaches_before_start_from() {
        let w = plan(&input(Some("2026-11-01 01:00:00"), "2026-11-01 02:00:00"));
        assert_eq!(w[0].start, t("2026-11-01 00:00:00"));
    }

    #[test]
    fn long_ranges_are_cut_into_windows_of_at_most_31_days() {
        let mut i = input(None, "2026-11-20 00:02:00");
        i.start_from = t("2026-08-01 00:00:00");
        let w = plan(&i);
        assert_eq!(w.len(), 4);
        assert!(w.iter().all(|w| w.len() <= Duration::days(31)));
        assert!(w.windows(2).all(|p| p[0].end == p[1].start), "windows are contiguous");
        assert_eq!(w[0].start, t("2026-08-01 00:00:00"));
        assert_eq!(w[3].end, t("2026-11-20 00:00:00"));
    }

    #[test]
    fn nothing_is_planned_when_now_minus_settle_is_not_past_the_start() {
        assert!(plan(&input(None, "2026-11-01 00:01:00")).is_empty());
    }

    #[test]
    fn a_window_is_requested_inclusive_to_its_last_second() {
        let w = Window::new(t("2026-11-20 00:00:00"), t("2026-11-21 00:00:00"));
        assert_eq!(w.request(Bogota), (local("2026-11-20 00:00:00"), local("2026-11-20 23:59:59")));
        assert_eq!(w.in_zone(Bogota).to_string(), "2026-11-20T00:00:00..2026-11-20T23:59:59");
        assert_eq!(w.to_string(), "2026-11-20T05:00:00Z..2026-11-21T05:00:00Z");
    }

    #[test]
    fn bisect_splits_into_contiguous_halves_down_to_one_second() {
        let w = Window::new(t("2026-11-20 00:00:00"), t("2026-11-20 00:00:03"));
        let (a, b) = w.bisect().unwrap();
        assert_eq!((a.start, a.end, b.end), (w.start, t("2026-11-20 00:00:01"), w.end));
        let one = Window::new(t("2026-11-20 00:00:00"), t("2026-11-20 00:00:01"));
        assert!(one.bisect().is_none());
    }

    #[test]
    fn the_watermark_advances_over_contiguous_windows_only_and_never_back() {
        let wm = Some(t("2026-11-20 10:00:00"));
        let re_read = Window::new(t("2026-11-20 07:00:00"), t("2026-11-20 09:00:00"));
        assert_eq!(advance(wm, &re_read), wm, "a look-back window does not move it back");
        let next = Window::new(t("2026-11-20 07:00:00"), t("2026-11-20 11:00:00"));
        assert_eq!(advance(wm, &next), Some(t("2026-11-20 11:00:00")));
        let beyond_gap = Window::new(t("2026-11-20 12:00:00"), t("2026-11-20 13:00:00"));
        assert_eq!(advance(wm, &beyond_gap), wm, "a gap is never claimed");
        assert_eq!(advance(None, &beyond_gap), Some(t("2026-11-20 13:00:00")));
    }

    #[test]
    fn an_explicit_range_stops_at_to_or_at_now_minus_settle() {
        let now = t("2026-11-20 10:00:00");
        let w = plan_range(
            Bogota,
            t("2026-11-18 00:00:00"),
            Some(t("2026-11-19 00:00:00")),
            Duration::minutes(2),
            Duration::days(31),
            now,
        );
        assert_eq!(w, vec![Window::new(t("2026-11-18 00:00:00"), t("2026-11-19 00:00:00"))]);
        let open = plan_range(Bogota, t("2026-11-18 00:00:00"), None, Duration::minutes(2), Duration::days(1), now);
        assert_eq!(open.len(), 3);
        assert_eq!(open[2].end, t("2026-11-20 09:58:00"));
    }

    #[test]
    fn aggregate_plans_are_whole_local_days_from_midnight() {
        let planned = vec![
            Window::new(t("2026-11-18 06:58:00"), t("2026-11-19 06:58:00")),
            Window::new(t("2026-11-19 06:58:00"), t("2026-11-20 09:58:00")),
        ];
        assert_eq!(
            whole_days(Bogota, &planned),
            vec![
                Window::new(t("2026-11-18 00:00:00"), t("2026-11-19 00:00:00")),
                Window::new(t("2026-11-19 00:00:00"), t("2026-11-20 00:00:00")),
                Window::new(t("2026-11-20 00:00:00"), t("2026-11-20 09:58:00")),
            ]
        );
        assert!(whole_days(Bogota, &[]).is_empty());
    }

    #[test]
    fn days_back_is_local_midnight() {
        assert_eq!(days_back(Bogota, t("2026-11-20 10:00:00"), 7), t("2026-11-13 00:00:00"));
    }

    // Across clock changes, in the three zones wolkvox operates in with DST. In 2026:
    // New York  springs forward 2026-03-08 07:00Z (01:59:59 EST → 03:00 EDT) and falls back
    //           2026-11-01 06:00Z (01:59:59 EDT → 01:00 EST);
    // Madrid    springs forward 2026-03-29 01:00Z (01:59:59 CET → 03:00 CEST) and falls back
    //           2026-10-25 01:00Z (02:59:59 CEST → 02:00 CET);
    // Santiago  springs forward 2026-09-06 04:00Z (09-05 23:59:59 −04 → 09-06 01:00 −03; the
    //           day has no midnight) and falls back 2026-04-05 03:00Z (04-04 23:59:59 −03 →
    //           04-04 23:00 −04).

    /// A scheduled run with no look-back, from a watermark just before a clock change to two
    /// minutes past it: the window's instants, and the local range requested for them.
    #[test]
    fn a_run_across_a_clock_change_requests_every_instant_of_its_window() {
        // (zone, watermark, now, window start, window end, date_ini, date_end)
        #[rustfmt::skip]
        let cases = [
            // Spring forward: one hour of instants reads as two hours of local time.
            (New_York, "2026-03-08T06:30:00Z", "2026-03-08T07:32:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z",
             "2026-03-08 01:30:00", "2026-03-08 03:29:59"),
            (Madrid, "2026-03-29T00:00:00Z", "2026-03-29T02:02:00Z", "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z",
             "2026-03-29 01:00:00", "2026-03-29 03:59:59"),
            (Santiago, "2026-09-06T03:30:00Z", "2026-09-06T04:32:00Z", "2026-09-06T03:30:00Z", "2026-09-06T04:30:00Z",
             "2026-09-05 23:30:00", "2026-09-06 01:29:59"),
            // Fall back, with "now" in the second pass through the repeated hour, its local time
            // before the watermark's: the window is still planned, and asks for the repeated
            // hour whole (both passes answer one local range).
            (New_York, "2026-11-01T05:58:00Z", "2026-11-01T06:12:00Z", "2026-11-01T05:58:00Z", "2026-11-01T06:10:00Z",
             "2026-11-01 01:00:00", "2026-11-01 01:59:59"),
            (Madrid, "2026-10-25T00:30:00Z", "2026-10-25T01:32:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z",
             "2026-10-25 02:00:00", "2026-10-25 02:59:59"),
            (Santiago, "2026-04-05T02:30:00Z", "2026-04-05T03:32:00Z", "2026-04-05T02:30:00Z", "2026-04-05T03:30:00Z",
             "2026-04-04 23:00:00", "2026-04-04 23:59:59"),
        ];
        for (tz, wm, now, start, end, date_ini, date_end) in cases {
            let planned = plan(&PlanInput {
                tz,
                watermark: Some(z(wm)),
                start_from: z("2026-01-01T00:00:00Z"),
                lookback: Duration::zero(),
                settle: Duration::minutes(2),
                max_window: Duration::days(1),
                now: z(now),
            });
            assert_eq!(planned, vec![Window::new(z(start), z(end))], "{tz} at {now}");
            assert_eq!(planned[0].request(tz), (local(date_ini), local(date_end)), "{tz} at {now}");
        }
    }

    /// After committing a window across a change, the watermark is the window's end, and never
    /// past the instant that follows the last local second requested.
    #[test]
    fn the_watermark_after_a_clock_change_never_passes_the_last_second_requested() {
        // (zone, watermark before, window start, window end, watermark after)
        let cases = [
            (New_York, "2026-03-08T06:30:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z", "2026-03-08T07:30:00Z"),
            (New_York, "2026-11-01T05:58:00Z", "2026-11-01T05:58:00Z", "2026-11-01T06:10:00Z", "2026-11-01T06:10:00Z"),
            (Madrid, "2026-03-29T00:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T02:00:00Z"),
            (Madrid, "2026-10-25T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T01:30:00Z"),
            (Santiago, "2026-09-06T03:30:00Z", "2026-09-06T03:30:00Z", "2026-09-06T04:30:00Z", "2026-09-06T04:30:00Z"),
            (Santiago, "2026-04-05T02:30:00Z", "2026-04-05T02:30:00Z", "2026-04-05T03:30:00Z", "2026-04-05T03:30:00Z"),
            // A look-back window over the change does not move it back; one beyond a gap does
            // not move it at all.
            (New_York, "2026-11-01T06:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:10:00Z", "2026-11-01T06:30:00Z"),
            (Madrid, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T00:00:00Z"),
            (Santiago, "2026-04-05T04:00:00Z", "2026-04-05T02:00:00Z", "2026-04-05T03:30:00Z", "2026-04-05T04:00:00Z"),
        ];
        for (tz, before, start, end, after) in cases {
            let window = Window::new(z(start), z(end));
            let moved = advance(Some(z(before)), &window);
            assert_eq!(moved, Some(z(after)), "{tz}: {window} after {before}");
            let (_, date_end) = window.request(tz);
            let past_last_requested = crate::time::range_end(tz, date_end + Duration::seconds(1));
            assert!(z(end) <= past_last_requested, "{tz}: {window} requested up to {date_end}");
        }
    }

    /// Whole local days across a change last 23 or 25 hours; Santiago's spring-forward day
    /// starts at its clock change, since its midnight never happens.
    #[test]
    fn whole_days_across_a_clock_change_start_at_each_local_midnight() {
        // (zone, a window inside the day, the day's start, its end, date_ini, date_end)
        #[rustfmt::skip]
        let cases = [
            (New_York, "2026-03-08T12:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z",
             "2026-03-08 00:00:00", "2026-03-08 23:59:59"),
            (New_York, "2026-11-01T12:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z",
             "2026-11-01 00:00:00", "2026-11-01 23:59:59"),
            (Madrid, "2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z",
             "2026-03-29 00:00:00", "2026-03-29 23:59:59"),
            (Madrid, "2026-10-25T12:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z",
             "2026-10-25 00:00:00", "2026-10-25 23:59:59"),
            (Santiago, "2026-09-06T12:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z",
             "2026-09-06 01:00:00", "2026-09-06 23:59:59"),
            (Santiago, "2026-04-04T12:00:00Z", "2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z",
             "2026-04-04 00:00:00", "2026-04-04 23:59:59"),
        ];
        for (tz, inside, start, end, date_ini, date_end) in cases {
            let planned = [Window::new(z(inside), z(inside) + Duration::days(2))];
            let days = whole_days(tz, &planned);
            assert_eq!(days[0], Window::new(z(start), z(end)), "{tz}: the day of {inside}");
            assert_eq!(days[0].request(tz), (local(date_ini), local(date_end)), "{tz}: the day of {inside}");
            assert_eq!(days[1].start, z(end), "{tz}: days are contiguous");
        }
    }

    /// Windows of at most a day: a day-long span across a spring-forward reads 25 hours, so it
    /// is cut an hour short; across a fall-back it reads 23 hours and is left whole.
    #[test]
    fn a_chunk_across_a_spring_forward_is_shortened_to_the_apis_limit() {
        // (zone, from, to, the pieces' ends)
        #[rustfmt::skip]
        let cases = [
            (New_York, "2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z",
             vec!["2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", "2026-03-10T04:00:00Z"]),
            (New_York, "2026-10-31T04:00:00Z", "2026-11-02T05:00:00Z",
             vec!["2026-11-01T04:00:00Z", "2026-11-02T04:00:00Z", "2026-11-02T05:00:00Z"]),
            (Madrid, "2026-03-28T23:00:00Z", "2026-03-30T22:00:00Z",
             vec!["2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z"]),
            (Santiago, "2026-09-05T12:00:00Z", "2026-09-07T12:00:00Z",
             vec!["2026-09-06T11:00:00Z", "2026-09-07T11:00:00Z", "2026-09-07T12:00:00Z"]),
        ];
        for (tz, from, to, ends) in cases {
            let pieces = chunk(tz, Window::new(z(from), z(to)), Duration::days(1));
            let got: Vec<DateTime<Utc>> = pieces.iter().map(|w| w.end).collect();
            assert_eq!(got, ends.iter().map(|e| z(e)).collect::<Vec<_>>(), "{tz} from {from}");
            assert!(pieces.windows(2).all(|p| p[0].end == p[1].start), "{tz}: contiguous");
            for w in &pieces {
                let (first, last) = w.request(tz);
                assert!(last + Duration::seconds(1) - first <= Duration::days(1), "{tz}: {w} reads {first}..{last}");
            }
        }
    }
}
