//! wolkvox-etl: parse the command line, run it, turn the outcome into an exit code.
//! Everything else lives in the library: `commands/` for each command, `startup.rs` for the wiring.

#![warn(clippy::too_many_lines)]

use std::process::ExitCode;

use clap::Parser;
use wolkvox_etl::{cli::Cli, commands};

// The parser thread allocates rows that the writing task frees: glibc's allocator serializes
// those cross-thread frees on a lock, mimalloc does not. A re-read of a 60,000-row page takes
// about a third less time, at a lower peak RSS (the ingest benchmark measures both).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3): how long freed memory stays resident.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Freed pages go back to the OS at once rather than 10 ms later: a window's rows are freed
    // in bursts, and holding them would raise the peak RSS the memory caps are promised by.
    // SAFETY: sets a plain integer option; mimalloc reads options with atomics.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
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
