//! `GET /stream` without hyper, for the connections that are nearly all of a busy server's.
//!
//! Why: hyper keeps an 8 KiB read buffer and an 8 KiB write buffer for the whole life of a
//! connection, plus the axum body box and a ~2 KiB connection task; for a subscriber that sits
//! on one response for hours that is ~13 KiB of resident memory each (docs/BENCHMARKS.md,
//! "Server fan-out"). Here a subscriber is its socket, its [`Subscription`] and a small task,
//! and each batch goes out as one vectored write with no copy.
//!
//! How: the accept loop peeks at a new connection's first bytes. Only when they are a
//! complete, plain `GET /stream` request, which the `/stream` handler would accept too
//! (HTTP/1.1, no body, no CORS configured, a `Host` and token that `guard.rs` accepts, the hub
//! has room, and `stream::StreamRequest::parse`, the handler's own reading, accepts it), does
//! this module consume the request and answer it.
//! Anything else, every request that would get an error included, is left unread in the
//! socket for hyper and axum, so error responses and every other endpoint keep their one
//! implementation.
//!
//! Bounds: the head must arrive in the first segment, within [`PEEK_BYTES`] bytes and
//! [`HEAD_WAIT`]; at most [`MAX_HEADERS`] headers. A client that sends anything after its
//! request, closes, or passes the hub's stall bound is disconnected.

use super::App;
use super::stream::StreamRequest;
use crate::hub::Subscription;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Most request-head bytes looked at; a longer head goes to hyper.
const PEEK_BYTES: usize = 2048;
/// Most request headers; more go to hyper.
const MAX_HEADERS: usize = 32;
/// How long the first bytes may take before the connection is handed to hyper (which then
/// applies its own header timeout).
pub(super) const HEAD_WAIT: Duration = Duration::from_secs(5);

/// The response head: what `stream::sse_response` sends on HTTP/1.1, chunked like hyper.
/// The security headers are `guard::SECURITY_HEADERS` (a test there checks them).
pub(super) const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
content-type: text/event-stream\r\n\
cache-control: no-cache\r\n\
x-accel-buffering: no\r\n\
content-security-policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self'\r\n\
x-content-type-options: nosniff\r\n\
x-frame-options: DENY\r\n\
referrer-policy: no-referrer\r\n\
connection: keep-alive\r\n\
transfer-encoding: chunked\r\n\r\n";
/// The last chunk: the stream ended (shutdown, session ended).
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A `/stream` request this module serves: the subscription and the head's length in bytes.
pub(super) struct Accepted {
    sub: Subscription,
    head_len: usize,
}

/// Looks at the connection's first bytes without consuming them. `Some`: this module serves
/// the connection ([`serve`]); `None`: hand it, untouched, to hyper.
pub(super) async fn accept(stream: &TcpStream, app: &App, kill: &Arc<Notify>) -> Option<Accepted> {
    if app.config.cors_origin.is_some() {
        return None;
    }
    let mut buf = vec![0u8; PEEK_BYTES];
    let n = tokio::time::timeout(HEAD_WAIT, stream.peek(&mut buf))
        .await
        .ok()?
        .ok()?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = req.parse(buf.get(..n)?).ok()? else {
        return None;
    };
    if req.method != Some("GET") || req.version != Some(1) {
        return None;
    }
    let (path, query) = req.path?.split_once('?').unwrap_or((req.path?, ""));
    if path != "/stream" {
        return None;
    }
    if req.headers.iter().any(|h| {
        ["content-length", "transfer-encoding", "upgrade", "expect"]
            .iter()
            .any(|n| h.name.eq_ignore_ascii_case(n))
    }) {
        return None;
    }
    // A foreign or missing host, or a missing token: hyper and axum answer the error. (The
    // first of each header, as `HeaderMap::get` reads it in the router.)
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    super::guard::check_host(
        &app.config,
        Some(std::str::from_utf8(header("host")?).ok()?),
    )
    .ok()?;
    let access_token = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "access_token")
        .last()
        .map(|(_, v)| v.into_owned());
    if !super::guard::read_allowed(
        &app.config,
        header("authorization"),
        access_token.as_deref().map(str::as_bytes),
    ) {
        return None;
    }
    // The handler's own reading; a request it refuses is left to hyper, which answers 400
    // through the same function.
    let request =
        StreamRequest::parse(query, req.headers.iter().map(|h| (h.name, h.value))).ok()?;
    // Full: hyper and axum answer 503 with Retry-After; ended: 204.
    let sub = app
        .hub
        .subscribe(request.resume(), request.filter, Some(Arc::clone(kill)))
        .ok()?;
    Some(Accepted { sub, head_len })
}

/// Serves an accepted `/stream` until the stream ends, the client goes away or sends more,
/// or the hub pulls `kill`.
pub(super) async fn serve(mut stream: TcpStream, accepted: Accepted, kill: Arc<Notify>) {
    let Accepted { mut sub, head_len } = accepted;
    let result = tokio::select! {
        r = run(&mut stream, &mut sub, head_len) => r,
        () = kill.notified() => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "stream connection ended");
    }
}

async fn run(stream: &mut TcpStream, sub: &mut Subscription, head_len: usize) -> io::Result<()> {
    // The head is in the socket already (it was peeked); consume it.
    let mut head = vec![0u8; head_len];
    stream.read_exact(&mut head).await?;
    drop(head);
    stream.write_all(RESPONSE_HEAD).await?;
    loop {
        let batch = {
            let next = sub.next_batch();
            tokio::pin!(next);
            loop {
                tokio::select! {
                    batch = &mut next => break batch,
                    ready = stream.readable() => {
                        ready?;
                        let mut probe = [0u8; 16];
                        match stream.try_read(&mut probe) {
                            // Closed, or a second request (pipelining is not served here).
                            Ok(_) => return Ok(()),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        };
        match batch {
            Some(bytes) => write_chunk(stream, &bytes).await?,
            None => return stream.write_all(LAST_CHUNK).await,
        }
    }
}

/// One HTTP/1.1 chunk (RFC 9112 §7.1: `size-in-hex CRLF data CRLF`) in one vectored write.
async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    let mut size = [0u8; 18];
    let size = chunk_size_line(data.len(), &mut size);
    let parts: [&[u8]; 3] = [size, data, b"\r\n"];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut written = 0;
    while written < total {
        let mut skip = written;
        let mut slices = [IoSlice::new(&[]); 3];
        let mut k = 0;
        for p in parts {
            if skip >= p.len() {
                skip -= p.len();
                continue;
            }
            slices[k] = IoSlice::new(&p[skip..]);
            skip = 0;
            k += 1;
        }
        let n = stream.write_vectored(&slices[..k]).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        written += n;
    }
    Ok(())
}

/// `len` in hex followed by CRLF, written into `out`.
fn chunk_size_line(len: usize, out: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    let hex = &digits[i..];
    out[..hex.len()].copy_from_slice(hex);
    out[hex.len()..hex.len() + 2].copy_from_slice(b"\r\n");
    &out[..hex.len() + 2]
}

#[cfg(test)]
mod tests {
    use super::chunk_size_line;

    #[test]
    fn chunk_size_is_lowercase_hex_with_crlf() {
        let mut buf = [0u8; 18];
        assert_eq!(chunk_size_line(0, &mut buf), b"0\r\n");
        assert_eq!(chunk_size_line(255, &mut buf), b"ff\r\n");
        assert_eq!(chunk_size_line(4096, &mut buf), b"1000\r\n");
        assert_eq!(
            chunk_size_line(usize::MAX, &mut buf),
            b"ffffffffffffffff\r\n"
        );
    }
}
