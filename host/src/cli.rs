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
    /// Decode a raw text/event-stream from stdin with the core parser, one JSON line per event.
    ///
    /// Prints one JSON line per dispatched event, `{"type":T,"data":D,"last_event_id":I}`, then
    /// at end of input `{"end":true,"last_event_id":I,"retry":R}` (R: the reconnection time in
    /// ms set by the stream, or null). Invalid UTF-8 becomes U+FFFD. Limits: 1 MiB per line and
    /// per event. An event whose type or id is longer is dropped and reported on stderr; longer
    /// data is cut and reported on stderr. Decoding always goes on to the end; exit status 0.
    Decode(crate::decode::DecodeArgs),
}
