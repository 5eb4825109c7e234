//! Independent oracles for typing: answers written out by hand, and the real samples quoted in
//! `shared/wolkvox-api.md` §7, each with the typed values worked out by hand from its strings.
//!
//! [`HostileApi`] serves each answer byte for byte over HTTP, the real binary syncs it
//! (`sync --report R --from DAY --to DAY+1`), and every typed column is read back from the
//! database, on both backends, and compared with the literal written next to the answer. No
//! expectation is computed by the crate (no catalogue, no flattening, no value parser) and no
//! answer comes from the simulator, so a field the catalogue types wrongly cannot be served in a
//! matching wrong format here: `"01:45:23"` is 6323 seconds whatever the catalogue says.
//!
//! Every grain is covered (events, dated, window and interval aggregates, the nested agent_5,
//! agent_11 and chat_2, cdr_4's buckets) and every value format of §5: durations past 24 h,
//! plain seconds, percentages with a thousands comma, `"0 %"`, `"-"`, `""` and `" "`, datetimes
//! with and without seconds, a bare date where a datetime is expected, `YYYY-MM-DD-HH`, hours as
//! `"13:00"`, `"09"`, `"9"` and `"8"`, counts and decimals with thousands commas, `yes`/`no`.
//!
//! Instants are read back in UTC: the operation is in Bogotá (UTC−5, no DST), so a wall-clock
//! time is stored five hours later.

use wolkvox_etl::store::{Backend, Db};

use crate::on_both_backends;
use crate::support::hostile::{binary, empty, run, Asked, HostileApi};
use crate::support::text;
use crate::support::TestDb;

/// One report's answer for one local day, and what its table must hold afterwards.
struct Case {
    report: &'static str,
    /// The local day synced, `YYYY-MM-DD`; the answer is served for that day's requests only.
    day: &'static str,
    /// The envelope's `code`, as the report's Postman example writes it: `200` or `"200"`.
    code: &'static str,
    /// The envelope's `data`, exactly as sent.
    data: &'static str,
    /// How many rows the table holds after the sync.
    rows: i64,
    /// Rows picked by an SQL filter, each with its columns' expected values.
    expect: &'static [Expect],
}

/// One stored row, picked by `filter` (exactly one must match), and its expected columns:
/// `(column, how it is read, value)`, `None` for SQL NULL.
struct Expect {
    filter: &'static str,
    columns: &'static [(&'static str, Read, Option<&'static str>)],
}

use crate::typed_values::{expr, Read, Read::*};

/// The `columns` of every row of `table` matching `filter`, as text.
async fn read(
    db: &Db,
    backend: Backend,
    table: &str,
    filter: &str,
    columns: &[(&str, Read)],
) -> Vec<Vec<Option<String>>> {
    let list: Vec<String> = columns.iter().map(|(c, r)| expr(backend, c, *r)).collect();
    let sql = format!("SELECT {} FROM \"{table}\" WHERE {filter}", list.join(", "));
    use sqlx::Row;
    match db {
        Db::Postgres(pool) => {
            let rows = sqlx::query(wolkvox_etl::store::sql::built(&sql))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| (0..columns.len()).map(|i| r.get(i)).collect()).collect()
        }
        Db::Sqlite(pool) => {
            let rows = sqlx::query(wolkvox_etl::store::sql::built(&sql))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|r| (0..columns.len()).map(|i| r.get(i)).collect()).collect()
        }
    }
}

/// The day's `date_ini` prefix as the API is asked it: `2026-11-19` → `20261119`.
fn asked_day(day: &str) -> String {
    day.replace('-', "")
}

/// The day after `day` (`YYYY-MM-DD`), for `--to`.
fn next_day(day: &str) -> String {
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    (d + chrono::Duration::days(1)).to_string()
}

