//! The docs cannot drift from the code: every relative link and anchor in README.md,
//! CONTRIBUTING.md, SECURITY.md and docs/ resolves inside the repository; no link leaves it except
//! to a public https page, and no text sends a reader to the research notes outside it; every
//! command and flag they show is one the binary's `--help` lists; every configuration key they
//! name exists, and every key exists in docs/configuration.md; docs/reports.md is what
//! `reports --markdown` prints today. Each checker is also run on a broken sample, so a checker
//! that finds nothing cannot pass for one that works.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files a reader of the repository reads.
fn doc_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut files: Vec<PathBuf> =
        ["README.md", "CONTRIBUTING.md", "SECURITY.md"].iter().map(|f| root().join(f)).collect();
    walk(&root().join("docs"), &mut files);
    files.sort();
    files
}

/// The file's text outside fenced code blocks, line by line (code lines blanked).
fn prose(text: &str) -> Vec<String> {
    let mut fenced = false;
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return String::new();
            }
            if fenced {
                String::new()
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// The lines inside fenced code blocks.
fn code_lines(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            out.push(line.to_string());
        }
    }
    out
}

/// Inline code spans of a prose line.
fn code_spans(line: &str) -> Vec<String> {
    let parts: Vec<&str> = line.split('`').collect();
    parts.iter().skip(1).step_by(2).take(parts.len() / 2).map(|s| s.to_string()).collect()
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of a Markdown text (duplicates numbered as GitHub numbers them).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in prose(text) {
        let Some(rest) = line.strip_prefix('#') else { continue };
        let heading = rest.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 { base.clone() } else { format!("{base}-{n}") });
        *n += 1;
    }
    out
}

/// The link targets of a prose text: `[text](target)`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        // Code spans can hold brackets that are not links.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// What is wrong with one link of the file `from`, if anything.
fn link_problem(from: &Path, target: &str) -> Option<String> {
    if target.starts_with("http://") {
        return Some(format!("{target}: plain http; link public pages over https"));
    }
    if let Some(host) = target.strip_prefix("https://") {
        let host = host.split('/').next().unwrap_or_default();
        let local = host.starts_with("127.") || host.starts_with("localhost") || host.ends_with(".example.com");
        return local.then(|| format!("{target}: not a public page"));
    }
    if target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() { from.to_path_buf() } else { from.parent().unwrap().join(path) };
    let Ok(file) = file.canonicalize() else {
        return Some(format!("{target}: no such file"));
    };
    if !file.starts_with(root().canonicalize().unwrap()) {
        return Some(format!("{target}: leaves the repository"));
    }
    if anchor.is_empty() {
        return None;
    }
    let text = std::fs::read_to_string(&file).ok()?;
    (!anchors(&text).contains(anchor)).then(|| format!("{target}: no heading with the anchor #{anchor}"))
}

/// Every broken link of the file `from` whose text is `text`.
fn broken_links(from: &Path, text: &str) -> Vec<String> {
    links(text).iter().filter_map(|t| link_problem(from, t)).collect()
}

