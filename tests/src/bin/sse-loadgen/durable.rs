//! `sse-loadgen durable`: the same Durable Streams load on any server (`/v1/stream/` of
//! sse-host, the Node reference server), for the ratios in `docs/BENCHMARKS.md`.
//!
//! Two phases, one JSON line:
//! - *appends*: `--writers` keep-alive connections, each creating its own stream and then
//!   appending `--appends` bodies of `--body` bytes one after another (an append is answered
//!   before the next is sent: a producer that waits for its acknowledgement); appends/s and
//!   the acknowledgement latency;
//! - *fan-out*: `--readers` `live=sse` reads of one stream, then `--fanout-appends` appends to
//!   it from one connection as fast as they are acknowledged; deliveries/s (readers ×
//!   appends / time until every reader has every byte) and publish-to-receive latency.
//!
//! Each body starts with its send time (20 digits of ns since the run began) padded with
//! `x` to `--body` bytes, so a reader cuts whatever the server coalesced into one `data`
//! event back into bodies and times each. Readers use raw HTTP/1.1 ([`crate::http`]) and
//! sse-core's parser; with `--pid`, the server's CPU time per append and per delivery comes
//! from `/proc/<pid>` (the fairer figure on a shared machine).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use sse_core::parse::{Parser, Step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{Body, Publisher, parse_head};
use crate::procfs::cpu_ticks;
use crate::{HIST_MAX_US, MAX_HEAD, now_ns, percentiles, wait_until};

/// Digits of the send stamp at the start of every body.
const STAMP: usize = 20;
/// The readers' parser bound on one event's data: a coalesced catch-up chunk of the servers
/// measured (64 KiB) fits.
const DATA: usize = 256 << 10;

/// `sse-loadgen durable` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DurableArgs {
    /// Server address (must be loopback).
    #[arg(long)]
    addr: SocketAddr,
    /// Server process id, for its CPU time from `/proc/<pid>` (optional).
    #[arg(long)]
    pid: Option<u32>,
    /// Name of the server in the output.
    #[arg(long, default_value = "server")]
    label: String,
    /// Path prefix of the streams (sse-host and the Node reference: `/v1/stream/`).
    #[arg(long, default_value = "/v1/stream/")]
    prefix: String,
    /// Concurrent writers, each appending to its own stream.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// Appends per writer.
    #[arg(long, default_value_t = 500)]
    appends: usize,
    /// Bytes per append (at least the 20-digit stamp).
    #[arg(long, default_value_t = 64)]
    body: usize,
    /// `live=sse` readers of the fan-out stream.
    #[arg(long, default_value_t = 100)]
    readers: usize,
    /// Appends to the fan-out stream.
    #[arg(long, default_value_t = 500)]
    fanout_appends: usize,
    /// Seconds the fan-out may take to reach every reader after the last append.
    #[arg(long, default_value_t = 30)]
    drain_timeout: u64,
    /// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
}

/// A body of `len` bytes stamped with the current time.
fn stamped(len: usize) -> Vec<u8> {
    let mut body = format!("{:0width$}", now_ns(), width = STAMP).into_bytes();
    body.resize(len.max(STAMP), b'x');
    body
}

/// The run's tag, so that streams of earlier runs on the same server are not reused.
fn tag() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{t:x}")
}

fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).map_err(|e| e.to_string())
}

/// Server CPU seconds so far (`None` without `--pid`).
fn server_cpu(args: &DurableArgs) -> Option<f64> {
    let (u, s) = cpu_ticks(&args.pid?.to_string());
    Some((u + s) as f64 / args.clk_tck as f64)
}

fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

