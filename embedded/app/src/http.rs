//! The HTTP/1.1 half of following `/stream`: the request line and headers, the response head
//! (RFC 9112 §4–5, only what the client acts on), and the body framing (`Transfer-Encoding:
//! chunked`, `Content-Length` or until close) decoded in place. SSE itself is left to sse-core.
//!
//! Written here rather than with `httparse` and `core::fmt`: the client needs three headers and
//! one status code, and those crates' generality cost about 3.5 KB of the firmware's flash.
//!
//! Bounds: the request is written into the caller's buffer ([`RequestTooLong`] otherwise), the
//! response head must fit `HEAD` bytes ([`HeadError::TooLarge`]), at most [`MAX_HEADERS`] header
//! lines are read, and a chunk size has at most 16 hex digits. Nothing here panics on input.

use sse_core::Seq;

#[cfg(test)]
mod tests;

/// Header lines read from a response; more is [`HeadError::Invalid`] (hyper's default is 100,
/// an SSE response from our server has about 8).
pub const MAX_HEADERS: usize = 16;

/// The event types the firmware asks for (PROTOCOL.md §2 `events=`).
pub const EVENTS: &str = "state,message,heartbeat,reset,session_ended";

/// What to ask the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// `Host` header value (name or address, without the port).
    pub host: &'a str,
    /// Server port, added to `Host` unless 80.
    pub port: u16,
    /// Path of the stream, e.g. `/stream`.
    pub path: &'a str,
    /// First message index wanted (`from=`).
    pub from: Seq,
    /// Sent as `Last-Event-ID` when known (sse-core's `Follow::last_event_id`).
    pub last_event_id: Option<&'a str>,
    /// Sent as `Authorization: Bearer <token>` unless empty ([`crate::Server::token`]: checked
    /// with [`crate::bearer_token_ok`] where it is set, not here, to spare the flash).
    pub token: &'a str,
}

/// The request did not fit the buffer given to [`Request::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestTooLong;

impl Request<'_> {
    /// Writes `GET path?from=N&events=… HTTP/1.1` and its headers into `out`.
    ///
    /// # Errors
    /// [`RequestTooLong`] if `out` is too small (nothing useful is left in `out` then).
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RequestTooLong> {
        let mut w = SliceWriter { buf: out, len: 0 };
        w.put(b"GET ")?;
        w.put(self.path.as_bytes())?;
        w.put(if self.path.bytes().any(|b| b == b'?') {
            b"&"
        } else {
            b"?"
        })?;
        w.put(b"from=")?;
        w.put_u64(self.from.0)?;
        w.put(b"&events=")?;
        w.put(EVENTS.as_bytes())?;
        w.put(b" HTTP/1.1\r\nHost: ")?;
        w.put(self.host.as_bytes())?;
        if self.port != 80 {
            w.put(b":")?;
            w.put_u64(u64::from(self.port))?;
        }
        if !self.token.is_empty() {
            // Right after `Host`, so the line break the next header starts with ends it.
            w.put(b"\r\nAuthorization: Bearer ")?;
            w.put(self.token.as_bytes())?;
        }
        w.put(b"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n")?;
        if let Some(id) = self.last_event_id {
            w.put(b"Last-Event-ID: ")?;
            w.put(id.as_bytes())?;
            w.put(b"\r\n")?;
        }
        w.put(b"\r\n")?;
        Ok(w.len)
    }
}

/// Appends to a byte slice; running out of room is [`RequestTooLong`].
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl SliceWriter<'_> {
    // One call per piece instead of a bounds-checked copy inlined fourteen times.
    #[inline(never)]
    fn put(&mut self, s: &[u8]) -> Result<(), RequestTooLong> {
        let end = self.len.checked_add(s.len()).ok_or(RequestTooLong)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(RequestTooLong)?;
        dst.copy_from_slice(s);
        self.len = end;
        Ok(())
    }

    /// `v` in decimal.
    fn put_u64(&mut self, mut v: u64) -> Result<(), RequestTooLong> {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let mut start = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            start -= 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(digits.get(start..).unwrap_or_default())
    }
}

/// The parts of a response head the client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// `Content-Type` is `text/event-stream` (parameters allowed).
    pub event_stream: bool,
    /// How the body is framed.
    pub framing: Framing,
}

/// Body framing announced by the head (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length: N`.
    Length(u64),
    /// Neither: the body ends when the connection closes.
    UntilClose,
}

