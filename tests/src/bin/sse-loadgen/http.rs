//! Just enough HTTP/1.1 client: the response head (httparse), the chunked body framing
//! (incremental, no buffer) and the keep-alive request connection of publishers and writers.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::MAX_HEAD;

/// Headers read from one response head.
const MAX_HEADERS: usize = 32;

/// What the load generator needs from a response head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) chunked: bool,
    pub(crate) content_length: Option<usize>,
    /// Bytes of the head, blank line included.
    pub(crate) len: usize,
}

/// Parses the response head at the start of `buf`; `None` while incomplete.
pub(crate) fn parse_head(buf: &[u8]) -> Option<Result<Head, String>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return None,
        Err(e) => return Some(Err(format!("bad response head: {e}"))),
    };
    let Some(status) = response.code else {
        return Some(Err("response head without a status".into()));
    };
    let mut chunked = false;
    let mut content_length = None;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or_default();
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            content_length = value.trim().parse().ok();
        }
    }
    Some(Ok(Head {
        status,
        chunked,
        content_length,
        len,
    }))
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading the hex size.
    Size(u64),
    /// Skipping a chunk extension up to the line end.
    Ext(u64),
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// After chunk data, skipping its CRLF.
    DataEnd,
    /// The terminating zero-size chunk was seen.
    Done,
}

/// A response body's framing: chunked (decoded as it arrives, a few words of state) or read
/// to the close.
#[derive(Debug)]
pub(crate) struct Body(Option<Chunk>);

impl Body {
    pub(crate) fn new(chunked: bool) -> Self {
        Body(chunked.then_some(Chunk::Size(0)))
    }

    /// The terminating chunk was read (a chunked body is complete).
    pub(crate) fn done(&self) -> bool {
        matches!(self.0, Some(Chunk::Done))
    }

    /// Hands the payload bytes of `input` to `data`, in order. `Err`: bad framing, or what
    /// `data` returned.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        mut data: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some(mut state) = self.0 else {
            return data(input);
        };
        while let Some((&b, rest)) = input.split_first() {
            if let Chunk::Data(n) = state {
                let k = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                let (payload, rest) = input.split_at(k);
                data(payload)?;
                input = rest;
                let left = n - k as u64;
                state = if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                };
                continue;
            }
            input = rest;
            state = match (state, b) {
                (Chunk::Size(n), b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                    if n > (u64::MAX >> 8) {
                        return Err("chunk size overflow".into());
                    }
                    Chunk::Size(n * 16 + u64::from(char::from(b).to_digit(16).unwrap_or(0)))
                }
                (Chunk::Size(n), b';') => Chunk::Ext(n),
                (Chunk::Size(n), b'\r' | b' ') => Chunk::Size(n),
                (Chunk::Size(0) | Chunk::Ext(0), b'\n') => Chunk::Done,
                (Chunk::Size(n) | Chunk::Ext(n), b'\n') => Chunk::Data(n),
                (Chunk::Size(_), _) => return Err(format!("bad chunk size byte {b:#x}")),
                (Chunk::DataEnd, b'\n') => Chunk::Size(0),
                (other, _) => other,
            };
        }
        self.0 = Some(state);
        Ok(())
    }
}

/// One keep-alive HTTP/1.1 connection for requests with small answers (`POST /api/messages`,
/// Durable Streams `PUT` and `POST`).
pub(crate) struct Publisher {
    stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Publisher {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("publisher connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Publisher {
            stream,
            addr,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Posts `body`; returns the status.
    pub(crate) async fn post(&mut self, body: &str) -> Result<u16, String> {
        self.send("POST", "/api/messages", "application/json", body.as_bytes())
            .await
    }

    /// Sends one request on the keep-alive connection and reads its whole response (bodies
    /// up to [`MAX_HEAD`], chunked or not, are read and dropped); returns the status.
    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<u16, String> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        self.stream
            .write_all(&req)
            .await
            .map_err(|e| format!("{method} write: {e}"))?;
        let mut parsed: Option<(Head, Body)> = None;
        loop {
            if parsed.is_none() {
                let blank = self.buf.iter().take_while(|b| matches!(b, b'\r' | b'\n'));
                let blank = blank.count();
                self.buf.drain(..blank);
            }
            if parsed.is_none()
                && let Some(head) = parse_head(&self.buf)
            {
                let head = head?;
                self.buf.drain(..head.len);
                parsed = Some((head, Body::new(head.chunked)));
            }
            if let Some((head, body)) = &mut parsed {
                if head.chunked {
                    // Requests are not pipelined, so everything read belongs to this body
                    // (but for the last chunk's CRLF, which may come later: skipped before
                    // the next head).
                    body.feed(&std::mem::take(&mut self.buf), |_| Ok(()))?;
                    if body.done() {
                        return Ok(head.status);
                    }
                } else {
                    let len = head.content_length.unwrap_or(0);
                    if self.buf.len() >= len {
                        self.buf.drain(..len);
                        return Ok(head.status);
                    }
                }
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("{method} response too long"));
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("{method} read: {e}"))?;
            if n == 0 {
                return Err(format!("{method}: connection closed"));
            }
        }
    }
}
