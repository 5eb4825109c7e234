//! The simulator's deterministic report data: which rows exist, and which of them the API would
//! show at a given moment.
//!
//! Everything here is a pure function of `(seed, rows_per_hour, window, now)`: no I/O, no global
//! state, no wall clock. The invariant it protects is that a row is a fixed fact of the seed — the
//! same `(seed, minute, index)` always yields the same chat with the same timestamps — while *what
//! is visible* of it depends only on `now`. That is what lets tests compare what a client stored
//! against [`report_rows`] computed independently, and lets a re-read of an old window show late
//! rows and changed typifications exactly as the real API does.
//!
//! chat_14 has its own hand-written generator (its data is pinned by tests). Every other report
//! is served by a generic generator driven by the catalogue (see [`rows_for`]): event reports
//! get one row per generated event, aggregates sum the events of their window or slot, all in
//! the formats of each field's type.
//!
//! All times are naive local times in the operation's zone, because that is what the API speaks.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};
use serde_json::{Map, Value};

use crate::wolkvox::catalog::{self, DataShape, Field, FieldType, Grain, Report, BUCKET, DAY};

/// One report row as served: every field a JSON string, keyed by the API's field names.
pub type Row = Map<String, Value>;

/// The rows report `api` answers for `[from, to_inclusive]` at `now_local` with the catalogue's
/// default parameters (see [`rows_for`]); event rows newest first (chat_14: ties broken by
/// ascending id).
///
/// Unknown names have no rows; the server rejects unknown names before it gets here, so an empty
/// answer means "no data" (HTTP 404).
pub fn report_rows(
    api: &str,
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now_local: NaiveDateTime,
) -> Vec<Row> {
    newest_report_rows(api, seed, rows_per_hour, from, to_inclusive, now_local, usize::MAX)
}

/// The first `limit` rows of [`report_rows`], without generating the older ones.
///
/// The server needs this so that a 31-day window at a high density costs `limit` rows of memory
/// and work rather than millions, exactly as the API truncates it.
pub fn newest_report_rows(
    api: &str,
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now_local: NaiveDateTime,
    limit: usize,
) -> Vec<Row> {
    let Some(report) = catalog::find(api) else {
        return Vec::new();
    };
    let ask = Ask { api, from, to: to_inclusive, params: report.params };
    rows_for(&ask, seed, rows_per_hour, now_local, limit)
}

/// The chat_14 (click-to-WhatsApp detail) rows visible at `now_local` whose `date` lies in
/// `[from, to_inclusive]`, newest `date` first, ties by ascending numeric `chat_id`.
///
/// Each minute `m` (minutes since 1970-01-01 00:00 local) holds
/// `((m+1)·rph)/60 − (m·rph)/60` chats, so any whole hour holds exactly `rows_per_hour` rows.
/// A row becomes visible some time after its `date` (usually within 2 minutes, 10% of rows
/// 10–180 minutes late), and its `cod_act` stays empty until the chat is typified 5–40 minutes
/// after its `date`. `rows_per_hour` is capped at [`MAX_ROWS_PER_HOUR`].
pub fn chat_14_rows(
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now_local: NaiveDateTime,
) -> Vec<Row> {
    newest_chat_14_rows(seed, rows_per_hour, from, to_inclusive, now_local, usize::MAX)
}

/// The first `limit` rows of [`chat_14_rows`].
fn newest_chat_14_rows(
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now_local: NaiveDateTime,
    limit: usize,
) -> Vec<Row> {
    // A row can never be visible before its own date (delays are non-negative), so minutes after
    // `now` need not be generated at all; this keeps a window that reaches into the future cheap.
    let last = to_inclusive.min(now_local);
    // Beyond this a minute would hold 1000+ rows and `chat_id = minute·1000 + index` would repeat.
    let rows_per_hour = rows_per_hour.min(MAX_ROWS_PER_HOUR);
    if last < from || rows_per_hour == 0 {
        return Vec::new();
    }
    let sources = Source::pool(seed);
    let agents = agent_pool(seed);
    let first_minute = minute_of(from);
    let last_minute = minute_of(last);

    let mut chats = Vec::new();
    // Newest minute first: every row of an older minute sorts after every row of a newer one, so
    // once a whole minute has brought the count to `limit`, no older row can make the cut.
    for minute in (first_minute..=last_minute).rev() {
        if chats.len() >= limit {
            break;
        }
        for index in 0..rows_in_minute(minute, rows_per_hour) {
            let Some(chat) = Chat::generate(seed, minute, index) else {
                continue;
            };
            if chat.date < from || chat.date > to_inclusive || chat.visible_at > now_local {
                continue;
            }
            chats.push(chat);
        }
    }
    chats.sort_unstable_by(|a, b| b.date.cmp(&a.date).then(a.chat_id.cmp(&b.chat_id)));
    chats.truncate(limit);
    chats.iter().map(|chat| chat.to_row(&sources, &agents, now_local)).collect()
}

/// How many rows minute `minute` holds at `rows_per_hour`.
///
/// The difference of two floors spreads the hourly rate over minutes with no drift: summed over
/// any whole hour it is exactly `rows_per_hour`, and no minute differs from another by more
/// than one row.
pub(crate) fn rows_in_minute(minute: i64, rows_per_hour: u32) -> u32 {
    let rph = i64::from(rows_per_hour);
    let count = ((minute + 1) * rph).div_euclid(60) - (minute * rph).div_euclid(60);
    // Floors of a non-decreasing sequence never step backwards and step by at most
    // ceil(u32::MAX / 60), so the difference always fits; the fallback is unreachable.
    u32::try_from(count).unwrap_or(0)
}

/// The minute index of `t`: whole minutes since 1970-01-01 00:00:00 (naive local).
fn minute_of(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp().div_euclid(60)
}

/// The start of minute `minute` as a naive local time, if representable.
fn minute_start(minute: i64) -> Option<NaiveDateTime> {
    let seconds = minute.checked_mul(60)?;
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc())
}

/// Salts keep the independent random choices of one row uncorrelated.
mod salt {
    pub const SECOND: u64 = 1;
    pub const LATE: u64 = 2;
    pub const DELAY: u64 = 3;
    pub const TYPIFY: u64 = 4;
    pub const CODE: u64 = 5;
    pub const SOURCE: u64 = 6;
    pub const AGENT: u64 = 7;
    pub const ROUTING_POINT: u64 = 8;
    pub const SOURCE_ID: u64 = 9;
    pub const SOURCE_TYPE: u64 = 10;
    pub const MEDIA_TYPE: u64 = 11;
    pub const MEDIA_URL: u64 = 12;
    pub const AGENT_ID: u64 = 13;
    pub const ROW: u64 = 14;
}

/// The splitmix64 finaliser: a cheap bijective mix with good avalanche.
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit hash of one random choice: chaining `mix` so that every input changes every bit.
fn hash(seed: u64, minute: i64, index: u32, salt: u64) -> u64 {
    // `as u64` on the minute is a deliberate bit-reinterpretation: only distinctness matters.
    let h = mix(seed ^ mix(salt));
    let h = mix(h ^ minute as u64);
    mix(h ^ u64::from(index))
}

