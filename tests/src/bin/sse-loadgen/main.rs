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
//! - raw HTTP/1.1 over `TcpStream` and a minimal chunked + SSE line reader (no HTTP client);
//! - a subscriber holds a socket, a few words of parser state and no read buffer: it waits for
//!   readiness and `try_read`s into one buffer per thread;
//! - `--threads` single-threaded runtimes, each owning its subscribers and its own statistics
//!   (no locks on the delivery path); the publisher and the clock of the run live on the main
//!   thread so a busy subscriber thread cannot delay a send.
//!
//! Bounds: every wait has a timeout (`--ramp-timeout`, `--connect-timeout`, `--drain-timeout`),
//! the ramp stops after `--max-failures` failed connections, one SSE line is at most
//! [`MAX_LINE`] bytes (longer closes that subscriber), and the address is loopback only.

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Longest SSE line a subscriber buffers (a state or message line of this benchmark is far
/// shorter); a longer one closes that subscriber and is counted as `protocol_errors`.
const MAX_LINE: usize = 1 << 20;
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
    /// Server process id, for RSS and CPU from /proc/<pid>.
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
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
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
// The response reader: HTTP/1.1 chunked framing, then SSE lines.

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading the hex size.
    Size(u64),
    /// Skipping a chunk extension up to the line end.
    Ext(u64),
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// After chunk data, skipping its CRLF.
    DataEnd,
    /// The terminating zero-size chunk was seen.
    Done,
}

/// The per-subscriber parser: chunked framing, SSE lines, the event being assembled, the
/// last `message` idx (order check). Holds no buffer unless a line straddles two reads.
#[derive(Debug)]
struct Conn {
    /// `None`: the body is not chunked (read to close).
    chunk: Option<Chunk>,
    line: Vec<u8>,
    ev_message: bool,
    ev_id: Option<u64>,
    ev_sent_ns: Option<u64>,
    last_idx: Option<u64>,
}

/// Where a subscriber's events are counted.
struct Sink<'a> {
    stats: &'a mut WorkerStats,
    slot: usize,
    now_ns: u64,
    delivered: u64,
}

impl Conn {
    fn new(chunked: bool) -> Self {
        Conn {
            chunk: chunked.then_some(Chunk::Size(0)),
            line: Vec::new(),
            ev_message: false,
            ev_id: None,
            ev_sent_ns: None,
            last_idx: None,
        }
    }

    /// Feeds response body bytes. `Err`: the stream is unusable (close it).
    fn feed(&mut self, mut input: &[u8], sink: &mut Sink<'_>) -> Result<(), String> {
        let Some(mut state) = self.chunk else {
            return self.sse(input, sink);
        };
        while let Some((&b, rest)) = input.split_first() {
            if let Chunk::Data(n) = state {
                let k = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                let (data, rest) = input.split_at(k);
                self.sse(data, sink)?;
                input = rest;
                let left = n - k as u64;
                state = if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                };
                continue;
            }
            input = rest;
            state = match (state, b) {
                (Chunk::Size(n), b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                    if n > (u64::MAX >> 8) {
                        return Err("chunk size overflow".into());
                    }
                    Chunk::Size(n * 16 + u64::from(char::from(b).to_digit(16).unwrap_or(0)))
                }
                (Chunk::Size(n), b';') => Chunk::Ext(n),
                (Chunk::Size(n), b'\r' | b' ') => Chunk::Size(n),
                (Chunk::Size(0) | Chunk::Ext(0), b'\n') => Chunk::Done,
                (Chunk::Size(n) | Chunk::Ext(n), b'\n') => Chunk::Data(n),
                (Chunk::Size(_), _) => return Err(format!("bad chunk size byte {b:#x}")),
                (Chunk::DataEnd, b'\n') => Chunk::Size(0),
                (other, _) => other,
            };
        }
        self.chunk = Some(state);
        Ok(())
    }

    /// SSE lines (LF or CRLF endings; both servers end lines with LF).
    fn sse(&mut self, mut data: &[u8], sink: &mut Sink<'_>) -> Result<(), String> {
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let (part, rest) = data.split_at(nl);
            data = &rest[1..];
            if self.line.is_empty() {
                self.line_done(part, sink);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(part);
                self.line_done(&line, sink);
                line.clear();
                if line.capacity() <= 4096 {
                    self.line = line;
                }
            }
        }
        if self.line.len() + data.len() > MAX_LINE {
            return Err("SSE line over MAX_LINE".into());
        }
        self.line.extend_from_slice(data);
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], sink: &mut Sink<'_>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(sink);
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => return, // comment
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.ev_message = value == b"message",
            b"id" => self.ev_id = parse_u64(value),
            b"data" => {
                if let Some(at) = memchr::memmem::find(value, b"lg:") {
                    let digits = &value[at + 3..];
                    let end = digits
                        .iter()
                        .position(|c| !c.is_ascii_digit())
                        .unwrap_or(digits.len());
                    self.ev_sent_ns = parse_u64(&digits[..end]);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, sink: &mut Sink<'_>) {
        let is_message = std::mem::take(&mut self.ev_message);
        let id = self.ev_id.take();
        let sent = self.ev_sent_ns.take();
        let (true, Some(id)) = (is_message, id) else {
            return;
        };
        let stats = &mut *sink.stats;
        match self.last_idx {
            Some(prev) if id <= prev => {
                stats.dups += 1;
                return;
            }
            Some(prev) => stats.gaps += id - prev - 1,
            None => {}
        }
        self.last_idx = Some(id);
        if let Some(r) = stats.received.get_mut(sink.slot) {
            *r = r.saturating_add(1);
        }
        sink.delivered += 1;
        if let Some(sent) = sent {
            let us = sink.now_ns.saturating_sub(sent) / 1000;
            stats.latency_us.saturating_record(us.max(1));
        }
    }
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    std::str::from_utf8(s).ok()?.trim().parse().ok()
}

