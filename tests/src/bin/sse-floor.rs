//! The kernel floor of the fan-out benchmark (`tests/load/run.sh`, docs/BENCHMARKS.md): the
//! least CPU any server can spend per delivered event on this machine, measured with the same
//! load generator as `sse-host` and the axum baseline.
//!
//! It is not a server anyone should run. It does exactly what every SSE server must do for a
//! live event and nothing else: frame the message once (sse-core's encoder), then make one
//! `write` per subscriber socket. No async runtime, no HTTP library on the stream path, no
//! resume, no heartbeat, no backpressure handling (a subscriber that stops reading blocks its
//! fan-out thread: fine for a measurement, fatal for a server). Subscribers are split over
//! `--threads` fan-out threads, so a fan-out can use every core.
//!
//! Same two endpoints as the others: `POST /api/messages` → `{"idx":N}` (one thread per
//! publishing connection, keep-alive), `GET /stream` (answered with fixed headers; the body is
//! read to close, so no chunked framing).
//!
//! ```text
//! sse-floor --bind 127.0.0.1:8091 --threads 2
//! ```

use clap::Parser as _;
use sse_core::event::{EventId, EventName, Frame};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// Longest request head read (bytes).
const MAX_HEAD: usize = 16 << 10;
/// Largest `POST /api/messages` body accepted (bytes).
const MAX_BODY: usize = 1 << 20;
/// Queued messages per fan-out thread before a publish waits.
const QUEUE: usize = 1024;

#[derive(Debug, clap::Parser)]
#[command(
    name = "sse-floor",
    about = "The least a server can do per delivered SSE event (benchmark floor, loopback)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8091")]
    bind: SocketAddr,
    /// Fan-out threads; subscribers are dealt to them in turn.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// What the accept loop hands a fan-out thread.
enum Work {
    Subscriber(TcpStream),
    Frame(Arc<[u8]>),
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.bind)?;
    eprintln!("sse-floor listening on {}", listener.local_addr()?);
    let shards: Vec<mpsc::SyncSender<Work>> = (0..args.threads.max(1))
        .map(|_| {
            let (tx, rx) = mpsc::sync_channel(QUEUE);
            std::thread::spawn(move || fan_out(&rx));
            tx
        })
        .collect();
    let shards = Arc::new(shards);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        // A thread per connection reads its head (a publisher may connect long before it
        // sends a request); subscribers then move to their fan-out thread.
        let (shards, next) = (Arc::clone(&shards), Arc::clone(&next));
        let spawned = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || route(conn, &shards, &next));
        if let Err(e) = spawned {
            eprintln!("sse-floor: thread: {e}");
        }
    }
    Ok(())
}

/// Reads one request head and serves it: a subscriber goes to the next fan-out thread, a
/// publisher is served on this thread.
fn route(
    mut conn: TcpStream,
    shards: &[mpsc::SyncSender<Work>],
    next: &std::sync::atomic::AtomicUsize,
) {
    let _ = conn.set_nodelay(true);
    let Some(head) = read_head(&mut conn) else {
        return;
    };
    if head.starts_with("GET /stream") {
        let ok = conn.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        );
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if ok.is_ok()
            && let Some(shard) = shards.get(i % shards.len().max(1))
        {
            let _ = shard.send(Work::Subscriber(conn));
        }
    } else if head.starts_with("POST /api/messages") {
        let _ = conn.set_read_timeout(None);
        publisher(conn, head, shards);
    } else {
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    }
}

/// One fan-out thread: owns its subscribers; writes every frame to each of them once.
fn fan_out(rx: &mpsc::Receiver<Work>) {
    let mut subscribers: Vec<TcpStream> = Vec::new();
    while let Ok(work) = rx.recv() {
        match work {
            Work::Subscriber(conn) => subscribers.push(conn),
            Work::Frame(frame) => subscribers.retain_mut(|s| s.write_all(&frame).is_ok()),
        }
    }
}

/// Reads a request head byte by byte (the only reads on this path are one head per
/// subscriber), up to [`MAX_HEAD`] bytes.
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD || conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

/// Serves one keep-alive publishing connection: each `POST /api/messages` body (a JSON
/// object) gets `"idx"` added, is framed once and handed to every fan-out thread.
fn publisher(conn: TcpStream, first_head: String, shards: &[mpsc::SyncSender<Work>]) {
    static NEXT_IDX: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut head = first_head;
    loop {
        let len = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if len > MAX_BODY {
            return;
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let idx = NEXT_IDX.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice(&body) else {
            let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            return;
        };
        obj.insert("idx".into(), idx.into());
        let json = serde_json::Value::Object(obj).to_string();
        let id = idx.to_string();
        let (Ok(name), Ok(id)) = (EventName::new("message"), EventId::new(&id)) else {
            return;
        };
        let frame = Frame::new().event(name).id(id).data(&json);
        let mut bytes = vec![0; frame.encoded_len()];
        if frame.encode(&mut bytes).is_err() {
            return;
        }
        let bytes: Arc<[u8]> = bytes.into();
        for shard in shards {
            let _ = shard.send(Work::Frame(Arc::clone(&bytes)));
        }
        let reply = format!("{{\"idx\":{idx}}}");
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
        // The next request head on this keep-alive connection.
        head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) if head.len() + line.len() > MAX_HEAD => return,
                Ok(_) => head.push_str(&line),
            }
        }
    }
}
