//! The `ksef` command-line tool.

mod cli;
mod commands;
mod config;
mod connect;
mod demo;
mod exit;
mod identity;
mod interrupt;
#[cfg(feature = "keyring")]
mod keyring;
mod output;
mod paths;
mod progress;
mod seal;
mod secrets;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::connect::Ctx;
use crate::exit::{CliError, CliResult};
use crate::output::Out;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout, errors to stderr; a closed pipe is not an error.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    init_logging(cli.global.quiet, cli.global.verbose);
    let ctx = Ctx {
        out: Out {
            json: cli.global.json,
            quiet: cli.global.quiet,
        },
        profile: cli.global.profile.clone(),
        production: cli.global.production,
    };
    let result = run(&ctx, cli.command);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&ctx, &e);
            ExitCode::from(e.exit.code())
        }
    }
}

fn report(ctx: &Ctx, e: &CliError) {
    if ctx.out.json {
        let doc = serde_json::json!({
            "error": {
                "message": e.to_string(),
                "kind": e.exit.name(),
                "exitCode": e.exit.code(),
            }
        });
        output::write_stderr(&format!("{doc}\n"));
    } else {
        output::write_stderr(&format!("ksef: error: {e}\n"));
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(ctx: &Ctx, command: Command) -> CliResult {
    match command {
        Command::Operations { filter } => {
            commands::tools::operations(ctx, filter.as_deref());
            Ok(())
        }
        Command::Completions { shell } => {
            commands::tools::completions(shell);
            Ok(())
        }
        Command::ManPages { out } => commands::tools::man_pages(&out),
        Command::Profile(c) => commands::profile::run(ctx, c),
        Command::Validate(a) => commands::validate::run(ctx, &a),
        Command::Qr(c) => commands::qr::run(ctx, c),
        Command::Demo { url, at } => {
            let clock: ksef_time::SharedClock = match at {
                Some(t) => std::sync::Arc::new(ksef_time::ShiftedClock::starting_at(t)),
                None => ksef_time::system_clock(),
            };
            if ctx.out.json {
                demo::collect_lines();
            }
            let result = block_on(async { demo::run(url, clock).await.map_err(CliError::from) });
            // With --json: one document, {ok, steps: [the lines of the run]}.
            ctx.out.json(&serde_json::json!({
                "ok": result.is_ok(),
                "steps": demo::collected_lines(),
            }));
            result
        }
        Command::Sim {
            port,
            no_rate_limits,
        } => block_on(commands::tools::sim(ctx, port, no_rate_limits)),
        Command::Auth(c) => block_on(commands::auth::run(ctx, c)),
        Command::Send(c) => block_on(commands::send::run(ctx, c)),
        Command::Session(c) => block_on(commands::session::run(ctx, c)),
        Command::Invoice(c) => block_on(commands::invoice::run(ctx, c)),
        Command::Export(c) => block_on(commands::export::run(ctx, c)),
        Command::Sync(a) => block_on(commands::sync::sync(ctx, a)),
        Command::Store(c) => block_on(commands::sync::store(ctx, c)),
        Command::Token(c) => block_on(commands::token::run(ctx, c)),
        Command::Cert(c) => block_on(commands::cert::run(ctx, c)),
        Command::Permissions(c) => block_on(commands::permissions::run(ctx, c)),
        Command::Limits => block_on(commands::limits::limits(ctx)),
        Command::RateLimits => block_on(commands::limits::rate_limits(ctx)),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = CliResult<T>>) -> CliResult<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(exit::Exit::Failure, e))?;
    rt.block_on(f)
}
