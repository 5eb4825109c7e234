//! A `Read` adapter between the body and the JSON parser that bounds what the parser can be made
//! to hold, whatever the server sends.
//!
//! serde_json materialises every string it reads whole, and every row object whole: one 400 MB
//! `message` value, or one 300 MB `msg`, would take that much memory (several times over, with
//! the row's raw and typed copies). This adapter follows the JSON lexically (inside or outside
//! a string, escapes, nesting) and rewrites the bytes the parser sees so that it never does:
//!
//! - a string literal (key or value, anywhere) longer than [`Caps::value`] bytes keeps its first
//!   `value` bytes (cut on a character boundary, never inside an escape or a surrogate pair),
//!   gets [`cut_mark`] appended and is closed; the rest of it is read and dropped;
//! - a row (an element of an envelope member's array, or an envelope member's object, i.e. a
//!   row of `data` or the single object `data` may be) longer than [`Caps::row`] bytes is closed
//!   where it stands, with one member [`cut_mark`]`: "row over N bytes"` added; the rest of the
//!   row is read and dropped.
//!
//! The invariant it protects: what comes out is valid JSON whenever what went in was (and the
//! parser still rejects what was not), the adapter itself holds a fixed amount of memory (its
//! buffers and a nesting stack bounded by [`MAX_DEPTH`]), and a value or row that was cut always
//! carries the mark, so it can be told from a real one (see [`super::cut_reason`]).

use std::io::{self, Read};

/// The longest string value (or key) kept as sent: real values are a few hundred bytes (a
/// media URL, a chat message); 1 MiB is over a thousand times that, and what the parser holds
/// for one value stays small.
pub const VALUE_CAP: usize = 1024 * 1024;

/// The longest row kept as sent (all its keys and values, as JSON text): real rows are under
/// 10 KB; 4 MiB lets a row hold a few values at the value cap and still bounds a row made of
/// many large values.
pub const ROW_CAP: usize = 4 * 1024 * 1024;

/// How the mark of a cut starts; [`cut_mark`] adds this process's nonce.
pub const CUT_MARK_TEXT: &str = "\u{2026}[cut by wolkvox-etl";

/// Appended to a string cut at the value cap, and the key of the member added to a row cut at
/// the row cap: `…[cut by wolkvox-etl <nonce>]`. Plain UTF-8 that needs no escaping in JSON. The
/// nonce is random per process, so an answer cannot forge a cut (a chat message ending with the
/// visible text would otherwise send its whole row to the quarantine).
pub fn cut_mark() -> &'static str {
    static MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARK.get_or_init(|| format!("{CUT_MARK_TEXT} {:016x}]", fastrand::u64(..)))
}

/// Nesting deeper than this is refused (serde_json refuses it earlier, at 128).
pub const MAX_DEPTH: usize = 256;

/// The caps one adapter applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Bytes of one string literal's content, as sent (escapes count as their bytes).
    pub value: usize,
    /// Bytes of one row, as sent.
    pub row: usize,
}

impl Caps {
    /// The caps of every API answer.
    pub const API: Caps = Caps { value: VALUE_CAP, row: ROW_CAP };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
}

