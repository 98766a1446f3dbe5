//! Validated event fields and the [`Frame`] they make up.
//!
//! The WHATWG `text/event-stream` grammar ends a field at CR or LF, so a field value that
//! contains either would split into a second, attacker-chosen field. An `id` with NUL is
//! ignored by every conforming parser ("If the field value does not contain U+0000 NULL,
//! then set the last event ID buffer"), which would silently break resume. These rules are
//! checked **once, at construction**: an [`EventName`], [`EventId`] or [`Comment`] that exists
//! is safe to put on the wire, and the encoder never has to check again.
//!
//! `data` is the one field that may hold line breaks: the encoder splits it into one
//! `data:` line per line, and the parser joins them back with LF.
//!
//! Construction never panics; bad input is an [`InvalidField`].

use core::fmt;

use crate::time::Duration;

/// Why a field value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InvalidField {
    /// The value contains a carriage return (U+000D), which would end the field.
    ContainsCr,
    /// The value contains a line feed (U+000A), which would end the field.
    ContainsLf,
    /// The value contains NUL (U+0000); parsers ignore an `id` that does.
    ContainsNul,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidField::ContainsCr => "field value contains a carriage return",
            InvalidField::ContainsLf => "field value contains a line feed",
            InvalidField::ContainsNul => "field value contains NUL",
        })
    }
}

impl core::error::Error for InvalidField {}

/// Checks `s` for CR and LF, and for NUL if `nul_allowed` is false. First offender wins.
const fn check(s: &str, nul_allowed: bool) -> Result<(), InvalidField> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => return Err(InvalidField::ContainsCr),
            b'\n' => return Err(InvalidField::ContainsLf),
            0 if !nul_allowed => return Err(InvalidField::ContainsNul),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Defines one validated field newtype: the text is checked once by `new` and never again.
macro_rules! field {
    ($(#[$doc:meta])* $name:ident, $what:literal, nul_allowed: $nul:literal, refuses: $refuses:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name<'a>(&'a str);

        impl<'a> $name<'a> {
            #[doc = concat!("Validates `s` as ", $what, ".")]
            ///
            /// # Errors
            #[doc = concat!("[`InvalidField`] if `s` contains ", $refuses, ".")]
            pub const fn new(s: &'a str) -> Result<Self, InvalidField> {
                match check(s, $nul) {
                    Ok(()) => Ok($name(s)),
                    Err(e) => Err(e),
                }
            }

            /// The validated text.
            #[must_use]
            pub const fn as_str(&self) -> &'a str {
                self.0
            }
        }
    };
}

field! {
    /// An event type (`event:` field): no CR, LF or NUL.
    ///
    /// An empty name is allowed; parsers then dispatch the event as `message`.
    EventName, "an event type", nul_allowed: false, refuses: "CR, LF or NUL"
}

field! {
    /// An event id (`id:` field): no CR, LF or NUL.
    ///
    /// An empty id is allowed: it resets the client's last event id.
    EventId, "an event id", nul_allowed: false, refuses: "CR, LF or NUL"
}

field! {
    /// A comment line (`: text`): no CR or LF. NUL is allowed (parsers ignore comments).
    Comment, "a comment", nul_allowed: true, refuses: "CR or LF"
}

/// One event (or comment, or `retry:` hint) to put on the wire. All fields are optional.
///
/// Build it with the `const` builder methods; encode it with [`Frame::encode`] (into a slice)
/// or [`crate::io::write_frame`] (into a writer). The wire layout is documented in
/// [`crate::encode`].
///
/// ```
/// use sse_core::event::{EventId, EventName, Frame};
/// let frame = Frame::new()
///     .event(EventName::new("message")?)
///     .id(EventId::new("42")?)
///     .data("{\"idx\":42}");
/// let mut buf = [0u8; 64];
/// let n = frame.encode(&mut buf).expect("64 bytes hold this frame");
/// assert_eq!(&buf[..n], b"event: message\nid: 42\ndata: {\"idx\":42}\n\n");
/// # Ok::<(), sse_core::event::InvalidField>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Frame<'a> {
    /// `event:` line.
    pub event: Option<EventName<'a>>,
    /// `id:` line.
    pub id: Option<EventId<'a>>,
    /// `data:` lines; split on CRLF, CR and LF. `Some("")` is one empty `data:` line.
    pub data: Option<&'a str>,
    /// `retry:` line, in whole milliseconds.
    pub retry: Option<Duration>,
    /// `:` comment line.
    pub comment: Option<Comment<'a>>,
}

impl<'a> Frame<'a> {
    /// An empty frame (encodes as a lone blank line).
    #[must_use]
    pub const fn new() -> Self {
        Frame {
            event: None,
            id: None,
            data: None,
            retry: None,
            comment: None,
        }
    }

    /// Sets the event type.
    #[must_use]
    pub const fn event(mut self, name: EventName<'a>) -> Self {
        self.event = Some(name);
        self
    }

    /// Sets the event id.
    #[must_use]
    pub const fn id(mut self, id: EventId<'a>) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the data. Any line breaks become separate `data:` lines.
    #[must_use]
    pub const fn data(mut self, data: &'a str) -> Self {
        self.data = Some(data);
        self
    }

    /// Sets the reconnection time hint.
    #[must_use]
    pub const fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sets a comment line.
    #[must_use]
    pub const fn comment(mut self, comment: Comment<'a>) -> Self {
        self.comment = Some(comment);
        self
    }
}

#[cfg(test)]
mod tests;