/// One writer: creates `path` and appends to it; records each acknowledgement's latency.
async fn writer(args: &DurableArgs, path: &str) -> Result<Histogram<u64>, String> {
    let mut conn = Publisher::connect(args.addr).await?;
    let created = conn.send("PUT", path, "text/plain", b"").await?;
    if !matches!(created, 200 | 201) {
        return Err(format!("PUT {path}: status {created}"));
    }
    let mut ack = histogram()?;
    for _ in 0..args.appends {
        let body = stamped(args.body);
        let sent = now_ns();
        let status = conn.send("POST", path, "text/plain", &body).await?;
        if !matches!(status, 200 | 204) {
            return Err(format!("POST {path}: status {status}"));
        }
        ack.saturating_record((now_ns().saturating_sub(sent) / 1000).max(1));
    }
    Ok(ack)
}

/// What the readers share with the main task.
#[derive(Debug, Default)]
struct Progress {
    /// Readers whose response head arrived.
    open: AtomicU64,
    /// Bodies received, all readers together.
    bodies: AtomicU64,
}

/// One `live=sse` reader: counts the bodies of `data` events and times each.
async fn reader(
    args: Arc<DurableArgs>,
    path: String,
    progress: Arc<Progress>,
) -> Result<Histogram<u64>, String> {
    let mut stream = TcpStream::connect(args.addr)
        .await
        .map_err(|e| format!("reader connect: {e}"))?;
    let req = format!(
        "GET {path}?offset=-1&live=sse HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        args.addr
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("reader write: {e}"))?;
    let mut buf = Vec::with_capacity(16 << 10);
    let (mut body, mut rest) = loop {
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("reader head: {e}"))?;
        if n == 0 {
            return Err("reader: closed before the response head".into());
        }
        match parse_head(&buf) {
            None if buf.len() > MAX_HEAD => return Err("reader: head too long".into()),
            None => {}
            Some(Err(e)) => return Err(e),
            Some(Ok(h)) if h.status == 200 => break (Body::new(h.chunked), buf.split_off(h.len)),
            Some(Ok(h)) => return Err(format!("reader: status {}", h.status)),
        }
    };
    progress.open.fetch_add(1, Relaxed);
    let mut parser = Box::new(Parser::<64, DATA>::new());
    let mut latency = histogram()?;
    let want = args.fanout_appends as u64;
    let size = args.body.max(STAMP);
    let mut seen = 0u64;
    // A body can be split between two data events only if the server cut one append; the
    // remainder is carried over.
    let mut carry = 0usize;
    loop {
        let now = now_ns();
        body.feed(&rest, |mut data| {
            loop {
                match parser.push(&mut data) {
                    Ok(Step::NeedMore) => return Ok(()),
                    Ok(Step::Event(ev)) if ev.event_type == "data" => {
                        let mut payload = ev.data.as_bytes();
                        if carry > 0 {
                            let k = carry.min(payload.len());
                            payload = &payload[k..];
                            carry -= k;
                        }
                        while !payload.is_empty() {
                            let stamp = payload
                                .get(..STAMP)
                                .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u64>().ok());
                            if let Some(sent) = stamp {
                                latency.saturating_record((now.saturating_sub(sent) / 1000).max(1));
                            }
                            seen += 1;
                            progress.bodies.fetch_add(1, Relaxed);
                            let k = size.min(payload.len());
                            carry = size - k;
                            payload = &payload[k..];
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("reader SSE: {e}")),
                }
            }
        })?;
        if seen >= want {
            return Ok(latency);
        }
        rest.clear();
        let n = stream
            .read_buf(&mut rest)
            .await
            .map_err(|e| format!("reader read: {e}"))?;
        if n == 0 {
            return Err(format!("reader: the stream ended after {seen} of {want}"));
        }
    }
}

