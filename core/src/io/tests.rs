use core::convert::Infallible;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::vec::Vec;

use super::*;
use crate::event::{Comment, EventId, EventName};
use crate::parse::Event;
use crate::time::Duration;

/// Polls a future that never waits (all test I/O is in memory) to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("in-memory future did not complete");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Broken;
impl core::fmt::Display for Broken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("broken pipe")
    }
}
impl core::error::Error for Broken {}
impl embedded_io::Error for Broken {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::BrokenPipe
    }
}

/// A writer that takes at most `max` bytes per call and fails after `fail_after` bytes.
struct Sink {
    out: Vec<u8>,
    max: usize,
    fail_after: usize,
    writes: usize,
}

impl Sink {
    fn new(max: usize) -> Self {
        Sink {
            out: Vec::new(),
            max,
            fail_after: usize::MAX,
            writes: 0,
        }
    }
    fn take(&mut self, buf: &[u8]) -> Result<usize, Broken> {
        if self.out.len() >= self.fail_after {
            return Err(Broken);
        }
        self.writes += 1;
        let n = buf
            .len()
            .min(self.max)
            .min(self.fail_after - self.out.len());
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl embedded_io::ErrorType for Sink {
    type Error = Broken;
}
impl embedded_io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Broken> {
        self.take(buf)
    }
    fn flush(&mut self) -> Result<(), Broken> {
        Ok(())
    }
}
impl embedded_io_async::Write for Sink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Broken> {
        self.take(buf)
    }
    async fn flush(&mut self) -> Result<(), Broken> {
        Ok(())
    }
}

fn frames() -> Vec<Frame<'static>> {
    std::vec![
        Frame::new(),
        Frame::new().data(""),
        Frame::new().data("a\r\nb\rc\n"),
        Frame::new()
            .comment(Comment::new("c").unwrap())
            .retry(Duration::from_millis(3000))
            .event(EventName::new("message").unwrap())
            .id(EventId::new("9").unwrap())
            .data("{\"idx\":9}"),
        Frame::new().retry(Duration::MAX),
        Frame::new().id(EventId::new("").unwrap()),
    ]
}

fn encoded(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = std::vec![0; frame.encoded_len()];
    let n = frame.encode(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn write_frame_writes_the_encoded_bytes() {
    for frame in frames() {
        for max in [1, 3, 1024] {
            let mut sink = Sink::new(max);
            write_frame(&mut sink, &frame).unwrap();
            assert_eq!(sink.out, encoded(&frame), "{frame:?} max {max}");
        }
    }
}

#[test]
fn write_frame_async_writes_the_encoded_bytes() {
    for frame in frames() {
        for max in [1, 3, 1024] {
            let mut sink = Sink::new(max);
            block_on(write_frame_async(&mut sink, &frame)).unwrap();
            assert_eq!(sink.out, encoded(&frame), "{frame:?} max {max}");
        }
    }
}

#[test]
fn writer_errors_are_returned() {
    let frame = Frame::new()
        .event(EventName::new("state").unwrap())
        .data("{}");
    for fail_after in 0..encoded(&frame).len() {
        let mut sink = Sink {
            fail_after,
            ..Sink::new(1024)
        };
        assert_eq!(write_frame(&mut sink, &frame), Err(Broken));
        let mut sink = Sink {
            fail_after,
            ..Sink::new(1024)
        };
        assert_eq!(block_on(write_frame_async(&mut sink, &frame)), Err(Broken));
    }
}

/// An async reader handing out `chunk` bytes per read, then EOF (or an error).
struct Source<'a> {
    rest: &'a [u8],
    chunk: usize,
    error_at_end: bool,
}

impl embedded_io::ErrorType for Source<'_> {
    type Error = Broken;
}
impl embedded_io_async::Read for Source<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Broken> {
        if self.rest.is_empty() && self.error_at_end {
            return Err(Broken);
        }
        let n = self.rest.len().min(self.chunk).min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// What `on_step` saw, owned.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Event(
        std::string::String,
        std::string::String,
        std::string::String,
    ),
    Comment(Vec<u8>),
    Retry(Duration),
    Error(ParseError),
}