/// Serves every case's answer to its own report and day (HTTP 404, the API's "no data", to
/// anything else), syncs each case with the real binary, and checks its table.
async fn check(backend: Backend, cases: &'static [Case]) {
    for case in cases {
        serde_json::from_str::<serde_json::Value>(case.data).unwrap_or_else(|e| panic!("{}: {e}", case.report));
    }
    let db = TestDb::new(backend).await;
    let api = HostileApi::start(move |asked: &Asked| {
        let Some(case) = cases.iter().find(|c| c.report == asked.api()) else {
            return empty();
        };
        if !asked.date_ini().starts_with(&asked_day(case.day)) {
            return empty();
        }
        // `msg` counts the top-level elements of `data` (rows, parents or buckets).
        let data: serde_json::Value = serde_json::from_str(case.data).unwrap_or_default();
        let n = data.as_array().map(Vec::len).or_else(|| data.as_object().map(|o| o.len())).unwrap_or(0);
        let body =
            format!(r#"{{"code":{},"error":null,"msg":"{n} records were found","data":{}}}"#, case.code, case.data);
        (200, body)
    })
    .await;
    for case in cases {
        let to = next_day(case.day);
        let args = ["sync", "--report", case.report, "--from", case.day, "--to", &to];
        let out = run(binary(&api.base_url, &db.url, "warn", &args)).await;
        assert!(out.status.success(), "{}: {}", case.report, text(&out));
        let pool = db.db().await;
        let count = crate::support::scalar(&pool, &format!("SELECT count(*) FROM \"{}\"", case.report)).await;
        assert_eq!(count, case.rows, "{}: rows stored\n{}", case.report, text(&out));
        for expect in case.expect {
            let columns: Vec<(&str, Read)> = expect.columns.iter().map(|(c, r, _)| (*c, *r)).collect();
            let rows = read(&pool, backend, case.report, expect.filter, &columns).await;
            assert_eq!(rows.len(), 1, "{} WHERE {}: exactly one row", case.report, expect.filter);
            let got: Vec<(&str, Option<&str>)> =
                columns.iter().zip(&rows[0]).map(|((c, _), v)| (*c, v.as_deref())).collect();
            let want: Vec<(&str, Option<&str>)> = expect.columns.iter().map(|(c, _, v)| (*c, *v)).collect();
            assert_eq!(got, want, "{} WHERE {}", case.report, expect.filter);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real samples of `wolkvox-api.md` §7, with a few rows written by hand beside them.

const REAL_SAMPLES: &[Case] = &[
    // §7.1: the agent_1 row "as agent_1 returns it in production", and a second agent written by
    // hand: no session ("-"), placeholders, a count with a thousands comma, durations past 24 h.
    Case {
        report: "agent_1",
        day: "2026-08-12",
        code: "200",
        data: r#"[
            {"agent_id":"12523","agent_dni":"98570460","agent_name":"SERGIO FLOREZ","calls":"2","inbound":"2","outbound":"0","internal":"0","ready_time":"00:55:47","inbound_time":"00:25:53","outbound_time":"00:00:00","acw_time":"00:03:41","ring_time":"00:00:00","login_time":"02:02:47","aht":"00:14:47","occupancy":"34.64 %","aux_time":"00:37:26","hits":"1","rpc":"1","aht_outbund":"00:00:00","aht_inbound":"00:14:47","login":"2026-08-12 08:02:08","logout":"2026-08-12 10:02:42"},
            {"agent_id":"12524","agent_dni":" ","agent_name":"","calls":"1,234","inbound":"1,200","outbound":"34","internal":"0","ready_time":"41:06:00","inbound_time":"100:00:01","outbound_time":"-","acw_time":"","ring_time":"00:00:00","login_time":"49:59:59","aht":"00:00:00","occupancy":"0 %","aux_time":"24:00:00","hits":"0","rpc":"0","aht_outbund":"00:00:00","aht_inbound":"00:00:00","login":"-","logout":"-"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"agent_id\" = '12523'",
                columns: &[
                    ("day", Day, Some("2026-08-12")),
                    ("agent_dni", Text, Some("98570460")),
                    ("agent_name", Text, Some("SERGIO FLOREZ")),
                    ("calls", Number, Some("2")),
                    ("inbound", Number, Some("2")),
                    ("outbound", Number, Some("0")),
                    ("internal", Number, Some("0")),
                    ("ready_time", Number, Some("3347")),
                    ("inbound_time", Number, Some("1553")),
                    ("outbound_time", Number, Some("0")),
                    ("acw_time", Number, Some("221")),
                    ("ring_time", Number, Some("0")),
                    ("login_time", Number, Some("7367")),
                    ("aht", Number, Some("887")),
                    ("occupancy", Number, Some("34.64")),
                    ("aux_time", Number, Some("2246")),
                    ("hits", Number, Some("1")),
                    ("rpc", Number, Some("1")),
                    ("aht_outbund", Number, Some("0")),
                    ("aht_inbound", Number, Some("887")),
                    ("login", Instant, Some("2026-08-12T13:02:08Z")),
                    ("logout", Instant, Some("2026-08-12T15:02:42Z")),
                ],
            },
            Expect {
                filter: "\"agent_id\" = '12524'",
                columns: &[
                    ("agent_dni", Text, None),
                    ("agent_name", Text, None),
                    ("calls", Number, Some("1234")),
                    ("inbound", Number, Some("1200")),
                    ("ready_time", Number, Some("147960")),
                    ("inbound_time", Number, Some("360001")),
                    ("outbound_time", Number, None),
                    ("acw_time", Number, None),
                    ("login_time", Number, Some("179999")),
                    ("occupancy", Number, Some("0")),
                    ("aux_time", Number, Some("86400")),
                    ("login", Instant, None),
                    ("logout", Instant, None),
                ],
            },
        ],
    },
    // §7.2: the agent_15 row quoted in full; the other two rows carry the example's other
    // percentages ("15,233.33 %", "490.00 %") with the rest written by hand. Newest first.
    Case {
        report: "agent_15",
        day: "2026-06-25",
        code: r#""200""#,
        data: r#"[
            {"id_call":"12462.0277.1782405000.44017","id_agent":"12462","agent_name":"COM-CAMILO PATINO","type_call":"outbound_ma","date_preview":"2026-06-25 11:30:11","time_preview":"00:00:02","ready":"00:00:05","talk":"00:03:10","not_ready_acw":"00:00:00","auxiliary_times":"00:00:00","ring":"00:00:12","total_duration":"00:03:29","preview_percent":"15,233.33 %"},
            {"id_call":"12462.0277.1782402643.44005","id_agent":"12462","agent_name":"COM-CAMILO PATINO","type_call":"outbound_ma","date_preview":"2026-06-25 10:50:54","time_preview":"00:00:34","ready":"00:01:06","talk":"00:00:03","not_ready_acw":"00:00:41","auxiliary_times":"00:00:00","ring":"00:00:08","total_duration":"00:01:58","preview_percent":"28.81 %"},
            {"id_call":"12775.0277.1782396120.43990","id_agent":"12775","agent_name":"ING-EMMANUEL PATERNINA","type_call":"outbound_ma","date_preview":"2026-06-25 09:02:00","time_preview":"00:00:10","ready":"00:00:49","talk":"00:12:00","not_ready_acw":"00:01:00","auxiliary_times":"00:05:00","ring":"00:00:15","total_duration":"00:19:14","preview_percent":"490.00 %"}
        ]"#,
        rows: 3,
        expect: &[
            Expect {
                filter: "\"id_call\" = '12462.0277.1782402643.44005'",
                columns: &[
                    ("id_agent", Text, Some("12462")),
                    ("agent_name", Text, Some("COM-CAMILO PATINO")),
                    ("type_call", Text, Some("outbound_ma")),
                    ("date_preview", Instant, Some("2026-06-25T15:50:54Z")),
                    ("time_preview", Number, Some("34")),
                    ("ready", Number, Some("66")),
                    ("talk", Number, Some("3")),
                    ("not_ready_acw", Number, Some("41")),
                    ("auxiliary_times", Number, Some("0")),
                    ("ring", Number, Some("8")),
                    ("total_duration", Number, Some("118")),
                    ("preview_percent", Number, Some("28.81")),
                ],
            },
            Expect {
                filter: "\"id_call\" = '12462.0277.1782405000.44017'",
                columns: &[
                    ("date_preview", Instant, Some("2026-06-25T16:30:11Z")),
                    ("talk", Number, Some("190")),
                    ("total_duration", Number, Some("209")),
                    ("preview_percent", Number, Some("15233.33")),
                ],
            },
            Expect {
                filter: "\"id_call\" = '12775.0277.1782396120.43990'",
                columns: &[
                    ("date_preview", Instant, Some("2026-06-25T14:02:00Z")),
                    ("auxiliary_times", Number, Some("300")),
                    ("total_duration", Number, Some("1154")),
                    ("preview_percent", Number, Some("490")),
                ],
            },
        ],
    },
    // §7.2: the agent_16 row as far as the notes quote it; the fields they elide are not sent,
    // and stay NULL.
    Case {
        report: "agent_16",
        day: "2026-06-25",
        code: r#""200""#,
        data: r#"[{"id_agent":"12775","agent_name":"ING-EMMANUEL PATERNINA","calls":"4","time_preview":"00:01:16","ready":"01:45:23","preview_percent":"1.13 %"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"id_agent\" = '12775'",
            columns: &[
                ("day", Day, Some("2026-06-25")),
                ("agent_name", Text, Some("ING-EMMANUEL PATERNINA")),
                ("calls", Number, Some("4")),
                ("time_preview", Number, Some("76")),
                ("ready", Number, Some("6323")),
                ("preview_percent", Number, Some("1.13")),
                ("talk", Number, None),
                ("total_duration", Number, None),
            ],
        }],
    },
    // §7.3: the diagram_15 row quoted in full; a second call of the same conversation carries the
    // example's other nlp_credits ("61.4") and a decimal with a thousands comma.
    Case {
        report: "diagram_15",
        day: "2026-01-18",
        code: r#""200""#,
        data: r#"[
            {"conversational_id":"conversations-voice-61083","connect_id":"6736.4628.1040.1768782812.1814","date":"2026-01-18 19:34:31","ivr_time":"00:01:41","nlp_credits":"2.887","asr_time":"00:00:24","tts_credits":"1856"},
            {"conversational_id":"conversations-voice-61083","connect_id":"6736.4628.1040.1768780000.1790","date":"2026-01-18 18:47:39","ivr_time":"00:12:05","nlp_credits":"61.4","asr_time":"00:03:00","tts_credits":"1,220.50"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"connect_id\" = '6736.4628.1040.1768782812.1814'",
                columns: &[
                    ("conversational_id", Text, Some("conversations-voice-61083")),
                    ("date", Instant, Some("2026-01-19T00:34:31Z")),
                    ("ivr_time", Number, Some("101")),
                    ("nlp_credits", Number, Some("2.887")),
                    ("asr_time", Number, Some("24")),
                    ("tts_credits", Number, Some("1856")),
                ],
            },
            Expect {
                filter: "\"connect_id\" = '6736.4628.1040.1768780000.1790'",
                columns: &[
                    ("date", Instant, Some("2026-01-18T23:47:39Z")),
                    ("ivr_time", Number, Some("725")),
                    ("nlp_credits", Number, Some("61.4")),
                    ("asr_time", Number, Some("180")),
                    ("tts_credits", Number, Some("1220.5")),
                ],
            },
        ],
    },
];

