//! wolkvox-etl keeps a SQL database in sync with the wolkvox `reports_manager.php` APIs.
//!
//! A tour, in the order data flows: [`commands`] dispatch; [`config`] is validated once;
//! [`startup`] wires a Postgres pool ([`store`]), the API client and token gates ([`wolkvox`])
//! and the [`scheduler`], whose ticks call [`sync::run_once`]: plan windows from the watermark,
//! fetch, upsert rows and move the watermark in one transaction; [`sync::dimensions::read_all`]:
//! the reference data of `information.php`, kept with history; and
//! [`sync::api_token_count::read_once`]: the API's own count of each token's calls, checked
//! against the [`budget`]. The [`simulator`] stands in for the real API in tests.

#![warn(clippy::too_many_lines)]

/// The daily token budget: calls counted per token per local day, pauses at the limit.
pub mod budget;
/// The command line (clap): subcommands and their argument structs.
pub mod cli;
/// The one source of "now", real or manual, shared by the daemon and the simulator.
pub mod clock;
/// One file per command (`run`, `sync`, `status`, `demo`, …) and the dispatcher.
pub mod commands;
/// Typed, layered, validated configuration; errors name the key and the fix.
pub mod config;
/// The one stable hash (FNV-1a) for row hashes, lock keys and token gate names.
pub mod hash;
/// Failure streaks and readiness: how loudly a failing report is logged, when the process is unready.
pub mod health;
/// The operator's HTTP endpoints: `/metrics`, `/healthz` and `/readyz`.
pub mod http;
/// Prometheus metrics, one function per event; bounded labels.
pub mod metrics;
/// A thin tokio-cron-scheduler shell: one guarded job per report, graceful shutdown.
pub mod scheduler;
/// Shutdown signals (SIGTERM, Ctrl-C) turned into a cancellation token.
pub mod signals;
/// A faithful loopback stand-in for the wolkvox API, used by tests, the demo and benchmarks.
pub mod simulator;
/// Wiring only: connect and migrate the database, build the client, token gates and jobs.
pub mod startup;
/// The status document: what `status`, `/status.json` and the status page show, built once.
pub mod status;
/// The status page: the status document rendered as HTML for a wall screen.
pub mod status_page;
/// Postgres or SQLite behind one interface, a file per table with its own `impl Db`/`impl Tx`: rows, the quarantine, watermarks, runs, the ledger, dimensions, token usage and the API's token count, locks; writes need a transaction.
pub mod store;
/// The daemon's reads of the API: window planning and the run of one report, the dimensions' reads, the API's token count.
pub mod sync;
/// The tracing subscriber: pretty or JSON lines.
pub mod telemetry;
/// Outside text made safe to log, store and show: one line, cut.
pub mod text;
/// The operation's time zone: local <-> UTC, DST rules, local midnights, parsing local datetimes.
pub mod time;
/// The wolkvox API: the catalogue of reports and dimensions, HTTP client, envelope, the one `Row` type, tokens, the `token_info` answer, value formats, errors.
pub mod wolkvox;
