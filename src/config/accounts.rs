//! `[accounts.<name>]`: several operations in one deployment. Owns the rule of what an account
//! may override: only the per-operation sections (`[wolkvox]`, `[reports.*]`, `[sync]`,
//! `[reconcile]`, `[dimensions]`, `[token_info]`); the database, HTTP and log settings are shared by every account.

use super::ConfigError;

/// Flattens an `[accounts.<name>]` section into `(dotted key, value)` overrides. Only the
/// per-operation sections may appear there; the database, HTTP and log settings are shared.
pub(super) fn collect_leaves(
    section_key: &str,
    prefix: &str,
    value: config::Value,
    out: &mut Vec<(String, config::Value)>,
) -> Result<(), ConfigError> {
    match value.kind {
        config::ValueKind::Table(table) => {
            for (k, v) in table {
                if prefix.is_empty()
                    && !matches!(k.as_str(), "wolkvox" | "reports" | "sync" | "token_info" | "reconcile" | "dimensions")
                {
                    return Err(ConfigError::invalid(
                        format!("{section_key}.{k}"),
                        "cannot be set per account",
                        "set [wolkvox], [reports.*], [sync], [reconcile], [dimensions] and [token_info] keys per account; [database], [http] and [log] are shared by all",
                    ));
                }
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                collect_leaves(section_key, &key, v, out)?;
            }
            Ok(())
        }
        _ if prefix.is_empty() => Err(ConfigError::invalid(
            section_key,
            "is not a table",
            "write it as [accounts.NAME.wolkvox] with server, token, timezone, …",
        )),
        kind => {
            out.push((prefix.to_string(), config::Value::new(None, kind)));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::Settings;

    #[test]
    fn several_accounts_each_layer_their_own_keys_over_the_top_level() {
        let dir = std::env::temp_dir().join(format!("wolkvox-etl-acct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accounts.toml");
        std::fs::write(
            &path,
            r#"
[sync]
lookback_minutes = 60
[accounts.acme.wolkvox]
server = "0010"
token = "t-acme"
[accounts.globex.wolkvox]
server = "0033"
token = "t-globex"
timezone = "America/Guatemala"
[accounts.globex.reports.chat_14]
enabled = false
[accounts.globex.reports.act_5]
enabled = true
"#,
        )
        .unwrap();
        let all = Settings::load_all_with_env(Some(path.as_path()), HashMap::new()).unwrap();
        assert_eq!(all.iter().map(|s| s.account.as_str()).collect::<Vec<_>>(), ["acme", "globex"]);
        assert_eq!(all[0].base_url.as_ref().unwrap().as_str(), "https://wv0010.wolkvox.com/api/v2/");
        assert_eq!(all[1].timezone, chrono_tz::America::Guatemala);
        assert_eq!(all[0].timezone, chrono_tz::America::Bogota, "the top level's default");
        assert!(all[0].report_config("chat_14").is_ok() && all[0].reports.iter().any(|r| r.report.api == "chat_14"));
        assert!(!all[1].reports.iter().any(|r| r.report.api == "chat_14"));
        assert!(all[1].reports.iter().any(|r| r.report.api == "act_5"));
        assert!(all.iter().all(|s| s.reports.iter().all(|r| r.policy.lookback == chrono::Duration::minutes(60))));

        std::fs::write(&path, "[accounts.acme.database]\nurl = \"postgres://x/y\"\n").unwrap();
        let text = Settings::load_all_with_env(Some(path.as_path()), HashMap::new()).unwrap_err().to_string();
        assert!(text.contains("`accounts.acme.database`"), "{text}");
    }
}
