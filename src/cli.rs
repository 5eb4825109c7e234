//! The command line: subcommands and their flags (clap).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keeps a SQL database in sync with the wolkvox report APIs.
#[derive(Debug, Parser)]
#[command(name = "wolkvox-etl", version, about)]
pub struct Cli {
    /// TOML configuration file (see config/example.toml). Repeat it to layer several files in
    /// order, a key in a later file overriding the same key in an earlier one (e.g. a ConfigMap's
    /// file, then a Secret's); in WOLKVOX_ETL_CONFIG, separate them with ':'. Environment
    /// variables WOLKVOX_ETL__SECTION__KEY override every file.
    #[arg(long, global = true, env = "WOLKVOX_ETL_CONFIG", value_delimiter = ':')]
    pub config: Vec<PathBuf>,
    /// Only this operation, when the config lists several under [accounts.<name>].
    #[arg(long, global = true, env = "WOLKVOX_ETL_ACCOUNT")]
    pub account: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: sync every enabled report on its schedule until SIGTERM/Ctrl-C.
    Run,
    /// Sync one report (or every enabled one) once, on the scheduler's code path; or backfill a range.
    Sync {
        /// The report's api name, e.g. chat_14; without it, every enabled report.
        #[arg(long)]
        report: Option<String>,
        /// Start of a backfill, local time: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.
        #[arg(long)]
        from: Option<String>,
        /// End of a backfill (exclusive), local time; defaults to now minus the settle delay.
        #[arg(long, requires = "from")]
        to: Option<String>,
    },
    /// Re-read the most recent local days whole (yesterday and today by default) to catch rows
    /// that arrived later than the look-back; prints per day what it found.
    Reconcile {
        /// The report's api name; without it, every enabled report.
        #[arg(long)]
        report: Option<String>,
        /// Local days to re-read, the watermark's day included (default: reconcile.days, 2).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Show each report's watermark, lag and last run.
    Status {
        /// Print JSON instead of a table (what /status.json serves).
        #[arg(long)]
        json: bool,
        /// The instant to describe (lags, today, the calendar), as RFC 3339, e.g.
        /// 2026-12-06T15:00:00Z; default now.
        #[arg(long, value_parser = parse_instant)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Read, move or clear a report's watermark (to re-read a range or skip one).
    Watermark {
        /// What to do.
        #[command(subcommand)]
        action: WatermarkAction,
    },
    /// Accept a day that the API keeps answering empty as really empty: its stored rows are
    /// removed and it is no longer asked again (see `status` for suspect days).
    AcceptEmpty {
        /// The report's api name.
        #[arg(long)]
        report: String,
        /// The local day, YYYY-MM-DD.
        #[arg(long)]
        day: chrono::NaiveDate,
        /// The stream within the report, if it has several.
        #[arg(long, default_value = "")]
        stream: String,
    },
    /// Validate the configuration and print the effective settings, secrets redacted.
    CheckConfig,
    /// Exit 0 if the running daemon answers on /healthz (for container health checks).
    Healthcheck,
    /// List every report of the catalogue with its grain, key and whether it is enabled.
    Reports {
        /// Print JSON instead of a table.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print docs/reports.md (the catalogue as Markdown, from the same data as --json).
        #[arg(long)]
        markdown: bool,
    },
    /// Apply database migrations and exit (they also run at start-up).
    Migrate,
    /// Read the API's own count of each token's calls today (information.php?api=token_info,
    /// one call per token), store it and print it beside our own count.
    TokenInfo,
    /// Try it without an account: start the built-in simulator, sync the enabled reports for the
    /// last few days into the configured database (default: an SQLite file here), print a
    /// summary, then keep syncing on schedule until Ctrl-C.
    Demo {
        /// Stop after the first pass instead of running on the schedule.
        #[arg(long)]
        once: bool,
        /// How many days back the first pass starts.
        #[arg(long, default_value_t = 3)]
        days: u32,
        /// The database the demo fills. By default its own SQLite file here, whatever
        /// DATABASE_URL / database.url say: simulator rows never land in a real database.
        #[arg(long, default_value = crate::config::DEFAULT_DATABASE_URL)]
        database: String,
    },
    /// Serve the built-in wolkvox API simulator (for demos and tests).
    Simulate(SimulateArgs),
}

/// `simulate`'s flags; `commands::simulate` turns them into the simulator's configuration.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Address to bind; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Seed of the deterministic data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// chat_14 rows per hour.
    #[arg(long, default_value_t = 120)]
    pub rows_per_hour: u32,
    /// Accepted tokens, comma-separated (default: any non-empty token).
    #[arg(long, value_delimiter = ',')]
    pub tokens: Vec<String>,
    /// Artificial service time per request, milliseconds.
    #[arg(long, default_value_t = 20)]
    pub latency_ms: u64,
    /// Calls allowed per token per local day (default: unlimited).
    #[arg(long)]
    pub daily_limit: Option<u64>,
    /// Calls the operation's other integrations made today, added into what `token_info`
    /// answers as all tokens' calls.
    #[arg(long, default_value_t = 0)]
    pub other_integration_calls: u64,
    /// Fault kinds to inject, comma-separated (http500, http502, http503, reset, slow,
    /// truncated_json, invalid_utf8, code_not_200, simultaneous_use, maintenance, token_limit,
    /// invalid_token, or `transient` for all the transient ones).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Share of requests answered with one of `--faults` (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Also damage some rows (extra, missing and malformed fields; never keys).
    #[arg(long)]
    pub row_faults: bool,
    /// How answers are compressed: auto (as the request's Accept-Encoding asks), off, or only
    /// gzip, br, zstd or deflate.
    #[arg(long, default_value = "auto")]
    pub compression: crate::simulator::Compression,
}

/// `watermark` subcommands.
#[derive(Debug, Subcommand)]
pub enum WatermarkAction {
    /// Print the committed watermark (local time).
    Get {
        /// The report's api name.
        #[arg(long)]
        report: String,
        /// The stream within the report, if it has several.
        #[arg(long, default_value = "")]
        stream: String,
    },
    /// Set the watermark, backwards (re-read from there on the next run) or forwards (skip).
    Set {
        /// The report's api name.
        #[arg(long)]
        report: String,
        /// The stream within the report, if it has several.
        #[arg(long, default_value = "")]
        stream: String,
        /// New watermark, local time: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.
        #[arg(long)]
        to: String,
    },
    /// Delete the watermark: the next run starts again from sync.start_from / initial_days.
    Reset {
        /// The report's api name.
        #[arg(long)]
        report: String,
        /// The stream within the report, if it has several.
        #[arg(long, default_value = "")]
        stream: String,
    },
}

/// An RFC 3339 instant (`--at`).
fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}: give an RFC 3339 instant such as 2026-12-06T15:00:00Z"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::Cli;

    #[test]
    fn config_takes_several_files_in_order_repeated_or_separated_by_colons() {
        let files = |args: &[&str]| Cli::try_parse_from(args).unwrap().config;
        let two = [PathBuf::from("a.toml"), PathBuf::from("b.toml")];
        assert_eq!(files(&["wolkvox-etl", "--config", "a.toml", "--config", "b.toml", "check-config"]), two);
        assert_eq!(files(&["wolkvox-etl", "check-config", "--config", "a.toml:b.toml"]), two);
        assert_eq!(files(&["wolkvox-etl", "--config", "/etc/wolkvox-etl/config.toml", "run"]).len(), 1);
    }
}
