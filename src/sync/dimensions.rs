//! The reads of the dimensions (the reference data of `information.php`: agents, skills,
//! campaigns, activity codes, routing points, connectors, agents per skill, services), read whole
//! on their own schedule into `dim_*` tables with history; the catalogue
//! ([`crate::wolkvox::catalog::dimensions`]) says which API fills which table.
//!
//! One read of one dimension: ask its `information.php` API (once, or once per skill), apply the
//! snapshot to its `dim_*` table in one transaction, record the run. A read is a request like a
//! report's: the token's permit in this process and its lock across processes, the client's
//! retries, every call counted in the day's budget, one run lock per dimension, a row in
//! `etl_run` (report = the table's name).

use std::collections::HashMap;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use super::{JobContext, RunCounts, RunOutcome, SyncError};
use crate::store::dimensions::DimRow;
use crate::store::runs::RunStatus;
use crate::wolkvox::catalog::dimensions::{self, Ask, Dimension};
use crate::wolkvox::{ApiError, Row, Token};

/// The daemon's reads of the dimensions: which token, on which schedule.
#[derive(Clone, Debug)]
pub struct DimensionJob {
    /// The token the reads use.
    pub token: Token,
    /// Six-field cron expression, in the operation's time zone.
    pub schedule: String,
}

/// Reads every dimension once, in catalogue order (skills before the agents of each skill).
pub async fn read_all(
    ctx: &JobContext,
    token: &Token,
    shutdown: &CancellationToken,
) -> Vec<(&'static str, RunOutcome)> {
    let mut outcomes = Vec::new();
    for dim in dimensions::ALL {
        if shutdown.is_cancelled() {
            break;
        }
        let outcome = read(ctx, token, dim).await;
        // The token is held elsewhere: the next dimensions would only wait as long again.
        let busy = outcome.error.as_ref().is_some_and(SyncError::is_lock_busy);
        outcomes.push((dim.table, outcome));
        if busy {
            break;
        }
    }
    outcomes
}

/// Whether any dimension of the operation was never read (start-up reads them then).
pub async fn never_read(ctx: &JobContext) -> bool {
    for dim in dimensions::ALL {
        match ctx.db.dimension_ever_read(dim, &ctx.account).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return true,
        }
    }
    false
}

