//! `simulate`: serve the built-in wolkvox API simulator on a port until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::SimulateArgs;
use crate::clock::Clock;
use crate::config::{ConfigError, LogFormat, LogSettings};
use crate::signals::wait_then_cancel;
use crate::simulator::{FaultPlan, Simulator, SimulatorConfig};
use crate::telemetry;
use crate::time::utc_to_local;

impl SimulateArgs {
    /// The simulator's configuration and the address to listen on.
    pub fn into_config(self) -> Result<(SimulatorConfig, SocketAddr), ConfigError> {
        let kinds = FaultPlan::parse_kinds(&self.faults).map_err(|e| ConfigError::Invalid {
            key: "--faults".into(),
            problem: e,
            fix: "list kinds separated by commas, e.g. --faults http503,reset".into(),
        })?;
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(ConfigError::Invalid {
                key: "--fault-rate".into(),
                problem: format!("{} is not between 0 and 1", self.fault_rate),
                fix: "use a share such as 0.1".into(),
            });
        }
        let faults = FaultPlan {
            rate: self.fault_rate,
            kinds,
            seed: self.seed,
            slow: std::time::Duration::from_secs(95),
            row_faults: self.row_faults,
        };
        let config = SimulatorConfig {
            seed: self.seed,
            rows_per_hour: self.rows_per_hour,
            tokens: self.tokens,
            latency: std::time::Duration::from_millis(self.latency_ms),
            daily_limit: self.daily_limit,
            other_integration_calls: self.other_integration_calls,
            faults,
            compression: self.compression,
            ..SimulatorConfig::default()
        };
        Ok((config, SocketAddr::new(self.bind, self.port)))
    }
}

/// `simulate`: needs no configuration file; logs at INFO in the human format.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(&LogSettings { format: LogFormat::Pretty, level: "info".into() });
    let (config, addr) = args.into_config()?;
    serve(config, addr).await
}

async fn serve(config: SimulatorConfig, addr: SocketAddr) -> anyhow::Result<ExitCode> {
    let sim =
        Simulator::start(config, Clock::system(), addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    println!("wolkvox simulator listening; base URL {}", sim.base_url());
    info!(base_url = %sim.base_url(), now_local = %utc_to_local(chrono_tz::America::Bogota, Utc::now()), "Simulator started");
    let stop = CancellationToken::new();
    wait_then_cancel(stop.clone()).await;
    let stats = sim.stats();
    sim.shutdown().await;
    info!(
        requests = stats.requests,
        rows_served = stats.rows_served,
        simultaneous_violations = stats.simultaneous_violations,
        "Simulator stopped"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};
    use crate::simulator::FaultKind;

    fn args(line: &[&str]) -> crate::cli::SimulateArgs {
        let cli = Cli::try_parse_from([&["wolkvox-etl", "simulate"], line].concat()).unwrap();
        match cli.command {
            Command::Simulate(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn simulate_flags_become_the_simulators_configuration() {
        let line = ["--port", "0", "--seed", "7", "--rows-per-hour", "300", "--tokens", "a,b", "--latency-ms", "5"];
        let more = ["--daily-limit", "10", "--faults", "http503,reset", "--fault-rate", "0.25", "--row-faults"];
        let more = [&more[..], &["--other-integration-calls", "600"]].concat();
        let (config, addr) = args(&[&line[..], &more[..]].concat()).into_config().unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:0");
        assert_eq!((config.seed, config.rows_per_hour, config.daily_limit), (7, 300, Some(10)));
        assert_eq!(config.tokens, ["a", "b"]);
        assert_eq!(config.other_integration_calls, 600);
        assert_eq!(config.latency, std::time::Duration::from_millis(5));
        assert_eq!(config.faults.kinds, [FaultKind::Http503, FaultKind::ConnectionReset]);
        assert_eq!((config.faults.rate, config.faults.seed, config.faults.row_faults), (0.25, 7, true));
    }

    #[test]
    fn a_fault_rate_outside_zero_to_one_names_the_flag() {
        let err = args(&["--fault-rate", "1.5"]).into_config().unwrap_err().to_string();
        assert!(err.contains("`--fault-rate`") && err.contains("1.5 is not between 0 and 1"), "{err}");
        let err = args(&["--faults", "bogus"]).into_config().unwrap_err().to_string();
        assert!(err.contains("`--faults`"), "{err}");
    }
}
