use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sse_host::cli::Cli::parse();
    match cli.command {
        sse_host::cli::Command::Follow(args) => sse_host::follow_cmd::run(args),
    }
}
