use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sse_host::cli::Cli::parse();
    match cli.command {}
}
