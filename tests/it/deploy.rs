//! The files in deploy/ that are not Rust: the Prometheus config and alert rules, the Grafana
//! provisioning and dashboards, and the docker compose services that run them. promtool checks
//! them when it is installed; the other tests always run, and hold them to the daemon's code: a
//! metric or label renamed in src/metrics.rs fails here, not as an alert that never fires.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The text of a file of the repository.
fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Runs promtool in deploy/prometheus (the rules are named relative to it) and asserts success.
fn promtool(args: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    let out = Command::new("promtool").args(args).current_dir(dir).output().expect("promtool runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {}:\n{text}", args.join(" "));
}

#[test]
#[cfg_attr(not(has_promtool), ignore = "promtool is not installed (apt-get install prometheus)")]
fn the_prometheus_config_and_the_alert_rules_pass_promtool() {
    promtool(&["check", "config", "prometheus.yml"]);
    promtool(&["check", "rules", "alerts.yml"]);
}

#[test]
#[cfg_attr(not(has_promtool), ignore = "promtool is not installed (apt-get install prometheus)")]
fn the_alert_rules_fire_as_their_unit_tests_expect() {
    promtool(&["test", "rules", "alerts.test.yml"]);
}

/// Metrics a branch being merged exports (`token_info`), with their labels. Once it is merged
/// they are found in src/metrics.rs as well.
const ARRIVING: &[(&str, &[&str])] = &[
    ("wolkvox_etl_api_token_limit", &["account", "token"]),
    ("wolkvox_etl_api_token_use_today", &["account", "token"]),
    ("wolkvox_etl_api_all_tokens_today", &["account"]),
];

/// Labels Prometheus adds to every series it scrapes, and the histogram bucket's.
const TARGET_LABELS: &[&str] = &["instance", "job", "le"];

/// Labels of Prometheus's own `ALERTS` series, which a dashboard may group by.
const ALERT_LABELS: &[&str] = &["alertname", "alertstate", "severity"];

/// Every metric src/metrics.rs registers (`counter!`, `gauge!`, `histogram!`), with its labels.
/// A histogram is listed under its name and its series' names (`_bucket`, `_sum`, `_count`).
fn exported_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let source = read("src/metrics.rs");
    let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for kind in ["counter!(", "gauge!(", "histogram!("] {
        for (start, _) in source.match_indices(kind) {
            let call = balanced(&source[start + kind.len() - 1..]);
            let literals = string_literals(call);
            let Some((name, _)) = literals.first() else { continue };
            let labels: BTreeSet<String> = literals[1..]
                .iter()
                .filter(|(_, rest)| rest.trim_start().starts_with("=>"))
                .map(|(l, _)| l.clone())
                .collect();
            let names = if kind == "histogram!(" {
                vec![name.clone(), format!("{name}_bucket"), format!("{name}_sum"), format!("{name}_count")]
            } else {
                vec![name.clone()]
            };
            for n in names {
                metrics.entry(n).or_default().extend(labels.iter().cloned());
            }
        }
    }
    for (name, labels) in ARRIVING {
        metrics.entry(name.to_string()).or_default().extend(labels.iter().map(|l| l.to_string()));
    }
    metrics
}

/// `(…)` from its opening parenthesis to the matching close.
fn balanced(text: &str) -> &str {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return &text[..=i],
            ')' => depth -= 1,
            _ => {}
        }
    }
    text
}

/// The string literals of a piece of Rust, each with the text that follows it.
fn string_literals(text: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        out.push((after[..close].to_string(), &after[close + 1..]));
        rest = &after[close + 1..];
    }
    out
}

/// Each `wolkvox_etl_…` metric a text uses, with the label names of its `{…}` matchers.
fn metrics_used(text: &str) -> Vec<(String, Vec<String>)> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut used = Vec::new();
    for (start, _) in text.match_indices("wolkvox_etl_") {
        if text[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let name: String = text[start..].chars().take_while(|c| is_ident(*c)).collect();
        let after = &text[start + name.len()..];
        let labels = match after.strip_prefix('{') {
            Some(m) => m[..m.find('}').unwrap_or(m.len())]
                .split(',')
                .filter_map(|matcher| matcher.split(['=', '!']).next())
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
            None => Vec::new(),
        };
        used.push((name, labels));
    }
    used
}