/// A uniform draw in `lo..=hi` (the modulo bias is below 1e-15 for these ranges).
fn uniform(h: u64, lo: u64, hi: u64) -> u64 {
    lo + h % (hi - lo + 1)
}

/// The highest chat_14 density whose chat ids stay unique (fewer than 1000 rows per minute).
pub const MAX_ROWS_PER_HOUR: u32 = 60_000;

/// The typification codes a chat ends up with.
const CODES: [&str; 4] = ["VENTA", "NO_INTERESADO", "INFORMACION", "TIMEOUTCHAT"];
/// How many ads/posts a simulated operation advertises; chats cluster on them as in real data.
const SOURCES: u32 = 16;
/// How many agents answer chats.
const AGENTS: u32 = 24;
/// Share of chats (in percent) the bot closes without an agent, which leaves `agent_id` empty.
const BOT_KEPT_PERCENT: u64 = 25;

/// The fixed facts of one chat, before they are rendered as strings.
struct Chat {
    seed: u64,
    minute: i64,
    index: u32,
    chat_id: i64,
    date: NaiveDateTime,
    /// When the row first appears in the API.
    visible_at: NaiveDateTime,
    /// When `cod_act` stops being empty.
    typified_at: NaiveDateTime,
}

impl Chat {
    /// The chat number `index` of minute `minute`; `None` only for times chrono cannot represent
    /// (hundreds of millennia away), which are simply skipped.
    fn generate(seed: u64, minute: i64, index: u32) -> Option<Chat> {
        let start = minute_start(minute)?;
        let second = uniform(hash(seed, minute, index, salt::SECOND), 0, 59);
        let date = start.checked_add_signed(TimeDelta::seconds(second as i64))?;
        let delay_h = hash(seed, minute, index, salt::DELAY);
        let delay = if hash(seed, minute, index, salt::LATE) % 10 == 0 {
            uniform(delay_h, 10 * 60, 180 * 60)
        } else {
            uniform(delay_h, 0, 120)
        };
        let typify = uniform(hash(seed, minute, index, salt::TYPIFY), 5 * 60, 40 * 60);
        Some(Chat {
            seed,
            minute,
            index,
            // Unique because a minute never holds 1000 rows (rows_per_hour <= 60_000).
            chat_id: minute * 1000 + i64::from(index),
            date,
            visible_at: date.checked_add_signed(TimeDelta::seconds(delay as i64))?,
            typified_at: date.checked_add_signed(TimeDelta::seconds(typify as i64))?,
        })
    }

    /// The row as the API serves it at `now_local`.
    fn to_row(&self, sources: &[Source], agents: &[String], now_local: NaiveDateTime) -> Row {
        let draw = |salt| hash(self.seed, self.minute, self.index, salt);
        // Indexing by `% len` cannot go out of bounds: both pools have a fixed, non-zero size.
        let source = &sources[(draw(salt::SOURCE) % sources.len() as u64) as usize];
        let agent_h = draw(salt::AGENT);
        let agent_id = if agent_h % 100 < BOT_KEPT_PERCENT {
            ""
        } else {
            agents[((agent_h / 100) % agents.len() as u64) as usize].as_str()
        };
        let rp_id = 34 + draw(salt::ROUTING_POINT) % 4;
        let cod_act =
            if now_local >= self.typified_at { CODES[(draw(salt::CODE) % CODES.len() as u64) as usize] } else { "" };

        let mut row = Map::new();
        let mut put = |name: &str, value: String| {
            row.insert(name.to_owned(), Value::String(value));
        };
        put("source_url", source.url.clone());
        put("source_type", source.kind.to_owned());
        put("source_id", source.id.clone());
        put("chat_id", self.chat_id.to_string());
        put("rp_id", rp_id.to_string());
        put("agent_id", agent_id.to_owned());
        put("media_type", source.media_type.to_owned());
        put("media_url", source.media_url.clone());
        put("date", format_datetime(self.date));
        put("cod_act", cod_act.to_owned());
        row
    }
}

/// One ad or post that chats start from; its fields repeat on every chat it brings in.
struct Source {
    id: String,
    url: String,
    kind: &'static str,
    media_type: &'static str,
    media_url: String,
}

impl Source {
    /// The operation's ads and posts for `seed`.
    fn pool(seed: u64) -> Vec<Source> {
        (0..SOURCES)
            .map(|k| {
                let id =
                    uniform(hash(seed, -1, k, salt::SOURCE_ID), 100_000_000_000_000, 999_999_999_999_999).to_string();
                let kind = if hash(seed, -1, k, salt::SOURCE_TYPE) % 10 < 7 { "ad" } else { "post" };
                let media_type = if hash(seed, -1, k, salt::MEDIA_TYPE) % 10 < 7 { "image" } else { "video" };
                let media_url = format!("https://scontent.example/{:016x}.jpg", hash(seed, -1, k, salt::MEDIA_URL));
                Source { url: format!("https://fb.me/{id}"), id, kind, media_type, media_url }
            })
            .collect()
    }
}

/// The operation's agents' 5-digit extensions for `seed`.
fn agent_pool(seed: u64) -> Vec<String> {
    (0..AGENTS).map(|k| uniform(hash(seed, -2, k, salt::AGENT_ID), 10_000, 99_999).to_string()).collect()
}

/// `YYYY-MM-DD HH:MM:SS`, the API's datetime form.
///
/// Hand-rolled because chrono's general formatter dominates the cost of a 150k-row answer.
pub(crate) fn format_datetime(t: NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

// ---------------------------------------------------------------------------------------------
// Every other report: a generic generator driven by the catalogue.
//
// Each report has its own stream of *events* (a fixed fact of `(seed, report, stream, minute,
// index)`, like chat_14's chats): at most 24 a minute, each on a distinct second, so an event
// report's timestamp alone is unique. Event reports render one row per event; aggregates are
// sums over the events of their window (or slot) that are visible at `now`, grouped by a fixed
// set of key values ("entities"). So a whole day's aggregate is that day's totals, today's grow
// as time passes, two half days add up to the whole day, and an entity without events in a
// window is absent.

/// What one request asks for: the report, its inclusive window and its parameters.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The `api=` value.
    pub api: &'a str,
    /// `date_ini`, local.
    pub from: NaiveDateTime,
    /// `date_end`, local and inclusive.
    pub to: NaiveDateTime,
    /// The request's extra parameters; only `cod_act` (act_*, the code group) and `agent_id`
    /// (agent_2) change the data.
    pub params: &'a [(&'a str, &'a str)],
}

