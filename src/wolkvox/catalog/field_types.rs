//! Field typing: the rule table (in the catalogue's module docs, "Field types") that says how
//! each field of each report is typed. First match wins; when unsure a field is Text, since
//! `raw` keeps the original either way.

use super::FieldType;

/// Whether `name` is a survey question's answer, `q01`…`q10`.
fn is_question(name: &str) -> bool {
    name.len() == 3 && name.starts_with('q') && name[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The per-report overrides of the rule table, which win over the name rules.
fn per_report(api: &str, name: &str) -> Option<FieldType> {
    use FieldType::*;
    Some(match (api, name) {
        ("agent_7" | "agent_8" | "agent_8_1" | "skill_3" | "skill_7" | "chat_6", "date") => Date,
        ("diagram_1_1", "day") => Date,
        ("diagram_1_2", "date" | "day") => Timestamp,
        ("diagram_4", _) if is_question(name) => Text,
        ("speech_1", "slow_to_greet") => Text,
        _ => return None,
    })
}

/// The type of field `name` of report `api` (the table in the module docs).
pub(super) fn infer(api: &str, name: &str) -> FieldType {
    use FieldType::*;
    let question = is_question(name);
    if let Some(ty) = per_report(api, name) {
        return ty;
    }
    let ends = |s: &str| name.ends_with(s);
    let starts = |s: &str| name.starts_with(s);
    match name {
        "date"
        | "date_ini"
        | "date_end"
        | "login"
        | "logout"
        | "date_preview"
        | "start_date"
        | "end_date"
        | "close_date"
        | "date_close"
        | "date_creation"
        | "last_update"
        | "end_date_rp"
        | "date_inbound_call"
        | "date_last_outbound_call" => Timestamp,
        "day" => Date,
        "hour" => Time,
        "greeting" | "go_to_agent" | "hit" | "template" => Boolean,
        "occupancy" | "percentage" | "abandon" | "accuracy" | "silence" | "slow_to_greet" => Percent,
        _ if starts("percent") || ends("_percent") || starts("precision_") => Percent,
        _ if starts("service_level_") && ends("seg") => Percent,
        "cost" | "credits" | "nlp_credits" | "tts_credits" | "average" | "ivr_minutes" | "minutes" | "time_min"
        | "billed_minutes" => Decimal,
        _ if question => Decimal,
        "time" | "aht" | "tmo" | "talk" | "ring" | "ready" | "not_ready_acw" | "auxiliary_times" | "asa" | "ata"
        | "att" | "acw" | "ASA" => Duration,
        _ if ends("_time") || starts("time_") || starts("aht_") || ends("_duration") => Duration,
        "calls"
        | "inbound"
        | "outbound"
        | "internal"
        | "hits"
        | "rpc"
        | "count"
        | "records"
        | "interactions"
        | "interaction"
        | "total"
        | "surveys"
        | "evaluations"
        | "attempts"
        | "cantidad"
        | "units"
        | "characters"
        | "nlp_amount"
        | "times_chatted"
        | "agents_needed"
        | "yes"
        | "no"
        | "busy"
        | "congestion"
        | "failed"
        | "no_answer"
        | "answer_machine"
        | "treatment"
        | "agent_anwers"
        | "inbound_calls_unique_customers" => Integer,
        _ if ends("_calls") || ends("_chars") || starts("chars_") || starts("total_") => Integer,
        _ if starts("customer_say_") || starts("recall_") || starts("ad_") || starts("post_") => Integer,
        _ if (starts("answer_") || starts("abandon_") || starts("anwers_")) && name.contains("seg") => Integer,
        _ => Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog::find;

    #[test]
    fn types_follow_the_rule_table() {
        use FieldType::*;
        let ty = |api: &str, name: &str| find(api).unwrap().field(name).unwrap().ty;
        for (api, name, expected) in [
            ("agent_1", "agent_id", Text),
            ("agent_1", "calls", Integer),
            ("agent_1", "ready_time", Duration),
            ("agent_1", "aht_outbund", Duration),
            ("agent_1", "occupancy", Percent),
            ("agent_1", "login", Timestamp),
            ("agent_15", "preview_percent", Percent),
            ("agent_15", "total_duration", Duration),
            ("agent_16", "calls", Integer),
            ("agent_8", "date", Date),
            ("agent_8", "hour", Time),
            ("skill_1", "service_level_20seg", Percent),
            ("skill_1", "abandon", Percent),
            ("skill_1", "asa", Duration),
            ("skill_1", "abandon_calls", Integer),
            ("skill_8", "anwers_greater_than_51seg", Integer),
            ("skill_9", "abandon_11seg_20_seg", Integer),
            ("cdr_1", "cost", Decimal),
            ("cdr_1", "time_seg", Duration),
            ("cdr_1", "time_min", Decimal),
            ("cdr_7", "total_chars", Integer),
            ("diagram_1_1", "day", Date),
            ("diagram_1_2", "date", Timestamp),
            ("diagram_4", "q01", Text),
            ("diagram_5", "q01", Decimal),
            ("diagram_11", "go_to_agent", Boolean),
            ("diagram_11", "total_time", Duration),
            ("diagram_15", "nlp_credits", Decimal),
            ("diagram_15", "ivr_time", Duration),
            ("quality_3", "yes/no", Text),
            ("quality_4", "yes", Integer),
            ("campaign_9", "campaing_id", Text),
            ("campaign_10", "cantidad", Integer),
            ("chat_1", "agent_anwers", Integer),
            ("chat_1", "chat_duration", Duration),
            ("chat_1", "ASA", Duration),
            ("chat_10", "template", Boolean),
            ("chat_15", "total_agents", Integer),
            ("chat_16", "percent_transfer", Percent),
            ("speech_1", "greeting", Boolean),
            ("speech_3", "slow_to_greet", Percent),
            ("wizard_3", "explation", Text),
        ] {
            assert_eq!(ty(api, name), expected, "{api}.{name}");
        }
    }
}
