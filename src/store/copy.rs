//! New rows by `COPY … FROM STDIN` (PostgreSQL): a window with nothing stored in its range loads
//! through the server's bulk path rather than the upsert's per-row conflict checks, about the
//! cost of a plain COPY (the ingest benchmark measures both).
//!
//! Only a hint decides that the keys are new (the hash query found no stored row in the
//! window's range), never a guarantee: a row of the same key can be stored dated outside the
//! range (a report whose key is not its time), stored without a `raw_hash` (before hashes), or
//! committed by another writer (a manual `sync`, the reconciliation) between the hash query and
//! this write. COPY then fails on the primary key. It runs inside a savepoint, so the failure
//! undoes only this batch's COPY; the same rows then go through the upsert, which resolves each
//! key the usual way. Nothing is lost or written twice either way; the caller stays on the
//! upsert for the rest of the window, as more such keys are likely.
//!
//! Text format, not binary: `numeric` values travel as the exact decimal text the upsert binds,
//! and the server's text input functions are the same ones the upsert's casts use.

use std::fmt::Write as _;

use chrono::Utc;

use super::schema::quote_ident;
use super::{StoreError, Tx};
use crate::store::rows::TypedRow;
use crate::wolkvox::catalog::Report;
use crate::wolkvox::values::Typed;

/// How a batch was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// By COPY: every row was new; how many.
    Copied(u64),
    /// By the upsert, after COPY met a stored key: how many rows were inserted or changed.
    Upserted(u64),
}

impl Written {
    /// Rows inserted or changed.
    pub fn rows(self) -> u64 {
        match self {
            Written::Copied(n) | Written::Upserted(n) => n,
        }
    }
}

/// The `COPY` statement of `report`'s table, columns in the upsert's order.
fn copy_sql(report: &Report) -> String {
    let cols: Vec<String> = report.fields.iter().map(|f| quote_ident(f.name)).collect();
    format!(
        "COPY {} (account, {}, raw, raw_hash, synced_at) FROM STDIN (FORMAT text)",
        quote_ident(report.table),
        cols.join(", ")
    )
}

