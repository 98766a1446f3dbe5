//! Parser throughput: `sse-core` against the `sse-stream` and `eventsource-stream` crates and a
//! memchr line-split upper bound, on the same deterministic inputs fed in the same chunk sizes.
//!
//! Run (results and the table go to docs/BENCHMARKS.md, "Parser"):
//! `cargo bench -p sse-tests --bench parse`, then `python3 tests/benches/parse_table.py`.
//!
//! Inputs:
//! - `small`: 10 000 events, each `event:`, `id:` and ~200 bytes of JSON `data:`.
//! - `large`: 1 000 events of 64 KiB data over 64 `data:` lines each. At 1- and 7-byte chunks
//!   only the first 16 events are used (same line shape, so bytes/s compare; it keeps a run of
//!   the slowest peer in seconds).
//! - `linear`: one event of one data line of 16 KiB, 64 KiB or 256 KiB, 7 bytes at a time:
//!   constant bytes/s means time linear in the line length.
//!
//! Time is the benchmark thread's CPU time (`support/cpu_time.rs`), the same for every
//! contender: on a shared machine it leaves out the time the thread was descheduled.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::Stream;
use sse_core::parse::{Parser, Step};

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;

/// Generous limits: no input here is cut.
type OurParser = Parser<1024, { 512 * 1024 }>;

