//! Typed columns against values written by hand, end to end: the simulator serves a report over
//! HTTP, the real pipeline stores it, and each test reads chosen columns back and compares them
//! with literals derived by hand from the raw strings (`"00:50:10"` → 3010 seconds, a Bogotá
//! wall-clock time → the UTC instant five hours later, `"-"` → NULL).
//!
//! No expectation here is computed with the crate's own flattening, typing or schema code: that
//! is what the other suites do, and it cannot catch a rule that is wrong in both places. The
//! simulator has no way to serve a chosen row, so the data is its deterministic output for a
//! pinned seed, density, zone and clock. The tests also check the raw strings their literals were
//! derived from, so a change in the simulator's data shows up as that, not as a typing bug.
//!
//! Values are read back as text in one form on both backends (see [`Read`]).

use serde_json::{json, Value};
use wolkvox_etl::simulator::SimulatorConfig;
use wolkvox_etl::store::runs::RunStatus;
use wolkvox_etl::store::{Backend, Db};
use wolkvox_etl::sync::Range;
use wolkvox_etl::wolkvox::catalog;

use crate::on_both_backends;
use crate::support::*;

/// The simulator's data, pinned: the literals below were derived from this seed, density, zone
/// and the helpers' fixed clock (2026-11-20 10:00 in Bogotá).
fn pinned() -> Options {
    Options {
        sim: SimulatorConfig {
            seed: 42,
            rows_per_hour: 120,
            timezone: chrono_tz::America::Bogota,
            latency: std::time::Duration::from_millis(1),
            ..SimulatorConfig::default()
        },
        env: vec![("WOLKVOX_ETL__WOLKVOX__TIMEZONE", "America/Bogota".into())],
        ..Options::default()
    }
}

/// A fresh app and database with `api` synced over `[from, to)`, local times.
async fn synced(backend: Backend, api: &str, from: &str, to: &str) -> TestApp {
    let t = spawn_app(backend, pinned()).await;
    t.db().migrate(&[catalog::find(api).unwrap()]).await.unwrap();
    let job = t.app.job(api).unwrap();
    let outcome = t.sync_job(&job, Range::Explicit { from: local(from), to: Some(local(to)) }).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{api}: {:?}", outcome.error);
    assert_eq!(outcome.counts.rows_rejected, 0, "{api}");
    t
}

/// How a column is read back, as text in one form on both backends (also `oracles.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Read {
    /// As stored.
    Text,
    /// An integer or decimal in its shortest form: `65`, `16.27`.
    Number,
    /// `true` or `false`.
    Flag,
    /// The UTC instant, `2026-11-19T13:01:42Z`.
    Instant,
    /// `2026-11-19`.
    Day,
    /// `23:00:00`.
    TimeOfDay,
}

use Read::*;

pub(crate) fn expr(backend: Backend, column: &str, read: Read) -> String {
    let c = format!("\"{column}\"");
    match (read, backend) {
        (Read::Text, _) | (Read::Day | Read::TimeOfDay, Backend::Sqlite) => c,
        (Read::Number | Read::TimeOfDay, Backend::Postgres) => format!("{c}::text"),
        (Read::Number, Backend::Sqlite) => format!("CAST({c} AS TEXT)"),
        (Read::Flag, _) => format!("CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"),
        (Read::Instant, Backend::Postgres) => {
            format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
        }
        (Read::Instant, Backend::Sqlite) => format!("strftime('%Y-%m-%dT%H:%M:%SZ', {c})"),
        (Read::Day, Backend::Postgres) => format!("to_char({c}, 'YYYY-MM-DD')"),
    }
}