// ---------------------------------------------------------------------------------------------
// Event reports.

const EVENTS: &[Case] = &[
    Case {
        report: "chat_14",
        day: "2026-11-19",
        code: r#""200""#,
        data: r#"[{"source_url":"https://fb.me/ad/1","source_type":"ad","source_id":"120210000000000001","chat_id":"901","rp_id":"34","agent_id":"","media_type":"image","media_url":"-","date":"2026-11-19 08:01:42","cod_act":"VENTA"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"chat_id\" = '901'",
            columns: &[
                ("date", Instant, Some("2026-11-19T13:01:42Z")),
                ("source_id", Text, Some("120210000000000001")),
                ("agent_id", Text, None),
                ("media_url", Text, None),
                ("cod_act", Text, Some("VENTA")),
            ],
        }],
    },
    // chat_duration in both of its disputed forms; a close date without seconds, and one past
    // midnight; the last key with its trailing space, as the example spells it.
    Case {
        report: "chat_1",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"conn_id":"6736.4628.1795093302.0","channel":"whatsapp","date":"2026-11-19 08:01:42","customer_name":"-","customer_email":"cliente@example.com","customer_phone":"573001112233","customer_chars":"3,181","agent_id":"12523","agent_name":"SERGIO FLOREZ","agent_chars":"912","time_on_agent":"00:57:16","chat_duration":"3098","cod_act":"VENTA","description_cod_act":"Venta realizada","comments":"","customer_id":"7152","skill_id":"104","ASA":"00:01:02","last_participant_who_spoke":"customer","extra_field":" ","comment":"-","user_id":"u-1","feeling":"positive","date_close":"2026-11-19 08:49","agent_average_response_time":"00:35:59","transfer":"no","agent_anwers ":"14"},
            {"conn_id":"6736.4628.1795097400.0","channel":"webchat","date":"2026-11-19 09:10:00","customer_name":"Ana Gomez","customer_email":"-","customer_phone":"-","customer_chars":"0","agent_id":"12530","agent_name":"ANA GOMEZ","agent_chars":"0","time_on_agent":"00:00:00","chat_duration":"23:00:05","cod_act":"TIMEOUTCHAT","description_cod_act":"Cierre por tiempo","comments":"-","customer_id":"-","skill_id":"104","ASA":"-","last_participant_who_spoke":"customer","extra_field":"","comment":"","user_id":"","feeling":"neutral","date_close":"2026-11-20 08:10:05","agent_average_response_time":"-","transfer":"","agent_anwers":"0"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"conn_id\" = '6736.4628.1795093302.0'",
                columns: &[
                    ("date", Instant, Some("2026-11-19T13:01:42Z")),
                    ("date_close", Instant, Some("2026-11-19T13:49:00Z")),
                    ("chat_duration", Number, Some("3098")),
                    ("time_on_agent", Number, Some("3436")),
                    ("ASA", Number, Some("62")),
                    ("agent_average_response_time", Number, Some("2159")),
                    ("customer_chars", Number, Some("3181")),
                    ("agent_chars", Number, Some("912")),
                    ("agent_anwers", Number, Some("14")),
                    ("customer_name", Text, None),
                    ("comments", Text, None),
                    ("extra_field", Text, None),
                    ("comment", Text, None),
                    ("transfer", Text, Some("no")),
                    ("skill_id", Text, Some("104")),
                ],
            },
            Expect {
                filter: "\"conn_id\" = '6736.4628.1795097400.0'",
                columns: &[
                    ("date", Instant, Some("2026-11-19T14:10:00Z")),
                    ("date_close", Instant, Some("2026-11-20T13:10:05Z")),
                    ("chat_duration", Number, Some("82805")),
                    ("time_on_agent", Number, Some("0")),
                    ("ASA", Number, None),
                    ("customer_chars", Number, Some("0")),
                    ("agent_anwers", Number, Some("0")),
                    ("customer_phone", Text, None),
                ],
            },
        ],
    },
    // A real user's cdr_1 fixture (§7.5), completed by hand: seconds, money with a thousands
    // comma, minutes, and the placeholders "", " ", "-", "--".
    Case {
        report: "cdr_1",
        day: "2026-08-11",
        code: "200",
        data: r#"[
            {"agent_name":"SERGIO FLOREZ","date":"2026-08-11 08:15:00","destiny":"--","telephone":"573001112233","cost":"1,234.50","time_seg":"120","time_min":"2.00","cod_act":"VENTA","description_cod_act":" ","cod_act_2":"","description_cod_act_2":"","type_interaction":"outbound","customer_id":"7152","hang_up":"agent","campaign_id":"201","conn_id":"c1","skill_id":"101","skill_name":"Ventas","agent_id":"12523","comment":"-"},
            {"agent_name":"SERGIO FLOREZ","date":"2026-08-11 08:40:31","destiny":"573009998877","telephone":"573009998877","cost":"0.00","time_seg":"0","time_min":"0","cod_act":"TIMEOUTACW","description_cod_act":"Sin tipificar a tiempo","cod_act_2":"PAGO_TOTAL","description_cod_act_2":"Pago total","type_interaction":"inbound","customer_id":"-","hang_up":"customer","campaign_id":"-","conn_id":"c2","skill_id":"101","skill_name":"Ventas","agent_id":"12523","comment":"volver a llamar"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"conn_id\" = 'c1'",
                columns: &[
                    ("date", Instant, Some("2026-08-11T13:15:00Z")),
                    ("time_seg", Number, Some("120")),
                    ("time_min", Number, Some("2")),
                    ("cost", Number, Some("1234.5")),
                    ("destiny", Text, None),
                    ("description_cod_act", Text, None),
                    ("cod_act_2", Text, None),
                    ("comment", Text, None),
                    ("cod_act", Text, Some("VENTA")),
                    ("agent_id", Text, Some("12523")),
                ],
            },
            Expect {
                filter: "\"conn_id\" = 'c2'",
                columns: &[
                    ("time_seg", Number, Some("0")),
                    ("time_min", Number, Some("0")),
                    ("cost", Number, Some("0")),
                    ("customer_id", Text, None),
                    ("cod_act_2", Text, Some("PAGO_TOTAL")),
                ],
            },
        ],
    },
    // cdr_5's ring_time: seconds per the docs, HH:MM:SS in a real user's fixture (§7.5).
    Case {
        report: "cdr_5",
        day: "2026-08-11",
        code: "200",
        data: r#"[
            {"agent_name":"SERGIO FLOREZ","date":"2026-08-11 09:00:00","destiny":"-","telephone":"573001112233","ring_time":"00:00:20","result":"Busy","type_interaction":"outbound","customer_id":"7152","campaign_id":"201","agent_id":"12523","conn_id":"c5"},
            {"agent_name":"SERGIO FLOREZ","date":"2026-08-11 09:05:00","destiny":"-","telephone":"573001112234","ring_time":"20","result":"No answer","type_interaction":"outbound","customer_id":"7153","campaign_id":"201","agent_id":"12523","conn_id":"c6"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"conn_id\" = 'c5'",
                columns: &[("date", Instant, Some("2026-08-11T14:00:00Z")), ("ring_time", Number, Some("20"))],
            },
            Expect {
                filter: "\"conn_id\" = 'c6'",
                columns: &[("ring_time", Number, Some("20")), ("result", Text, Some("No answer"))],
            },
        ],
    },
    // yes/no, and a call that never reached a skill: its skill and agent fields are "-".
    Case {
        report: "diagram_11",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"conn_id":"6736.4628.1795093260.0","time_on_rp":"00:00:45","end_date_rp":"2026-11-19 08:01:00","rp_id":"34","ani":"573001112233","customer_id":"-","time_on_skill":"-","skill_id":"-","skill_result":"-","go_to_agent":"no","agent_id":"-","agent_name":"-","time_with_agent":"-","cod_act":"-","cod_act_2":"-","type_interaction":"inbound","total_time":"00:00:45"},
            {"conn_id":"6736.4628.1795093418.0","time_on_rp":"00:01:10","end_date_rp":"2026-11-19 08:03:38","rp_id":"34","ani":"573001112244","customer_id":"7152","time_on_skill":"00:00:12","skill_id":"101","skill_result":"ANSWER","go_to_agent":"yes","agent_id":"12523","agent_name":"SERGIO FLOREZ","time_with_agent":"00:10:00","cod_act":"VENTA","cod_act_2":"","type_interaction":"inbound","total_time":"00:11:22"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"conn_id\" = '6736.4628.1795093260.0'",
                columns: &[
                    ("end_date_rp", Instant, Some("2026-11-19T13:01:00Z")),
                    ("go_to_agent", Flag, Some("false")),
                    ("time_on_rp", Number, Some("45")),
                    ("time_on_skill", Number, None),
                    ("time_with_agent", Number, None),
                    ("skill_id", Text, None),
                    ("total_time", Number, Some("45")),
                ],
            },
            Expect {
                filter: "\"conn_id\" = '6736.4628.1795093418.0'",
                columns: &[
                    ("go_to_agent", Flag, Some("true")),
                    ("time_on_skill", Number, Some("12")),
                    ("time_with_agent", Number, Some("600")),
                    ("total_time", Number, Some("682")),
                ],
            },
        ],
    },
    Case {
        report: "cdr_7",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"type_nlp":"sentiment","nlp_channel":"whatsapp","chars_send":"2693","chars_answer":"1,742","total_chars":"4,435","date":"2026-11-19 08:02:10"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"type_nlp\" = 'sentiment'",
            columns: &[
                ("date", Instant, Some("2026-11-19T13:02:10Z")),
                ("chars_send", Number, Some("2693")),
                ("chars_answer", Number, Some("1742")),
                ("total_chars", Number, Some("4435")),
            ],
        }],
    },
    Case {
        report: "chat_10",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"conn_id":"6736.4628.1795100400.0","session_id":"573001112233.6736.12","date":"2026-11-19 10:00:00","customer_phone":"573001112233","template":"yes","destiny":"-"},
            {"conn_id":"6736.4628.1795100460.0","session_id":"573001112244.6736.12","date":"2026-11-19 10:01:00","customer_phone":"573001112244","template":"no","destiny":"573001112244"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"conn_id\" = '6736.4628.1795100400.0'",
                columns: &[("template", Flag, Some("true")), ("destiny", Text, None)],
            },
            Expect { filter: "\"conn_id\" = '6736.4628.1795100460.0'", columns: &[("template", Flag, Some("false"))] },
        ],
    },
    // A close date given as a bare day, where a datetime is expected: its local midnight.
    Case {
        report: "chat_4",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"channel":"email","agent_name":"ANA GOMEZ","skill_id":"101","case_id":"5501","subject":"Factura","from":"cliente@example.com","to":"soporte@example.com","body":"Hola","answer":"Adjunto","date_creation":"2026-11-19 07:59:59","close_date":"2026-11-19","evaluation_survey":"-","cod_act":"VENTA","comments":"","attachments":"","status":"close"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"case_id\" = '5501'",
            columns: &[
                ("date_creation", Instant, Some("2026-11-19T12:59:59Z")),
                ("close_date", Instant, Some("2026-11-19T05:00:00Z")),
                ("evaluation_survey", Text, None),
                ("status", Text, Some("close")),
            ],
        }],
    },
];

