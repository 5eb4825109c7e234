//! wolkvox-etl: parse the command line, run it, turn the outcome into an exit code.
//! Everything else lives in the library: `commands/` for each command, `startup.rs` for the wiring.

use std::process::ExitCode;

use clap::Parser;
use wolkvox_etl::{cli::Cli, commands};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::execute(cli)) {
        Ok(code) => code,
        Err(e) => {
            // The whole cause chain, once, at the top. No error in the chain holds a secret.
            eprintln!("error: {}", cause_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The cause chain joined by ": ", leaving out a cause whose text the line already says (sqlx
/// repeats its source inside its own message).
fn cause_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}
