//! chat_14 (click-to-WhatsApp detail): its own hand-written generator, older than the generic
//! one; tests pin its values.
//!
//! It owns the chats of a seed and how they are rendered. The invariant it protects: chat number
//! `index` of minute `minute` is a fixed fact of `(seed, minute, index)` (its id, date, delay and
//! typification time never depend on the window asked for or on `now`, which only decides whether
//! it is visible yet and whether its `cod_act` is still empty), and its ids stay unique because a
//! minute never holds 1000 chats ([`MAX_ROWS_PER_HOUR`]).

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::{Map, Value};

use super::format::format_datetime;
use super::vocabulary::{AGENTS, CODES};
use super::{hash, minute_of, minute_start, rows_in_minute, salt, uniform, Zone, MAX_ROWS_PER_HOUR};
use crate::wolkvox::Row;

/// The chat_14 (click-to-WhatsApp detail) rows visible at `now_local` whose `date` lies in
/// `[from, to_inclusive]`, newest `date` first, ties by ascending numeric `chat_id`, in the default
/// zone (Bogota, without DST).
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
    newest_chat_14_rows(&Zone::default(), seed, rows_per_hour, from, to_inclusive, now_local, usize::MAX)
}

/// The first `limit` rows of [`chat_14_rows`] in `zone`, at timeline time `now`: minutes, delays
/// and typification times are on the zone's timeline, `date` and the range asked for are local.
pub(super) fn newest_chat_14_rows(
    zone: &Zone,
    seed: u64,
    rows_per_hour: u32,
    from: NaiveDateTime,
    to_inclusive: NaiveDateTime,
    now: NaiveDateTime,
    limit: usize,
) -> Vec<Row> {
    let (first, last) = zone.span(from, to_inclusive);
    // A row can never be visible before its own date (delays are non-negative), so minutes after
    // `now` need not be generated at all; this keeps a window that reaches into the future cheap.
    let last = last.min(now);
    // Beyond this a minute would hold 1000+ rows and `chat_id = minute·1000 + index` would repeat.
    let rows_per_hour = rows_per_hour.min(MAX_ROWS_PER_HOUR);
    if last < first || rows_per_hour == 0 {
        return Vec::new();
    }
    let sources = Source::pool(seed);
    let agents = agent_pool(seed);

    // (local date, chat): a fall-back's repeated hour shows two timeline hours as one.
    let mut chats: Vec<(NaiveDateTime, Chat)> = Vec::new();
    let mut oldest_shown: Option<NaiveDateTime> = None;
    // Newest minute first. Once `limit` chats are kept and every one of them shows a later date
    // than any second before the next minute can (a fall-back's repeated hour delays this; in a
    // zone without DST it is the next minute's start), no older row can make the cut.
    for minute in (minute_of(first)..=minute_of(last)).rev() {
        if chats.len() >= limit {
            let before = minute_start(minute + 1).unwrap_or(first).max(first);
            if oldest_shown.is_some_and(|shown| shown > zone.latest_reading(first, before)) {
                break;
            }
        }
        for index in 0..rows_in_minute(minute, rows_per_hour) {
            let Some(chat) = Chat::generate(seed, minute, index) else {
                continue;
            };
            let shown = zone.local(chat.date);
            if shown < from || shown > to_inclusive || chat.visible_at > now {
                continue;
            }
            oldest_shown = Some(oldest_shown.map_or(shown, |o| o.min(shown)));
            chats.push((shown, chat));
        }
    }
    chats.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.chat_id.cmp(&b.1.chat_id)));
    chats.truncate(limit);
    chats.iter().map(|(shown, chat)| chat.to_row(&sources, &agents, *shown, now)).collect()
}

/// How many ads/posts a simulated operation advertises; chats cluster on them as in real data.
const SOURCES: u32 = 16;
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
        let delay = if hash(seed, minute, index, salt::LATE).is_multiple_of(10) {
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

    /// The row as the API serves it at timeline time `now`, its `date` shown as `shown`.
    fn to_row(&self, sources: &[Source], agents: &[String], shown: NaiveDateTime, now: NaiveDateTime) -> Row {
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
            if now >= self.typified_at { CODES[(draw(salt::CODE) % CODES.len() as u64) as usize] } else { "" };

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
        put("date", format_datetime(shown));
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

#[cfg(test)]
mod tests {
    use super::super::tests::{at, field, much_later};
    use super::super::{newest_report_rows, report_rows};
    use super::*;
    use crate::wolkvox::catalog;

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
}
