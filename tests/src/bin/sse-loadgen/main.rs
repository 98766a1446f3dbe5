//! Load generator for the fan-out benchmarks (`tests/load/run.sh`, `docs/BENCHMARKS.md`).
//!
//! Opens `--subscribers` concurrent `GET /stream` connections to one server over loopback,
//! publishes `--rate` messages/s for `--duration` seconds with `POST /api/messages` (each
//! message's `content` carries its send time), and prints one JSON line: connections held,
//! deliveries, per-subscriber order violations (gaps, duplicates), publish-to-receive latency
//! (p50/p99/p99.9/max from an HDR histogram), and the server's RSS and CPU time read from
//! `/proc/<pid>`. With `--duration 0` it is the *idle* run: connect, settle, measure RSS per
//! subscriber, then publish one probe message that every subscriber must receive.
//!
//! It has to stay much lighter than the server it measures, on the same 2-core box:
//! - raw HTTP/1.1 over `TcpStream` (`http`: the head through httparse, a chunked decoder of a
//!   few words) and sse-core's parser for the events (`subscriber`), no HTTP client;
//! - a subscriber holds a socket, its parser (`Parser<64, 1024>`, boxed) and no read buffer:
//!   it waits for readiness and `try_read`s into one buffer per thread;
//! - `--threads` single-threaded runtimes, each owning its subscribers and its own statistics
//!   (no locks on the delivery path); the publisher and the clock of the run live on the main
//!   thread so a busy subscriber thread cannot delay a send.
//!
//! Bounds: every wait has a timeout (`--ramp-timeout`, `--connect-timeout`, `--drain-timeout`),
//! the ramp stops after `--max-failures` failed connections, the parser's bounds hold every
//! event (an over-long `id:` or `event:` closes that subscriber, long data is cut), and the
//! address is loopback only. `report` renders the results as markdown; `procfs` reads the
//! server's RSS and CPU time.

mod durable;
mod http;
mod procfs;
mod report;
mod subscriber;

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use http::Publisher;
use procfs::{cpu_ticks, fd_limit, rss_kb};
use subscriber::worker;

