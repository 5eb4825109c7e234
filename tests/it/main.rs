//! Integration tests: the real simulator over real HTTP, a real PostgreSQL database per test.

mod catalogue;
mod cli;
mod faults;
mod helpers;
mod operations;
mod pipeline;
mod replicas;
mod scheduling;
