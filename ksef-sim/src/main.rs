//! `ksef-sim --port PORT`: runs the simulator and prints its base URL (first line) and the
//! control token of its HTTP control API (second line, `control-token: ...`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{IpAddr, SocketAddr};

use clap::Parser;

/// A faithful local KSeF 2.0 server.
#[derive(Debug, Parser)]
#[command(name = "ksef-sim", version, about)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 0, env = "KSEF_SIM_PORT")]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1", env = "KSEF_SIM_HOST")]
    host: IpAddr,
    /// Disable rate limiting.
    #[arg(long)]
    no_rate_limits: bool,
    /// Scale every rate limit by this factor.
    #[arg(long, default_value_t = 1.0)]
    rate_limit_scale: f64,
    /// Seconds an authentication stays at status 100.
    #[arg(long, default_value_t = 0.0)]
    auth_delay_secs: f64,
    /// Token the control API (`/__sim/...`) requires in the `x-ksef-sim-token` header
    /// (16 to 256 visible ASCII characters). Default: a fresh random token, printed at start.
    #[arg(long, env = "KSEF_SIM_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !args.host.is_loopback() {
        eprintln!(
            "ksef-sim: WARNING: listening on {} — beyond loopback, every machine that can reach \
             this address can use the simulator; its control API still requires the control token.",
            args.host
        );
    }
    let auth_delay = std::time::Duration::try_from_secs_f64(args.auth_delay_secs.max(0.0))
        .unwrap_or(std::time::Duration::from_secs(24 * 3600))
        .min(std::time::Duration::from_secs(24 * 3600));
    let mut config = ksef_sim::SimConfig::default()
        .with_bind(SocketAddr::new(args.host, args.port))
        .with_rate_limits(!args.no_rate_limits)
        .with_rate_limit_scale(args.rate_limit_scale)
        .with_auth_processing_delay(auth_delay);
    if let Some(token) = args.control_token {
        match ksef_sim::ControlToken::new(token) {
            Ok(t) => config = config.with_control_token(t),
            Err(e) => {
                eprintln!("ksef-sim: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let sim = match ksef_sim::KsefSim::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ksef-sim: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", sim.base_url());
    println!("control-token: {}", sim.control().control_token());
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    std::process::ExitCode::SUCCESS
}
