//! The I/O shell around sse-core's [`Follow`] session: one TCP socket, one timer, bytes in,
//! outputs to the display. No SSE semantics are decided here (resume point, `Last-Event-ID`,
//! duplicates, gaps, epochs, watchdog and backoff all come from `Follow`); this module opens
//! connections when told, speaks HTTP/1.1, and maps what it sees to `handle_*` calls.
//!
//! ```text
//! loop {
//!     poll_action  → Connect{from}: abort socket, phase = Opening / Close: abort, phase = Closed
//!     poll_output  → view (StatusChanged, StartOver)
//!     select(io step, Timer::at(poll_timeout)):
//!         Opening: resolve, connect, write request → Head
//!         Head:    read, parse head → handle_response → Body
//!         Body:    read, de-chunk in place → handle_bytes* → view / notes
//!         EOF / error → handle_disconnected
//!         timer → handle_timeout
//! }
//! ```

use embassy_futures::select::{Either, select};
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::Timer;
use heapless::String;
use sse_core::agent::follow::{Action, Follow, Output};
use sse_core::agent::state::{Activity, DeviceState};
use sse_core::reconnect::{Disconnect, Policy, Reason, StatusKind};
use sse_core::{Instant, Seq};

use crate::config;
use crate::http::{Body, HeadReader, Request};
use crate::server::Server;
use crate::view::{End, Note, StatusDisplay, View};

/// Longest `Last-Event-ID` we send: any id the parser keeps (`<epoch>-<idx>` from our server,
/// 53 bytes), so the server can tell a resume into another epoch and answer `reset`.
const ID_LEN: usize = config::LINE;

/// Where the one connection is.
// One instance lives in the `run` future and there is no allocator to box the head buffer into.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// No connection; waiting for `Follow` to ask for one.
    Closed,
    /// Connect and send the request.
    Opening {
        from: Seq,
        last_event_id: Option<String<ID_LEN>>,
    },
    /// Reading the response head.
    Head(HeadReader<{ config::HEAD }>),
    /// Reading the event stream.
    Body(Body),
}

/// What one I/O step produced.
enum Io {
    /// Connected and the request is sent.
    Sent,
    /// `n` bytes are in the read buffer.
    Read(usize),
    /// The connection ended or could not open.
    Ended(Disconnect),
}

fn now() -> Instant {
    Instant::from_millis(embassy_time::Instant::now().as_millis())
}

/// Follows `server` and shows what happens on `display` until the session is disabled: the
/// server ended the session, or refused the stream for good. Network failures never end it;
/// sse-core's `policy` decides when to retry.
///
/// RAM: the socket buffers and every other buffer in [`crate::config`], held in this future.
pub async fn run<D: StatusDisplay>(
    stack: Stack<'_>,
    server: &Server<'_>,
    policy: Policy,
    seed: u64,
    display: &mut D,
) -> End {
    let mut rx = [0u8; config::TCP_RX];
    let mut tx = [0u8; config::TCP_TX];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    // The request is written here too, before the first read.
    let mut buf = [0u8; config::IO];
    let mut follow: Follow<{ config::LINE }, { config::DATA }> = Follow::new(policy, seed);
    let mut view = View::new();
    let mut shown: Option<View> = None;
    let mut phase = Phase::Closed;

    follow.start(now());
    loop {
        while let Some(action) = follow.poll_action() {
            let next = match action {
                Action::Connect { from } => {
                    let last_event_id = follow
                        .last_event_id()
                        .and_then(|id| String::try_from(id).ok());
                    display.note(&Note::Connect {
                        from,
                        last_event_id: last_event_id.as_deref(),
                    });
                    Phase::Opening {
                        from,
                        last_event_id,
                    }
                }
                Action::Close => Phase::Closed,
                // `Action` is non-exhaustive: one this firmware does not know changes nothing.
                _ => continue,
            };
            socket.abort();
            phase = next;
        }
        while let Some(output) = follow.poll_output() {
            apply(&mut view, output, display);
        }
        view.messages = follow.n_received();
        view.next = follow.resume_from();
        if shown != Some(view) {
            display.show(&view);
            shown = Some(view);
        }
        let status = follow.status();
        if status.kind == StatusKind::Disabled {
            socket.abort();
            return match status.reason {
                Reason::SessionEnded => End::SessionEnded,
                reason => End::Refused(reason),
            };
        }

        let timer = async {
            match follow.poll_timeout() {
                Some(at) => Timer::at(embassy_time::Instant::from_millis(at.as_millis())).await,
                None => core::future::pending().await,
            }
        };
        let io = step(stack, &mut socket, server, &phase, &mut buf);
        match select(io, timer).await {
            Either::Second(()) => follow.handle_timeout(now()),
            Either::First(Io::Ended(why)) => {
                socket.abort();
                phase = Phase::Closed;
                follow.handle_disconnected(now(), why);
            }
            Either::First(Io::Sent) => phase = Phase::Head(HeadReader::new()),
            Either::First(Io::Read(n)) => {
                on_read(&mut follow, &mut phase, &mut buf, n, &mut view, display);
            }
        }
    }
}