/// What the load generator needs from a response head.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    chunked: bool,
    content_length: Option<usize>,
    /// Bytes of the head, blank line included.
    len: usize,
}

/// Parses the response head at the start of `buf`; `None` while incomplete.
fn parse_head(buf: &[u8]) -> Option<Result<Head, String>> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    let Some(status) = status else {
        return Some(Err(format!("bad status line in {head:?}")));
    };
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim() {
                "transfer-encoding" => chunked = v.contains("chunked"),
                "content-length" => length = v.trim().parse().ok(),
                _ => {}
            }
        }
    }
    Some(Ok(Head {
        status,
        chunked,
        content_length: length,
        len: end,
    }))
}

// ---------------------------------------------------------------------------------------
// Subscribers.

/// Connects, sends the request and reads the response head. Returns the stream, its parser
/// and any body bytes that came with the head.
async fn open(
    addr: SocketAddr,
    src: Option<Ipv4Addr>,
    request: &[u8],
) -> Result<(TcpStream, Conn, Vec<u8>), String> {
    let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = src {
        sock.bind(SocketAddr::new(IpAddr::V4(ip), 0))
            .map_err(|e| format!("bind {ip}: {e}"))?;
    }
    let mut stream = sock
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut head = Vec::with_capacity(1024);
    loop {
        if head.len() > MAX_HEAD {
            return Err("response head too long".into());
        }
        let n = stream
            .read_buf(&mut head)
            .await
            .map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err("closed before the response head".into());
        }
        match parse_head(&head) {
            None => {}
            Some(Err(e)) => return Err(e),
            Some(Ok(h)) if h.status == 200 => {
                return Ok((stream, Conn::new(h.chunked), head.split_off(h.len)));
            }
            Some(Ok(h)) => return Err(format!("status {}", h.status)),
        }
    }
}

/// Everything a subscriber task of one thread shares.
struct Local {
    args: Args,
    request: Vec<u8>,
    counters: Arc<Counters>,
    stats: RefCell<WorkerStats>,
    buf: RefCell<Vec<u8>>,
    permits: Semaphore,
}