impl Ask<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// The first `limit` rows that answer `ask` at `now_local`, exactly as served (before any
/// flattening): event reports newest first, aggregates in key order (dated ones newest slot
/// first). cdr_4 answers a single row: the bucket object the API sends as `data`.
pub fn rows_for(ask: &Ask<'_>, seed: u64, rows_per_hour: u32, now_local: NaiveDateTime, limit: usize) -> Vec<Row> {
    if ask.api == "chat_14" {
        return newest_chat_14_rows(seed, rows_per_hour, ask.from, ask.to, now_local, limit);
    }
    let Some(report) = catalog::find(ask.api) else {
        return Vec::new();
    };
    let generator = Generator::new(report, ask, seed, rows_per_hour);
    let mut rows = match (report.grain, report.slot_minutes) {
        (Grain::Event, None) => generator.event_rows(ask.from, ask.to, now_local, limit),
        (Grain::Event, Some(slot)) => generator.dated_rows(ask.from, ask.to, now_local, slot),
        (Grain::IntervalAggregate, slot) => generator.aggregate_rows(ask.from, ask.to, now_local, slot.unwrap_or(60)),
        (Grain::WindowAggregate, _) => generator.aggregate_rows(ask.from, ask.to, now_local, 0),
    };
    if report.data_shape == DataShape::BucketObject && !rows.is_empty() {
        let object: Row = rows
            .into_iter()
            .filter_map(|mut row| {
                let bucket = row.remove(BUCKET)?;
                Some((bucket.as_str()?.to_owned(), Value::Object(row)))
            })
            .collect();
        rows = vec![object];
    }
    rows.truncate(limit);
    rows
}

/// The most events a generic report has per hour: 24 a minute, each on its own second.
const MAX_EVENTS_PER_HOUR: u32 = 24 * 60;
/// How many of `rows_per_hour` a generic report gets (a full-catalogue sync stays quick).
const DENSITY_DIVISOR: u32 = 4;

/// One generic event: a fixed fact of the seed, like a chat_14 chat.
struct Event {
    minute: i64,
    index: u32,
    /// The event's own randomness; every field draws from it with its own salt.
    h: u64,
    date: NaiveDateTime,
    visible_at: NaiveDateTime,
    typified_at: NaiveDateTime,
}

/// Who or what a row is about: indexes into the fixed pools, plus one digit per key axis.
#[derive(Clone, Copy, Default)]
struct Ctx {
    agent: usize,
    skill: usize,
    code: usize,
    /// The row's own draw, for fields that are not tied to a pool.
    h: u64,
}

/// A key field of an aggregate and how many distinct values it takes.
struct Axis {
    name: &'static str,
    radix: usize,
}

struct Generator {
    report: &'static Report,
    seed: u64,
    rate: u32,
    /// The cod_act group (0 for `cod_act1`, 1 for `cod_act2`).
    group: usize,
    /// agent_2's `agent_id` parameter.
    agent_id: Option<String>,
    axes: Vec<Axis>,
}

impl Generator {
    fn new(report: &'static Report, ask: &Ask<'_>, seed: u64, rows_per_hour: u32) -> Generator {
        let group = usize::from(ask.param("cod_act") == Some("cod_act2"));
        let agent_id = (report.api == "agent_2")
            .then(|| ask.param("agent_id").filter(|a| !a.is_empty()).unwrap_or("12523"))
            .map(str::to_owned);
        let mut rate = (rows_per_hour / DENSITY_DIVISOR).min(MAX_EVENTS_PER_HOUR);
        if rows_per_hour > 0 {
            rate = rate.max(1);
        }
        if agent_id.is_some() {
            // One agent's own events: at most one a minute.
            rate = rate.min(60);
        }
        let salt = name_salt(report.api) ^ (group as u64).wrapping_mul(0x51);
        let axes = report
            .key
            .iter()
            .filter(|k| !matches!(**k, DAY | catalog::STREAM | "hour" | "date"))
            .filter(|k| report.field(k).is_some_and(|f| f.ty == FieldType::Text))
            .enumerate()
            .map(|(i, name)| Axis { name, radix: radix(name, i == 0) })
            .collect();
        Generator { report, seed: mix(seed ^ salt), rate, group, agent_id, axes }
    }

    fn event(&self, minute: i64, index: u32) -> Option<Event> {
        let start = minute_start(minute)?;
        let rotate = hash(self.seed, minute, 0, salt::SECOND) % 60;
        // 7 is coprime with 60, so the (at most 24) events of a minute get distinct seconds.
        let second = (rotate + u64::from(index) * 7) % 60;
        let date = start.checked_add_signed(TimeDelta::seconds(second as i64))?;
        let delay_h = hash(self.seed, minute, index, salt::DELAY);
        let delay = if hash(self.seed, minute, index, salt::LATE) % 10 == 0 {
            uniform(delay_h, 10 * 60, 180 * 60)
        } else {
            uniform(delay_h, 0, 120)
        };
        let typify = uniform(hash(self.seed, minute, index, salt::TYPIFY), 5 * 60, 40 * 60);
        Some(Event {
            minute,
            index,
            h: hash(self.seed, minute, index, salt::ROW),
            date,
            visible_at: date.checked_add_signed(TimeDelta::seconds(delay as i64))?,
            typified_at: date.checked_add_signed(TimeDelta::seconds(typify as i64))?,
        })
    }

    /// The visible events dated in `[from, to]`, newest first, at most `limit` (whole minutes).
    fn events(&self, from: NaiveDateTime, to: NaiveDateTime, now: NaiveDateTime, limit: usize) -> Vec<Event> {
        let last = to.min(now);
        if last < from || self.rate == 0 {
            return Vec::new();
        }
        let mut events = Vec::new();
        for minute in (minute_of(from)..=minute_of(last)).rev() {
            if events.len() >= limit {
                break;
            }
            for index in 0..rows_in_minute(minute, self.rate) {
                let Some(event) = self.event(minute, index) else {
                    continue;
                };
                if event.date >= from && event.date <= to && event.visible_at <= now {
                    events.push(event);
                }
            }
        }
        events.sort_unstable_by_key(|e| std::cmp::Reverse(e.date));
        events.truncate(limit);
        events
    }

    fn draw(h: u64, name: &str) -> u64 {
        mix(h ^ name_salt(name))
    }

    /// Rows of an event report, one per event (chat_2: with its `conversation[]`).
    fn event_rows(&self, from: NaiveDateTime, to: NaiveDateTime, now: NaiveDateTime, limit: usize) -> Vec<Row> {
        self.events(from, to, now, limit).iter().map(|event| self.event_row(event, now)).collect()
    }