fn run(
    input: &[u8],
    chunk: usize,
    buf_len: usize,
) -> (Result<(), Broken>, Vec<Seen>, Parser<64, 256>) {
    let mut parser = Parser::<64, 256>::new();
    let mut seen = Vec::new();
    let mut source = Source {
        rest: input,
        chunk,
        error_at_end: false,
    };
    let mut buf = std::vec![0u8; buf_len];
    let result = block_on(read_events(&mut source, &mut parser, &mut buf, |step| {
        seen.push(match step {
            Ok(Step::Event(Event {
                event_type,
                data,
                last_event_id,
                ..
            })) => Seen::Event(event_type.into(), data.into(), last_event_id.into()),
            Ok(Step::Comment(c)) => Seen::Comment(c.as_bytes().to_vec()),
            Ok(Step::Retry(d)) => Seen::Retry(d),
            Ok(Step::NeedMore) => panic!("NeedMore must not reach on_step"),
            Err(e) => Seen::Error(e),
        });
    }));
    (result, seen, parser)
}

const STREAM: &[u8] = concat!(
    "retry: 2500\n",
    ": hello\n",
    "event: state\n",
    "data: {\"a\":1}\n",
    "\n",
    "id: 7\r\n",
    "data: x\r\n",
    "data: y\r\n",
    "\r\n",
    "data: unfinished",
)
.as_bytes();

fn expected() -> Vec<Seen> {
    std::vec![
        Seen::Retry(Duration::from_millis(2500)),
        Seen::Comment(b" hello".to_vec()),
        Seen::Event("state".into(), "{\"a\":1}".into(), "".into()),
        Seen::Event("message".into(), "x\ny".into(), "7".into()),
    ]
}

#[test]
fn read_events_delivers_every_item_then_finishes_at_eof() {
    for chunk in [1, 2, 5, 64, 1024] {
        for buf_len in [1, 7, 512] {
            let (result, seen, parser) = run(STREAM, chunk, buf_len);
            assert_eq!(result, Ok(()));
            assert_eq!(seen, expected(), "chunk {chunk} buf {buf_len}");
            assert_eq!(parser.last_event_id(), "7");
            assert_eq!(parser.retry(), Some(Duration::from_millis(2500)));
        }
    }
}

#[test]
fn finish_discards_the_unterminated_event() {
    // After EOF (finish), a new connection's stream does not see "unfinished" as data.
    let (_, _, mut parser) = run(STREAM, 1024, 1024);
    let mut rest: &[u8] = b"data: fresh\n\n";
    let got = match parser.push(&mut rest) {
        Ok(Step::Event(e)) => std::string::String::from(e.data),
        other => panic!("{other:?}"),
    };
    assert_eq!(got, "fresh");
}

#[test]
fn parse_errors_reach_on_step_and_parsing_recovers() {
    let long = std::format!("data: {}\n\ndata: ok\n\n", "x".repeat(100));
    let mut parser = Parser::<16, 16>::new();
    let mut source = Source {
        rest: long.as_bytes(),
        chunk: 8,
        error_at_end: false,
    };
    let mut buf = [0u8; 8];
    let mut data = Vec::new();
    block_on(read_events(
        &mut source,
        &mut parser,
        &mut buf,
        |step| match step {
            Ok(Step::Event(e)) => data.push(std::string::String::from(e.data)),
            Ok(_) => {}
            Err(e) => data.push(std::format!("error: {e}")),
        },
    ))
    .unwrap();
    assert_eq!(data.last().map(std::string::String::as_str), Some("ok"));
}

#[test]
fn reader_error_is_returned() {
    let mut parser = Parser::<64, 64>::new();
    let mut source = Source {
        rest: b"data: a\n\n",
        chunk: 4,
        error_at_end: true,
    };
    let mut buf = [0u8; 4];
    let mut events = 0;
    let result = block_on(read_events(&mut source, &mut parser, &mut buf, |step| {
        if let Ok(Step::Event(_)) = step {
            events += 1;
        }
    }));
    assert_eq!(result, Err(Broken));
    assert_eq!(events, 1);
}

#[test]
fn empty_buffer_ends_at_once() {
    let mut parser = Parser::<64, 64>::new();
    let mut source = Source {
        rest: b"data: a\n\n",
        chunk: 4,
        error_at_end: false,
    };
    let mut calls = 0;
    let result: Result<(), Infallible> =
        match block_on(read_events(&mut source, &mut parser, &mut [], |_| {
            calls += 1
        })) {
            Ok(()) => Ok(()),
            Err(Broken) => panic!("no read error expected"),
        };
    assert_eq!(result, Ok(()));
    assert_eq!(calls, 0);
}
