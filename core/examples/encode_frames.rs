//! Encoding frames: what a server writes, into a fixed buffer, with no allocation.
//!
//! `cargo run -p sse-core --example encode_frames`
//!
//! Field values are validated when they are built ([`EventName`], [`EventId`], [`Comment`]
//! refuse CR and LF), so encoding can fail only for lack of room, and then writes nothing.
//! The output is parsed back at the end to show the round trip.

use sse_core::Duration;
use sse_core::encode::{BufferTooSmall, KEEPALIVE};
use sse_core::event::{Comment, EventId, EventName, Frame, InvalidField};
use sse_core::parse::{Parser, Step};

fn main() -> Result<(), InvalidField> {
    // One output buffer for the whole stream, as a device-side server would have.
    let mut out = [0u8; 512];
    let mut len = 0;

    let frames = [
        // The first block of a stream: a reconnection hint and the current state.
        Frame::new()
            .retry(Duration::from_millis(2_000))
            .event(EventName::new("state")?)
            .data(r#"{"epoch":"0123456789abcdef0123456789abcdef","message_count":1}"#),
        // A message: its id is `<epoch>-<idx>`.
        Frame::new()
            .event(EventName::new("message")?)
            .id(EventId::new("0123456789abcdef0123456789abcdef-0")?)
            .data(r#"{"idx":0,"type":"agent","content":"hello"}"#),
        // Multi-line data becomes several `data:` lines; the parser joins them with LF.
        Frame::new()
            .event(EventName::new("note")?)
            .data("line one\nline two"),
        // A comment-only frame.
        Frame::new().comment(Comment::new("still here")?),
    ];
    for frame in &frames {
        let rest = out.get_mut(len..).unwrap_or_default();
        match frame.encode(rest) {
            Ok(n) => len += n,
            Err(BufferTooSmall { needed }) => {
                println!("no room: this frame needs {needed} bytes; nothing was written");
                break;
            }
        }
    }
    // A keep-alive is a constant.
    if let Some(dst) = out.get_mut(len..len + KEEPALIVE.len()) {
        dst.copy_from_slice(KEEPALIVE);
        len += KEEPALIVE.len();
    }
    let wire = out.get(..len).unwrap_or_default();
    println!("--- {len} bytes on the wire ---");
    print!("{}", String::from_utf8_lossy(wire));

    // A frame too large for its buffer is refused whole, with the exact size it needs.
    let mut small = [0u8; 16];
    let big = &frames[1];
    assert_eq!(
        big.encode(&mut small),
        Err(BufferTooSmall {
            needed: big.encoded_len()
        })
    );
    assert_eq!(small, [0; 16]);

    // Parse it back.
    println!("--- parsed back ---");
    let mut parser = Parser::<64, 256>::new();
    let mut rest = wire;
    while !rest.is_empty() {
        match parser.push(&mut rest) {
            Ok(Step::Event(ev)) => println!(
                "event {:?} id {:?} data {:?}",
                ev.event_type, ev.last_event_id, ev.data
            ),
            Ok(Step::Comment(text)) => println!("comment {text:?}"),
            Ok(Step::Retry(d)) => println!("retry {} ms", d.as_millis()),
            Ok(_) => {}
            Err(e) => println!("error: {e}"),
        }
    }
    Ok(())
}