// ---------------------------------------------------------------------------------------------
// Aggregates with their own date: per day, per hour, per hour stamp.

const DATED_AGGREGATES: &[Case] = &[
    // A real user's agent_7 fixture (§7.5), and the same agent's second session of the day:
    // logged in at 19:00 (no seconds), still connected ("-").
    Case {
        report: "agent_7",
        day: "2026-08-10",
        code: "200",
        data: r#"[
            {"agent_name":"Ana","agent_id":"1","date":"2026-08-10","login":"2026-08-10 08:03:00","logout":"2026-08-10 18:00:00","login_time":"09:57:00"},
            {"agent_name":"Ana","agent_id":"1","date":"2026-08-10","login":"2026-08-10 19:00","logout":"-","login_time":"00:30:00"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"login_time\" = 35820",
                columns: &[
                    ("date", Day, Some("2026-08-10")),
                    ("login", Instant, Some("2026-08-10T13:03:00Z")),
                    ("logout", Instant, Some("2026-08-10T23:00:00Z")),
                    ("agent_name", Text, Some("Ana")),
                ],
            },
            Expect {
                filter: "\"login_time\" = 1800",
                columns: &[
                    ("date", Day, Some("2026-08-10")),
                    ("login", Instant, Some("2026-08-11T00:00:00Z")),
                    ("logout", Instant, None),
                ],
            },
        ],
    },
    // agent_8's real spellings (§5): date "YYYY-MM-DD", hour "13:00"; and a real user's
    // fixture's hour "8" (§7.5).
    Case {
        report: "agent_8",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"agent_name":"SERGIO FLOREZ","agent_dni":"98570460","agent_id":"12523","date":"2026-11-19","hour":"13:00","calls":"10","inbound":"6","outbound":"4","internal":"0","ready_time":"00:10:00","inbound_time":"00:20:00","outbound_time":"00:05:00","acw_time":"00:04:55","ring_time":"00:00:40","login_time":"01:00:00","aht":"00:04:55","occupancy":"95.95 %","aux_time":"00:00:00"},
            {"agent_name":"SERGIO FLOREZ","agent_dni":"98570460","agent_id":"12523","date":"2026-11-19","hour":"8","calls":"0","inbound":"0","outbound":"0","internal":"0","ready_time":"00:45:10","inbound_time":"00:00:00","outbound_time":"00:00:00","acw_time":"00:00:00","ring_time":"00:00:00","login_time":"00:45:10","aht":"00:00:00","occupancy":"0 %","aux_time":"-"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"hour\" = '13:00:00'",
                columns: &[
                    ("date", Day, Some("2026-11-19")),
                    ("pass", Number, Some("1")),
                    ("calls", Number, Some("10")),
                    ("acw_time", Number, Some("295")),
                    ("ring_time", Number, Some("40")),
                    ("login_time", Number, Some("3600")),
                    ("occupancy", Number, Some("95.95")),
                ],
            },
            Expect {
                filter: "\"hour\" = '08:00:00'",
                columns: &[
                    ("date", Day, Some("2026-11-19")),
                    ("calls", Number, Some("0")),
                    ("ready_time", Number, Some("2710")),
                    ("occupancy", Number, Some("0")),
                    ("aux_time", Number, None),
                ],
            },
        ],
    },
    Case {
        report: "diagram_1_1",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"day":"2026-11-19","calls":"2,048","ivr_minutes":"3,100.75"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "1 = 1",
            columns: &[
                ("day", Day, Some("2026-11-19")),
                ("calls", Number, Some("2048")),
                ("ivr_minutes", Number, Some("3100.75")),
            ],
        }],
    },
    // The web doc's `YYYY-MM-DD-HH`, sent as `day` where the docs say `date`.
    Case {
        report: "diagram_1_2",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"day":"2026-11-19-13","calls":"41","ivr_minutes":"68.55"},
            {"day":"2026-11-19-00","calls":"1,002","ivr_minutes":"1,234.5"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"calls\" = 41",
                columns: &[
                    ("date", Instant, Some("2026-11-19T18:00:00Z")),
                    ("day", Instant, Some("2026-11-19T18:00:00Z")),
                    ("ivr_minutes", Number, Some("68.55")),
                ],
            },
            Expect {
                filter: "\"calls\" = 1002",
                columns: &[("date", Instant, Some("2026-11-19T05:00:00Z")), ("ivr_minutes", Number, Some("1234.5"))],
            },
        ],
    },
];

