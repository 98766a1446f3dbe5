//! A small JSON reader (RFC 8259): one pass over the bytes, no recursion, no buffer. Nothing
//! here knows the State: [`Reader`] hands out tokens, skips what nobody asked for (containers
//! nested up to [`MAX_DEPTH`] levels, tracked in a bit stack) and decodes strings straight into
//! fixed-capacity ones. The module doc of [`state`](super) lists where it is lenient.

use super::{MAX_DEPTH, StateError};

/// The raw text (escapes not decoded) of the string member `key` of a top-level JSON object:
/// the last member of that name, as [`DeviceState::parse`](super::DeviceState::parse) and serde_json read it; `None` if
/// there is none or the last one is not a string. Where the JSON is cut or malformed, what was
/// read before the break stands (a `state` cut by the parser's `DATA` bound still names its
/// epoch). `key` has at most 22 bytes (a longer one is never found). The follow session reads the `epoch` of `state` and `reset` events with it, so a
/// device has one JSON reader, not two.
pub fn top_level_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let mut r = Reader::new(json.as_bytes());
    let mut found = None;
    let mut first = true;
    if r.expect(b'{').is_err() {
        return None;
    }
    while let Ok(Some(k)) = r.key(&mut first) {
        let named = key_index(k, &[key]) == 0;
        if named && r.peek() == Ok(b'"') {
            found = r.string().ok();
        } else {
            found = found.filter(|_| !named);
            if r.skip().is_err() {
                break;
            }
        }
    }
    found
}

pub(super) type Read<T> = Result<T, StateError>;

/// A checked JSON scalar.
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    /// A valid JSON number's text.
    Number(&'a [u8]),
}

/// A cursor over the JSON text. Running out of input is [`StateError::Truncated`] wherever
/// it happens; any other surprise is [`StateError::Invalid`].
pub(super) struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `json`.
    pub(super) fn new(json: &'a [u8]) -> Self {
        Reader { s: json, pos: 0 }
    }

    /// Skips whitespace and returns the next byte without taking it.
    pub(super) fn peek(&mut self) -> Read<u8> {
        while let Some(&b) = self.s.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(StateError::Truncated)
    }

    /// Takes `b` (after whitespace) if it is next; `Ok(false)` if another byte is.
    pub(super) fn eat(&mut self, b: u8) -> Read<bool> {
        let found = self.peek()? == b;
        self.pos += usize::from(found);
        Ok(found)
    }

    /// Takes `b`, which must be next.
    pub(super) fn expect(&mut self, b: u8) -> Read<()> {
        if self.eat(b)? {
            Ok(())
        } else {
            Err(StateError::Invalid)
        }
    }

    /// A string; returns its raw text between the quotes, escapes not decoded.
    pub(super) fn string(&mut self) -> Read<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.s.get(self.pos) {
                None => return Err(StateError::Truncated),
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.s.get(start..self.pos).ok_or(StateError::Truncated)?;
        self.pos += 1;
        core::str::from_utf8(raw).map_err(|_| StateError::Invalid)
    }

    /// A number or `true`/`false`/`null`: the run of bytes that can make one up, checked.
    pub(super) fn scalar(&mut self) -> Read<Scalar<'a>> {
        self.peek()?;
        let rest = self.s.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
            .count();
        self.pos += n;
        if n == rest.len() {
            // The token may go on in the bytes that did not arrive.
            return Err(StateError::Truncated);
        }
        match rest.get(..n).unwrap_or_default() {
            b"null" => Ok(Scalar::Null),
            b"true" => Ok(Scalar::Bool(true)),
            b"false" => Ok(Scalar::Bool(false)),
            t if micro_usd(t).is_some() => Ok(Scalar::Number(t)),
            _ => Err(StateError::Invalid),
        }
    }

    /// Takes `null` if it is next.
    pub(super) fn null(&mut self) -> Read<bool> {
        if self.peek()? != b'n' {
            return Ok(false);
        }
        match self.scalar()? {
            Scalar::Null => Ok(true),
            _ => Err(StateError::Invalid),
        }
    }

    /// Between the members of an object (`close` = `}`) or the elements of an array (`]`):
    /// `false` at the end, `true` before the next one. `first` is true right after the opener.
    pub(super) fn more(&mut self, first: &mut bool, close: u8) -> Read<bool> {
        if self.eat(close)? {
            return Ok(false);
        }
        if !core::mem::replace(first, false) {
            self.expect(b',')?;
        }
        Ok(true)
    }

    /// The next key of an object opened with `{`, and its colon; `None` after the last one.
    pub(super) fn key(&mut self, first: &mut bool) -> Read<Option<&'a str>> {
        if !self.more(first, b'}')? {
            return Ok(None);
        }
        let key = self.string()?;
        self.expect(b':')?;
        Ok(Some(key))
    }

    /// An unsigned integer; `null` is 0.
    pub(super) fn u64(&mut self) -> Read<u64> {
        match self.scalar()? {
            Scalar::Null => Ok(0),
            Scalar::Number(t) => t
                .iter()
                .try_fold(0u64, |v, d| {
                    let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
                    v.checked_mul(10)?.checked_add(u64::from(d))
                })
                .ok_or(StateError::Invalid),
            Scalar::Bool(_) => Err(StateError::Invalid),
        }
    }

    /// `true` or `false`; `null` is `false`.
    pub(super) fn bool(&mut self) -> Read<bool> {
        match self.scalar()? {
            Scalar::Null => Ok(false),
            Scalar::Bool(b) => Ok(b),
            Scalar::Number(_) => Err(StateError::Invalid),
        }
    }

    /// A string decoded into `out` (cut where it is full), or `null` (`out` left empty).
    pub(super) fn text(&mut self, out: &mut heapless::string::StringView) -> Read<()> {
        out.clear();
        if !self.null()? {
            decode_into(self.string()?, out);
        }
        Ok(())
    }

    /// Any one value, checked and thrown away. Iterative: `depth` bits of `stack` say whether
    /// each open container is an object (1) or an array (0).
    pub(super) fn skip(&mut self) -> Read<()> {
        let mut stack: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value starts here.
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return Err(StateError::Invalid);
                    }
                    self.pos += 1;
                    let object = open == b'{';
                    stack = (stack << 1) | u64::from(object);
                    depth += 1;
                    let close = if object { b'}' } else { b']' };
                    if !self.eat(close)? {
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        continue;
                    }
                    stack >>= 1;
                    depth -= 1;
                }
                b'"' => {
                    self.string()?;
                }
                _ => {
                    self.scalar()?;
                }
            }
            // The value ended: close containers until one goes on.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = stack & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return Err(StateError::Invalid),
                }
                self.pos += 1;
                stack >>= 1;
                depth -= 1;
            }
        }
    }
}