/// One I/O step for the current phase. Cancel-safe at every await: the caller may drop it when
/// the timer fires (a half-open connection is then aborted by the `Close` that follows).
async fn step(
    stack: Stack<'_>,
    socket: &mut TcpSocket<'_>,
    server: &Server<'_>,
    phase: &Phase,
    buf: &mut [u8],
) -> Io {
    match phase {
        Phase::Closed => core::future::pending().await,
        Phase::Opening {
            from,
            last_event_id,
        } => {
            let Some(addr) = resolve(stack, server.host).await else {
                warn!("cannot resolve {}", server.host);
                return Io::Ended(Disconnect::Network);
            };
            if socket.connect((addr, server.port)).await.is_err() {
                return Io::Ended(Disconnect::Network);
            }
            let request = Request {
                host: server.host,
                port: server.port,
                path: server.path,
                from: *from,
                last_event_id: last_event_id.as_deref(),
                token: server.token,
            };
            let Ok(n) = request.write(buf) else {
                warn!("request does not fit {} bytes", buf.len());
                return Io::Ended(Disconnect::Network);
            };
            match embedded_io_async::Write::write_all(socket, &buf[..n]).await {
                Ok(()) => Io::Sent,
                Err(_) => Io::Ended(Disconnect::Network),
            }
        }
        Phase::Head(_) | Phase::Body(_) => match socket.read(buf).await {
            Ok(0) => Io::Ended(Disconnect::EndOfStream),
            Ok(n) => Io::Read(n),
            Err(_) => Io::Ended(Disconnect::Network),
        },
    }
}

async fn resolve(stack: Stack<'_>, host: &str) -> Option<embassy_net::IpAddress> {
    if let Some([a, b, c, d]) = crate::server::ipv4(host) {
        return Some(embassy_net::Ipv4Address::new(a, b, c, d).into());
    }
    #[cfg(feature = "dns")]
    {
        let found = stack
            .dns_query(host, embassy_net::dns::DnsQueryType::A)
            .await
            .ok()?;
        found.first().copied()
    }
    #[cfg(not(feature = "dns"))]
    {
        let _ = stack;
        None
    }
}

/// Handles `n` fresh bytes at the front of `buf`: response head first, then the body.
fn on_read<D: StatusDisplay, const L: usize, const B: usize>(
    follow: &mut Follow<L, B>,
    phase: &mut Phase,
    buf: &mut [u8],
    n: usize,
    view: &mut View,
    display: &mut D,
) {
    let mut start = 0;
    if let Phase::Head(head) = phase {
        let mut input = &buf[..n];
        match head.push(&mut input) {
            Ok(None) => return,
            Ok(Some(response)) => {
                display.note(&Note::Response {
                    status: response.status,
                });
                follow.handle_response(now(), response.status, response.event_stream);
                start = n - input.len();
                *phase = Phase::Body(Body::new(response.framing));
            }
            Err(e) => {
                warn!("bad response head: {:?}", e);
                *phase = Phase::Closed;
                follow.handle_disconnected(now(), Disconnect::Network);
                return;
            }
        }
    }
    let Phase::Body(body) = phase else { return };
    let data = &mut buf[start..n];
    let len = match body.decode_in_place(data) {
        Ok(len) => len,
        Err(e) => {
            warn!("bad chunked body: {:?}", e);
            *phase = Phase::Closed;
            follow.handle_disconnected(now(), Disconnect::Network);
            return;
        }
    };
    let at = now();
    let mut rest: &[u8] = &data[..len];
    while !rest.is_empty() {
        if let Some(output) = follow.handle_bytes(at, &mut rest) {
            apply(view, output, display);
        }
    }
    if body.is_done() {
        *phase = Phase::Closed;
        follow.handle_disconnected(at, Disconnect::EndOfStream);
    }
}

/// What one [`Output`] changes in the view, and the note it is worth.
fn apply<D: StatusDisplay>(view: &mut View, output: Output<'_>, display: &mut D) {
    match output {
        Output::Message {
            idx,
            data,
            truncated,
        } => {
            if truncated {
                view.oversized += 1;
            }
            display.note(&Note::Message {
                idx,
                bytes: data.len(),
                truncated,
            });
        }
        // A State cut at the parser's bound is not JSON: keep the last one shown.
        Output::State {
            truncated: true, ..
        } => display.note(&Note::BadState),
        Output::State { data, .. } => match DeviceState::parse(data.as_bytes()) {
            Ok(state) => {
                view.activity = Some(state.activity());
                view.cost_micro_usd = state.total_cost_micro_usd;
            }
            Err(_) => display.note(&Note::BadState),
        },
        Output::Heartbeat(_) => display.note(&Note::Heartbeat),
        Output::StartOver { .. } => {
            view.oversized = 0;
            display.note(&Note::StartOver);
        }
        Output::SessionEnded(_) => {
            view.activity = Some(Activity::Ended);
            display.note(&Note::SessionEnded);
        }
        Output::StatusChanged(status) => view.status = status,
        // Keep-alives and events dropped at the line bound change nothing on the display.
        // (`Output` is non-exhaustive: later kinds of output change nothing either.)
        Output::Other { .. } | Output::Comment(_) | Output::Dropped(_) => {}
        _ => {}
    }
}
