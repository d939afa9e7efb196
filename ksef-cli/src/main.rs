//! The `ksef` command-line tool.
#![allow(clippy::print_stdout, clippy::print_stderr)]

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
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Operations { filter } => operations(filter.as_deref()),
    }
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
