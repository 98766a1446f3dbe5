//! Encoder throughput. Target (docs/BENCHMARKS.md): ≥ 40 M small events/s, a small event
//! being a frame with `event`, `id` and ~200 bytes of single-line JSON data.
//!
//! Run: `cargo bench -p sse-tests --bench encode`
//!
//! Each case runs twice: `encode/*` in wall-clock time, and `encode_cpu/*` in the benchmark
//! thread's own CPU time (Linux `CLOCK_THREAD_CPUTIME_ID`, wall clock elsewhere), which
//! stays meaningful when the machine is shared and the thread is descheduled.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sse_core::event::{EventId, EventName, Frame};

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;

/// ~200 bytes of compact JSON, shaped like an AgentMessage summary.
const DATA_200: &str = concat!(
    r#"{"type":"agent","end_of_turn":false,"content":"Running the test suite now; "#,
    r#"three failures remain in billing::invoice, all in rounding.","tool_name":"bash","#,
    r#""idx":12345,"timestamp":"2025-05-01T09:30:00Z"}"#
);

/// The same size with line breaks (pretty JSON): five `data:` lines.
const DATA_200_MULTILINE: &str = concat!(
    "{\n  \"type\": \"agent\",\n  \"content\": \"Running the test suite now; three failures ",
    "remain in billing::invoice, all in rounding of the last cent.\",\n  \"tool_name\": \"bash\",",
    "\n  \"idx\": 12345, \"timestamp\": \"2025-05-01T09:30:00Z\"\n}"
);

fn small_event(data: &str) -> Frame<'_> {
    Frame::new()
        .event(EventName::new("message").unwrap())
        .id(EventId::new("12345").unwrap())
        .data(data)
}

fn bench_encode_wall(c: &mut Criterion) {
    bench_encode(c, "encode");
}

fn bench_encode_cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench_encode(c, "encode_cpu");
}

fn bench_encode<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    let mut buf = [0u8; 512];

    let frame = small_event(DATA_200);
    assert!(
        (200..260).contains(&frame.encoded_len()),
        "{}",
        frame.encoded_len()
    );
    g.bench_function("small_event", |b| {
        b.iter(|| black_box(&frame).encode(black_box(&mut buf)).unwrap())
    });
    g.bench_function("small_event_encoded_len", |b| {
        b.iter(|| black_box(&frame).encoded_len())
    });

    let multi = small_event(DATA_200_MULTILINE);
    g.bench_function("small_event_5_lines", |b| {
        b.iter(|| black_box(&multi).encode(black_box(&mut buf)).unwrap())
    });

    g.bench_function("write_frame_to_slice", |b| {
        b.iter(|| {
            let mut out: &mut [u8] = black_box(&mut buf);
            sse_core::io::write_frame(&mut out, black_box(&frame)).unwrap();
        })
    });

    g.finish();
}

fn config<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    // Short runs: the machine is shared.
    c.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = wall; config = config(Criterion::default()); targets = bench_encode_wall }
criterion_group! {
    name = cpu;
    config = config(Criterion::default().with_measurement(ThreadCpuTime));
    targets = bench_encode_cpu
}
criterion_main!(wall, cpu);
