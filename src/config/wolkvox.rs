//! `[wolkvox]`: the operation and how to reach its API. Owns the rules that the base URL is https
//! (plain http only to this machine or with an explicit opt-in, since it would carry the token in
//! clear text), that every token has a unique label and a value, that timeouts and attempts
//! are positive, and that an extra CA file (`ca_file`) is read and checked at start-up, not at
//! the first request.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono_tz::Tz;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use super::raw::RawWolkvox;
use super::{ApiSettings, ConfigError, Settings};
use crate::wolkvox::client::RetryPolicy;
use crate::wolkvox::token::NamedToken;

/// `[wolkvox]` validated: the parts of [`Settings`] it decides.
pub(super) struct Wolkvox {
    /// Label stored in the `account` column.
    pub(super) account: String,
    /// The operation's time zone.
    pub(super) timezone: Tz,
    /// Base URL of the API, if a server or URL was configured.
    pub(super) base_url: Option<Url>,
    /// Every configured token, sorted by label.
    pub(super) tokens: Vec<NamedToken>,
    /// Licences of the operation, if configured.
    pub(super) licenses: Option<u32>,
    /// Timeout for one whole request.
    pub(super) request_timeout: Duration,
    /// Retry policy for transient errors.
    pub(super) retry: RetryPolicy,
    /// CA certificates trusted besides the built-in roots.
    pub(super) ca_file: Option<CaFile>,
}

/// `wolkvox.ca_file`: CA certificates the API client trusts in addition to the built-in roots
/// (never instead of them), read and checked once at start-up.
#[derive(Clone, Debug)]
pub struct CaFile {
    /// The file, as configured.
    pub path: String,
    /// Its certificates, at least one, each a parsable X.509 certificate.
    pub certificates: Vec<reqwest::Certificate>,
}

/// Validates `[wolkvox]`, checking its keys in a fixed order so the first problem is reported.
pub(super) fn validate(w: &RawWolkvox) -> Result<Wolkvox, ConfigError> {
    if w.account.trim().is_empty() {
        return Err(ConfigError::invalid(
            "wolkvox.account",
            "is empty",
            "set a short label for this operation, e.g. account = \"acme\"",
        ));
    }
    let timezone: Tz = w.timezone.parse().map_err(|_| {
        ConfigError::invalid(
            "wolkvox.timezone",
            format!("{:?} is not an IANA time zone", w.timezone),
            "use a name such as \"America/Bogota\" (the zone of the operation's wolkvox server)",
        )
    })?;
    let base_url = resolve_base_url(w.server.as_deref(), w.base_url.as_deref(), w.allow_insecure_http)?;
    let (single, named) = token_values(w)?;
    let tokens = resolve_tokens(single.as_ref(), &named)?;
    if w.request_timeout_seconds == 0 {
        return Err(ConfigError::invalid(
            "wolkvox.request_timeout_seconds",
            "is 0",
            "use a positive number of seconds; the API itself stops at 60, so 90 is a good value",
        ));
    }
    if w.max_attempts == 0 {
        return Err(ConfigError::invalid("wolkvox.max_attempts", "is 0", "use 1 for no retries, or more (default 5)"));
    }
    let retry = RetryPolicy {
        max_attempts: w.max_attempts,
        initial_backoff: Duration::from_millis(w.retry_initial_backoff_ms),
        max_backoff: Duration::from_secs(w.retry_max_backoff_seconds),
    };
    let ca_file = w.ca_file.as_deref().filter(|p| !p.trim().is_empty()).map(read_ca_file).transpose()?;
    Ok(Wolkvox {
        account: w.account.trim().to_string(),
        timezone,
        base_url,
        tokens,
        licenses: w.licenses,
        request_timeout: Duration::from_secs(w.request_timeout_seconds),
        retry,
        ca_file,
    })
}