/// The label names of every `by (…)` and `on (…)` clause of a PromQL text.
fn grouping_labels(text: &str) -> Vec<String> {
    let mut labels = Vec::new();
    for keyword in ["by (", "on (", "by(", "on("] {
        for (start, _) in text.match_indices(keyword) {
            if text[..start].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue; // "version (", not "on ("
            }
            let list = &text[start + keyword.len()..];
            let list = &list[..list.find(')').unwrap_or(0)];
            labels.extend(list.split(',').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()));
        }
    }
    labels
}

/// The files in deploy/ that name the daemon's metrics.
fn files_using_metrics() -> Vec<String> {
    let mut files = vec!["deploy/prometheus/alerts.yml".to_string(), "deploy/prometheus/alerts.test.yml".to_string()];
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards");
    for entry in std::fs::read_dir(dashboards).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".json") {
            files.push(format!("deploy/grafana/dashboards/{name}"));
        }
    }
    files
}

#[test]
fn every_metric_and_label_the_alerts_and_dashboards_use_is_one_the_daemon_exports() {
    let exported = exported_metrics();
    assert!(exported.contains_key("wolkvox_etl_runs_total"), "the parse of src/metrics.rs found {exported:?}");
    assert_eq!(exported["wolkvox_etl_runs_total"], BTreeSet::from(["account", "report", "status"].map(String::from)));
    let every_label: BTreeSet<&str> = exported
        .values()
        .flatten()
        .map(String::as_str)
        .chain(TARGET_LABELS.iter().chain(ALERT_LABELS).copied())
        .collect();

    let mut problems = Vec::new();
    for file in files_using_metrics() {
        let text = read(&file);
        for (name, labels) in metrics_used(&text) {
            let Some(known) = exported.get(&name) else {
                problems.push(format!("{file}: {name} is not exported by src/metrics.rs"));
                continue;
            };
            for label in labels {
                if !known.contains(&label) && !TARGET_LABELS.contains(&label.as_str()) {
                    problems.push(format!("{file}: {name} has no label {label} (it has {known:?})"));
                }
            }
        }
        for label in grouping_labels(&text) {
            if !every_label.contains(label.as_str()) {
                problems.push(format!("{file}: no metric has the label {label} that a by/on clause names"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // The check has something to check: the alerts use most of the daemon's metrics.
    let in_alerts: BTreeSet<String> =
        metrics_used(&read("deploy/prometheus/alerts.yml")).into_iter().map(|(n, _)| n).collect();
    assert!(in_alerts.len() >= 9, "{in_alerts:?}");
}

#[test]
fn a_renamed_metric_or_label_would_be_caught() {
    // The parsers above, on text shaped like the real files.
    let used =
        metrics_used(r#"sum by (account) (increase(wolkvox_etl_runs_total{status="failed", account=~"a"}[1h]))"#);
    assert_eq!(used, [("wolkvox_etl_runs_total".to_string(), vec!["status".to_string(), "account".to_string()])]);
    let json = r#""expr": "sum by (outcome) (rate(wolkvox_etl_requests_total[$__rate_interval]))""#;
    assert_eq!(metrics_used(json), [("wolkvox_etl_requests_total".to_string(), vec![])]);
    assert_eq!(grouping_labels("max by (account, token) (x) / on(account) y"), ["account", "token", "account"]);
    assert!(grouping_labels("the operation (local days)").is_empty());
    let exported = exported_metrics();
    assert!(!exported.contains_key("wolkvox_etl_run_total"));
    assert!(exported["wolkvox_etl_run_duration_seconds_bucket"].contains("report"));
    assert!(!exported["wolkvox_etl_token_calls_today"].contains("token_label"));
}

/// The data source uids provisioned in deploy/grafana/provisioning/datasources.
fn provisioned_datasources() -> BTreeMap<String, String> {
    let mut uids = BTreeMap::new();
    for file in ["postgres.yml", "prometheus.yml"] {
        let text = read(&format!("deploy/grafana/provisioning/datasources/{file}"));
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("{file} has no {key}"))
        };
        uids.insert(field("type:"), field("uid:"));
    }
    uids
}

#[test]
fn the_dashboard_reads_the_provisioned_data_sources_and_every_panel_has_a_query() {
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/dashboards/pipeline-health.json")).unwrap();
    assert_eq!(dashboard["title"], "Pipeline health");
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty() && u.len() <= 40));

    // Panels name a data source variable; its default is the provisioned data source.
    let provisioned = provisioned_datasources();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let mut ds_variables = BTreeMap::new();
    for v in variables.iter().filter(|v| v["type"] == "datasource") {
        let kind = v["query"].as_str().unwrap();
        assert_eq!(Some(v["current"]["value"].as_str().unwrap()), provisioned.get(kind).map(String::as_str), "{v}");
        ds_variables.insert(format!("${{{}}}", v["name"].as_str().unwrap()), kind.to_string());
    }
    assert_eq!(ds_variables.len(), 2, "{ds_variables:?}");

    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "{title}: duplicate id");
        let g = &panel["gridPos"];
        let (x, y, w, h) = [&g["x"], &g["y"], &g["w"], &g["h"]].map(|v| v.as_u64().unwrap()).into();
        assert!(x + w <= 24, "{title}: wider than the grid");
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(cells.insert(cell), "{title} overlaps another panel at {cell:?}");
        }
        if panel["type"] == "row" {
            continue;
        }
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()), "{title}: no description");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}: no query"));
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            let uid = target["datasource"]["uid"].as_str().unwrap();
            let kind = ds_variables.get(uid).unwrap_or_else(|| panic!("{title}: data source {uid}"));
            assert_eq!(target["datasource"]["type"].as_str(), Some(kind.as_str()), "{title}");
            let query = if kind == "prometheus" { &target["expr"] } else { &target["rawSql"] };
            assert!(query.as_str().is_some_and(|q| !q.trim().is_empty()), "{title}: empty query");
        }
    }
}

