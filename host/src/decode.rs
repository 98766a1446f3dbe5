//! `sse-host decode`: run the core parser over a raw event stream on stdin and print what it
//! dispatches, one JSON line per event, then an end line (PROTOCOL.md §8).
//!
//! This is a shell: it moves bytes from stdin into [`sse_core::parse::Parser`] and formats the
//! [`Step`]s. Every parsing decision is the core's.

use std::io::{self, Read, Write};
use std::num::NonZeroUsize;

use anyhow::Context as _;
use serde::Serialize;
use sse_core::parse::{Parser, Step};

/// Bytes allowed in one `event:`/`id:` value or comment: 1 MiB, far above any real stream, so
/// decode shows what a stream holds rather than where a device would give up.
pub const LINE_LIMIT: usize = 1 << 20;
/// Bytes of joined `data` in one event: 1 MiB (agent messages reach hundreds of KB).
pub const DATA_LIMIT: usize = 1 << 20;

/// The parser decode uses. It holds `4 * LINE_LIMIT + DATA_LIMIT` bytes inline.
pub type DecodeParser = Parser<LINE_LIMIT, DATA_LIMIT>;

/// Stack for the decode thread: the parser (5 MiB) lives on it, with room for the copies a
/// debug build makes while constructing it.
const DECODE_STACK: usize = 64 << 20;

/// Bytes read from stdin at a time when no `--chunk` is given.
const READ_BUF: usize = 64 << 10;

/// Arguments of `sse-host decode`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Example:\n  curl -sN 'http://127.0.0.1:8080/stream?from=0' | sse-host decode\n  \
        printf 'id: 7\\ndata: hi\\n\\n' | sse-host decode --chunk 1"
)]
pub struct DecodeArgs {
    /// Feed the parser N bytes at a time (default: as read from stdin).
    #[arg(long, value_name = "N")]
    pub chunk: Option<NonZeroUsize>,
    /// Start with ID as the last event ID, as after a reconnect that sent `Last-Event-ID: ID`.
    #[arg(long, value_name = "ID")]
    pub last_event_id: Option<String>,
}

#[derive(Serialize)]
struct EventLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a str,
    last_event_id: &'a str,
}

#[derive(Serialize)]
struct EndLine<'a> {
    end: bool,
    last_event_id: &'a str,
    retry: Option<u64>,
}

/// Runs `decode` on stdin/stdout/stderr.
///
/// # Errors
/// A refused `--last-event-id`, or an I/O error other than a closed stdout.
pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let worker = std::thread::Builder::new()
        .name("decode".into())
        .stack_size(DECODE_STACK)
        .spawn(move || {
            let mut parser = DecodeParser::new();
            decode(
                &mut parser,
                &args,
                io::stdin().lock(),
                io::stdout().lock(),
                io::stderr().lock(),
            )
        })
        .context("start the decode thread")?;
    match worker.join() {
        Ok(Err(e)) if is_broken_pipe(&e) => Ok(()),
        Ok(result) => result,
        Err(_) => anyhow::bail!("the decode thread panicked"),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Decodes `input` to `out`, reporting dropped or cut events on `err`.
///
/// # Errors
/// A refused `--last-event-id`, or an I/O error.
pub fn decode<const L: usize, const D: usize>(
    parser: &mut Parser<L, D>,
    args: &DecodeArgs,
    mut input: impl Read,
    out: impl Write,
    mut err: impl Write,
) -> anyhow::Result<()> {
    if let Some(id) = &args.last_event_id {
        parser
            .set_last_event_id(id)
            .with_context(|| format!("--last-event-id {id:?}"))?;
    }
    let mut out = io::BufWriter::new(out);
    let mut buf = vec![0; args.chunk.map_or(READ_BUF, NonZeroUsize::get)];
    loop {
        let n = if args.chunk.is_some() {
            read_full(&mut input, &mut buf)?
        } else {
            read_some(&mut input, &mut buf)?
        };
        if n == 0 {
            break;
        }
        let mut rest = buf.get(..n).unwrap_or_default();
        loop {
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => break,
                Ok(Step::Event(ev)) => {
                    if ev.truncated {
                        writeln!(
                            err,
                            "decode: event data cut to {} bytes (the limit)",
                            ev.data.len()
                        )?;
                    }
                    let line = EventLine {
                        event_type: ev.event_type,
                        data: ev.data,
                        last_event_id: ev.last_event_id,
                    };
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
                // Comments, `retry:` and any later kind of step print nothing.
                Ok(_) => {}
                Err(e) => writeln!(err, "decode: {e}")?,
            }
        }
    }
    parser.finish();
    let end = EndLine {
        end: true,
        last_event_id: parser.last_event_id(),
        retry: parser.retry().map(|d| d.as_millis()),
    };
    serde_json::to_writer(&mut out, &end)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// One read, retried on interruption.
fn read_some(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Fills `buf` unless the input ends first; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match read_some(input, rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