    fn event_row(&self, event: &Event, now: NaiveDateTime) -> Row {
        let report = self.report;
        let ctx = Ctx {
            agent: (Self::draw(event.h, "agent") % u64::from(AGENTS)) as usize,
            skill: (Self::draw(event.h, "skill") % SKILLS.len() as u64) as usize,
            code: (Self::draw(event.h, "code") % 4) as usize,
            h: event.h,
        };
        let mut row = Row::new();
        for field in report.api_fields() {
            if report.nested_fields.contains(&field.name) {
                continue;
            }
            let value = self.event_value(field, event, &ctx, now);
            row.insert(field.name.to_owned(), Value::String(value));
        }
        if let Some(array) = report.nested {
            let messages = 2 + Self::draw(event.h, "messages") % 3;
            let elements = (0..messages)
                .map(|k| {
                    let mut element = Row::new();
                    let at = event.date + TimeDelta::seconds(k as i64 * 17);
                    for name in report.nested_fields {
                        let value = match *name {
                            "date" => format_datetime(at),
                            "from" | "from_name" | "to_name" => {
                                let customer = k % 2 == 0;
                                match (*name, customer) {
                                    ("from", true) => "customer".to_owned(),
                                    ("from", false) => "agent".to_owned(),
                                    ("from_name", true) | ("to_name", false) => customer_name(event.h),
                                    _ => agent_name(ctx.agent),
                                }
                            }
                            "message" => format!("mensaje {k} de {}", event.index),
                            other => self.text(other, Self::draw(event.h, other), &ctx),
                        };
                        element.insert((*name).to_owned(), Value::String(value));
                    }
                    Value::Object(element)
                })
                .collect();
            row.insert(array.to_owned(), Value::Array(elements));
        }
        if report.api == "chat_1" {
            // The real chat_1 sends an undocumented close date, and sometimes its last key with
            // a trailing space: the client must trim keys and keep unknown ones in `raw`.
            let close = event.date + TimeDelta::seconds((event.h % 3600) as i64);
            row.insert("date_close".to_owned(), Value::String(format_datetime(close)));
            if event.h % 3 == 0 {
                if let Some(value) = row.remove("agent_anwers") {
                    row.insert("agent_anwers ".to_owned(), value);
                }
            }
        }
        row
    }

    fn event_value(&self, field: &Field, event: &Event, ctx: &Ctx, now: NaiveDateTime) -> String {
        let name = field.name;
        let d = Self::draw(event.h, name);
        let key = self.report.key.contains(&name);
        let optional = !key && d % 20 == 7;
        match field.ty {
            FieldType::Timestamp if self.report.timestamp == Some(name) => format_datetime(event.date),
            FieldType::Timestamp if optional => "-".to_owned(),
            FieldType::Timestamp => format_datetime(event.date + TimeDelta::seconds((d % 3600) as i64)),
            FieldType::Date => format_date(event.date),
            FieldType::Time => format!("{:02}:00", event.date.hour()),
            FieldType::Integer => integer(d % if name.contains("chars") { 4000 } else { 20 }),
            FieldType::Duration => self.duration(name, (d % 3600) as i64, d),
            FieldType::Decimal => decimal(d % 2000, name),
            FieldType::Percent => percent(d % 10_000, name),
            FieldType::Boolean => yes_no(d),
            FieldType::Text => {
                if let Some(unique) = unique_text(name, event) {
                    return unique;
                }
                if matches!(name, "cod_act" | "description_cod_act") && now < event.typified_at {
                    return String::new();
                }
                if optional && !is_pooled(name) {
                    return "-".to_owned();
                }
                self.text(name, d, ctx)
            }
        }
    }

    /// A duration in the report's format: seconds for the fields documented in seconds.
    fn duration(&self, name: &str, seconds: i64, d: u64) -> String {
        let plain = match (self.report.api, name) {
            ("cdr_1", "time_seg") | ("skill_2", "abandon_time") | ("cdr_5", "ring_time") => true,
            ("diagram_7", "time") | ("speech_1", "time" | "time_silence") => true,
            (api, "asa" | "ata") => api.starts_with("skill_"),
            // Disputed format: both forms occur.
            ("chat_1", "chat_duration") => d % 2 == 0,
            _ => false,
        };
        if plain {
            seconds.to_string()
        } else {
            hms(seconds)
        }
    }

    /// A text value for `name`, picked by `pick` from its pool or generated from it. Distinct
    /// small picks give distinct values, which aggregates rely on for their keys.
    fn text(&self, name: &str, pick: u64, ctx: &Ctx) -> String {
        let pick_in = |list: &[&str]| list[(pick % list.len() as u64) as usize].to_owned();
        let codes = &CODE_GROUPS[self.group];
        match name {
            "agent_id" | "id_agent" => match &self.agent_id {
                Some(agent) => agent.clone(),
                None => agent_extension(ctx.agent),
            },
            "agent_name" | "name_agent" | "greeting_agent_name" => agent_name(ctx.agent),
            "agent_dni" => agent_dni(ctx.agent),
            "skill_id" => (101 + ctx.skill).to_string(),
            "skill_name" => SKILLS[ctx.skill].to_owned(),
            "cod_act" => codes[ctx.code].0.to_owned(),
            "description_cod_act" => codes[ctx.code].1.to_owned(),
            "cod_act_2" | "last_code_act" => CODE_GROUPS[1][(pick % 4) as usize].0.to_owned(),
            "description_cod_act_2" => CODE_GROUPS[1][(pick % 4) as usize].1.to_owned(),
            "customer_name" | "customer_last_name" | "quality_analyst" => customer_name(pick),
            _ => {
                if let Some(list) = pool(name) {
                    return pick_in(list);
                }
                if name.contains("phone") || matches!(name, "telephone" | "ani" | "dnis" | "destiny" | "destinity") {
                    format!("573{:09}", 100_000_000 + pick % 900_000_000)
                } else if name.contains("email") || matches!(name, "from" | "to") {
                    format!("cliente{}@example.com", pick % 10_000)
                } else if name.ends_with("_name") {
                    agent_name((pick % u64::from(AGENTS)) as usize)
                } else if name.ends_with("_dni") {
                    agent_dni((pick % u64::from(AGENTS)) as usize)
                } else if name.ends_with("_id") || name.starts_with("id_") {
                    (100 + pick % 9_900).to_string()
                } else if name.ends_with("url") {
                    format!("https://example.com/{}", pick % 10_000)
                } else {
                    format!("{name} {}", pick % 1_000)
                }
            }
        }
    }

    /// The entity `e` as axis digits and the pools they select.
    fn entity(&self, e: usize) -> (Vec<usize>, Ctx) {
        let mut rest = e;
        let mut digits = Vec::with_capacity(self.axes.len());
        let mut ctx =
            Ctx { agent: e % AGENTS as usize, skill: e % SKILLS.len(), code: e % 4, h: mix(self.seed ^ e as u64) };
        for axis in &self.axes {
            let digit = rest % axis.radix;
            rest /= axis.radix;
            match dimension(axis.name) {
                Dimension::Agent => ctx.agent = digit,
                Dimension::Skill => ctx.skill = digit,
                Dimension::Code => ctx.code = digit,
                Dimension::Other => {}
            }
            digits.push(digit);
        }
        (digits, ctx)
    }

    fn entities(&self) -> usize {
        self.axes.iter().map(|a| a.radix).product()
    }

