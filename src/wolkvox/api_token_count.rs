//! The API's own count of a token's daily calls: `information.php?api=token_info`, read
//! leniently into a [`TokenInfo`].
//!
//! Every figure arrives as a string, and the Postman example shows them all blank (`" "`), so
//! each is read as an integer where it is one (`"1000"`, `"1,000"`, a JSON number) and is `None`
//! otherwise: a blank, a placeholder or an unreadable value leaves that figure unknown, it never
//! fails the read. The integer rules are the report values' ([`super::values`]), so there is one
//! reading of "a whole number" in the crate.

use serde_json::Value;

use super::catalog::FieldType;
use super::values::{self, Typed};
use super::Row;

/// What `token_info` says about one token today. Every figure is `None` when the API left it
/// blank or sent something that is not a whole number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenInfo {
    /// `description`: how the token is described in wolkvox Manager (never its secret: the
    /// client drops a description equal to the secret).
    pub description: Option<String>,
    /// `token_limit`: the calls allowed per day.
    pub limit: Option<i64>,
    /// `token_use_today`: this token's calls today, the read itself included.
    pub use_today: Option<i64>,
    /// `all_token_today`: the calls of every token of the operation today (every integration's).
    pub all_today: Option<i64>,
    /// `available_consumption_options`: the calls left today (`token_limit − token_use_today`).
    pub available: Option<i64>,
}

impl TokenInfo {
    /// Reads the figures of `token_info`'s one `data` object (its keys already trimmed).
    pub fn from_row(row: &Row) -> TokenInfo {
        let text = match row.get("description") {
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        TokenInfo {
            description: text.filter(|t| !t.is_empty()),
            limit: integer(row.get("token_limit")),
            use_today: integer(row.get("token_use_today")),
            all_today: integer(row.get("all_token_today")),
            available: integer(row.get("available_consumption_options")),
        }
    }
}

/// A whole number, or `None` for a blank, a placeholder or anything unreadable.
fn integer(value: Option<&Value>) -> Option<i64> {
    // The zone only matters for datetimes.
    match values::parse(value, FieldType::Integer, chrono_tz::UTC).value {
        Typed::Integer(n) => n,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wolkvox::envelope;

    fn row(value: Value) -> Row {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn figures_sent_as_strings_are_read_as_integers() {
        let info = TokenInfo::from_row(&row(json!({
            "description": " ETL ",
            "token_limit": "8000",
            "token_use_today": "1,234",
            "all_token_today": 5120,
            "available_consumption_options": "6766",
        })));
        assert_eq!(
            info,
            TokenInfo {
                description: Some("ETL".into()),
                limit: Some(8000),
                use_today: Some(1234),
                all_today: Some(5120),
                available: Some(6766),
            }
        );
    }

    #[test]
    fn blank_missing_and_unreadable_figures_are_unknown_never_an_error() {
        let cases = [
            json!({"description": " ", "token_limit": " ", "token_use_today": " ", "all_token_today": " ",
                   "available_consumption_options": " "}),
            json!({}),
            json!({"description": null, "token_limit": "-", "token_use_today": "", "all_token_today": "n/a",
                   "available_consumption_options": "12.5"}),
            json!({"token_limit": [], "token_use_today": {}, "all_token_today": true}),
        ];
        for case in cases {
            assert_eq!(TokenInfo::from_row(&row(case.clone())), TokenInfo::default(), "{case}");
        }
    }

    #[test]
    fn the_postman_examples_blank_answer_decodes_to_unknown_figures() {
        let body = br#"{"code":"200","error":null,"msg":"1 records were found","data":[{"description":" ",
            "token_limit":" ","token_use_today":" ","all_token_today":" ","available_consumption_options":" "}]}"#;
        let rows = envelope::decode(200, body).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(TokenInfo::from_row(&rows[0]), TokenInfo::default());
    }
}
