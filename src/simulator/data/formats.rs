//! Which spelling the simulated API gives each field: a table of its own, per field name with
//! the reports that spell a name their own way, written from the research notes
//! (`shared/wolkvox-api.md` §5 and §7, `shared/wolkvox-reports.json`) and never from the
//! catalogue's types.
//!
//! It owns that table and nothing else. The invariant it protects: what the simulator serves is
//! a claim about the API, made apart from the daemon's own claim (`catalog`'s [`FieldType`]s,
//! inferred from field names), so a field the catalogue types wrongly is served in the API's
//! spelling and the daemon's typing of it fails, where a simulator serving each field in the
//! catalogue's type would agree with any mistake. Each entry says where its spelling comes from:
//!
//! - `real`: a real answer or real users' code reading real answers (§7, §5, `real_observations`);
//! - `docs`: the Postman collection or the web docs, unconfirmed by a real answer;
//! - `guess`: nothing says; the field's name and its neighbours do.
//!
//! A test below checks that the table covers every field the simulator serves, and that no entry
//! names a field no report sends.
//!
//! [`FieldType`]: crate::wolkvox::catalog::FieldType

/// How the API spells one field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// Free text, a name, an id or a code, as the vocabulary draws it.
    Text,
    /// A count: `"12"`, with thousands commas when large (`"1,234"`).
    Count,
    /// A duration as `HH:MM:SS`, the hours unbounded (`"41:06:00"`).
    Clock,
    /// A duration as whole seconds: `"120"`.
    Seconds,
    /// A duration in either form, row by row: the docs say seconds, users' parsers expect
    /// `HH:MM:SS`.
    ClockOrSeconds,
    /// A decimal with this many decimals: `"12.34"`, `"2.887"`.
    Decimal(u8),
    /// A percentage up to 100: `"34.64 %"`, `"0 %"`.
    Percent,
    /// A percentage that can pass 100, with a thousands comma: `"15,233.33 %"`, `"490.00 %"`.
    PercentPast100,
    /// `"yes"` or `"no"`.
    YesNo,
    /// A local datetime, `YYYY-MM-DD HH:MM:SS`.
    DateTime,
    /// A local calendar day, `YYYY-MM-DD`.
    Date,
    /// A local hour stamp, `YYYY-MM-DD-HH`.
    HourStamp,
    /// A slot's time of day, in one of the spellings reports use.
    Hour(HourStyle),
}

/// How a report writes the time of day of its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HourStyle {
    /// `"13:00"`, `"09:30"`.
    HoursMinutes,
    /// Two digits: `"09"`.
    TwoDigits,
    /// As a number: `"9"`.
    Number,
}

/// The spelling of field `name` of report `api`, if the simulator serves it.
pub(super) fn format_of(api: &str, name: &str) -> Option<Format> {
    BY_REPORT
        .iter()
        .find(|(a, n, _, _)| *a == api && *n == name)
        .map(|(_, _, format, _)| *format)
        .or_else(|| BY_NAME.iter().find(|(n, _, _)| *n == name).map(|(_, format, _)| *format))
}

use Format::*;

const AGENT_1_ROW: &str = "real: the agent_1 row, wolkvox-api.md §7.1";
const PREVIEW_ROWS: &str = "real: the agent_15/agent_16 example rows, §7.2";
const DIAGRAM_15_ROWS: &str = "real: the diagram_15 example rows, §7.3";
const FREE_TEXT: &str = "docs: free text, a name, an id or a code";
const COUNT: &str = "docs: a count (every value a string, §5)";
const BUCKET_COUNT: &str = "docs: one bucket's count (skill_8/skill_9)";
const CHAT_15_TOTAL: &str = "guess: chat_15's totals row of counts";
const DURATION: &str = "guess: durations are HH:MM:SS wherever a real sample shows one (§5)";
const PERCENT: &str = "guess: percentages are `N.NN %` wherever a real sample shows one (§5)";
const SERVICE_LEVEL: &str = "real: a real user strips ' %' from skill_4's service levels (§5)";
const DATETIME: &str = "guess: datetimes are `YYYY-MM-DD HH:MM:SS` wherever a sample shows one (§5)";
const QUALITY_SHARE: &str = "guess: an evaluation's share, spelled as a percentage";
const SURVEY_AVERAGE: &str = "docs: q01…q10 are averages (diagram_5/6)";
const OPTION: &str = "docs: campaign_3's free option columns (doc `opt#`)";

