//! The Docker image can be built: no container engine runs here, so the Dockerfile's build stage
//! is replayed in a copy of its build context (the files its COPY lines name, minus
//! `.dockerignore`, laid out as the container would see them). Each `cargo build` runs offline
//! with one extra `--bin` that does not exist: cargo reads the manifest, every declared target
//! and every `[patch]` path, then stops on that name before compiling anything. Any other error
//! (a declared bench or test whose file the stage lacks, a patch directory never copied) fails
//! the test: exactly what made the image unbuildable while every other test was green.
//!
//! Also: the binary links only libraries the runtime image (distroless `cc-debian12`) ships.

use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The `--bin` that makes each replayed build stop after loading the manifest.
const PROBE: &str = "wolkvox-etl-build-context-probe";

/// The build stage's instructions, continuation lines joined, comments dropped.
fn build_stage(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut stage = Vec::new();
    let mut froms = 0;
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with("FROM ") {
            froms += 1;
            if froms > 1 {
                break;
            }
            continue;
        }
        stage.push(line.to_string());
    }
    stage
}

/// `.dockerignore` as Docker reads it: the last pattern that matches a path decides; `!`
/// re-includes; a pattern that matches a directory excludes what is under it.
struct Ignore(Vec<(bool, Vec<String>)>);

impl Ignore {
    fn parse(text: &str) -> Ignore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (keep, p) = l.strip_prefix('!').map_or((false, l), |p| (true, p));
                (keep, p.trim_matches('/').split('/').map(str::to_string).collect())
            })
            .collect();
        Ignore(patterns)
    }

    fn excludes(&self, relative: &str) -> bool {
        let parts: Vec<&str> = relative.split('/').collect();
        let mut excluded = false;
        for (keep, pattern) in &self.0 {
            // The path itself or any directory above it.
            if (1..=parts.len()).any(|n| segments_match(pattern, &parts[..n])) {
                excluded = !keep;
            }
        }
        excluded
    }
}

fn segments_match(pattern: &[String], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(p), _) if p == "**" => (0..=path.len()).any(|skip| segments_match(&pattern[1..], &path[skip..])),
        (Some(_), None) => false,
        (Some(p), Some(s)) => glob(p.as_bytes(), s.as_bytes()) && segments_match(&pattern[1..], &path[1..]),
    }
}

