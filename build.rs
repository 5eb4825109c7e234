//! Tells the test suite which optional tools and files this machine has, so a test that needs
//! one is reported as *ignored, with the reason* when it is absent — counted as skipped in the
//! runner's summary — instead of passing without having checked anything.
//!
//! Probed when the package is built, and again whenever `PATH` or any directory on it changes
//! (a tool installed after the first build, by apt or pip, adds an entry to one of them), so a
//! test never stays skipped for a tool that is there now: `hadolint`, `docker compose` /
//! `docker-compose`, `promtool` (Prometheus), `psql`, `chromium`, and the shared research catalogue beside
//! the repository.

use std::path::Path;
use std::process::{Command, Stdio};

fn main() {
    for cfg in ["has_hadolint", "has_compose", "has_promtool", "has_psql", "has_chromium", "has_shared_catalogue"] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    // A directory's modification time changes when an entry is added to it or removed.
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.is_dir() {
            println!("cargo::rerun-if-changed={}", dir.display());
        }
    }
    if runs(&["hadolint", "--version"]) {
        println!("cargo::rustc-cfg=has_hadolint");
    }
    if runs(&["docker", "compose", "version"]) || runs(&["docker-compose", "version"]) {
        println!("cargo::rustc-cfg=has_compose");
    }
    if runs(&["promtool", "--version"]) {
        println!("cargo::rustc-cfg=has_promtool");
    }
    if runs(&["psql", "--version"]) {
        println!("cargo::rustc-cfg=has_psql");
    }
    if runs(&["chromium", "--version"]) {
        println!("cargo::rustc-cfg=has_chromium");
    }
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    if Path::new(&manifest).join("../shared/wolkvox-reports.json").is_file() {
        println!("cargo::rustc-cfg=has_shared_catalogue");
    }
}

/// Whether the command exists and exits 0.
fn runs(cmd: &[&str]) -> bool {
    Command::new(cmd[0]).args(&cmd[1..]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}