/// Every row of `table` matching `filter` (SQL), as the `columns` read as text, sorted.
async fn read_rows(t: &TestApp, table: &str, filter: &str, columns: &[(&str, Read)]) -> Vec<Vec<Option<String>>> {
    let backend = t.test_db.backend;
    let list: Vec<String> = columns.iter().map(|(c, read)| expr(backend, c, *read)).collect();
    let sql = format!("SELECT {} FROM \"{table}\" WHERE {filter}", list.join(", "));
    let mut rows: Vec<Vec<Option<String>>> = match t.db() {
        Db::Postgres(pool) => {
            use sqlx::Row;
            let rows = sqlx::query(wolkvox_etl::store::sql::built(&sql))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| (0..columns.len()).map(|i| r.get(i)).collect()).collect()
        }
        Db::Sqlite(pool) => {
            use sqlx::Row;
            let rows = sqlx::query(wolkvox_etl::store::sql::built(&sql))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| (0..columns.len()).map(|i| r.get(i)).collect()).collect()
        }
    };
    rows.sort();
    rows
}

/// The `raw` column of every row of `table` matching `filter`, parsed.
async fn read_raw(t: &TestApp, table: &str, filter: &str) -> Vec<Value> {
    let raws: Vec<String> = match t.db() {
        Db::Postgres(pool) => sqlx::query_scalar(wolkvox_etl::store::sql::built(format!(
            "SELECT raw::text FROM \"{table}\" WHERE {filter}"
        )))
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Sqlite(pool) => {
            sqlx::query_scalar(wolkvox_etl::store::sql::built(format!("SELECT raw FROM \"{table}\" WHERE {filter}")))
                .fetch_all(pool)
                .await
                .unwrap()
        }
    };
    raws.iter().map(|raw| serde_json::from_str(raw).unwrap()).collect()
}

/// Asserts that exactly one row of `table` matches `filter` and that, for each
/// `(column, sent, read, stored)`, the API sent `sent` (its `raw`) and the typed column holds
/// `stored` (`None`: NULL).
async fn assert_row(t: &TestApp, table: &str, filter: &str, expected: &[(&str, &str, Read, Option<&str>)]) {
    let raws = read_raw(t, table, filter).await;
    assert_eq!(raws.len(), 1, "{table} WHERE {filter}: exactly one row");
    let sent: Vec<(&str, Option<&str>)> = expected.iter().map(|(c, _, _, _)| (*c, raws[0][c].as_str())).collect();
    let want_sent: Vec<(&str, Option<&str>)> = expected.iter().map(|(c, s, _, _)| (*c, Some(*s))).collect();
    assert_eq!(sent, want_sent, "{table} WHERE {filter}: the simulator's data changed; re-derive the literals");
    let stored: Vec<(&str, Read, Option<&str>)> = expected.iter().map(|(c, _, r, v)| (*c, *r, *v)).collect();
    assert_stored(t, table, filter, &stored).await;
}

/// Asserts that exactly one row of `table` matches `filter` and that each `(column, read,
/// stored)` holds `stored` (`None`: NULL).
async fn assert_stored(t: &TestApp, table: &str, filter: &str, expected: &[(&str, Read, Option<&str>)]) {
    let columns: Vec<(&str, Read)> = expected.iter().map(|(c, r, _)| (*c, *r)).collect();
    let rows = read_rows(t, table, filter, &columns).await;
    assert_eq!(rows.len(), 1, "{table} WHERE {filter}: exactly one row");
    let got: Vec<(&str, Option<&str>)> = columns.iter().zip(&rows[0]).map(|((c, _), v)| (*c, v.as_deref())).collect();
    let want: Vec<(&str, Option<&str>)> = expected.iter().map(|(c, _, v)| (*c, *v)).collect();
    assert_eq!(got, want, "{table} WHERE {filter}");
}