async fn subscriber(local: Rc<Local>, index: usize, slot: usize) {
    let args = &local.args;
    let counters = &local.counters;
    let src = (args.src_addrs > 1).then(|| {
        let k = u8::try_from(index % usize::from(args.src_addrs)).unwrap_or(0);
        Ipv4Addr::new(127, 0, 0, 1 + k)
    });
    let opened = {
        let Ok(_permit) = local.permits.acquire().await else {
            return;
        };
        if counters.abort_ramp.load(Relaxed) {
            counters.failed.fetch_add(1, Relaxed);
            return;
        }
        let timeout = Duration::from_secs(args.connect_timeout);
        match tokio::time::timeout(timeout, open(args.addr, src, &local.request)).await {
            Ok(r) => r,
            Err(_) => Err("connect or response head timed out".into()),
        }
    };
    let (stream, mut conn, first) = match opened {
        Ok(x) => x,
        Err(e) => {
            counters.failed.fetch_add(1, Relaxed);
            local.stats.borrow_mut().first_error.get_or_insert(e);
            return;
        }
    };
    if let Some(r) = local.stats.borrow_mut().received.get_mut(slot) {
        *r = 0;
    }
    counters.connected.fetch_add(1, Relaxed);
    let feed = |conn: &mut Conn, bytes: &[u8]| {
        let mut stats = local.stats.borrow_mut();
        let mut sink = Sink {
            stats: &mut stats,
            slot,
            now_ns: now_ns(),
            delivered: 0,
        };
        let fed = conn.feed(bytes, &mut sink);
        counters.delivered.fetch_add(sink.delivered, Relaxed);
        fed
    };
    let mut result = feed(&mut conn, &first).map_err(Some);
    drop(first);
    loop {
        match result {
            Ok(()) => {}
            Err(None) => break,
            Err(Some(e)) => {
                local.stats.borrow_mut().error(e);
                break;
            }
        }
        if stream.readable().await.is_err() {
            break;
        }
        result = {
            let mut buf = local.buf.borrow_mut();
            match stream.try_read(&mut buf) {
                Ok(0) => Err(None),
                Ok(n) => feed(&mut conn, &buf[..n]).map_err(Some),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(Some(format!("read: {e}"))),
            }
        };
    }
    counters.closed.fetch_add(1, Relaxed);
}

/// One subscriber thread: its share of the subscribers on a single-threaded runtime, until
/// `stop` flips. Returns what it measured.
fn worker(
    w: usize,
    args: Args,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Result<WorkerStats, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let threads = args.threads.max(1);
    let mine: Vec<usize> = (w..args.subscribers).step_by(threads).collect();
    let request = format!(
        "GET /stream?{} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
        args.query, args.addr
    )
    .into_bytes();
    let local = Rc::new(Local {
        permits: Semaphore::new((args.connect_concurrency / threads).max(1)),
        stats: RefCell::new(WorkerStats::new(mine.len())?),
        buf: RefCell::new(vec![0; READ_BUF]),
        request,
        counters,
        args,
    });
    let set = tokio::task::LocalSet::new();
    set.block_on(&rt, async {
        for (slot, &index) in mine.iter().enumerate() {
            tokio::task::spawn_local(subscriber(Rc::clone(&local), index, slot));
        }
        let _ = stop.wait_for(|s| *s).await;
    });
    drop(set);
    drop(rt);
    let local = Rc::try_unwrap(local).map_err(|_| "subscriber tasks outlived the runtime")?;
    Ok(local.stats.into_inner())
}

// ---------------------------------------------------------------------------------------
// Publisher.

