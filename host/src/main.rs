use clap::Parser;
use sse_host::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cli = match cli.command {
        Command::Follow(args) => return sse_host::follow_cmd::run(args),
        Command::Decode(args) => {
            return match sse_host::decode::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sse-host: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        other => Cli { command: other },
    };
    // Flags clap accepts one by one but not together (a store's options with another store)
    // are usage errors too: exit 2 with the message, before anything starts.
    // (Checked before logging starts; the configuration itself is built after, because deriving
    // the subscriber bound logs.)
    if let Command::Serve(args) = &cli.command
        && let Err(e) = args.store.to_store()
    {
        e.exit();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(color_on_stderr())
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                let config = args.to_config()?;
                // Before the start: a signal during it (a long log, a Redis that does not
                // answer yet) stops the server cleanly instead of killing it.
                let mut stop = std::pin::pin!(sse_host::server::shutdown_signal());
                let server = tokio::select! {
                    started = sse_host::server::Server::start(config) => started?,
                    () = &mut stop => {
                        tracing::info!("stopped before serving");
                        return Ok(());
                    }
                };
                stop.await;
                tracing::info!("shutting down");
                server.shutdown().await
            }
            Command::Publish(args) => {
                println!("{}", sse_host::publish::run(&args).await?);
                Ok(())
            }
            // Handled above: they need no runtime or logging.
            Command::Follow(_) | Command::Decode(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Colour the log only for a person at a terminal: a file, a pipe or journald would get escape
/// codes as text. `NO_COLOR` (no-color.org) turns it off there too.
fn color_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
