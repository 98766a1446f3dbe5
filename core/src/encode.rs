//! The `text/event-stream` encoder: [`Frame`] → bytes in a caller's slice.
//!
//! # Wire layout
//! One frame is written as these lines, in this order, each ending in LF (`\n`); absent fields
//! write nothing:
//!
//! ```text
//! : COMMENT
//! retry: N              N = the Duration in whole milliseconds, decimal
//! event: NAME
//! id: ID
//! data: LINE            one per line of data; data is split on CRLF, CR and LF
//!                       (blank line: dispatches the event)
//! ```
//!
//! The field separator is always `": "` (colon and one space). The WHATWG parser strips exactly
//! one leading space from a value ("If value starts with a U+0020 SPACE character, remove it"),
//! so a value that itself begins with a space survives the round trip. `Some("")` data is one
//! `data: ` line (an event with empty data); `None` writes no `data:` line. An empty frame is a
//! lone `\n`. A frame is never longer than [`Frame::encoded_len`] says, and never shorter.
//!
//! Field values other than `data` cannot contain CR or LF: [`crate::event`] refuses them at
//! construction, so the encoder has nothing to escape and cannot fail except for space.
//!
//! # Bounds
//! The encoder writes only into the slice it is given. [`Frame::encode`] computes the exact
//! length first and writes nothing at all if the slice is too short (no partial frames on the
//! wire), reporting the length it needs.

use core::fmt;

use crate::event::Frame;

/// A keep-alive: one empty comment line and a blank line. Parsers deliver it as a comment
/// (or ignore it); proxies see bytes moving.
pub const KEEPALIVE: &[u8] = b":\n\n";

const COMMENT_PREFIX: &[u8] = b": ";
const RETRY_PREFIX: &[u8] = b"retry: ";
const EVENT_PREFIX: &[u8] = b"event: ";
const ID_PREFIX: &[u8] = b"id: ";
const DATA_PREFIX: &[u8] = b"data: ";

/// The longest decimal `u64`: `18446744073709551615`.
pub(crate) const U64_DIGITS: usize = 20;

/// The output slice is shorter than the encoded frame. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall {
    /// The exact number of bytes the frame needs.
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "output buffer too small: frame needs {} bytes",
            self.needed
        )
    }
}

impl core::error::Error for BufferTooSmall {}

/// `n` in decimal, written at the end of `buf`; returns the digits.
pub(crate) fn decimal(n: u64, buf: &mut [u8; U64_DIGITS]) -> &[u8] {
    let mut n = n;
    let mut start = U64_DIGITS;
    loop {
        start -= 1;
        // `n % 10 < 10`, so the cast cannot truncate.
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[start..]
}

/// Number of decimal digits of `n` (1 for 0).
const fn decimal_len(n: u64) -> usize {
    let mut len = 1;
    let mut n = n / 10;
    while n != 0 {
        len += 1;
        n /= 10;
    }
    len
}

/// The lines of a `data` value, split on CRLF, CR and LF (the parser's own line ends).
///
/// `""` is one empty line and `"a\n"` is two lines, `"a"` and `""`, so that the parser's
/// join-with-LF gives the value back exactly (CR and CRLF come back as LF).
#[derive(Debug, Clone)]
pub(crate) struct DataLines<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> DataLines<'a> {
    pub(crate) fn new(data: &'a str) -> Self {
        DataLines {
            rest: Some(data.as_bytes()),
        }
    }
}

impl<'a> Iterator for DataLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match memchr::memchr2(b'\r', b'\n', rest) {
            None => {
                self.rest = None;
                Some(rest)
            }
            Some(i) => {
                let (line, tail) = rest.split_at(i);
                let skip = if tail.starts_with(b"\r\n") { 2 } else { 1 };
                self.rest = tail.get(skip..);
                Some(line)
            }
        }
    }
}

