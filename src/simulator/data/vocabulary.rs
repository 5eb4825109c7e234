//! The fixed words the simulated operation's rows are made of: its agents, skills, typification
//! codes, names and the values of every enumerated field.
//!
//! It owns those lists and which fields draw from them; nothing here is random. The invariant it
//! protects: the lists are the same for every seed and their order is part of the data, since a
//! generator draws an *index* into them: reordering one changes the generated rows (and the
//! values tests pin) as surely as changing the seed would.

use crate::wolkvox::catalog::BUCKET;

/// The typification codes a chat ends up with.
pub(super) const CODES: [&str; 4] = ["VENTA", "NO_INTERESADO", "INFORMACION", "TIMEOUTCHAT"];
/// How many agents answer chats.
pub(super) const AGENTS: u32 = 24;

/// The operation's skills (ids 101…).
pub(super) const SKILLS: [&str; 4] = ["Ventas", "Soporte", "Cobranza", "Retencion"];

/// The two typification code groups (`cod_act1`, `cod_act2`): codes and their labels.
pub(super) const CODE_GROUPS: [[(&str, &str); 4]; 2] = [
    [
        ("VENTA", "Venta realizada"),
        ("NO_INTERESADO", "Cliente no interesado"),
        ("VOLVER_A_LLAMAR", "Volver a llamar"),
        ("TIMEOUTACW", "Sin tipificar a tiempo"),
    ],
    [
        ("PAGO_TOTAL", "Pago total"),
        ("PAGO_PARCIAL", "Pago parcial"),
        ("PROMESA", "Promesa de pago"),
        ("SIN_ACUERDO", "Sin acuerdo"),
    ],
];

const FIRST_NAMES: [&str; 8] = ["SERGIO", "CAMILO", "ANA", "LAURA", "PEDRO", "MARIA", "JUAN", "DIANA"];
const LAST_NAMES: [&str; 3] = ["FLOREZ", "PATINO", "GOMEZ"];

pub(super) fn agent_extension(k: usize) -> String {
    (12_500 + k * 7).to_string()
}

pub(super) fn agent_name(k: usize) -> String {
    let k = k % AGENTS as usize;
    format!("{} {}", FIRST_NAMES[k % 8], LAST_NAMES[k / 8 % 3])
}

pub(super) fn agent_dni(k: usize) -> String {
    (98_570_460 + k * 1_013).to_string()
}

pub(super) fn customer_name(pick: u64) -> String {
    let first = FIRST_NAMES[(pick % 8) as usize];
    let last = LAST_NAMES[(pick / 8 % 3) as usize];
    format!("{}{} {last}", &first[..1], first[1..].to_lowercase())
}

/// Which fixed pool a key field's values come from.
pub(super) enum Dimension {
    Agent,
    Skill,
    Code,
    Other,
}

pub(super) fn dimension(name: &str) -> Dimension {
    match name {
        "agent_id" | "id_agent" | "agent_dni" | "agent_name" | "name_agent" => Dimension::Agent,
        "skill_id" | "skill_name" => Dimension::Skill,
        "cod_act" | "description_cod_act" => Dimension::Code,
        _ => Dimension::Other,
    }
}

/// Fields whose values come from a fixed pool; they never show a placeholder.
pub(super) fn is_pooled(name: &str) -> bool {
    !matches!(dimension(name), Dimension::Other) || pool(name).is_some()
}

/// The fixed values of the enumerated fields.
pub(super) fn pool(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "channel" | "chanel" => &["whatsapp", "facebook", "instagram", "webchat", "email", "voice"],
        "nlp_channel" => &["whatsapp", "webchat", "voice"],
        "type_interaction" => &["inbound", "outbound", "internal call", "chat-whatsapp", "conference"],
        "result" | "skill_result" | "call_result" => {
            &["ANSWER", "Busy", "No answer", "Congestion", "Cancel", "Chanunavail"]
        }
        "feeling" => &["very negative", "negative", "neutral", "positive", "very positive"],
        "hang_up" | "hung_up" | "last_sender" | "last_participant_who_spoke" => &["agent", "customer"],
        "agent_status" => &["Ready", "Talk", "ACW", "Almuerzo", "Break"],
        "aux_state" => &["Almuerzo", "Break", "Capacitación", "Baño"],
        "type_action" => &["hold", "mute"],
        "type_call" => &["outbound_ma", "inbound", "preview"],
        "status" => &["open", "close", "archived"],
        "language" => &["es-CO", "en-US", "pt-BR"],
        "type_nlp" => &["intent", "entities", "summary", "sentiment"],
        "type_of_row" => &["customer", "attempt"],
        "type_error" => &["critical", "non critical"],
        "media_type" => &["image", "video"],
        "source_type" => &["ad", "post"],
        "machinecode" => &["ANSWER", "AMD", "NOANSWER", "BUSY", "FAILED"],
        "id_type" => &["CC", "CE", "NIT"],
        "campaign_id" | "campaing_id" => &["201", "202", "203"],
        "rp_id" => &["34", "35", "36", "37"],
        "rp_name" => &["IVR principal", "Bot ventas", "Bot soporte", "Encuesta"],
        "cod_opc_menu" => &["1", "2", "3", "4", "5"],
        "operation" => &["release", "update"],
        "item" => &["telephone", "email", "address"],
        "survey" => &["Calidad voz", "Calidad chat", "Ventas"],
        "category" => &["Saludo", "Gestión", "Cierre"],
        "attribute" => &["Saluda", "Verifica datos", "Ofrece producto", "Empatía", "Se despide"],
        "yes/no" => &["yes", "no"],
        BUCKET => &["0_5_seg", "6_20_seg", "21_60_seg", "61_120_seg", "greater_than_121"],
        _ => return None,
    })
}
