//! Links the parts of `sse-core` a device uses, so their code size can be measured on
//! `thumbv6m-none-eabi` (Cortex-M0+, the smallest target we support) with no allocator.
//!
//! Each feature (`parser`, `encoder`, `reconnect`, `follow`) exercises one component through its
//! public API with inputs hidden behind `black_box`, so nothing is constant-folded away; with no
//! features only the entry and the panic handler remain (the baseline to subtract). The binary is
//! never run: it has no vector table or linker script. Measure with `measure.sh`.
#![no_std]
#![no_main]

#[cfg(any(
    feature = "parser",
    feature = "encoder",
    feature = "reconnect",
    feature = "follow"
))]
use core::hint::black_box;

#[cfg(any(feature = "reconnect", feature = "follow"))]
use sse_core::Instant;

/// A small stream in the server's shape.
#[cfg(any(feature = "parser", feature = "follow"))]
static STREAM: &[u8] =
    b"retry: 1000\n\nevent: state\ndata: {\"message_count\":1,\"epoch\":\"e\"}\n\n\
event: message\nid: 0\ndata: {\"idx\":0}\n\n:\n\nevent: heartbeat\ndata: 1700000000\n\n";

#[cfg(feature = "parser")]
fn parser() {
    use sse_core::parse::{Parser, Step};
    let mut parser = Parser::<128, 512>::new();
    let mut rest: &[u8] = black_box(STREAM);
    while !rest.is_empty() {
        match parser.push(&mut rest) {
            Ok(Step::Event(e)) => {
                black_box((e.event_type, e.data, e.last_event_id, e.truncated));
            }
            Ok(Step::Comment(c)) => {
                black_box(c);
            }
            Ok(Step::Retry(d)) => {
                black_box(d);
            }
            Ok(Step::NeedMore) => break,
            // `Step` is non-exhaustive; later kinds of step are not measured.
            Ok(_) => {}
            Err(e) => {
                black_box(e);
            }
        }
    }
    parser.finish();
    black_box(parser.last_event_id());
    black_box(parser.set_last_event_id(black_box("41")).is_ok());
}

#[cfg(feature = "encoder")]
fn encoder() {
    use sse_core::event::{Comment, EventId, EventName, Frame};
    let mut frame = Frame::new().data(black_box("{\"idx\":0}\nsecond line"));
    if let Ok(name) = EventName::new(black_box("message")) {
        frame = frame.event(name);
    }
    if let Ok(id) = EventId::new(black_box("0")) {
        frame = frame.id(id);
    }
    if let Ok(comment) = Comment::new(black_box("hi")) {
        frame = frame.comment(comment);
    }
    frame = frame.retry(sse_core::Duration::from_millis(black_box(1000)));
    let mut buf = [0u8; 128];
    let _ = black_box(frame.encode(&mut buf).map_err(|e| e.needed));
    black_box(buf);
}

#[cfg(feature = "reconnect")]
fn reconnect() {
    use sse_core::reconnect::{Disconnect, Policy, Reconnect};
    let mut rc = Reconnect::new(Policy::default(), black_box(7));
    let t = |ms: u64| Instant::from_millis(black_box(ms));
    rc.start(t(0));
    rc.handle_connected(t(10));
    rc.handle_bytes(t(20));
    rc.handle_retry_hint(sse_core::Duration::from_millis(black_box(2000)));
    rc.handle_disconnected(t(30), Disconnect::HttpStatus(black_box(503)));
    rc.handle_timeout(t(5000));
    black_box(rc.poll_action());
    black_box(rc.poll_timeout());
    black_box(rc.status());
    black_box(rc.retry_at());
    rc.stop();
}

#[cfg(feature = "follow")]
fn follow() {
    use sse_core::agent::follow::Follow;
    use sse_core::reconnect::{Disconnect, Policy};
    let mut f = Follow::<128, 512>::new(Policy::default(), black_box(7));
    let t = |ms: u64| Instant::from_millis(black_box(ms));
    f.start(t(0));
    black_box(f.poll_action());
    f.handle_response(t(5), black_box(200), black_box(true));
    let mut rest: &[u8] = black_box(STREAM);
    while !rest.is_empty() {
        // Outputs borrow `f`; look at them through black_box only.
        black_box(f.handle_bytes(t(10), &mut rest).is_some());
    }
    while let Some(o) = f.poll_output() {
        black_box(o);
    }
    f.handle_timeout(t(60_000));
    f.handle_disconnected(t(60_001), Disconnect::EndOfStream);
    black_box(f.poll_timeout());
    black_box(f.last_event_id().map(str::len));
    black_box(f.resume_from());
    black_box(f.status());
}

/// The entry the linker keeps everything reachable from.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    #[cfg(feature = "parser")]
    parser();
    #[cfg(feature = "encoder")]
    encoder();
    #[cfg(feature = "reconnect")]
    reconnect();
    #[cfg(feature = "follow")]
    follow();
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    #[allow(clippy::empty_loop)]
    loop {}
}
