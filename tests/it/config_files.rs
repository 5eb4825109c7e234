//! Several `--config` files through the real binary: layered in order, listed by
//! `check-config`, a secret from the last file used but never printed.

use std::process::Command;

/// `check-config` with a clean environment plus `env`, and `args` before the command.
fn check_config(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
        .env_clear()
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .args(args)
        .arg("check-config")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn check_config_layers_two_files_in_order_lists_them_and_never_prints_the_token() {
    let dir = std::env::temp_dir().join(format!("wolkvox-etl-files-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    // A ConfigMap's file, then a Secret's overriding one of its keys and adding the token.
    let configmap = dir.join("config.toml");
    let secret = dir.join("secret.toml");
    std::fs::write(
        &configmap,
        "[wolkvox]\naccount = \"acme\"\nserver = \"0010\"\nrequest_timeout_seconds = 100\ntoken = \"tok-CONFIGMAP-1f3a\"\n",
    )
    .unwrap();
    std::fs::write(&secret, "[wolkvox]\nrequest_timeout_seconds = 120\ntoken = \"tok-SECRET-9c2e\"\n").unwrap();
    let (a, b) = (configmap.to_str().unwrap(), secret.to_str().unwrap());

    let (ok, stdout, stderr) = check_config(&["--config", a, "--config", b], &[]);
    assert!(ok, "{stderr}");
    let listed = format!("# config files, in order (a later file overrides an earlier one, the environment overrides them all): {a:?}, {b:?}");
    assert!(stdout.ends_with(&format!("\n{listed}\n")), "{stdout}");
    assert!(stdout.contains("account = \"acme\""), "a key only the first sets: {stdout}");
    assert!(stdout.contains("request_timeout_seconds = 120"), "the second file wins: {stdout}");
    assert!(stdout.contains("tokens = { default = \"[REDACTED]\" }"), "{stdout}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("tok-SECRET") && !text.contains("tok-CONFIGMAP"), "{text}");
    }

    // The same two files through WOLKVOX_ETL_CONFIG; an environment variable still wins.
    let both = format!("{a}:{b}");
    let env = [("WOLKVOX_ETL_CONFIG", both.as_str()), ("WOLKVOX_ETL__WOLKVOX__REQUEST_TIMEOUT_SECONDS", "150")];
    let (ok, from_env, stderr) = check_config(&[], &env);
    assert!(ok, "{stderr}");
    assert!(from_env.ends_with(&format!("\n{listed}\n")), "{from_env}");
    assert!(from_env.contains("request_timeout_seconds = 150"), "{from_env}");

    // A single file still works, and none at all says so.
    let (ok, single, stderr) = check_config(&["--config", a], &[]);
    assert!(ok && single.contains("request_timeout_seconds = 100"), "{single}{stderr}");
    let (ok, none, stderr) = check_config(&[], &[]);
    assert!(
        ok && none.ends_with("\n# config files: none (the built-in defaults and the environment only)\n"),
        "{none}{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