    /// Sums the visible events of `[from, to]` per (entity, slot); slot 0 when `slot` is 0.
    fn accumulate(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        now: NaiveDateTime,
        slot: u32,
    ) -> BTreeMap<(usize, i64), Totals> {
        let fields = self.report.fields;
        let mut groups: BTreeMap<(usize, i64), Totals> = BTreeMap::new();
        let entities = self.entities() as u64;
        for event in self.events(from, to, now, usize::MAX) {
            let e = (Self::draw(event.h, "entity") % entities) as usize;
            let s = if slot == 0 { 0 } else { minute_of(event.date).div_euclid(i64::from(slot)) };
            let totals = groups.entry((e, s)).or_insert_with(|| Totals {
                count: 0,
                sums: vec![0; fields.len()],
                first: event.date,
                last: event.date,
            });
            totals.count += 1;
            totals.first = totals.first.min(event.date);
            totals.last = totals.last.max(event.date);
            for (i, field) in fields.iter().enumerate() {
                let d = Self::draw(event.h, field.name);
                totals.sums[i] += match field.ty {
                    FieldType::Integer if field.name.contains("chars") => (d % 400) as i64,
                    FieldType::Integer => (d % 4) as i64,
                    FieldType::Duration => 5 + (d % 600) as i64,
                    FieldType::Decimal => (d % 500) as i64,
                    _ => 0,
                };
            }
        }
        groups
    }

    /// Window (`slot` 0) and interval aggregates: one row per entity (and slot) with events.
    fn aggregate_rows(&self, from: NaiveDateTime, to: NaiveDateTime, now: NaiveDateTime, slot: u32) -> Vec<Row> {
        let groups = self.accumulate(from, to, now, slot);
        let rows: Vec<(usize, Row)> =
            groups.iter().map(|(&(e, s), totals)| (e, self.aggregate_row(e, s, slot, totals, now))).collect();
        match self.report.nested {
            None => rows.into_iter().map(|(_, row)| row).collect(),
            Some(array) => self.nest(array, rows),
        }
    }

    /// Folds flat rows into parents carrying a nested array (agent_5, agent_11).
    fn nest(&self, array: &str, rows: Vec<(usize, Row)>) -> Vec<Row> {
        let parent_axes: Vec<usize> = self
            .axes
            .iter()
            .enumerate()
            .filter(|(_, a)| !self.report.nested_fields.contains(&a.name))
            .map(|(i, _)| i)
            .collect();
        let mut parents: BTreeMap<Vec<usize>, Row> = BTreeMap::new();
        for (e, row) in rows {
            let (digits, _) = self.entity(e);
            let parent_key: Vec<usize> = parent_axes.iter().map(|&i| digits[i]).collect();
            let (inner, outer): (Row, Row) =
                row.into_iter().partition(|(k, _)| self.report.nested_fields.contains(&k.as_str()));
            let parent = parents.entry(parent_key).or_insert_with(|| {
                let mut parent = outer;
                parent.insert(array.to_owned(), Value::Array(Vec::new()));
                parent
            });
            if let Some(Value::Array(elements)) = parent.get_mut(array) {
                elements.push(Value::Object(inner));
            }
        }
        parents.into_values().collect()
    }