/// Encoded size of the `data:` lines of `data`, and whether it has line breaks at all.
fn data_len(data: &str) -> (usize, bool) {
    let bytes = data.as_bytes();
    let Some(first) = memchr::memchr2(b'\r', b'\n', bytes) else {
        // The common case (compact JSON): one line, one scan.
        return (DATA_PREFIX.len() + bytes.len() + 1, false);
    };
    let mut lines = 1;
    let mut separator_bytes = 0;
    let mut at = first;
    loop {
        let crlf = bytes.get(at..at + 2) == Some(b"\r\n");
        let sep = if crlf { 2 } else { 1 };
        lines += 1;
        separator_bytes += sep;
        let from = at + sep;
        match bytes
            .get(from..)
            .and_then(|t| memchr::memchr2(b'\r', b'\n', t))
        {
            Some(i) => at = from + i,
            None => break,
        }
    }
    (
        lines * (DATA_PREFIX.len() + 1) + bytes.len() - separator_bytes,
        true,
    )
}

/// A cursor over an output slice whose length was checked beforehand.
struct SliceWriter<'o> {
    rest: &'o mut [u8],
}

impl SliceWriter<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let (dst, rest) = core::mem::take(&mut self.rest).split_at_mut(bytes.len());
        dst.copy_from_slice(bytes);
        self.rest = rest;
    }

    #[inline(always)]
    fn line(&mut self, prefix: &[u8], value: &[u8]) {
        self.put(prefix);
        self.put(value);
        self.put(b"\n");
    }
}

impl Frame<'_> {
    /// Length of the fields before the data lines, and the data lines' length and shape.
    #[inline(always)]
    fn layout(&self) -> (usize, usize, bool) {
        let mut head = 0;
        if let Some(c) = self.comment {
            head += COMMENT_PREFIX.len() + c.as_str().len() + 1;
        }
        if let Some(r) = self.retry {
            head += RETRY_PREFIX.len() + decimal_len(r.as_millis()) + 1;
        }
        if let Some(e) = self.event {
            head += EVENT_PREFIX.len() + e.as_str().len() + 1;
        }
        if let Some(id) = self.id {
            head += ID_PREFIX.len() + id.as_str().len() + 1;
        }
        let (data, multiline) = match self.data {
            Some(d) => data_len(d),
            None => (0, false),
        };
        (head, data, multiline)
    }

    /// The exact number of bytes [`Frame::encode`] writes for this frame.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let (head, data, _) = self.layout();
        head + data + 1
    }

    /// Writes the frame to the front of `out` and returns the number of bytes written.
    ///
    /// # Errors
    /// [`BufferTooSmall`] (with the length needed) if `out` is shorter than
    /// [`Frame::encoded_len`]; then not one byte of `out` has been written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let (head, data_len, multiline) = self.layout();
        let needed = head + data_len + 1;
        let Some(buf) = out.get_mut(..needed) else {
            return Err(BufferTooSmall { needed });
        };
        let mut w = SliceWriter { rest: buf };
        if let Some(c) = self.comment {
            w.line(COMMENT_PREFIX, c.as_str().as_bytes());
        }
        if let Some(r) = self.retry {
            let mut digits = [0; U64_DIGITS];
            w.line(RETRY_PREFIX, decimal(r.as_millis(), &mut digits));
        }
        if let Some(e) = self.event {
            w.line(EVENT_PREFIX, e.as_str().as_bytes());
        }
        if let Some(id) = self.id {
            w.line(ID_PREFIX, id.as_str().as_bytes());
        }
        if let Some(d) = self.data {
            if multiline {
                for line in DataLines::new(d) {
                    w.line(DATA_PREFIX, line);
                }
            } else {
                w.put(DATA_PREFIX);
                w.put(d.as_bytes());
                w.put(b"\n\n");
                debug_assert!(w.rest.is_empty());
                return Ok(needed);
            }
        }
        w.put(b"\n");
        debug_assert!(w.rest.is_empty());
        Ok(needed)
    }
}

#[cfg(test)]
mod tests;