/// What the grammar expects next, outside a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The top-level value.
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object: a key.
    Key,
    /// After a key.
    Colon,
    /// After `:`.
    MemberValue,
    /// After `[`: a value or `]`.
    FirstElement,
    /// After `,` in an array.
    Element,
    /// After a value.
    After,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After `\`.
    Backslash,
    /// Inside `\uXXXX`: hex digits still to come, and the value so far.
    Hex(u8, u16),
}

#[derive(Clone, Copy, Debug)]
struct Str {
    key: bool,
    /// Content bytes passed on.
    len: usize,
    escape: Escape,
    /// The last escape was a high surrogate: its low half must not be cut off.
    high_surrogate: bool,
}

#[derive(Clone, Copy, Debug)]
enum Lex {
    Between,
    /// Inside a number or `true`/`false`/`null`, with its length.
    Bare(usize),
    Str(Str),
}

/// Input being read and dropped after a cut.
#[derive(Clone, Copy, Debug)]
enum Skip {
    No,
    /// The rest of a cut string.
    String {
        escaped: bool,
    },
    /// The rest of a cut row: containers still open in the input, from the row inward.
    Row {
        open: usize,
        in_string: bool,
        escaped: bool,
    },
}

#[derive(Clone, Copy, Debug)]
struct OpenRow {
    /// The row container's place in the stack.
    at: usize,
    /// Bytes of it passed on.
    bytes: usize,
}

/// See the module documentation.
pub struct Bounded<R> {
    inner: R,
    caps: Caps,
    input: Box<[u8]>,
    out: Vec<u8>,
    out_at: usize,
    stack: Vec<Kind>,
    expect: Expect,
    lex: Lex,
    row: Option<OpenRow>,
    skip: Skip,
}

impl<R: Read> Bounded<R> {
    /// Bounds what a parser reading `inner` through it can be made to hold, by `caps`.
    pub fn new(inner: R, caps: Caps) -> Self {
        Bounded {
            inner,
            caps,
            input: vec![0; 8 * 1024].into_boxed_slice(),
            out: Vec::with_capacity(9 * 1024),
            out_at: 0,
            stack: Vec::new(),
            expect: Expect::Start,
            lex: Lex::Between,
            row: None,
            skip: Skip::No,
        }
    }

    fn byte(&mut self, b: u8) -> io::Result<()> {
        match self.skip {
            Skip::No => {}
            Skip::String { escaped } => {
                self.skip = match (escaped, b) {
                    (true, _) => Skip::String { escaped: false },
                    (false, b'\\') => Skip::String { escaped: true },
                    (false, b'"') => Skip::No,
                    (false, _) => Skip::String { escaped: false },
                };
                return Ok(());
            }
            Skip::Row { open, in_string, escaped } => {
                self.skip = match (in_string, escaped, b) {
                    (true, true, _) => Skip::Row { open, in_string, escaped: false },
                    (true, false, b'\\') => Skip::Row { open, in_string, escaped: true },
                    (true, false, b'"') => Skip::Row { open, in_string: false, escaped },
                    (true, false, _) => Skip::Row { open, in_string, escaped },
                    (false, _, b'"') => Skip::Row { open, in_string: true, escaped: false },
                    (false, _, b'{' | b'[') => Skip::Row { open: open + 1, in_string, escaped },
                    (false, _, b'}' | b']') if open <= 1 => Skip::No,
                    (false, _, b'}' | b']') => Skip::Row { open: open - 1, in_string, escaped },
                    (false, _, _) => Skip::Row { open, in_string, escaped },
                };
                return Ok(());
            }
        }
        match self.lex {
            Lex::Str(s) => self.string_byte(s, b),
            Lex::Bare(n) if !is_delimiter(b) => {
                // The parser does not keep a long number's digits, but nothing real is this long.
                if n >= VALUE_CAP {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a number or literal over {VALUE_CAP} bytes"),
                    ));
                }
                self.lex = Lex::Bare(n + 1);
                self.pass(b);
                Ok(())
            }
            Lex::Between | Lex::Bare(_) => {
                self.lex = Lex::Between;
                if self.row.is_some_and(|row| row.bytes >= self.caps.row) {
                    self.cut_row(false);
                    // This byte is the first of the dropped rest.
                    return self.byte(b);
                }
                self.structural(b)
            }
        }
    }

    fn structural(&mut self, b: u8) -> io::Result<()> {
        match b {
            b'{' | b'[' => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, format!("nesting over {MAX_DEPTH} levels")));
                }
                // A row: an object member of the envelope (`data` as one object), or any element
                // of an envelope member's array (`data`'s rows). Never the `data` array itself.
                let row = match self.stack.as_slice() {
                    [Kind::Object] => b == b'{',
                    [Kind::Object, Kind::Array] => true,
                    _ => false,
                };
                if row && self.row.is_none() {
                    self.row = Some(OpenRow { at: self.stack.len(), bytes: 0 });
                }
                let (kind, expect) =
                    if b == b'{' { (Kind::Object, Expect::FirstKey) } else { (Kind::Array, Expect::FirstElement) };
                self.stack.push(kind);
                self.expect = expect;
            }
            b'}' | b']' => {
                self.pass(b);
                self.close();
                return Ok(());
            }
            b':' => self.expect = Expect::MemberValue,
            b',' => {
                self.expect = match self.stack.last() {
                    Some(Kind::Object) => Expect::Key,
                    _ => Expect::Element,
                }
            }
            b'"' => {
                let key = matches!(self.expect, Expect::FirstKey | Expect::Key);
                self.lex = Lex::Str(Str { key, len: 0, escape: Escape::None, high_surrogate: false });
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                self.lex = Lex::Bare(1);
                self.expect = Expect::After;
            }
        }
        self.pass(b);
        Ok(())
    }

    fn string_byte(&mut self, mut s: Str, b: u8) -> io::Result<()> {
        // Only the byte right after a high surrogate's escape may continue the pair.
        let after_high = std::mem::replace(&mut s.high_surrogate, false);
        if s.escape == Escape::None {
            if b == b'"' {
                self.pass(b);
                self.end_string(s);
                return Ok(());
            }
            // A cut here leaves whole characters, whole escapes and whole surrogate pairs.
            let boundary = (b & 0xC0) != 0x80 && !(after_high && b == b'\\');
            let row_full = self.row.is_some_and(|row| row.bytes >= self.caps.row);
            if boundary && (s.len >= self.caps.value || row_full) {
                self.out.extend_from_slice(cut_mark().as_bytes());
                self.out.push(b'"');
                self.end_string(s);
                if row_full {
                    self.cut_row(true);
                } else {
                    self.skip = Skip::String { escaped: false };
                }
                // This byte is the first of the dropped rest.
                return self.byte(b);
            }
        }
        s.escape = match s.escape {
            Escape::None if b == b'\\' => Escape::Backslash,
            Escape::None => Escape::None,
            Escape::Backslash if b == b'u' => Escape::Hex(4, 0),
            Escape::Backslash => Escape::None,
            Escape::Hex(left, value) => {
                let value = value.wrapping_mul(16).wrapping_add(u16::from(hex(b)));
                if left > 1 {
                    Escape::Hex(left - 1, value)
                } else {
                    s.high_surrogate = (0xD800..=0xDBFF).contains(&value);
                    Escape::None
                }
            }
        };
        self.pass(b);
        s.len += 1;
        self.lex = Lex::Str(s);
        Ok(())
    }

    fn end_string(&mut self, s: Str) {
        self.lex = Lex::Between;
        self.expect = if s.key { Expect::Colon } else { Expect::After };
    }

    /// Pops the innermost container, ending the row if it was the row.
    fn close(&mut self) {
        self.stack.pop();
        self.expect = Expect::After;
        if self.row.is_some_and(|row| row.at >= self.stack.len()) {
            self.row = None;
        }
    }

    /// Closes the open row where it stands (every container inside it too), with the mark
    /// member, and drops the rest of it from the input.
    fn cut_row(&mut self, in_string: bool) {
        let Some(row) = self.row else { return };
        let open = self.stack.len().saturating_sub(row.at);
        let member = format!("\"{}\":\"row over {} bytes\"", cut_mark(), self.caps.row);
        while self.stack.len() > row.at {
            let is_row = self.stack.len() == row.at + 1;
            match self.stack.last() {
                Some(Kind::Object) => {
                    let fill = match self.expect {
                        Expect::Colon => ":null",
                        Expect::MemberValue => "null",
                        Expect::Key if !is_row => "\"\":null",
                        _ => "",
                    };
                    self.out.extend_from_slice(fill.as_bytes());
                    if is_row {
                        if !matches!(self.expect, Expect::FirstKey | Expect::Key) {
                            self.out.push(b',');
                        }
                        self.out.extend_from_slice(member.as_bytes());
                    }
                    self.out.push(b'}');
                }
                _ => {
                    if self.expect == Expect::Element {
                        self.out.extend_from_slice(b"null");
                    }
                    self.out.push(b']');
                }
            }
            self.close();
        }
        self.skip = Skip::Row { open, in_string, escaped: false };
    }

    /// How many bytes from `input[from..to]` are plain string content that can pass as one run:
    /// inside a string, outside an escape, short of both caps, no quote or backslash. Most of
    /// an answer's bytes are; the rest go byte by byte through [`Bounded::byte`].
    fn plain_run(&self, from: usize, to: usize) -> usize {
        let Lex::Str(s) = self.lex else { return 0 };
        if !matches!(self.skip, Skip::No) || s.escape != Escape::None || s.high_surrogate {
            return 0;
        }
        let room_row = self.row.map_or(usize::MAX, |row| self.caps.row.saturating_sub(row.bytes));
        let room = self.caps.value.saturating_sub(s.len).min(room_row).min(to - from);
        self.input[from..from + room].iter().position(|&b| b == b'"' || b == b'\\').unwrap_or(room)
    }

    fn pass_run(&mut self, from: usize, len: usize) {
        self.out.extend_from_slice(&self.input[from..from + len]);
        if let Lex::Str(s) = &mut self.lex {
            s.len += len;
        }
        if let Some(row) = &mut self.row {
            row.bytes += len;
        }
    }

    fn pass(&mut self, b: u8) {
        self.out.push(b);
        if let Some(row) = &mut self.row {
            row.bytes += 1;
        }
    }
}

/// Whether `b` ends a number or literal.
fn is_delimiter(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"')
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                return Ok(0);
            }
            let mut i = 0;
            while i < n {
                let run = self.plain_run(i, n);
                if run > 0 {
                    self.pass_run(i, run);
                    i += run;
                    continue;
                }
                let b = self.input[i];
                self.byte(b)?;
                i += 1;
            }
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// Reads one byte per call, the worst split of the input.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else { return Ok(0) };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    fn through(input: &str, caps: Caps) -> Value {
        let whole: Value = serde_json::from_reader(Bounded::new(input.as_bytes(), caps))
            .unwrap_or_else(|e| panic!("{caps:?}: {e}: {input}"));
        let trickled: Value = serde_json::from_reader(Bounded::new(Trickle(input.as_bytes()), caps)).unwrap();
        assert_eq!(whole, trickled, "the same however the input is split");
        whole
    }

    const WIDE: Caps = Caps { value: usize::MAX, row: usize::MAX };

    fn value_cap(value: usize) -> Caps {
        Caps { value, row: usize::MAX }
    }

    fn cut(prefix: &str) -> String {
        format!("{prefix}{}", cut_mark())
    }

    #[test]
    fn json_within_the_caps_passes_unchanged() {
        let doc = json!({
            "code": "200", "error": null, "msg": "3 records were found", "n": -1.5e3, "t": true,
            "data": [
                {"a": "tab\there \"quoted\" \\ back", "é": "ünïcode 😀 \u{1}", "n": [1, {"deep": [null]}]},
                {}, {"x": ""}
            ]
        });
        let text = serde_json::to_string_pretty(&doc).unwrap();
        assert_eq!(through(&text, WIDE), doc);
        assert_eq!(through(&text, Caps { value: 64, row: 256 }), doc);
    }

    #[test]
    fn a_string_at_the_cap_is_kept_and_one_byte_more_is_cut_keys_and_values_alike() {
        assert_eq!(through(r#"{"k":"abcd"}"#, value_cap(4)), json!({"k": "abcd"}));
        assert_eq!(through(r#"{"k":"abcde"}"#, value_cap(4)), json!({"k": cut("abcd")}));
        let keyed = through(r#"{"abcdefgh":"v","ab":"vvvvvvvv"}"#, value_cap(2));
        assert_eq!(keyed, json!({cut("ab"): "v", "ab": cut("vv")}));
        // Numbers, literals and the structure are never cut; a number too long for anything
        // real is refused.
        assert_eq!(through(r#"[123456789, true, null]"#, value_cap(2)), json!([123456789, true, null]));
        let long = format!("[{}]", "9".repeat(VALUE_CAP + 1));
        let e = Bounded::new(long.as_bytes(), WIDE).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_cut_never_splits_a_character_an_escape_or_a_surrogate_pair() {
        let tricky = "aé😀\"\\/\u{7}\u{1F600}zß\n€";
        let sent = serde_json::to_string(&json!({"v": tricky})).unwrap();
        // Force \u escapes too, with the pair spelled out.
        let escaped = r#"{"v":"a\u00e9\ud83d\ude00\"\\\/b\ud83d\ude00c"}"#;
        let escaped_text: Value = serde_json::from_str(escaped).unwrap();
        for (input, whole) in [(sent.as_str(), tricky), (escaped, escaped_text["v"].as_str().unwrap())] {
            // From 1: the key `v` is one byte.
            for cap in 1..input.len() {
                let out = through(input, value_cap(cap));
                let v = out["v"].as_str().unwrap();
                match v.strip_suffix(cut_mark()) {
                    Some(kept) => assert!(whole.starts_with(kept) && kept != whole, "cap {cap}: {v:?}"),
                    None => assert_eq!(v, whole, "cap {cap}"),
                }
            }
        }
        // The cut falls on the first boundary at or after the cap: a 2-byte character is kept whole.
        assert_eq!(through(r#"{"v":"aéb"}"#, value_cap(2)), json!({"v": cut("aé")}));
        assert_eq!(through(r#"{"v":"aéb"}"#, value_cap(1)), json!({"v": cut("a")}));
        assert_eq!(through(r#"{"v":"\"\"\""}"#, value_cap(3)), json!({"v": cut("\"\"")}));
    }

    #[test]
    fn the_rest_of_a_cut_string_is_dropped_however_it_is_escaped() {
        let input = r#"{"d":[{"a":"xxxxx\"}],\\\"still inside","b":"2"}],"c":"200"}"#;
        let out = through(input, value_cap(3));
        assert_eq!(out, json!({"d": [{"a": cut("xxx"), "b": "2"}], "c": "200"}));
    }

    fn envelope(rows: &[Value]) -> String {
        serde_json::to_string(&json!({"code": "200", "msg": "m", "data": rows})).unwrap()
    }

    #[test]
    fn a_row_over_the_row_cap_is_closed_with_the_mark_and_the_next_rows_are_whole() {
        let big = json!({"a": "1", "b": {"c": ["x", "yy", {"d": "zzz"}], "e": 12345}, "f": "ffff"});
        let rows = [json!({"id": "1"}), big.clone(), json!({"id": "3", "v": "w"})];
        let input = envelope(&rows);
        let size = serde_json::to_string(&big).unwrap().len();
        for cap in 0..size + 2 {
            let out = through(&input, Caps { value: usize::MAX, row: cap });
            let data = out["data"].as_array().unwrap();
            assert_eq!(data.len(), 3, "cap {cap}: {out}");
            assert_eq!((out["code"].clone(), out["msg"].clone()), (json!("200"), json!("m")), "cap {cap}");
            if cap >= size {
                assert_eq!(data[1], big, "a row at the cap is whole");
                continue;
            }
            let row = data[1].as_object().unwrap();
            assert_eq!(row.get(cut_mark()), Some(&json!(format!("row over {cap} bytes"))), "cap {cap}: {out}");
            for (i, whole) in [(0, &rows[0]), (2, &rows[2])] {
                let fits = serde_json::to_string(whole).unwrap().len() <= cap;
                assert_eq!(data[i] == *whole, fits, "cap {cap}: row {i} {}", data[i]);
            }
        }
    }

    #[test]
    fn data_as_one_object_is_one_row_and_the_data_array_itself_is_not() {
        let input = r#"{"code":200,"data":{"h1":{"n":"1"},"h2":{"n":"2"}}}"#;
        let out = through(input, Caps { value: usize::MAX, row: 20 });
        assert!(out["data"].get(cut_mark()).is_some(), "{out}");
        let many = envelope(&(0..50).map(|i| json!({"id": i.to_string()})).collect::<Vec<_>>());
        let out = through(&many, Caps { value: usize::MAX, row: 20 });
        assert_eq!(out["data"].as_array().unwrap().len(), 50, "only rows are capped, not their number");
        assert!(out["data"].as_array().unwrap().iter().all(|r| r.get(cut_mark()).is_none()));
    }

    #[test]
    fn a_huge_value_costs_no_more_than_the_cap() {
        struct Huge(usize);
        impl Read for Huge {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let head = br#"{"code":"400","msg":""#;
                let tail = br#"","data":[]}"#;
                let total = head.len() + 50_000_000 + tail.len();
                let mut n = 0;
                while n < buf.len() && self.0 < total {
                    buf[n] = match self.0 {
                        i if i < head.len() => head[i],
                        i if i < head.len() + 50_000_000 => b'x',
                        i => tail[i - head.len() - 50_000_000],
                    };
                    n += 1;
                    self.0 += 1;
                }
                Ok(n)
            }
        }
        let mut out = Vec::new();
        Bounded::new(Huge(0), Caps::API).read_to_end(&mut out).unwrap();
        assert!(out.len() < VALUE_CAP + 100, "{} bytes", out.len());
        let doc: Value = serde_json::from_slice(&out).unwrap();
        assert!(doc["msg"].as_str().unwrap().ends_with(cut_mark()));
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        let mut out = Vec::new();
        let e = Bounded::new(deep.as_bytes(), WIDE).read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