/// One path segment against `*` and `?` (Go's filepath.Match within a segment).
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Copies `from` (a file, or a directory's contents) to `to`, leaving out what `.dockerignore`
/// excludes (`relative` is `from`'s path in the context).
fn copy(from: &Path, relative: &str, to: &Path, ignore: &Ignore) {
    if ignore.excludes(relative) {
        return;
    }
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().to_string();
            copy(&entry.path(), &format!("{relative}/{name}"), &to.join(&name), ignore);
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Replays the build stage of `dockerfile` in a fresh directory (the container's `/` mapped to
/// it); returns each replayed `cargo` call's output.
fn replay(dockerfile: &str, dockerignore: &str) -> Vec<String> {
    let root = std::env::temp_dir().join(format!("wolkvox_build_context_{:016x}", fastrand::u64(..)));
    let ignore = Ignore::parse(dockerignore);
    let mut workdir = root.clone();
    let log = root.join("cargo-calls.log");
    std::fs::create_dir_all(&root).unwrap();
    for step in build_stage(dockerfile) {
        let (instruction, args) = step.split_once(' ').unwrap_or((&step, ""));
        match instruction {
            "WORKDIR" => {
                workdir = root.join(args.trim().trim_start_matches('/'));
                std::fs::create_dir_all(&workdir).unwrap();
            }
            "COPY" => {
                let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let (sources, dest) = words.split_at(words.len() - 1);
                // Docker: a directory's contents go into the destination; files go into it when
                // it ends with `/` or several sources are named, else become it.
                let into = dest[0].ends_with('/') || sources.len() > 1;
                let dest = workdir.join(dest[0]);
                for source in sources {
                    let from = Path::new(REPO).join(source);
                    let target = match (from.is_dir(), into) {
                        (false, true) => dest.join(from.file_name().unwrap()),
                        _ => dest.clone(),
                    };
                    copy(&from, source, &target, &ignore);
                }
            }
            "RUN" => {
                // The image's cargo, offline and stopped at the probe; strip has nothing to strip.
                let preamble = format!(
                    "cargo() {{ if command cargo \"$@\" --offline --bin {PROBE} >>'{log}' 2>&1; then s=0; else s=$?; fi; \
                     echo \"== cargo exit $s\" >>'{log}'; return 0; }}; strip() {{ :; }};",
                    log = log.display()
                );
                let out = Command::new("sh")
                    .arg("-ec")
                    .arg(format!("{preamble} {args}"))
                    .current_dir(&workdir)
                    .env("CARGO_TARGET_DIR", root.join("target"))
                    .output()
                    .unwrap();
                assert!(out.status.success(), "RUN {args}: {}", String::from_utf8_lossy(&out.stderr));
            }
            _ => {}
        }
    }
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&root);
    calls.split("== cargo exit").filter(|c| !c.trim().is_empty() && c.contains("error")).map(str::to_string).collect()
}

fn read(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(REPO).join(name)).unwrap()
}

#[test]
fn the_dockerfiles_build_stage_loads_the_manifest_in_its_own_build_context() {
    let calls = replay(&read("Dockerfile"), &read(".dockerignore"));
    assert_eq!(calls.len(), 2, "two cargo builds (dependencies, then the binary): {calls:#?}");
    for call in &calls {
        // Only the probe's name is missing: every declared target and patch path was found.
        let errors: Vec<&str> = call.lines().filter(|l| l.starts_with("error")).collect();
        assert!(errors.len() == 1 && errors[0].starts_with(&format!("error: no bin target named `{PROBE}`")), "{call}");
    }
}

#[test]
fn a_build_stage_that_lacks_a_declared_target_is_caught() {
    // The Dockerfile before the fix: only the manifest and the lock for the dependency build.
    let old = "FROM rust AS build\nWORKDIR /src\nCOPY Cargo.toml Cargo.lock ./\n\
               RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs && cargo build --release --locked\n";
    let calls = replay(old, &read(".dockerignore"));
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].contains(&format!("no bin target named `{PROBE}`")), "{}", calls[0]);
    assert!(calls[0].contains("can't find") || calls[0].contains("failed to read"), "{}", calls[0]);
}

#[test]
fn dockerignore_patterns_match_as_docker_reads_them() {
    let ignore = Ignore::parse("target/\n*.db\n.env.*\n!.env.example\n**/*.swp\n");
    for (path, excluded) in [
        ("target", true),
        ("target/debug/x", true),
        ("src/target", false),
        ("wolkvox-etl.db", true),
        ("data/x.db", false),
        (".env.prod", true),
        (".env.example", false),
        ("src/a/b.swp", true),
        ("src/main.rs", false),
    ] {
        assert_eq!(ignore.excludes(path), excluded, "{path}");
    }
}

#[test]
fn the_binary_links_only_what_the_runtime_image_ships() {
    // gcr.io/distroless/cc-debian12: glibc (libc, libm, libpthread, libdl, librt, the loader),
    // libgcc_s, libstdc++, OpenSSL 3 and CA roots; nothing else is there to load.
    const SHIPPED: &[&str] = &[
        "linux-vdso.so.1",
        "ld-linux-x86-64.so.2",
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
        "libssl.so.3",
        "libcrypto.so.3",
    ];
    let out = Command::new("ldd").arg(env!("CARGO_BIN_EXE_wolkvox-etl")).output().expect("ldd runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let linked: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|lib| lib.rsplit('/').next().unwrap_or(lib))
        .collect();
    assert!(linked.contains(&"libc.so.6"), "{text}");
    let missing: Vec<&&str> = linked.iter().filter(|lib| !SHIPPED.contains(lib)).collect();
    assert!(missing.is_empty(), "the runtime image lacks {missing:?}:\n{text}");
}
