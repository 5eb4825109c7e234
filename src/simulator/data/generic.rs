//! Every report but chat_14: one generic generator driven by the catalogue.
//!
//! Each report has its own stream of *events* (a fixed fact of `(seed, report, stream, minute,
//! index)`, like chat_14's chats): at most 24 a minute, each on a distinct second, so an event
//! report's timestamp alone is unique. Event reports render one row per event; aggregates are
//! sums over the events of their window (or slot) that are visible at `now`, grouped by a fixed
//! set of key values ("entities"). So a whole day's aggregate is that day's totals, today's grow
//! as time passes, two half days add up to the whole day, and an entity without events in a
//! window is absent.
//!
//! It owns the events and how each report renders them, each field in the API's own spelling
//! (`formats`' table, never the catalogue's type for the field). The invariant it protects: an
//! event, like a chat, is a fixed fact of the seed, the report, its code group and its minute;
//! the window and `now` only choose which events count and what they show.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeDelta, Timelike};
use serde_json::Value;

use super::format::{decimal, duration, format_date, format_datetime, hour_stamp, hour_text, integer, percent, yes_no};
use super::formats::{format_of, Format};
use super::vocabulary::{
    agent_dni, agent_extension, agent_name, customer_name, dimension, is_pooled, pool, Dimension, AGENTS, CODE_GROUPS,
    SKILLS,
};
use super::{hash, minute_of, minute_start, mix, name_salt, rows_in_minute, salt, uniform, Ask, Zone};
use crate::wolkvox::catalog::{self, DataShape, Field, Grain, Report, BUCKET, DAY};
use crate::wolkvox::Row;

