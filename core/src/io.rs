//! Adapters between the core and `embedded-io` streams: the only module that touches a
//! reader or writer, and it still owns no buffer and reads no clock.
//!
//! - [`write_frame`] / [`write_frame_async`] write a [`Frame`] piece by piece (prefix, value,
//!   line end), so a frame of any size goes out without an intermediate buffer. The bytes are
//!   exactly those of [`Frame::encode`]. They do not flush.
//! - [`read_events`] drives a [`Parser`] from an async reader until end of stream.
//!
//! A writer error can leave a frame half-written; the connection is then unusable anyway and
//! the caller drops it.

use embedded_io::Write;
use embedded_io_async::{Read, Write as AsyncWrite};

use crate::encode::{DataLines, decimal};
use crate::event::Frame;
use crate::parse::{ParseError, Parser, Step};

/// One frame as the slices it is written from, in wire order (see [`crate::encode`]).
///
/// A lending cursor rather than an `Iterator`, because the `retry` digits live in the cursor.
struct Pieces<'f> {
    frame: &'f Frame<'f>,
    stage: Stage,
    digits: [u8; 20],
    lines: Option<DataLines<'f>>,
}

#[derive(Clone, Copy)]
enum Stage {
    Comment,
    Retry,
    Event,
    Id,
    Data,
    End,
    Done,
}

impl<'f> Pieces<'f> {
    fn new(frame: &'f Frame<'f>) -> Self {
        Pieces {
            frame,
            stage: Stage::Comment,
            digits: [0; 20],
            lines: frame.data.map(DataLines::new),
        }
    }

    /// The next three pieces of one line (`prefix`, `value`, `"\n"`), or the final blank line
    /// as `("", "", "\n")`; `None` when the frame is written.
    fn next_line(&mut self) -> Option<(&'static [u8], &[u8])> {
        loop {
            match self.stage {
                Stage::Comment => {
                    self.stage = Stage::Retry;
                    if let Some(c) = self.frame.comment {
                        return Some((b": ", c.as_str().as_bytes()));
                    }
                }
                Stage::Retry => {
                    self.stage = Stage::Event;
                    if let Some(r) = self.frame.retry {
                        return Some((b"retry: ", decimal(r.as_millis(), &mut self.digits)));
                    }
                }
                Stage::Event => {
                    self.stage = Stage::Id;
                    if let Some(e) = self.frame.event {
                        return Some((b"event: ", e.as_str().as_bytes()));
                    }
                }
                Stage::Id => {
                    self.stage = Stage::Data;
                    if let Some(id) = self.frame.id {
                        return Some((b"id: ", id.as_str().as_bytes()));
                    }
                }
                Stage::Data => match self.lines.as_mut().and_then(Iterator::next) {
                    Some(line) => return Some((b"data: ", line)),
                    None => self.stage = Stage::End,
                },
                Stage::End => {
                    self.stage = Stage::Done;
                    return Some((b"", b""));
                }
                Stage::Done => return None,
            }
        }
    }
}

/// Writes `frame` to `w`, piece by piece; the bytes equal [`Frame::encode`]'s. Does not flush.
///
/// # Errors
/// The writer's error; the frame may then be partly written.
pub fn write_frame<W: Write>(w: &mut W, frame: &Frame<'_>) -> Result<(), W::Error> {
    let mut pieces = Pieces::new(frame);
    while let Some((prefix, value)) = pieces.next_line() {
        w.write_all(prefix)?;
        w.write_all(value)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Async [`write_frame`]: writes `frame` to `w` piece by piece. Does not flush.
///
/// # Errors
/// The writer's error; the frame may then be partly written.
pub async fn write_frame_async<W: AsyncWrite>(
    w: &mut W,
    frame: &Frame<'_>,
) -> Result<(), W::Error> {
    let mut pieces = Pieces::new(frame);
    while let Some((prefix, value)) = pieces.next_line() {
        w.write_all(prefix).await?;
        w.write_all(value).await?;
        w.write_all(b"\n").await?;
    }
    Ok(())
}

/// Drives `parser` from `r` until end of stream: reads into `buf`, pushes every byte, and calls
/// `on_step` for each item (events, comments, retry hints and recoverable parse errors;
/// never [`Step::NeedMore`]). At end of stream (a read of 0 bytes) it calls
/// [`Parser::finish`] and returns `Ok(())`.
///
/// `buf` bounds one read; its size changes nothing but the number of reads (the parser's
/// results do not depend on chunking). An empty `buf` reads nothing and ends at once.
///
/// # Errors
/// The reader's error, returned as soon as it happens; the parser keeps its state (call
/// [`Parser::finish`] before reusing it for a new connection).
pub async fn read_events<R: Read, const LINE: usize, const DATA: usize>(
    r: &mut R,
    parser: &mut Parser<LINE, DATA>,
    buf: &mut [u8],
    mut on_step: impl FnMut(Result<Step<'_>, ParseError>),
) -> Result<(), R::Error> {
    loop {
        let n = r.read(buf).await?;
        let Some(mut rest) = buf.get(..n).filter(|b| !b.is_empty()) else {
            parser.finish();
            return Ok(());
        };
        // `push` consumes from the front until an item is ready and says `NeedMore` once
        // `rest` is used up (the parser contract), which ends this loop.
        while !rest.is_empty() {
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => break,
                step => on_step(step),
            }
        }
    }
}

#[cfg(test)]
mod tests;
