//! The daily token budget: every API call costs one of the operation's daily tokens (licences ×
//! 1000, shared by all its tokens and by every other integration of the operation, reset at local
//! midnight).
//!
//! Calls are counted per token per local day in the database, so the count survives restarts.
//! When the API answers `403 TOKEN LIMIT EXCEEDED`, the token is paused until the next local
//! midnight: its jobs skip their runs quietly (one WARN when the pause starts, not one error per
//! tick), and resume by themselves after midnight.
//!
//! The API's own count (`token_info`, read by [`crate::sync::api_token_count`]) is checked here
//! against the day's budget ([`concerns`], pure): other integrations using more than half of it, or a rate
//! that uses it up before midnight, is worth one WARN per token per local day for each kind
//! ([`Budget::assess`]), not one per read.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use tracing::warn;

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::token_usage::TokenUsage;
use crate::store::{Db, StoreError};
use crate::time::{midnight, next_local_midnight, utc_to_local};
use crate::wolkvox::TokenInfo;

/// Budget bookkeeping for one operation.
#[derive(Clone, Debug)]
pub struct Budget {
    db: Db,
    account: String,
    timezone: Tz,
    clock: Clock,
    /// `wolkvox.licenses`: the budget when the API does not say its limit.
    licenses: Option<u32>,
    /// The concerns already warned about: (kind, token label, local day). Shared by the clones.
    warned: Arc<Mutex<HashSet<(ConcernKind, String, NaiveDate)>>>,
}

impl Budget {
    /// Bookkeeping for `account`, whose local days are in `timezone` and which has `licenses`
    /// (when configured).
    pub fn new(db: Db, account: String, timezone: Tz, clock: Clock, licenses: Option<u32>) -> Self {
        Budget { db, account, timezone, clock, licenses, warned: Arc::default() }
    }

    fn today(&self) -> NaiveDate {
        utc_to_local(self.timezone, self.clock.now()).date()
    }

    /// When the token is paused, until when.
    pub async fn paused_until(&self, token: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let latest = self.db.latest_token_pause(&self.account, token).await?;
        Ok(latest.filter(|until| *until > self.clock.now()))
    }

    /// Counts `calls` made on `token` now; returns today's total.
    pub async fn record(&self, token: &str, calls: u32) -> Result<i64, StoreError> {
        let total = self.db.add_token_calls(&self.account, token, self.today(), i64::from(calls)).await?;
        crate::metrics::token_calls_today(&self.account, token, total);
        Ok(total)
    }

    /// Pauses `token` until the next local midnight; returns that instant.
    pub async fn pause(&self, token: &str) -> Result<DateTime<Utc>, StoreError> {
        let until = next_local_midnight(self.timezone, self.clock.now());
        self.db.pause_token(&self.account, token, self.today(), until).await?;
        Ok(until)
    }

    /// The API answered `TOKEN LIMIT EXCEEDED` on `token`: pauses it until the next local
    /// midnight, with the one WARN of the pause.
    pub async fn limit_reached(&self, token: &str) {
        match self.pause(token).await {
            Ok(until) => warn!(
                until = %until,
                "Daily token limit reached; this token's reports pause until the local midnight reset"
            ),
            Err(store) => warn!(error = %store, "Daily token limit reached, and the pause could not be saved"),
        }
    }

    /// Every token's usage today.
    pub async fn usage_today(&self) -> Result<Vec<TokenUsage>, StoreError> {
        self.db.token_usage(&self.account, self.today()).await
    }

    /// Checks a `token_info` read of `token` against the day's budget, given `ours_today`, the
    /// calls of all of this operation's tokens today by our own count. Each concern is logged at
    /// WARN the first time it arises for the token on a local day; returns those newly warned.
    pub fn assess(&self, token: &str, info: &TokenInfo, ours_today: i64) -> Vec<Concern> {
        let now = self.clock.now();
        let today = utc_to_local(self.timezone, now).date();
        let found = concerns(info, ours_today, self.licenses, self.timezone, now);
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        // Yesterday's marks are of no more use: the set stays as small as one day's.
        warned.retain(|(_, _, day)| *day == today);
        let fresh: Vec<Concern> =
            found.into_iter().filter(|c| warned.insert((c.kind(), token.to_owned(), today))).collect();
        drop(warned);
        for concern in &fresh {
            concern.warn(self.timezone);
        }
        fresh
    }
}

/// Above this share of the day's budget used by other integrations, [`Concern::OtherIntegrations`].
pub const OTHERS_SHARE: f64 = 0.5;

/// Before this much of the local day has passed, today's rate says too little to project.
pub const RATE_AFTER: Duration = Duration::hours(1);