/// Why a response head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeadError {
    /// The head did not end within the head buffer.
    TooLarge,
    /// Not HTTP/1.x, too many headers, or a malformed line.
    Invalid,
}

/// Collects a response head of at most `N` bytes, however the bytes are split.
pub struct HeadReader<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for HeadReader<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> HeadReader<N> {
    /// An empty reader.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// Takes bytes from the front of `input` until the head is complete. Returns the head once
    /// the blank line has been seen; the bytes after it stay in `input` (they start the body).
    ///
    /// # Errors
    /// [`HeadError`]; the connection should then be dropped.
    pub fn push(&mut self, input: &mut &[u8]) -> Result<Option<ResponseHead>, HeadError> {
        let old = self.len;
        let take = input.len().min(N - old);
        let (new, _) = input.split_at(take);
        self.buf[old..old + take].copy_from_slice(new);
        self.len = old + take;
        let Some(end) = head_end(&self.buf[..self.len]) else {
            if self.len == N {
                return Err(HeadError::TooLarge);
            }
            *input = &input[take..];
            return Ok(None);
        };
        // `end > old`: the head was incomplete before this push.
        *input = input.get(end.saturating_sub(old)..).unwrap_or(&[]);
        parse_head(&self.buf[..end]).map(Some)
    }
}

/// Where the head ends: just after the first empty line (`CRLF` or a bare `LF`, which RFC 9112
/// §2.2 lets a recipient accept) that follows the status line.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            if line_start > 0 && matches!(&buf[line_start..i], b"" | b"\r") {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// Status line, then `name: value` lines (at most [`MAX_HEADERS`]); the first occurrence of a
/// header counts.
fn parse_head(head: &[u8]) -> Result<ResponseHead, HeadError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status = match lines.next().and_then(|l| l.strip_prefix(b"HTTP/1.")) {
        Some([minor, b' ', code @ ..]) if code.len() >= 3 && minor.is_ascii_digit() => {
            let (digits, reason) = code.split_at(3);
            if !digits.iter().all(u8::is_ascii_digit) || !matches!(reason, [] | [b' ', ..]) {
                return Err(HeadError::Invalid);
            }
            digits
                .iter()
                .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'))
        }
        _ => return Err(HeadError::Invalid),
    };
    let (mut content_type, mut transfer_encoding, mut content_length) = (None, None, None);
    let mut count = 0;
    for line in lines.take_while(|l| !l.is_empty()) {
        count += 1;
        let colon = line.iter().position(|&b| b == b':');
        let (Some(colon), true) = (colon, count <= MAX_HEADERS) else {
            return Err(HeadError::Invalid);
        };
        let (name, value) = line.split_at(colon);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(HeadError::Invalid);
        }
        let value = value[1..].trim_ascii();
        let slot = if name.eq_ignore_ascii_case(b"content-type") {
            &mut content_type
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            &mut transfer_encoding
        } else if name.eq_ignore_ascii_case(b"content-length") {
            &mut content_length
        } else {
            continue;
        };
        slot.get_or_insert(value);
    }
    Ok(ResponseHead {
        status,
        event_stream: content_type.is_some_and(is_event_stream),
        framing: framing(transfer_encoding, content_length)?,
    })
}

/// A header name character (RFC 9110 §5.6.2 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// `text/event-stream`, parameters allowed.
fn is_event_stream(value: &[u8]) -> bool {
    const MEDIA: &[u8] = b"text/event-stream";
    value.len() >= MEDIA.len()
        && value[..MEDIA.len()].eq_ignore_ascii_case(MEDIA)
        && matches!(value.get(MEDIA.len()), None | Some(b';' | b' ' | b'\t'))
}

fn framing(
    transfer_encoding: Option<&[u8]>,
    content_length: Option<&[u8]>,
) -> Result<Framing, HeadError> {
    if let Some(te) = transfer_encoding {
        // RFC 9112 §6.3: chunked must be the final coding; anything else we cannot decode.
        return if te.eq_ignore_ascii_case(b"chunked") {
            Ok(Framing::Chunked)
        } else {
            Err(HeadError::Invalid)
        };
    }
    match content_length {
        Some(v) if !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit) => Ok(
            Framing::Length(v.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0'))),
        ),
        Some(_) => Err(HeadError::Invalid),
        None => Ok(Framing::UntilClose),
    }
}

