use std::process::ExitCode;

use clap::Parser;
use sse_host::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => sse_host::decode::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sse-host: {e:#}");
            ExitCode::FAILURE
        }
    }
}
