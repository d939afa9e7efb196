//! `ksef operations`, `ksef completions`, `ksef sim` and the hidden `ksef man-pages`.

use std::path::Path;

use clap::CommandFactory as _;
use ksef_api::operations::{OPERATIONS, TokenKind};
use serde_json::json;

use crate::cli::Cli;
use crate::connect::Ctx;
use crate::exit::{CliError, CliResult, Exit};
use crate::output::write_stdout;

pub fn operations(ctx: &Ctx, filter: Option<&str>) {
    let out = ctx.out;
    out.line(format!(
        "KSeF API {} (spec sha256 {})",
        ksef_api::operations::API_VERSION,
        ksef_api::operations::SPEC_SHA256
    ));
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
        if out.json {
            out.json_line(&json!({
                "name": op.name,
                "method": op.method,
                "path": op.path,
                "token": token,
                "rateLimitGroup": op.rate_limit_group,
                "rateLimits": op.rate_limits.map(|l| json!({
                    "perSecond": l.per_second,
                    "perMinute": l.per_minute,
                    "perHour": l.per_hour,
                })),
            }));
        } else {
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
            out.line(format!(
                "{:<48} {:<6} {:<62} token={:<8} limits={:<20} group={}",
                op.name,
                op.method,
                op.path,
                token,
                limits,
                op.rate_limit_group.unwrap_or("-")
            ));
        }
        shown += 1;
    }
    out.line(format!("{shown} operations"));
}

pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ksef", &mut buf);
    write_stdout(&buf);
}

/// One man page per command and subcommand (`ksef.1`, `ksef-auth-login.1`, ...).
pub fn man_pages(dir: &Path) -> CliResult {
    std::fs::create_dir_all(dir).map_err(|e| CliError::new(Exit::Failure, e))?;
    let cmd = Cli::command();
    write_man(dir, cmd, "ksef")
}

fn write_man(dir: &Path, cmd: clap::Command, name: &str) -> CliResult {
    let cmd = cmd
        .display_name(name.to_string())
        .bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    std::fs::write(dir.join(format!("{name}.1")), buf)
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_man(dir, sub.clone(), &sub_name)?;
    }
    Ok(())
}

pub async fn sim(ctx: &Ctx, port: u16, no_rate_limits: bool) -> CliResult {
    let config = ksef_sim::SimConfig::default()
        .with_bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .with_rate_limits(!no_rate_limits);
    let sim = ksef_sim::KsefSim::start(config)
        .await
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    if ctx.out.json {
        ctx.out.json_line(&json!({ "baseUrl": sim.base_url() }));
    } else {
        write_stdout(format!("{}\n", sim.base_url()).as_bytes());
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    sim.shutdown().await;
    Ok(())
}
