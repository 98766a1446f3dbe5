//! Helpers for the Redis tests: a real `redis-server` on 127.0.0.1 (a free port, a temporary
//! directory, killed on drop) and `sse-host serve --store redis://…` nodes, in-process or as
//! real processes that a test can kill.
//!
//! `redis-server` must be installed (`.ci/setup` installs it). Without it these helpers panic
//! with a message saying so: a missing Redis fails the tests, it never skips them.

use crate::server::{self, WAIT};
use sse_host::log::RedisConfig;
use sse_host::server::{ServerConfig, Store};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether Redis keeps what it acknowledged across its own restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--save '' --appendonly no`: a restart loses everything.
    None,
    /// `--appendonly yes --appendfsync always`: every acknowledged write survives a restart.
    Aof,
}

/// A `redis-server` child process. Killed (and its directory removed) on drop.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    /// Serving TLS only (`rediss://`), with these files.
    tls: Option<TlsFiles>,
    /// With TLS: refuse clients without a certificate from the CA (`tls-auth-clients yes`).
    client_auth: bool,
    /// A Redis Cluster node (`cluster-enabled yes`), see [`RedisCluster`].
    cluster: bool,
    child: Option<Child>,
}

/// PEM files for a TLS Redis: a private CA, and a certificate for 127.0.0.1 and a client
/// certificate it signed.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate: what `--redis-ca` points clients at.
    pub ca: PathBuf,
    /// The server's certificate and key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A client certificate and key (`--redis-cert`, `--redis-cert-key`).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// Makes a fresh CA and a server certificate for `127.0.0.1` and `localhost` in `dir`.
    ///
    /// # Panics
    /// When key generation or writing the files fails (test set-up).
    #[must_use]
    pub fn create(dir: &Path) -> TlsFiles {
        let issued = crate::tls::issue_for_localhost();
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        std::fs::write(&files.ca, &issued.ca_pem).expect("write ca.pem");
        std::fs::write(&files.cert, &issued.cert_pem).expect("write server.pem");
        std::fs::write(&files.key, &issued.key_pem).expect("write server.key");
        std::fs::write(&files.client_cert, &issued.client_cert_pem).expect("write client.pem");
        std::fs::write(&files.client_key, &issued.client_key_pem).expect("write client.key");
        files
    }
}

/// Attempts at starting a test server on a free port: another process may take the port
/// between [`free_port`] and the server's bind, and then the server is started on another.
pub const PORT_TRIES: usize = 3;