/// The longest key [`key_index`] is asked about (`outstanding_tool_calls`).
pub(super) const KEY_LEN: usize = 22;

/// Where the raw key `raw` (escapes still in it) is in `keys` (`keys.len()` if absent). The key
/// is decoded first, so `"\u0074itle"` is `title` as for any JSON reader, into room for
/// [`KEY_LEN`] bytes and one more char: a longer key, cut there, is still longer than every key
/// asked about. A table scan rather than a `match` on strings, which compiles to a comparison
/// per arm.
pub(super) fn key_index(raw: &str, keys: &[&str]) -> usize {
    let mut key = heapless::String::<{ KEY_LEN + 4 }>::new();
    decode_into(raw, key.as_mut_view());
    keys.iter().position(|k| *k == key).unwrap_or(keys.len())
}

/// Decodes the raw text of a JSON string (between the quotes, escapes still in it) into `out`,
/// stopping at the first char that does not fit whole.
///
/// Decoding as the string is copied means no buffer has to be sized for the longest string in
/// the document, and skipped strings cost nothing. Invalid escapes become U+FFFD rather than
/// failing the whole status.
pub(super) fn decode_into(raw: &str, out: &mut heapless::string::StringView) {
    let mut rest = raw;
    while !rest.is_empty() {
        // Plain text up to the next escape: copied whole, or cut at a char boundary.
        let plain = rest.bytes().position(|b| b == b'\\').unwrap_or(rest.len());
        let room = out.capacity() - out.len();
        let mut take = plain.min(room);
        while !rest.is_char_boundary(take) {
            take -= 1;
        }
        let (text, tail) = rest.split_at(take);
        // Cannot fail: `take` fits.
        let _ = out.push_str(text);
        if take < plain {
            return; // full
        }
        let Some(escape) = tail.strip_prefix('\\') else {
            return; // end of the string
        };
        let (c, len) = unescape(escape.as_bytes());
        rest = escape.get(len..).unwrap_or_default();
        if out.push(c).is_err() {
            return;
        }
    }
}