/// Deterministic filler text (xorshift over a JSON-safe alphabet).
fn filler(len: usize, seed: &mut u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;-_";
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            char::from(ALPHABET[(*seed % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

fn small_events(n: usize) -> Vec<u8> {
    let mut seed = 1;
    let mut out = String::new();
    for i in 0..n {
        let content = filler(120, &mut seed);
        out += &format!(
            "event: message\nid: {i}\ndata: {{\"type\":\"agent\",\"idx\":{i},\"end_of_turn\":false,\"content\":\"{content}\",\"elapsed\":123456}}\n\n"
        );
    }
    out.into_bytes()
}

fn large_events(n: usize) -> Vec<u8> {
    let mut seed = 2;
    let mut out = String::new();
    for i in 0..n {
        out += &format!("event: message\nid: {i}\n");
        for _ in 0..64 {
            out += "data: ";
            out += &filler(1023, &mut seed);
            out += "\n";
        }
        out += "\n";
    }
    out.into_bytes()
}

fn one_line(len: usize) -> Vec<u8> {
    let mut seed = 3;
    format!("data: {}\n\n", filler(len, &mut seed)).into_bytes()
}

/// Returns (events, data bytes) so no work can be optimised away.
fn ours(input: &[u8], chunk: usize) -> (usize, usize) {
    let mut parser = OurParser::new();
    let (mut events, mut bytes) = (0, 0);
    for piece in input.chunks(chunk) {
        let mut rest = piece;
        loop {
            match parser.push(&mut rest) {
                Ok(Step::NeedMore) => break,
                Ok(Step::Event(ev)) => {
                    events += 1;
                    bytes += ev.data.len();
                }
                Ok(_) => {}
                Err(_) => unreachable!("no errors in these inputs"),
            }
        }
    }
    (events, bytes)
}

/// Drains an always-ready stream without an executor.
fn drain<S: Stream>(stream: S, mut on_item: impl FnMut(S::Item)) {
    let mut stream = pin!(stream);
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(item)) = stream.as_mut().poll_next(&mut cx) {
        on_item(item);
    }
}

fn sse_stream(input: &[u8], chunk: usize) -> (usize, usize) {
    let chunks =
        futures_util::stream::iter(input.chunks(chunk).map(Ok::<_, std::convert::Infallible>));
    let (mut events, mut bytes) = (0, 0);
    drain(sse_stream::SseByteStream::new(chunks), |item| {
        let sse = item.expect("valid input");
        if let Some(data) = sse.data {
            events += 1;
            bytes += data.len();
        }
    });
    (events, bytes)
}

fn eventsource_stream(input: &[u8], chunk: usize) -> (usize, usize) {
    let chunks =
        futures_util::stream::iter(input.chunks(chunk).map(Ok::<_, std::convert::Infallible>));
    let (mut events, mut bytes) = (0, 0);
    drain(eventsource_stream::EventStream::new(chunks), |item| {
        let event = item.expect("valid input");
        events += 1;
        bytes += event.data.len();
    });
    (events, bytes)
}

/// The least any conformant parser must do: find every CR and LF. (events, 0) is not computed;
/// the line count stands in.
fn memchr_lines(input: &[u8], chunk: usize) -> (usize, usize) {
    let lines = input
        .chunks(chunk)
        .map(|piece| memchr::memchr2_iter(b'\r', b'\n', piece).count())
        .sum();
    (lines, 0)
}

/// The obvious pipeline of the fastest parts there are (AVX2 `memchr2` for line ends, AVX2
/// `simdutf8` for UTF-8, libc `memcpy` to join `data:` lines), with everything else a parser
/// must do left out: no BOM, CR-only or comment handling, no field-name rules beyond three
/// prefixes, no bounds, no error recovery. A line cut by the end of a chunk is carried over in
/// a buffer. Not a bound (sse-core beats it on small events by lending data and finding short
/// lines without `memchr2`), a yardstick: what "straightforward and fast" gets.
fn least_work(input: &[u8], chunk: usize) -> (usize, usize) {
    split_and_join::<true>(input, chunk)
}

/// `least_work` without UTF-8 validation: find the line ends and join the `data:` values. Any
/// parser that delivers an event's data in one piece does at least this much on the `large`
/// input (64 KiB per event, which must be copied out of 4 KiB chunks), so its speed is a
/// ceiling for all of them there.
fn scan_join(input: &[u8], chunk: usize) -> (usize, usize) {
    split_and_join::<false>(input, chunk)
}

fn split_and_join<const VALIDATE: bool>(input: &[u8], chunk: usize) -> (usize, usize) {
    let (mut events, mut bytes) = (0, 0);
    let mut data: Vec<u8> = Vec::with_capacity(512 * 1024);
    let mut id: Vec<u8> = Vec::with_capacity(1024);
    let mut carry: Vec<u8> = Vec::with_capacity(128 * 1024);
    let mut has_data = false;
    let mut line = |line: &[u8], data: &mut Vec<u8>| {
        if line.is_empty() {
            if has_data {
                events += 1;
                bytes += data.len();
                data.clear();
                has_data = false;
            }
        } else if let Some(value) = line.strip_prefix(b"data: ") {
            if VALIDATE && simdutf8::basic::from_utf8(value).is_err() {
                unreachable!("valid input")
            }
            if has_data {
                data.push(b'\n');
            }
            data.extend_from_slice(value);
            has_data = true;
        } else if let Some(value) = line.strip_prefix(b"id: ") {
            if VALIDATE && simdutf8::basic::from_utf8(value).is_err() {
                unreachable!("valid input")
            }
            id.clear();
            id.extend_from_slice(value);
        } else if let Some(value) = line.strip_prefix(b"event: ")
            && VALIDATE
        {
            black_box(simdutf8::basic::from_utf8(value).is_ok());
        }
    };
    for piece in input.chunks(chunk) {
        let mut start = 0;
        for end in memchr::memchr2_iter(b'\r', b'\n', piece) {
            let tail = &piece[start..end];
            if carry.is_empty() {
                line(tail, &mut data);
            } else {
                carry.extend_from_slice(tail);
                let whole = std::mem::take(&mut carry);
                line(&whole, &mut data);
                carry = whole;
                carry.clear();
            }
            start = end + 1;
        }
        carry.extend_from_slice(&piece[start..]);
    }
    black_box(&id);
    (events, bytes)
}

type Contender = (&'static str, fn(&[u8], usize) -> (usize, usize));

const CONTENDERS: [Contender; 6] = [
    ("sse-core", ours),
    ("least-work", least_work),
    ("scan-join", scan_join),
    ("sse-stream", sse_stream),
    ("eventsource-stream", eventsource_stream),
    ("memchr-lines", memchr_lines),
];

fn group(
    c: &mut Criterion<ThreadCpuTime>,
    name: &str,
    input: &[u8],
    chunk: usize,
    contenders: &[Contender],
) {
    // Every parser must see the same events.
    let want = ours(input, input.len());
    for (who, f) in contenders.iter().filter(|(who, _)| *who != "memchr-lines") {
        assert_eq!(f(input, 4096), want, "{who} disagrees on {name}");
    }
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(input.len() as u64));
    for (who, f) in contenders {
        group.bench_with_input(BenchmarkId::new(*who, chunk), &chunk, |b, &chunk| {
            b.iter(|| f(black_box(input), chunk));
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion<ThreadCpuTime>) {
    let small = small_events(10_000);
    let large = large_events(1_000);
    let large_16 = large_events(16);
    for chunk in [1, 7, 4096, 65_536] {
        group(c, "small", &small, chunk, &CONTENDERS);
    }
    for chunk in [1, 7] {
        group(c, "large16", &large_16, chunk, &CONTENDERS);
    }
    for chunk in [4096, 65_536] {
        group(c, "large", &large, chunk, &CONTENDERS);
    }
    for len in [16 << 10, 64 << 10, 256 << 10] {
        group(
            c,
            &format!("linear-{}k", len >> 10),
            &one_line(len),
            7,
            &CONTENDERS,
        );
    }
}

criterion_group! {
    name = benches;
    // The machine is shared: short, few samples.
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = parse
}
criterion_main!(benches);
