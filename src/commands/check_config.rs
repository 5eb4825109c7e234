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
    ExitCode::SUCCESS
}
