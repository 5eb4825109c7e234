//! Integration tests: the real simulator over real HTTP, a real PostgreSQL database per test.

mod accounts;
mod bad_rows;
mod big_windows;
mod catalogue;
mod cli;
mod commands;
mod completeness;
mod concurrency;
mod deploy;
mod dst;
mod empty_days;
mod faults;
mod helpers;
mod operations;
mod pipeline;
mod probe;
mod readonly;
mod rejects;
mod replicas;
mod scheduling;
mod shutdown;
mod spelling;
mod typed_values;
mod upgrades;
