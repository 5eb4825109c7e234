//! The one door for SQL text that is not a string literal.
//!
//! sqlx 0.9 takes a `&'static str` as it is and asks every other text to be marked safe with
//! `AssertSqlSafe`: a speed bump against `format!` with a value in it. Our built statements
//! never hold a value read from outside — every value is a bind (`$1`, `?`) — only identifiers,
//! and those come from places a user cannot write into: the compiled-in report catalogue (table
//! and column names, which its unit tests hold to plain lower-case identifiers), the dimension
//! catalogue and the BI views (likewise compiled in), and fixed fragments picked by backend.
//! Each caller says which, so a reviewer can check the claim where it is made; `grep -rn
//! 'sql::built'` lists them all.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

/// Marks a statement we assembled from compiled-in identifiers as safe to send. Never pass text
/// that holds a value read from the API, the configuration or a row. The result is shared, so
/// a statement run once per row is cloned, not copied.
pub fn built(text: impl Into<String>) -> SqlStr {
    AssertSqlSafe(Arc::<str>::from(text.into())).into_sql_str()
}
