//! A seeded chaos TCP proxy on 127.0.0.1: forwards each connection to an upstream server and cuts
//! it after a random number of server-to-client bytes (anywhere: inside the response head, inside
//! an event, between events). After `cuts` cuts it forwards transparently, so a test can finish.
//!
//! Offsets are uniform in `1..=max_offset`, except that one connection in [`LONG_EVERY`] gets up
//! to [`LONG_FACTOR`] × `max_offset`: short cuts make many cuts per second, the long ones let
//! messages larger than `max_offset` (the demo agent's 120 KB tool output) through now and then,
//! and cut others in their middle.
//!
//! The upstream can be switched ([`Chaos::set_upstream`]) to model a server restarting on a new
//! port; while it is down, connections are accepted and closed at once.
//!
//! The offsets come from a seeded generator (splitmix64), so a failing seed can be replayed; which
//! connection gets which offset still depends on scheduling.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// splitmix64: tiny, seedable, good enough to pick offsets.
#[derive(Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=max` (`max` ≥ 1).
    pub fn offset(&mut self, max: usize) -> usize {
        1 + (self.next_u64() % max.max(1) as u64) as usize
    }
}

/// One connection in this many gets a long offset.
pub const LONG_EVERY: u64 = 16;
/// A long offset is up to this many times `max_offset`.
pub const LONG_FACTOR: usize = 64;

struct Shared {
    upstream: Mutex<SocketAddr>,
    rng: Mutex<SplitMix>,
    budget: usize,
    max_offset: usize,
    cut: AtomicUsize,
    connections: AtomicUsize,
}

/// A running chaos proxy. Dropping it stops accepting; open connections end with the test runtime.
pub struct Chaos {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Chaos {
    /// Proxy to `upstream`, cutting connections after 1..=`max_offset` server bytes until `cuts`
    /// cuts were made (a few more may be cut by connections already under way).
    pub async fn start(upstream: SocketAddr, seed: u64, cuts: usize, max_offset: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            rng: Mutex::new(SplitMix::new(seed)),
            budget: cuts,
            max_offset,
            cut: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
        });
        let sh = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                sh.connections.fetch_add(1, Ordering::Relaxed);
                // Connections that end on their own before their offset do not use up the budget.
                let limit = if sh.cut.load(Ordering::Relaxed) < sh.budget {
                    let mut rng = sh.rng.lock().expect("lock");
                    let max = if rng.next_u64().is_multiple_of(LONG_EVERY) {
                        sh.max_offset * LONG_FACTOR
                    } else {
                        sh.max_offset
                    };
                    Some(rng.offset(max))
                } else {
                    None
                };
                let upstream = *sh.upstream.lock().expect("lock");
                tokio::spawn(pipe(client, upstream, limit, sh.clone()));
            }
        });
        Chaos {
            addr,
            shared,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Forward new connections to `upstream` from now on (a restarted server).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().expect("lock") = upstream;
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.shared.cut.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn pipe(mut client: TcpStream, upstream: SocketAddr, limit: Option<usize>, sh: Arc<Shared>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = async {
        let mut buf = vec![0u8; 8 * 1024];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if sw.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 8 * 1024];
        let mut left = limit.unwrap_or(usize::MAX);
        loop {
            let room = buf.len().min(left);
            match sr.read(&mut buf[..room]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if cw.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                    if left == 0 {
                        sh.cut.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }
    };
    // Either direction ending ends the connection (HTTP clients do not half-close): both
    // sockets are dropped together.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}
