//! Delivery across 3 nodes sharing one Redis log: publish-to-receive latency and throughput.
//!
//! What it does: starts a `redis-server` on 127.0.0.1 (free port, temporary directory) and
//! three `sse-host serve --store redis://…` nodes in this process, opens `SUBS` `/stream`
//! subscribers spread evenly over the nodes, then publishes `RATE` messages per second for
//! `SECS` seconds, round-robin over the nodes (through each node's hub, as `POST /api/messages`
//! does). Every subscriber records when each index arrives; latency is arrival minus the
//! moment the publish call started (so it includes the Redis round trip of the append, the
//! tail's `XREAD`, the encode-once fan-out and the HTTP/1.1 write and parse).
//!
//! How to run (needs `redis-server` on PATH):
//! ```text
//! cargo bench -p sse-tests --bench redis_nodes
//! SUBS=300 RATE=500 SECS=5 cargo bench -p sse-tests --bench redis_nodes
//! ```
//! Expected output: one line per setting with p50/p90/p99/max latency in ms, deliveries/s,
//! and "lost 0 duplicate 0 out-of-order 0". Bounded: publishing stops after `SECS`, and
//! subscribers are given at most 20 s more to drain.

use serde_json::json;
use sse_tests::redis::{Persistence, RedisServer, node_config};
use sse_tests::server::{self, SseStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: then only build.
    if !std::env::args().any(|a| a == "--bench") {
        println!("redis_nodes: run with `cargo bench -p sse-tests --bench redis_nodes`");
        return;
    }
    let subs = env("SUBS", 150).max(1);
    let rate = env("RATE", 200).max(1);
    let secs = env("SECS", 5).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(subs, rate, secs));
}

async fn run(subs: u64, rate: u64, secs: u64) {
    let redis = RedisServer::start(Persistence::None);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(server::start(node_config(&redis.url(), "sse:bench", None)).await);
    }
    let total = rate * secs;
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; total as usize]));
    let mut readers = Vec::new();
    for s in 0..subs {
        let addr = nodes[(s % 3) as usize].local_addr();
        let mut st: SseStream = server::open(addr, "/stream?from=0&events=message", &[]).await;
        assert_eq!(st.status, 200);
        readers.push(tokio::spawn(async move {
            let mut arrivals: Vec<(u64, Instant)> = Vec::with_capacity(total as usize);
            let deadline = Instant::now() + Duration::from_secs(secs + 20);
            while (arrivals.len() as u64) < total && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                let Ok(Some(ev)) = tokio::time::timeout(left, st.next_within(left)).await else {
                    break;
                };
                if let Ok(idx) = ev.last_event_id.parse::<u64>() {
                    arrivals.push((idx, Instant::now()));
                }
            }
            arrivals
        }));
    }
    // Publish at `rate`, round-robin over the nodes.
    let hubs: Vec<_> = nodes.iter().map(|n| n.hub().clone()).collect();
    let start = Instant::now();
    let mut publishers = Vec::new();
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        let hub = hubs[(i % 3) as usize].clone();
        let sent = Arc::clone(&sent);
        publishers.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let idx = hub
                .append(json!({"type": "agent", "content": "x".repeat(200)}))
                .await
                .expect("append");
            if let Some(slot) = sent.lock().expect("lock").get_mut(idx.0 as usize) {
                *slot = Some(t0);
            }
        }));
    }
    for p in publishers {
        p.await.expect("publisher");
    }
    let publish_secs = start.elapsed().as_secs_f64();
    let sent = sent.lock().expect("lock").clone();
    let mut latencies = Vec::new();
    let (mut lost, mut dup, mut disorder) = (0u64, 0u64, 0u64);
    let mut last_arrival = start;
    for r in readers {
        let arrivals = r.await.expect("reader");
        let mut expect = 0u64;
        for (idx, at) in &arrivals {
            match idx.cmp(&expect) {
                std::cmp::Ordering::Equal => expect += 1,
                std::cmp::Ordering::Less => dup += 1,
                std::cmp::Ordering::Greater => {
                    disorder += 1;
                    expect = idx + 1;
                }
            }
            if let Some(Some(t0)) = sent.get(*idx as usize) {
                latencies.push(at.saturating_duration_since(*t0));
            }
            last_arrival = last_arrival.max(*at);
        }
        lost += total.saturating_sub(arrivals.len() as u64);
    }
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    let delivered = latencies.len() as f64;
    let span = last_arrival.saturating_duration_since(start).as_secs_f64();
    println!(
        "redis 3 nodes: {subs} subscribers, {rate} msg/s for {secs} s ({total} messages, published in {publish_secs:.2} s): \
         latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         {:.0} deliveries/s; lost {lost} duplicate {dup} out-of-order {disorder}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
        delivered / span.max(1e-9),
    );
    for n in nodes {
        n.shutdown().await.expect("shutdown");
    }
    drop(redis);
}
