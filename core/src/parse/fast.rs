//! The host-only fast path (`std`): one step for a whole common event. It is speed, not
//! behaviour: it either leaves the parser exactly as the line-by-line path in
//! [`Parser::lines`] would, or changes nothing and lets that path run.

#[cfg(feature = "std")]
use super::{
    Field, State,
    scan::{Line, same_bytes, split_field, whole_line},
    utf8::utf8,
};
use super::{Item, Parser};

impl<const LINE: usize, const DATA: usize> Parser<LINE, DATA> {
    /// The common case in one step: a whole event of `event`, `id` and one `data` line (plus
    /// ignored fields), all valid UTF-8 that fits, and its blank line are in `input`. The lines
    /// are only looked at until the blank line; nothing changes unless the whole event
    /// qualifies, so on `None` the line-by-line path in [`Parser::lines`] starts from the same
    /// place and does the same thing slower. (Called only at a line start, outside error
    /// recovery, with no data in the event yet.) Host builds only: it is speed, not behaviour,
    /// and costs flash.
    #[cfg(feature = "std")]
    pub(super) fn whole_event<'i>(&mut self, input: &mut &'i [u8]) -> Option<Item<'i>> {
        let mut rest: &'i [u8] = input;
        // `Some(None)`: the type the buffer already holds.
        let mut event_type: Option<Option<&'i str>> = None;
        let mut id: Option<&'i str> = None;
        let mut data: Option<&'i str> = None;
        loop {
            let (line, end, after) = whole_line(rest)?;
            rest = match (end, after.split_first()) {
                (b'\r', Some((b'\n', after))) => after,
                // Whether an LF follows is for the next push to see.
                (b'\r', None) => return None,
                _ => after,
            };
            if line.is_empty() {
                break;
            }
            match split_field(line) {
                Line::Field(Field::Data, value)
                    if data.is_none() && value.len() <= self.data.max() =>
                {
                    data = Some(utf8(value).ok()?);
                }
                // Every value is checked where it stands, even one a later line replaces:
                // invalid UTF-8 decodes longer (U+FFFD) and may not fit, which is an error.
                Line::Field(Field::Event, value) if value.len() <= self.scratch.max() => {
                    event_type = Some(if same_bytes(value, self.event_type.as_str().as_bytes()) {
                        None
                    } else {
                        Some(utf8(value).ok()?)
                    });
                }
                // > If the field value does not contain U+0000 NULL, then set the last event
                // > ID buffer to the field value. Otherwise, ignore the field.
                Line::Field(Field::Id, value) if value.len() <= self.scratch.max() => {
                    let text = utf8(value).ok()?;
                    if !value.contains(&0) {
                        id = Some(text);
                    }
                }
                Line::Ignored => {}
                // Comments and `retry` hand out items of their own, a second `data` line is
                // joined, and what does not fit is an error or cut: all for the slow path.
                _ => return None,
            }
        }
        let data = data?;
        if let Some(new) = event_type {
            if let Some(text) = new {
                self.event_type.clear();
                self.event_type.push(text);
            }
            self.type_set = true;
        }
        if let Some(text) = id {
            let slot = self.id_buffer_mut();
            slot.clear();
            slot.push(text);
        }
        *input = rest;
        self.state = State::LineStart;
        self.has_data = true;
        // The blank line: `blank_line`'s steps for an event with data.
        self.last = self.buf;
        self.dispatched = true;
        Some(Item::Event(Some(data)))
    }

    #[cfg(not(feature = "std"))]
    pub(super) fn whole_event<'i>(&mut self, _input: &mut &'i [u8]) -> Option<Item<'i>> {
        None
    }
}
