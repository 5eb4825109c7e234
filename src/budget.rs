//! The daily token budget: every API call costs one of the operation's daily tokens (licences ×
//! 1000, shared by all its tokens, reset at local midnight).
//!
//! Calls are counted per token per local day in the database, so the count survives restarts.
//! When the API answers `403 TOKEN LIMIT EXCEEDED`, the token is paused until the next local
//! midnight: its jobs skip their runs quietly (one WARN when the pause starts, not one error per
//! tick), and resume by themselves after midnight.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::token_usage::{self, TokenUsage};
use crate::store::{Db, StoreError};
use crate::time::{midnight, next_local_midnight, utc_to_local};

/// Budget bookkeeping for one operation.
#[derive(Clone, Debug)]
pub struct Budget {
    db: Db,
    account: String,
    timezone: Tz,
    clock: Clock,
}

impl Budget {
    /// Bookkeeping for `account`, whose local days are in `timezone`.
    pub fn new(db: Db, account: String, timezone: Tz, clock: Clock) -> Self {
        Budget { db, account, timezone, clock }
    }

    fn today(&self) -> NaiveDate {
        utc_to_local(self.timezone, self.clock.now()).date()
    }

    /// When the token is paused, until when.
    pub async fn paused_until(&self, token: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let latest = token_usage::latest_pause(&self.db, &self.account, token).await?;
        Ok(latest.filter(|until| *until > self.clock.now()))
    }

    /// Counts `calls` made on `token` now; returns today's total.
    pub async fn record(&self, token: &str, calls: u32) -> Result<i64, StoreError> {
        let total = token_usage::add_calls(&self.db, &self.account, token, self.today(), i64::from(calls)).await?;
        crate::metrics::token_calls_today(&self.account, token, total);
        Ok(total)
    }

    /// Pauses `token` until the next local midnight; returns that instant.
    pub async fn pause(&self, token: &str) -> Result<DateTime<Utc>, StoreError> {
        let until = next_local_midnight(self.timezone, self.clock.now());
        token_usage::pause(&self.db, &self.account, token, self.today(), until).await?;
        Ok(until)
    }

    /// Every token's usage today.
    pub async fn usage_today(&self) -> Result<Vec<TokenUsage>, StoreError> {
        token_usage::usage(&self.db, &self.account, self.today()).await
    }
}

/// One report's share of the daily budget.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportCost {
    /// The report.
    pub api: &'static str,
    /// Scheduled runs in a day.
    pub runs_per_day: u32,
    /// API calls per run (streams × windows per run, averaged).
    pub calls_per_run: f64,
    /// `runs_per_day × calls_per_run`, rounded up.
    pub calls_per_day: u64,
}

/// What the enabled reports will spend per day, and what the operation may spend.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyEstimate {
    /// Per report.
    pub reports: Vec<ReportCost>,
    /// The sum.
    pub total: u64,
    /// `licenses × 1000`, when `wolkvox.licenses` is configured.
    pub budget: Option<u64>,
}

impl DailyEstimate {
    /// Estimates a day of the configured schedule. Event reports make one call per stream per
    /// run (a run covers the few minutes since the last); aggregates re-query today plus the
    /// days the look-back reaches into, on average `1 + lookback / 24 h` calls per stream.
    pub fn of(settings: &Settings) -> DailyEstimate {
        let reports: Vec<ReportCost> = settings
            .reports
            .iter()
            .map(|r| {
                let runs_per_day = runs_per_day(&r.schedule, settings.timezone);
                let streams = r.report.streams.len().max(1) as f64;
                let windows = if r.report.in_whole_days() {
                    1.0 + r.policy.lookback.num_minutes() as f64 / (24.0 * 60.0)
                } else {
                    1.0
                };
                let calls_per_run = streams * windows;
                let calls_per_day = (f64::from(runs_per_day) * calls_per_run).ceil() as u64;
                ReportCost { api: r.report.api, runs_per_day, calls_per_run, calls_per_day }
            })
            .collect();
        let mut reports = reports;
        if settings.reconcile.enabled {
            // Each pass re-reads `days` days of every dated report, a call per day and stream.
            let runs_per_day = runs_per_day(&settings.reconcile.schedule, settings.timezone);
            let calls_per_run: f64 = settings
                .reports
                .iter()
                .filter(|r| r.report.is_dated())
                .map(|r| (r.report.streams.len().max(1) as f64) * f64::from(settings.reconcile.days))
                .sum();
            let calls_per_day = (f64::from(runs_per_day) * calls_per_run).ceil() as u64;
            reports.push(ReportCost { api: "reconcile", runs_per_day, calls_per_run, calls_per_day });
        }
        let total = reports.iter().map(|r| r.calls_per_day).sum();
        DailyEstimate { reports, total, budget: settings.licenses.map(|l| u64::from(l) * 1000) }
    }