/// Spellings by field name, whatever the report (unless [`BY_REPORT`] says otherwise).
const BY_NAME: &[(&str, Format, &str)] = &[
    ("ASA", Clock, "guess: chat_1's answer time, spelled like its other durations"),
    ("abandon", Percent, "docs: the glossary's 'abandon %' (§10)"),
    ("abandon_0seg_10seg", Count, BUCKET_COUNT),
    ("abandon_11seg_20_seg", Count, BUCKET_COUNT),
    ("abandon_21seg_30seg", Count, BUCKET_COUNT),
    ("abandon_31seg_40seg", Count, BUCKET_COUNT),
    ("abandon_41seg_50seg", Count, BUCKET_COUNT),
    ("abandon_calls", Count, COUNT),
    ("abandon_greater_than_51seg", Count, BUCKET_COUNT),
    ("abandon_time", Seconds, "docs: skill_2's abandon_time is seconds"),
    ("accuracy", Percent, QUALITY_SHARE),
    ("acw_time", Clock, AGENT_1_ROW),
    ("action", Text, "docs: audit_log's free-text action (wolkvox-information-api.md §2.10)"),
    ("ad_agents", Count, CHAT_15_TOTAL),
    ("ad_chatbot", Count, CHAT_15_TOTAL),
    ("agent_anwers", Count, "guess: the Manager's export calls it AGENT_ANSWERS, a count"),
    ("agent_average_response_time", Clock, "guess: seen in live chat_1 rows, format not recorded"),
    ("agent_chars", Count, COUNT),
    ("agent_dni", Text, AGENT_1_ROW),
    ("agent_id", Text, AGENT_1_ROW),
    ("agent_name", Text, AGENT_1_ROW),
    ("agent_status", Text, FREE_TEXT),
    ("agents_needed", Count, "real: a real user casts skill_5's agents_needed to int"),
    ("aht", Clock, AGENT_1_ROW),
    ("aht_inbound", Clock, AGENT_1_ROW),
    ("aht_outbound", Clock, "docs: agent_11's spelling of agent_1's aht_outbund"),
    ("aht_outbund", Clock, AGENT_1_ROW),
    ("ai_comment", Text, FREE_TEXT),
    ("ani", Text, FREE_TEXT),
    ("answer", Text, FREE_TEXT),
    ("answer_0seg_10seg", Count, BUCKET_COUNT),
    ("answer_11seg_20seg", Count, BUCKET_COUNT),
    ("answer_21seg_30seg", Count, BUCKET_COUNT),
    ("answer_31seg_40seg", Count, BUCKET_COUNT),
    ("answer_41seg_50seg", Count, BUCKET_COUNT),
    ("answer_calls", Count, COUNT),
    ("answer_machine", Count, COUNT),
    ("answer_time", Seconds, "guess: spelled like skill_2's abandon_time, documented in seconds"),
    ("anwers_greater_than_51seg", Count, BUCKET_COUNT),
    ("asa", Seconds, "docs: the glossary's 'average speed of answer (s)' (§5, §10)"),
    ("asr_time", Clock, DIAGRAM_15_ROWS),
    ("ata", Seconds, "docs: the glossary's 'average time to abandon (s)' (§5, §10)"),
    ("attachments", Text, FREE_TEXT),
    ("attempt", Count, "guess: diagram_13's attempt number"),
    ("attempts", Count, COUNT),
    ("attribute", Text, FREE_TEXT),
    ("audio_text", Text, FREE_TEXT),
    ("aux_state", Text, "real: a real user's fixture, \"Almuerzo\" (§7.5)"),
    ("aux_time", Clock, AGENT_1_ROW),
    ("auxiliary_times", Clock, PREVIEW_ROWS),
    ("average", Decimal(2), SURVEY_AVERAGE),
    ("billed_minutes", Decimal(2), "guess: minutes, like cdr_1's time_min"),
    ("body", Text, FREE_TEXT),
    ("busy", Count, COUNT),
    ("call_result", Text, FREE_TEXT),
    ("calls", Count, AGENT_1_ROW),
    ("campaign_id", Text, FREE_TEXT),
    ("campaing_id", Text, FREE_TEXT),
    ("cantidad", Count, "docs: Spanish for 'count' (campaign_10)"),
    ("case_id", Text, FREE_TEXT),
    ("category", Text, FREE_TEXT),
    ("chanel", Text, FREE_TEXT),
    ("channel", Text, FREE_TEXT),
    ("characters", Count, COUNT),
    ("chars_answer", Count, COUNT),
    ("chars_send", Count, COUNT),
    ("chat_duration", ClockOrSeconds, "docs say seconds, users' parsers expect HH:MM:SS (§5): both"),
    ("chat_id", Text, FREE_TEXT),
    ("close_date", DateTime, DATETIME),
    ("close_time", Clock, DURATION),
    ("closing_time", Clock, DURATION),
    ("cod_act", Text, FREE_TEXT),
    ("cod_act_2", Text, FREE_TEXT),
    ("cod_opc_menu", Text, FREE_TEXT),
    ("comment", Text, FREE_TEXT),
    ("comments", Text, FREE_TEXT),
    ("comments_customer_reg", Text, FREE_TEXT),
    ("conference_calls", Count, COUNT),
    ("congestion", Count, COUNT),
    ("conn_id", Text, FREE_TEXT),
    ("conn_id_transfer", Text, FREE_TEXT),
    ("connect_id", Text, DIAGRAM_15_ROWS),
    ("conversational_id", Text, DIAGRAM_15_ROWS),
    ("cost", Decimal(2), "guess: money; its format was never seen (§5)"),
    ("count", Count, COUNT),
    ("credits", Decimal(2), "guess: like diagram_15's credits, decimals"),
    ("customer_chars", Count, COUNT),
    ("customer_email", Text, FREE_TEXT),
    ("customer_id", Text, FREE_TEXT),
    ("customer_last_name", Text, FREE_TEXT),
    ("customer_name", Text, FREE_TEXT),
    ("customer_phone", Text, FREE_TEXT),
    ("customer_query", Text, FREE_TEXT),
    ("customer_say_no", Count, COUNT),
    ("customer_say_yes", Count, COUNT),
    ("date", DateTime, "real: diagram_15's date \"2026-01-18 19:34:31\"; cdr_1's read so by a real user"),
    ("date_close", DateTime, DATETIME),
    ("date_creation", DateTime, DATETIME),
    ("date_end", DateTime, "guess: the docs say 'year-month-day', as they do for every datetime (§5)"),
    ("date_inbound_call", DateTime, DATETIME),
    ("date_ini", DateTime, "guess: the docs say 'year-month-day', as they do for every datetime (§5)"),
    ("date_last_outbound_call", DateTime, DATETIME),
    ("date_preview", DateTime, PREVIEW_ROWS),
    ("day", Date, "docs: diagram_1_1's day is 'YYYY-MM-DD'"),
    ("description_cod_act", Text, FREE_TEXT),
    ("description_cod_act_2", Text, FREE_TEXT),
    ("destinity", Text, FREE_TEXT),
    ("destiny", Text, FREE_TEXT),
    ("destiny_agent_id", Text, FREE_TEXT),
    ("destiny_agent_name", Text, FREE_TEXT),
    ("dial_phone", Text, FREE_TEXT),
    ("dn_transfer", Text, FREE_TEXT),
    ("dnis", Text, FREE_TEXT),
    ("end_date", DateTime, DATETIME),
    ("end_date_rp", DateTime, DATETIME),
    ("errors", Text, "guess: a campaign upload's error description"),
    ("evaluation_survey", Text, "guess: a survey's name or answer"),
    ("evaluations", Count, COUNT),
    ("explation", Text, FREE_TEXT),
    ("extra_field", Text, FREE_TEXT),
    ("failed", Count, COUNT),
    ("feedback", Text, FREE_TEXT),
    ("feeling", Text, FREE_TEXT),
    ("file_name", Text, FREE_TEXT),
    ("from", Text, FREE_TEXT),
    ("from_name", Text, FREE_TEXT),
    ("go_to_agent", YesNo, "docs: flags are yes/no (§5)"),
    ("greeting", YesNo, "docs: flags are yes/no (§5)"),
    ("greeting_agent_name", Text, FREE_TEXT),
    ("hang_up", Text, FREE_TEXT),
    ("hits", Count, AGENT_1_ROW),
    ("hold_time", Clock, DURATION),
    ("hour", Hour(HourStyle::HoursMinutes), "real: agent_8's \"13:00\", agent_6's \"HH:00\" (§5)"),
    ("hung_up", Text, FREE_TEXT),
    ("id_agent", Text, PREVIEW_ROWS),
    ("id_call", Text, PREVIEW_ROWS),
    ("id_call_origin", Text, FREE_TEXT),
    ("id_text", Text, FREE_TEXT),
    ("id_type", Text, FREE_TEXT),
    ("inbound", Count, AGENT_1_ROW),
    ("inbound_calls", Count, COUNT),
    ("inbound_calls_unique_customers", Count, COUNT),
    ("inbound_time", Clock, AGENT_1_ROW),
    ("interaction", Count, COUNT),
    ("interactions", Count, COUNT),
    ("internal", Count, AGENT_1_ROW),
    ("ip", Text, "docs: audit_log's public IP (wolkvox-information-api.md §2.10)"),
    ("item", Text, FREE_TEXT),
    ("ivr_minutes", Decimal(2), "guess: minutes, like cdr_1's time_min"),
    ("ivr_time", Clock, DIAGRAM_15_ROWS),
    ("language", Text, FREE_TEXT),
    ("last_code_act", Text, FREE_TEXT),
    ("last_participant_who_spoke", Text, FREE_TEXT),
    ("last_sender", Text, FREE_TEXT),
    ("last_update", DateTime, DATETIME),
    ("login", DateTime, AGENT_1_ROW),
    ("login_time", Clock, AGENT_1_ROW),
    ("logout", DateTime, AGENT_1_ROW),
    ("machinecode", Text, FREE_TEXT),
    ("media_type", Text, FREE_TEXT),
    ("media_url", Text, FREE_TEXT),
    ("message", Text, FREE_TEXT),
    ("minutes", Decimal(2), "guess: minutes, like cdr_1's time_min"),
    ("mute_time", Clock, DURATION),
    ("name_agent", Text, FREE_TEXT),
    ("nlp_amount", Count, "guess: a number of NLP requests"),
    ("nlp_channel", Text, FREE_TEXT),
    ("nlp_credits", Decimal(3), "real: \"2.887\" and \"61.4\" in the diagram_15 example rows, §7.3"),
    ("no", Count, "guess: quality_4's count of 'no' answers"),
    ("no_answer", Count, COUNT),
    ("not_ready_acw", Clock, PREVIEW_ROWS),
    ("occupancy", Percent, AGENT_1_ROW),
    ("operation", Text, FREE_TEXT),
    ("opt1", Text, OPTION),
    ("opt10", Text, OPTION),
    ("opt11", Text, OPTION),
    ("opt12", Text, OPTION),
    ("opt2", Text, OPTION),
    ("opt3", Text, OPTION),
    ("opt4", Text, OPTION),
    ("opt5", Text, OPTION),
    ("opt6", Text, OPTION),
    ("opt7", Text, OPTION),
    ("opt8", Text, OPTION),
    ("opt9", Text, OPTION),
    ("origin_agent_id", Text, FREE_TEXT),
    ("origin_agent_name", Text, FREE_TEXT),
    ("outbound", Count, AGENT_1_ROW),
    ("outbound_time", Clock, AGENT_1_ROW),
    ("percent", Percent, PERCENT),
    ("percent_transfer", Percent, PERCENT),
    ("percentage", Percent, PERCENT),
    ("post_agents", Count, CHAT_15_TOTAL),
    ("post_chatbot", Count, CHAT_15_TOTAL),
    ("precision_opportunity_critical_error", Percent, QUALITY_SHARE),
    ("precision_opportunity_error", Percent, QUALITY_SHARE),
    ("precision_unit_critical_error", Percent, QUALITY_SHARE),
    ("preview_percent", PercentPast100, "real: \"28.81 %\", \"490.00 %\", \"15,233.33 %\" (§7.2)"),
    ("protected_nit", Text, FREE_TEXT),
    ("q01", Decimal(2), SURVEY_AVERAGE),
    ("q02", Decimal(2), SURVEY_AVERAGE),
    ("q03", Decimal(2), SURVEY_AVERAGE),
    ("q04", Decimal(2), SURVEY_AVERAGE),
    ("q05", Decimal(2), SURVEY_AVERAGE),
    ("q06", Decimal(2), SURVEY_AVERAGE),
    ("q07", Decimal(2), SURVEY_AVERAGE),
    ("q08", Decimal(2), SURVEY_AVERAGE),
    ("q09", Decimal(2), SURVEY_AVERAGE),
    ("q10", Decimal(2), SURVEY_AVERAGE),
    ("quality_analyst", Text, FREE_TEXT),
    ("question", Text, FREE_TEXT),
    ("ready", Clock, PREVIEW_ROWS),
    ("ready_time", Clock, AGENT_1_ROW),
    ("recall_fail", Count, COUNT),
    ("recall_ok", Count, COUNT),
    ("receiver_agent_dni", Text, FREE_TEXT),
    ("receiver_agent_id", Text, FREE_TEXT),
    ("receiver_agent_name", Text, FREE_TEXT),
    ("recognized_text", Text, FREE_TEXT),
    ("records", Count, COUNT),
    ("result", Text, FREE_TEXT),
    ("ring", Clock, PREVIEW_ROWS),
    ("ring_time", Clock, AGENT_1_ROW),
    ("routing_answer", Text, FREE_TEXT),
    ("rp_id", Text, FREE_TEXT),
    ("rp_name", Text, FREE_TEXT),
    ("rpc", Count, AGENT_1_ROW),
    ("second_event", Text, "guess: nothing says what diagram_13's second_event holds"),
    ("service_level_10seg", Percent, SERVICE_LEVEL),
    ("service_level_20seg", Percent, SERVICE_LEVEL),
    ("service_level_30seg", Percent, SERVICE_LEVEL),
    ("service_level_up", Text, "guess: diagram_2's neighbours are counts, its name a level: unknown"),
    ("session_id", Text, FREE_TEXT),
    ("silence", Percent, "guess: speech_2's share of silence per agent"),
    ("skill_id", Text, FREE_TEXT),
    ("skill_name", Text, FREE_TEXT),
    ("skill_result", Text, FREE_TEXT),
    ("slow_to_greet", Percent, "guess: speech_3's share of slow greetings per agent"),
    ("source_id", Text, FREE_TEXT),
    ("source_type", Text, FREE_TEXT),
    ("source_url", Text, FREE_TEXT),
    ("start_date", DateTime, DATETIME),
    ("status", Text, FREE_TEXT),
    ("subject", Text, FREE_TEXT),
    ("summary", Text, FREE_TEXT),
    ("survey", Text, FREE_TEXT),
    ("surveys", Count, COUNT),
    ("talk", Clock, PREVIEW_ROWS),
    ("telephone", Text, FREE_TEXT),
    ("template", YesNo, "docs: flags are yes/no (§5)"),
    ("text", Text, FREE_TEXT),
    ("time", Clock, "real: a real user's agent_3 fixture \"01:00:00\"; docs: agent_13_1's HH:MM:SS"),
    ("time_between_calls", Clock, DURATION),
    ("time_min", Decimal(2), "docs: cdr_1's time_min is minutes"),
    ("time_on_agent", Clock, "real: a real user's parser reads chat_1's time_on_agent as HH:MM:SS"),
    ("time_on_chatbot", Clock, DURATION),
    ("time_on_rp", Clock, DURATION),
    ("time_on_skill", Clock, DURATION),
    ("time_preview", Clock, PREVIEW_ROWS),
    ("time_seg", Seconds, "docs: cdr_1's time_seg is seconds; a real user parses it as an integer"),
    ("time_silence", Seconds, "docs: speech_1's time_silence is seconds"),
    ("time_with_agent", Clock, DURATION),
    ("times_chatted", Count, COUNT),
    ("tmo", Clock, "real: a real user reads chat_16's tmo as a duration of ~23 h"),
    ("to", Text, FREE_TEXT),
    ("to_name", Text, FREE_TEXT),
    ("total", Count, COUNT),
    ("total_agents", Count, CHAT_15_TOTAL),
    ("total_amd", Count, "guess: campaign_6's count of answering machines"),
    ("total_chars", Count, COUNT),
    ("total_chatbot", Count, CHAT_15_TOTAL),
    ("total_chats", Count, "real: a real user counts chat_16's total_chats"),
    ("total_duration", Clock, PREVIEW_ROWS),
    ("total_machine_recognitions", Count, COUNT),
    ("total_time", Clock, DURATION),
    ("transfer", Text, "guess: seen in live chat_1 rows, format not recorded"),
    ("transfer_agent_dni", Text, FREE_TEXT),
    ("transfer_agent_id", Text, FREE_TEXT),
    ("transfer_agent_name", Text, FREE_TEXT),
    ("transfer_calls", Count, COUNT),
    ("treatment", Count, "guess: diagram_2's count of treated calls"),
    ("tts_credits", Decimal(2), "real: \"1856\" (§7.3); the decimals are a guess, as nlp_credits has them"),
    ("tts_text", Text, FREE_TEXT),
    ("type_action", Text, FREE_TEXT),
    ("type_call", Text, PREVIEW_ROWS),
    ("type_error", Text, FREE_TEXT),
    ("type_interaction", Text, FREE_TEXT),
    ("type_nlp", Text, FREE_TEXT),
    ("type_of_row", Text, FREE_TEXT),
    ("uncode_calls", Count, COUNT),
    ("units", Count, "guess: diagram_12's units consumed"),
    ("user", Text, "docs: audit_log's Manager user (wolkvox-information-api.md §2.10)"),
    ("user_id", Text, FREE_TEXT),
    ("value", Text, FREE_TEXT),
    ("voice_message", Text, FREE_TEXT),
    ("voice_message_duration", Clock, DURATION),
    ("wait_time", Clock, DURATION),
    ("workstation", Text, "docs: audit_log's workstation name (wolkvox-information-api.md §2.10)"),
    ("yes", Count, "guess: quality_4's count of 'yes' answers"),
    ("yes/no", YesNo, "guess: quality_3's column is named for its two values"),
];