/// The operation's daily budget and where the figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayBudget {
    /// Calls a day.
    pub calls: i64,
    /// `"token_limit"` (what the API says) or `"licenses x 1000"` (the configuration).
    pub source: &'static str,
}

impl DayBudget {
    /// What the API says (`token_limit`) when it says it, else `licenses × 1000` when configured.
    pub fn of(info: &TokenInfo, licenses: Option<u32>) -> Option<DayBudget> {
        match (info.limit.filter(|l| *l > 0), licenses) {
            (Some(calls), _) => Some(DayBudget { calls, source: "token_limit" }),
            (None, Some(l)) => Some(DayBudget { calls: i64::from(l) * 1000, source: "licenses x 1000" }),
            (None, None) => None,
        }
    }
}

/// Something a `token_info` read says about the day that an operator should hear about.
#[derive(Clone, Debug, PartialEq)]
pub enum Concern {
    /// The operation's other integrations have used more than [`OTHERS_SHARE`] of the budget.
    OtherIntegrations {
        /// `all_token_today − ours`: every other integration's calls today.
        others: i64,
        /// Our own calls today, all of this operation's tokens.
        ours: i64,
        /// `all_token_today`.
        all: i64,
        /// The day's budget.
        budget: DayBudget,
    },
    /// At today's rate (`all_token_today` over the time since local midnight), the budget is used
    /// up before the next local midnight.
    RunsOut {
        /// When it runs out at that rate (now, if it already has).
        at: DateTime<Utc>,
        /// Calls an hour so far today.
        per_hour: f64,
        /// `all_token_today`.
        all: i64,
        /// The day's budget.
        budget: DayBudget,
    },
}

/// The kinds of [`Concern`], each warned about once per token per local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConcernKind {
    /// [`Concern::OtherIntegrations`].
    OtherIntegrations,
    /// [`Concern::RunsOut`].
    RunsOut,
}

impl Concern {
    /// Its kind.
    pub fn kind(&self) -> ConcernKind {
        match self {
            Concern::OtherIntegrations { .. } => ConcernKind::OtherIntegrations,
            Concern::RunsOut { .. } => ConcernKind::RunsOut,
        }
    }

    /// The WARN line: the figures, and what to do (the caller's span names the token).
    fn warn(&self, tz: Tz) {
        match *self {
            Concern::OtherIntegrations { others, ours, all, budget } => warn!(
                all_today = all,
                ours_today = ours,
                others_today = others,
                budget = budget.calls,
                budget_from = budget.source,
                "Other integrations have used {others} of the operation's {} API calls today ({:.0} %; all \
                 tokens {all}, ours {ours}), more than half of the daily budget its tokens share: this daemon's \
                 reports may pause at the daily limit before midnight. Find the integrations using the \
                 operation's tokens (wolkvox Manager: Configuration, Integrations, Tokens) and make them call \
                 less, slow our schedules, or add licences",
                budget.calls,
                100.0 * others as f64 / budget.calls as f64,
            ),
            Concern::RunsOut { at, per_hour, all, budget } => {
                let at_local = utc_to_local(tz, at).format("%H:%M").to_string();
                warn!(
                    all_today = all,
                    per_hour = per_hour.round(),
                    budget = budget.calls,
                    budget_from = budget.source,
                    runs_out_at = %at_local,
                    "At today's rate ({per_hour:.0} calls an hour, {all} so far) the operation's {} API calls \
                     a day run out at about {at_local} local time, before midnight; then every report pauses \
                     until the reset. Slow the schedules or disable reports (check-config shows our share), make \
                     other integrations call less, or add licences",
                    budget.calls,
                )
            }
        }
    }
}

/// What a `token_info` read says, at `now`, about the day of an operation in `tz` whose tokens
/// made `ours_today` calls today by our own count; nothing when no budget is known (neither
/// `token_limit` nor licences) or the API left `all_token_today` blank. Pure.
pub fn concerns(info: &TokenInfo, ours_today: i64, licenses: Option<u32>, tz: Tz, now: DateTime<Utc>) -> Vec<Concern> {
    let (Some(budget), Some(all)) = (DayBudget::of(info, licenses), info.all_today) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    // Our count can be ahead of the API's (a call cut off before it arrived): never below zero.
    let others = (all - ours_today).max(0);
    if others as f64 > OTHERS_SHARE * budget.calls as f64 {
        found.push(Concern::OtherIntegrations { others, ours: ours_today, all, budget });
    }
    let day_start = midnight(tz, utc_to_local(tz, now).date());
    let elapsed = now - day_start;
    if elapsed >= RATE_AFTER && all > 0 {
        let per_second = all as f64 / elapsed.num_seconds() as f64;
        let left = (budget.calls - all).max(0) as f64;
        let at = now + Duration::seconds((left / per_second).ceil() as i64);
        if at < next_local_midnight(tz, now) {
            found.push(Concern::RunsOut { at, per_hour: per_second * 3600.0, all, budget });
        }
    }
    found
}

