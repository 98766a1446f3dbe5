//! A device-style client loop: fixed buffers, a fake socket and a simulated clock.
//!
//! `cargo run -p sse-core --example device_loop`
//!
//! This is the loop the embassy firmware (`embedded/app/src/client.rs`) runs, minus the
//! network stack: everything the session needs lives in fixed-size values (the session itself,
//! a 64-byte receive buffer, a parsed [`DeviceState`]); nothing is allocated. The "server"
//! is a list of canned responses, one per connection: the first ends after two messages, the
//! client backs off and resumes at index 2 (`from=2`, `Last-Event-ID: <epoch>-1`), and the
//! second ends the session.

use sse_core::agent::follow::{Action, Follow, Output};
use sse_core::agent::state::DeviceState;
use sse_core::reconnect::{Disconnect, Policy, StatusKind};
use sse_core::{Duration, Instant, Seq};

/// What the device can hold: `id:` lines up to 64 bytes (the session requires at least 53),
/// one event's data up to 1 KiB.
type Session = Follow<64, 1024>;

const EPOCH: &str = "0123456789abcdef0123456789abcdef";

/// The server's responses, one per connection.
const RESPONSES: [&[u8]; 2] = [
    concat!(
        "retry: 1000\n",
        "event: state\n",
        "data: {\"epoch\":\"0123456789abcdef0123456789abcdef\",\"agent_state\":\"SendingToLLM\",",
        "\"message_count\":2,\"outstanding_llm_calls\":1}\n\n",
        "event: message\nid: 0123456789abcdef0123456789abcdef-0\ndata: {\"idx\":0}\n\n",
        ": keep-alive\n\n",
        "event: message\nid: 0123456789abcdef0123456789abcdef-1\ndata: {\"idx\":1}\n\n",
    )
    .as_bytes(),
    concat!(
        "event: state\n",
        "data: {\"epoch\":\"0123456789abcdef0123456789abcdef\",\"agent_state\":\"EndOfTurn\",",
        "\"message_count\":3}\n\n",
        // A replayed duplicate: dropped by the session.
        "event: message\nid: 0123456789abcdef0123456789abcdef-1\ndata: {\"idx\":1}\n\n",
        "event: message\nid: 0123456789abcdef0123456789abcdef-2\ndata: {\"idx\":2}\n\n",
        "event: session_ended\ndata: {\"message\":\"done\"}\n\n",
    )
    .as_bytes(),
];

/// A socket over one canned response, read in small pieces like a real one.
struct FakeSocket {
    body: &'static [u8],
}

impl FakeSocket {
    /// Copies up to `buf.len()` bytes; `0` is end of stream.
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.body.len());
        let (head, tail) = self.body.split_at(n);
        buf[..n].copy_from_slice(head);
        self.body = tail;
        n
    }
}

fn main() {
    // Seed the jitter from something unique per device (a serial number, a TRNG).
    let mut session = Session::new(Policy::DEFAULT, 0x5eed);
    let mut rx = [0u8; 64];
    let mut socket: Option<FakeSocket> = None;
    let mut connections = RESPONSES.iter();
    let mut now = Instant::from_millis(0);
    let mut shown = DeviceState::default();

    session.start(now);
    // Bounded, as every device loop should be: this script needs a few dozen turns.
    for _ in 0..1_000 {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Connect { from } => {
                    println!(
                        "[{:>5} ms] GET /stream?from={}{}{} (Last-Event-ID: {:?})",
                        now.as_millis(),
                        from.0,
                        if session.resume_epoch().is_some() {
                            "&epoch="
                        } else {
                            ""
                        },
                        session.resume_epoch().unwrap_or_default(),
                        session.last_event_id()
                    );
                    socket = connections.next().map(|&body| FakeSocket { body });
                    match socket {
                        Some(_) => session.handle_response(now, 200, true),
                        None => session.handle_disconnected(now, Disconnect::Network),
                    }
                }
                Action::Close => socket = None,
                _ => {}
            }
        }
        while let Some(out) = session.poll_output() {
            show(now.as_millis(), out, &mut shown);
        }
        if session.status().kind == StatusKind::Disabled {
            break;
        }
        match &mut socket {
            Some(s) => {
                let n = s.read(&mut rx);
                now = now.saturating_add(Duration::from_millis(5));
                if n == 0 {
                    socket = None;
                    session.handle_disconnected(now, Disconnect::EndOfStream);
                    continue;
                }
                let mut rest = &rx[..n];
                while !rest.is_empty() {
                    if let Some(out) = session.handle_bytes(now, &mut rest) {
                        show(now.as_millis(), out, &mut shown);
                    }
                }
            }
            None => {
                // Nothing to read: sleep until the session's timer (backoff here).
                let Some(wake) = session.poll_timeout() else {
                    break;
                };
                now = wake;
                session.handle_timeout(now);
            }
        }
    }
    assert_eq!(session.resume_from(), Seq(3));
    println!(
        "{} messages, next index {}, final status: {}; {} bytes of session state",
        session.n_received(),
        session.resume_from().0,
        session.status(),
        core::mem::size_of::<Session>()
    );
}

/// Prints one output; `ms` is the simulated time.
fn show(ms: u64, out: Output<'_>, shown: &mut DeviceState) {
    match out {
        Output::Message { idx, data, .. } => println!("[{ms:>5} ms] message {} {data}", idx.0),
        Output::State {
            data,
            truncated: false,
        } => match DeviceState::parse(data.as_bytes()) {
            Ok(status) => {
                *shown = status;
                println!(
                    "[{ms:>5} ms] state: {} = {:?} ({} LLM calls in flight, epoch {})",
                    shown.agent_state.as_str(),
                    shown.activity(),
                    shown.outstanding_llm_calls,
                    if shown.epoch == EPOCH {
                        "as expected"
                    } else {
                        "other"
                    }
                );
            }
            Err(e) => println!("[{ms:>5} ms] bad state: {e}"),
        },
        Output::State {
            truncated: true, ..
        } => println!("[{ms:>5} ms] state larger than the data bound; keeping the last one"),
        Output::StatusChanged(status) => println!("[{ms:>5} ms] status {status}"),
        Output::SessionEnded(data) => println!("[{ms:>5} ms] session ended: {data}"),
        Output::Comment(text) => println!("[{ms:>5} ms] comment {text:?}"),
        other => println!("[{ms:>5} ms] {other:?}"),
    }
}
