//! A scripted HTTP/1.1 server on 127.0.0.1 for client tests: raw TCP, so a test can send exactly the
//! bytes, statuses and headers it wants, cut a connection in the middle of an event, hold a
//! connection silent, or redirect. Every request's head is recorded with its arrival time.
//!
//! The script is a closure `(n, &Request) -> Reply`, called once per connection (`n` counts from 0),
//! so a test says "first connection sends this, every later one sends that". One request per
//! connection: each reply ends with the connection closed (`Connection: close`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A request head as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// When the head was complete.
    pub at: Instant,
    /// `GET`, …
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// Header fields in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No length: the body ends when the server closes the connection.
    Close,
    /// `Transfer-Encoding: chunked`; every `Send` is one chunk.
    Chunked,
}

/// One step of a reply body.
#[derive(Debug, Clone)]
pub enum Act {
    /// Write these body bytes (one chunk when chunked).
    Send(Vec<u8>),
    /// Pause.
    Wait(Duration),
    /// Say nothing until the client closes the connection (bounded by 30 s).
    Hold,
    /// Drop the connection now, without ending the body properly (no final chunk).
    Cut,
}

/// What the server answers on one connection.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    framing: Framing,
    body: Vec<Act>,
    /// Read the request, then close without answering.
    refuse: bool,
    /// Read the request, then say nothing at all (not even a status line) until the client goes.
    silent: bool,
}

impl Reply {
    /// `200` with `Content-Type: text/event-stream`, close-delimited.
    pub fn sse() -> Self {
        Self::status(200).header("Content-Type", "text/event-stream")
    }

    /// A bare status with no body.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            framing: Framing::Close,
            body: Vec::new(),
            refuse: false,
            silent: false,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::status(status)
            .header("Location", location)
            .header("Content-Length", "0")
    }

    /// Accept and close the connection at once, before any response byte.
    pub fn hang_up() -> Self {
        Reply {
            refuse: true,
            ..Self::status(0)
        }
    }

    /// Read the request and never answer (for connect timeouts).
    pub fn silent() -> Self {
        Reply {
            silent: true,
            ..Self::status(0)
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Use chunked transfer encoding.
    pub fn chunked(mut self) -> Self {
        self.framing = Framing::Chunked;
        self
    }

    /// Send body bytes.
    pub fn send(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.body.push(Act::Send(bytes.as_ref().to_vec()));
        self
    }

    /// Pause for `ms` milliseconds.
    pub fn wait_ms(mut self, ms: u64) -> Self {
        self.body.push(Act::Wait(Duration::from_millis(ms)));
        self
    }

    /// Stay silent until the client goes away.
    pub fn hold(mut self) -> Self {
        self.body.push(Act::Hold);
        self
    }

    /// Drop the connection without ending the body.
    pub fn cut(mut self) -> Self {
        self.body.push(Act::Cut);
        self
    }

    fn head(&self) -> Vec<u8> {
        let mut h = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if self.framing == Framing::Chunked {
            h.push_str("Transfer-Encoding: chunked\r\n");
        }
        h.push_str("Connection: close\r\n\r\n");
        h.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

type Script = dyn Fn(usize, &Request) -> Reply + Send + Sync;

/// A running scripted server. Dropping it stops accepting and aborts open connections.
pub struct Scripted {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    accept: JoinHandle<()>,
}

impl Scripted {
    /// Bind 127.0.0.1 on a free port and serve `script`.
    pub async fn start(script: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let recorded = requests.clone();
        let accept = tokio::spawn(async move {
            let mut n = 0usize;
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((sock, _)) = listener.accept().await {
                let (script, recorded) = (script.clone(), recorded.clone());
                let idx = n;
                n += 1;
                conns.spawn(serve_one(sock, idx, script, recorded));
                while conns.try_join_next().is_some() {}
            }
        });
        Scripted {
            addr,
            requests,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// Wait until at least `n` requests arrived, at most `limit`. Returns them.
    pub async fn wait_requests(&self, n: usize, limit: Duration) -> Vec<Request> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.requests();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Upper bound on a request head, so a broken client cannot make the test server grow.
const MAX_HEAD: usize = 16 * 1024;

pub(crate) async fn read_head(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let method = first.next()?.to_string();
            let target = first.next()?.to_string();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            return Some(Request {
                at: Instant::now(),
                method,
                target,
                headers,
            });
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn serve_one(
    mut sock: TcpStream,
    n: usize,
    script: Arc<Script>,
    recorded: Arc<Mutex<Vec<Request>>>,
) {
    let Some(req) = read_head(&mut sock).await else {
        return;
    };
    recorded.lock().expect("lock").push(req.clone());
    let reply = script(n, &req);
    if reply.refuse {
        return;
    }
    let _ = sock.set_nodelay(true);
    if reply.silent {
        hold(&mut sock).await;
        return;
    }
    if sock.write_all(&reply.head()).await.is_err() {
        return;
    }
    for act in &reply.body {
        match act {
            Act::Send(bytes) => {
                let res = if reply.framing == Framing::Chunked {
                    let mut chunk = format!("{:x}\r\n", bytes.len()).into_bytes();
                    chunk.extend_from_slice(bytes);
                    chunk.extend_from_slice(b"\r\n");
                    sock.write_all(&chunk).await
                } else {
                    sock.write_all(bytes).await
                };
                if res.is_err() {
                    return;
                }
            }
            Act::Wait(d) => tokio::time::sleep(*d).await,
            Act::Hold => {
                hold(&mut sock).await;
                return;
            }
            Act::Cut => return,
        }
    }
    if reply.framing == Framing::Chunked {
        let _ = sock.write_all(b"0\r\n\r\n").await;
    }
    let _ = sock.shutdown().await;
}

/// Keep the connection open and silent until the client closes it (at most 30 s).
async fn hold(sock: &mut TcpStream) {
    let mut sink = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while matches!(sock.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}
