//! The operation's reference data as `information.php` serves it: agents, skills, campaigns,
//! activity codes, routing points, connectors, agents per skill and services, drawn from the
//! same vocabulary as the report rows (the same agent extensions, names and ids, the same skills,
//! campaigns, codes and routing points), so every id a report carries is found in a dimension.
//!
//! Agents are renamed now and then: every agent takes a second surname for 30 days out of 60,
//! staggered (a week apart), so a few renames happen every month and a dimension's history is
//! exercised by a clock that moves by days.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde_json::Value;

use super::vocabulary::{agent_dni, agent_extension, agent_name, pool, AGENTS, CODES, CODE_GROUPS, SKILLS};
use crate::wolkvox::Row;

/// The rows of `api` on the local day of `now` (`skill_id` for `agents_in_skill`); `None` for an
/// API the simulator does not know, `Some(Err)` for a missing required parameter.
pub fn information_rows(api: &str, now: NaiveDateTime, skill_id: Option<&str>) -> Option<Result<Vec<Row>, String>> {
    let today = now.date();
    let last_use = now.format("%Y-%m-%d %H:%M:%S").to_string();
    let rows = match api {
        "agents" => agents(today, &last_use),
        "skills" => skills(&last_use),
        "campaigns" => campaigns(today, &last_use),
        "activity_codes" => activity_codes(),
        "routing_points" => routing_points(&last_use),
        "connectors" => connectors(),
        "agents_in_skill" => return Some(agents_in_skill(skill_id, today, &last_use)),
        "services" => services(),
        _ => return None,
    };
    Some(Ok(rows))
}

/// `agents`: every agent, named as on `today`.
fn agents(today: NaiveDate, last_use: &str) -> Vec<Row> {
    (0..AGENTS as usize)
        .map(|k| {
            row(&[
                ("agent_id", agent_extension(k)),
                ("agent_name", agent_name_on(k, today)),
                ("agent_dni", agent_dni(k)),
                ("agent_status", "enabled".into()),
                ("last_use", last_use.to_owned()),
                ("agent_sso", format!("agente{k}@example.com")),
                ("enabled", "yes".into()),
            ])
        })
        .collect()
}

/// `skills`: every skill, ids from 101.
fn skills(last_use: &str) -> Vec<Row> {
    SKILLS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            row(&[
                ("skill_id", (101 + i).to_string()),
                ("skill_name", (*name).into()),
                ("skill_description", format!("Cola de {}", name.to_lowercase())),
                ("last_use", last_use.to_owned()),
            ])
        })
        .collect()
}

/// `campaigns`: one per campaign id of the vocabulary; `records` moves with the day.
fn campaigns(today: NaiveDate, last_use: &str) -> Vec<Row> {
    pool("campaign_id")
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, id)| {
            row(&[
                ("campaign_id", (*id).into()),
                ("campaign_name", format!("Campaña {id}")),
                ("campaign_description", format!("Campaña de {}", SKILLS[i % SKILLS.len()].to_lowercase())),
                ("type_campaign", if i % 2 == 0 { "predictive" } else { "preview" }.into()),
                ("status", "Started".into()),
                ("records", (1_000 * (i + 1) + today.ordinal() as usize).to_string()),
                ("speed", "1.5".into()),
                ("dial_mode", "autopilot".into()),
                ("last_use", last_use.to_owned()),
                ("recycled", "0".into()),
                ("turbo_dial", "no".into()),
                ("skill_id", (101 + i % SKILLS.len()).to_string()),
            ])
        })
        .collect()
}

/// `routing_points`: one per routing point of the vocabulary.
fn routing_points(last_use: &str) -> Vec<Row> {
    let names = pool("rp_name").unwrap_or_default();
    pool("rp_id")
        .unwrap_or_default()
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (id, name))| {
            let yes = |on: bool| if on { "yes" } else { "no" }.to_owned();
            row(&[
                ("rp_id", (*id).into()),
                ("rp_name", (*name).into()),
                ("ivr_active", yes(i == 0)),
                ("chat_active", yes(i > 0)),
                ("interaction_active", yes(i > 0)),
                ("crm_active", yes(i == 1)),
                ("last_use", last_use.to_owned()),
            ])
        })
        .collect()
}

/// `connectors`: one per channel.
fn connectors() -> Vec<Row> {
    ["whatsapp", "facebook", "instagram", "chat-web", "email"]
        .iter()
        .enumerate()
        .map(|(i, channel)| {
            row(&[
                ("connector_id", (501 + i).to_string()),
                ("rp_id", pool("rp_id").unwrap_or_default()[1 + i % 3].into()),
                ("name", format!("Conector {channel}")),
                ("channel", (*channel).into()),
            ])
        })
        .collect()
}