/// Longest HTTP response head read.
const MAX_HEAD: usize = 16 << 10;
/// Read buffer shared by the subscribers of one thread.
const READ_BUF: usize = 64 << 10;
/// Latency histogram range: 1 µs to 1 h, 3 significant digits.
const HIST_MAX_US: u64 = 3_600_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "sse-loadgen",
    about = "SSE fan-out load generator (loopback only)"
)]
enum Cli {
    /// Run one measurement and print one JSON line.
    Run(Args),
    /// The Durable Streams load (appends/s, SSE fan-out) on one server; one JSON line.
    Durable(durable::DurableArgs),
    /// Print the markdown tables (absolute figures, ratios against the baseline) of a file of
    /// `run` results.
    Report {
        /// File of JSON lines from `run`.
        results: std::path::PathBuf,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct Args {
    /// Server address (must be loopback).
    #[arg(long)]
    addr: SocketAddr,
    /// Server process id, for RSS and CPU from `/proc/<pid>`.
    #[arg(long)]
    pid: u32,
    /// Name of the server in the output.
    #[arg(long, default_value = "server")]
    label: String,
    /// Concurrent `GET /stream` subscribers to open.
    #[arg(long)]
    subscribers: usize,
    /// Messages published per second during the load phase.
    #[arg(long, default_value_t = 10)]
    rate: u32,
    /// Seconds of publishing; 0 = idle run (one probe message after the RSS sample).
    #[arg(long, default_value_t = 0)]
    duration: u64,
    /// This is the fd-limit run (reported as mode `max`): open more subscribers than the
    /// server has file descriptors, then check every one it holds still gets the probe.
    #[arg(long)]
    max: bool,
    /// Bytes of padding added to each message's content (a realistic agent message size).
    #[arg(long, default_value_t = 200)]
    pad: usize,
    /// Query string of the stream request.
    #[arg(long, default_value = "from=0")]
    query: String,
    /// Subscriber threads (each a single-threaded tokio runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Spread subscribers over source addresses 127.0.0.1 ..= 127.0.0.N (each gives one
    /// ephemeral port range; needed beyond ~28k connections per destination).
    #[arg(long, default_value_t = 1)]
    src_addrs: u8,
    /// Connection attempts in flight at once (all threads together).
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Seconds one connect + response head may take.
    #[arg(long, default_value_t = 5)]
    connect_timeout: u64,
    /// Stop opening connections after this many failures (the server's fd limit was hit).
    #[arg(long, default_value_t = 500)]
    max_failures: u64,
    /// Seconds the whole ramp may take.
    #[arg(long, default_value_t = 180)]
    ramp_timeout: u64,
    /// Seconds to wait after the ramp before sampling RSS.
    #[arg(long, default_value_t = 2)]
    settle: u64,
    /// Seconds to wait after the last publish for deliveries to complete.
    #[arg(long, default_value_t = 10)]
    drain_timeout: u64,
    /// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
}

/// Counters the main thread watches while the subscriber threads run.
#[derive(Debug, Default)]
struct Counters {
    connected: AtomicU64,
    failed: AtomicU64,
    closed: AtomicU64,
    delivered: AtomicU64,
    /// Set when the ramp gives up: queued connection attempts fail at once.
    abort_ramp: AtomicBool,
}

/// What one subscriber thread measured.
#[derive(Debug)]
struct WorkerStats {
    latency_us: Histogram<u64>,
    /// `message` events received, per subscriber of this thread (`u32::MAX` = never connected).
    received: Vec<u32>,
    gaps: u64,
    dups: u64,
    protocol_errors: u64,
    first_error: Option<String>,
}

impl WorkerStats {
    fn new(n: usize) -> Result<Self, String> {
        Ok(WorkerStats {
            latency_us: Histogram::new_with_bounds(1, HIST_MAX_US, 3).map_err(|e| e.to_string())?,
            received: vec![u32::MAX; n],
            gaps: 0,
            dups: 0,
            protocol_errors: 0,
            first_error: None,
        })
    }

    fn error(&mut self, e: String) {
        self.protocol_errors += 1;
        self.first_error.get_or_insert(e);
    }
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds since the run's origin: the send stamp and the receive clock.
fn now_ns() -> u64 {
    u64::try_from(origin().elapsed().as_nanos()).unwrap_or(u64::MAX)
}
// ---------------------------------------------------------------------------------------
// The run.

fn percentiles(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "n": h.len(),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
        "mean": (h.mean() * 10.0).round() / 10.0,
    })
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

async fn run(args: Args) -> Result<Value, String> {
    if !args.addr.ip().is_loopback() {
        return Err("loopback addresses only".into());
    }
    let pid = args.pid.to_string();
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!("no process {pid}"));
    }
    let ticks = |t: u64| t as f64 / args.clk_tck as f64;
    let rss_start = rss_kb(args.pid);
    // The publisher connects first, so it holds its fd before subscribers fill the limit.
    let mut publisher = Publisher::connect(args.addr).await?;
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let threads = args.threads.max(1);
    let mut workers = Vec::new();
    for w in 0..threads {
        let (a, c, s) = (args.clone(), Arc::clone(&counters), stop_rx.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("sub-{w}"))
                .spawn(move || worker(w, a, c, s))
                .map_err(|e| e.to_string())?,
        );
    }

    // Ramp.
    let n = args.subscribers as u64;
    let ramp_start = Instant::now();
    let ramp_done = wait_until(Duration::from_secs(args.ramp_timeout), || {
        let (c, f) = (
            counters.connected.load(Relaxed),
            counters.failed.load(Relaxed),
        );
        if f >= args.max_failures {
            counters.abort_ramp.store(true, Relaxed);
        }
        c + f >= n
    })
    .await;
    counters.abort_ramp.store(true, Relaxed);
    let ramp_s = ramp_start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let connected = counters.connected.load(Relaxed);
    let rss_connected = rss_kb(args.pid);

    // Publish: `rate` messages/s for `duration` s, or one probe message when idle.
    let n_msgs = if args.duration == 0 {
        1
    } else {
        u64::from(args.rate) * args.duration
    };
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let pad = "x".repeat(args.pad);
    let mut ack_us =
        Histogram::<u64>::new_with_bounds(1, HIST_MAX_US, 3).map_err(|e| e.to_string())?;
    let delivered_before = counters.delivered.load(Relaxed);
    let cpu_a = cpu_ticks(&pid);
    let self_cpu_a = cpu_ticks("self");
    let t0 = Instant::now();
    let mut rss_peak = rss_connected;
    let mut publish_errors = 0u64;
    let mut published = 0u64;
    for k in 0..n_msgs {
        tokio::time::sleep_until((t0 + period.mul_f64(k as f64)).into()).await;
        let sent = now_ns();
        let body = json!({"type": "agent", "content": format!("lg:{sent} {pad}")}).to_string();
        match publisher.post(&body).await {
            Ok(200) => published += 1,
            Ok(_) | Err(_) => publish_errors += 1,
        }
        ack_us.saturating_record((now_ns().saturating_sub(sent) / 1000).max(1));
        if k % u64::from(args.rate.max(1)) == 0 {
            rss_peak = rss_peak.max(rss_kb(args.pid));
        }
    }
    let publish_s = t0.elapsed().as_secs_f64();
    let alive = connected.saturating_sub(counters.closed.load(Relaxed));
    let expected = published * alive;
    let drained = wait_until(Duration::from_secs(args.drain_timeout), || {
        counters.delivered.load(Relaxed) - delivered_before >= expected
    })
    .await;
    let window_s = t0.elapsed().as_secs_f64();
    let cpu_b = cpu_ticks(&pid);
    let self_cpu_b = cpu_ticks("self");
    let rss_end = rss_kb(args.pid);
    rss_peak = rss_peak.max(rss_end);
    let closed = counters.closed.load(Relaxed);

    let _ = stop_tx.send(true);
    let mut merged = WorkerStats::new(0)?;
    let mut received = Vec::new();
    for w in workers {
        let s = w.join().map_err(|_| "subscriber thread panicked")??;
        merged
            .latency_us
            .add(&s.latency_us)
            .map_err(|e| e.to_string())?;
        merged.gaps += s.gaps;
        merged.dups += s.dups;
        merged.protocol_errors += s.protocol_errors;
        if merged.first_error.is_none() {
            merged.first_error = s.first_error;
        }
        received.extend(s.received.into_iter().filter(|&r| r != u32::MAX));
    }
    let delivered = counters.delivered.load(Relaxed) - delivered_before;
    let complete = received
        .iter()
        .filter(|&&r| u64::from(r) == published)
        .count();
    let utime_s = ticks(cpu_b.0.saturating_sub(cpu_a.0));
    let stime_s = ticks(cpu_b.1.saturating_sub(cpu_a.1));
    let cpu_s = utime_s + stime_s;
    let per_sub = |kb: u64| (kb.saturating_sub(rss_start) * 1024) as f64 / connected.max(1) as f64;
    Ok(json!({
        "label": args.label,
        "mode": if args.max { "max" } else if args.duration == 0 { "idle" } else { "load" },
        "subscribers": args.subscribers,
        "connected": connected,
        "failed": counters.failed.load(Relaxed),
        "closed_by_server": closed,
        "ramp_s": (ramp_s * 100.0).round() / 100.0,
        "ramp_complete": ramp_done,
        "rss_start_kb": rss_start,
        "rss_connected_kb": rss_connected,
        "rss_peak_kb": rss_peak,
        "rss_end_kb": rss_end,
        "rss_per_sub_bytes": per_sub(rss_connected).round(),
        "rate": args.rate,
        "duration_s": args.duration,
        "pad": args.pad,
        "published": published,
        "publish_errors": publish_errors,
        "publish_s": (publish_s * 100.0).round() / 100.0,
        "expected": expected,
        "delivered": delivered,
        "drained": drained,
        "subs_complete": complete,
        "gaps": merged.gaps,
        "dups": merged.dups,
        "protocol_errors": merged.protocol_errors,
        "first_error": merged.first_error,
        "window_s": (window_s * 100.0).round() / 100.0,
        "server_cpu_s": cpu_s,
        "server_user_s": utime_s,
        "server_sys_s": stime_s,
        "server_cpu_us_per_event": if delivered > 0 { (cpu_s * 1e6 / delivered as f64 * 1000.0).round() / 1000.0 } else { 0.0 },
        "loadgen_cpu_s": ticks(
            (self_cpu_b.0 + self_cpu_b.1).saturating_sub(self_cpu_a.0 + self_cpu_a.1)
        ),
        "latency_us": percentiles(&merged.latency_us),
        "publish_ack_us": percentiles(&ack_us),
        "server_fd_limit": fd_limit(args.pid),
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    }))
}

fn main() -> std::process::ExitCode {
    let args = match Cli::parse() {
        Cli::Run(args) => args,
        Cli::Durable(args) => return block_on(durable::run(args)),
        Cli::Report { results } => {
            return match report::render(&results) {
                Ok(md) => {
                    print!("{md}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sse-loadgen report: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
    };
    // Every subscriber is a file descriptor: take the whole hard limit.
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    if (nofile as usize) < args.subscribers + 64 {
        eprintln!(
            "sse-loadgen: fd limit {nofile} < {} subscribers; raise `ulimit -n`",
            args.subscribers
        );
    }
    block_on(run(args))
}

/// Runs `job` on a single-threaded runtime; prints its JSON line or its error.
fn block_on(
    job: impl std::future::Future<Output = Result<Value, String>>,
) -> std::process::ExitCode {
    let _ = origin();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sse-loadgen: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(job) {
        Ok(v) => {
            println!("{v}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sse-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
