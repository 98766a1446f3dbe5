//! The shared log on Redis Streams (`serve --store redis://HOST:PORT/DB`): several nodes, one
//! conversation. Any node accepts a publish; every node's subscribers receive it.
//!
//! Keys, under a per-conversation prefix `P` (`--redis-key`, default `sse:default`):
//! - `P:meta`, a hash: `epoch`, `next` (the next message index = message count), `first` (the
//!   oldest index kept), `state` (the stored state object as JSON) and `state_version`.
//! - `P:log`, a stream: message `idx` is the entry with ID `<idx>-1` and fields `m` (the
//!   message JSON, `idx` included) and `f` (the first index kept after this append). The ID
//!   encodes the index, so `XRANGE P:log <from> + COUNT n` reads from any index and
//!   `XREAD … P:log <end>-0` waits for index `end` and later.
//! - `P:state`, a stream of state changes (capped at [`STATE_STREAM_LEN`]): entry `<v>-1`
//!   with field `s`, the state JSON of version `v`. It is the change notification: each node
//!   reads it with the same blocking read as the log and keeps the newest version.
//! - `P:req:<random>`, one per append for [`REQUEST_KEY_TTL_S`] seconds: the index it got,
//!   so a retried append returns that index instead of appending again.
//!
//! **Invariants.**
//! - Indices are dense and strictly increasing across every node: the append script assigns
//!   `idx = HINCRBY next` and `XADD`s entry `<idx>-1` in one atomic step. The node builds the
//!   JSON around the index (`head .. idx .. tail`), so nothing is re-serialised.
//! - The epoch is created once (`HSETNX`) by whichever node starts first, and every append
//!   and state update checks it inside the script: if Redis lost its data (restarted without
//!   persistence, flushed), the append fails instead of silently reusing indices of the old
//!   log, and the next resynchronisation creates (or adopts) the new epoch.
//! - The state is merged on the node and written with compare-and-set on `state_version`
//!   (retried at most [`STATE_CAS_TRIES`] times), so concurrent patches on different nodes all
//!   apply, in a single order every node sees.
//! - Retention (`--redis-max-len N`): exact. The append script advances `first` to
//!   `idx + 1 - N` and trims with `XADD … MINID <first>`, so `first` is the same number on
//!   every node and every index `>= first` is readable. A client resuming below it gets
//!   `reset`.
//! - "Nothing acknowledged is lost" holds as far as Redis keeps what it acknowledged: run it
//!   with `appendonly yes` and `appendfsync always` for that guarantee.
//!
//! Failures: every command is retried a few times within [`OP_TIMEOUT`] (safe: appends carry
//! a request key, so a retried append whose first reply was lost is not appended twice),
//! then fails as [`LogError::Redis`], which the HTTP layer answers with 503.
//!
//! Connections: commands go through one
//! [`ConnectionManager`](redis::aio::ConnectionManager) (multiplexed, reconnects by itself after
//! Redis restarts); each tail owns one more connection for its blocking `XREAD`, re-opened after
//! any error. Every command is bounded by [`OP_TIMEOUT`].
//!
//! **Redis Cluster** (`--redis-cluster`, the URL names any one node): the prefix becomes a hash
//! tag, `{P}` (unless it already holds one), so every key of a conversation lives in one slot
//! and the scripts and the two-stream `XREAD` stay single-slot operations. Commands go through
//! a cluster connection, which follows slot moves and failovers itself.

pub(crate) mod conn;
mod entry;
mod scripts;
mod tail;

pub use tail::Tail;

use super::{Extent, LogError, Record};
use redis::{AsyncCommands, Script, Value as RValue};
use serde_json::{Map, Value};
use sse_core::Seq;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use conn::{Client, Conn, client, retrying, stored_prefix, timed};
use entry::{parse_state, record};
use scripts::{APPEND, INIT, SET_STATE};

