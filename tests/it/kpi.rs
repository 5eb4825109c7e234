//! The KPI views of the schema `bi` (PostgreSQL), each checked against a small fixture whose
//! figures are worked out by hand here, not just "returns rows".

use wolkvox_etl::store::Backend;
use wolkvox_etl::sync::Range;

use crate::support::*;

async fn exec(t: &TestApp, sql: &str) {
    let wolkvox_etl::store::Db::Postgres(pool) = t.db() else { unreachable!() };
    sqlx::raw_sql(wolkvox_etl::store::sql::built(sql)).execute(pool).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn rows(t: &TestApp, sql: &str) -> Vec<Vec<String>> {
    let wolkvox_etl::store::Db::Postgres(pool) = t.db() else { unreachable!() };
    let found =
        sqlx::query(wolkvox_etl::store::sql::built(sql)).fetch_all(pool).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
    found
        .iter()
        .map(|row| {
            (0..sqlx::Row::len(row))
                .map(|i| sqlx::Row::try_get::<Option<String>, _>(row, i).unwrap().unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

/// Report rows need `raw`, its hash and `synced_at`; the fixture's values are in the columns.
const META: &str = "'{}'::jsonb, 0, now()";

#[tokio::test]
async fn agent_day_computes_aht_and_occupancy_and_names_each_agent_as_on_that_day() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    exec(
        &t,
        &format!(
        "INSERT INTO dim_agent (account, agent_id, agent_name, valid_from, valid_to, is_current, attr_hash, raw) VALUES
           ('default', '12500', 'ANA GOMEZ', 'epoch', '2026-11-19 17:00:00+00', false, 1, '{{}}'),
           ('default', '12500', 'ANA GOMEZ DE LA TORRE', '2026-11-19 17:00:00+00', NULL, true, 2, '{{}}');
         INSERT INTO agent_1 (account, day, agent_id, agent_name, inbound, outbound, inbound_time, outbound_time,
                              acw_time, ready_time, login_time, raw, raw_hash, synced_at) VALUES
           ('default', '2026-11-18', '12500', 'AS SENT', 10, 5, 1200, 600, 300, 900, 28800, {META}),
           ('default', '2026-11-19', '12500', 'AS SENT', 4, 0, 400, 0, 80, 720, 7200, {META}),
           ('default', '2026-11-20', '12500', 'AS SENT', 0, 0, 0, 0, 0, 3600, 3600, {META});"
    ),
    )
    .await;
    let got = rows(
        &t,
        "SELECT day::text, agent_name, calls::text, handle_seconds::text, aht_seconds::text,
                              occupancy_percent::text FROM bi.agent_day ORDER BY day",
    )
    .await;
    // 18th: (1200 + 600 + 300) s over 10 + 5 calls = 140.0 s; occupancy 2100 handling of
    // 2100 + 900 ready = 70.0 %. 19th, the rename's day: one row, with the name from that day
    // on; (400 + 80) / 4 = 120.0 s; 480 / (480 + 720) = 40.0 %. 20th: no calls, no AHT, 0 %.
    assert_eq!(
        got,
        [
            ["2026-11-18", "ANA GOMEZ", "15", "2100", "140.0", "70.0"],
            ["2026-11-19", "ANA GOMEZ DE LA TORRE", "4", "480", "120.0", "40.0"],
            ["2026-11-20", "ANA GOMEZ DE LA TORRE", "0", "0", "NULL", "0.0"],
        ]
    );
}

#[tokio::test]
async fn skill_hour_computes_answer_and_abandon_rates() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    exec(
        &t,
        &format!(
            "INSERT INTO dim_skill (account, skill_id, skill_name, valid_from, is_current, attr_hash, raw) VALUES
           ('default', '101', 'Ventas', 'epoch', true, 1, '{{}}');
         INSERT INTO skill_4 (account, day, hour, skill_id, inbound_calls, answer_calls, abandon_calls,
                              service_level_20seg, asa, raw, raw_hash, synced_at) VALUES
           ('default', '2026-11-18', '10:00', '101', 40, 36, 4, 85.5, 12, {META}),
           ('default', '2026-11-18', '11:00', '101', 0, 0, 0, NULL, NULL, {META});"
        ),
    )
    .await;
    let got = rows(
        &t,
        "SELECT hour::text, skill_name, offered::text, answered::text, answer_rate_percent::text,
                              abandon_rate_percent::text, service_level_20s_percent::text, asa_seconds::text
                       FROM bi.skill_hour ORDER BY hour",
    )
    .await;
    // 36 of 40 answered = 90.0 %, 4 of 40 abandoned = 10.0 %; an hour without calls has no rates.
    assert_eq!(
        got,
        [
            ["10:00:00", "Ventas", "40", "36", "90.0", "10.0", "85.5", "12"],
            ["11:00:00", "Ventas", "0", "0", "NULL", "NULL", "NULL", "NULL"],
        ]
    );
}

#[tokio::test]
async fn outcomes_per_code_give_hits_rpc_and_effectiveness_for_calls_and_chats() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    exec(
        &t,
        &format!(
            "INSERT INTO dim_activity_code (account, type_code, cod_act, description_cod_act, hit, rpc, valid_from,
                                        is_current, attr_hash, raw) VALUES
           ('default', 'cod_act1', 'VENTA', 'Venta realizada', 'yes', 'yes', 'epoch', true, 1, '{{}}'),
           ('default', 'cod_act1', 'NO_INTERESADO', 'Cliente no interesado', 'no', 'yes', 'epoch', true, 1, '{{}}'),
           ('default', 'cod_act1', 'TIMEOUTCHAT', 'timeoutchat', 'no', 'no', 'epoch', true, 1, '{{}}');
         -- 2026-11-18 in Bogotá (UTC-5): three calls, one of them not typified.
         INSERT INTO cdr_1 (account, conn_id, agent_id, date, cod_act, raw, raw_hash, synced_at) VALUES
           ('default', 'c1', '12500', '2026-11-18 15:00:00+00', 'VENTA', {META}),
           ('default', 'c2', '12500', '2026-11-18 16:00:00+00', 'NO_INTERESADO', {META}),
           ('default', 'c3', '12500', '2026-11-18 17:00:00+00', NULL, {META});
         INSERT INTO chat_1 (account, conn_id, date, channel, cod_act, chat_duration, raw, raw_hash, synced_at) VALUES
           ('default', 'h1', '2026-11-18 15:00:00+00', 'whatsapp', 'VENTA', 100, {META}),
           ('default', 'h2', '2026-11-18 16:00:00+00', 'whatsapp', 'VENTA', 200, {META}),
           ('default', 'h3', '2026-11-19 04:30:00+00', 'webchat', 'TIMEOUTCHAT', 60, {META});"
        ),
    )
    .await;
    let got = rows(
        &t,
        "SELECT day::text, medium, interactions::text, typified::text, hits::text, rpc::text,
                              effectiveness_percent::text FROM bi.effectiveness_day ORDER BY medium",
    )
    .await;
    // Calls: 3, 2 typified, 1 hit (VENTA), 2 RPC: 1 / 2 = 50.0 %. Chats (04:30Z on the 19th is
    // still the 18th in Bogotá): 3, all typified, 2 hits, 2 RPC: 2 / 3 = 66.7 %.
    assert_eq!(
        got,
        [["2026-11-18", "call", "3", "2", "1", "2", "50.0"], ["2026-11-18", "chat", "3", "3", "2", "2", "66.7"]]
    );
    let codes = rows(
        &t,
        "SELECT medium, coalesce(cod_act, '-'), description, hit::text, interactions::text
                         FROM bi.code_outcome ORDER BY medium, cod_act NULLS FIRST",
    )
    .await;
    assert_eq!(
        codes,
        [
            ["call", "-", "NULL", "false", "1"],
            ["call", "NO_INTERESADO", "Cliente no interesado", "false", "1"],
            ["call", "VENTA", "Venta realizada", "true", "1"],
            ["chat", "TIMEOUTCHAT", "timeoutchat", "false", "1"],
            ["chat", "VENTA", "Venta realizada", "true", "2"],
        ]
    );
    let channels = rows(
        &t,
        "SELECT kind, name, chats::text, avg_duration_seconds::text FROM bi.chat_channel_day
                            WHERE kind = 'channel' ORDER BY name",
    )
    .await;
    // WhatsApp: (100 + 200) / 2 = 150.0 s.
    assert_eq!(channels, [["channel", "webchat", "1", "60.0"], ["channel", "whatsapp", "2", "150.0"]]);
}

#[tokio::test]
async fn pipeline_health_shows_each_streams_lag_and_last_run() {
    let t = spawn_app(Backend::Postgres, Options::default()).await;
    assert_eq!(t.sync(Range::Scheduled).await.status, wolkvox_etl::store::runs::RunStatus::Succeeded);
    // The view's lag is the database's now() minus the watermark, which the run put at the
    // test's fixed "now" minus the settle delay: known to the second, give or take the query.
    let watermark = test_now() - chrono::Duration::seconds(120);
    let before = (chrono::Utc::now() - watermark).num_seconds();
    let got = rows(&t, "SELECT report, last_status, lag_seconds::bigint::text FROM bi.pipeline_health").await;
    let after = (chrono::Utc::now() - watermark).num_seconds();
    assert_eq!((got[0][0].as_str(), got[0][1].as_str()), ("chat_14", "succeeded"));
    let lag: i64 = got[0][2].parse().unwrap();
    assert!((before - 1..=after + 1).contains(&lag), "lag {lag} s, expected {before}..={after}");
}