// ---------------------------------------------------------------------------------------------
// Aggregates over the window (keyed on the queried day) and per slot of it.

const WINDOW_AND_INTERVAL_AGGREGATES: &[Case] = &[
    // A real user reads chat_16's time and tmo as conversation life, ~23 h a chat (§2): summed
    // over an agent's chats, well past 24 h.
    Case {
        report: "chat_16",
        day: "2026-11-19",
        code: r#""200""#,
        data: r#"[{"agent_id":"12523","agent_name":"SERGIO FLOREZ","total_chats":"37","time":"41:06:00","tmo":"23:00:10","percent_transfer":"2.70 %"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"agent_id\" = '12523'",
            columns: &[
                ("day", Day, Some("2026-11-19")),
                ("total_chats", Number, Some("37")),
                ("time", Number, Some("147960")),
                ("tmo", Number, Some("82810")),
                ("percent_transfer", Number, Some("2.7")),
            ],
        }],
    },
    // A real user's agent_3 fixture (§7.5): aux_state "Almuerzo", time "01:00:00".
    Case {
        report: "agent_3",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"agent_id":"12523","agent_dni":"98570460","agent_name":"SERGIO FLOREZ","aux_state":"Almuerzo","time":"01:00:00"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"aux_state\" = 'Almuerzo'",
            columns: &[
                ("day", Day, Some("2026-11-19")),
                ("agent_id", Text, Some("12523")),
                ("time", Number, Some("3600")),
            ],
        }],
    },
    // skill_4's real spellings (§5): hour "09", service levels with " %"; asa and ata in
    // seconds per the docs, in either form.
    Case {
        report: "skill_4",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"skill_id":"101","hour":"09","inbound_calls":"3","answer_calls":"2","abandon_calls":"1","service_level_10seg":"33.33 %","service_level_20seg":"66.67 %","service_level_30seg":"100.00 %","asa":"562","abandon":"33.33 %","aht":"00:04:00","ata":"00:02:31"},
            {"skill_id":"101","hour":"23","inbound_calls":"1,010","answer_calls":"1,000","abandon_calls":"10","service_level_10seg":"0 %","service_level_20seg":"-","service_level_30seg":"99.01 %","asa":"0","abandon":"0.99 %","aht":"00:03:07","ata":"15"}
        ]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"hour\" = '09:00:00'",
                columns: &[
                    ("day", Day, Some("2026-11-19")),
                    ("skill_id", Text, Some("101")),
                    ("pass", Number, Some("1")),
                    ("inbound_calls", Number, Some("3")),
                    ("service_level_20seg", Number, Some("66.67")),
                    ("service_level_30seg", Number, Some("100")),
                    ("asa", Number, Some("562")),
                    ("abandon", Number, Some("33.33")),
                    ("aht", Number, Some("240")),
                    ("ata", Number, Some("151")),
                ],
            },
            Expect {
                filter: "\"hour\" = '23:00:00'",
                columns: &[
                    ("inbound_calls", Number, Some("1010")),
                    ("service_level_10seg", Number, Some("0")),
                    ("service_level_20seg", Number, None),
                    ("asa", Number, Some("0")),
                    ("ata", Number, Some("15")),
                ],
            },
        ],
    },
    // skill_5's real spelling of the hour (§5): "9".
    Case {
        report: "skill_5",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"skill_id":"101","hour":"9","inbound_calls":"120","inbound_calls_unique_customers":"1,014","aht":"00:06:27","agents_needed":"12"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"hour\" = '09:00:00'",
            columns: &[
                ("day", Day, Some("2026-11-19")),
                ("inbound_calls_unique_customers", Number, Some("1014")),
                ("aht", Number, Some("387")),
                ("agents_needed", Number, Some("12")),
            ],
        }],
    },
    // agent_6's real spelling of the hour, "HH:00"; agent-hours per hour, so past one hour.
    Case {
        report: "agent_6",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"hour":"13:00","calls":"48","inbound":"30","outbound":"18","internal":"0","ready_time":"02:10:00","inbound_time":"05:00:00","outbound_time":"03:00:00","acw_time":"01:00:00","ring_time":"00:20:00","login_time":"12:30:00","aht":"00:05:00","occupancy":"88.00 %","aux_time":"01:00:00"}]"#,
        rows: 1,
        expect: &[Expect {
            filter: "\"hour\" = '13:00:00'",
            columns: &[
                ("day", Day, Some("2026-11-19")),
                ("calls", Number, Some("48")),
                ("ready_time", Number, Some("7800")),
                ("login_time", Number, Some("45000")),
                ("occupancy", Number, Some("88")),
            ],
        }],
    },
];

