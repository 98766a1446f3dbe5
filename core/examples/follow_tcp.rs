//! A sans-IO client loop over `std::net::TcpStream`: follow an agent's stream, print what
//! arrives, reconnect and resume exactly like `sse-host follow` does.
//!
//! ```text
//! cargo run -p sse-core --features std --example follow_tcp -- http://127.0.0.1:8080/stream
//! ```
//!
//! All protocol decisions (when to connect, what to resume from, backoff, the heartbeat
//! watchdog, duplicates and gaps) are [`Follow`]'s; this file only moves bytes and keeps time.
//! It speaks plain `http://` and sends HTTP/1.0 requests, so that the server answers with a
//! body delimited by the end of the connection (no chunked encoding to undo). A real shell
//! would use an HTTP client; the session's API stays the same.

use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use sse_core::agent::follow::{Action, Follow, Output};
use sse_core::reconnect::{Disconnect, Policy, StatusKind};

/// Line bound: our server's ids are 53 bytes; room for other servers' longer ones.
const LINE: usize = 256;
/// Data bound: the largest event (a `state`) this client accepts whole.
const DATA: usize = 64 * 1024;
/// The response header block's bound.
const MAX_HEAD: usize = 16 * 1024;

struct Url {
    host: String,
    /// As given, for the `Host` header.
    authority: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/stream"),
    };
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') && (!h.contains(':') || h.ends_with(']')) => (
            h,
            p.parse()
                .map_err(|_| format!("{url:?}: the port {p:?} is not a number"))?,
        ),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok(Url {
        host: host.to_owned(),
        authority: authority.to_owned(),
        port,
        path: path.to_owned(),
    })
}

/// An open response: the stream, and body bytes that arrived with the headers.
struct Response {
    stream: TcpStream,
    status: u16,
    is_event_stream: bool,
    body_start: Vec<u8>,
}

fn open(
    url: &Url,
    from: u64,
    epoch: Option<&str>,
    last_event_id: Option<&str>,
    timeout: StdDuration,
) -> io::Result<Response> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let sep = if url.path.contains('?') { '&' } else { '?' };
    let mut request = format!("GET {}{sep}from={from}", url.path);
    if let Some(epoch) = epoch {
        request.push_str(&format!("&epoch={epoch}"));
    }
    request.push_str(&format!(
        " HTTP/1.0\r\nHost: {}\r\nAccept: text/event-stream\r\n",
        url.authority
    ));
    if let Some(id) = last_event_id {
        request.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;

    // Read the header block (bounded), then split off what belongs to the body.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the response headers",
            ));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response headers too long",
            ));
        }
    };
    let body_start = head.split_off(end);
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let is_event_stream = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("content-type")
                && value
                    .trim()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
        })
    });
    Ok(Response {
        stream,
        status,
        is_event_stream,
        body_start,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("usage: follow_tcp http://HOST[:PORT][/PATH]   (PATH defaults to /stream)");
        std::process::exit(2);
    };
    let url = parse_url(&arg)?;

    let origin = StdInstant::now();
    let now = || sse_core::Instant::from_millis(origin.elapsed().as_millis() as u64);
    let policy = Policy::DEFAULT;
    let seed = u64::from(std::process::id()) ^ origin.elapsed().as_nanos() as u64;
    let mut session: Box<Follow<LINE, DATA>> = Box::new(Follow::new(policy, seed));
    let mut conn: Option<TcpStream> = None;
    let mut buf = vec![0u8; 16 * 1024];

    session.start(now());
    loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Connect { from } => {
                    conn = None;
                    let timeout = StdDuration::from_millis(policy.connect_timeout.as_millis());
                    let opened = open(
                        &url,
                        from.0,
                        session.resume_epoch(),
                        session.last_event_id(),
                        timeout,
                    );
                    match opened {
                        Ok(resp) => {
                            session.handle_response(now(), resp.status, resp.is_event_stream);
                            feed(&mut session, &resp.body_start, now());
                            conn = Some(resp.stream);
                        }
                        Err(e) => {
                            eprintln!("connect: {e}");
                            session.handle_disconnected(now(), Disconnect::Network);
                        }
                    }
                }
                Action::Close => conn = None,
                _ => {}
            }
        }
        while let Some(out) = session.poll_output() {
            print_output(out);
        }
        if session.status().kind == StatusKind::Disabled {
            println!("stopped: {}", session.status());
            return Ok(());
        }

        // Wait for bytes or the session's timer, whichever comes first.
        let wait = session
            .poll_timeout()
            .map(|t| StdDuration::from_millis(t.saturating_duration_since(now()).as_millis()))
            .unwrap_or(StdDuration::from_secs(1))
            .max(StdDuration::from_millis(1));
        match conn.as_mut() {
            None => {
                std::thread::sleep(wait);
                session.handle_timeout(now());
            }
            Some(stream) => {
                stream.set_read_timeout(Some(wait))?;
                match stream.read(&mut buf) {
                    Ok(0) => {
                        conn = None;
                        session.handle_disconnected(now(), Disconnect::EndOfStream);
                    }
                    Ok(n) => feed(&mut session, &buf[..n], now()),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        session.handle_timeout(now());
                    }
                    Err(e) => {
                        eprintln!("read: {e}");
                        conn = None;
                        session.handle_disconnected(now(), Disconnect::Network);
                    }
                }
            }
        }
    }
}

/// Every byte goes through the session; what it returns is for the app.
fn feed(session: &mut Follow<LINE, DATA>, bytes: &[u8], now: sse_core::Instant) {
    let mut rest = bytes;
    while !rest.is_empty() {
        if let Some(out) = session.handle_bytes(now, &mut rest) {
            print_output(out);
        }
    }
}

fn print_output(out: Output<'_>) {
    match out {
        Output::Message { idx, data, .. } => println!("message {}: {data}", idx.0),
        Output::State { data, truncated } => {
            println!("state{}: {data}", if truncated { " (cut)" } else { "" });
        }
        Output::StartOver { .. } => println!("start over: the server's log was replaced"),
        Output::SessionEnded(data) => println!("session ended: {data}"),
        Output::StatusChanged(status) => println!("[{status}]"),
        Output::Heartbeat(_) | Output::Comment(_) => {}
        other => println!("{other:?}"),
    }
}
