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
//! All times are naive local times in the operation's zone, because that is what the API speaks.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::{Map, Value};

/// One report row as served: every field a JSON string, keyed by the API's field names.
pub type Row = Map<String, Value>;

/// The rows of report `api` that are visible at `now_local` and whose timestamp lies in
/// `[from, to_inclusive]`, newest first (ties broken by ascending id).
///
/// Reports in the catalogue without a generator yet, and unknown names, have no rows; the server
/// rejects unknown names before it gets here, so an empty answer means "no data" (HTTP 404).
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
    match api {
        "chat_14" => newest_chat_14_rows(seed, rows_per_hour, from, to_inclusive, now_local, limit),
        _ => Vec::new(),
    }
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
}

/// The splitmix64 finaliser: a cheap bijective mix with good avalanche.
fn mix(mut z: u64) -> u64 {
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
    use chrono::{Datelike, Timelike};
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
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
            let names: Vec<&str> = catalog::CHAT_14.fields.iter().map(|f| f.name).collect();
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
        assert!(report_rows("agent_1", 42, 120, from, to, much_later()).is_empty());
        assert_eq!(report_rows("chat_14", 42, 120, from, to, much_later()).len(), 120);
    }
}
