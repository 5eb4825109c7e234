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
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
