//! Subscribers: one `GET /stream` connection each, many per single-threaded runtime. The body
//! is unframed by [`Body`] and parsed by sse-core's [`Parser`], the same WHATWG parser every
//! client of this project uses; each `message` event is checked for order (its index from
//! [`id_index`]) and timed (the `lg:<ns>` stamp in its data).

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use sse_core::parse::{Parser, Step};
use sse_core::seq::id_index;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::http::{Body, parse_head};
use crate::{Args, Counters, MAX_HEAD, READ_BUF, WorkerStats, now_ns};

/// The parser's bound on an `event:` or `id:` value and a comment: room for the longest
/// `<epoch>-<idx>` id. A longer one closes the subscriber (a protocol error).
const LINE: usize = 64;
/// The parser's bound on one event's data. The default message (`--pad 200`) is about 300
/// bytes; a longer one is cut, and its `lg:` stamp, near the front, still counts.
const DATA: usize = 1024;

/// One subscriber's reader: the body framing, sse-core's parser (boxed: about 1.4 KB, which
/// is most of what a subscriber costs the load generator) and the last `message` idx.
#[derive(Debug)]
pub(crate) struct Conn {
    body: Body,
    parser: Box<Parser<LINE, DATA>>,
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
            body: Body::new(chunked),
            parser: Box::new(Parser::new()),
            last_idx: None,
        }
    }

    /// Feeds response body bytes. `Err`: the stream is unusable (close it).
    fn feed(&mut self, input: &[u8], sink: &mut Sink<'_>) -> Result<(), String> {
        let Conn {
            body,
            parser,
            last_idx,
        } = self;
        body.feed(input, |mut data| {
            loop {
                match parser.push(&mut data) {
                    Ok(Step::NeedMore) => return Ok(()),
                    Ok(Step::Event(ev)) if ev.event_type == "message" => {
                        let id = id_index(ev.last_event_id).ok().map(|s| s.0);
                        dispatch(last_idx, id, stamp(ev.data), sink);
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("SSE: {e}")),
                }
            }
        })
    }
}

/// The send time a message's data carries (`lg:<ns>` in its content).
fn stamp(data: &str) -> Option<u64> {
    let at = data.find("lg:")?;
    let digits = data.get(at + 3..)?;
    let end = digits
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits.get(..end)?.parse().ok()
}

/// Counts one `message` event: a duplicate, a gap, or a delivery with its latency.
fn dispatch(last_idx: &mut Option<u64>, id: Option<u64>, sent: Option<u64>, sink: &mut Sink<'_>) {
    let Some(id) = id else {
        return;
    };
    let stats = &mut *sink.stats;
    match *last_idx {
        Some(prev) if id <= prev => {
            stats.dups += 1;
            return;
        }
        Some(prev) => stats.gaps += id - prev - 1,
        None => {}
    }
    *last_idx = Some(id);
    if let Some(r) = stats.received.get_mut(sink.slot) {
        *r = r.saturating_add(1);
    }
    sink.delivered += 1;
    if let Some(sent) = sent {
        let us = sink.now_ns.saturating_sub(sent) / 1000;
        stats.latency_us.saturating_record(us.max(1));
    }
}

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
pub(crate) fn worker(
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
