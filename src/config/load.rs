//! Loading: the built-in defaults, the `--config` files (in order) and the environment merged into
//! [`RawSettings`](super::RawSettings), then one [`Settings`] per operation (the top level alone,
//! or each `[accounts.<name>]` section layered over it). Owns the rule that a configured secret
//! never appears in a load error: the config crate quotes offending values, so its messages are
//! scrubbed of every secret value before they leave here.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::accounts::collect_leaves;
use super::{ConfigError, Settings, ENV_PREFIX};

/// The built-in defaults, also the documentation of what a bare install does.
const DEFAULTS: &str = include_str!("../../config/default.toml");

impl Settings {
    /// Loads the layers from the defaults, the config `files` in order (none, one, or several:
    /// `None`, `Some(path)` and a list all work) and the process environment.
    pub fn load<'a>(files: impl IntoIterator<Item = &'a Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(files, std::env::vars().collect())
    }

    /// Like [`Settings::load`] but with an explicit environment, so tests need not touch the
    /// process's (which is shared by tests running in parallel).
    pub fn load_with_env<'a>(
        files: impl IntoIterator<Item = &'a Path>,
        env: HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let mut all = Self::load_all_with_env(files, env)?;
        // load_all returns at least one account.
        Ok(all.remove(0))
    }

    /// Every configured operation: the top level alone (one account), or one per
    /// `[accounts.<name>]` section, each layered over the top level.
    pub fn load_all<'a>(files: impl IntoIterator<Item = &'a Path>) -> Result<Vec<Settings>, ConfigError> {
        Self::load_all_with_env(files, std::env::vars().collect())
    }

    /// Like [`Settings::load_all`] with an explicit environment.
    pub fn load_all_with_env<'a>(
        files: impl IntoIterator<Item = &'a Path>,
        env: HashMap<String, String>,
    ) -> Result<Vec<Settings>, ConfigError> {
        let files: Vec<PathBuf> = files.into_iter().map(Path::to_path_buf).collect();
        let builder = Self::layers(&files, env)?;
        let merged = builder.clone().build().map_err(parse_error)?;
        // The config crate quotes offending values in its errors: keep secrets out of them.
        let secrets = secret_values(&merged);
        let scrub = |e: config::ConfigError| -> ConfigError {
            let mut text = e.to_string();
            for secret in &secrets {
                text = text.replace(secret.as_str(), "[REDACTED]");
            }
            ConfigError::Scrubbed(text)
        };
        let mut all = Self::load_accounts(builder, merged).map_err(|e| match e {
            ConfigError::Load(inner) => scrub(inner),
            other => other,
        })?;
        for settings in &mut all {
            settings.config_files.clone_from(&files);
        }
        Ok(all)
    }

    fn load_accounts(
        builder: config::ConfigBuilder<config::builder::DefaultState>,
        merged: config::Config,
    ) -> Result<Vec<Settings>, ConfigError> {
        let accounts: BTreeMap<String, config::Value> = merged.get("accounts").unwrap_or_default();
        if accounts.is_empty() {
            return Ok(vec![Self::from_raw(merged.try_deserialize()?)?]);
        }
        let mut all = Vec::with_capacity(accounts.len());
        for (name, section) in accounts {
            // The section's keys override the top level's, leaf by leaf, so an account only
            // states what differs (its server, tokens, zone, reports).
            let mut leaves = Vec::new();
            collect_leaves(&format!("accounts.{name}"), "", section, &mut leaves)?;
            let mut layered = builder.clone().set_override("wolkvox.account", name.clone())?;
            for (key, value) in leaves {
                layered = layered.set_override(key, value)?;
            }
            all.push(Self::from_raw(layered.build()?.try_deserialize()?)?);
        }
        Ok(all)
    }

    fn layers(
        files: &[PathBuf],
        env: HashMap<String, String>,
    ) -> Result<config::ConfigBuilder<config::builder::DefaultState>, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        // Each file over the ones before it, key by key: a later file states only what it changes.
        for path in files {
            if !path.exists() {
                return Err(ConfigError::invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                    "pass the path of a TOML file (see config/example.toml) or omit --config",
                ));
            }
            builder =
                builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml).required(true));
        }
        // DATABASE_URL is honoured as the conventional name, but the specific variable wins.
        let database_url = env.get("DATABASE_URL").cloned();
        let specific_db = format!("{ENV_PREFIX}__DATABASE__URL");
        let has_specific_db = env.contains_key(&specific_db);
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect())),
        );
        if let (Some(url), false) = (database_url, has_specific_db) {
            builder = builder.set_override("database.url", url)?;
        }
        Ok(builder)
    }
}

