//! `sse-host serve`: the HTTP server over the hub.
//!
//! - `listener`: accept loop (hyper HTTP/1.1, per-connection kill switch, graceful drain)
//! - `routes`: the router, auth, CORS, security headers, JSON errors for 404/405
//! - `guard`: the Host check, the cross-site check on writes, tokens, security headers
//! - `fast_stream`: plain `GET /stream` requests answered without hyper (memory per subscriber)
//! - `stream`: `GET /stream` and `GET /api/inbox` (SSE bodies pulled from the hub/inbox)
//! - `handlers`: the JSON endpoints (browser-facing and agent-facing)
//! - `stall`: the stall bound on the writes of hyper's connections
//! - `fds`: the subscriber bound derived from the fd limit
//! - `error`: `{"error": ...}` responses

mod error;
mod fast_stream;
pub mod fds;
pub(crate) mod guard;
mod handlers;
mod listener;
mod routes;
mod stall;
mod stream;

pub use error::ApiError;
pub use listener::ConnKill;
pub(crate) use routes::request_host;

use crate::agent::{self, Agent};
use crate::hub::{Hub, HubConfig};
use crate::inbox::Inbox;
use crate::log::{FileLog, Log, MemoryLog, RedisConfig, RedisLog};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where messages are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// In memory (`--store memory`).
    Memory,
    /// The durable file log in a directory (`--store DIR`).
    File(PathBuf),
    /// A Redis log shared by several nodes (`--store redis://…`).
    Redis(RedisConfig),
}

/// The Durable Streams store: on a directory store, files under `<dir>/durable/` (read back
/// now); on Redis, in Redis next to the log (shared by every node); otherwise in memory.
async fn open_durable(config: &ServerConfig, log: &Log) -> anyhow::Result<crate::durable::Streams> {
    let d = &config.durable;
    let (max_streams, max_bytes) = (d.args.max_streams, d.max_stream_bytes);
    let local = |s: crate::durable::MemoryStreams| {
        crate::durable::Streams::Local(Arc::new(s.with_max_total(d.max_total_bytes)))
    };
    match (&config.store, log) {
        (Store::Redis(_), Log::Redis(log)) => Ok(crate::durable::Streams::Redis(
            crate::durable::RedisStreams::open(log, max_streams, max_bytes, d.max_total_bytes),
        )),
        (Store::File(dir), _) => {
            let dir = dir.join("durable");
            let shown = dir.display().to_string();
            let (store, report) = tokio::task::spawn_blocking(move || {
                crate::durable::MemoryStreams::open_dir(
                    &dir,
                    max_streams,
                    max_bytes,
                    SystemTime::now(),
                )
            })
            .await?
            .map_err(|e| {
                anyhow::anyhow!("cannot open the Durable Streams files in {shown}: {e}")
            })?;
            tracing::info!(
                dir = %shown,
                streams = report.streams,
                truncated = report.truncated,
                "opened the Durable Streams files"
            );
            Ok(local(store))
        }
        _ => Ok(local(crate::durable::MemoryStreams::new(
            max_streams,
            max_bytes,
        ))),
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind (port 0 picks one).
    pub bind: SocketAddr,
    /// Message store.
    pub store: Store,
    /// The agent behind the hub.
    pub agent: Agent,
    /// Bearer token required on every write (`/api/*`, `/chat`, `/cancel`, `/restart`) and,
    /// unless `open_reads`, on every read (`/stream`, `/state`, `/messages`, `/download`,
    /// `/metrics`). `None`: writes are open.
    pub token: Option<String>,
    /// A second token that allows reads only (devices, dashboards). With it set, reads need a
    /// token even without `token` (the CLI refuses that combination: writes would be open).
    pub read_token: Option<String>,
    /// Reads stay open although a token is set.
    pub open_reads: bool,
    /// Host names served besides the loopback names. On a loopback bind only loopback names
    /// and these are served (DNS rebinding); on another bind any host is, unless this is not
    /// empty.
    pub allowed_hosts: Vec<String>,
    /// Largest request body in bytes (413 beyond).
    pub max_body: usize,
    /// Allowed CORS origin; CORS is off when `None`.
    pub cors_origin: Option<String>,
    /// Hub tuning (heartbeat, bounds, max subscribers).
    pub hub: HubConfig,
    /// Durable Streams under `/v1/stream/` (bounds, long-poll wait).
    pub durable: crate::durable::DurableConfig,
    /// Retention of the memory log: keep only the newest N messages (`None`: all).
    pub max_messages: Option<usize>,
    /// File log: repair a damaged log at start instead of refusing (`serve --repair`).
    pub repair_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: Store::File(PathBuf::from("./sse-data")),
            agent: Agent::None,
            token: None,
            read_token: None,
            open_reads: false,
            allowed_hosts: Vec::new(),
            max_body: 8 << 20,
            cors_origin: None,
            hub: HubConfig::default(),
            durable: crate::durable::DurableConfig::default(),
            max_messages: None,
            repair_log: false,
        }
    }
}

