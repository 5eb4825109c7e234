//! Decoding of the API's `{code, error, msg, data}` envelope into rows or a typed error.
//!
//! The real API is inconsistent, so decoding is lenient where it is safe and strict where data is
//! at stake: `code` may be the string `"200"` or the number `200`; an error may arrive with HTTP
//! 200 and its real status in `code`; HTTP 404 (or code 404) means "no records"; `data` may be an
//! array, a single object or absent; keys are trimmed (`"agent_anwers "`). Anything that is not a
//! JSON envelope is [`ApiError::Malformed`], never zero rows, so a broken response can never be
//! mistaken for an empty window.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;

/// One report row: field name (trimmed) → value as sent.
pub type Row = Map<String, Value>;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    msg: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

/// How much of an unexpected body is kept for the log.
const SNIPPET_CHARS: usize = 200;

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

fn text_of(value: &Option<Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn code_of(value: &Option<Value>) -> Option<u16> {
    match value {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Decodes one HTTP response into rows, or the error it stands for.
pub fn decode(status: u16, body: &[u8]) -> Result<Vec<Row>, ApiError> {
    if status == 404 {
        return Ok(Vec::new());
    }
    let envelope: Option<Envelope> = std::str::from_utf8(body).ok().and_then(|text| serde_json::from_str(text).ok());
    let Some(envelope) = envelope else {
        return Err(match status {
            200..=299 => ApiError::Malformed { status, reason: format!("not a JSON envelope: {}", snippet(body)) },
            400..=499 => classify(status, snippet(body)),
            _ => ApiError::Server { status, body: snippet(body) },
        });
    };
    // An error can arrive with HTTP 200: the envelope's code is then the real status.
    let effective = match (status, code_of(&envelope.code)) {
        (200..=299, Some(code)) => code,
        (200..=299, None) => 200,
        (status, _) => status,
    };
    match effective {
        200..=299 => rows_of(status, envelope.data),
        404 => Ok(Vec::new()),
        400..=499 => {
            let msg = match (text_of(&envelope.msg), text_of(&envelope.error)) {
                (msg, _) if !msg.is_empty() => msg,
                (_, error) => error,
            };
            Err(classify(effective, msg))
        }
        _ => Err(ApiError::Server { status: effective, body: snippet(body) }),
    }
}

fn classify(status: u16, msg: String) -> ApiError {
    let upper = msg.to_uppercase();
    match status {
        401 => ApiError::InvalidToken { status, msg },
        403 if upper.contains("TOKEN LIMIT") => ApiError::TokenLimit { msg },
        403 if upper.contains("SIMULTANEOUS") => ApiError::SimultaneousUse { msg },
        403 if upper.contains("VALIDATE TOKEN") || upper.contains("INVALID TOKEN") => {
            ApiError::InvalidToken { status, msg }
        }
        403 => ApiError::Forbidden { msg },
        400 if upper.contains("DOES NOT EXIST") => ApiError::UnknownReport { msg },
        _ => ApiError::BadRequest { status, msg },
    }
}

fn rows_of(status: u16, data: Option<Value>) -> Result<Vec<Row>, ApiError> {
    let items = match data {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        // Some endpoints answer a single object instead of a one-element array.
        Some(Value::Object(object)) => vec![Value::Object(object)],
        Some(other) => {
            return Err(ApiError::Malformed {
                status,
                reason: format!("`data` is neither an array nor an object: {}", snippet(other.to_string().as_bytes())),
            })
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(object) => Ok(trim_keys(object)),
            other => Err(ApiError::Malformed {
                status,
                reason: format!("a `data` element is not an object: {}", snippet(other.to_string().as_bytes())),
            }),
        })
        .collect()
}

fn trim_keys(object: Row) -> Row {
    if object.keys().all(|k| k.trim().len() == k.len()) {
        return object;
    }
    object.into_iter().map(|(k, v)| (k.trim().to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(status: u16, body: &str) -> Vec<Row> {
        decode(status, body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn err(status: u16, body: &str) -> ApiError {
        decode(status, body.as_bytes()).expect_err(body)
    }

    #[test]
    fn code_may_be_a_string_or_a_number() {
        let s = ok(200, r#"{"code":"200","error":null,"msg":"1 records were found","data":[{"a":"1"}]}"#);
        let n = ok(200, r#"{"code":200,"error":null,"msg":"1 records were found","data":[{"a":"1"}]}"#);
        assert_eq!(s, n);
        assert_eq!(s[0]["a"], json!("1"));
    }

    #[test]
    fn not_found_means_no_records_whatever_the_body() {
        assert!(ok(404, "<html>Not Found</html>").is_empty());
        assert!(ok(404, "").is_empty());
        assert!(ok(200, r#"{"code":"404","error":"NOT FOUND","msg":"0 records were found","data":[]}"#).is_empty());
    }

    #[test]
    fn an_error_inside_an_http_200_is_an_error() {
        let e = err(200, r#"{"code":403,"error":"FORBIDDEN","msg":"TOKEN LIMIT EXCEEDED"}"#);
        assert!(matches!(e, ApiError::TokenLimit { .. }), "{e:?}");
        let e = err(200, r#"{"code":"500","error":"x","msg":"boom"}"#);
        assert!(matches!(e, ApiError::Server { status: 500, .. }), "{e:?}");
    }

    #[test]
    fn the_forbidden_texts_map_to_their_meaning() {
        let body = |msg: &str| format!(r#"{{"code":403,"error":"FORBIDDEN","msg":"{msg}"}}"#);
        assert!(matches!(err(403, &body("TOKEN LIMIT EXCEEDED")), ApiError::TokenLimit { .. }));
        assert!(matches!(
            err(403, &body("EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)")),
            ApiError::SimultaneousUse { .. }
        ));
        assert!(matches!(err(403, &body("PLEASE VALIDATE TOKEN")), ApiError::InvalidToken { .. }));
        assert!(matches!(err(403, "<html>maintenance</html>"), ApiError::Forbidden { .. }));
        assert!(matches!(
            err(401, r#"{"code":401,"error":"UNAUTHORIZED","msg":"PLEASE ENTER THE WOLKVOX-TOKEN"}"#),
            ApiError::InvalidToken { status: 401, .. }
        ));
        assert!(matches!(
            err(400, r#"{"code":400,"error":"BAD REQUEST","msg":"THE API YOU WANT TO CONSULT DOES NOT EXIST"}"#),
            ApiError::UnknownReport { .. }
        ));
        assert!(matches!(
            err(400, r#"{"code":400,"error":"BAD REQUEST","msg":"SOME PARAMETERS ARE REQUIRED"}"#),
            ApiError::BadRequest { .. }
        ));
    }

    #[test]
    fn broken_bodies_are_malformed_or_server_errors_never_empty() {
        assert!(matches!(err(200, r#"{"code":"200","data":[{"a":"1"}"#), ApiError::Malformed { .. }));
        assert!(matches!(decode(200, b"\xff\xfe{}"), Err(ApiError::Malformed { .. })));
        assert!(matches!(err(200, r#"{"code":"200","data":"oops"}"#), ApiError::Malformed { .. }));
        assert!(matches!(err(200, r#"{"code":"200","data":[1,2]}"#), ApiError::Malformed { .. }));
        assert!(matches!(err(502, "<html>Bad Gateway</html>"), ApiError::Server { status: 502, .. }));
    }

    #[test]
    fn data_may_be_a_single_object_or_absent_and_keys_are_trimmed() {
        let rows = ok(200, r#"{"code":"200","data":{"agent_anwers ":"3"}}"#);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["agent_anwers"], json!("3"));
        assert!(ok(200, r#"{"code":"200","error":null,"msg":"0 records were found"}"#).is_empty());
    }

    #[test]
    fn long_bodies_are_cut_in_error_messages() {
        let long = "x".repeat(10_000);
        let text = err(500, &long).to_string();
        assert!(text.len() < 400, "{}", text.len());
    }
}