/// Appends `text` as one field of COPY's text format: backslash, tab, newline and carriage
/// return escaped (NUL never reaches here: typing removes it). Most values hold none of them,
/// so the search for one is memchr's, not a loop over every byte.
fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // Where the next carriage return is, found again only once passed: searching for it from
    // every backslash would make a text of many escapes quadratic.
    let mut cr = memchr::memchr(b'\r', bytes);
    let mut from = 0;
    while from < bytes.len() {
        if cr.is_some_and(|at| at < from) {
            cr = memchr::memchr(b'\r', &bytes[from..]).map(|at| from + at);
        }
        let other = memchr::memchr3(b'\\', b'\t', b'\n', &bytes[from..]).map(|at| from + at);
        let next = match (other, cr) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        out.extend_from_slice(&bytes[from..next]);
        out.extend_from_slice(match bytes[next] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        from = next + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

const NULL: &[u8] = b"\\N";

/// One typed value in COPY's text format; formats without allocating for the common types.
fn push_value(out: &mut Vec<u8>, value: &Typed, scratch: &mut String) {
    scratch.clear();
    match value {
        Typed::Text(Some(v)) | Typed::Decimal(Some(v)) => return push_text(out, v),
        Typed::Integer(Some(v)) => {
            let _ = write!(scratch, "{v}");
        }
        Typed::Boolean(Some(v)) => scratch.push(if *v { 't' } else { 'f' }),
        // chrono's Display forms (`2026-11-30 05:00:01.25`, `2026-11-30`, `07:05:09.00025`):
        // ISO, the fraction only when there is one, and no format string parsed per value.
        Typed::Timestamp(Some(v)) => {
            let _ = write!(scratch, "{}+00", v.naive_utc());
        }
        Typed::Date(Some(v)) => {
            let _ = write!(scratch, "{v}");
        }
        Typed::Time(Some(v)) => {
            let _ = write!(scratch, "{v}");
        }
        _ => return out.extend_from_slice(NULL),
    }
    out.extend_from_slice(scratch.as_bytes());
}

/// Appends `row` as one COPY text-format line: `prefix` (the account, escaped), the fields,
/// raw, raw_hash, `synced` (synced_at, formatted).
fn encode_row(out: &mut Vec<u8>, prefix: &[u8], row: &TypedRow, synced: &str, scratch: &mut String) {
    out.extend_from_slice(prefix);
    for value in &row.values {
        out.push(b'\t');
        push_value(out, value, scratch);
    }
    out.push(b'\t');
    push_text(out, &row.raw);
    out.push(b'\t');
    scratch.clear();
    let _ = write!(scratch, "{}", row.raw_hash);
    out.extend_from_slice(scratch.as_bytes());
    out.push(b'\t');
    out.extend_from_slice(synced.as_bytes());
    out.push(b'\n');
}

/// COPY data is sent in pieces of about this size: the server starts on the first rows while
/// the rest are encoded, and neither this buffer nor the connection's grows with wide rows.
const CHUNK: usize = 64 * 1024;

/// Encodes and sends `rows` into an open COPY, a chunk at a time.
async fn send_rows(
    copy: &mut sqlx::postgres::PgCopyIn<&mut sqlx::PgConnection>,
    account: &str,
    rows: &[TypedRow],
) -> Result<(), sqlx::Error> {
    let synced = format!("{}+00", Utc::now().naive_utc());
    let mut prefix = Vec::new();
    push_text(&mut prefix, account);
    let (mut out, mut scratch) = (Vec::with_capacity(2 * CHUNK), String::new());
    for row in rows {
        encode_row(&mut out, &prefix, row, &synced, &mut scratch);
        if out.len() >= CHUNK {
            copy.send(out.as_slice()).await?;
            out.clear();
        }
    }
    if !out.is_empty() {
        copy.send(out.as_slice()).await?;
    }
    Ok(())
}

impl Tx {
    /// Writes `rows` (keys distinct, believed new) by COPY inside a savepoint; if a key turns out
    /// to be stored, undoes the COPY and upserts them instead. SQLite has no COPY: upserts.
    pub async fn insert_new(
        &mut self,
        report: &Report,
        account: &str,
        rows: &[TypedRow],
    ) -> Result<Written, StoreError> {
        let pg = match self {
            Tx::Postgres(pg) if !rows.is_empty() => pg,
            _ => return Ok(Written::Upserted(self.upsert(report, account, rows).await?)),
        };
        sqlx::query("SAVEPOINT wolkvox_copy").execute(&mut **pg).await?;
        let copied = async {
            let mut copy = pg.copy_in_raw(&copy_sql(report)).await?;
            match send_rows(&mut copy, account, rows).await {
                Ok(()) => copy.finish().await,
                Err(e) => {
                    // Ends the COPY cleanly (the server reports the abort); the error is `e`.
                    let _ = copy.abort("sending failed").await;
                    Err(e)
                }
            }
        }
        .await;
        match copied {
            Ok(n) => {
                sqlx::query("RELEASE SAVEPOINT wolkvox_copy").execute(&mut **pg).await?;
                Ok(Written::Copied(n))
            }
            Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
                sqlx::query("ROLLBACK TO SAVEPOINT wolkvox_copy").execute(&mut **pg).await?;
                sqlx::query("RELEASE SAVEPOINT wolkvox_copy").execute(&mut **pg).await?;
                Ok(Written::Upserted(self.upsert(report, account, rows).await?))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime, TimeZone};

    #[test]
    fn text_fields_escape_what_copy_reads_as_structure() {
        let mut out = Vec::new();
        push_text(&mut out, "a\\b\tc\nd\re\"f");
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\"f");
        let mut out = Vec::new();
        push_text(&mut out, "\r\rplain ñ\\");
        assert_eq!(out, "\\r\\rplain ñ\\\\".as_bytes());
        let mut out = Vec::new();
        push_text(&mut out, "");
        assert!(out.is_empty());
    }

    proptest::proptest! {
        /// The memchr search escapes exactly what a byte-by-byte rule escapes.
        #[test]
        fn push_text_escapes_as_the_byte_rule_does(text in "[a\\\\\t\n\r\"ñ]{0,40}") {
            let mut fast = Vec::new();
            push_text(&mut fast, &text);
            let mut slow = Vec::new();
            for b in text.bytes() {
                match b {
                    b'\\' => slow.extend_from_slice(b"\\\\"),
                    b'\t' => slow.extend_from_slice(b"\\t"),
                    b'\n' => slow.extend_from_slice(b"\\n"),
                    b'\r' => slow.extend_from_slice(b"\\r"),
                    b => slow.push(b),
                }
            }
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn values_use_postgres_input_syntax_and_null_is_backslash_n() {
        let mut scratch = String::new();
        let mut one = |v: Typed| {
            let mut out = Vec::new();
            push_value(&mut out, &v, &mut scratch);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(one(Typed::Integer(Some(-42))), "-42");
        assert_eq!(one(Typed::Decimal(Some("15233.33".into()))), "15233.33");
        assert_eq!(one(Typed::Boolean(Some(false))), "f");
        assert_eq!(one(Typed::Date(NaiveDate::from_ymd_opt(2026, 11, 30))), "2026-11-30");
        assert_eq!(one(Typed::Time(NaiveTime::from_hms_micro_opt(7, 5, 9, 250))), "07:05:09.000250");
        let fraction = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 1).unwrap() + chrono::Duration::milliseconds(250);
        assert_eq!(one(Typed::Timestamp(Some(fraction))), "2026-11-30 05:00:01.250+00");
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 1).unwrap();
        assert_eq!(one(Typed::Timestamp(Some(at))), "2026-11-30 05:00:01+00");
        assert_eq!(one(Typed::Text(None)), "\\N");
        assert_eq!(one(Typed::Timestamp(None)), "\\N");
    }

    #[test]
    fn one_line_per_row_with_account_first_and_the_hash_and_sync_time_last() {
        let row = TypedRow {
            values: vec![Typed::Text(Some("x\ty".into())), Typed::Integer(None)],
            raw: "{\"a\":\"\\n\"}".into(),
            raw_hash: 7,
        };
        let (mut out, mut scratch) = (Vec::new(), String::new());
        for _ in 0..2 {
            encode_row(&mut out, b"acc", &row, "2026-11-30 00:00:00+00", &mut scratch);
        }
        let line = "acc\tx\\ty\t\\N\t{\"a\":\"\\\\n\"}\t7\t2026-11-30 00:00:00+00\n";
        assert_eq!(String::from_utf8(out).unwrap(), format!("{line}{line}"));
    }
}