#[test]
fn the_bi_profile_mounts_files_that_exist_where_the_services_read_them() {
    let compose = read("docker-compose.yml");
    // Every host path compose mounts exists.
    let mounts: Vec<(&str, &str)> = compose
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ./"))
        .map(|m| m.split_once(':').expect("HOST:CONTAINER"))
        .collect();
    assert!(mounts.len() >= 4, "{mounts:?}");
    for (host, _) in &mounts {
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(host).exists(), "docker-compose.yml mounts ./{host}");
    }
    let target = |host: &str| {
        mounts
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, c)| c.trim_end_matches(":ro"))
            .unwrap_or_else(|| panic!("{host}"))
    };
    assert_eq!(target("deploy/grafana/provisioning"), "/etc/grafana/provisioning");
    assert_eq!(target("deploy/prometheus"), "/etc/prometheus");
    // Grafana's dashboard provider reads the folder compose mounts the dashboards at.
    let provider = read("deploy/grafana/provisioning/dashboards/wolkvox-etl.yml");
    let path = target("deploy/grafana/dashboards");
    assert!(provider.lines().any(|l| l.trim() == format!("path: {path}")), "{provider}");
    // Prometheus scrapes the daemon's service at the port it binds in compose.
    assert!(compose.contains("WOLKVOX_ETL__HTTP__BIND: 0.0.0.0:9187"));
    assert!(compose.contains("\n  wolkvox-etl:\n"));
    assert!(read("deploy/prometheus/prometheus.yml").contains(r#"targets: ["wolkvox-etl:9187"]"#));
    // Grafana reads the compose database with the role readonly.sql creates by default.
    let datasource = read("deploy/grafana/provisioning/datasources/postgres.yml");
    for line in
        ["url: postgres:5432", "user: wolkvox_bi", "database: wolkvox", "password: $__file{/run/secrets/bi_password}"]
    {
        assert!(datasource.lines().any(|l| l.trim() == line), "postgres.yml lacks {line}");
    }
    assert!(read("deploy/postgres/readonly.sql").contains("\\set bi_role wolkvox_bi"));
    for service in ["grafana", "prometheus", "bi-role"] {
        let at = compose.find(&format!("\n  {service}:\n")).unwrap_or_else(|| panic!("no service {service}"));
        let body = &compose[at..];
        assert!(
            body.lines().nth(2).is_some_and(|l| l.trim() == r#"profiles: ["bi"]"#),
            "{service} is not in the bi profile"
        );
    }
}

#[test]
fn the_kubernetes_manifest_meets_the_restricted_pod_security_standard_and_limits_the_network() {
    let manifest = read("deploy/kubernetes/wolkvox-etl.yaml");
    let lines: Vec<&str> = manifest.lines().map(str::trim).collect();
    let has = |line: &str| lines.iter().filter(|l| **l == line).count();
    // Pod level, in both pods (the migrate Job and the replicas).
    for line in [
        "automountServiceAccountToken: false",
        "runAsUser: 65532",
        "runAsGroup: 65532",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        r#"capabilities: { drop: ["ALL"] }"#,
    ] {
        assert_eq!(has(line), 2, "`{line}` is not in both pods");
    }
    // Both each pod and its container say it, so neither can be relaxed alone.
    assert_eq!(has("runAsNonRoot: true"), 4);
    assert_eq!(has("seccompProfile: { type: RuntimeDefault }"), 4);
    // No secret in the environment: mounted files, read through the *_file keys.
    assert!(!manifest.contains("secretRef"), "secrets belong in files, not envFrom");
    for key in
        ["url_file = \"/run/secrets/wolkvox-etl/database-url\"", "token_file = \"/run/secrets/wolkvox-etl/acme-token\""]
    {
        assert!(manifest.contains(key), "{key}");
    }
    // Images by digest, through the one parameter; every ${…} is a documented parameter.
    let images: Vec<&&str> = lines.iter().filter(|l| l.starts_with("image: ")).collect();
    assert_eq!(images, [&"image: ${WOLKVOX_ETL_IMAGE}"; 2]);
    assert!(manifest.contains("export WOLKVOX_ETL_IMAGE=registry.example.com/wolkvox-etl@sha256:"));
    let used: BTreeSet<&str> =
        manifest.split("${").skip(1).map(|rest| &rest[..rest.find('}').expect("a closed ${")]).collect();
    let documented: BTreeSet<&str> =
        ["WOLKVOX_ETL_IMAGE", "DATABASE_CIDR", "WOLKVOX_API_CIDR", "MONITORING_NAMESPACE"].into();
    assert_eq!(used, documented);
    let envsubst = manifest.lines().find(|l| l.contains("envsubst '")).expect("how to fill the parameters");
    for name in documented {
        assert!(manifest.contains(&format!("export {name}=")), "{name} has no example");
        assert!(envsubst.contains(&format!("${name}")), "envsubst leaves {name}");
    }
    // Two roles: the Job migrates with the owner's Secret, the replicas run with the app's.
    let job = &manifest[manifest.find("kind: Job").expect("a migrate Job")..manifest.find("kind: Deployment").unwrap()];
    let deployment = &manifest[manifest.find("kind: Deployment").unwrap()..];
    assert!(job.contains(r#"args: ["--config", "/etc/wolkvox-etl/config.toml", "migrate"]"#), "{job}");
    assert!(job.contains("secretName: wolkvox-etl-owner") && !job.contains("secretName: wolkvox-etl,"));
    assert!(deployment.contains("secretName: wolkvox-etl,") && !deployment.contains("wolkvox-etl-owner"));
    assert!(manifest.contains("database-url: postgres://wolkvox_owner:"));
    assert!(manifest.contains("database-url: postgres://wolkvox_app:"));
    // The NetworkPolicy: both directions, in on 9187 from the monitoring namespace only, out to
    // DNS, the database's and the API's addresses.
    let policy = &manifest[manifest.find("kind: NetworkPolicy").expect("a NetworkPolicy")..];
    assert!(policy.contains("policyTypes: [Ingress, Egress]"));
    let ingress = &policy[policy.find("ingress:").unwrap()..policy.find("egress:").unwrap()];
    assert!(ingress.contains("matchLabels: { kubernetes.io/metadata.name: ${MONITORING_NAMESPACE} }"), "{ingress}");
    assert_eq!(ingress.matches("- from:").count(), 1, "every ingress rule names its source: {ingress}");
    let ports = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split("port: ").nth(1))
            .map(|p| p.trim_end_matches([' ', '}']).to_string())
            .collect()
    };
    assert_eq!(ports(ingress), ["9187"]);
    let egress = &policy[policy.find("egress:").unwrap()..];
    assert_eq!(ports(egress), ["53", "53", "5432", "443"]);
    assert!(egress.contains("protocol: UDP, port: 53"));
    assert_eq!(egress.matches("- to:").count(), 3, "every egress rule names its destination: {egress}");
    assert!(
        egress.contains("ipBlock: { cidr: ${DATABASE_CIDR} }")
            && egress.contains("ipBlock: { cidr: ${WOLKVOX_API_CIDR} }")
    );
}

/// The text of a key of the manifest's ConfigMap (`config.toml`, `tokens.toml`), unindented.
fn config_map_file(manifest: &str, key: &str) -> String {
    let at = manifest.find(&format!("  {key}: |\n")).unwrap_or_else(|| panic!("no {key} in the ConfigMap"));
    manifest[at..].lines().skip(1).take_while(|l| l.starts_with("    ")).map(|l| format!("{}\n", &l[4..])).collect()
}

/// The manifest's two config layers, run by the real binary as its pods run them: the Job's
/// `migrate` with config.toml and the owner's Secret alone (no token file there) brings a real
/// database's schema up; the replicas' two layers give every account its token.
#[tokio::test]
async fn the_kubernetes_job_migrates_without_any_token_and_the_replicas_layers_give_each_account_one() {
    let manifest = read("deploy/kubernetes/wolkvox-etl.yaml");
    let db = crate::support::TestDb::new(wolkvox_etl::store::Backend::Postgres).await;
    let root = std::env::temp_dir().join(format!("wolkvox-k8s-{:016x}", fastrand::u64(..)));
    let secrets = root.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let place = |text: String| text.replace("/run/secrets/wolkvox-etl", &secrets.display().to_string());
    std::fs::write(root.join("config.toml"), place(config_map_file(&manifest, "config.toml"))).unwrap();
    std::fs::write(root.join("tokens.toml"), place(config_map_file(&manifest, "tokens.toml"))).unwrap();
    std::fs::write(secrets.join("database-url"), &db.url).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl"))
            .env_clear()
            .env("NO_COLOR", "1")
            .current_dir(&root)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    // The Job: the owner's Secret holds the URL only.
    let (ok, text) = run(&["--config", "config.toml", "migrate"]);
    assert!(ok, "the Job's migrate failed:\n{text}");
    let pool = crate::support::pg_pool(&db.url).await;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename IN ('chat_14', 'act_5')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tables, 2, "the Job made the enabled reports' tables, globex's act_5 among them");
    // The replicas: with the tokens' layer every account has its token; without it, none.
    std::fs::write(secrets.join("acme-token"), "acme-secret-1").unwrap();
    std::fs::write(secrets.join("globex-token"), "globex-secret-2").unwrap();
    let (ok, text) = run(&["--config", "config.toml", "--config", "tokens.toml", "check-config"]);
    assert!(ok, "{text}");
    assert!(!text.contains("acme-secret-1") && !text.contains("globex-secret-2"), "a token printed:\n{text}");
    for account in ["acme", "globex"] {
        assert!(text.contains(account), "{account} missing:\n{text}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn compose_drops_privileges_requires_a_database_password_and_the_build_context_leaves_out_secrets() {
    let compose = read("docker-compose.yml");
    // A service's lines: from its name to the next line indented by exactly two spaces.
    let service = |name: &str| -> String {
        let at = compose.find(&format!("\n  {name}:\n")).unwrap_or_else(|| panic!("no service {name}"));
        let mut out = String::new();
        for (i, line) in compose[at + 1..].lines().enumerate() {
            let next_entry = line.starts_with("  ") && !line.starts_with("   ") && !line.trim().starts_with('#');
            if i > 0 && (next_entry || (!line.starts_with(' ') && !line.is_empty())) {
                break;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    };
    for name in ["postgres", "db-roles", "migrate", "wolkvox-etl", "simulator", "bi-role", "prometheus", "grafana"] {
        let body = service(name);
        for line in ["cap_drop: [ALL]", r#"security_opt: ["no-new-privileges:true"]"#] {
            assert!(body.lines().any(|l| l.trim() == line), "{name} lacks {line}:\n{body}");
        }
        assert!(body.lines().any(|l| l.trim().starts_with("mem_limit: ")), "{name} has no memory limit");
    }
    for name in ["migrate", "wolkvox-etl", "simulator"] {
        let body = service(name);
        assert!(body.lines().any(|l| l.trim() == "read_only: true"), "{name} is not read-only");
        assert!(body.lines().any(|l| l.trim() == "tmpfs: [/tmp]"), "{name} has no /tmp");
    }
    // Secrets: files handed over as compose secrets, never a value in the environment or on a
    // command line (`docker inspect` and `ps` show those), never a default.
    for line in compose.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let upper = line.to_ascii_uppercase();
        if upper.contains("PASSWORD") || upper.contains("TOKEN") || upper.contains("DATABASE_URL") {
            assert!(!line.contains("${"), "a secret interpolated into compose: {line}");
            assert!(!line.contains("_password="), "a password on a command line: {line}");
            if let Some((key, value)) = line.trim().split_once(": ") {
                if key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    assert!(
                        key.ends_with("_FILE") && value.starts_with("/run/secrets/"),
                        "a secret in the environment instead of a *_FILE key: {line}"
                    );
                }
            }
        }
    }
    // The top-level secrets, each a file in ./secrets named as the secret.
    let top = &compose[compose.find("\nsecrets:\n").expect("top-level secrets:")..];
    let top = &top[..top.find("\nvolumes:").unwrap_or(top.len())];
    let declared: BTreeSet<String> = top
        .lines()
        .filter_map(|l| {
            let (name, file) = l.trim().split_once(": { file: ./secrets/")?;
            assert_eq!(file.trim_end_matches(" }"), name, "secret {name} reads another file");
            Some(name.to_string())
        })
        .collect();
    assert_eq!(declared.len(), 8, "{top}");
    // Each service sees only the secrets it lists, and every file it reads is one of them.
    let listed = |name: &str| -> BTreeSet<String> {
        let body = service(name);
        let line = body.lines().find_map(|l| l.trim().strip_prefix("secrets: [")).unwrap_or("]");
        line.trim_end_matches(']').split(", ").filter(|s| !s.is_empty()).map(str::to_string).collect()
    };
    let mut used = BTreeSet::new();
    // Grafana's data source reads its password file itself.
    let datasource = read("deploy/grafana/provisioning/datasources/postgres.yml");
    for name in ["postgres", "db-roles", "migrate", "wolkvox-etl", "simulator", "bi-role", "prometheus", "grafana"] {
        let body = if name == "grafana" { service(name) + &datasource } else { service(name) };
        let reads: BTreeSet<String> = body
            .split("/run/secrets/")
            .skip(1)
            .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
            .collect();
        assert_eq!(reads, listed(name), "{name} reads secrets it does not list, or lists some it never reads");
        assert!(reads.is_subset(&declared), "{name}: {reads:?} not all declared");
        used.extend(reads);
    }
    assert_eq!(used, declared, "a secret no service reads");
    // The superuser's password reaches only the database and the two role-making one-shots.
    let with = |secret: &str| -> Vec<&str> {
        ["postgres", "db-roles", "migrate", "wolkvox-etl", "simulator", "bi-role", "prometheus", "grafana"]
            .into_iter()
            .filter(|n| listed(n).contains(secret))
            .collect()
    };
    assert_eq!(with("postgres_password"), ["postgres", "db-roles", "bi-role"]);
    // Least privilege: the daemon connects as the app role with the token; migrations run as the
    // owner role, without the token; roles.sql makes both roles.
    assert_eq!(listed("wolkvox-etl"), BTreeSet::from(["app_database_url".into(), "wolkvox_token".into()]));
    assert_eq!(listed("migrate"), BTreeSet::from(["owner_database_url".to_string()]));
    assert!(service("wolkvox-etl").contains("WOLKVOX_ETL__DATABASE__URL_FILE: /run/secrets/app_database_url"));
    assert!(service("wolkvox-etl").contains("WOLKVOX_ETL__WOLKVOX__TOKEN_FILE: /run/secrets/wolkvox_token"));
    assert!(service("migrate").contains("WOLKVOX_ETL__DATABASE__URL_FILE: /run/secrets/owner_database_url"));
    assert!(service("migrate").lines().any(|l| l.trim() == r#"command: ["migrate"]"#));
    let daemon = service("wolkvox-etl");
    let after = &daemon[daemon.find("depends_on:").expect("the daemon waits")..];
    assert!(after.contains("migrate:") && after.contains("condition: service_completed_successfully"), "{daemon}");
    assert!(service("db-roles").contains("/roles.sql"));
    assert!(read("deploy/postgres/roles.sql").contains("\\set app_role wolkvox_app"));

    let ignore = read(".dockerignore");
    let ignored: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    for pattern in ["*.db", "*.db-wal", ".env", ".git/", "target/", "secrets/"] {
        assert!(ignored.contains(&pattern), ".dockerignore lacks {pattern}");
    }
    assert!(read(".gitignore").lines().any(|l| l.trim() == "/secrets/"), ".gitignore lacks /secrets/");
}

/// The files `make-secrets.sh` writes, by name.
fn made_secrets(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().into_string().unwrap(), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn make_secrets_writes_every_secret_compose_reads_with_random_passwords_and_keeps_them_when_run_again() {
    use std::os::unix::fs::PermissionsExt;
    let work = std::env::temp_dir().join(format!("wolkvox-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/compose/make-secrets.sh");
    let run = |args: &[&str]| {
        let out = Command::new("sh").arg(&script).args(args).current_dir(&work).output().expect("sh runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = run(&[]);
    assert!(said.contains("write your wolkvox API token"), "{said}");
    let dir = work.join("secrets");
    let first = made_secrets(&dir);
    // Exactly the secrets docker-compose.yml declares.
    let compose = read("docker-compose.yml");
    let declared: BTreeSet<String> = compose
        .lines()
        .filter_map(|l| l.trim().split_once(": { file: ./secrets/").map(|(name, _)| name.to_string()))
        .collect();
    assert_eq!(first.keys().cloned().collect::<BTreeSet<_>>(), declared);
    assert_eq!(first["wolkvox_token"], "", "the token is the operator's to write");
    let passwords: BTreeSet<&String> = first.iter().filter(|(k, _)| k.ends_with("_password")).map(|(_, v)| v).collect();
    assert_eq!(passwords.len(), 5, "five different passwords: {first:?}");
    for password in &passwords {
        assert!(password.len() == 32 && password.chars().all(|c| c.is_ascii_hexdigit()), "{password}");
    }
    // The URLs carry the role's own password, for the host compose names.
    for (file, role, password) in
        [("owner_database_url", "wolkvox_owner", "owner_password"), ("app_database_url", "wolkvox_app", "app_password")]
    {
        let url = url::Url::parse(&first[file]).unwrap();
        assert_eq!(
            (url.username(), url.password(), url.host_str(), url.path()),
            (role, Some(first[password].as_str()), Some("postgres"), "/wolkvox")
        );
    }
    // Other users of the host cannot list the directory.
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    // Run again (with a token): nothing that exists changes, the token is written.
    run(&["--token", "demo"]);
    let second = made_secrets(&dir);
    for (name, value) in &first {
        if name != "wolkvox_token" {
            assert_eq!(&second[name], value, "{name} changed on a second run");
        }
    }
    assert_eq!(second["wolkvox_token"], "demo");
    std::fs::remove_dir_all(&work).unwrap();
}
