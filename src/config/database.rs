//! `[database]`: where rows land. Owns the choice of backend by URL (an unset or blank URL means
//! the embedded SQLite file) and the redaction of a database URL for display, so its password
//! never reaches a terminal or a log.

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use super::raw::RawDatabase;
use super::{ConfigError, DEFAULT_DATABASE_URL};

/// `[database]` validated: the parts of [`Settings`](super::Settings) it decides.
pub(super) struct Database {
    /// The configured URL, or the embedded SQLite default.
    pub(super) url: SecretString,
    /// True when no database was configured and the embedded SQLite file is used.
    pub(super) is_default: bool,
    /// Pool size.
    pub(super) max_connections: u32,
    /// Connect, statement and lock timeouts.
    pub(super) timeouts: crate::store::DbTimeouts,
    /// The host of a PostgreSQL server reached without verified TLS (accepted by opt-in).
    pub(super) unverified_host: Option<String>,
    /// The PostgreSQL schema, when configured.
    pub(super) schema: Option<String>,
}

/// Validates `[database]`: a positive pool size and a postgres:// or sqlite:// URL, given as
/// `url` or read from `url_file`. `request` is the API's request timeout, which a window's
/// transaction waits through (see [`crate::store::DbTimeouts`]).
pub(super) fn validate(raw: RawDatabase, request: std::time::Duration) -> Result<Database, ConfigError> {
    if raw.max_connections == 0 {
        return Err(ConfigError::invalid(
            "database.max_connections",
            "is 0",
            "use a pool size of at least 1 (default 5)",
        ));
    }
    let (url, is_default) = url_of(raw.url, raw.url_file)?;
    let timeouts =
        timeouts_of(raw.connect_timeout_seconds, raw.statement_timeout_seconds, raw.lock_timeout_seconds, request)?;
    if let Some(key) = unknown_parameter(url.expose_secret()) {
        // The driver would ignore it with a WARN quoting its value: a misspelled `pasword=`
        // would reach the log in clear. Refused here, named, its value never shown.
        return Err(ConfigError::invalid(
            "database.url",
            format!("has the parameter `{key}`, which the PostgreSQL driver does not read (its value is not shown)"),
            format!("remove it or correct its spelling; the driver reads {}", POSTGRES_PARAMETERS.join(", ")),
        ));
    }
    let unverified_host = unverified_tls_host(url.expose_secret());
    if let Some(host) = unverified_host.as_ref().filter(|_| !raw.allow_unverified_tls) {
        return Err(ConfigError::invalid(
            "database.url",
            format!("reaches the PostgreSQL server {host} without sslmode=verify-full: the connection could be read or redirected"),
            "add ?sslmode=verify-full&sslrootcert=/path/to/ca.pem to the URL; on a private network you trust (docker compose), \
             set database.allow_unverified_tls = true",
        ));
    }
    let schema = schema_of(raw.schema)?;
    Ok(Database { url, is_default, max_connections: raw.max_connections, timeouts, unverified_host, schema })
}

/// The database URL, from `url` or `url_file` (not both), and whether it is the default.
fn url_of(url: Option<SecretString>, url_file: Option<String>) -> Result<(SecretString, bool), ConfigError> {
    let raw_url = match (url, url_file) {
        (Some(url), Some(_)) if !url.expose_secret().trim().is_empty() => {
            return Err(ConfigError::invalid(
                "database.url_file",
                "is set together with database.url (or DATABASE_URL)",
                "keep one: the file (preferred, the password stays out of the environment) or the URL",
            ))
        }
        (_, Some(path)) => Some(super::read_secret_file("database.url_file", &path)?),
        (url, None) => url,
    };
    let is_default = raw_url.as_ref().is_none_or(|u| u.expose_secret().trim().is_empty());
    let url = match raw_url {
        Some(url) if !url.expose_secret().trim().is_empty() => {
            if crate::store::Backend::of_url(url.expose_secret()).is_none() {
                return Err(ConfigError::invalid(
                    "database.url",
                    "is neither a postgres:// nor a sqlite:// URL",
                    "use postgres://USER:PASSWORD@HOST:5432/DATABASE, or sqlite://FILE.db for the embedded database",
                ));
            }
            url
        }
        _ => SecretString::from(DEFAULT_DATABASE_URL.to_string()),
    };
    Ok((url, is_default))
}