#[test]
fn every_link_and_anchor_resolves_and_none_leaves_the_repository_but_for_public_pages() {
    let mut problems = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        problems.extend(broken_links(&file, &text).into_iter().map(|p| format!("{name}: {p}")));
        // The research notes sit beside the repository, not in it: a reader has no such files.
        for needle in ["../shared", "shared/wolkvox", "PEERS.md", "STYLE.md"] {
            if text.contains(needle) {
                problems.push(format!("{name}: sends the reader to `{needle}`, outside the repository"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The map of the docs reaches every page of docs/.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let linked: BTreeSet<String> =
        links(&readme).into_iter().map(|l| l.split('#').next().unwrap().to_string()).collect();
    for file in doc_files() {
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        if name.starts_with("docs/") {
            assert!(linked.contains(&name), "README.md does not link {name}");
        }
    }
}

#[test]
fn the_link_checker_finds_a_missing_file_a_missing_anchor_and_a_link_out_of_the_repository() {
    let from = root().join("docs/commands.md");
    let sample = "See [a](nowhere.md), [b](configuration.md#no-such-heading), [c](../../../../../../../etc/passwd), \
                  [d](http://example.org/), [e](https://127.0.0.1:3000/) and [ok](configuration.md#database).\n\
                  `[not a link](nowhere.md)`\n```\n[in code](nowhere.md)\n```\n";
    let found = broken_links(&from, sample);
    assert_eq!(found.len(), 5, "{found:#?}");
    for (needle, what) in [
        ("nowhere.md: no such file", "a missing file"),
        ("#no-such-heading", "a missing anchor"),
        ("passwd: leaves the repository", "a link out of the repository"),
        ("plain http", "plain http"),
        ("not a public page", "a loopback address"),
    ] {
        assert!(found.iter().any(|p| p.contains(needle)), "{what} not found: {found:#?}");
    }
    assert_eq!(slug("The API's own token count"), "the-apis-own-token-count");
    assert_eq!(slug("KPI views (schema `bi`, PostgreSQL)"), "kpi-views-schema-bi-postgresql");
    assert_eq!(slug("Is yesterday complete?"), "is-yesterday-complete");
}

/// The binary's `--help` for `args`: its subcommands and its flags.
#[derive(Debug, Default)]
struct Help {
    commands: BTreeSet<String>,
    flags: BTreeSet<String>,
}

fn help(args: &[&str]) -> Help {
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl")).env_clear().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "wolkvox-etl {} --help failed", args.join(" "));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut help = Help::default();
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') {
            section = line.trim_end_matches(':');
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or_default();
        match section {
            "Commands" if first != "help" => {
                help.commands.insert(first.to_string());
            }
            "Options" => {
                for word in line.split_whitespace().take(3) {
                    let word = word.trim_end_matches(',');
                    if let Some(flag) = word.strip_prefix("--") {
                        help.flags.insert(flag.split('=').next().unwrap().to_string());
                    }
                }
            }
            _ => {}
        }
    }
    help
}

/// The CLI as `--help` describes it: the global flags, and per command path (`sync`,
/// `watermark set`) its flags.
struct Cli {
    global: BTreeSet<String>,
    commands: BTreeMap<String, Help>,
}

fn cli() -> Cli {
    let top = help(&[]);
    let mut commands = BTreeMap::new();
    for command in &top.commands {
        let sub = help(&[command]);
        for nested in &sub.commands {
            commands.insert(format!("{command} {nested}"), help(&[command, nested]));
        }
        commands.insert(command.clone(), sub);
    }
    Cli { global: top.flags, commands }
}

/// What is wrong with one shown invocation (the words after `wolkvox-etl`), if anything.
fn command_problem(cli: &Cli, words: &[&str]) -> Option<String> {
    let mut path: Option<String> = None;
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        if matches!(word, "|" | "&&" | "||" | ";" | ">" | "2>&1" | "&" | "#")
            || word.starts_with('#')
            || word.starts_with('>')
        {
            break;
        }
        if let Some(flag) = word.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap();
            let known = cli.global.contains(flag)
                || path.as_ref().is_some_and(|p| cli.commands.get(p).is_some_and(|h| h.flags.contains(flag)));
            if !known {
                return Some(format!("--{flag} is not a flag of `{}`", path.as_deref().unwrap_or("wolkvox-etl")));
            }
        } else if !word.starts_with('-') {
            match &path {
                None if cli.commands.contains_key(word) => path = Some(word.to_string()),
                None if i == 0 => return Some(format!("`{word}` is not a command")),
                Some(p) if !cli.commands[p].commands.is_empty() && path.as_deref() == Some(p) => {
                    // A command with subcommands (`watermark set`) takes one of them next.
                    let nested = format!("{p} {word}");
                    if cli.commands.contains_key(&nested) {
                        path = Some(nested);
                    } else if word.contains('/') {
                        // `watermark get/set/reset`: each must exist.
                        for part in word.split('/') {
                            if !cli.commands.contains_key(&format!("{p} {part}")) {
                                return Some(format!("`{p} {part}` is not a command"));
                            }
                        }
                    } else {
                        return Some(format!("`{nested}` is not a command"));
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    path.is_none().then(|| format!("no command in `{}`", words.join(" ")))
}

/// Whether text standing before the binary's name makes it the program run (`$ wolkvox-etl`,
/// `sudo -u x /usr/local/bin/wolkvox-etl`, `ExecStart=…`, `&& wolkvox-etl`), not an argument of
/// another program (`useradd … wolkvox-etl`, `journalctl -u wolkvox-etl`).
fn invoked(before: &str) -> bool {
    let before = before.trim_end_matches(|c: char| c != ' ' && c != '=' && c != '(');
    let before = before.trim_end();
    let last = before.rsplit(' ').next().unwrap_or_default();
    before.is_empty()
        || before.ends_with('=')
        || before.ends_with('(')
        || matches!(last, "$" | "&&" | "||" | ";" | "|" | "exec" | "sudo" | "time" | "nohup")
        || before.starts_with("sudo -u ")
}

/// The invocations a text shows: in code blocks and code spans, the words after `wolkvox-etl` or
/// `cargo run [--release] --`.
fn invocations(text: &str) -> Vec<String> {
    let mut lines = code_lines(text);
    for line in prose(text) {
        lines.extend(code_spans(&line));
    }
    let mut out = Vec::new();
    for line in lines {
        for marker in ["cargo run --release -- ", "cargo run -- ", "wolkvox-etl "] {
            let mut rest = line.as_str();
            while let Some(at) = rest.find(marker) {
                let after = &rest[at + marker.len()..];
                if !invoked(&rest[..at]) {
                    rest = after;
                    continue;
                }
                let words: String =
                    after.split(['|', ';', '&', '#', '"', '\'', ')']).next().unwrap_or_default().to_string();
                if !words.trim().is_empty() {
                    out.push(words.trim().to_string());
                }
                rest = after;
            }
            if line.contains(marker) {
                break;
            }
        }
    }
    out
}

#[test]
fn every_command_and_flag_the_docs_show_is_one_the_binary_has() {
    let cli = cli();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in doc_files() {
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for shown in invocations(&text) {
            let words: Vec<&str> = shown.split_whitespace().collect();
            // Prose such as "wolkvox-etl is …" is not an invocation.
            if words.first().is_some_and(|w| {
                !w.starts_with('-')
                    && !cli.commands.contains_key(*w)
                    && !w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            }) {
                continue;
            }
            checked += 1;
            if let Some(problem) = command_problem(&cli, &words) {
                problems.push(format!("{name}: `{shown}`: {problem}"));
            }
        }
        // The commands table of docs/commands.md names commands without the binary's name.
        if name == "docs/commands.md" {
            for line in prose(&text).iter().filter(|l| l.starts_with("| `")) {
                let first_cell = line.split('|').nth(1).unwrap_or_default();
                for span in code_spans(first_cell) {
                    let words: Vec<&str> = span
                        .split_whitespace()
                        .filter(|w| !w.starts_with('[') || w.starts_with("[--"))
                        .map(|w| w.trim_matches(['[', ']']))
                        .collect();
                    checked += 1;
                    if let Some(problem) = command_problem(&cli, &words) {
                        problems.push(format!("{name}: `{span}`: {problem}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 40, "only {checked} invocations found: the scanner is broken");
    // Every command of the binary is in docs/commands.md.
    let commands = std::fs::read_to_string(root().join("docs/commands.md")).unwrap();
    for command in cli.commands.keys().filter(|c| !c.contains(' ')) {
        assert!(commands.contains(&format!("`{command}")), "docs/commands.md does not describe `{command}`");
    }
}

#[test]
fn the_command_checker_finds_an_unknown_command_an_unknown_flag_and_an_unknown_subcommand() {
    let cli = cli();
    let check = |shown: &str| command_problem(&cli, &shown.split_whitespace().collect::<Vec<_>>());
    assert_eq!(check("sync --report chat_14 --from 2026-01-01"), None);
    assert_eq!(check("--config a.toml status --json"), None);
    assert_eq!(check("watermark set --report chat_14 --to 2026-01-01"), None, "{:?}", cli.commands.keys());
    assert!(check("synk --report chat_14").is_some_and(|p| p.contains("not a command")));
    assert!(check("sync --reports chat_14").is_some_and(|p| p.contains("--reports is not a flag of `sync`")));
    assert!(check("status --once").is_some_and(|p| p.contains("--once")));
    assert!(check("watermark move --report x").is_some_and(|p| p.contains("`watermark move` is not a command")));
    let found = invocations(
        "Run `wolkvox-etl sync --frm 2026` or:\n```sh\ncargo run --release -- demo --onse | tee x\n\
         sudo useradd --shell /bin/false wolkvox-etl\njournalctl -u wolkvox-etl -f\nExecStart=/usr/bin/wolkvox-etl runn\n```\n",
    );
    assert_eq!(found, ["demo --onse", "runn", "sync --frm 2026"]);
    assert!(command_problem(&cli, &["runn"]).is_some_and(|p| p.contains("`runn` is not a command")));
}

/// The configuration keys of config/example.toml, commented-out ones included, generalized:
/// `reports.<api>.…`, `wolkvox.tokens.<label>`, `reports.<api>.params.<name>`.
fn example_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("config/example.toml")).unwrap();
    let mut keys = BTreeSet::new();
    // A commented-out header holds only the commented-out keys after it: a live key below it is
    // still in the last live section, as TOML reads it.
    let (mut live, mut commented) = (String::new(), None::<String>);
    for line in text.lines() {
        let is_comment = line.starts_with('#');
        let line = line.trim_start_matches('#').trim();
        if line.starts_with('[') && line.ends_with(']') && !line.contains(' ') {
            let section = normalize_key(line.trim_matches(['[', ']']));
            if is_comment {
                commented = Some(section);
            } else {
                (live, commented) = (section, None);
            }
            continue;
        }
        let section = if is_comment { commented.as_ref().unwrap_or(&live) } else { &live };
        let Some((key, value)) = line.split_once(" = ") else { continue };
        let key = key.trim();
        let value = value.trim();
        // A key, not prose that happens to hold " = ": a TOML value follows it.
        let is_value = value.starts_with('"')
            || value.starts_with(['[', '-'])
            || value.starts_with(|c: char| c.is_ascii_digit())
            || value == "true"
            || value == "false";
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()) || !is_value {
            continue;
        }
        keys.insert(normalize_key(&format!("{section}.{key}")));
    }
    keys
}

/// A key as the docs may write it, in its general form.
fn normalize_key(key: &str) -> String {
    let mut parts: Vec<String> = key.split('.').map(str::to_string).collect();
    if parts.first().is_some_and(|p| p == "accounts") && parts.len() > 2 {
        parts.drain(..2);
    }
    if parts.first().is_some_and(|p| p == "reports") && parts.len() > 1 {
        parts[1] = "<api>".into();
        if parts.get(2).is_some_and(|p| p == "params") && parts.len() > 3 {
            parts[3] = "<name>".into();
        }
    }
    if parts.first().is_some_and(|p| p == "wolkvox")
        && parts.get(1).is_some_and(|p| p == "tokens" || p == "token_files")
        && parts.len() > 2
    {
        parts[2] = "<label>".into();
    }
    parts.join(".")
}

const SECTIONS: &[&str] =
    &["wolkvox", "database", "sync", "reports", "token_info", "log", "dimensions", "reconcile", "http", "accounts"];

/// The configuration keys a text names: code spans such as `sync.lookback_minutes` and
/// environment variables such as `WOLKVOX_ETL__SYNC__LOOKBACK_MINUTES`.
fn named_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut spans = Vec::new();
    for line in prose(text) {
        spans.extend(code_spans(&line));
    }
    for span in spans {
        let word = span.split([' ', '=']).next().unwrap_or_default();
        let section = word.split('.').next().unwrap_or_default();
        let code = word.ends_with(".md") || word.contains('/') || word.contains("::") || word.contains(".rs");
        // `wolkvox.chat_14` is a table in the schema `wolkvox`, not a key.
        let table = word.strip_prefix("wolkvox.").is_some_and(|t| wolkvox_etl::wolkvox::catalog::find(t).is_some());
        if word.contains('.') && SECTIONS.contains(&section) && !code && !table {
            out.push(word.to_string());
        }
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(rest) = word.strip_prefix("WOLKVOX_ETL__").filter(|r| !r.is_empty()) {
            out.push(rest.to_lowercase().replace("__", "."));
        }
    }
    out
}

/// What is wrong with a named key, if anything.
fn key_problem(keys: &BTreeSet<String>, named: &str) -> Option<String> {
    let key = normalize_key(named);
    // `database.*_timeout_seconds`: a pattern that must match at least one key.
    if let Some((head, tail)) = key.split_once('*') {
        let matched =
            keys.iter().any(|k| k.starts_with(head) && k.ends_with(tail) && k.len() > head.len() + tail.len());
        return (!matched).then(|| format!("`{named}` matches no configuration key"));
    }
    let section_or_key = keys.contains(&key) || keys.iter().any(|k| k.starts_with(&format!("{key}.")));
    (!section_or_key).then(|| format!("`{named}` is not a configuration key"))
}

#[test]
fn every_configuration_key_the_docs_name_exists_and_every_key_is_in_the_configuration_page() {
    let keys = example_keys();
    assert!(keys.len() > 40, "only {} keys read from config/example.toml: {keys:?}", keys.len());
    let mut problems = Vec::new();
    for file in doc_files() {
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for named in named_keys(&text) {
            if let Some(problem) = key_problem(&keys, &named) {
                problems.push(format!("{name}: {problem}"));
            }
        }
    }
    let page = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let documented: BTreeSet<String> = named_keys(&page).iter().map(|k| normalize_key(k)).collect();
    for key in &keys {
        if !documented.contains(key) {
            problems.push(format!("docs/configuration.md does not document `{key}`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_key_checker_finds_a_misspelled_key_and_an_undocumented_one() {
    let keys = example_keys();
    for good in [
        "sync.lookback_minutes",
        "reports.chat_14.schedule",
        "accounts.acme.wolkvox.server",
        "wolkvox.tokens.primary",
        "reports.agent_2.params.agent_id",
        "database",
    ] {
        assert_eq!(key_problem(&keys, good), None, "{good}");
    }
    assert_eq!(key_problem(&keys, "database.*_timeout_seconds"), None);
    for bad in ["sync.lookback_minute", "database.password", "reports.chat_14.every", "http.port", "sync.*_hours"] {
        assert!(key_problem(&keys, bad).is_some(), "{bad} passed");
    }
    let named = named_keys("Set `sync.look_back = 60` or WOLKVOX_ETL__HTTP__BINDING; see `docs/x.md`.");
    assert_eq!(named, ["sync.look_back", "http.binding"]);
    assert!(named.iter().all(|k| key_problem(&keys, k).is_some()));
}

#[test]
fn docs_reports_md_is_what_reports_markdown_prints() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_wolkvox-etl")).env_clear().args(["reports", "--markdown"]).output().unwrap();
    assert!(out.status.success());
    let fresh = String::from_utf8(out.stdout).unwrap();
    let stored = std::fs::read_to_string(root().join("docs/reports.md")).unwrap();
    assert!(
        fresh == stored,
        "docs/reports.md is stale: regenerate it with `cargo run -- reports --markdown > docs/reports.md`"
    );
    // It is the catalogue: every report of `reports --json` has its section and its columns.
    let out = Command::new(env!("CARGO_BIN_EXE_wolkvox-etl")).env_clear().args(["reports", "--json"]).output().unwrap();
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 105);
    for r in reports {
        let api = r["api"].as_str().unwrap();
        let section =
            &stored[stored.find(&format!("\n### {api}\n")).unwrap_or_else(|| panic!("no section for {api}"))..];
        let section = &section[..section[1..].find("\n### ").map_or(section.len(), |i| i + 1)];
        for field in r["fields"].as_array().unwrap() {
            let shown = format!("`{}` {}", field["name"].as_str().unwrap(), field["type"].as_str().unwrap());
            assert!(section.contains(&shown), "{api}: {shown} missing");
        }
    }
}
