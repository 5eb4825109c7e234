//! The operation's time zone: how its local wall-clock times map to instants and back.
//!
//! The API speaks naive local times in the operation's zone, the store keeps UTC instants, and a
//! local day (the budget's, an aggregate's) starts at local midnight. This module owns those rules
//! in one place: the conversion both ways and its DST rules (an ambiguous time is the earlier
//! instant, a time in a spring-forward gap is read an hour later), where local midnights fall, and
//! the local datetimes an operator writes (`sync.start_from`, `sync --from/--to`, `watermark set`).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local wall-clock time stands for in `tz`. An ambiguous time (DST fall-back)
/// takes the earlier instant; a time that does not exist (DST spring-forward gap) is read as
/// the instant one hour later, which is what a clock that was not moved would have shown.
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

/// The local wall-clock time of an instant in `tz`.
pub fn utc_to_local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// The first instant of the next local day in `tz` (when wolkvox resets the daily budget).
pub fn next_local_midnight(tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = utc_to_local(tz, now).date() + Duration::days(1);
    local_to_utc(tz, tomorrow.and_time(NaiveTime::MIN))
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
