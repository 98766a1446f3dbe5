//! Shared by the parser targets: run a parser over chunks and record everything it says.

use sse_core::parse::{ParseError, Parser, Step};

/// Small bounds, so truncation and `LineTooLong` are reached often.
pub type Small = Parser<16, 64>;

#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    Event(String, String, String, bool),
    Comment(Vec<u8>),
    Retry(u64),
    Error(ParseError),
}

/// Feeds `chunks`, ends the stream, and checks every output is within the bounds.
pub fn run<const L: usize, const D: usize>(parser: &mut Parser<L, D>, chunks: &[&[u8]]) -> (Vec<Out>, String) {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        loop {
            let before = rest.len();
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => {
                    assert!(rest.is_empty());
                    break;
                }
                Ok(Step::Event(e)) => {
                    assert!(e.event_type.len() <= L || e.event_type == "message");
                    assert!(e.data.len() <= D && e.last_event_id.len() <= L);
                    out.push(Out::Event(e.event_type.into(), e.data.into(), e.last_event_id.into(), e.truncated));
                }
                Ok(Step::Comment(c)) => {
                    assert!(c.len() <= L);
                    out.push(Out::Comment(c.to_vec()));
                }
                Ok(Step::Retry(d)) => out.push(Out::Retry(d.as_millis())),
                Err(e) => {
                    assert!(rest.len() < before, "an error must consume input");
                    out.push(Out::Error(e));
                }
            }
        }
    }
    parser.finish();
    (out, parser.last_event_id().into())
}
