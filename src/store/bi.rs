//! The analysts' layer: KPI views in the schema `bi` (PostgreSQL), over the report tables and
//! the dimensions. Each formula is in docs/analysts.md ("KPI views"); inputs are typed report columns
//! (durations in seconds, percentages as numbers). The views read local days, so they are made
//! for the operation's time zone (the first account's, in a multi-account deployment). They are
//! dropped and created again (under the schema lock) when a start-up finds another release's, or
//! another zone's, so a new release's formulas replace the old ones; nothing is stored in them.

use chrono_tz::Tz;

use super::{sql, Db, StoreError};
use crate::wolkvox::catalog;

/// The reports the views read; their tables are created with the views, enabled or not.
pub const INPUTS: [&str; 5] = ["agent_1", "skill_4", "cdr_1", "chat_1", "chat_14"];

/// The views, in creation order, with their SQL (`{tz}` is the operation's time zone).
const VIEWS: &[(&str, &str)] = &[
    (
        "agent_day",
        "SELECT a.account, a.day, a.agent_id,
                coalesce(d.agent_name, a.agent_name) AS agent_name,
                a.inbound + a.outbound AS calls,
                a.inbound, a.outbound,
                a.inbound_time + a.outbound_time AS talk_seconds,
                a.acw_time AS acw_seconds,
                a.inbound_time + a.outbound_time + a.acw_time AS handle_seconds,
                round((a.inbound_time + a.outbound_time + a.acw_time)::numeric / NULLIF(a.inbound + a.outbound, 0), 1)
                    AS aht_seconds,
                a.login_time AS login_seconds,
                a.ready_time AS ready_seconds,
                round(100.0 * (a.inbound_time + a.outbound_time + a.acw_time)
                      / NULLIF(a.inbound_time + a.outbound_time + a.acw_time + a.ready_time, 0), 1)
                    AS occupancy_percent
         FROM agent_1 a
         LEFT JOIN dim_agent d
                ON d.account = a.account AND d.agent_id = a.agent_id
               AND (d.valid_from AT TIME ZONE '{tz}')::date <= a.day
               AND (d.valid_to IS NULL OR (d.valid_to AT TIME ZONE '{tz}')::date > a.day)",
    ),
    (
        "skill_hour",
        "SELECT s.account, s.day, s.hour, s.pass, s.skill_id,
                d.skill_name,
                s.inbound_calls AS offered,
                s.answer_calls AS answered,
                s.abandon_calls AS abandoned,
                round(100.0 * s.answer_calls / NULLIF(s.inbound_calls, 0), 1) AS answer_rate_percent,
                round(100.0 * s.abandon_calls / NULLIF(s.inbound_calls, 0), 1) AS abandon_rate_percent,
                s.service_level_20seg AS service_level_20s_percent,
                s.asa AS asa_seconds
         FROM skill_4 s
         LEFT JOIN dim_skill d
                ON d.account = s.account AND d.skill_id = s.skill_id
               AND (d.valid_from AT TIME ZONE '{tz}')::date <= s.day
               AND (d.valid_to IS NULL OR (d.valid_to AT TIME ZONE '{tz}')::date > s.day)",
    ),
    (
        "code_outcome",
        "WITH typed AS (
             SELECT account, (date AT TIME ZONE '{tz}')::date AS day, 'call' AS medium, cod_act FROM cdr_1
             UNION ALL
             SELECT account, (date AT TIME ZONE '{tz}')::date, 'chat', cod_act FROM chat_1
         )
         SELECT t.account, t.day, t.medium, t.cod_act,
                max(c.description_cod_act) AS description,
                coalesce(bool_or(c.hit = 'yes'), false) AS hit,
                coalesce(bool_or(c.rpc = 'yes'), false) AS rpc,
                count(*) AS interactions
         FROM typed t
         LEFT JOIN dim_activity_code c
                ON c.account = t.account AND c.cod_act = t.cod_act AND c.type_code = 'cod_act1' AND c.is_current
         GROUP BY t.account, t.day, t.medium, t.cod_act",
    ),
    (
        "effectiveness_day",
        "SELECT account, day, medium,
                sum(interactions) AS interactions,
                sum(interactions) FILTER (WHERE cod_act IS NOT NULL) AS typified,
                coalesce(sum(interactions) FILTER (WHERE hit), 0) AS hits,
                coalesce(sum(interactions) FILTER (WHERE rpc), 0) AS rpc,
                round(100.0 * coalesce(sum(interactions) FILTER (WHERE hit), 0)
                      / NULLIF(sum(interactions) FILTER (WHERE cod_act IS NOT NULL), 0), 1) AS effectiveness_percent
         FROM bi.code_outcome
         GROUP BY account, day, medium",
    ),
    (
        "chat_channel_day",
        "SELECT account, (date AT TIME ZONE '{tz}')::date AS day, 'channel' AS kind, channel AS name,
                count(*) AS chats, round(avg(chat_duration), 1) AS avg_duration_seconds
         FROM chat_1 GROUP BY 1, 2, 4
         UNION ALL
         SELECT account, (date AT TIME ZONE '{tz}')::date, 'source', source_type, count(*), NULL
         FROM chat_14 GROUP BY 1, 2, 4",
    ),
    (
        "pipeline_health",
        "SELECT w.account, w.report, w.stream, w.watermark,
                round(extract(epoch FROM now() - w.watermark)) AS lag_seconds,
                r.status AS last_status, r.finished_at AS last_run_at, r.error_kind AS last_error_kind,
                r.error AS last_error,
                coalesce((SELECT sum(t.rows_upserted) FROM etl_run t
                          WHERE t.account = w.account AND t.report = w.report AND t.stream = w.stream
                            AND (t.started_at AT TIME ZONE '{tz}')::date = (now() AT TIME ZONE '{tz}')::date), 0)
                    AS rows_today
         FROM etl_watermark w
         LEFT JOIN LATERAL (
             SELECT status, finished_at, error_kind, error FROM etl_run x
             WHERE x.account = w.account AND x.report = w.report AND x.stream = w.stream
             ORDER BY x.started_at DESC LIMIT 1
         ) r ON true",
    ),
];

