//! Integration tests: the real simulator over real HTTP, a real PostgreSQL database per test.

mod accounts;
mod catalogue;
mod cli;
mod concurrency;
mod dst;
mod faults;
mod helpers;
mod operations;
mod pipeline;
mod probe;
mod rejects;
mod replicas;
mod scheduling;
mod shutdown;
mod spelling;
mod typed_values;
mod upgrades;
