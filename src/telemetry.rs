//! Logging: one tracing subscriber, human-readable or JSON lines, filtered by `RUST_LOG` or the
//! configured level. Logs go to stderr so command output on stdout stays clean for scripts.
//!
//! Every line of a run is emitted inside the `run` span (report, account, token label, run id)
//! and, per window, the `window` span; both formats print those span fields with each line.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// Third-party chatter kept out of the configured level: tokio-cron-scheduler's INFO lines
/// ("Uninited", "Job creator created") mean nothing to an operator tailing logs. `RUST_LOG`
/// replaces the whole filter, so it can bring them back.
const QUIET: &str = "tokio_cron_scheduler=warn";

/// sqlx-postgres' option parsing, kept to ERROR at any level.
const SECRET_SAFE: &str = "sqlx_postgres::options=error";

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},{QUIET}", settings.level)))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")))
        // Whatever RUST_LOG says: the driver's URL parser logs a parameter it ignores with its
        // value (a misspelled `pasword=` in clear). The configuration refuses such URLs first;
        // this keeps any other of its lines out too.
        .add_directive(SECRET_SAFE.parse().expect("a valid directive (compiled in)"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in files, journald or docker logs.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    // Ignore the error from a second init (tests may call this more than once).
    let _ = match settings.format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).flatten_event(true).try_init(),
    };
}
