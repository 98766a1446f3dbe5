//! Command-line interface (clap). Each subcommand lives in its own module.

use clap::{Parser, Subcommand};

/// Real-time agent status over Server-Sent Events.
#[derive(Debug, Parser)]
#[command(name = "sse-host", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow a live event stream, reconnecting and resuming as needed.
    Follow(crate::follow_cmd::FollowArgs),
}