/// Reads `wolkvox.ca_file`: one or more PEM certificates, each parsed now, so a wrong file stops
/// start-up naming the key instead of failing every request with a TLS error.
fn read_ca_file(path: &str) -> Result<CaFile, ConfigError> {
    const KEY: &str = "wolkvox.ca_file";
    const FIX: &str = "give the path of a PEM file (-----BEGIN CERTIFICATE----- blocks) holding the CA certificate(s) \
        to trust, e.g. your TLS-inspecting proxy's root (from DER: openssl x509 -inform der -in ca.cer -out ca.pem), \
        readable by the service user; or unset the key";
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::invalid(KEY, format!("cannot read {path:?} ({e})"), FIX))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&bytes)
        .map_err(|e| ConfigError::invalid(KEY, format!("{path:?} is not a valid PEM file ({e})"), FIX))?;
    if certificates.is_empty() {
        return Err(ConfigError::invalid(KEY, format!("{path:?} holds no PEM certificate"), FIX));
    }
    // reqwest parses a certificate's DER only when a client is built: build one with these
    // certificates alone, so a damaged one is reported here.
    certificates
        .iter()
        .fold(reqwest::Client::builder().tls_built_in_root_certs(false), |b, c| b.add_root_certificate(c.clone()))
        .build()
        .map_err(|e| {
            ConfigError::invalid(KEY, format!("{path:?} holds a certificate that cannot be used ({e})"), FIX)
        })?;
    Ok(CaFile { path: path.to_string(), certificates })
}

/// How long the API works on a request before it gives up (its documented limit).
pub const API_SERVER_TIMEOUT: Duration = Duration::from_secs(60);

impl Settings {
    /// Valid settings that will still cost calls or time, each with its fix: printed by
    /// `check-config`, logged at WARN when the daemon starts.
    pub fn advice(&self) -> Vec<String> {
        let mut advice = Vec::new();
        if let Some(host) = &self.db_unverified_host {
            advice.push(format!(
                "database.url reaches the PostgreSQL server {host} without sslmode=verify-full, accepted because \
                 database.allow_unverified_tls = true: fine on a private network you trust, otherwise add \
                 ?sslmode=verify-full&sslrootcert=… to the URL"
            ));
        }
        if self.request_timeout <= API_SERVER_TIMEOUT {
            advice.push(format!(
                "wolkvox.request_timeout_seconds = {} gives up before the API does (it works on a request up to {} s): \
                 the retry then meets the API still busy with the first request and is refused as a simultaneous \
                 request. Fix: use more than {} (default 90)",
                self.request_timeout.as_secs(),
                API_SERVER_TIMEOUT.as_secs(),
                API_SERVER_TIMEOUT.as_secs()
            ));
        }
        advice
    }

    /// The certificates of `wolkvox.ca_file` (none when it is unset), for the API client.
    pub fn extra_roots(&self) -> &[reqwest::Certificate] {
        self.ca_file.as_ref().map_or(&[], |ca| ca.certificates.as_slice())
    }

    /// The API settings, or an error naming what is missing. Commands that call the API use this;
    /// `migrate` and `status` do not need a server or a token.
    pub fn api(&self) -> Result<ApiSettings<'_>, ConfigError> {
        let base_url = self.base_url.as_ref().ok_or_else(|| {
            ConfigError::invalid(
                "wolkvox.server",
                "is not set (nor wolkvox.base_url)",
                "set the operation's 4-digit server code, e.g. WOLKVOX_ETL__WOLKVOX__SERVER=0010",
            )
        })?;
        if self.tokens.is_empty() {
            return Err(ConfigError::invalid(
                "wolkvox.token",
                "no API token is configured",
                "set WOLKVOX_ETL__WOLKVOX__TOKEN, or add labelled tokens under [wolkvox.tokens]",
            ));
        }
        Ok(ApiSettings { base_url, tokens: &self.tokens })
    }
}

