//! Finding lines and fields in raw bytes. Line ends (CR, LF) and `:` are ASCII, so the parser
//! splits on bytes before decoding anything; host builds (`std`) scan a word at a time first.

use memchr::memchr2;

use super::Field;

/// Splits `bytes` at the first CR or LF: (rest of the line, line end and after).
pub(super) fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    let at = find_line_end(bytes).unwrap_or(bytes.len());
    bytes.split_at_checked(at).unwrap_or((bytes, &[]))
}

/// Splits off a line that ends in `bytes`: (line, line end byte, after it).
///
/// Inlined: returned through memory, its result cost more to read back than to compute.
#[cfg_attr(feature = "std", inline(always))]
pub(super) fn whole_line(bytes: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let (line, tail) = bytes.split_at_checked(find_line_end(bytes)?)?;
    let (&end, after) = tail.split_first()?;
    Some((line, end, after))
}

/// The index of the first CR or LF in `bytes`.
///
/// Most lines are short (`id: 17`, `event: state`, the blank line), and a call to `memchr2`
/// costs more than scanning them, so host builds (`std`) look at the first two words a word at
/// a time first. Devices skip that pre-scan: it is a few hundred bytes of flash for a speed-up
/// they do not need, and the answer is the same.
#[cfg_attr(feature = "std", inline(always))]
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    if let Some(b'\r' | b'\n') = bytes.first() {
        // A blank line, or the LF of a CRLF.
        return Some(0);
    }
    #[cfg(feature = "std")]
    {
        const WORD: usize = size_of::<usize>();
        /// How far the word-at-a-time scan goes before handing over to `memchr2`.
        const HEAD: usize = 2 * WORD;
        let Some((head, rest)) = bytes.split_first_chunk::<HEAD>() else {
            return bytes.iter().position(|&b| b == b'\r' || b == b'\n');
        };
        let (first, second) = head.split_at(WORD);
        for (start, word) in [(0, first), (WORD, second)] {
            if let Some(at) = word.try_into().ok().and_then(line_end_in) {
                return Some(start + at);
            }
        }
        Some(HEAD + memchr2(b'\r', b'\n', rest)?)
    }
    #[cfg(not(feature = "std"))]
    memchr2(b'\r', b'\n', bytes)
}

#[cfg(feature = "std")]
/// The index of the first CR or LF in `word`, found without branching per byte: a byte `b`
/// is zero exactly when `(b - 1) & !b` has its high bit set, and bytes after the first zero
/// byte can only be false positives, so the lowest set bit marks the first match.
fn line_end_in(word: [u8; size_of::<usize>()]) -> Option<usize> {
    const ONES: usize = usize::MAX / 0xFF;
    const HIGH: usize = ONES << 7;
    let word = usize::from_le_bytes(word);
    let lf = word ^ (ONES * usize::from(b'\n'));
    let cr = word ^ (ONES * usize::from(b'\r'));
    let zero = (lf.wrapping_sub(ONES) & !lf | cr.wrapping_sub(ONES) & !cr) & HIGH;
    (zero != 0).then(|| zero.trailing_zeros() as usize / 8)
}

/// What a whole, non-empty line is.
pub(super) enum Line<'a> {
    /// `:` and the rest of the line.
    Comment(&'a [u8]),
    /// A known field and its value (one leading space removed).
    Field(Field, &'a [u8]),
    /// An unknown field: ignored.
    Ignored,
}

/// > If the line starts with a U+003A COLON character (:) Ignore the line.
/// > If the line contains a U+003A COLON character (:) Collect the characters on the line
/// > before the first U+003A COLON character (:), and let field be that string. Collect the
/// > characters on the line after the first U+003A COLON character (:), and let value be that
/// > string. If value starts with a U+0020 SPACE character, remove it from value.
/// > Otherwise, the string is not empty but does not contain a U+003A COLON character (:)
/// > [use] the whole line as the field name, and the empty string as the field value.
///
/// Field names are compared literally (no case folding); one match on the first bytes.
/// Inlined for the same reason as [`whole_line`].
#[cfg_attr(feature = "std", inline(always))]
pub(super) fn split_field(line: &[u8]) -> Line<'_> {
    let (field, rest) = match line {
        [b':', comment @ ..] => return Line::Comment(comment),
        [b'd', b'a', b't', b'a', rest @ ..] => (Field::Data, rest),
        [b'i', b'd', rest @ ..] => (Field::Id, rest),
        [b'e', b'v', b'e', b'n', b't', rest @ ..] => (Field::Event, rest),
        [b'r', b'e', b't', b'r', b'y', rest @ ..] => (Field::Retry, rest),
        _ => return Line::Ignored,
    };
    match rest {
        [] => Line::Field(field, rest),
        [b':', b' ', value @ ..] | [b':', value @ ..] => Line::Field(field, value),
        // A longer name (`datum`, `ids`).
        _ => Line::Ignored,
    }
}

/// `a == b` for the short values it is used on (event types) without a call to `memcmp`:
/// compares the first and last 4 or 8 bytes (overlapping) for lengths 4 to 16.
#[cfg(feature = "std")]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        4..=8 => {
            a.first_chunk::<4>() == b.first_chunk::<4>()
                && a.last_chunk::<4>() == b.last_chunk::<4>()
        }
        9..=16 => {
            a.first_chunk::<8>() == b.first_chunk::<8>()
                && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        _ => a == b,
    }
}

/// Devices compare with `==` (less flash).
#[cfg(not(feature = "std"))]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a == b
}