    /// Whether the schedule needs more calls than the operation's daily budget.
    pub fn exceeds_budget(&self) -> bool {
        self.budget.is_some_and(|b| self.total > b)
    }

    /// The arithmetic, one line per report, for the log and `check-config`.
    pub fn arithmetic(&self) -> String {
        let mut lines: Vec<String> = self
            .reports
            .iter()
            .map(|r| {
                format!("{}: {} runs/day x {:.2} calls = {}", r.api, r.runs_per_day, r.calls_per_run, r.calls_per_day)
            })
            .collect();
        lines.push(match self.budget {
            Some(b) => {
                format!("total {} calls/day of a budget of {b} (licenses x 1000, shared by all tokens)", self.total)
            }
            None => format!("total {} calls/day (set wolkvox.licenses to check it against the budget)", self.total),
        });
        lines.join("; ")
    }
}

/// How many times a six-field cron expression fires in a day.
pub(crate) fn runs_per_day(schedule: &str, tz: Tz) -> u32 {
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule);
    let Ok(cron) = parsed else {
        return 0;
    };
    // A fixed weekday-neutral day: 2026-01-07 (a Wednesday), local midnight to midnight.
    let start = midnight(tz, NaiveDate::from_ymd_opt(2026, 1, 7).unwrap_or_default());
    let end = start + Duration::days(1);
    let mut count = 0u32;
    let mut at = start.with_timezone(&tz) - Duration::seconds(1);
    while let Ok(next) = cron.find_next_occurrence(&at, false) {
        if next.with_timezone(&Utc) >= end || count >= 86_400 {
            break;
        }
        count += 1;
        at = next;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules_are_counted_over_a_local_day() {
        let tz = chrono_tz::America::Bogota;
        assert_eq!(runs_per_day("0 */5 * * * *", tz), 288);
        assert_eq!(runs_per_day("0 7 * * * *", tz), 24);
        assert_eq!(runs_per_day("0 30 6 * * *", tz), 1);
    }

    #[test]
    fn the_estimate_shows_the_arithmetic_and_flags_an_overspent_budget() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let settings = Settings::load_with_env(
            None,
            env(&[("WOLKVOX_ETL__WOLKVOX__LICENSES", "1"), ("WOLKVOX_ETL__REPORTS__ACT_5__ENABLED", "true")]),
        )
        .unwrap();
        let estimate = DailyEstimate::of(&settings);
        let chat_14 = estimate.reports.iter().find(|r| r.api == "chat_14").unwrap();
        assert_eq!((chat_14.runs_per_day, chat_14.calls_per_day), (288, 288));
        // act_5: two code groups, an aggregate re-querying today and a share of yesterday.
        let act_5 = estimate.reports.iter().find(|r| r.api == "act_5").unwrap();
        assert!(act_5.calls_per_run > 2.0, "{act_5:?}");
        assert_eq!(estimate.budget, Some(1000));
        assert!(estimate.exceeds_budget(), "{}", estimate.arithmetic());
        assert!(estimate.arithmetic().contains("chat_14: 288 runs/day x 1.00 calls = 288"));
    }

    #[test]
    fn a_dated_aggregate_costs_what_an_aggregate_costs() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let settings = Settings::load_with_env(
            None,
            env(&[("WOLKVOX_ETL__REPORTS__SKILL_3__ENABLED", "true"), ("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "180")]),
        )
        .unwrap();
        let estimate = DailyEstimate::of(&settings);
        let cost = |api: &str| estimate.reports.iter().find(|r| r.api == api).unwrap().calls_per_run;
        // One call a run, two when the 3-hour look-back crosses midnight: 1 + 3/24 on average.
        assert_eq!(cost("skill_3"), 1.125);
        assert_eq!(cost("skill_3"), cost("agent_1"));
    }

    #[test]
    fn the_default_schedule_fits_a_ten_licence_operation() {
        let settings = Settings::load_with_env(None, std::collections::HashMap::new()).unwrap();
        let estimate = DailyEstimate::of(&settings);
        assert!(estimate.reports.len() >= 5, "a useful default set: {}", estimate.arithmetic());
        assert!(estimate.total <= 10_000, "{}", estimate.arithmetic());
    }
}