/// Longest wait for one Redis command (a publish answers 503 after this at worst).
pub const OP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one blocking read waits for new entries before the tail re-checks the epoch.
pub const BLOCK: Duration = Duration::from_secs(5);
/// Entries taken per blocking read.
pub const READ_COUNT: usize = 256;
/// Entries fetched per range read (`XRANGE … COUNT`); bounds one catch-up read's memory.
pub const RANGE_COUNT: usize = 64;
/// State versions kept in the `P:state` stream (nodes only need the newest).
pub const STATE_STREAM_LEN: u64 = 16;
/// Compare-and-set attempts of one state update before it fails as a conflict.
pub const STATE_CAS_TRIES: usize = 16;
/// Pauses between attempts of one command that failed (a dropped connection is re-opened by
/// the connection manager meanwhile). Every attempt is safe to repeat: appends carry a request
/// key, state writes are compare-and-set of an idempotent merge, reads are reads.
const RETRY_PAUSES_MS: [u64; 4] = [0, 50, 200, 500];
/// How long an append's request key is kept (a retry after this would append twice).
pub const REQUEST_KEY_TTL_S: u64 = 60;

/// Where a Redis log lives and how long it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://HOST:PORT/DB`, or `rediss://…` for TLS.
    pub url: String,
    /// With `rediss://`: a PEM file of the CA certificate(s) the server's certificate must
    /// chain to, instead of the system's trust store.
    pub ca: Option<std::path::PathBuf>,
    /// With `rediss://`: the certificate this node presents, for a Redis that authenticates
    /// clients by certificate (`tls-auth-clients yes`).
    pub client_cert: Option<ClientCert>,
    /// The URL names a node of a Redis Cluster (or several, comma-separated: connections try
    /// each): discover the others, and keep the conversation's keys in one slot (the prefix
    /// becomes the hash tag `{P}`).
    pub cluster: bool,
    /// Key prefix of this conversation (`P` above).
    pub key: String,
    /// Messages kept in the stream; `None` keeps all.
    pub max_len: Option<u64>,
}

/// A client certificate for mutual TLS: two PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate (chain), leaf first.
    pub cert: std::path::PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

/// A node's handle on the shared log. Cheap to clone.
#[derive(Clone)]
pub struct RedisLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("key", &self.inner.key)
            .field("extent", &self.extent())
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: Client,
    conn: Conn,
    key: String,
    meta: String,
    log: String,
    states: String,
    max_len: u64,
    init: Script,
    append: Script,
    set_state: Script,
    /// What this node has seen: the epoch, `first..end` and the newest state.
    epoch: RwLock<Arc<str>>,
    first: AtomicU64,
    end: AtomicU64,
    state: Mutex<(u64, Map<String, Value>)>,
    bytes: AtomicU64,
}

/// The store's metadata as the init script returns it.
#[derive(Debug)]
struct Meta {
    epoch: Arc<str>,
    next: u64,
    first: u64,
    state_version: u64,
    state: Map<String, Value>,
}

/// What one blocking read brought.
#[derive(Debug, Default)]
pub struct Changes {
    /// New messages, in index order (a gap means entries were trimmed before they were read).
    pub records: Vec<Record>,
    /// A newer state: its version and object.
    pub state: Option<(u64, Map<String, Value>)>,
    /// The store's epoch changed (its data was lost or replaced): drop everything cached.
    pub rebased: bool,
}

/// `HMGET PREFIX:meta epoch next first state_version state`.
type MetaReply = (
    Option<String>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<String>,
);

impl RedisLog {
    /// Connects, creates the log if it does not exist (a new epoch) or joins it.
    ///
    /// # Errors
    /// A bad URL, or Redis unreachable.
    pub async fn open(config: &RedisConfig) -> Result<RedisLog, LogError> {
        let client = client(config)?;
        let conn = client.commands().await?;
        let prefix = stored_prefix(&config.key, config.cluster);
        let inner = Inner {
            client,
            conn,
            meta: format!("{prefix}:meta"),
            log: format!("{prefix}:log"),
            states: format!("{prefix}:state"),
            key: prefix,
            max_len: config.max_len.unwrap_or(0),
            init: Script::new(INIT),
            append: Script::new(APPEND),
            set_state: Script::new(SET_STATE),
            epoch: RwLock::new(Arc::from("")),
            first: 0.into(),
            end: 0.into(),
            state: Mutex::new((0, Map::new())),
            bytes: 0.into(),
        };
        let log = RedisLog {
            inner: Arc::new(inner),
        };
        let meta = log.fetch_meta(&mut log.inner.conn.clone()).await?;
        log.adopt(&meta);
        Ok(log)
    }