/// What the views of this release, made for `tz` over the tables of `schema`, are recognised
/// by: kept as the comment of schema `bi`, so a start-up that finds it there changes nothing
/// (and needs no DDL rights).
fn fingerprint(tz: Tz, schema: &str) -> String {
    let zone = tz.name().replace('\'', "");
    let text = VIEWS.iter().flat_map(|(name, sql)| [*name, *sql]).collect::<Vec<_>>().join("\0");
    let hash = crate::hash::fnv1a(text.bytes().chain([0]).chain(zone.bytes()).chain([0]).chain(schema.bytes()));
    format!("wolkvox-etl KPI views {hash:016x} ({zone}, tables in {schema})")
}

impl Db {
    /// Whether schema `bi` holds this release's views for `tz` (always true on SQLite, which gets none).
    pub async fn bi_views_current(&self, tz: Tz) -> Result<bool, StoreError> {
        let Db::Postgres(pool) = self else {
            return Ok(true);
        };
        let (schema, comment): (String, Option<String>) = sqlx::query_as(
            "SELECT current_setting('search_path'), obj_description(to_regnamespace('bi'), 'pg_namespace')",
        )
        .fetch_one(pool)
        .await?;
        Ok(comment.as_deref() == Some(fingerprint(tz, &schema).as_str()))
    }

    /// Creates the schema `bi` and its views (PostgreSQL; SQLite has no schemas and gets none).
    pub async fn ensure_bi_views(&self, tz: Tz) -> Result<(), StoreError> {
        let Db::Postgres(pool) = self else {
            return Ok(());
        };
        for api in INPUTS {
            if let Some(report) = catalog::find(api) {
                super::schema::ensure_table(self, report).await?;
            }
        }
        let mut tx = pool.begin().await?;
        let schema: String = sqlx::query_scalar("SELECT current_setting('search_path')").fetch_one(&mut *tx).await?;
        sqlx::query("CREATE SCHEMA IF NOT EXISTS bi").execute(&mut *tx).await?;
        for (name, _) in VIEWS.iter().rev() {
            // `name` is one of VIEWS' compiled-in names.
            sqlx::query(sql::built(format!("DROP VIEW IF EXISTS bi.{name}"))).execute(&mut *tx).await?;
        }
        let zone = tz.name().replace('\'', "");
        for (name, sql) in VIEWS {
            let body = sql.replace("{tz}", &zone);
            // VIEWS' compiled-in text, with a zone name from the compiled-in tz database, quotes removed.
            sqlx::query(sql::built(format!("CREATE VIEW bi.{name} AS {body}"))).execute(&mut *tx).await?;
        }
        let comment = fingerprint(tz, &schema).replace('\'', "");
        // A literal whose quotes were removed above, so it cannot end early: the zone name and the
        // search_path the server itself reported.
        sqlx::query(sql::built(format!("COMMENT ON SCHEMA bi IS '{comment}'"))).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