// ---------------------------------------------------------------------------------------------
// Nested answers and cdr_4's object of buckets.

const NESTED_AND_BUCKETS: &[Case] = &[
    // Two agents; the second hour's key carries a trailing space, as the API's keys sometimes do.
    Case {
        report: "agent_5",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"agent_name":"SERGIO FLOREZ","agent_id":"12523","status_x_hour":[
                {"hour":"08:00","calls":"6","inbound":"3","outbound":"4","internal":"3","ready_time":"00:11:00","inbound_time":"00:06:45","outbound_time":"00:04:46","acw_time":"00:09:20","ring_time":"00:14:12","login_time":"00:14:49","aht":"00:05:25","occupancy":"58.38 %","aux_time":"00:09:50"},
                {"hour ":"09:00","calls":"0","inbound":"0","outbound":"0","internal":"0","ready_time":"00:59:59","inbound_time":"00:00:00","outbound_time":"00:00:00","acw_time":"00:00:00","ring_time":"00:00:00","login_time":"00:59:59","aht":"00:00:00","occupancy":"0 %","aux_time":"-"}
            ]},
            {"agent_name":"ANA GOMEZ","agent_id":"12530","status_x_hour":[
                {"hour":"08:00","calls":"1","inbound":"1","outbound":"0","internal":"0","ready_time":"00:30:00","inbound_time":"00:02:00","outbound_time":"00:00:00","acw_time":"00:01:00","ring_time":"00:00:10","login_time":"00:40:00","aht":"00:03:00","occupancy":"7.50 %","aux_time":"00:07:00"}
            ]}
        ]"#,
        rows: 3,
        expect: &[
            Expect {
                filter: "\"agent_id\" = '12523' AND \"hour\" = '08:00:00'",
                columns: &[
                    ("day", Day, Some("2026-11-19")),
                    ("agent_name", Text, Some("SERGIO FLOREZ")),
                    ("pass", Number, Some("1")),
                    ("calls", Number, Some("6")),
                    ("inbound", Number, Some("3")),
                    ("outbound", Number, Some("4")),
                    ("internal", Number, Some("3")),
                    ("ready_time", Number, Some("660")),
                    ("inbound_time", Number, Some("405")),
                    ("outbound_time", Number, Some("286")),
                    ("acw_time", Number, Some("560")),
                    ("ring_time", Number, Some("852")),
                    ("login_time", Number, Some("889")),
                    ("aht", Number, Some("325")),
                    ("occupancy", Number, Some("58.38")),
                    ("aux_time", Number, Some("590")),
                ],
            },
            Expect {
                filter: "\"agent_id\" = '12523' AND \"hour\" = '09:00:00'",
                columns: &[
                    ("agent_name", Text, Some("SERGIO FLOREZ")),
                    ("calls", Number, Some("0")),
                    ("login_time", Number, Some("3599")),
                    ("occupancy", Number, Some("0")),
                    ("aux_time", Number, None),
                ],
            },
            Expect {
                filter: "\"agent_id\" = '12530'",
                columns: &[
                    ("agent_name", Text, Some("ANA GOMEZ")),
                    ("hour", TimeOfDay, Some("08:00:00")),
                    ("login_time", Number, Some("2400")),
                    ("occupancy", Number, Some("7.5")),
                ],
            },
        ],
    },
    // One agent in two skills, another in one: one row per (skill, agent).
    Case {
        report: "agent_11",
        day: "2026-11-19",
        code: "200",
        data: r#"[
            {"skill_name":"Ventas","agents":[
                {"agent_name":"CAMILO FLOREZ","agent_dni":"98571473","agent_id":"12507","calls":"90","inbound":"96","outbound":"87","internal":"98","ready_time":"26:34:07","inbound_time":"05:05:53","outbound_time":"05:28:57","acw_time":"05:09:22","ring_time":"04:34:07","login_time":"30:07:09","aht":"00:04:42","occupancy":"17.64 %","aux_time":"04:21:47","hits":"80","rpc":"84","aht_outbound":"00:04:38","aht_inbound":"00:04:44"},
                {"agent_name":"SERGIO FLOREZ","agent_dni":"98570460","agent_id":"12523","calls":"1,500","inbound":"1,000","outbound":"500","internal":"0","ready_time":"00:00:00","inbound_time":"00:00:00","outbound_time":"00:00:00","acw_time":"00:00:00","ring_time":"00:00:00","login_time":"00:00:00","aht":"-","occupancy":"0 %","aux_time":"00:00:00","hits":"0","rpc":"0","aht_outbound":"","aht_inbound":" "}
            ]},
            {"skill_name":"Soporte","agents":[
                {"agent_name":"CAMILO FLOREZ","agent_dni":"98571473","agent_id":"12507","calls":"3","inbound":"3","outbound":"0","internal":"0","ready_time":"00:10:00","inbound_time":"00:09:00","outbound_time":"00:00:00","acw_time":"00:01:00","ring_time":"00:00:30","login_time":"00:20:30","aht":"00:03:20","occupancy":"95.12 %","aux_time":"00:00:00","hits":"1","rpc":"1","aht_outbound":"00:00:00","aht_inbound":"00:03:20"}
            ]}
        ]"#,
        rows: 3,
        expect: &[
            Expect {
                filter: "\"skill_name\" = 'Ventas' AND \"agent_id\" = '12507'",
                columns: &[
                    ("day", Day, Some("2026-11-19")),
                    ("agent_name", Text, Some("CAMILO FLOREZ")),
                    ("agent_dni", Text, Some("98571473")),
                    ("calls", Number, Some("90")),
                    ("ready_time", Number, Some("95647")),
                    ("inbound_time", Number, Some("18353")),
                    ("login_time", Number, Some("108429")),
                    ("aht", Number, Some("282")),
                    ("occupancy", Number, Some("17.64")),
                    ("hits", Number, Some("80")),
                    ("aht_outbound", Number, Some("278")),
                    ("aht_inbound", Number, Some("284")),
                ],
            },
            Expect {
                filter: "\"skill_name\" = 'Ventas' AND \"agent_id\" = '12523'",
                columns: &[
                    ("calls", Number, Some("1500")),
                    ("inbound", Number, Some("1000")),
                    ("aht", Number, None),
                    ("aht_outbound", Number, None),
                    ("aht_inbound", Number, None),
                ],
            },
            Expect {
                filter: "\"skill_name\" = 'Soporte' AND \"agent_id\" = '12507'",
                columns: &[
                    ("calls", Number, Some("3")),
                    ("login_time", Number, Some("1230")),
                    ("aht", Number, Some("200")),
                ],
            },
        ],
    },
    // One conversation of two messages: one row per message, with the conversation's fields.
    Case {
        report: "chat_2",
        day: "2026-11-19",
        code: "200",
        data: r#"[{"conn_id":"6736.4628.1795093393.0","agent_name":"DIANA PATINO","customer_name":"Pedro FLOREZ","conversation":[
            {"channel":"whatsapp","from":"customer","from_name":"Pedro FLOREZ","to_name":"DIANA PATINO","date":"2026-11-19 08:03:13","message":"Hola","customer_id":"9636","customer_phone":"573453366145"},
            {"channel":"whatsapp","from":"agent","from_name":"DIANA PATINO","to_name":"Pedro FLOREZ","date":"2026-11-19 08:03:30","message":"Buenos días","customer_id":"9636","customer_phone":"573453366145"}
        ]}]"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"from\" = 'customer'",
                columns: &[
                    ("conn_id", Text, Some("6736.4628.1795093393.0")),
                    ("agent_name", Text, Some("DIANA PATINO")),
                    ("customer_name", Text, Some("Pedro FLOREZ")),
                    ("date", Instant, Some("2026-11-19T13:03:13Z")),
                    ("from_name", Text, Some("Pedro FLOREZ")),
                    ("message", Text, Some("Hola")),
                    ("customer_phone", Text, Some("573453366145")),
                ],
            },
            Expect {
                filter: "\"from\" = 'agent'",
                columns: &[
                    ("date", Instant, Some("2026-11-19T13:03:30Z")),
                    ("to_name", Text, Some("Pedro FLOREZ")),
                    ("message", Text, Some("Buenos días")),
                ],
            },
        ],
    },
    // cdr_4's data is an object keyed by bucket, each bucket with the doc's INTERVAL field.
    Case {
        report: "cdr_4",
        day: "2026-11-19",
        code: "200",
        data: r#"{
            "0_5_seg":{"INTERVAL":"0-5","calls":"202","minutes":"375.80","cost":"1,327.98","percentage":"82.55 %"},
            "greater_than_121":{"INTERVAL":">121","calls":"1,223","minutes":"3,378.08","cost":"360.75","percentage":"0 %"}
        }"#,
        rows: 2,
        expect: &[
            Expect {
                filter: "\"bucket\" = '0_5_seg'",
                columns: &[
                    ("day", Day, Some("2026-11-19")),
                    ("calls", Number, Some("202")),
                    ("minutes", Number, Some("375.8")),
                    ("cost", Number, Some("1327.98")),
                    ("percentage", Number, Some("82.55")),
                ],
            },
            Expect {
                filter: "\"bucket\" = 'greater_than_121'",
                columns: &[
                    ("calls", Number, Some("1223")),
                    ("minutes", Number, Some("3378.08")),
                    ("cost", Number, Some("360.75")),
                    ("percentage", Number, Some("0")),
                ],
            },
        ],
    },
];

on_both_backends! {
    async fn the_real_samples_are_typed_as_worked_out_by_hand(backend) {
        check(backend, REAL_SAMPLES).await;
    }

    async fn event_rows_are_typed_as_worked_out_by_hand(backend) {
        check(backend, EVENTS).await;
    }

    async fn dated_aggregates_are_typed_as_worked_out_by_hand(backend) {
        check(backend, DATED_AGGREGATES).await;
    }

    async fn window_and_interval_aggregates_are_typed_as_worked_out_by_hand(backend) {
        check(backend, WINDOW_AND_INTERVAL_AGGREGATES).await;
    }

    async fn nested_rows_and_cdr_4s_buckets_are_typed_as_worked_out_by_hand(backend) {
        check(backend, NESTED_AND_BUCKETS).await;
    }
}