/// Reads one dimension; never panics on bad input, and its run is recorded however it ends.
pub async fn read(ctx: &JobContext, token: &Token, dim: &'static Dimension) -> RunOutcome {
    let run_id = format!("{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    let span = tracing::error_span!("dimension", report = dim.table, account = %ctx.account, token = token.label(), run_id = %run_id);
    async {
        let started_at = ctx.clock.now();
        let started = Instant::now();
        let mut counts = RunCounts::default();
        let lock = ctx.coordinator.try_lock_run(&ctx.account, dim.table, "").await;
        let result = match lock {
            Ok(Some(lock)) => {
                let r = snapshot(ctx, token, dim, &mut counts).await;
                lock.release().await;
                r
            }
            Ok(None) => Ok(RunStatus::Skipped),
            Err(e) => Err(e.into()),
        };
        let (status, error) = match result {
            Ok(status) => (status, None),
            Err(SyncError::Api(ApiError::TokenLimit { .. })) => {
                ctx.budget.limit_reached(token.label()).await;
                (RunStatus::Paused, None)
            }
            // As for a report (sync/run.rs): another process kept the token the whole wait.
            Err(e) if e.is_lock_busy() => {
                tracing::warn!(
                    "Another process holds the lock of token {}: {e}; skipping this read, the next tick tries again",
                    token.label()
                );
                (RunStatus::Skipped, Some(e))
            }
            Err(e) => (RunStatus::Failed, Some(e)),
        };
        let outcome =
            RunOutcome { run_id, status, planned: None, counts, watermark: None, error, duration: started.elapsed() };
        if outcome.status != RunStatus::Skipped {
            super::record_run(ctx, dim.table, "", token.label(), &outcome, started_at).await;
        }
        outcome
    }
    .instrument(span)
    .await
}

/// Asks the API, builds the snapshot and applies it; the run's status.
async fn snapshot(
    ctx: &JobContext,
    token: &Token,
    dim: &'static Dimension,
    counts: &mut RunCounts,
) -> Result<RunStatus, SyncError> {
    if let Some(until) = ctx.budget.paused_until(token.label()).await? {
        tracing::debug!(until = %until, "Token paused by the daily budget; not reading the dimension");
        return Ok(RunStatus::Paused);
    }
    let asks: Vec<Option<String>> = match dim.ask {
        Ask::Once | Ask::Single => vec![None],
        Ask::PerSkill => {
            let skills = Dimension::find("dim_skill").expect("dim_skill is catalogued");
            ctx.db.dimension_keys(skills, &ctx.account).await?.into_iter().map(Some).collect()
        }
    };
    let mut rows: Vec<DimRow> = Vec::new();
    // Skills whose own answer was empty: their members are kept, not closed.
    let mut empty_parts: Vec<String> = Vec::new();
    for skill in &asks {
        let params: Vec<(&str, &str)> = skill.as_deref().map(|s| vec![("skill_id", s)]).unwrap_or_default();
        let answer = ask(ctx, token, dim, &params, counts).await?;
        counts.rows_fetched += answer.len() as u64;
        // A member the parser had to cut is not what the API sent: applied, it would store a
        // cut value as a new version, or (cut before its key) go missing from the snapshot and be
        // closed while the API still lists it. The read fails instead, and closes nothing.
        if let Some(reason) = answer.iter().find_map(crate::wolkvox::envelope::cut_reason) {
            return Err(SyncError::Api(ApiError::Malformed {
                status: 200,
                reason: format!("{} answered a member the parser had to cut ({reason})", dim.api),
            }));
        }
        if let (Some(skill), true) = (skill, answer.is_empty()) {
            empty_parts.push(skill.clone());
        }
        for object in &answer {
            match to_row(dim, object, skill.as_deref()) {
                Some(row) => rows.push(row),
                None => counts.rows_rejected += 1,
            }
        }
    }
    // One version per key: the answer's last copy wins, as in reports.
    let keys = dim.key.len();
    let mut last: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if last.insert(row.values[..keys].to_vec(), i).is_some() {
            counts.rows_duplicate += 1;
        }
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    let rows: Vec<DimRow> = keep.into_iter().map(|i| rows[i].clone()).collect();
    let mut tx = ctx.db.begin().await?;
    let applied = tx.apply_dimension(dim, &ctx.account, &rows, ctx.clock.now(), &empty_parts).await?;
    tx.commit().await?;
    counts.windows = 1;
    counts.rows_upserted = applied.inserted + applied.changed + applied.closed;
    if applied.suspect {
        counts.suspect_empty_days = 1;
        warn!(
            rows = rows.len(),
            current = applied.current_before,
            "The API answered the dimension with far fewer rows than are current; nothing was closed (kept as suspect), \
             and the next read checks again"
        );
    }
    info!(
        rows = rows.len(),
        inserted = applied.inserted,
        changed = applied.changed,
        closed = applied.closed,
        "Read the dimension"
    );
    Ok(RunStatus::Succeeded)
}

/// One call (with the client's retries), counted in the budget.
async fn ask(
    ctx: &JobContext,
    token: &Token,
    dim: &Dimension,
    params: &[(&str, &str)],
    counts: &mut RunCounts,
) -> Result<Vec<Row>, SyncError> {
    let (result, attempts) =
        ctx.call_on_token(token, dim.api, |permit| ctx.client.information(token, permit, dim.api, params)).await;
    counts.requests += attempts;
    counts.retries += attempts.saturating_sub(1);
    if let Err(e) = ctx.budget.record(token.label(), attempts).await {
        warn!(error = %e, "Could not count API calls in the token budget");
    }
    result
}

/// An object of the answer as a dimension row; `None` when a key field is missing or blank.
fn to_row(dim: &Dimension, object: &Row, skill: Option<&str>) -> Option<DimRow> {
    let text = |name: &str| -> Option<String> {
        let value = match (name, dim.ask) {
            ("skill_id", Ask::PerSkill) => return skill.map(str::to_owned),
            ("service", Ask::Single) => return Some("services".to_owned()),
            // The docs' tables spell it `code_act`; the API's answers say `cod_act`.
            ("cod_act", _) => object.get("cod_act").or_else(|| object.get("code_act")),
            _ => object.get(name),
        }?;
        let text = match value {
            serde_json::Value::String(s) => s.replace('\0', "").trim().to_owned(),
            serde_json::Value::Null => return None,
            other => other.to_string(),
        };
        (!text.is_empty()).then_some(text)
    };
    let values: Vec<Option<String>> = dim.columns().map(text).collect();
    if values[..dim.key.len()].iter().any(Option::is_none) {
        return None;
    }
    let tracked = &values[dim.key.len()..dim.key.len() + dim.tracked.len()];
    let attr_hash = crate::hash::fnv1a(
        tracked.iter().flat_map(|v| v.as_deref().map_or(&[1u8][..], str::as_bytes).iter().copied().chain([0u8])),
    ) as i64;
    // NUL characters go from the values (PostgreSQL's jsonb refuses them), not from the JSON text,
    // where `\\u0000` can also be an escaped backslash followed by `u0000`.
    let clean: Row = object
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k.clone(), serde_json::Value::String(s.replace('\0', ""))),
            other => (k.clone(), other.clone()),
        })
        .collect();
    let raw = serde_json::to_string(&clean).unwrap_or_else(|_| "{}".into());
    Some(DimRow { values, attr_hash, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Row {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn objects_become_rows_keyed_as_the_catalogue_says() {
        let agents = Dimension::find("agents").unwrap();
        let row = to_row(agents, &object(r#"{"agent_id":" 12523 ","agent_name":"SERGIO FLOREZ","last_use":""}"#), None)
            .unwrap();
        assert_eq!(row.values[0].as_deref(), Some("12523"));
        assert_eq!(row.values[1].as_deref(), Some("SERGIO FLOREZ"));
        assert_eq!(row.values.last().unwrap(), &None, "a blank value is NULL");
        assert!(to_row(agents, &object(r#"{"agent_name":"NO ID"}"#), None).is_none(), "no key, no row");

        // A rename changes the hash; a new last_use (volatile) does not.
        let renamed = to_row(agents, &object(r#"{"agent_id":"12523","agent_name":"SERGIO F."}"#), None).unwrap();
        let used = to_row(agents, &object(r#"{"agent_id":"12523","agent_name":"SERGIO FLOREZ","last_use":"x"}"#), None)
            .unwrap();
        assert_ne!(row.attr_hash, renamed.attr_hash);
        assert_eq!(row.attr_hash, used.attr_hash);

        let codes = Dimension::find("activity_codes").unwrap();
        let code = to_row(codes, &object(r#"{"code_act":"Acuerdo_de_Pago","type_code":"cod_act1","hit":"yes"}"#), None)
            .unwrap();
        assert_eq!(&code.values[..2], &[Some("cod_act1".to_owned()), Some("Acuerdo_de_Pago".to_owned())]);

        let bridge = Dimension::find("agents_in_skill").unwrap();
        let member = to_row(bridge, &object(r#"{"agent_id":"12530","expertise":"5"}"#), Some("101")).unwrap();
        assert_eq!(&member.values[..2], &[Some("101".to_owned()), Some("12530".to_owned())]);

        let services = Dimension::find("services").unwrap();
        let flags = to_row(services, &object(r#"{"licenses":"10","pbx":"2","whatsapp":"yes"}"#), None).unwrap();
        assert_eq!(flags.values[0].as_deref(), Some("services"));
    }
}
