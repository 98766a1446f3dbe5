//! UTF-8 decoding: validation (SIMD on hosts) and the incremental WHATWG decoder that turns
//! each maximal invalid subpart into one U+FFFD, whatever the chunking.

use super::text::Sink;

/// UTF-8 validation, the parser's hottest loop. With the `std` feature (host builds) the check
/// runs on SIMD through `simdutf8` (runtime CPU detection); without it (devices) core's
/// word-at-a-time validator does. Only speed differs: valid input gives the same `&str`, and
/// invalid input always gets core's error (with `valid_up_to`), so decoding never changes.
#[inline]
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, core::str::Utf8Error> {
    /// Below this, core's validator is done before SIMD has set up (`id: 17`).
    #[cfg(feature = "std")]
    const SHORT: usize = 32;
    #[cfg(feature = "std")]
    if bytes.len() >= SHORT
        && let Ok(text) = simdutf8::basic::from_utf8(bytes)
    {
        return Ok(text);
    }
    core::str::from_utf8(bytes)
}

/// `bytes` as text. Every buffer the parser hands out holds valid UTF-8 by construction; if that
/// were ever broken, the valid prefix is returned rather than a panic.
fn text(bytes: &[u8]) -> &str {
    match utf8(bytes) {
        Ok(s) => s,
        Err(e) => bytes
            .get(..e.valid_up_to())
            .and_then(|valid| utf8(valid).ok())
            .unwrap_or_default(),
    }
}

/// Incremental UTF-8 decoding with U+FFFD for each maximal invalid subpart (the WHATWG UTF-8
/// decoder). Holds the start of a sequence split across pushes, so chunking never changes the
/// text.
#[derive(Clone, Copy, Debug)]
pub(super) struct Utf8 {
    pending: [u8; 4],
    len: u8,
}

const REPLACEMENT: &str = "\u{FFFD}";

impl Utf8 {
    pub(super) const fn new() -> Self {
        Utf8 {
            pending: [0; 4],
            len: 0,
        }
    }

    /// Decodes `bytes` into `sink`; `false` if the sink filled up.
    pub(super) fn feed(&mut self, mut bytes: &[u8], sink: &mut impl Sink) -> bool {
        if self.len > 0 {
            match self.complete(bytes, sink) {
                Some((used, ok)) => {
                    if !ok {
                        return false;
                    }
                    bytes = bytes.get(used..).unwrap_or_default();
                }
                None => return true,
            }
        }
        // Fast path: valid text (the usual case) is checked by the word-at-a-time validator;
        // `utf8_chunks` goes byte by byte.
        let valid_up_to = match utf8(bytes) {
            Ok(text) => return sink.put(text),
            Err(e) => e.valid_up_to(),
        };
        let (valid, rest) = bytes.split_at_checked(valid_up_to).unwrap_or((&[], bytes));
        if !sink.put(text(valid)) {
            return false;
        }
        let bytes = rest;
        let mut offset = 0;
        for chunk in bytes.utf8_chunks() {
            if !sink.put(chunk.valid()) {
                return false;
            }
            let bad = chunk.invalid();
            offset += chunk.valid().len() + bad.len();
            if bad.is_empty() {
                continue;
            }
            if offset == bytes.len() && is_incomplete(bad) {
                // Keep the start of a sequence cut off by the end of this piece.
                self.stash(bad);
                return true;
            }
            if !sink.put(REPLACEMENT) {
                return false;
            }
        }
        true
    }

    /// The value ended: a sequence still pending was cut off by the line end.
    pub(super) fn finish(&mut self, sink: &mut impl Sink) -> bool {
        if self.len == 0 {
            return true;
        }
        self.len = 0;
        sink.put(REPLACEMENT)
    }

    /// Continues the pending sequence with the start of `bytes`. Returns how many bytes of
    /// `bytes` it used and whether the sink took the output, or `None` if `bytes` ran out and
    /// the sequence is still pending.
    fn complete(&mut self, bytes: &[u8], sink: &mut impl Sink) -> Option<(usize, bool)> {
        let have = usize::from(self.len);
        let mut seq = self.pending;
        let take = bytes.len().min(seq.len().saturating_sub(have));
        if let (Some(to), Some(from)) = (seq.get_mut(have..have + take), bytes.get(..take)) {
            to.copy_from_slice(from);
        }
        let seq = seq.get(..have + take).unwrap_or_default();
        let first = seq.utf8_chunks().next()?;
        let (valid, bad) = (first.valid(), first.invalid());
        if let Some(c) = valid.chars().next() {
            // The pending bytes started a valid character.
            self.len = 0;
            let used = c.len_utf8().saturating_sub(have);
            return Some((used, sink.put(c.encode_utf8(&mut [0; 4]))));
        }
        if is_incomplete(bad) && bad.len() == seq.len() {
            // Still incomplete: `bytes` was too short.
            self.stash(seq);
            return None;
        }
        // An invalid maximal subpart that starts with the pending bytes.
        self.len = 0;
        Some((bad.len().saturating_sub(have), sink.put(REPLACEMENT)))
    }

    fn stash(&mut self, bytes: &[u8]) {
        let len = bytes.len().min(self.pending.len());
        if let (Some(to), Some(from)) = (self.pending.get_mut(..len), bytes.get(..len)) {
            to.copy_from_slice(from);
            self.len = u8::try_from(len).unwrap_or(0);
        }
    }
}

/// Is `bad` the start of a valid sequence that ends early (rather than an invalid one)?
fn is_incomplete(bad: &[u8]) -> bool {
    matches!(core::str::from_utf8(bad), Err(e) if e.error_len().is_none())
}
