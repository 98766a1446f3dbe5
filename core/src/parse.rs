//! PLACEHOLDER: replaced by the parser branch.
//!
//! A minimal stand-in with exactly the CORE-API.md signatures so that `io::read_events`
//! compiles and can be tested before the real WHATWG parser lands. It handles plain ASCII/UTF-8
//! streams (fields, comments, `retry`, CR/LF/CRLF line ends) and nothing clever: no BOM, no
//! streaming of long data lines, invalid UTF-8 drops the line.
// PLACEHOLDER: replaced by the parser branch

use core::fmt;

use crate::time::Duration;

/// PLACEHOLDER: incremental `text/event-stream` parser.
#[derive(Debug, Clone, Default)]
pub struct Parser<const LINE: usize, const DATA: usize> {
    line: heapless::Vec<u8, LINE>,
    data: heapless::String<DATA>,
    has_data: bool,
    event: heapless::String<LINE>,
    last_id: heapless::String<LINE>,
    retry: Option<Duration>,
    after_cr: bool,
    overflow: bool,
    dispatched: bool,
    truncated: bool,
    line_done: bool,
}

#[derive(Clone, Copy)]
enum Item {
    Event,
    Comment,
    Retry(Duration),
}

/// PLACEHOLDER: what one call to [`Parser::push`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'p> {
    /// All input consumed.
    NeedMore,
    /// A dispatched event.
    Event(Event<'p>),
    /// A comment line (without the colon).
    Comment(&'p [u8]),
    /// A `retry:` field.
    Retry(Duration),
}

/// PLACEHOLDER: a dispatched event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'p> {
    /// Event type, `message` if none.
    pub event_type: &'p str,
    /// Joined data.
    pub data: &'p str,
    /// Last event id.
    pub last_event_id: &'p str,
    /// Data was cut.
    pub truncated: bool,
}

/// PLACEHOLDER: recoverable parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ParseError {
    /// A line exceeded `LINE` bytes.
    LineTooLong,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("line too long")
    }
}

impl core::error::Error for ParseError {}

/// PLACEHOLDER: seeding the last event id failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SeedError {
    /// Too long or contains NUL, CR or LF.
    Invalid,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid last event id")
    }
}

impl core::error::Error for SeedError {}

impl<const LINE: usize, const DATA: usize> Parser<LINE, DATA> {
    /// A parser at stream start.
    #[must_use]
    pub const fn new() -> Self {
        Parser {
            line: heapless::Vec::new(),
            data: heapless::String::new(),
            has_data: false,
            event: heapless::String::new(),
            last_id: heapless::String::new(),
            retry: None,
            after_cr: false,
            overflow: false,
            dispatched: false,
            truncated: false,
            line_done: false,
        }
    }

    /// Consumes bytes until an item is ready or input is empty.
    ///
    /// # Errors
    /// [`ParseError::LineTooLong`] (recoverable).
    pub fn push(&mut self, input: &mut &[u8]) -> Result<Step<'_>, ParseError> {
        if self.dispatched {
            self.dispatched = false;
            self.data.clear();
            self.event.clear();
            self.has_data = false;
            self.truncated = false;
        }
        if core::mem::take(&mut self.line_done) {
            self.line.clear();
        }
        while let Some((&b, rest)) = input.split_first() {
            *input = rest;
            if core::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            if b == b'\r' || b == b'\n' {
                self.after_cr = b == b'\r';
                if core::mem::take(&mut self.overflow) {
                    self.line.clear();
                    return Err(ParseError::LineTooLong);
                }
                if let Some(item) = self.process_line() {
                    self.line_done = true;
                    return Ok(self.step(item));
                }
                self.line.clear();
            } else if self.line.push(b).is_err() {
                self.overflow = true;
            }
        }
        Ok(Step::NeedMore)
    }

    fn step(&self, item: Item) -> Step<'_> {
        match item {
            Item::Event => {
                let data = self.data.as_str();
                let data = data.strip_suffix('\n').unwrap_or(data);
                let event_type = if self.event.is_empty() {
                    "message"
                } else {
                    self.event.as_str()
                };
                Step::Event(Event {
                    event_type,
                    data,
                    last_event_id: &self.last_id,
                    truncated: self.truncated,
                })
            }
            Item::Comment => Step::Comment(&self.line[1..]),
            Item::Retry(d) => Step::Retry(d),
        }
    }

    fn process_line(&mut self) -> Option<Item> {
        if self.line.is_empty() {
            if !self.has_data {
                self.event.clear();
                return None;
            }
            self.dispatched = true;
            return Some(Item::Event);
        }
        if self.line[0] == b':' {
            return Some(Item::Comment);
        }
        let line = core::str::from_utf8(&self.line).ok()?;
        let (name, value) = match line.find(':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match name {
            "event" => {
                self.event.clear();
                let _ = self.event.push_str(value);
            }
            "data" => {
                self.has_data = true;
                if self.data.push_str(value).is_err() || self.data.push('\n').is_err() {
                    self.truncated = true;
                }
            }
            "id" if !value.contains('\0') => {
                self.last_id.clear();
                let _ = self.last_id.push_str(value);
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let ms = value.parse().ok()?;
                self.retry = Some(Duration::from_millis(ms));
                return Some(Item::Retry(Duration::from_millis(ms)));
            }
            _ => {}
        }
        None
    }

    /// End of one connection's stream: discards the unfinished event.
    pub fn finish(&mut self) {
        self.line.clear();
        self.data.clear();
        self.event.clear();
        self.has_data = false;
        self.after_cr = false;
        self.overflow = false;
        self.dispatched = false;
    }

    /// The last event id.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.last_id
    }

    /// Seeds the last event id.
    ///
    /// # Errors
    /// [`SeedError::Invalid`] if too long or containing NUL, CR or LF.
    pub fn set_last_event_id(&mut self, id: &str) -> Result<(), SeedError> {
        if id.contains(['\0', '\r', '\n']) {
            return Err(SeedError::Invalid);
        }
        self.last_id.clear();
        self.last_id.push_str(id).map_err(|_| SeedError::Invalid)
    }

    /// The reconnection time set by the stream.
    #[must_use]
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }
}