/// A malformed chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkError {
    /// A chunk-size line was not hex digits (plus extensions).
    BadSize,
    /// A chunk size above 16 hex digits (u64).
    SizeTooLarge,
    /// Chunk data was not followed by CRLF.
    BadTerminator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size { value: u64, digits: u8 },
    Extension { value: u64 },
    SizeLf { value: u64 },
    Data(u64),
    DataCr,
    DataLf,
    Trailer { line_empty: bool },
    Done,
}

/// Decodes a response body in place, one received buffer at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    framing: BodyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Chunked(Chunk),
    Length(u64),
    UntilClose,
}

impl Body {
    /// A decoder for a body framed as `framing`.
    pub const fn new(framing: Framing) -> Self {
        let framing = match framing {
            Framing::Chunked => BodyState::Chunked(Chunk::Size {
                value: 0,
                digits: 0,
            }),
            Framing::Length(n) => BodyState::Length(n),
            Framing::UntilClose => BodyState::UntilClose,
        };
        Self { framing }
    }

    /// The body is complete (last chunk and trailers, or `Content-Length` bytes, seen).
    pub const fn is_done(&self) -> bool {
        matches!(
            self.framing,
            BodyState::Chunked(Chunk::Done) | BodyState::Length(0)
        )
    }

    /// Replaces the bytes in `buf` with the body data they carry (moved to the front) and
    /// returns its length. Bytes after the end of the body are dropped.
    ///
    /// # Errors
    /// [`ChunkError`] for a malformed chunked body; the connection should be dropped.
    pub fn decode_in_place(&mut self, buf: &mut [u8]) -> Result<usize, ChunkError> {
        match &mut self.framing {
            BodyState::UntilClose => Ok(buf.len()),
            BodyState::Length(rest) => {
                let n = usize::try_from(*rest).map_or(buf.len(), |r| r.min(buf.len()));
                *rest -= n as u64;
                Ok(n)
            }
            BodyState::Chunked(state) => decode_chunked(state, buf),
        }
    }
}

fn decode_chunked(state: &mut Chunk, buf: &mut [u8]) -> Result<usize, ChunkError> {
    let mut read = 0;
    let mut written = 0;
    while read < buf.len() {
        if let Chunk::Data(rest) = state {
            let n = usize::try_from(*rest).map_or(buf.len() - read, |r| r.min(buf.len() - read));
            buf.copy_within(read..read + n, written);
            read += n;
            written += n;
            *rest -= n as u64;
            if *rest == 0 {
                *state = Chunk::DataCr;
            }
            continue;
        }
        let byte = buf[read];
        read += 1;
        *state = match (*state, byte) {
            (Chunk::Size { value, digits }, b) if b.is_ascii_hexdigit() => {
                if digits >= 16 {
                    return Err(ChunkError::SizeTooLarge);
                }
                let d = (b as char).to_digit(16).unwrap_or(0);
                Chunk::Size {
                    value: (value << 4) | u64::from(d),
                    digits: digits + 1,
                }
            }
            (Chunk::Size { digits: 0, .. }, _) => return Err(ChunkError::BadSize),
            (Chunk::Size { value, .. }, b';' | b' ' | b'\t') => Chunk::Extension { value },
            (Chunk::Size { value, .. } | Chunk::Extension { value }, b'\r') => {
                Chunk::SizeLf { value }
            }
            (
                Chunk::Size { value, .. } | Chunk::Extension { value } | Chunk::SizeLf { value },
                b'\n',
            ) => {
                if value == 0 {
                    Chunk::Trailer { line_empty: true }
                } else {
                    Chunk::Data(value)
                }
            }
            (Chunk::Size { .. } | Chunk::SizeLf { .. }, _) => return Err(ChunkError::BadSize),
            (Chunk::Extension { value }, _) => Chunk::Extension { value },
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataCr | Chunk::DataLf, b'\n') => Chunk::Size {
                value: 0,
                digits: 0,
            },
            (Chunk::DataCr | Chunk::DataLf, _) => return Err(ChunkError::BadTerminator),
            (Chunk::Trailer { line_empty: true }, b'\n') => Chunk::Done,
            (Chunk::Trailer { line_empty }, b'\r') => Chunk::Trailer { line_empty },
            (Chunk::Trailer { .. }, b'\n') => Chunk::Trailer { line_empty: true },
            (Chunk::Trailer { .. }, _) => Chunk::Trailer { line_empty: false },
            (Chunk::Done, _) => return Ok(written),
            // Data is consumed above the match and never reaches it.
            (data @ Chunk::Data(_), _) => data,
        };
    }
    Ok(written)
}