/// Reports that spell a field unlike [`BY_NAME`].
const BY_REPORT: &[(&str, &str, Format, &str)] = &[
    ("agent_7", "date", Date, "real: a real user reads agent_7's date as 'YYYY-MM-DD' (§5)"),
    ("agent_8", "date", Date, "real: a real user reads agent_8's date as 'YYYY-MM-DD' (§5)"),
    ("agent_8_1", "date", Date, "docs: agent_8's shape in 30-minute slots"),
    ("skill_3", "date", Date, "guess: a per-day total's day, like agent_7's"),
    ("skill_7", "date", Date, "guess: a per-hour total's day, like agent_8's"),
    ("chat_6", "date", Date, "guess: a per-day total's day, like agent_7's"),
    ("diagram_1_2", "day", HourStamp, "docs: 'YYYY-MM-DD-HH' (the web doc, where the example says day)"),
    ("skill_4", "hour", Hour(HourStyle::TwoDigits), "real: \"09\", cast to int by a real user (§5)"),
    ("skill_5", "hour", Hour(HourStyle::Number), "real: \"9\", cast to int by a real user (§5)"),
    ("cdr_5", "ring_time", Seconds, "docs: cdr_5's ring_time is seconds (a fixture writes HH:MM:SS)"),
    ("diagram_7", "time", Seconds, "docs: diagram_7's time is seconds"),
    ("speech_1", "time", Seconds, "docs: speech_1's time is seconds"),
    ("speech_1", "slow_to_greet", YesNo, "guess: one call's flag, like its greeting"),
    ("chat_8", "asa", Clock, "guess: a chat's answer time, spelled like its other durations"),
    ("diagram_4", "q01", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q02", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q03", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q04", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q05", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q06", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q07", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q08", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q09", Text, "docs: one call's answers, '-' when unanswered"),
    ("diagram_4", "q10", Text, "docs: one call's answers, '-' when unanswered"),
    ("cdr_4", "bucket", Text, "docs: cdr_4's data is an object keyed by bucket name"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog::{self, BUCKET};

    /// The names the simulator serves for `report` (the bucket names of cdr_4 included).
    fn served(report: &catalog::Report) -> Vec<&'static str> {
        report
            .fields
            .iter()
            .filter(|f| (f.sent && !report.is_synthetic(f.name)) || (f.name == BUCKET && report.is_synthetic(BUCKET)))
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn every_field_the_simulator_serves_has_a_format_of_its_own() {
        let mut missing = Vec::new();
        for report in catalog::all() {
            for name in served(report) {
                if format_of(report.api, name).is_none() {
                    missing.push(format!("{}.{name}", report.api));
                }
            }
        }
        assert!(missing.is_empty(), "no format for {missing:?}");
    }

    #[test]
    fn every_entry_names_a_field_some_report_serves_and_says_where_it_comes_from() {
        let reports: Vec<(&str, Vec<&str>)> = catalog::all().iter().map(|r| (r.api, served(r))).collect();
        for (name, _, source) in BY_NAME {
            assert!(reports.iter().any(|(_, names)| names.contains(name)), "{name} is served by no report");
            assert!(["real", "docs", "guess"].iter().any(|s| source.starts_with(s)), "{name}: {source}");
        }
        for (api, name, format, source) in BY_REPORT {
            let names = &reports.iter().find(|(a, _)| a == api).unwrap_or_else(|| panic!("{api}")).1;
            assert!(names.contains(name), "{api} does not serve {name}");
            assert!(["real", "docs", "guess"].iter().any(|s| source.starts_with(s)), "{api}.{name}: {source}");
            assert_eq!(format_of(api, name), Some(*format), "{api}.{name}: the report's own entry wins");
        }
        let mut names: Vec<&str> = BY_NAME.iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BY_NAME.len(), "one entry per name");
    }

    /// A few entries by hand, each from a real sample: the table is the API's spelling.
    #[test]
    fn the_real_samples_spellings_are_in_the_table() {
        assert_eq!(format_of("agent_15", "preview_percent"), Some(PercentPast100));
        assert_eq!(format_of("agent_16", "ready"), Some(Clock));
        assert_eq!(format_of("diagram_15", "nlp_credits"), Some(Decimal(3)));
        assert_eq!(format_of("chat_14", "date"), Some(DateTime));
        assert_eq!(format_of("agent_8", "date"), Some(Date));
        assert_eq!(format_of("skill_5", "hour"), Some(Hour(HourStyle::Number)));
        assert_eq!(format_of("cdr_1", "time_seg"), Some(Seconds));
        assert_eq!(format_of("agent_1", "occupancy"), Some(Percent));
    }
}