    /// Runs the init script on `conn`: the store's metadata, creating the log if missing.
    async fn fetch_meta<C: redis::aio::ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> Result<Meta, LogError> {
        let i = &self.inner;
        let new = super::new_epoch();
        let (epoch, next, first, version, state): MetaReply = timed(
            i.init
                .key(&i.meta)
                .key(&i.log)
                .key(&i.states)
                .arg(&new)
                .invoke_async(conn),
        )
        .await?;
        let bad = |what: &str| LogError::Metadata(format!("{}:meta has no valid {what}", i.key));
        let state = parse_state(state.as_deref().unwrap_or("{}")).ok_or_else(|| bad("state"))?;
        Ok(Meta {
            epoch: Arc::from(epoch.ok_or_else(|| bad("epoch"))?),
            next: next.ok_or_else(|| bad("next"))?,
            first: first.ok_or_else(|| bad("first"))?,
            state_version: version.ok_or_else(|| bad("state_version"))?,
            state,
        })
    }

    /// Takes `meta` as what this node has seen.
    fn adopt(&self, meta: &Meta) {
        let i = &self.inner;
        *i.epoch.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&meta.epoch);
        i.first.store(meta.first, Relaxed);
        i.end.store(meta.next, Relaxed);
        *i.state.lock().unwrap_or_else(PoisonError::into_inner) =
            (meta.state_version, meta.state.clone());
    }

    pub(super) fn epoch(&self) -> Arc<str> {
        Arc::clone(
            &self
                .inner
                .epoch
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// `first..end` as this node has seen it (the tail advances it).
    #[must_use]
    pub fn extent(&self) -> Extent {
        let i = &self.inner;
        let end = i.end.load(Relaxed);
        Extent {
            first: Seq(i.first.load(Relaxed).min(end)),
            end: Seq(end),
        }
    }

    /// The key prefix.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// Appends a prepared message (without `idx`); Redis assigns the index, which is placed
    /// last in the stored JSON. Returns the index.
    ///
    /// # Errors
    /// Redis unreachable or too slow; [`LogError::EpochChanged`] when the store lost its data.
    pub async fn append_message(&self, mut message: Map<String, Value>) -> Result<Seq, LogError> {
        message.shift_remove("idx");
        let body = Value::Object(message).to_string();
        // `{…}` → head `{…,"idx":` and tail `}`; the script puts the index between.
        let head = match body.strip_suffix('}') {
            Some(open) if open.len() > 1 => format!("{open},\"idx\":"),
            _ => "{\"idx\":".to_owned(),
        };
        let i = &self.inner;
        let epoch = self.epoch();
        let request = format!("{}:req:{}", i.key, super::new_epoch());
        let idx: u64 = retrying(|| {
            let mut conn = i.conn.clone();
            let mut call = i.append.prepare_invoke();
            call.key(&i.meta)
                .key(&i.log)
                .key(&request)
                .arg(&*epoch)
                .arg(&head)
                .arg("}")
                .arg(i.max_len)
                .arg(REQUEST_KEY_TTL_S);
            async move { call.invoke_async(&mut conn).await }
        })
        .await?;
        Ok(Seq(idx))
    }

    /// Reads messages from `from` on, bounded as [`super::Log::read`] says (and by
    /// [`RANGE_COUNT`] per call).
    pub(super) async fn read(
        &self,
        from: Seq,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, LogError> {
        let i = &self.inner;
        let count = max_count.clamp(1, RANGE_COUNT);
        let start = from.0.to_string();
        let reply: redis::streams::StreamRangeReply = retrying(|| {
            let mut conn = i.conn.clone();
            let (log, start) = (&i.log, &start);
            async move { conn.xrange_count(log, start, "+", count).await }
        })
        .await?;
        let mut out = Vec::new();
        let mut total = 0usize;
        for entry in reply.ids {
            let Some(r) = record(entry) else { continue };
            if !out.is_empty() && total + r.json.len() > max_bytes {
                break;
            }
            total += r.json.len();
            out.push(r);
        }
        Ok(out)
    }

    /// The newest state this node has seen.
    pub(super) fn state(&self) -> Map<String, Value> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }

    /// The newest state this node has seen, with its version.
    #[must_use]
    pub fn versioned_state(&self) -> (u64, Map<String, Value>) {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `merge` to the stored state with compare-and-set; returns the new version and
    /// state. `merge` may run several times (once per conflicting writer).
    ///
    /// # Errors
    /// The outer error: Redis failed, or [`STATE_CAS_TRIES`] conflicts in a row. The inner
    /// one: `merge` refused.
    pub async fn update_state<E>(
        &self,
        merge: impl Fn(&Map<String, Value>) -> Result<Map<String, Value>, E>,
    ) -> Result<Result<(u64, Map<String, Value>), E>, LogError> {
        let i = &self.inner;
        let (mut version, mut current) = self.versioned_state();
        for _ in 0..STATE_CAS_TRIES {
            let next = match merge(&current) {
                Ok(next) => next,
                Err(e) => return Ok(Err(e)),
            };
            let json = Value::Object(next.clone()).to_string();
            let epoch = self.epoch();
            let reply: Vec<RValue> = retrying(|| {
                let mut conn = i.conn.clone();
                let mut call = i.set_state.prepare_invoke();
                call.key(&i.meta)
                    .key(&i.log)
                    .key(&i.states)
                    .arg(&*epoch)
                    .arg(version)
                    .arg(&json)
                    .arg(STATE_STREAM_LEN);
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
            let int = |v: Option<&RValue>| match v {
                Some(RValue::Int(n)) => u64::try_from(*n).ok(),
                _ => None,
            };
            match (int(reply.first()), int(reply.get(1))) {
                (Some(1), Some(v)) => {
                    self.saw_state(v, &next);
                    return Ok(Ok((v, next)));
                }
                (Some(0), Some(v)) => {
                    let stored = match reply.get(2) {
                        Some(RValue::BulkString(b)) => std::str::from_utf8(b).ok(),
                        _ => None,
                    };
                    version = v;
                    current = stored.and_then(parse_state).ok_or_else(|| {
                        LogError::Metadata(format!("{}:meta has no valid state", i.key))
                    })?;
                }
                _ => return Err(LogError::Metadata("unexpected state script reply".into())),
            }
        }
        Err(LogError::Redis(format!(
            "state update lost {STATE_CAS_TRIES} races in a row; retry"
        )))
    }

    /// Records state `version` if it is newer than what this node has; `true` if it was.
    fn saw_state(&self, version: u64, state: &Map<String, Value>) -> bool {
        let mut s = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if version > s.0 {
            *s = (version, state.clone());
            true
        } else {
            false
        }
    }

    /// Bytes of messages this node has read from the stream (an estimate of the log's size;
    /// Redis is not asked).
    pub(super) fn size_bytes(&self) -> u64 {
        self.inner.bytes.load(Relaxed)
    }

    /// The client and command connection, for Durable Streams on the same Redis (they share
    /// its connection, TLS and reconnects).
    pub(crate) fn plumbing(&self) -> (Client, Conn) {
        (self.inner.client.clone(), self.inner.conn.clone())
    }

    /// A tail: the blocking reader that tells this node what other nodes (and itself)
    /// appended.
    #[must_use]
    pub fn tail(&self) -> Tail {
        Tail::new(self.clone())
    }
}
