//! The `ksef` command-line tool.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ksef_api::operations::{OPERATIONS, TokenKind};

/// Command-line client for KSeF 2.0, Poland's national e-invoicing system.
#[derive(Debug, Parser)]
#[command(name = "ksef", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the operations of the pinned KSeF API with the token each needs, its rate limits and
    /// required permissions.
    Operations {
        /// Only operations whose name or path contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Run the whole online flow against an embedded simulator: test identity, XAdES and
    /// KSeF-token authentication, invoices (one duplicate, two invalid), UPO, KOD I link.
    /// Exits non-zero if any step does not behave as expected.
    Demo {
        /// Use a running KSeF-compatible server at this base URL (with `/v2`) instead of the
        /// embedded simulator. Never production.
        #[arg(long)]
        url: Option<String>,
        /// Run as if the clock read this instant (RFC 3339, e.g. 2026-12-31T23:30:00Z); the
        /// clock then advances normally. Used to check the date rules at hard instants.
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Run the KSeF simulator and print its base URL (until Ctrl-C).
    Sim {
        /// Port to listen on (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Disable rate limiting.
        #[arg(long)]
        no_rate_limits: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Operations { filter } => {
            operations(filter.as_deref());
            ExitCode::SUCCESS
        }
        Command::Demo { url, at } => {
            let clock: ksef_time::SharedClock = match at {
                Some(t) => std::sync::Arc::new(ksef_time::ShiftedClock::starting_at(t)),
                None => ksef_time::system_clock(),
            };
            run_async(demo::run(url, clock))
        }
        Command::Sim {
            port,
            no_rate_limits,
        } => run_async(sim(port, no_rate_limits)),
    }
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("not an RFC 3339 instant ({e}); example: 2026-12-31T23:30:00Z"))
}

fn run_async(f: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ksef: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ksef: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn sim(port: u16, no_rate_limits: bool) -> anyhow::Result<()> {
    let config = ksef_sim::SimConfig::default()
        .with_bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .with_rate_limits(!no_rate_limits);
    let sim = ksef_sim::KsefSim::start(config).await?;
    println!("{}", sim.base_url());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

fn operations(filter: Option<&str>) {
    println!(
        "KSeF API {} (spec sha256 {})",
        ksef_api::operations::API_VERSION,
        ksef_api::operations::SPEC_SHA256
    );
    let mut shown = 0;
    for op in OPERATIONS
        .iter()
        .filter(|op| filter.is_none_or(|f| op.name.contains(f) || op.path.contains(f)))
    {
        let token = match op.token {
            TokenKind::None => "-",
            TokenKind::AuthenticationOperation => "auth-op",
            TokenKind::Refresh => "refresh",
            TokenKind::Access => "access",
        };
        let limits = op.rate_limits.map_or_else(
            || "-".to_string(),
            |l| {
                [
                    (l.per_second, "s"),
                    (l.per_minute, "min"),
                    (l.per_hour, "h"),
                ]
                .iter()
                .filter_map(|(n, u)| n.map(|n| format!("{n}/{u}")))
                .collect::<Vec<_>>()
                .join(" ")
            },
        );
        println!(
            "{:<48} {:<6} {:<62} token={:<8} limits={:<20} group={}",
            op.name,
            op.method,
            op.path,
            token,
            limits,
            op.rate_limit_group.unwrap_or("-")
        );
        shown += 1;
    }
    println!("{shown} operations");
}