    /// Per-day / per-slot reports with their own date: every slot that overlaps the window,
    /// with the slot's whole (visible) totals, newest slot first.
    fn dated_rows(&self, from: NaiveDateTime, to: NaiveDateTime, now: NaiveDateTime, slot: u32) -> Vec<Row> {
        let first = minute_of(from).div_euclid(i64::from(slot)) * i64::from(slot);
        let last = (minute_of(to).div_euclid(i64::from(slot)) + 1) * i64::from(slot) - 1;
        let (Some(start), Some(end)) = (minute_start(first), minute_start(last)) else {
            return Vec::new();
        };
        let end = end + TimeDelta::seconds(59);
        let groups = self.accumulate(start, end, now, slot);
        let mut rows: Vec<(i64, usize, Row)> = groups
            .iter()
            .filter_map(|(&(e, s), totals)| {
                let row = self.aggregate_row(e, s, slot, totals, now);
                (!row.is_empty()).then_some((s, e, row))
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        rows.into_iter().map(|(_, _, row)| row).collect()
    }

    fn aggregate_row(&self, e: usize, s: i64, slot: u32, totals: &Totals, now: NaiveDateTime) -> Row {
        let (digits, ctx) = self.entity(e);
        let slot_start = minute_start(s * i64::from(slot)).unwrap_or_default();
        let report = self.report;
        let mut row = Row::new();
        // agent_7: one session per agent and day, its logout the report's moving "now" mark
        // while the agent is still connected.
        let session = (report.api == "agent_7").then(|| {
            let login = slot_start + TimeDelta::minutes(7 * 60 + (Self::draw(ctx.h, "login") % 60) as i64);
            let logout =
                (slot_start + TimeDelta::minutes(17 * 60 + (Self::draw(ctx.h, "logout") % 60) as i64)).min(now);
            (login, logout)
        });
        if let Some((login, logout)) = session {
            if logout <= login {
                return Row::new();
            }
        }
        for (i, field) in report.fields.iter().enumerate() {
            let name = field.name;
            if report.is_synthetic(name) && name != BUCKET {
                continue;
            }
            let value = if let Some(axis) = self.axes.iter().position(|a| a.name == name) {
                self.text(name, digits[axis] as u64, &ctx)
            } else {
                let sum = totals.sums[i];
                let count = totals.count.max(1);
                match field.ty {
                    FieldType::Time => hour_text(report.api, slot_start),
                    FieldType::Date => format_date(slot_start),
                    FieldType::Timestamp => match (session, name) {
                        (Some((login, _)), "login") => format_datetime(login),
                        (Some((_, logout)), "logout") => format_datetime(logout),
                        _ if report.api == "diagram_1_2" => {
                            format!("{}-{:02}", format_date(slot_start), slot_start.hour())
                        }
                        (_, "login") => format_datetime(totals.first),
                        _ => format_datetime(totals.last),
                    },
                    FieldType::Integer => integer(sum as u64),
                    FieldType::Duration => match session {
                        Some((login, logout)) if name == "login_time" => {
                            self.duration(name, (logout - login).num_seconds(), ctx.h)
                        }
                        _ if is_average(name) => self.duration(name, sum / count, ctx.h),
                        _ => self.duration(name, sum, ctx.h),
                    },
                    FieldType::Decimal if name == "average" || name.starts_with('q') => {
                        decimal((sum / count) as u64, name)
                    }
                    FieldType::Decimal => decimal(sum as u64, name),
                    FieldType::Percent => percent((totals.count as u64 * 7_919 + e as u64 * 131) % 10_000, name),
                    FieldType::Boolean => yes_no(Self::draw(ctx.h, name)),
                    FieldType::Text => self.text(name, Self::draw(ctx.h, name), &ctx),
                }
            };
            row.insert(name.to_owned(), Value::String(value));
        }
        row
    }
}

/// The sums of one (entity, slot) group.
struct Totals {
    count: i64,
    /// Per field of the report (by index): the sum of its per-event units.
    sums: Vec<i64>,
    first: NaiveDateTime,
    last: NaiveDateTime,
}

/// Which fixed pool a key field's values come from.
enum Dimension {
    Agent,
    Skill,
    Code,
    Other,
}

fn dimension(name: &str) -> Dimension {
    match name {
        "agent_id" | "id_agent" | "agent_dni" | "agent_name" | "name_agent" => Dimension::Agent,
        "skill_id" | "skill_name" => Dimension::Skill,
        "cod_act" | "description_cod_act" => Dimension::Code,
        _ => Dimension::Other,
    }
}

/// Fields whose values come from a fixed pool; they never show a placeholder.
fn is_pooled(name: &str) -> bool {
    !matches!(dimension(name), Dimension::Other) || pool(name).is_some()
}

/// How many distinct values an aggregate's key field takes: the first axis more than the rest.
fn radix(name: &str, first: bool) -> usize {
    let cap = if first { 6 } else { 3 };
    match dimension(name) {
        Dimension::Agent => cap,
        Dimension::Skill => SKILLS.len().min(cap),
        Dimension::Code => 4.min(cap),
        Dimension::Other => pool(name).map_or(cap, |p| p.len().min(cap)),
    }
}

/// Averages among the duration fields (the rest are sums).
fn is_average(name: &str) -> bool {
    name.starts_with("aht") || matches!(name, "asa" | "ata" | "att" | "acw" | "tmo" | "ASA" | "wait_time")
}

/// Values unique to one event, for the id fields that key event reports.
fn unique_text(name: &str, event: &Event) -> Option<String> {
    let serial = event.minute * 24 + i64::from(event.index);
    // The call ids embed the call's Unix epoch (UTC−5 local + 5 h), as the real ones do.
    let epoch = event.date.and_utc().timestamp() + 5 * 3600;
    Some(match name {
        "conn_id" | "connect_id" | "id_call" | "conn_id_transfer" => {
            format!("6736.4628.{epoch}.{}", event.index)
        }
        "id_call_origin" => format!("6736.4628.{}.{}", epoch - 60, event.index),
        "chat_id" | "case_id" | "id_text" | "protected_nit" => serial.to_string(),
        "session_id" => format!("57{:010}.6736.{}", serial % 10_000_000_000, event.index),
        "telephone" | "ani" | "customer_phone" => format!("57{:010}", serial % 10_000_000_000),
        _ => return None,
    })
}

/// The fixed values of the enumerated fields.
fn pool(name: &str) -> Option<&'static [&'static str]> {
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

/// The operation's skills (ids 101…).
const SKILLS: [&str; 4] = ["Ventas", "Soporte", "Cobranza", "Retencion"];

/// The two typification code groups (`cod_act1`, `cod_act2`): codes and their labels.
const CODE_GROUPS: [[(&str, &str); 4]; 2] = [
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

fn agent_extension(k: usize) -> String {
    (12_500 + k * 7).to_string()
}

fn agent_name(k: usize) -> String {
    let k = k % AGENTS as usize;
    format!("{} {}", FIRST_NAMES[k % 8], LAST_NAMES[k / 8 % 3])
}

fn agent_dni(k: usize) -> String {
    (98_570_460 + k * 1_013).to_string()
}

fn customer_name(pick: u64) -> String {
    let first = FIRST_NAMES[(pick % 8) as usize];
    let last = LAST_NAMES[(pick / 8 % 3) as usize];
    format!("{}{} {last}", &first[..1], first[1..].to_lowercase())
}

/// A stable salt for a name (FNV-1a), so each field draws independently.
pub(super) fn name_salt(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `H:MM:SS` with at least two hour digits; hours may pass 24 (`"41:06:00"`).
fn hms(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `1234` → `"1,234"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count as the API writes it: plain, or with thousands commas when large.
fn integer(n: u64) -> String {
    if n >= 1000 && n % 2 == 0 {
        thousands(n)
    } else {
        n.to_string()
    }
}

/// Hundredths as a decimal (`"12.34"`); credits with three decimals (`"2.887"`).
fn decimal(hundredths: u64, name: &str) -> String {
    if name == "nlp_credits" {
        format!("{}.{:03}", hundredths / 1000, hundredths % 1000)
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// Basis points as the API's percentage (`"34.64 %"`, `"0 %"`, sometimes `"15,233.33 %"`).
fn percent(basis_points: u64, name: &str) -> String {
    let bp = if name == "preview_percent" && basis_points % 7 == 0 { basis_points * 50 } else { basis_points };
    if bp == 0 {
        return "0 %".to_owned();
    }
    format!("{}.{:02} %", thousands(bp / 100), bp % 100)
}

fn yes_no(d: u64) -> String {
    if d % 2 == 0 { "yes" } else { "no" }.to_owned()
}

/// The slot's hour as each report writes it (`"13:00"`, `"09"`, `"9"`, `"09:30"`).
fn hour_text(api: &str, t: NaiveDateTime) -> String {
    match api {
        "skill_4" => format!("{:02}", t.hour()),
        "skill_5" => t.hour().to_string(),
        _ => format!("{:02}:{:02}", t.hour(), t.minute()),
    }
}

/// `YYYY-MM-DD`.
fn format_date(t: NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wolkvox::catalog;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// Far enough ahead that every row is visible and typified.
    fn much_later() -> NaiveDateTime {
        at("2030-01-01 00:00:00")
    }

    fn field<'a>(row: &'a Row, name: &str) -> &'a str {
        row[name].as_str().unwrap()
    }

    fn find_chat(seed: u64, pred: impl Fn(&Chat) -> bool) -> Chat {
        let first = minute_of(at("2026-03-10 08:00:00"));
        (first..first + 10_000)
            .flat_map(|m| (0..rows_in_minute(m, 120)).map(move |i| (m, i)))
            .filter_map(|(m, i)| Chat::generate(seed, m, i))
            .find(|c| pred(c))
            .unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_seed_gives_different_ones() {
        let (from, to) = (at("2026-03-10 00:00:00"), at("2026-03-10 05:59:59"));
        let a = chat_14_rows(42, 120, from, to, much_later());
        let b = chat_14_rows(42, 120, from, to, much_later());
        let c = chat_14_rows(43, 120, from, to, much_later());
        assert_eq!(a.len(), 720);
        assert_eq!(a, b);
        assert_eq!(c.len(), 720, "the seed changes the content, not the density");
        assert_ne!(a, c);
    }

    #[test]
    fn a_day_holds_exactly_rows_per_hour_times_24_rows() {
        for rph in [1, 7, 120, 1000] {
            let rows = chat_14_rows(1, rph, at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), much_later());
            assert_eq!(rows.len(), rph as usize * 24, "rows_per_hour = {rph}");
        }
    }

    #[test]
    fn every_hour_holds_exactly_rows_per_hour_and_minutes_differ_by_at_most_one() {
        let first = minute_of(at("2026-03-10 00:00:00"));
        for rph in [1, 59, 61, 120, 6000] {
            for hour in 0..24 {
                let minutes = (first + hour * 60..first + hour * 60 + 60).map(|m| rows_in_minute(m, rph));
                let (sum, min, max) = minutes.fold((0, u32::MAX, 0), |(s, lo, hi), n| (s + n, lo.min(n), hi.max(n)));
                assert_eq!(sum, rph);
                assert!(max - min <= 1, "rph {rph}: {min}..{max}");
            }
        }
    }

    #[test]
    fn every_row_has_every_catalogue_field_as_a_plausible_string() {
        let rows = chat_14_rows(7, 600, at("2026-03-10 10:00:00"), at("2026-03-10 11:00:00"), much_later());
        assert!(!rows.is_empty());
        let mut bot_kept = 0;
        for row in &rows {
            let names: Vec<&str> = catalog::chat_14().fields.iter().map(|f| f.name).collect();
            let mut keys: Vec<&str> = row.keys().map(String::as_str).collect();
            let mut expected = names.clone();
            keys.sort_unstable();
            expected.sort_unstable();
            assert_eq!(keys, expected);
            assert!(row.values().all(Value::is_string));
            assert!(matches!(field(row, "source_type"), "ad" | "post"));
            assert!(matches!(field(row, "media_type"), "image" | "video"));
            let source_id = field(row, "source_id");
            assert_eq!(source_id.len(), 15);
            assert!(source_id.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(field(row, "source_url"), format!("https://fb.me/{source_id}"));
            assert!(field(row, "media_url").starts_with("https://scontent.example/"));
            let agent = field(row, "agent_id");
            assert!(agent.is_empty() || (agent.len() == 5 && agent.bytes().all(|b| b.is_ascii_digit())));
            bot_kept += usize::from(agent.is_empty());
            assert!(matches!(field(row, "rp_id"), "34" | "35" | "36" | "37"));
            assert!(CODES.contains(&field(row, "cod_act")));
            at(field(row, "date"));
        }
        assert!(bot_kept > 0 && bot_kept < rows.len() / 2, "{bot_kept} of {}", rows.len());
    }

    #[test]
    fn chat_ids_are_unique_and_dates_fall_inside_the_inclusive_window() {
        let (from, to) = (at("2026-03-10 10:00:30"), at("2026-03-10 10:59:30"));
        let rows = chat_14_rows(3, 6000, from, to, much_later());
        let mut ids: Vec<&str> = rows.iter().map(|r| field(r, "chat_id")).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rows.len());
        assert!(rows.iter().all(|r| (from..=to).contains(&at(field(r, "date")))));
        // With ~100 rows a minute some land exactly on both bounds, which must be kept.
        assert!(rows.iter().any(|r| at(field(r, "date")) == from));
        assert!(rows.iter().any(|r| at(field(r, "date")) == to));
    }

    #[test]
    fn rows_come_newest_first_with_ties_broken_by_ascending_chat_id() {
        let rows = chat_14_rows(5, 6000, at("2026-03-10 10:00:00"), at("2026-03-10 10:09:59"), much_later());
        let keys: Vec<(NaiveDateTime, i64)> =
            rows.iter().map(|r| (at(field(r, "date")), field(r, "chat_id").parse().unwrap())).collect();
        assert!(keys.windows(2).all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
        assert!(keys.windows(2).any(|w| w[0].0 == w[1].0), "the test needs at least one tie");
    }

    #[test]
    fn about_one_row_in_ten_arrives_late() {
        let first = minute_of(at("2026-03-10 00:00:00"));
        let chats: Vec<Chat> = (first..first + 1440)
            .flat_map(|m| (0..rows_in_minute(m, 600)).map(move |i| (m, i)))
            .filter_map(|(m, i)| Chat::generate(9, m, i))
            .collect();
        let late = chats.iter().filter(|c| c.visible_at - c.date >= TimeDelta::minutes(10)).count();
        let share = late as f64 / chats.len() as f64;
        assert!((0.09..0.11).contains(&share), "late share {share}");
        assert!(chats.iter().all(|c| {
            let delay = c.visible_at - c.date;
            delay <= TimeDelta::seconds(120) || (TimeDelta::minutes(10)..=TimeDelta::minutes(180)).contains(&delay)
        }));
    }

    #[test]
    fn a_late_row_is_invisible_before_its_visible_time_and_visible_after() {
        let chat = find_chat(42, |c| c.visible_at - c.date >= TimeDelta::minutes(30));
        let id = chat.chat_id.to_string();
        let window = |now| chat_14_rows(42, 120, chat.date, chat.date, now);
        let has_it = |rows: Vec<Row>| rows.iter().any(|r| field(r, "chat_id") == id);
        assert!(!has_it(window(chat.date)));
        assert!(!has_it(window(chat.visible_at - TimeDelta::seconds(1))));
        assert!(has_it(window(chat.visible_at)));
        assert!(has_it(window(chat.visible_at + TimeDelta::days(3))));
    }

    #[test]
    fn cod_act_is_empty_until_the_chat_is_typified_and_filled_after() {
        let chat = find_chat(42, |c| c.typified_at > c.visible_at + TimeDelta::minutes(1));
        let id = chat.chat_id.to_string();
        let cod_act = |now| {
            let rows = chat_14_rows(42, 120, chat.date, chat.date, now);
            let row = rows.into_iter().find(|r| field(r, "chat_id") == id).unwrap();
            field(&row, "cod_act").to_owned()
        };
        assert_eq!(cod_act(chat.visible_at), "");
        assert_eq!(cod_act(chat.typified_at - TimeDelta::seconds(1)), "");
        let code = cod_act(chat.typified_at);
        assert!(CODES.contains(&code.as_str()));
        assert_eq!(cod_act(much_later()), code, "a typification never changes again");
    }

    #[test]
    fn a_window_reaching_past_now_only_shows_rows_already_visible() {
        let now = at("2026-03-10 12:00:00");
        let rows = chat_14_rows(42, 120, at("2026-03-10 11:00:00"), at("2026-03-10 13:00:00"), now);
        assert!(!rows.is_empty());
        assert!(rows.len() < 120, "recent and late rows are still missing");
        assert!(rows.iter().all(|r| at(field(r, "date")) <= now));
    }

    #[test]
    fn the_newest_rows_are_exactly_the_head_of_all_rows() {
        let (from, to) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"));
        let now = at("2026-03-10 20:00:00");
        let all = report_rows("chat_14", 11, 300, from, to, now);
        for limit in [0, 1, 7, 100, 2500, all.len(), all.len() + 1] {
            let newest = newest_report_rows("chat_14", 11, 300, from, to, now, limit);
            assert_eq!(newest, all[..limit.min(all.len())], "limit {limit}");
        }
    }

    #[test]
    fn an_empty_or_inverted_window_and_an_unknown_report_have_no_rows() {
        let (from, to) = (at("2026-03-10 10:00:00"), at("2026-03-10 10:59:59"));
        assert!(chat_14_rows(42, 120, to, from, much_later()).is_empty());
        assert!(chat_14_rows(42, 0, from, to, much_later()).is_empty());
        assert!(report_rows("no_such_report", 42, 120, from, to, much_later()).is_empty());
        assert_eq!(report_rows("chat_14", 42, 120, from, to, much_later()).len(), 120);
    }

    /// Every report's rows for a busy, settled day, as served with its default parameters.
    fn day_rows(api: &str, seed: u64) -> Vec<Row> {
        report_rows(api, seed, 120, at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), much_later())
    }

    /// The rows the ETL stores: flattened, keys trimmed, with the synthetic `day`.
    fn stored(report: &Report, rows: Vec<Row>) -> Vec<Row> {
        rows.into_iter()
            .flat_map(|row| {
                let row: Row = row.into_iter().map(|(k, v)| (k.trim().to_owned(), v)).collect();
                catalog::flatten(report, row)
            })
            .map(|mut row| {
                if report.has_day() {
                    row.insert(DAY.to_owned(), Value::String("2026-03-10".into()));
                }
                if report.is_synthetic(catalog::STREAM) {
                    row.insert(catalog::STREAM.to_owned(), Value::String(report.streams[0].into()));
                }
                row
            })
            .collect()
    }

    #[test]
    fn every_report_serves_rows_with_every_field_in_a_parseable_format() {
        use crate::wolkvox::values;
        let tz = chrono_tz::America::Bogota;
        for report in catalog::all() {
            let served = day_rows(report.api, 42);
            assert!(!served.is_empty(), "{}", report.api);
            let rows = stored(report, served);
            assert!(!rows.is_empty(), "{}", report.api);
            for row in &rows {
                for field in report.fields {
                    let value = row.get(field.name);
                    assert!(value.is_some_and(Value::is_string), "{}: {} missing in {row:?}", report.api, field.name);
                    let parsed = values::parse(value, field.ty, tz);
                    assert!(!parsed.failed, "{}.{} = {value:?} is not a {:?}", report.api, field.name, field.ty);
                    if report.key.contains(&field.name) {
                        assert!(!parsed.value.is_null(), "{}.{} is a NULL key", report.api, field.name);
                    }
                }
            }
        }
    }

    #[test]
    fn every_report_has_unique_keys_in_a_day() {
        use crate::wolkvox::values;
        let tz = chrono_tz::America::Bogota;
        for report in catalog::all() {
            let rows = stored(report, day_rows(report.api, 7));
            let mut keys: Vec<Vec<values::Typed>> = rows
                .iter()
                .map(|row| {
                    report
                        .key_indexes()
                        .into_iter()
                        .map(|i| {
                            let f = &report.fields[i];
                            values::parse(row.get(f.name), f.ty, tz).value
                        })
                        .collect()
                })
                .collect();
            let total = keys.len();
            keys.sort_by_key(|k| format!("{k:?}"));
            keys.dedup();
            assert_eq!(keys.len(), total, "{}", report.api);
        }
    }

    #[test]
    fn generic_reports_are_deterministic_per_seed() {
        for api in ["agent_1", "cdr_1", "skill_4", "chat_2", "cdr_4", "agent_7"] {
            assert_eq!(day_rows(api, 42), day_rows(api, 42), "{api}");
            assert_ne!(day_rows(api, 42), day_rows(api, 43), "{api}");
        }
    }

    #[test]
    fn two_half_days_of_a_window_aggregate_add_up_to_the_whole_day() {
        let half = |from, to| report_rows("agent_1", 3, 120, at(from), at(to), much_later());
        let calls = |rows: Vec<Row>| -> BTreeMap<String, i64> {
            rows.iter()
                .map(|r| {
                    let n = field(r, "calls").replace(',', "").parse::<i64>().unwrap();
                    (field(r, "agent_id").to_owned(), n)
                })
                .collect()
        };
        let day = calls(half("2026-03-10 00:00:00", "2026-03-10 23:59:59"));
        let am = calls(half("2026-03-10 00:00:00", "2026-03-10 11:59:59"));
        let pm = calls(half("2026-03-10 12:00:00", "2026-03-10 23:59:59"));
        assert!(day.len() > 1);
        for (agent, total) in &day {
            let parts = am.get(agent).unwrap_or(&0) + pm.get(agent).unwrap_or(&0);
            assert_eq!(parts, *total, "agent {agent}");
        }
    }

    #[test]
    fn an_aggregate_grows_as_time_passes_and_a_quiet_entity_is_absent() {
        let rows = |now| report_rows("agent_1", 3, 120, at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"), at(now));
        let total = |rows: Vec<Row>| -> i64 {
            rows.iter().map(|r| field(r, "calls").replace(',', "").parse::<i64>().unwrap()).sum()
        };
        assert!(rows("2026-03-10 00:00:30").len() <= 1);
        assert!(total(rows("2026-03-10 09:00:00")) < total(rows("2026-03-10 18:00:00")));
        assert!(rows("2026-03-09 23:00:00").is_empty());
    }

    #[test]
    fn code_groups_give_different_rows_per_stream() {
        let (from, to) = (at("2026-03-10 00:00:00"), at("2026-03-10 23:59:59"));
        let ask = |group| Ask {
            api: "act_5",
            from,
            to,
            params: if group == 1 { &[("cod_act", "cod_act1")] } else { &[("cod_act", "cod_act2")] },
        };
        let one = rows_for(&ask(1), 42, 120, much_later(), usize::MAX);
        let two = rows_for(&ask(2), 42, 120, much_later(), usize::MAX);
        assert!(!one.is_empty() && !two.is_empty());
        assert!(one.iter().all(|r| CODE_GROUPS[0].iter().any(|c| c.0 == field(r, "cod_act"))));
        assert!(two.iter().all(|r| CODE_GROUPS[1].iter().any(|c| c.0 == field(r, "cod_act"))));
    }

    #[test]
    fn interval_aggregates_have_one_row_per_busy_slot_and_nested_reports_nest() {
        let skill_4_2 = day_rows("skill_4_2", 1);
        assert!(skill_4_2.iter().any(|r| field(r, "hour") == "13:50"));
        assert!(day_rows("skill_5", 1).iter().any(|r| field(r, "hour") == "9"));
        let agent_5 = day_rows("agent_5", 1);
        assert!(agent_5.iter().all(|r| r["status_x_hour"].as_array().is_some_and(|a| !a.is_empty())));
        let cdr_4 = day_rows("cdr_4", 1);
        assert_eq!(cdr_4.len(), 1);
        assert!(cdr_4[0]["0_5_seg"].is_object());
        let chat_1 = day_rows("chat_1", 1);
        assert!(chat_1.iter().any(|r| r.contains_key("agent_anwers ")));
        assert!(chat_1.iter().all(|r| r.contains_key("date_close")));
    }
}