/// Shared by every handler.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) hub: Hub,
    pub(crate) inbox: Arc<Inbox>,
    /// Questions waiting for the agent's answer.
    pub(crate) replies: Arc<crate::replies::Replies>,
    pub(crate) config: ServerConfig,
    /// Durable Streams (`/v1/stream/`), on the store `--store` names.
    pub(crate) durable: crate::durable::Streams,
    /// Flips to `true` at shutdown; ends inbox streams.
    pub(crate) closing: watch::Receiver<bool>,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    hub: Hub,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    agent: Option<JoinHandle<()>>,
}

impl Server {
    /// Opens the store, binds, starts the agent and serves in the background.
    ///
    /// # Errors
    /// The store cannot be opened (or is not built yet), or the address cannot be bound.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Server> {
        if config.max_body > crate::log::MAX_RECORD {
            anyhow::bail!(
                "max_body {} exceeds the largest record the log stores ({} bytes)",
                config.max_body,
                crate::log::MAX_RECORD
            );
        }
        let log = match &config.store {
            Store::Memory => Log::Memory(MemoryLog::with_max_messages(config.max_messages)),
            Store::File(dir) => {
                let dir = dir.clone();
                let repair = config.repair_log;
                let (log, report) =
                    tokio::task::spawn_blocking(move || FileLog::open_with(&dir, repair)).await??;
                tracing::info!(
                    records = report.records,
                    truncated_bytes = report.truncated_bytes,
                    created = report.created,
                    migrated_from = report.migrated_from,
                    repaired = report.repair.is_some(),
                    new_epoch = report.repair.as_ref().is_some_and(|r| r.new_epoch),
                    "opened the file log"
                );
                if repair && report.repair.is_none() {
                    tracing::info!("--repair: the file log was not damaged; nothing to repair");
                }
                Log::File(log)
            }
            Store::Redis(redis) => {
                let log = RedisLog::open(redis).await.map_err(|e| {
                    anyhow::anyhow!(
                        "cannot open the Redis log {} at {}: {e}",
                        redis.key,
                        redis.url
                    )
                })?;
                let extent = log.extent();
                tracing::info!(
                    key = log.key(),
                    first = extent.first.0,
                    messages = extent.end.0,
                    "joined the Redis log"
                );
                Log::Redis(log)
            }
        };
        let durable = open_durable(&config, &log).await?;
        let hub = Hub::new(log, config.hub.clone());
        let inbox = Arc::new(Inbox::new());
        let replies = Arc::new(crate::replies::Replies::default());
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let (stop, closing) = watch::channel(false);
        let agent = agent::spawn(
            &config.agent,
            hub.clone(),
            Arc::clone(&inbox),
            Arc::clone(&replies),
            closing.clone(),
        )
        .await?;
        let app = Arc::new(App {
            hub: hub.clone(),
            inbox,
            replies,
            durable,
            config,
            closing: closing.clone(),
        });
        let router = routes::router(Arc::clone(&app));
        // `SSE_STREAM_VIA_HYPER=1` serves every stream through hyper (for A/B benchmarks).
        let fast =
            std::env::var_os("SSE_STREAM_VIA_HYPER").is_none_or(|v| v.is_empty() || v == "0");
        let mut stop_rx = closing;
        let task = tokio::spawn(listener::serve(listener, router, app, fast, async move {
            let _ = stop_rx.wait_for(|closing| *closing).await;
        }));
        tracing::info!(%addr, epoch = %hub.epoch(), "serving");
        fds::log_report();
        Ok(Server {
            addr,
            hub,
            stop,
            task,
            agent,
        })
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hub (to publish in-process).
    #[must_use]
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Graceful shutdown: stop accepting, end every stream, drain connections, flush the log.
    ///
    /// # Errors
    /// The log flush failed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let flushed = self.hub.shutdown().await;
        let _ = self.task.await;
        if let Some(agent) = self.agent {
            agent.abort();
            let _ = agent.await;
        }
        flushed?;
        tracing::info!("stopped; log flushed");
        Ok(())
    }
}

/// Listens for SIGINT and SIGTERM from this call on; the future resolves at the first one,
/// even one sent before it is first polled. Call it before [`Server::start`]: a signal that
/// arrives while the server starts (opening a long log, waiting for Redis) is then a graceful
/// stop, not the default action, which kills the process without a shutdown.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match streams {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