/// The first `limit` rows of `report`, a report of the catalogue other than chat_14, that answer
/// `ask` in `zone` at timeline time `now` (see [`super::rows_for`]).
pub(super) fn rows(
    report: &'static Report,
    ask: &Ask<'_>,
    zone: &Zone,
    seed: u64,
    rows_per_hour: u32,
    now: NaiveDateTime,
    limit: usize,
) -> Vec<Row> {
    let generator = Generator::new(report, ask, *zone, seed, rows_per_hour);
    let mut rows = match (report.grain, report.slot_minutes) {
        (Grain::Event, _) => generator.event_rows(ask.from, ask.to, now, limit),
        (Grain::DatedAggregate, slot) => {
            generator.dated_rows(ask.from, ask.to, now, slot.unwrap_or(1440), ask.range_totals)
        }
        (Grain::IntervalAggregate, slot) => generator.aggregate_rows(ask.from, ask.to, now, slot.unwrap_or(60)),
        (Grain::WindowAggregate, _) => generator.aggregate_rows(ask.from, ask.to, now, 0),
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

/// One generic event: a fixed fact of the seed, like a chat_14 chat. Its times are on the zone's
/// timeline; `shown` is its date as the zone's clocks read it.
struct Event {
    minute: i64,
    index: u32,
    /// The event's own randomness; every field draws from it with its own salt.
    h: u64,
    date: NaiveDateTime,
    shown: NaiveDateTime,
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
    /// The operation's zone: events live on its timeline and show its local times.
    zone: Zone,
    seed: u64,
    rate: u32,
    /// The cod_act group (0 for `cod_act1`, 1 for `cod_act2`).
    group: usize,
    /// agent_2's `agent_id` parameter.
    agent_id: Option<String>,
    axes: Vec<Axis>,
}

impl Generator {
    fn new(report: &'static Report, ask: &Ask<'_>, zone: Zone, seed: u64, rows_per_hour: u32) -> Generator {
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
            .filter(|k| format_of(report.api, k) == Some(Format::Text))
            .enumerate()
            .map(|(i, name)| Axis { name, radix: radix(name, i == 0) })
            .collect();
        Generator { report, zone, seed: mix(seed ^ salt), rate, group, agent_id, axes }
    }

    fn event(&self, minute: i64, index: u32) -> Option<Event> {
        let start = minute_start(minute)?;
        let rotate = hash(self.seed, minute, 0, salt::SECOND) % 60;
        // 7 is coprime with 60, so the (at most 24) events of a minute get distinct seconds.
        let second = (rotate + u64::from(index) * 7) % 60;
        let date = start.checked_add_signed(TimeDelta::seconds(second as i64))?;
        let delay_h = hash(self.seed, minute, index, salt::DELAY);
        let delay = if hash(self.seed, minute, index, salt::LATE).is_multiple_of(10) {
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
            shown: self.zone.local(date),
            visible_at: date.checked_add_signed(TimeDelta::seconds(delay as i64))?,
            typified_at: date.checked_add_signed(TimeDelta::seconds(typify as i64))?,
        })
    }

    /// The events visible at timeline time `now` whose local date is in `[from, to]`, newest
    /// local date first, at most `limit` (whole minutes).
    fn events(&self, from: NaiveDateTime, to: NaiveDateTime, now: NaiveDateTime, limit: usize) -> Vec<Event> {
        let (first, last) = self.zone.span(from, to);
        let last = last.min(now);
        if last < first || self.rate == 0 {
            return Vec::new();
        }
        let mut events = Vec::new();
        let mut oldest_shown: Option<NaiveDateTime> = None;
        for minute in (minute_of(first)..=minute_of(last)).rev() {
            // As for chat_14: stop once every kept event shows a later date than any older one
            // can (a fall-back's repeated hour delays this).
            if events.len() >= limit {
                let before = minute_start(minute + 1).unwrap_or(first).max(first);
                if oldest_shown.is_some_and(|shown| shown > self.zone.latest_reading(first, before)) {
                    break;
                }
            }
            for index in 0..rows_in_minute(minute, self.rate) {
                let Some(event) = self.event(minute, index) else {
                    continue;
                };
                if event.shown >= from && event.shown <= to && event.visible_at <= now {
                    oldest_shown = Some(oldest_shown.map_or(event.shown, |o| o.min(event.shown)));
                    events.push(event);
                }
            }
        }
        events.sort_unstable_by_key(|e| std::cmp::Reverse(e.shown));
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
        // The example's spelling: fields only the docs list are not sent.
        for field in report.api_fields().filter(|f| f.sent) {
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
                    let at = self.zone.local(event.date + TimeDelta::seconds(k as i64 * 17));
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
            let close = self.zone.local(event.date + TimeDelta::seconds((event.h % 3600) as i64));
            row.insert("date_close".to_owned(), Value::String(format_datetime(close)));
            if event.h.is_multiple_of(3) {
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
        match self.format(name) {
            Format::DateTime if self.report.timestamp == Some(name) => format_datetime(event.shown),
            Format::DateTime if optional => "-".to_owned(),
            Format::DateTime => format_datetime(self.zone.local(event.date + TimeDelta::seconds((d % 3600) as i64))),
            Format::Date => format_date(event.shown),
            Format::HourStamp => hour_stamp(event.shown),
            Format::Hour(style) => hour_text(style, event.shown.with_minute(0).unwrap_or(event.shown)),
            Format::Count => integer(d % if name.contains("chars") { 4000 } else { 20 }),
            format @ (Format::Clock | Format::Seconds | Format::ClockOrSeconds) => {
                duration(format, (d % 3600) as i64, d)
            }
            Format::Decimal(places) => decimal(d % 2000, places),
            format @ (Format::Percent | Format::PercentPast100) => {
                percent(d % 10_000, format == Format::PercentPast100)
            }
            Format::YesNo => yes_no(d),
            Format::Text => {
                if let Some(unique) = unique_text(name, event, &self.zone) {
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

    /// How the API spells field `name` of this report: `formats`' table, whose tests check that
    /// every field served has an entry.
    fn format(&self, name: &str) -> Format {
        format_of(self.report.api, name).unwrap_or(Format::Text)
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

    /// Sums the visible events of `[from, to]` per (entity, slot, pass); slot 0 when `slot` is 0.
    fn accumulate(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        now: NaiveDateTime,
        slot: u32,
    ) -> BTreeMap<(usize, i64, u8), Totals> {
        let fields = self.report.fields;
        let mut groups: BTreeMap<(usize, i64, u8), Totals> = BTreeMap::new();
        let entities = self.entities() as u64;
        for event in self.events(from, to, now, usize::MAX) {
            let e = (Self::draw(event.h, "entity") % entities) as usize;
            // Slots are local, and a slot of a fall-back's repeated hour is lived twice: each
            // pass has its own totals, under the same label (as an API grouping the instants by
            // hour and printing each group's local hour would answer).
            let (s, pass) = if slot == 0 {
                (0, 1)
            } else {
                let s = minute_of(event.shown).div_euclid(i64::from(slot));
                let start = minute_start(s * i64::from(slot)).unwrap_or(event.shown);
                (s, self.zone.pass(start, event.date))
            };
            let totals = groups.entry((e, s, pass)).or_insert_with(|| Totals {
                count: 0,
                sums: vec![0; fields.len()],
                first: event.shown,
                last: event.shown,
            });
            totals.count += 1;
            totals.first = totals.first.min(event.shown);
            totals.last = totals.last.max(event.shown);
            for (i, field) in fields.iter().enumerate() {
                let d = Self::draw(event.h, field.name);
                totals.sums[i] += match self.format(field.name) {
                    Format::Count if field.name.contains("chars") => (d % 400) as i64,
                    Format::Count => (d % 4) as i64,
                    Format::Clock | Format::Seconds | Format::ClockOrSeconds => 5 + (d % 600) as i64,
                    Format::Decimal(_) => (d % 500) as i64,
                    _ => 0,
                };
            }
        }
        groups
    }

    /// Window (`slot` 0) and interval aggregates: one row per entity (and slot) with events.
    fn aggregate_rows(&self, from: NaiveDateTime, to: NaiveDateTime, now: NaiveDateTime, slot: u32) -> Vec<Row> {
        let groups = self.accumulate(from, to, now, slot);
        // In key order: an entity's slots oldest first, the two passes of a slot in the order
        // they happened.
        let rows: Vec<(usize, Row)> =
            groups.iter().map(|(&(e, s, _), totals)| (e, self.aggregate_row(e, s, slot, totals, now))).collect();
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

    /// Per-day / per-slot reports with their own date: every slot (and pass) that overlaps the
    /// window, with the slot's whole (visible) totals — or, with `range_totals`, only the totals
    /// of the events inside the window — newest slot first.
    fn dated_rows(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        now: NaiveDateTime,
        slot: u32,
        range_totals: bool,
    ) -> Vec<Row> {
        let first = minute_of(from).div_euclid(i64::from(slot)) * i64::from(slot);
        let last = (minute_of(to).div_euclid(i64::from(slot)) + 1) * i64::from(slot) - 1;
        let (Some(start), Some(end)) = (minute_start(first), minute_start(last)) else {
            return Vec::new();
        };
        let end = end + TimeDelta::seconds(59);
        let groups =
            if range_totals { self.accumulate(from, to, now, slot) } else { self.accumulate(start, end, now, slot) };
        let mut rows: Vec<(i64, usize, u8, Row)> = groups
            .iter()
            .filter_map(|(&(e, s, pass), totals)| {
                let row = self.aggregate_row(e, s, slot, totals, now);
                (!row.is_empty()).then_some((s, e, pass, row))
            })
            .collect();
        // Newest label first; the two passes of a repeated label in the order they happened, as
        // an answer sorted on the label alone keeps them.
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        rows.into_iter().map(|(_, _, _, row)| row).collect()
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
            let logout = (slot_start + TimeDelta::minutes(17 * 60 + (Self::draw(ctx.h, "logout") % 60) as i64))
                .min(self.zone.local(now));
            (login, logout)
        });
        if let Some((login, logout)) = session {
            if logout <= login {
                return Row::new();
            }
        }
        for (i, field) in report.fields.iter().enumerate() {
            let name = field.name;
            let synthetic = report.is_synthetic(name);
            if (synthetic && name != BUCKET) || (!synthetic && !field.sent) {
                continue;
            }
            // A key sent under the example's spelling carries the key's values all the same.
            let axis = self.axes.iter().position(|a| a.name == name || field.alias == Some(a.name));
            let value = if let Some(axis) = axis {
                self.text(self.axes[axis].name, digits[axis] as u64, &ctx)
            } else {
                let sum = totals.sums[i];
                let count = totals.count.max(1);
                match self.format(name) {
                    Format::Hour(style) => hour_text(style, slot_start),
                    Format::Date => format_date(slot_start),
                    Format::HourStamp => hour_stamp(slot_start),
                    Format::DateTime => match (session, name) {
                        (Some((login, _)), "login") => format_datetime(login),
                        (Some((_, logout)), "logout") => format_datetime(logout),
                        (_, "login") => format_datetime(totals.first),
                        _ => format_datetime(totals.last),
                    },
                    Format::Count => integer(sum as u64),
                    format @ (Format::Clock | Format::Seconds | Format::ClockOrSeconds) => match session {
                        Some((login, logout)) if name == "login_time" => {
                            duration(format, (logout - login).num_seconds(), ctx.h)
                        }
                        _ if is_average(name) => duration(format, sum / count, ctx.h),
                        _ => duration(format, sum, ctx.h),
                    },
                    Format::Decimal(places) if name == "average" || name.starts_with('q') => {
                        decimal((sum / count) as u64, places)
                    }
                    Format::Decimal(places) => decimal(sum as u64, places),
                    format @ (Format::Percent | Format::PercentPast100) => percent(
                        (totals.count as u64 * 7_919 + e as u64 * 131) % 10_000,
                        format == Format::PercentPast100,
                    ),
                    Format::YesNo => yes_no(Self::draw(ctx.h, name)),
                    Format::Text => self.text(name, Self::draw(ctx.h, name), &ctx),
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
fn unique_text(name: &str, event: &Event, zone: &Zone) -> Option<String> {
    let serial = event.minute * 24 + i64::from(event.index);
    // The call ids embed the call's Unix epoch, as the real ones do.
    let epoch = zone.instant(event.date).timestamp();
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

#[cfg(test)]
mod tests {
    use super::super::tests::{at, day_rows, field, much_later};
    use super::super::{report_rows, rows_for};
    use super::*;

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
            range_totals: false,
        };
        let one = rows_for(&ask(1), &Zone::default(), 42, 120, much_later(), usize::MAX);
        let two = rows_for(&ask(2), &Zone::default(), 42, 120, much_later(), usize::MAX);
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