/// `agents_in_skill`: the agents of one skill (`skill_id` is required).
fn agents_in_skill(skill_id: Option<&str>, today: NaiveDate, last_use: &str) -> Result<Vec<Row>, String> {
    let Some(skill) = skill_id else {
        return Err("the parameter skill_id is required".into());
    };
    let index = skill.parse::<usize>().ok().and_then(|id| id.checked_sub(101)).filter(|i| *i < SKILLS.len());
    Ok((0..AGENTS as usize)
        .filter(|k| Some(k % SKILLS.len()) == index)
        .map(|k| {
            row(&[
                ("agent_id", agent_extension(k)),
                ("agent_name", agent_name_on(k, today)),
                ("last_use", last_use.to_owned()),
                ("expertise", (1 + k % 5).to_string()),
            ])
        })
        .collect())
}

/// `services`: the one object of the operation's services.
fn services() -> Vec<Row> {
    vec![row(&[
        ("licenses", "10".into()),
        ("pbx", "2".into()),
        ("screen_recording", "yes".into()),
        ("whatsapp", "yes".into()),
        ("chat_web", "yes".into()),
        ("sms_bidireccional", "no".into()),
        ("intelligentdial", "no".into()),
    ])]
}

/// Agent `k`'s name on `day`: their name, with a second surname for 30 days out of 60
/// (staggered a week per agent).
pub fn agent_name_on(k: usize, day: NaiveDate) -> String {
    let version = (i64::from(day.num_days_from_ce()) + 7 * k as i64) / 30;
    let name = agent_name(k);
    if version % 2 == 1 {
        format!("{name} DE LA TORRE")
    } else {
        name
    }
}

/// The two code groups, as the API lists them: group 1's hit and RPC flags, group 2's empty
/// (as the real API leaves them); the chat codes too.
fn activity_codes() -> Vec<Row> {
    let mut rows = Vec::new();
    for (group, codes) in CODE_GROUPS.iter().enumerate() {
        for (i, (code, label)) in codes.iter().enumerate() {
            let (hit, rpc) = match group {
                0 => (if i == 0 { "yes" } else { "no" }, if i <= 1 { "yes" } else { "no" }),
                _ => ("", ""),
            };
            rows.push(code_row(code, label, &format!("cod_act{}", group + 1), hit, rpc, true));
        }
    }
    for code in CODES.iter().filter(|c| !CODE_GROUPS[0].iter().any(|(g, _)| g == *c)) {
        rows.push(code_row(code, &code.to_lowercase(), "cod_act1", "no", "no", false));
    }
    rows
}

fn code_row(code: &str, label: &str, group: &str, hit: &str, rpc: &str, voice: bool) -> Row {
    let yes = |on: bool| if on { "yes" } else { "no" }.to_owned();
    row(&[
        ("cod_act", code.into()),
        ("description_cod_act", label.into()),
        ("hit", hit.into()),
        ("rpc", rpc.into()),
        ("chat", "yes".into()),
        ("studio", "no".into()),
        ("voice", yes(voice)),
        ("type_code", group.into()),
        ("interactions", "yes".into()),
    ])
}

fn row(fields: &[(&str, String)]) -> Row {
    fields.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn the_reference_data_holds_the_ids_the_reports_carry_and_renames_agents_now_and_then() {
        let now = at("2026-11-20 10:00:00");
        let agents = information_rows("agents", now, None).unwrap().unwrap();
        assert_eq!(agents.len(), AGENTS as usize);
        assert_eq!(agents[0]["agent_id"], agent_extension(0));
        let skills = information_rows("skills", now, None).unwrap().unwrap();
        assert_eq!(
            skills.iter().map(|r| r["skill_id"].as_str().unwrap()).collect::<Vec<_>>(),
            ["101", "102", "103", "104"]
        );
        let members = information_rows("agents_in_skill", now, Some("102")).unwrap().unwrap();
        assert_eq!(members.len(), 6);
        assert!(information_rows("agents_in_skill", now, None).unwrap().is_err());
        assert!(information_rows("nope", now, None).is_none());
        // Over 60 days every agent is renamed, and back.
        let renamed = (0..AGENTS as usize)
            .filter(|k| {
                let day = now.date();
                agent_name_on(*k, day) != agent_name_on(*k, day + chrono::Duration::days(30))
            })
            .count();
        assert_eq!(renamed, AGENTS as usize);
        let codes = information_rows("activity_codes", now, None).unwrap().unwrap();
        assert!(codes.iter().any(|r| r["cod_act"] == "VENTA" && r["type_code"] == "cod_act1" && r["hit"] == "yes"));
        assert!(codes.iter().any(|r| r["type_code"] == "cod_act2" && r["hit"] == ""));
    }
}