/// One report's share of the daily budget (or the `token_info` reads').
#[derive(Clone, Debug, PartialEq)]
pub struct ReportCost {
    /// The report (`token_info` for the reads of the API's token count).
    pub api: &'static str,
    /// Scheduled runs in a day.
    pub runs_per_day: u32,
    /// API calls per run (streams × windows per run, averaged; for `token_info`, the tokens).
    pub calls_per_run: f64,
    /// `runs_per_day × calls_per_run`, rounded up.
    pub calls_per_day: u64,
}

/// Skills assumed by the estimate of the dimensions' reads (one `agents_in_skill` call each):
/// the real number is only known once `dim_skill` is read.
const ASSUMED_SKILLS: usize = 10;

/// What the enabled reports will spend per day, and what the operation may spend.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyEstimate {
    /// Per report.
    pub reports: Vec<ReportCost>,
    /// The `token_info` reads, one call per token per run, when `[token_info]` is enabled.
    pub token_info: Option<ReportCost>,
    /// The sum.
    pub total: u64,
    /// `licenses × 1000`, when `wolkvox.licenses` is configured.
    pub budget: Option<u64>,
}

impl DailyEstimate {
    /// Estimates a day of the configured schedule. Event reports make one call per stream per
    /// run (a run covers the few minutes since the last); aggregates re-query today plus the
    /// days the look-back reaches into, on average `1 + lookback / 24 h` calls per stream; the
    /// `token_info` reads cost one call per token per run.
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
        if settings.dimensions.enabled {
            // One call per dimension, plus one per skill for the agents of each skill.
            let runs_per_day = runs_per_day(&settings.dimensions.schedule, settings.timezone);
            let calls_per_run = (crate::wolkvox::catalog::dimensions::ALL.len() - 1 + ASSUMED_SKILLS) as f64;
            let calls_per_day = (f64::from(runs_per_day) * calls_per_run).ceil() as u64;
            reports.push(ReportCost { api: "dimensions", runs_per_day, calls_per_run, calls_per_day });
        }
        let token_info = settings.token_info.enabled.then(|| {
            let runs_per_day = runs_per_day(&settings.token_info.schedule, settings.timezone);
            let tokens = settings.tokens.len() as u64;
            ReportCost {
                api: "token_info",
                runs_per_day,
                calls_per_run: tokens as f64,
                calls_per_day: u64::from(runs_per_day) * tokens,
            }
        });
        let total = reports.iter().chain(&token_info).map(|r| r.calls_per_day).sum();
        DailyEstimate { reports, token_info, total, budget: settings.licenses.map(|l| u64::from(l) * 1000) }
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
            .chain(&self.token_info)
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
    fn the_token_info_reads_cost_a_call_per_token_per_run_and_count_in_the_total() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let tokens = [("WOLKVOX_ETL__WOLKVOX__TOKENS__A", "ta"), ("WOLKVOX_ETL__WOLKVOX__TOKENS__B", "tb")];
        let settings = Settings::load_with_env(None, env(&tokens)).unwrap();
        let estimate = DailyEstimate::of(&settings);
        let reads = estimate.token_info.clone().expect("enabled by default");
        assert_eq!((reads.runs_per_day, reads.calls_per_day), (24, 48), "hourly, two tokens");
        let reports: u64 = estimate.reports.iter().map(|r| r.calls_per_day).sum();
        assert_eq!(estimate.total, reports + 48);
        assert!(
            estimate.arithmetic().contains("token_info: 24 runs/day x 2.00 calls = 48"),
            "{}",
            estimate.arithmetic()
        );

