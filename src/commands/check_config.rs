//! `check-config`: validate the configuration and print the effective settings (secrets
//! redacted) with each operation's daily API call arithmetic.

use std::process::ExitCode;

use crate::budget::DailyEstimate;
use crate::config::Settings;

/// Prints every selected operation's effective settings; reaching here means they validated.
pub fn check_config(all: &[Settings]) -> ExitCode {
    for settings in all {
        if all.len() > 1 {
            println!("######## account {}", settings.account);
        }
        println!("{}", settings.describe());
        let estimate = DailyEstimate::of(settings);
        for advice in settings.advice() {
            println!("# advice: {advice}");
        }
        println!("# daily API calls: {}\n", estimate.arithmetic().replace("; ", "\n#   "));
    }
    // The same files for every account: listed once, after them.
    if let Some(first) = all.first() {
        println!("{}", files_read(&first.config_files));
    }
    ExitCode::SUCCESS
}

/// The config files read, in the order they were layered, as a comment line.
fn files_read(files: &[std::path::PathBuf]) -> String {
    if files.is_empty() {
        return "# config files: none (the built-in defaults and the environment only)".to_string();
    }
    let list: Vec<String> = files.iter().map(|f| format!("{:?}", f.display().to_string())).collect();
    format!(
        "# config files, in order (a later file overrides an earlier one, the environment overrides them all): {}",
        list.join(", ")
    )
}