/// The char an escape stands for, given the bytes after its `\`, and how many of them it
/// used. `\uD83D\uDE00` surrogate pairs are joined; a lone surrogate, bad hex or a non-ASCII
/// escaped char is U+FFFD (any other ASCII escape, like `\"`, `\\` or `\/`, is that char).
fn unescape(s: &[u8]) -> (char, usize) {
    fn hex4(s: &[u8]) -> Option<u32> {
        let digits = s.get(..4)?;
        digits
            .iter()
            .try_fold(0, |v, &d| Some(v * 16 + char::from(d).to_digit(16)?))
    }
    let c = match s.first() {
        Some(b'n') => '\n',
        Some(b't') => '\t',
        Some(b'r') => '\r',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'u') => {
            let Some(hi) = s.get(1..).and_then(hex4) else {
                return (char::REPLACEMENT_CHARACTER, 1);
            };
            if (0xD800..0xDC00).contains(&hi)
                && s.get(5..7) == Some(b"\\u")
                && let Some(lo @ 0xDC00..0xE000) = s.get(7..).and_then(hex4)
            {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return (char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER), 11);
            }
            return (char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER), 5);
        }
        Some(&b) if b.is_ascii() => char::from(b),
        _ => return (char::REPLACEMENT_CHARACTER, 0),
    };
    (c, 1)
}

/// Appends the ASCII digits at the front of `s` to `mant` (value = `mant` × 10^(`exp` − 6)),
/// dropping those that no longer fit; returns how many there were, `None` for none.
fn digits(s: &[u8], frac: bool, mant: &mut u64, exp: &mut i64) -> Option<usize> {
    /// `mant` stays below 10^19, within `u64`. A dropped integer digit still scales the value
    /// (which then saturates anyway); a dropped fraction digit is below the rounding unit of
    /// any value this long.
    const KEEP: u64 = 1_000_000_000_000_000_000;
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    for &b in &s[..n] {
        if *mant < KEEP {
            *mant = *mant * 10 + u64::from(b - b'0');
            *exp -= i64::from(frac);
        } else {
            *exp += i64::from(!frac);
        }
    }
    (n > 0).then_some(n)
}

/// A JSON number (RFC 8259 §6: `-? int frac? exp?`) as millionths, from its decimal digits
/// alone: no float arithmetic. Rounds half up past the sixth decimal, reads a negative value
/// as 0 and saturates at `u64::MAX`. `None` if `token` is not a JSON number.
pub(super) fn micro_usd(token: &[u8]) -> Option<u64> {
    let (negative, rest) = match token.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mut mant, mut exp) = (0u64, 6i64); // value = mant * 10^(exp - 6) dollars
    let n = digits(rest, false, &mut mant, &mut exp)?;
    let mut rest = &rest[n..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = digits(frac, true, &mut mant, &mut exp)?;
        rest = &frac[n..];
    }
    if let Some(e) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let (sign, e) = match e {
            [b'-', e @ ..] => (-1, e),
            [b'+', e @ ..] => (1, e),
            e => (1, e),
        };
        let n = e.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Clamp: any exponent past ±10^6 saturates or vanishes the same way.
        let value = e[..n]
            .iter()
            .fold(0i64, |v, b| (v * 10 + i64::from(b - b'0')).min(1_000_000));
        exp += sign * value;
        rest = &e[n..];
    }
    if !rest.is_empty() {
        return None;
    }
    if negative || mant == 0 {
        return Some(0);
    }
    while exp > 0 {
        let Some(next) = mant.checked_mul(10) else {
            return Some(u64::MAX);
        };
        mant = next;
        exp -= 1;
    }
    // Half up: only the most significant dropped digit decides, and it is dropped last.
    // At most 20 rounds: `mant` is below 10^19.
    let mut up = false;
    while exp < 0 && mant != 0 {
        up = mant % 10 >= 5;
        mant /= 10;
        exp += 1;
    }
    Some(if exp < 0 { 0 } else { mant + u64::from(up) })
}
