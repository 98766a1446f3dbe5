//! A minimal stand-in for `sse-host serve`'s `/stream` (DESIGN.md §3 subset) for client chaos
//! tests: a message log with an epoch, `from` + `Last-Event-ID` resume decided by the core's
//! `ResumeRequest`, `retry:`, `state` first, `reset` when the resume point is not in the log, and
//! live messages. Frames come from the core encoder. Raw TCP, close-delimited bodies.
//!
//! `replace_log` models a restart with a memory log (new epoch, empty history).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sse_core::encode::BufferTooSmall;
use sse_core::event::{EventId, EventName, Frame};
use sse_core::seq::{Resume, ResumeRequest, Window, parse_index};
use sse_core::{Duration, Seq};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::scripted::read_head;

#[derive(Debug, Default)]
struct Log {
    epoch: String,
    messages: Vec<String>,
}

/// A running log server.
pub struct LogServer {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    changed: watch::Sender<u64>,
    accept: JoinHandle<()>,
}

/// Encode one frame with the core encoder.
pub fn frame(event: &str, id: Option<&str>, data: &str) -> Vec<u8> {
    let mut f = Frame::new().data(data);
    if let Ok(name) = EventName::new(event) {
        f = f.event(name);
    }
    if let Some(id) = id.and_then(|i| EventId::new(i).ok()) {
        f = f.id(id);
    }
    let mut out = vec![0u8; f.encoded_len()];
    match f.encode(&mut out) {
        Ok(n) => out.truncate(n),
        Err(BufferTooSmall { .. }) => out.clear(),
    }
    out
}

impl LogServer {
    /// Bind 127.0.0.1 and serve an empty log with epoch `epoch`.
    pub async fn start(epoch: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log = Arc::new(Mutex::new(Log {
            epoch: epoch.into(),
            messages: Vec::new(),
        }));
        let (changed, _) = watch::channel(0u64);
        let (l, c) = (log.clone(), changed.clone());
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, l.clone(), c.subscribe()));
            }
        });
        LogServer {
            addr,
            log,
            changed,
            accept,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Append a message; returns its index. `data` is `{"idx":N,"content":...}`.
    pub fn publish(&self, content: &str) -> u64 {
        let mut log = self.log.lock().expect("lock");
        let idx = log.messages.len() as u64;
        let data = serde_json::json!({"idx": idx, "type": "agent", "content": content}).to_string();
        log.messages.push(data);
        drop(log);
        self.changed.send_modify(|v| *v += 1);
        idx
    }

    /// Every message data so far.
    pub fn messages(&self) -> Vec<String> {
        self.log.lock().expect("lock").messages.clone()
    }

    /// A new, empty log under a new epoch (a memory-log server restarted).
    pub fn replace_log(&self, epoch: &str) {
        let mut log = self.log.lock().expect("lock");
        log.epoch = epoch.into();
        log.messages.clear();
        drop(log);
        self.changed.send_modify(|v| *v += 1);
    }
}

impl Drop for LogServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn state(log: &Log) -> String {
    serde_json::json!({"epoch": log.epoch, "message_count": log.messages.len()}).to_string()
}

async fn serve(mut sock: TcpStream, log: Arc<Mutex<Log>>, mut changed: watch::Receiver<u64>) {
    let Some(req) = read_head(&mut sock).await else {
        return;
    };
    let from = req
        .target
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("from=")))
        .and_then(|v| parse_index(v).ok());
    let lei = req
        .header("last-event-id")
        .and_then(|v| parse_index(v).ok());
    let ask = ResumeRequest {
        from,
        last_event_id: lei,
    };
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n".to_vec();
    out.extend(
        Frame::new()
            .retry(Duration::from_millis(1))
            .encoded_to_vec(),
    );
    let (mut next, epoch) = {
        let log = log.lock().expect("lock");
        out.extend(frame("state", None, &state(&log)));
        let window = Window {
            first: Seq::ZERO,
            end: Seq(log.messages.len() as u64),
        };
        let next = match ask.decide(window) {
            Resume::Replay { from } => from.0,
            Resume::Reset { from } => {
                let data =
                    serde_json::json!({"epoch": log.epoch, "message_count": log.messages.len()});
                out.extend(frame("reset", None, &data.to_string()));
                from.0
            }
        };
        (next, log.epoch.clone())
    };
    loop {
        {
            let log = log.lock().expect("lock");
            if log.epoch != epoch {
                return; // this log is gone: end the stream, the client reconnects
            }
            while (next as usize) < log.messages.len() {
                out.extend(frame(
                    "message",
                    Some(&next.to_string()),
                    &log.messages[next as usize],
                ));
                next += 1;
            }
        }
        if !out.is_empty() && sock.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
        if changed.changed().await.is_err() {
            return;
        }
    }
}

trait EncodedToVec {
    fn encoded_to_vec(&self) -> Vec<u8>;
}

impl EncodedToVec for Frame<'_> {
    fn encoded_to_vec(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.encoded_len()];
        let n = self.encode(&mut out).unwrap_or(0);
        out.truncate(n);
        out
    }
}