/// A port nobody listens on right now (it may be taken before it is used: see [`PORT_TRIES`]).
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn temp_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sse-redis-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    /// When `redis-server` is not installed or does not come up within [`WAIT`].
    #[must_use]
    pub fn start(persistence: Persistence) -> RedisServer {
        let mut r = Self::unstarted(temp_dir());
        r.persistence = persistence;
        r.started()
    }

    /// A plain, non-persistent, stand-alone server on a free port, not yet running.
    fn unstarted(dir: PathBuf) -> RedisServer {
        RedisServer {
            port: free_port(),
            dir,
            persistence: Persistence::None,
            tls: None,
            client_auth: false,
            cluster: false,
            child: None,
        }
    }

    /// Spawns it and waits until it answers. If it exits first, another process took its
    /// port between [`free_port`] and its bind: it is started again on a new port (at most
    /// [`PORT_TRIES`] times).
    fn started(mut self) -> RedisServer {
        for _ in 1..PORT_TRIES {
            if self.try_spawn() {
                return self;
            }
            self.port = free_port();
        }
        self.spawn();
        self
    }

    /// Starts `redis-server` serving TLS only (no plain port), with a certificate from a
    /// private CA ([`TlsFiles`]), and waits until it accepts connections.
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    #[must_use]
    pub fn start_tls() -> RedisServer {
        Self::start_tls_with(false)
    }

    /// As [`RedisServer::start_tls`], and clients must present a certificate from the same CA
    /// ([`TlsFiles::client_cert`]).
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    #[must_use]
    pub fn start_mutual_tls() -> RedisServer {
        Self::start_tls_with(true)
    }

    fn start_tls_with(client_auth: bool) -> RedisServer {
        let dir = temp_dir();
        let mut r = Self::unstarted(dir.clone());
        r.tls = Some(TlsFiles::create(&dir));
        r.client_auth = client_auth;
        r.started()
    }

    /// The TLS files, for a server from [`RedisServer::start_tls`].
    #[must_use]
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "redis-server exited at start on port {} (the port is taken?)",
            self.port
        );
    }

    /// Spawns it and waits until it answers: `false` if it exited instead.
    fn try_spawn(&mut self) -> bool {
        let mut cmd = Command::new("redis-server");
        let port = self.port.to_string();
        match &self.tls {
            None => cmd.args(["--port", &port]),
            Some(tls) => cmd
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    if self.client_auth { "yes" } else { "no" },
                ])
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca),
        };
        if self.cluster {
            cmd.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .arg("--cluster-config-file")
                .arg(self.dir.join("nodes.conf"));
        }
        cmd.args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match self.persistence {
            Persistence::None => cmd.args(["--appendonly", "no"]),
            Persistence::Aof => cmd.args(["--appendonly", "yes", "--appendfsync", "always"]),
        };
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run redis-server ({e}). The Redis tests need it installed: \
                 `bash .ci/setup` (or `apt-get install redis-server`)"
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while !self.answers_ping() {
            if let Some(child) = &mut self.child
                && let Ok(Some(_)) = child.try_wait()
            {
                self.child = None;
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within {WAIT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Answers `PING` (plain), or accepts connections (TLS: the handshake is the client's).
    fn answers_ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls.is_some() {
            return true;
        }
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:PORT/0`, or `rediss://…` for a TLS server.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (what an AOF kept comes back).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

/// A Redis Cluster of masters on 127.0.0.1 (no replicas), each a [`RedisServer`] child
/// process, its slots assigned by `redis-cli --cluster create`. Killed on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` (at least 3, as Redis requires) cluster-enabled servers, joins them and
    /// waits until every one reports `cluster_state:ok`.
    ///
    /// # Panics
    /// When `redis-server` or `redis-cli` is missing or the cluster does not form within
    /// [`WAIT`] (test set-up).
    #[must_use]
    pub fn start(masters: usize) -> RedisCluster {
        Self::start_with_replicas(masters, 0)
    }

    /// As [`RedisCluster::start`], with `replicas` replicas per master (servers
    /// `masters..`), so a master's death is followed by a failover.
    ///
    /// # Panics
    /// As [`RedisCluster::start`].
    #[must_use]
    pub fn start_with_replicas(masters: usize, replicas: usize) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..masters * (1 + replicas))
            .map(|_| {
                let mut r = RedisServer::unstarted(temp_dir());
                r.cluster = true;
                r.started()
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + WAIT;
        while !cluster
            .nodes
            .iter()
            .all(|n| cluster_info(n.port).is_some_and(|info| info.contains("cluster_state:ok")))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster did not form within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// `redis://127.0.0.1:PORT/0` of master `i`: any one is a seed for the whole cluster.
    #[must_use]
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// Kills server `i` (SIGKILL), as a crash would.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].stop();
    }

    /// Whether server `i` is a master now (`ROLE`); `false` if it does not answer.
    #[must_use]
    pub fn is_master(&self, i: usize) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.nodes[i].port.to_string(), "ROLE"])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).starts_with("master"))
    }

    /// How many keys each server holds (`DBSIZE`; a replica holds its master's), in order.
    ///
    /// # Panics
    /// When `redis-cli` cannot ask (test set-up).
    #[must_use]
    pub fn key_counts(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| {
                let out = Command::new("redis-cli")
                    .args(["-p", &n.port.to_string(), "DBSIZE"])
                    .output()
                    .expect("redis-cli DBSIZE");
                // A server that does not answer (killed) counts as empty.
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// `CLUSTER INFO` of the node on `port`, if it answers.
fn cluster_info(port: u16) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "CLUSTER", "INFO"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test node config over the Redis log at `url` under `key` (port 0, no agent, heartbeat
/// every `heartbeat`).
#[must_use]
pub fn node_config(url: &str, key: &str, max_len: Option<u64>) -> ServerConfig {
    ServerConfig {
        store: Store::Redis(RedisConfig {
            url: url.to_owned(),
            ca: None,
            client_cert: None,
            cluster: false,
            key: key.to_owned(),
            max_len,
        }),
        ..server::config()
    }
}

/// `sse-host serve --store URL` as a child process (so a test can SIGKILL it). Killed on drop.
pub struct NodeProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl NodeProcess {
    /// Starts the real binary on a free port and waits until `/state` answers.
    ///
    /// # Panics
    /// When it does not come up within [`WAIT`].
    pub async fn start(url: &str, key: &str) -> NodeProcess {
        for _ in 1..PORT_TRIES {
            if let Some(node) = Self::try_start(url, key).await {
                return node;
            }
        }
        Self::try_start(url, key)
            .await
            .expect("sse-host serve exited at start (its port is taken?)")
    }

    /// One start on a free port: `None` if the process exited instead of listening (another
    /// process took the port first).
    async fn try_start(url: &str, key: &str) -> Option<NodeProcess> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(crate::host_bin::path())
            .args(["serve", "--bind", &addr.to_string(), "--store", url])
            .args(["--redis-key", key, "--heartbeat", "1s"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sse-host serve");
        let mut node = NodeProcess { addr, child };
        let up = crate::eventually(
            &format!("sse-host serve listening on {addr}"),
            WAIT,
            async || {
                if let Ok(Some(_)) = node.child.try_wait() {
                    return Some(false);
                }
                tokio::net::TcpStream::connect(addr)
                    .await
                    .is_ok()
                    .then_some(true)
            },
        )
        .await;
        up.then_some(node)
    }

    /// SIGKILL: no graceful shutdown, connections just break.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
