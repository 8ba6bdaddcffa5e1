//! The `zbridge` binary: a thin command-line interface over the zbridge crates.
//!
//! Exit codes: 0 success, 1 any other failure, 2 bad input (nothing was written),
//! 3 a remote or authentication failure.

mod cli;
mod cmd;
mod exit;
mod output;
mod secrets;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One TLS crypto provider for the whole process (rustls cannot pick one when two are
    // compiled in).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", exit::render(&error));
            ExitCode::from(exit::code(&error))
        }
    }
}

/// Logs go to stderr; `-v` shows progress notes, `-vv` HTTP detail; `ZBRIDGE_LOG` overrides.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