fn resolve_base_url(
    server: Option<&str>,
    base_url: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Option<Url>, ConfigError> {
    let (key, text) = match (base_url.filter(|u| !u.trim().is_empty()), server) {
        (Some(url), _) => ("wolkvox.base_url", url.trim().to_string()),
        (None, Some(server)) => {
            let server = server.trim();
            if server.len() != 4 || !server.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::invalid(
                    "wolkvox.server",
                    format!("{server:?} is not a 4-digit server code"),
                    "use the digits after \"wv\" in your wolkvox address, e.g. \"0010\" for wv0010.wolkvox.com",
                ));
            }
            ("wolkvox.server", format!("https://wv{server}.wolkvox.com/api/v2/"))
        }
        (None, None) => return Ok(None),
    };
    let with_slash = if text.ends_with('/') { text } else { format!("{text}/") };
    let url = Url::parse(&with_slash).map_err(|e| {
        ConfigError::invalid(
            key,
            // Unparsable, so it cannot be redacted piecewise: it may hold a credential.
            format!("the value is not a URL ({e})"),
            "use e.g. https://wv0010.wolkvox.com/api/v2/",
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(Some(url)),
        // Plain http would send the token in clear text; allow it only to this machine.
        "http" if loopback || allow_insecure_http => Ok(Some(url)),
        _ => Err(ConfigError::invalid(
            key,
            format!("{} does not use https", super::redact_userinfo(&url)),
            "use an https:// URL (plain http is accepted for 127.0.0.1/localhost, or anywhere with wolkvox.allow_insecure_http = true, which sends the token in clear text)",
        )),
    }
}

/// The single token and the named ones, each from its value or its `*_file`, never both.
fn token_values(w: &RawWolkvox) -> Result<(Option<SecretString>, BTreeMap<String, SecretString>), ConfigError> {
    let configured = |s: &SecretString| !s.expose_secret().trim().is_empty();
    let single = match (&w.token, &w.token_file) {
        (Some(token), Some(_)) if configured(token) => {
            return Err(ConfigError::invalid(
                "wolkvox.token_file",
                "is set together with wolkvox.token",
                "keep one: the file (preferred, the token stays out of the environment) or the value",
            ))
        }
        (_, Some(path)) => Some(super::read_secret_file("wolkvox.token_file", path)?),
        (token, None) => token.clone(),
    };
    let mut named = w.tokens.clone();
    for (label, path) in &w.token_files {
        let key = format!("wolkvox.token_files.{label}");
        if named.contains_key(label) {
            return Err(ConfigError::invalid(
                key,
                format!("is set together with wolkvox.tokens.{label}"),
                "keep one: the file (preferred) or the value",
            ));
        }
        named.insert(label.clone(), super::read_secret_file(&key, path)?);
    }
    Ok((single, named))
}

fn resolve_tokens(
    single: Option<&SecretString>,
    named: &BTreeMap<String, SecretString>,
) -> Result<Vec<NamedToken>, ConfigError> {
    let mut tokens = Vec::new();
    if let Some(secret) = single.filter(|s| !s.expose_secret().trim().is_empty()) {
        if named.contains_key("default") {
            return Err(ConfigError::invalid(
                "wolkvox.tokens.default",
                "clashes with wolkvox.token, which is labelled \"default\"",
                "remove one of them or rename the labelled token",
            ));
        }
        tokens.push(NamedToken { label: "default".into(), secret: secret.clone() });
    }
    for (label, secret) in named {
        if secret.expose_secret().trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("wolkvox.tokens.{label}"),
                "is empty",
                "paste the token from wolkvox Manager → Configuration → Tokens, or remove the entry",
            ));
        }
        tokens.push(NamedToken { label: label.clone(), secret: secret.clone() });
    }
    tokens.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    #[test]
    fn plain_http_to_another_host_needs_an_explicit_opt_in() {
        let url = ("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://simulator:8089/api/v2/");
        assert!(load(&[url]).is_err());
        let s = load(&[url, ("WOLKVOX_ETL__WOLKVOX__ALLOW_INSECURE_HTTP", "true")]).unwrap();
        assert_eq!(s.base_url.unwrap().as_str(), "http://simulator:8089/api/v2/");
    }

    #[test]
    fn secrets_are_read_from_files_trimmed_and_a_bad_file_names_its_key_but_not_its_content() {
        use secrecy::ExposeSecret;
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-secret-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let token = file("token", "tok-FROM-FILE\n");
        let backup = file("backup", "tok-BACKUP\r\n");
        let url = file("url", "postgres://etl:pw-FILE@db:5432/wolkvox?sslmode=verify-full\n");
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE", &token),
            ("WOLKVOX_ETL__WOLKVOX__TOKEN_FILES__BACKUP", &backup),
            ("WOLKVOX_ETL__DATABASE__URL_FILE", &url),
        ])
        .unwrap();
        let tokens: Vec<_> = s.tokens.iter().map(|t| (t.label.as_str(), t.secret.expose_secret())).collect();
        assert_eq!(tokens, [("backup", "tok-BACKUP"), ("default", "tok-FROM-FILE")]);
        assert_eq!(s.database_url.expose_secret(), "postgres://etl:pw-FILE@db:5432/wolkvox?sslmode=verify-full");
        assert!(!s.database_is_default);

        let missing = dir.join("absent").display().to_string();
        let empty = file("empty", "\n");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE", &missing)], "`wolkvox.token_file`"),
            (&[("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE", &empty)], "`wolkvox.token_file`"),
            (&[("WOLKVOX_ETL__WOLKVOX__TOKEN_FILES__BACKUP", &missing)], "`wolkvox.token_files.backup`"),
            (&[("WOLKVOX_ETL__DATABASE__URL_FILE", &missing)], "`database.url_file`"),
            (
                &[("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE", &token), ("WOLKVOX_ETL__WOLKVOX__TOKEN", "tok-VALUE")],
                "`wolkvox.token_file`",
            ),
            (
                &[
                    ("WOLKVOX_ETL__WOLKVOX__TOKEN_FILES__BACKUP", &backup),
                    ("WOLKVOX_ETL__WOLKVOX__TOKENS__BACKUP", "tok-VALUE"),
                ],
                "`wolkvox.token_files.backup`",
            ),
            (&[("WOLKVOX_ETL__DATABASE__URL_FILE", &url), ("DATABASE_URL", "postgres://x/y")], "`database.url_file`"),
        ];
        for (pairs, key) in cases {
            let text = super::super::tests::error_text(pairs);
            assert!(text.contains(key) && text.contains("Fix:"), "{pairs:?}: {text}");
            assert!(!text.contains("FROM-FILE") && !text.contains("BACKUP") && !text.contains("pw-FILE"), "{text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A self-signed CA certificate in PEM, as a corporate proxy's root would be exported.
    fn ca_pem(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_ca_bundle_is_loaded_at_start_up_and_a_bad_one_names_the_key_and_the_fix() {
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-ca-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let bundle = file("bundle.pem", &format!("{}{}", ca_pem("Proxy Root"), ca_pem("Private CA")));
        let s = load(&[("WOLKVOX_ETL__WOLKVOX__CA_FILE", &bundle)]).unwrap();
        assert_eq!(s.extra_roots().len(), 2);
        let text = s.describe();
        assert!(text.contains(&format!("ca_file = {bundle:?}  # 2 CA certificate(s)")), "{text}");
        assert!(load(&[]).unwrap().extra_roots().is_empty(), "none by default");

        let missing = dir.join("absent.pem").display().to_string();
        let key_only = file("key.pem", &rcgen::KeyPair::generate().unwrap().serialize_pem());
        let not_pem = file("notes.txt", "the proxy's root is on the wiki\n");
        let bad_base64 = file("bad64.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        let not_der = file("notder.pem", "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n");
        let cases = [
            (&missing, "cannot read"),
            (&key_only, "holds no PEM certificate"),
            (&not_pem, "holds no PEM certificate"),
            (&bad_base64, "is not a valid PEM file"),
            (&not_der, "holds a certificate that cannot be used"),
        ];
        for (path, problem) in cases {
            let text = super::super::tests::error_text(&[("WOLKVOX_ETL__WOLKVOX__CA_FILE", path)]);
            assert!(text.contains("`wolkvox.ca_file`") && text.contains(problem), "{path}: {text}");
            assert!(text.contains("Fix: give the path of a PEM file"), "{path}: {text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_api_settings_name_the_key_to_set() {
        let s = load(&[("WOLKVOX_ETL__WOLKVOX__SERVER", "0010")]).unwrap();
        assert!(s.api().unwrap_err().to_string().contains("`wolkvox.token`"));
    }
}