/// The database's timeouts, each a positive number of seconds; `request` is the API's.
fn timeouts_of(
    connect_timeout_seconds: u64,
    statement_timeout_seconds: u64,
    lock_timeout_seconds: u64,
    request: std::time::Duration,
) -> Result<crate::store::DbTimeouts, ConfigError> {
    let seconds = |key: &str, value: u64| {
        if value == 0 {
            return Err(ConfigError::invalid(
                format!("database.{key}"),
                "is 0",
                "use a number of seconds; 0 would mean waiting forever",
            ));
        }
        Ok(std::time::Duration::from_secs(value))
    };
    Ok(crate::store::DbTimeouts {
        connect: seconds("connect_timeout_seconds", connect_timeout_seconds)?,
        statement: seconds("statement_timeout_seconds", statement_timeout_seconds)?,
        lock: seconds("lock_timeout_seconds", lock_timeout_seconds)?,
        request,
    })
}

/// `database.schema`, when set: a plain lower-case schema name, not `bi`.
fn schema_of(schema: Option<String>) -> Result<Option<String>, ConfigError> {
    let schema = schema.filter(|s| !s.trim().is_empty());
    if let Some(schema) = &schema {
        let plain = schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !schema.starts_with("pg_")
            // The KPI views' schema: its views are dropped and made again.
            && schema != "bi";
        if !plain {
            return Err(ConfigError::invalid(
                "database.schema",
                format!("{schema:?} is not a plain schema name"),
                "use lower-case letters, digits and underscores, starting with a letter (default wolkvox)",
            ));
        }
    }
    Ok(schema)
}

/// The host of a `postgres://` URL that points at another machine without `sslmode=verify-full`
/// (libpq's default, `prefer`, falls back to plain text; `require` does not check the
/// certificate). Loopback and Unix sockets are never on the wire.
/// The query parameters of a `postgres://` URL the driver reads (sqlx-postgres' URL parser).
const POSTGRES_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The first query parameter of a `postgres://` URL that the driver does not read.
fn unknown_parameter(url: &str) -> Option<String> {
    if crate::store::Backend::of_url(url) != Some(crate::store::Backend::Postgres) {
        return None;
    }
    let parsed = Url::parse(url).ok()?;
    let unknown =
        parsed.query_pairs().map(|(k, _)| k.into_owned()).find(|k| !POSTGRES_PARAMETERS.contains(&k.as_str()));
    // The name is the user's text: cut and on one line, like any text shown.
    unknown.map(|k| crate::text::one_line(&k, 64))
}

fn unverified_tls_host(url: &str) -> Option<String> {
    use std::str::FromStr;
    if crate::store::Backend::of_url(url) != Some(crate::store::Backend::Postgres) {
        return None;
    }
    // The driver's own reading of the URL: the host it dials and the ssl mode in force (the last
    // `sslmode`), not the URL's look. `?host=` wins over the URL's host; an address in
    // `hostaddr` (the URL's last one, else PGHOSTADDR) is dialled instead of either, the host
    // then only naming the certificate. sqlx 0.9 keeps that address without a getter, so it is
    // read here the way the driver reads it.
    let options = sqlx::postgres::PgConnectOptions::from_str(url).ok()?;
    if options.get_socket().is_some() {
        return None;
    }
    let hostaddr = Url::parse(url)
        .ok()?
        .query_pairs()
        .filter(|(k, _)| k == "hostaddr")
        .last()
        .map(|(_, v)| v.into_owned())
        .or_else(|| std::env::var("PGHOSTADDR").ok().filter(|a| a.parse::<std::net::IpAddr>().is_ok()));
    let host = hostaddr.unwrap_or_else(|| options.get_host().to_string());
    let host = host.trim_matches(|c| c == '[' || c == ']').to_string();
    let loopback = host.is_empty()
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let verified = matches!(options.get_ssl_mode(), sqlx::postgres::PgSslMode::VerifyFull);
    (!loopback && !verified).then_some(host)
}

/// A URL with its password (and any password or token query parameter) replaced, for display.
/// The user name is kept: for a database it says which role connects. Use [`redact_userinfo`]
/// where the user name itself may be a credential.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return "[REDACTED: unparsable URL]".to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("REDACTED"));
    }
    // libpq also takes the password as a query parameter; HTTP APIs sometimes take a token.
    let secret_param = |k: &str| {
        matches!(
            k.to_ascii_lowercase().as_str(),
            "password" | "sslpassword" | "token" | "access_token" | "api_key" | "apikey"
        )
    };
    if parsed.query_pairs().any(|(k, _)| secret_param(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_param(&k) { "REDACTED".to_string() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Like [`redact_url`], with the user name replaced too: for an API URL, where `user:pass@` or a
/// lone `token@` is a credential and never needed to say which server is meant.
pub fn redact_userinfo(url: &Url) -> String {
    let mut url = url.clone();
    if !url.username().is_empty() {
        let _ = url.set_username("REDACTED");
    }
    redact_url(url.as_str())
}