/// One keep-alive HTTP/1.1 connection for `POST /api/messages`.
struct Publisher {
    stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Publisher {
    async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("publisher connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Publisher {
            stream,
            addr,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Posts `body`; returns the status.
    async fn post(&mut self, body: &str) -> Result<u16, String> {
        let req = format!(
            "POST /api/messages HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| format!("publish write: {e}"))?;
        loop {
            if let Some(head) = parse_head(&self.buf) {
                let head = head?;
                if head.chunked {
                    return Err("chunked publish response not supported".into());
                }
                let total = head.len + head.content_length.unwrap_or(0);
                if self.buf.len() >= total {
                    self.buf.drain(..total);
                    return Ok(head.status);
                }
            }
            if self.buf.len() > MAX_HEAD {
                return Err("publish response too long".into());
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("publish read: {e}"))?;
            if n == 0 {
                return Err("publish connection closed".into());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// /proc sampling.

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// (utime, stime) in clock ticks.
fn cpu_ticks(pid: &str) -> (u64, u64) {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
        })
        .unwrap_or((0, 0))
}

/// The soft `Max open files` of a process.
fn fd_limit(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
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
    match rt.block_on(run(args)) {
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

/// The markdown the benchmark script prints and `docs/BENCHMARKS.md` records.
mod report {
    use serde_json::Value;
    use std::fmt::Write as _;

    fn num(v: &Value, key: &str) -> f64 {
        v.pointer(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
    }

    fn find<'a>(rows: &'a [Value], label: &str, mode: &str, subs: f64) -> Option<&'a Value> {
        rows.iter()
            .find(|r| r["label"] == label && r["mode"] == mode && num(r, "/subscribers") == subs)
    }

    /// Renders the absolute table and the ratio table (`ours` against `baseline`).
    pub(super) fn render(path: &std::path::Path) -> Result<String, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let rows: Vec<Value> = text
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut md = String::new();
        let _ = writeln!(
            md,
            "| server | mode | subscribers | connected | RSS / subscriber | server CPU / event | p50 | p99 | max | delivered / expected | gaps / dups | load avg |"
        );
        let _ = writeln!(
            md,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for r in &rows {
            let lat = |q: &str| num(r, &format!("/latency_us/{q}")) / 1000.0;
            let load = r["mode"] == "load";
            let _ = writeln!(
                md,
                "| {} | {}{} | {} | {} | {:.1} KiB | {} | {:.2} ms | {:.2} ms | {:.2} ms | {} / {} | {} / {} | {} |",
                r["label"].as_str().unwrap_or("?"),
                r["mode"].as_str().unwrap_or("?"),
                if load {
                    format!(" {}/s × {} s", r["rate"], r["duration_s"])
                } else {
                    String::new()
                },
                r["subscribers"],
                r["connected"],
                num(r, "/rss_per_sub_bytes") / 1024.0,
                if load {
                    format!("{:.2} µs", num(r, "/server_cpu_us_per_event"))
                } else {
                    "–".into()
                },
                lat("p50"),
                lat("p99"),
                lat("max"),
                r["delivered"],
                r["expected"],
                r["gaps"],
                r["dups"],
                r["loadavg"].as_str().unwrap_or(""),
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "| metric (server ÷ baseline, lower is better) | subscribers | ours (or floor) | baseline | ratio | target | met |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|");
        let mut subs: Vec<f64> = rows.iter().map(|r| num(r, "/subscribers")).collect();
        subs.sort_by(f64::total_cmp);
        subs.dedup();
        for &n in &subs {
            let pairs = [
                (
                    "RSS per idle subscriber",
                    "idle",
                    "/rss_per_sub_bytes",
                    "B",
                    Some(1.0 / 3.0),
                    1.0,
                ),
                (
                    "server CPU per delivered event",
                    "load",
                    "/server_cpu_us_per_event",
                    "µs",
                    Some(1.0 / 3.0),
                    1.0,
                ),
                (
                    "p99 publish→receive latency",
                    "load",
                    "/latency_us/p99",
                    "ms",
                    Some(0.2),
                    1000.0,
                ),
            ];
            // `floor` (sse-floor: one write per event per socket, nothing else) is the least any
            // server can spend here: a target below its ratio cannot be met on this machine.
            for (name, mode, key, unit, target, div) in pairs {
                for who in ["ours", "floor"] {
                    let (Some(ours), Some(base)) =
                        (find(&rows, who, mode, n), find(&rows, "baseline", mode, n))
                    else {
                        continue;
                    };
                    let (o, b) = (num(ours, key), num(base, key));
                    let ratio = o / b;
                    // Targets are stated at 10 000 subscribers; other sizes show the trend.
                    let target = target.filter(|_| n == 10_000.0);
                    let label = if who == "floor" {
                        format!("{name}, floor")
                    } else {
                        name.to_owned()
                    };
                    let _ = writeln!(
                        md,
                        "| {label} | {n} | {:.2} {unit} | {:.2} {unit} | {ratio:.3} | {} | {} |",
                        o / div,
                        b / div,
                        target.map_or("–".into(), |t| format!("≤ {t:.3}")),
                        target.map_or("–", |t| match (who, ratio <= t) {
                            (_, true) => "yes",
                            ("floor", false) => "**unreachable here**",
                            _ => "**no**",
                        }),
                    );
                }
            }
        }
        for r in rows.iter().filter(|r| r["mode"] == "max") {
            let _ = writeln!(
                md,
                "| max subscribers at fd limit ({}) | {} attempted | {} held | {} failed | {:.1} % of the limit | ≈ limit | {} |",
                r["label"].as_str().unwrap_or("?"),
                r["subscribers"],
                r["connected"],
                r["failed"],
                100.0 * num(r, "/connected") / num(r, "/server_fd_limit"),
                if num(r, "/subs_complete") == num(r, "/connected") {
                    "all got the probe"
                } else {
                    "**probe not delivered to all**"
                },
            );
        }
        Ok(md)
    }
}
