//! Outside text as it may reach a log line, an error, a table (`etl_run.error`,
//! `etl_rejected.reason`) or the terminal: one rule, [`one_line`], for every such text.
//!
//! The invariant it protects: text the API (or an older release's table) supplies can neither
//! forge a log line or a line of `status` (control characters, CR/LF included, become spaces)
//! nor make one huge (it is cut, and the cut shown with `…`).

/// API text (`msg`, `error`, an error page, a field name): its length as shown.
pub const API_TEXT_CHARS: usize = 200;

/// A whole message (an error with its cause and fix), as logged, stored and shown: longer than
/// any the daemon writes itself, so only outside text inside it is ever cut.
pub const MESSAGE_CHARS: usize = 1_000;

/// `text` on one line and at most `max_chars` characters (then `…`): each control character
/// (newlines, terminal escape sequences) replaced by a space.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).map(|c| if forges(c) { ' ' } else { c }).collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// A character that could forge or reorder a line where the text is shown: control characters,
/// the Unicode line and paragraph separators, and the bidirectional overrides and isolates.
pub fn forges(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_one_line_and_cut_with_a_mark() {
        let table = [
            // (text, max, shown)
            ("plain", 10, "plain"),
            ("a\r\nb\tc\u{1b}[31m", 20, "a  b c [31m"),
            ("abcdef", 3, "abc…"),
            ("abc", 3, "abc"),
            ("ñandú…", 4, "ñand…"),
        ];
        for (text, max, shown) in table {
            assert_eq!(one_line(text, max), shown, "{text:?}");
        }
        let huge = format!("x\n{}", "y".repeat(10_000_000));
        let cut = one_line(&huge, MESSAGE_CHARS);
        assert_eq!(cut.chars().count(), MESSAGE_CHARS + 1);
        assert!(!cut.contains('\n') && cut.ends_with('…'));
    }
}