/// Runs both phases; the JSON line.
pub(crate) async fn run(args: DurableArgs) -> Result<Value, String> {
    if !args.addr.ip().is_loopback() {
        return Err("loopback addresses only".into());
    }
    let tag = tag();
    let args = Arc::new(args);

    // Appends.
    let cpu_a = server_cpu(&args);
    let t0 = Instant::now();
    let writers: Vec<_> = (0..args.writers)
        .map(|w| {
            let args = Arc::clone(&args);
            let path = format!("{}lg-{tag}-w{w}", args.prefix);
            tokio::spawn(async move { writer(&args, &path).await })
        })
        .collect();
    let mut ack = histogram()?;
    for w in writers {
        let h = w.await.map_err(|e| e.to_string())??;
        ack.add(&h).map_err(|e| e.to_string())?;
    }
    let append_s = t0.elapsed().as_secs_f64();
    let cpu_b = server_cpu(&args);
    let appends = (args.writers * args.appends) as f64;

    // Fan-out.
    let path = format!("{}lg-{tag}-fan", args.prefix);
    let mut conn = Publisher::connect(args.addr).await?;
    let created = conn.send("PUT", &path, "text/plain", b"").await?;
    if !matches!(created, 200 | 201) {
        return Err(format!("PUT {path}: status {created}"));
    }
    let progress = Arc::new(Progress::default());
    let readers: Vec<_> = (0..args.readers)
        .map(|_| {
            tokio::spawn(reader(
                Arc::clone(&args),
                path.clone(),
                Arc::clone(&progress),
            ))
        })
        .collect();
    let n_readers = args.readers as u64;
    if !wait_until(Duration::from_secs(10), || {
        progress.open.load(Relaxed) >= n_readers
    })
    .await
    {
        return Err(format!(
            "only {} of {n_readers} readers opened within 10 s",
            progress.open.load(Relaxed)
        ));
    }
    let cpu_c = server_cpu(&args);
    let t1 = Instant::now();
    let mut fan_ack = histogram()?;
    for _ in 0..args.fanout_appends {
        let body = stamped(args.body);
        let sent = now_ns();
        let status = conn.send("POST", &path, "text/plain", &body).await?;
        if !matches!(status, 200 | 204) {
            return Err(format!("POST {path}: status {status}"));
        }
        fan_ack.saturating_record((now_ns().saturating_sub(sent) / 1000).max(1));
    }
    let expected = n_readers * args.fanout_appends as u64;
    let drained = wait_until(Duration::from_secs(args.drain_timeout), || {
        progress.bodies.load(Relaxed) >= expected
    })
    .await;
    let fan_s = t1.elapsed().as_secs_f64();
    let cpu_d = server_cpu(&args);
    let delivered = progress.bodies.load(Relaxed);
    let mut latency = histogram()?;
    let mut reader_errors = Vec::new();
    for r in readers {
        if !drained {
            r.abort();
        }
        match r.await {
            Ok(Ok(h)) => latency.add(&h).map_err(|e| e.to_string())?,
            Ok(Err(e)) => reader_errors.push(e),
            Err(e) if e.is_cancelled() => {}
            Err(e) => reader_errors.push(e.to_string()),
        }
    }
    let per =
        |cpu: Option<(f64, f64)>, n: f64| cpu.map(|(a, b)| round((b - a) * 1e6 / n.max(1.0), 2));
    Ok(json!({
        "label": args.label,
        "mode": "durable",
        "writers": args.writers,
        "appends": appends,
        "body": args.body,
        "appends_per_s": round(appends / append_s, 0),
        "append_ack_us": percentiles(&ack),
        "server_cpu_us_per_append": per(cpu_a.zip(cpu_b), appends),
        "readers": args.readers,
        "fanout_appends": args.fanout_appends,
        "expected": expected,
        "delivered": delivered,
        "drained": drained,
        "reader_errors": reader_errors.len(),
        "first_reader_error": reader_errors.first(),
        "deliveries_per_s": round(delivered as f64 / fan_s, 0),
        "fanout_s": round(fan_s, 3),
        "fanout_ack_us": percentiles(&fan_ack),
        "latency_us": percentiles(&latency),
        "server_cpu_us_per_delivery": per(cpu_c.zip(cpu_d), delivered as f64),
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    }))
}