/// Every string under a key that holds a secret (`token`, `tokens`, `database.url`), anywhere in
/// the merged layers, so error messages can be scrubbed of them.
fn secret_values(merged: &config::Config) -> Vec<String> {
    fn walk(path: &str, value: config::Value, secret: bool, out: &mut Vec<String>) {
        match value.kind {
            config::ValueKind::Table(table) => {
                for (k, v) in table {
                    let key = format!("{path}.{k}");
                    let is_secret =
                        secret || k.starts_with("token") || key.ends_with("database.url") || k == "password";
                    walk(&key, v, is_secret, out);
                }
            }
            config::ValueKind::Array(items) => items.into_iter().for_each(|v| walk(path, v, secret, out)),
            config::ValueKind::Nil => {}
            kind if secret => {
                let text = config::Value::new(None, kind).to_string();
                if text.len() >= 4 {
                    out.push(text);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(root) = merged.get::<config::Value>("") {
        walk("", root, false, &mut out);
    } else if let Ok(table) = merged.clone().try_deserialize::<BTreeMap<String, config::Value>>() {
        for (k, v) in table {
            let secret = k.starts_with("token");
            walk(&k, v, secret, &mut out);
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// A configuration file that does not parse, told by file, line and column only: the TOML
/// parser's own message quotes the offending line, which in a layered Secret file is the
/// `token = "…` line itself.
fn parse_error(e: config::ConfigError) -> ConfigError {
    match e {
        config::ConfigError::FileParse { uri, cause } => {
            let text = cause.to_string();
            let at = text.find("at line ").map(|i| {
                let rest = &text[i + 3..];
                rest[..rest.find(['\n', '\r']).unwrap_or(rest.len())].trim().to_string()
            });
            let file = uri.unwrap_or_else(|| "a configuration file".into());
            ConfigError::Scrubbed(format!(
                "{file} is not valid TOML ({}; the line is not shown, it may hold a secret)",
                at.unwrap_or_else(|| "position unknown".into())
            ))
        }
        other => ConfigError::Load(other),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::super::tests::{error_text, load};
    use super::super::{Settings, DEFAULT_DATABASE_URL};

    #[test]
    fn the_defaults_alone_are_valid_and_enable_chat_14_every_five_minutes() {
        let s = load(&[]).unwrap();
        assert_eq!(s.account, "default");
        assert_eq!(s.timezone, chrono_tz::America::Bogota);
        let chat_14 = s.reports.iter().find(|r| r.report.api == "chat_14").expect("chat_14 is enabled");
        assert_eq!(chat_14.schedule, "0 */5 * * * *");
        assert!(s.reports.iter().all(|r| r.report.enabled_by_default), "defaults need no parameter");
        assert!(s.base_url.is_none());
        assert!(s.api().is_err());
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert!(s.database_is_default);
    }

    #[test]
    fn env_variables_override_nested_keys_and_database_url_is_honoured() {
        let s = load(&[
            ("WOLKVOX_ETL__WOLKVOX__BASE_URL", "http://127.0.0.1:8089/api/v2"),
            ("WOLKVOX_ETL__WOLKVOX__TOKEN", "secret-token"),
            ("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "30"),
            ("DATABASE_URL", "postgres://u@h/db?sslmode=verify-full"),
        ])
        .unwrap();
        assert_eq!(s.base_url.unwrap().as_str(), "http://127.0.0.1:8089/api/v2/");
        assert!(s.reports.iter().all(|r| r.policy.lookback == chrono::Duration::minutes(30)));
        assert_eq!(s.database_url.expose_secret(), "postgres://u@h/db?sslmode=verify-full");
        assert_eq!(s.tokens[0].label, "default");
    }

    #[test]
    fn the_specific_database_variable_wins_over_database_url() {
        let s = load(&[
            ("DATABASE_URL", "postgres://generic/db?sslmode=verify-full"),
            ("WOLKVOX_ETL__DATABASE__URL", "postgres://specific/db?sslmode=verify-full"),
        ])
        .unwrap();
        assert_eq!(s.database_url.expose_secret(), "postgres://specific/db?sslmode=verify-full");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let text = error_text(&[("WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES", "lots")]);
        assert!(text.contains("lookback_minutes"), "{text}");
    }

    #[test]
    fn an_unknown_key_in_a_file_is_named() {
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("typo.toml");
        std::fs::write(&path, "[sync]\nlookbak_minutes = 5\n").unwrap();
        let text = Settings::load_with_env(Some(path.as_path()), HashMap::new()).unwrap_err().to_string();
        assert!(text.contains("lookbak_minutes"), "{text}");
        let missing = Settings::load_with_env(Some(dir.join("absent.toml").as_path()), HashMap::new());
        assert!(missing.unwrap_err().to_string().contains("`--config`"));
    }

    #[test]
    fn config_files_layer_in_order_and_the_environment_overrides_them_all() {
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-layers-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        // A ConfigMap's file, then a Secret's: the second states only what it adds or changes.
        let configmap = dir.join("config.toml");
        let secret = dir.join("secret.toml");
        std::fs::write(
            &configmap,
            "[wolkvox]\naccount = \"acme\"\nserver = \"0010\"\ntoken = \"tok-CONFIGMAP\"\n[sync]\nlookback_minutes = 60\ninitial_days = 3\n",
        )
        .unwrap();
        std::fs::write(&secret, "[wolkvox]\ntoken = \"tok-SECRET\"\n[sync]\nlookback_minutes = 30\n").unwrap();
        let env = HashMap::from([("WOLKVOX_ETL__SYNC__INITIAL_DAYS".to_string(), "9".to_string())]);

        let s = Settings::load_with_env([configmap.as_path(), secret.as_path()], env.clone()).unwrap();
        assert_eq!(s.account, "acme", "a key only the first file sets is kept");
        assert_eq!(s.base_url.as_ref().unwrap().as_str(), "https://wv0010.wolkvox.com/api/v2/");
        assert_eq!(s.tokens[0].secret.expose_secret(), "tok-SECRET", "the later file wins");
        assert_eq!(s.default_policy.lookback, chrono::Duration::minutes(30));
        assert_eq!(s.default_policy.initial_days, 9, "the environment wins over every file");
        assert_eq!(s.config_files, [configmap.clone(), secret.clone()]);

        let reversed = Settings::load_with_env([secret.as_path(), configmap.as_path()], env).unwrap();
        assert_eq!(reversed.tokens[0].secret.expose_secret(), "tok-CONFIGMAP");
        assert_eq!(reversed.default_policy.lookback, chrono::Duration::minutes(60));

        let absent = dir.join("absent.toml");
        let text =
            Settings::load_with_env([configmap.as_path(), absent.as_path()], HashMap::new()).unwrap_err().to_string();
        assert!(text.contains("`--config`") && text.contains("absent.toml"), "{text}");
        assert!(Settings::load_with_env(None, HashMap::new()).unwrap().config_files.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_secret_in_a_badly_typed_value_is_kept_out_of_the_error() {
        let text = error_text(&[("WOLKVOX_ETL__WOLKVOX__TOKENS", "supersecret123")]);
        assert!(!text.contains("supersecret123"), "{text}");
        assert!(text.contains("tokens"), "{text}");
    }
}
