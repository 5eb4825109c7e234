//! Window planning: which local time ranges to request next, and how the watermark may move.
//!
//! Pure functions, no I/O, unit-tested. A [`Window`] is a half-open range `[start, end)` of the
//! operation's local time at one-second resolution; the API's parameters are inclusive to the
//! second, so it is requested as `date_ini = start`, `date_end = end − 1 s`. The invariant this
//! module protects: the watermark only ever moves to the end of a window whose rows were all
//! committed, and only across contiguous data — never over a gap.

use std::fmt;

use chrono::{Duration, NaiveDateTime, NaiveTime, Timelike};

/// A half-open local time range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// First second included.
    pub start: NaiveDateTime,
    /// First second not included.
    pub end: NaiveDateTime,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start.format("%Y-%m-%dT%H:%M:%S"), self.end.format("%Y-%m-%dT%H:%M:%S"))
    }
}

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: NaiveDateTime, end: NaiveDateTime) -> Self {
        Window { start, end }
    }

    /// The last second included, the API's `date_end`.
    pub fn last_second(&self) -> NaiveDateTime {
        self.end - Duration::seconds(1)
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

/// What planning needs to know, all in the operation's local time.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput {
    /// Everything before this is committed; `None` = never synced.
    pub watermark: Option<NaiveDateTime>,
    /// Where a never-synced report starts.
    pub start_from: NaiveDateTime,
    /// How far behind the watermark to re-read.
    pub lookback: Duration,
    /// Windows end this long before `now`.
    pub settle: Duration,
    /// The longest window one request may cover (≤ 31 days).
    pub max_window: Duration,
    /// The current local time.
    pub now: NaiveDateTime,
}

/// Plans a scheduled run: from `watermark − lookback` (or `start_from`) up to `now − settle`,
/// in consecutive windows of at most `max_window`.
pub fn plan(input: &PlanInput) -> Vec<Window> {
    let start = match input.watermark {
        // The look-back never reaches before the configured first date.
        Some(wm) => (wm - input.lookback).max(input.start_from.min(wm)),
        None => input.start_from,
    };
    let end = truncate_to_second(input.now - input.settle);
    chunk(Window::new(truncate_to_second(start), end), input.max_window)
}

/// Plans an explicit backfill of `[from, to)`, never past `now − settle`.
pub fn plan_range(
    from: NaiveDateTime,
    to: Option<NaiveDateTime>,
    settle: Duration,
    max_window: Duration,
    now: NaiveDateTime,
) -> Vec<Window> {
    let ceiling = truncate_to_second(now - settle);
    let end = to.map_or(ceiling, |to| to.min(ceiling));
    chunk(Window::new(truncate_to_second(from), end), max_window)
}

/// Cuts a window into consecutive pieces of at most `max`.
pub fn chunk(window: Window, max: Duration) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let end = (start + max).min(window.end);
        out.push(Window::new(start, end));
        start = end;
    }
    out
}

/// Re-cuts planned windows into whole local days: the first starts at its day's midnight, and
/// every window ends at or before the next midnight. The last may end before midnight (today,
/// up to now − settle).
pub fn whole_days(planned: &[Window]) -> Vec<Window> {
    let (Some(first), Some(last)) = (planned.first(), planned.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut start = first.start.date().and_time(NaiveTime::MIN);
    while start < last.end {
        let midnight = (start.date() + Duration::days(1)).and_time(NaiveTime::MIN);
        out.push(Window::new(start, midnight.min(last.end)));
        start = midnight;
    }
    out
}

/// The watermark after committing `window`: its end if the window starts at or before the
/// current watermark (contiguous data), otherwise unchanged — committing a window beyond a gap
/// must not claim the gap was synced. It never moves backwards.
pub fn advance(watermark: Option<NaiveDateTime>, window: &Window) -> Option<NaiveDateTime> {
    match watermark {
        None => Some(window.end),
        Some(wm) if window.start <= wm => Some(wm.max(window.end)),
        Some(wm) => Some(wm),
    }
}

/// The local midnight `days` days before `now`'s date: the default first date of a report.
pub fn days_back(now: NaiveDateTime, days: u32) -> NaiveDateTime {
    (now.date() - Duration::days(i64::from(days))).and_time(NaiveTime::MIN)
}

fn truncate_to_second(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn input(watermark: Option<&str>, now: &str) -> PlanInput {
        PlanInput {
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
        assert_eq!(w.last_second(), t("2026-11-20 23:59:59"));
        assert_eq!(w.to_string(), "2026-11-20T00:00:00..2026-11-21T00:00:00");
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
            t("2026-11-18 00:00:00"),
            Some(t("2026-11-19 00:00:00")),
            Duration::minutes(2),
            Duration::days(31),
            now,
        );
        assert_eq!(w, vec![Window::new(t("2026-11-18 00:00:00"), t("2026-11-19 00:00:00"))]);
        let open = plan_range(t("2026-11-18 00:00:00"), None, Duration::minutes(2), Duration::days(1), now);
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
            whole_days(&planned),
            vec![
                Window::new(t("2026-11-18 00:00:00"), t("2026-11-19 00:00:00")),
                Window::new(t("2026-11-19 00:00:00"), t("2026-11-20 00:00:00")),
                Window::new(t("2026-11-20 00:00:00"), t("2026-11-20 09:58:00")),
            ]
        );
        assert!(whole_days(&[]).is_empty());
    }

    #[test]
    fn days_back_is_local_midnight() {
        assert_eq!(days_back(t("2026-11-20 10:00:00"), 7), t("2026-11-13 00:00:00"));
    }
}