        let off = [&tokens[..], &[("WOLKVOX_ETL__TOKEN_INFO__ENABLED", "false")]].concat();
        let estimate = DailyEstimate::of(&Settings::load_with_env(None, env(&off)).unwrap());
        assert_eq!((estimate.token_info, estimate.total), (None, reports));
    }

    const BOGOTA: Tz = chrono_tz::America::Bogota;

    fn at(local: &str) -> DateTime<Utc> {
        crate::time::local_to_utc(BOGOTA, chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap())
    }

    fn info(limit: Option<i64>, all: Option<i64>) -> TokenInfo {
        TokenInfo { limit, all_today: all, ..TokenInfo::default() }
    }

    #[test]
    fn other_integrations_using_more_than_half_of_the_budget_is_a_concern() {
        // 00:30: too early in the day for the rate to say anything, so only this kind shows.
        let now = at("2026-11-20 00:30");
        let api = DayBudget { calls: 1000, source: "token_limit" };
        let licences = DayBudget { calls: 2000, source: "licenses x 1000" };
        let cases: &[(TokenInfo, i64, Option<u32>, Option<Concern>)] = &[
            (
                info(Some(1000), Some(700)),
                100,
                Some(9),
                Some(Concern::OtherIntegrations { others: 600, ours: 100, all: 700, budget: api }),
            ),
            // Exactly half is not more than half.
            (info(Some(1000), Some(600)), 100, None, None),
            // No limit from the API: the licences.
            (
                info(None, Some(1200)),
                100,
                Some(2),
                Some(Concern::OtherIntegrations { others: 1100, ours: 100, all: 1200, budget: licences }),
            ),
            (
                info(Some(0), Some(1200)),
                100,
                Some(2),
                Some(Concern::OtherIntegrations { others: 1100, ours: 100, all: 1200, budget: licences }),
            ),
            // No budget known, or no count: nothing to say.
            (info(None, Some(1200)), 100, None, None),
            (info(Some(1000), None), 0, None, None),
            // Our count ahead of the API's is not a negative share.
            (info(Some(1000), Some(50)), 80, None, None),
        ];
        for (info, ours, licenses, expected) in cases {
            let found = concerns(info, *ours, *licenses, BOGOTA, now);
            assert_eq!(found, expected.iter().cloned().collect::<Vec<_>>(), "{info:?} ours {ours}");
        }
    }

    #[test]
    fn a_rate_that_uses_the_budget_up_before_local_midnight_is_a_concern_saying_when() {
        let budget = DayBudget { calls: 1000, source: "token_limit" };
        // Noon with 600 calls: 50 an hour, the 400 left last until 20:00.
        let found = concerns(&info(Some(1000), Some(600)), 600, None, BOGOTA, at("2026-11-20 12:00"));
        assert_eq!(found, [Concern::RunsOut { at: at("2026-11-20 20:00"), per_hour: 50.0, all: 600, budget }]);
        // 400 by noon lasts the day; 500 by noon ends exactly at midnight, not before it.
        assert!(concerns(&info(Some(1000), Some(400)), 400, None, BOGOTA, at("2026-11-20 12:00")).is_empty());
        assert!(concerns(&info(Some(1000), Some(500)), 500, None, BOGOTA, at("2026-11-20 12:00")).is_empty());
        // In the first hour of the day the rate says too little: 100 calls at 00:30 is no alarm.
        assert!(concerns(&info(Some(1000), Some(100)), 100, None, BOGOTA, at("2026-11-20 00:30")).is_empty());
        // Already used up: it runs out now.
        let found = concerns(&info(Some(1000), Some(1000)), 1000, None, BOGOTA, at("2026-11-20 12:00"));
        assert!(
            matches!(found[..], [Concern::RunsOut { at: when, per_hour, all: 1000, .. }]
                if when == at("2026-11-20 12:00") && (per_hour - 1000.0 / 12.0).abs() < 1e-9),
            "{found:?}"
        );
        // Both kinds at once.
        let kinds: Vec<_> = concerns(&info(Some(1000), Some(900)), 100, None, BOGOTA, at("2026-11-20 12:00"))
            .iter()
            .map(Concern::kind)
            .collect();
        assert_eq!(kinds, [ConcernKind::OtherIntegrations, ConcernKind::RunsOut]);
    }

    #[tokio::test]
    async fn each_concern_is_warned_once_per_token_per_local_day() {
        let db = Db::connect(&"sqlite::memory:".to_string().into(), 1).await.unwrap();
        let clock = Clock::manual(at("2026-11-20 12:00"));
        let budget = Budget::new(db, "acme".into(), BOGOTA, clock.clone(), None);
        let busy = info(Some(1000), Some(900));
        assert_eq!(budget.assess("a", &busy, 100).len(), 2, "both kinds");
        assert!(budget.assess("a", &busy, 100).is_empty(), "not again today");
        assert_eq!(budget.assess("b", &busy, 100).len(), 2, "another token");
        clock.set(at("2026-11-20 23:59"));
        assert!(budget.assess("a", &busy, 100).is_empty());
        clock.set(at("2026-11-21 12:00"));
        assert_eq!(budget.assess("a", &busy, 100).len(), 2, "a new local day");
        assert!(budget.assess("c", &info(Some(1000), Some(100)), 100).is_empty(), "a quiet read warns nothing");
    }

    #[test]
    fn the_default_schedule_fits_a_ten_licence_operation() {
        let settings = Settings::load_with_env(None, std::collections::HashMap::new()).unwrap();
        let estimate = DailyEstimate::of(&settings);
        assert!(estimate.reports.len() >= 5, "a useful default set: {}", estimate.arithmetic());
        assert!(estimate.total <= 10_000, "{}", estimate.arithmetic());
    }
}