/// A row of expected text values, none NULL.
fn texts(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

on_both_backends! {
    async fn a_duration_given_as_hh_mm_ss_is_stored_as_whole_seconds(backend) {
        let t = synced(backend, "agent_15", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "agent_15", "\"id_call\" = '6736.4628.1795093291.0'", &[
            ("talk", "00:00:55", Number, Some("55")),
            ("time_preview", "00:50:10", Number, Some("3010")),
            ("ready", "00:31:19", Number, Some("1879")),
            ("ring", "00:50:32", Number, Some("3032")),
            ("not_ready_acw", "00:21:16", Number, Some("1276")),
            ("auxiliary_times", "00:44:36", Number, Some("2676")),
            ("total_duration", "00:44:51", Number, Some("2691")),
        ]).await;
    }

    async fn a_duration_given_as_plain_seconds_is_stored_as_those_seconds(backend) {
        let t = synced(backend, "cdr_1", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_eq!(t.scalar("SELECT count(*) FROM cdr_1").await, 2);
        assert_row(&t, "cdr_1", "\"conn_id\" = '6736.4628.1795093260.0'", &[
            ("time_seg", "2294", Number, Some("2294")),
        ]).await;
        assert_row(&t, "cdr_1", "\"conn_id\" = '6736.4628.1795093405.0'", &[
            ("time_seg", "2475", Number, Some("2475")),
        ]).await;
    }

    async fn chat_1s_duration_is_read_in_both_of_the_forms_the_api_sends(backend) {
        let t = synced(backend, "chat_1", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "chat_1", "\"conn_id\" = '6736.4628.1795093409.0'", &[
            ("chat_duration", "3098", Number, Some("3098")),
            ("time_on_agent", "00:57:16", Number, Some("3436")),
            ("ASA", "00:57:22", Number, Some("3442")),
            ("agent_average_response_time", "00:35:59", Number, Some("2159")),
        ]).await;
        assert_row(&t, "chat_1", "\"conn_id\" = '6736.4628.1795093302.0'", &[
            ("chat_duration", "00:12:49", Number, Some("769")),
            ("ASA", "00:01:02", Number, Some("62")),
        ]).await;
    }

    async fn a_count_with_a_thousands_comma_is_stored_as_a_whole_number(backend) {
        let t = synced(backend, "cdr_7", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_eq!(t.scalar("SELECT count(*) FROM cdr_7").await, 2);
        assert_row(&t, "cdr_7", "\"type_nlp\" = 'sentiment'", &[
            ("chars_answer", "1,742", Number, Some("1742")),
            ("total_chars", "1,386", Number, Some("1386")),
            ("chars_send", "2693", Number, Some("2693")),
        ]).await;
        assert_row(&t, "cdr_7", "\"type_nlp\" = 'summary'", &[
            ("chars_answer", "3863", Number, Some("3863")),
            ("total_chars", "273", Number, Some("273")),
            ("chars_send", "530", Number, Some("530")),
        ]).await;
    }

    async fn a_decimal_is_stored_as_the_exact_number_sent(backend) {
        let t = synced(backend, "diagram_15", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "diagram_15", "\"connect_id\" = '6736.4628.1795093386.0'", &[
            ("nlp_credits", "1.879", Number, Some("1.879")),
            ("tts_credits", "1.12", Number, Some("1.12")),
            ("ivr_time", "00:16:33", Number, Some("993")),
            ("asr_time", "00:39:17", Number, Some("2357")),
        ]).await;
        // The trailing zero of "1.220" is not part of the number.
        assert_row(&t, "diagram_15", "\"connect_id\" = '6736.4628.1795093271.0'", &[
            ("nlp_credits", "1.220", Number, Some("1.22")),
            ("tts_credits", "16.27", Number, Some("16.27")),
        ]).await;
    }

    async fn a_percentage_is_stored_as_its_number_without_the_sign_or_the_thousands_comma(backend) {
        let t = synced(backend, "agent_15", "2026-11-19 23:55:00", "2026-11-20 00:00:00").await;
        assert_row(&t, "agent_15", "\"id_call\" = '6736.4628.1795150740.0'", &[
            ("preview_percent", "4,228.00 %", Number, Some("4228")),
        ]).await;
        assert_row(&t, "agent_15", "\"id_call\" = '6736.4628.1795150510.0'", &[
            ("preview_percent", "3,041.50 %", Number, Some("3041.5")),
        ]).await;
        let t = synced(backend, "agent_15", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "agent_15", "\"id_call\" = '6736.4628.1795093291.0'", &[
            ("preview_percent", "46.56 %", Number, Some("46.56")),
        ]).await;
        assert_row(&t, "agent_15", "\"id_call\" = '6736.4628.1795093400.0'", &[
            ("preview_percent", "13.76 %", Number, Some("13.76")),
        ]).await;
    }

    async fn a_yes_or_no_flag_is_stored_as_a_boolean(backend) {
        let t = synced(backend, "diagram_11", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "diagram_11", "\"conn_id\" = '6736.4628.1795093260.0'", &[
            ("go_to_agent", "yes", Flag, Some("true")),
        ]).await;
        assert_row(&t, "diagram_11", "\"conn_id\" = '6736.4628.1795093418.0'", &[
            ("go_to_agent", "no", Flag, Some("false")),
        ]).await;
    }

    async fn a_bogota_wall_clock_time_is_stored_as_the_utc_instant_five_hours_later(backend) {
        let t = synced(backend, "chat_1", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        let filter = "\"conn_id\" = '6736.4628.1795093302.0'";
        assert_row(&t, "chat_1", filter, &[
            ("date", "2026-11-19 08:01:42", Instant, Some("2026-11-19T13:01:42Z")),
            ("date_close", "2026-11-19 08:49:01", Instant, Some("2026-11-19T13:49:01Z")),
        ]).await;
        // SQLite has no timestamp type: the instant is kept as RFC 3339 text in UTC, which sorts.
        if backend == Backend::Sqlite {
            assert_row(&t, "chat_1", filter, &[
                ("date", "2026-11-19 08:01:42", Text, Some("2026-11-19T13:01:42+00:00")),
            ]).await;
        }
    }

    async fn diagram_1_2s_hour_stamp_is_stored_as_the_utc_instant_of_that_local_hour(backend) {
        // A dated aggregate is read in whole days: the 23:00 slot is the latest of the day with 41 calls.
        const LAST_41: &str = "\"calls\" = 41 AND \"date\" = (SELECT max(\"date\") FROM diagram_1_2 WHERE \"calls\" = 41)";
        let t = synced(backend, "diagram_1_2", "2026-11-19 23:00:00", "2026-11-20 00:00:00").await;
        assert_row(&t, "diagram_1_2", LAST_41, &[
            ("day", "2026-11-19-23", Instant, Some("2026-11-20T04:00:00Z")),
            ("ivr_minutes", "68.55", Number, Some("68.55")),
        ]).await;
        // The API sends `day` where the docs say `date`: the documented (key) column is filled
        // from its alias, and `raw` holds only what was sent.
        assert_stored(&t, "diagram_1_2", LAST_41, &[("date", Instant, Some("2026-11-20T04:00:00Z"))]).await;
        assert_eq!(read_raw(&t, "diagram_1_2", LAST_41).await[0].get("date"), None);
    }

    async fn a_calendar_date_is_stored_as_that_day_and_an_hour_slot_as_a_time_of_day(backend) {
        let t = synced(backend, "agent_8", "2026-11-19 23:00:00", "2026-11-20 00:00:00").await;
        assert_row(&t, "agent_8", "\"agent_id\" = '12500' AND \"calls\" = 10 AND \"hour\" = '23:00:00'", &[
            ("date", "2026-11-19", Day, Some("2026-11-19")),
            ("hour", "23:00", TimeOfDay, Some("23:00:00")),
            ("aht", "00:04:55", Number, Some("295")),
            ("login_time", "00:24:00", Number, Some("1440")),
            ("occupancy", "95.95 %", Number, Some("95.95")),
        ]).await;
    }

    async fn hour_slots_written_as_two_digits_or_one_are_stored_as_a_time_of_day(backend) {
        let t = synced(backend, "skill_4", "2026-11-19 00:00:00", "2026-11-20 00:00:00").await;
        assert_row(&t, "skill_4", "\"skill_id\" = '101' AND \"hour\" = '03:00:00'", &[
            ("hour", "03", TimeOfDay, Some("03:00:00")),
            ("inbound_calls", "3", Number, Some("3")),
            ("asa", "562", Number, Some("562")),
            ("ata", "151", Number, Some("151")),
            ("abandon", "58.38 %", Number, Some("58.38")),
        ]).await;
        // `att` is in the docs only: the API's example does not send it, so it stays NULL.
        assert_stored(&t, "skill_4", "\"skill_id\" = '101' AND \"hour\" = '03:00:00'", &[
            ("day", Day, Some("2026-11-19")),
            ("att", Number, None),
        ]).await;
        let t = synced(backend, "skill_5", "2026-11-19 00:00:00", "2026-11-20 00:00:00").await;
        assert_row(&t, "skill_5", "\"skill_id\" = '101' AND \"hour\" = '02:00:00'", &[
            ("hour", "2", TimeOfDay, Some("02:00:00")),
            ("agents_needed", "12", Number, Some("12")),
            ("aht", "00:06:27", Number, Some("387")),
            ("inbound_calls", "10", Number, Some("10")),
            ("inbound_calls_unique_customers", "14", Number, Some("14")),
        ]).await;
    }

    async fn free_text_and_ids_are_stored_exactly_as_sent(backend) {
        let t = synced(backend, "chat_1", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "chat_1", "\"conn_id\" = '6736.4628.1795093409.0'", &[
            ("conn_id", "6736.4628.1795093409.0", Text, Some("6736.4628.1795093409.0")),
            ("customer_name", "Maria GOMEZ", Text, Some("Maria GOMEZ")),
            ("customer_email", "cliente2919@example.com", Text, Some("cliente2919@example.com")),
            ("customer_phone", "570718030152", Text, Some("570718030152")),
            ("customer_id", "7152", Text, Some("7152")),
            ("skill_id", "104", Text, Some("104")),
            ("comments", "comments 175", Text, Some("comments 175")),
            ("customer_chars", "3181", Number, Some("3181")),
            ("agent_anwers", "14", Number, Some("14")),
        ]).await;
    }

    async fn a_dash_or_an_empty_string_is_stored_as_null(backend) {
        // 09:45–09:58 on the 20th, with "now" at 10:00: most calls are not typified yet, so the
        // API sends their cod_act as "".
        let t = synced(backend, "cdr_1", "2026-11-20 09:45:00", "2026-11-20 09:58:00").await;
        assert_row(&t, "cdr_1", "\"conn_id\" = '6736.4628.1795186631.0'", &[
            ("cod_act", "", Text, None),
            ("description_cod_act", "", Text, None),
            ("cod_act_2", "PAGO_TOTAL", Text, Some("PAGO_TOTAL")),
            ("destiny", "573505164702", Text, Some("573505164702")),
        ]).await;
        assert_row(&t, "cdr_1", "\"conn_id\" = '6736.4628.1795186435.0'", &[
            ("comment", "-", Text, None),
            ("destiny", "-", Text, None),
            ("cod_act", "VOLVER_A_LLAMAR", Text, Some("VOLVER_A_LLAMAR")),
            ("cost", "3.32", Number, Some("3.32")),
        ]).await;
        let t = synced(backend, "chat_1", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "chat_1", "\"conn_id\" = '6736.4628.1795093302.0'", &[
            ("customer_name", "-", Text, None),
        ]).await;
    }

    async fn a_dash_in_place_of_a_datetime_is_stored_as_null(backend) {
        let t = synced(backend, "cdr_10", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        assert_row(&t, "cdr_10", "\"agent_id\" = '12528'", &[
            ("date_ini", "2026-11-19 08:03:26", Instant, Some("2026-11-19T13:03:26Z")),
            ("date_end", "-", Instant, None),
            ("time", "00:00:52", Number, Some("52")),
            ("hung_up", "customer", Text, Some("customer")),
        ]).await;
    }

    async fn a_window_aggregate_row_is_typed_field_by_field_and_keyed_on_its_day(backend) {
        let t = synced(backend, "agent_1", "2026-11-19 00:00:00", "2026-11-20 00:00:00").await;
        assert_eq!(t.scalar("SELECT count(*) FROM agent_1").await, 6);
        let filter = "\"agent_id\" = '12500'";
        assert_row(&t, "agent_1", filter, &[
            ("agent_id", "12500", Text, Some("12500")),
            ("agent_dni", "98570460", Text, Some("98570460")),
            ("agent_name", "SERGIO FLOREZ", Text, Some("SERGIO FLOREZ")),
            ("calls", "189", Number, Some("189")),
            ("inbound", "198", Number, Some("198")),
            ("outbound", "175", Number, Some("175")),
            ("internal", "178", Number, Some("178")),
            ("ready_time", "10:14:11", Number, Some("36851")),
            ("inbound_time", "10:48:18", Number, Some("38898")),
            ("outbound_time", "11:12:06", Number, Some("40326")),
            ("acw_time", "11:06:26", Number, Some("39986")),
            ("ring_time", "11:29:07", Number, Some("41347")),
            ("login_time", "10:59:25", Number, Some("39565")),
            ("aht", "00:05:34", Number, Some("334")),
            ("occupancy", "15.51 %", Number, Some("15.51")),
            ("aux_time", "10:48:29", Number, Some("38909")),
            ("hits", "192", Number, Some("192")),
            ("rpc", "183", Number, Some("183")),
            ("aht_outbund", "00:04:54", Number, Some("294")),
            ("aht_inbound", "00:05:09", Number, Some("309")),
            ("login", "2026-11-19 00:07:47", Instant, Some("2026-11-19T05:07:47Z")),
            // Late in the local evening is already the next day in UTC.
            ("logout", "2026-11-19 23:51:49", Instant, Some("2026-11-20T04:51:49Z")),
        ]).await;
        // The day is the queried local day, not sent by the API.
        assert_stored(&t, "agent_1", filter, &[("day", Day, Some("2026-11-19"))]).await;
        assert_eq!(read_raw(&t, "agent_1", filter).await[0].get("day"), None);
    }

    async fn agent_5_becomes_one_typed_row_per_agent_and_hour_with_the_agents_fields(backend) {
        let t = synced(backend, "agent_5", "2026-11-19 00:00:00", "2026-11-20 00:00:00").await;
        // Six agents, with 24, 24, 24, 23, 23 and 24 busy hours.
        assert_eq!(t.scalar("SELECT count(*) FROM agent_5").await, 142);
        assert_eq!(t.scalar("SELECT count(*) FROM agent_5 WHERE \"agent_id\" = '12521'").await, 23);
        let columns = [
            ("day", Day),
            ("agent_id", Text),
            ("agent_name", Text),
            ("hour", TimeOfDay),
            ("calls", Number),
            ("inbound", Number),
            ("outbound", Number),
            ("internal", Number),
            ("ready_time", Number),
            ("inbound_time", Number),
            ("outbound_time", Number),
            ("acw_time", Number),
            ("ring_time", Number),
            ("login_time", Number),
            ("aht", Number),
            ("occupancy", Number),
            ("aux_time", Number),
        ];
        let filter = "\"agent_id\" = '12500' AND \"hour\" IN ('08:00:00', '20:00:00')";
        assert_eq!(read_rows(&t, "agent_5", filter, &columns).await, vec![
            // {"hour":"08:00","calls":"6","inbound":"3","outbound":"4","internal":"3",
            //  "ready_time":"00:11:00","inbound_time":"00:06:45","outbound_time":"00:04:46",
            //  "acw_time":"00:09:20","ring_time":"00:14:12","login_time":"00:14:49",
            //  "aht":"00:05:25","occupancy":"58.38 %","aux_time":"00:09:50"}
            texts(&["2026-11-19", "12500", "SERGIO FLOREZ", "08:00:00", "6", "3", "4", "3", "660", "405", "286",
                "560", "852", "889", "325", "58.38", "590"]),
            // {"hour":"20:00","calls":"0","inbound":"0","outbound":"1","internal":"1",
            //  "ready_time":"00:04:04","inbound_time":"00:07:21","outbound_time":"00:03:01",
            //  "acw_time":"00:09:40","ring_time":"00:07:43","login_time":"00:03:02",
            //  "aht":"00:02:32","occupancy":"79.19 %","aux_time":"00:00:35"}: a zero is 0, not NULL.
            texts(&["2026-11-19", "12500", "SERGIO FLOREZ", "20:00:00", "0", "0", "1", "1", "244", "441", "181",
                "580", "463", "182", "152", "79.19", "35"]),
        ]);
        let raw = read_raw(&t, "agent_5", "\"agent_id\" = '12500' AND \"hour\" = '08:00:00'").await;
        assert_eq!(raw, vec![json!({
            "agent_name": "SERGIO FLOREZ", "agent_id": "12500", "hour": "08:00", "calls": "6", "inbound": "3",
            "outbound": "4", "internal": "3", "ready_time": "00:11:00", "inbound_time": "00:06:45",
            "outbound_time": "00:04:46", "acw_time": "00:09:20", "ring_time": "00:14:12",
            "login_time": "00:14:49", "aht": "00:05:25", "occupancy": "58.38 %", "aux_time": "00:09:50"
        })]);
    }

    async fn agent_11_becomes_one_typed_row_per_skill_and_agent_with_the_skills_name(backend) {
        let t = synced(backend, "agent_11", "2026-11-19 00:00:00", "2026-11-20 00:00:00").await;
        let keys = read_rows(&t, "agent_11", "1 = 1", &[("day", Day), ("skill_name", Text), ("agent_id", Text)]).await;
        let mut want = Vec::new();
        for skill in ["Cobranza", "Retencion", "Soporte", "Ventas"] {
            for agent in ["12500", "12507", "12514"] {
                want.push(texts(&["2026-11-19", skill, agent]));
            }
        }
        assert_eq!(keys, want);
        assert_row(&t, "agent_11", "\"skill_name\" = 'Cobranza' AND \"agent_id\" = '12507'", &[
            ("agent_name", "CAMILO FLOREZ", Text, Some("CAMILO FLOREZ")),
            ("agent_dni", "98571473", Text, Some("98571473")),
            ("calls", "90", Number, Some("90")),
            ("inbound", "96", Number, Some("96")),
            ("outbound", "87", Number, Some("87")),
            ("internal", "98", Number, Some("98")),
            ("ready_time", "04:34:07", Number, Some("16447")),
            ("inbound_time", "05:05:53", Number, Some("18353")),
            ("outbound_time", "05:28:57", Number, Some("19737")),
            ("acw_time", "05:09:22", Number, Some("18562")),
            ("ring_time", "04:34:07", Number, Some("16447")),
            ("login_time", "05:07:09", Number, Some("18429")),
            ("aht", "00:04:42", Number, Some("282")),
            ("occupancy", "17.64 %", Number, Some("17.64")),
            ("aux_time", "04:21:47", Number, Some("15707")),
            ("hits", "80", Number, Some("80")),
            ("rpc", "84", Number, Some("84")),
            ("aht_outbound", "00:04:38", Number, Some("278")),
            ("aht_inbound", "00:04:44", Number, Some("284")),
            ("skill_name", "Cobranza", Text, Some("Cobranza")),
        ]).await;
    }

    async fn chat_2_becomes_one_typed_row_per_message_with_the_conversations_fields(backend) {
        let t = synced(backend, "chat_2", "2026-11-19 08:00:00", "2026-11-19 08:05:00").await;
        // Two conversations of four messages each.
        assert_eq!(t.scalar("SELECT count(*) FROM chat_2").await, 8);
        let columns = [
            ("date", Instant),
            ("from", Text),
            ("conn_id", Text),
            ("agent_name", Text),
            ("customer_name", Text),
            ("from_name", Text),
            ("to_name", Text),
            ("message", Text),
            ("channel", Text),
            ("customer_id", Text),
            ("customer_phone", Text),
        ];
        let conn = "6736.4628.1795093393.0";
        let rows = read_rows(&t, "chat_2", &format!("\"conn_id\" = '{conn}'"), &columns).await;
        let parent = [conn, "DIANA PATINO", "Pedro FLOREZ"];
        let customer = ["voice", "9636", "573453366145"];
        let message = |date: &str, from: &str, from_name: &str, to_name: &str, text: &str| {
            let mut row = texts(&[date, from]);
            row.extend(texts(&parent));
            row.extend(texts(&[from_name, to_name, text]));
            row.extend(texts(&customer));
            row
        };
        assert_eq!(rows, vec![
            message("2026-11-19T13:03:13Z", "customer", "Juan PATINO", "DIANA PATINO", "mensaje 0 de 0"),
            message("2026-11-19T13:03:30Z", "agent", "DIANA PATINO", "Juan PATINO", "mensaje 1 de 0"),
            message("2026-11-19T13:03:47Z", "customer", "Juan PATINO", "DIANA PATINO", "mensaje 2 de 0"),
            message("2026-11-19T13:04:04Z", "agent", "DIANA PATINO", "Juan PATINO", "mensaje 3 de 0"),
        ]);
        let raw = read_raw(&t, "chat_2", &format!("\"conn_id\" = '{conn}' AND \"message\" = 'mensaje 1 de 0'")).await;
        assert_eq!(raw, vec![json!({
            "conn_id": conn, "agent_name": "DIANA PATINO", "customer_name": "Pedro FLOREZ", "channel": "voice",
            "customer_id": "9636", "customer_phone": "573453366145", "date": "2026-11-19 08:03:30",
            "from": "agent", "from_name": "DIANA PATINO", "message": "mensaje 1 de 0", "to_name": "Juan PATINO"
        })]);
    }

    async fn cdr_4s_bucket_object_becomes_one_typed_row_per_bucket(backend) {
        let t = synced(backend, "cdr_4", "2026-11-19 00:00:00", "2026-11-20 00:00:00").await;
        let columns = [("bucket", Text), ("day", Day), ("calls", Number), ("minutes", Number), ("cost", Number),
            ("percentage", Number)];
        assert_eq!(read_rows(&t, "cdr_4", "1 = 1", &columns).await, vec![
            // "0_5_seg": {"calls":"202","minutes":"375.80","cost":"327.98","percentage":"82.55 %"}
            texts(&["0_5_seg", "2026-11-19", "202", "375.8", "327.98", "82.55"]),
            // "21_60_seg": {"calls":"243","minutes":"360.38","cost":"411.03","percentage":"52.21 %"}
            texts(&["21_60_seg", "2026-11-19", "243", "360.38", "411.03", "52.21"]),
            // "61_120_seg": {"calls":"219","minutes":"354.37","cost":"346.08","percentage":"28.10 %"}
            texts(&["61_120_seg", "2026-11-19", "219", "354.37", "346.08", "28.1"]),
            // "6_20_seg": {"calls":"168","minutes":"334.56","cost":"315.95","percentage":"37.63 %"}
            texts(&["6_20_seg", "2026-11-19", "168", "334.56", "315.95", "37.63"]),
            // "greater_than_121": {"calls":"223","minutes":"378.08","cost":"360.75","percentage":"29.41 %"}
            texts(&["greater_than_121", "2026-11-19", "223", "378.08", "360.75", "29.41"]),
        ]);
        let raw = read_raw(&t, "cdr_4", "\"bucket\" = '0_5_seg'").await;
        assert_eq!(raw, vec![json!({
            "bucket": "0_5_seg", "calls": "202", "minutes": "375.80", "cost": "327.98", "percentage": "82.55 %"
        })]);
    }
}
