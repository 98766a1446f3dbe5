//! Durable Streams on Redis (`serve --store redis://…`): every stream's data and metadata in
//! Redis, so that every node on it serves the same streams at the same offsets.
//!
//! Keys, under the log's prefix `P` (`--redis-key`; in a cluster the hash tag `{P}`, so that
//! every key below lives in the log's slot), `D = P:ds:`:
//! - `D m:<path>`, a hash: the stream's metadata (`gen` creation number, `cfg` and `req` its
//!   configuration as JSON, `seg`/`pos` the tail, `closed`, `lseq` the last `Stream-Seq`,
//!   `cby` the producer that closed it, `touched` ms, `size` bytes, `forks`, `soft`
//!   (deleted while forks read it), `src` a fork's source, `ver` the write version, `rq` the
//!   last write's request id).
//! - `D d:<path>`: the data; a string (position = byte) or, in JSON mode, a list (position =
//!   message). A fork holds a copy of its source's prefix, so positions are the offsets.
//! - `D b:<path>`, a sorted set: the position after each write (fork sub-offsets stay
//!   within one write).
//! - `D p:<path>`, a hash: idempotent producers, id → `epoch seq`.
//! - `D all` (a set of paths: the stream bound), `D gen` (creation counter), `D total` (bytes
//!   of all streams), `D events` (a stream, capped: one entry per change, what wakes live
//!   reads on every node).
//!
//! **Writes are decided on the node, applied atomically in Redis.** An append loads the
//! metadata and producers, runs [`Meta::admit`] and [`Meta::plan`] (the rules every store
//! shares), and the write script applies the result only if the stream's `ver` is still
//! the one decided on (compare-and-set; a conflict is decided again, at most [`TRIES`]
//! times). So offsets are dense and monotonic whichever node appends. Each write carries a
//! request id, so a retry of a write whose reply was lost is not applied twice. Creation
//! (with a fork's copy), deletion (with the fork chain) and reads are one script each.
//!
//! **Live reads.** Each node runs one blocking `XREAD` on `D events` (its own connection,
//! re-opened after errors; every wait bounded by [`BLOCK`]) and moves the watch of every
//! stream a local long-poll or SSE response waits on; after a reconnect it re-reads those
//! streams' tails, so a missed event only delays, never loses, a wake-up.
//!
//! Expiry is checked on access (as the memory store does for the stream a call names), and
//! every node sweeps [`SWEEP_COUNT`] streams per [`SWEEP_EVERY`] for expired ones no request
//! names. Redis failures answer 503 ([`StoreError::Unavailable`]).

use super::file::{ConfigRec, ProducerRec, config_of, config_rec};
use super::store::{
    Admit, Append, Appended, Chunk, Config, Meta, StoreError, fork_anchor, fork_cut,
};
use crate::log::LogError;
use crate::log::redis::conn::{Client, Conn, retrying};
use crate::log::redis::{BLOCK, OP_TIMEOUT, RedisLog};
use bytes::Bytes;
use redis::streams::{StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script, Value as RValue};
use sse_core::durable::{Offset, ProducerState, Tail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Compare-and-set attempts of one append before it answers 503.
pub const TRIES: usize = 16;
/// Entries kept in the events stream (nodes only need the newest).
const EVENTS_LEN: u64 = 10_000;
/// Events taken per blocking read.
const EVENTS_COUNT: usize = 256;
/// How often each node looks for expired streams no request names.
const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// Streams one sweep looks at (it goes on where the last stopped).
const SWEEP_COUNT: usize = 64;

/// Durable Streams on the Redis the log is on. Cheap to clone.
#[derive(Clone)]
pub struct RedisStreams {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreams")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

struct Inner {
    conn: Conn,
    prefix: String,
    all: String,
    generation: String,
    total: String,
    events: String,
    max_streams: usize,
    max_stream_bytes: u64,
    max_total_bytes: u64,
    create: Script,
    write: Script,
    read: Script,
    touch: Script,
    end: Script,
    /// The streams local live reads wait on.
    watched: Mutex<HashMap<String, Watched>>,
}

struct Watched {
    generation: u64,
    tx: watch::Sender<Tail>,
}

/// A stream's metadata as stored, with what only the store needs.
struct Loaded {
    meta: Meta,
    size: u64,
    version: String,
    soft: bool,
}

fn unavailable(e: LogError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "a Durable Streams record in Redis has no valid {what}"
    ))
}

fn config_json(c: &Config) -> String {
    serde_json::to_string(&config_rec(c)).unwrap_or_default()
}

/// Raises `tx` to `tail` (offsets only grow; a close stays).
fn bump(tx: &watch::Sender<Tail>, tail: Tail) {
    tx.send_if_modified(|cur| {
        if tail.next > cur.next || (tail.closed && !cur.closed) {
            cur.next = cur.next.max(tail.next);
            cur.closed |= tail.closed;
            true
        } else {
            false
        }
    });
}

/// The metadata from a `HGETALL` reply (and the producers').
fn parse_meta(
    m: &HashMap<String, String>,
    producers: &HashMap<String, String>,
) -> Result<Loaded, StoreError> {
    let num = |k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok());
    let config = |k: &str| {
        m.get(k)
            .and_then(|v| serde_json::from_str::<ConfigRec>(v).ok())
            .and_then(config_of)
            .ok_or_else(|| bad(k))
    };
    let next = Offset::new(
        num("seg").ok_or_else(|| bad("seg"))?,
        num("pos").ok_or_else(|| bad("pos"))?,
    )
    .map_err(|_| bad("offset"))?;
    let mut known = HashMap::with_capacity(producers.len());
    for (id, v) in producers {
        let mut parts = v.split(' ').map(str::parse::<u64>);
        if let (Some(Ok(epoch)), Some(Ok(last_seq))) = (parts.next(), parts.next()) {
            known.insert(id.clone(), ProducerState { epoch, last_seq });
        }
    }
    let closed_by = m
        .get("cby")
        .and_then(|v| serde_json::from_str::<ProducerRec>(v).ok())
        .map(|p| super::store::Producer {
            id: p.id,
            epoch: p.epoch,
            seq: p.seq,
        });
    Ok(Loaded {
        meta: Meta {
            config: config("cfg")?,
            requested: config("req")?,
            generation: num("gen").ok_or_else(|| bad("gen"))?,
            tail: Tail {
                next,
                closed: m.get("closed").is_some_and(|v| v == "1"),
            },
            last_seq: m.get("lseq").cloned(),
            producers: known,
            closed_by,
            touched: UNIX_EPOCH + Duration::from_millis(num("touched").unwrap_or(0)),
        },
        size: num("size").unwrap_or(0),
        version: m.get("ver").cloned().unwrap_or_default(),
        soft: m.get("soft").is_some_and(|v| v == "1"),
    })
}

/// A `HGETALL` reply (a flat array or, on RESP3, a map) as strings.
fn pairs(v: RValue) -> HashMap<String, String> {
    redis::from_redis_value::<HashMap<String, String>>(v).unwrap_or_default()
}

impl RedisStreams {
    /// Durable Streams on `log`'s Redis (its connection, TLS and prefix), with these bounds.
    /// Starts the task that wakes local live reads on every node's appends.
    #[must_use]
    pub fn open(
        log: &RedisLog,
        max_streams: usize,
        max_stream_bytes: u64,
        max_total_bytes: u64,
    ) -> RedisStreams {
        let (client, conn) = log.plumbing();
        let prefix = format!("{}:ds:", log.key());
        let inner = Arc::new(Inner {
            conn,
            all: format!("{prefix}all"),
            generation: format!("{prefix}gen"),
            total: format!("{prefix}total"),
            events: format!("{prefix}events"),
            prefix,
            max_streams,
            max_stream_bytes,
            max_total_bytes,
            create: Script::new(include_str!("redis/create.lua")),
            write: Script::new(include_str!("redis/write.lua")),
            read: Script::new(include_str!("redis/read.lua")),
            touch: Script::new(include_str!("redis/touch.lua")),
            end: Script::new(include_str!("redis/end.lua")),
            watched: Mutex::new(HashMap::new()),
        });
        tokio::spawn(follow(Arc::downgrade(&inner), client));
        tokio::spawn(sweep(Arc::downgrade(&inner)));
        RedisStreams { inner }
    }

    fn key(&self, kind: &str, path: &str) -> String {
        format!("{}{kind}:{path}", self.inner.prefix)
    }

    /// The stream at `path` as stored (expired or not), with its producers when asked.
    async fn load(&self, path: &str, producers: bool) -> Result<Option<Loaded>, StoreError> {
        let (meta, prods) = (self.key("m", path), self.key("p", path));
        let conn = &self.inner.conn;
        let (m, p): (HashMap<String, String>, HashMap<String, String>) = if producers {
            retrying(|| {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                pipe.atomic().hgetall(&meta).hgetall(&prods);
                async move { pipe.query_async(&mut conn).await }
            })
            .await
        } else {
            retrying(|| {
                let mut conn = conn.clone();
                let meta = &meta;
                async move { conn.hgetall(meta).await }
            })
            .await
            .map(|m| (m, HashMap::new()))
        }
        .map_err(unavailable)?;
        if m.is_empty() {
            return Ok(None);
        }
        parse_meta(&m, &p).map(Some)
    }

    /// Ends the stream at `path` if it is still creation `generation`.
    async fn end(&self, path: &str, generation: u64) -> Result<String, StoreError> {
        let i = &self.inner;
        let meta = self.key("m", path);
        retrying(|| {
            let mut conn = i.conn.clone();
            let mut call = i.end.prepare_invoke();
            call.key(&meta)
                .key(&i.all)
                .key(&i.total)
                .key(&i.events)
                .arg(&i.prefix)
                .arg(path)
                .arg(generation)
                .arg(EVENTS_LEN);
            async move { call.invoke_async::<String>(&mut conn).await }
        })
        .await
        .map_err(unavailable)
    }

    /// The stream as clients see it: `None` when absent or expired (an expired one is ended
    /// now), [`StoreError::Gone`] when soft-deleted.
    async fn present(
        &self,
        path: &str,
        producers: bool,
        now: SystemTime,
    ) -> Result<Option<Loaded>, StoreError> {
        let Some(l) = self.load(path, producers).await? else {
            return Ok(None);
        };
        if !l.soft && l.meta.expired(now) {
            self.end(path, l.meta.generation).await?;
            return Ok(None);
        }
        Ok(Some(l))
    }

    async fn live(
        &self,
        path: &str,
        producers: bool,
        now: SystemTime,
    ) -> Result<Loaded, StoreError> {
        match self.present(path, producers, now).await? {
            None => Err(StoreError::NotFound),
            Some(l) if l.soft => Err(StoreError::Gone),
            Some(l) => Ok(l),
        }
    }

    async fn touch(&self, path: &str, meta: &Meta, now: SystemTime) -> Result<(), StoreError> {
        if !matches!(meta.config.lifetime, super::store::Lifetime::Ttl(_)) {
            return Ok(());
        }
        let i = &self.inner;
        let key = self.key("m", path);
        retrying(|| {
            let mut conn = i.conn.clone();
            let mut call = i.touch.prepare_invoke();
            call.key(&key).arg(meta.generation).arg(millis(now));
            async move { call.invoke_async::<i64>(&mut conn).await }
        })
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// Tells this node's live reads of `path` (creation `generation`) about `tail`.
    fn saw(&self, path: &str, generation: u64, tail: Tail) {
        let w = self
            .inner
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = w.get(path)
            && e.generation == generation
        {
            bump(&e.tx, tail);
        }
    }

    /// See [`super::store::Streams::create`].
    pub(super) async fn create(
        &self,
        path: &str,
        config: Config,
        items: Vec<Bytes>,
        closed: bool,
        now: SystemTime,
    ) -> Result<(Meta, bool), StoreError> {
        let i = &self.inner;
        for _ in 0..TRIES {
            if let Some(existing) = self.present(path, false, now).await? {
                if existing.soft {
                    return Err(StoreError::ConfigMismatch);
                }
                existing.meta.confirm(&config, closed)?;
                return Ok((existing.meta, false));
            }
            let (resolved, start, cut, source) = match &config.fork {
                None => (config.clone(), Offset::ZERO, 0, None),
                Some(fork) => {
                    let src = match self.present(&fork.source, false, now).await? {
                        None => return Err(StoreError::NotFound),
                        Some(s) if s.soft => return Err(StoreError::SourceGone),
                        Some(s) => s,
                    };
                    let (resolved, anchor) = fork_anchor(&src.meta, &config)?;
                    let boundary = if fork.sub > 0 {
                        self.first_boundary_after(&fork.source, anchor.position())
                            .await?
                    } else {
                        None
                    };
                    let (cut, start) = fork_cut(anchor, fork.sub, boundary)?;
                    (
                        resolved,
                        start,
                        cut,
                        Some((fork.source.clone(), src.meta.generation)),
                    )
                }
            };
            let mut meta = Meta {
                config: resolved,
                requested: config.clone(),
                generation: 0,
                tail: Tail {
                    next: start,
                    closed: false,
                },
                last_seq: None,
                producers: HashMap::new(),
                closed_by: None,
                touched: now,
            };
            // The size bound is the script's (it knows the copied prefix).
            let (next, _) = meta.plan(&items, 0, u64::MAX)?;
            meta.tail = Tail { next, closed };
            let (src_path, src_gen) = source
                .as_ref()
                .map_or(("", String::new()), |(p, g)| (p.as_str(), g.to_string()));
            let keys = [
                self.key("m", path),
                self.key("d", path),
                self.key("b", path),
                self.key("p", path),
                self.key("m", src_path),
                self.key("d", src_path),
                self.key("b", src_path),
            ];
            let seed = generation_seed();
            let cfg = config_json(&meta.config);
            let req = config_json(&meta.requested);
            let reply: Vec<RValue> = retrying(|| {
                let mut conn = i.conn.clone();
                let mut call = i.create.prepare_invoke();
                call.key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .key(&keys[3])
                    .key(&i.all)
                    .key(&i.generation)
                    .key(&i.total)
                    .key(&i.events)
                    .key(&keys[4])
                    .key(&keys[5])
                    .key(&keys[6])
                    .arg(path)
                    .arg(u8::from(meta.config.json))
                    .arg(i.max_streams)
                    .arg(i.max_stream_bytes)
                    .arg(i.max_total_bytes)
                    .arg(&src_gen)
                    .arg(cut)
                    .arg(next.segment())
                    .arg(next.position())
                    .arg(u8::from(closed))
                    .arg(&cfg)
                    .arg(&req)
                    .arg(millis(now))
                    .arg(EVENTS_LEN)
                    .arg(src_path)
                    .arg(seed);
                for item in &items {
                    call.arg(item.as_ref());
                }
                async move { call.invoke_async(&mut conn).await }
            })
            .await
            .map_err(unavailable)?;
            let word = reply
                .first()
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
                .unwrap_or_default();
            match word.as_str() {
                "ok" => {
                    meta.generation = reply
                        .get(1)
                        .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
                        .ok_or_else(|| bad("generation"))?;
                    return Ok((meta, true));
                }
                // Created (or the source changed) meanwhile: decide again.
                "exists" | "retry" => {}
                other => return Err(self.refused("create", other)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "creating the stream lost {TRIES} races in a row; retry"
        )))
    }

    /// The error for a script's refusal (`too_many`, `stream_full`, `full`), or for a reply
    /// this node does not know.
    fn refused(&self, script: &str, reply: &str) -> StoreError {
        let i = &self.inner;
        match reply {
            "too_many" => StoreError::TooManyStreams { max: i.max_streams },
            "stream_full" => StoreError::StreamFull {
                max: i.max_stream_bytes,
            },
            "full" => StoreError::StoreFull {
                max: i.max_total_bytes,
            },
            other => StoreError::Unavailable(format!("unexpected {script} script reply {other:?}")),
        }
    }

    /// The source's first write boundary after `pos`.
    async fn first_boundary_after(&self, path: &str, pos: u64) -> Result<Option<u64>, StoreError> {
        let key = self.key("b", path);
        let min = format!("({pos}");
        let found: Vec<u64> = retrying(|| {
            let mut conn = self.inner.conn.clone();
            let (key, min) = (&key, &min);
            async move { conn.zrangebyscore_limit(key, min, "+inf", 0, 1).await }
        })
        .await
        .map_err(unavailable)?;
        Ok(found.first().copied())
    }

    /// See [`super::store::Streams::append`].
    pub(super) async fn append(
        &self,
        path: &str,
        req: Append,
        now: SystemTime,
    ) -> Result<Appended, StoreError> {
        let i = &self.inner;
        let request = crate::log::new_epoch();
        let keys = [
            self.key("m", path),
            self.key("d", path),
            self.key("b", path),
            self.key("p", path),
        ];
        for _ in 0..TRIES {
            let loaded = self.live(path, true, now).await?;
            let mut meta = loaded.meta;
            if meta.admit(&req)? == Admit::Duplicate {
                self.touch(path, &meta, now).await?;
                return Ok(Appended::Duplicate {
                    tail: meta.tail,
                    producer: meta.producer_state(&req),
                });
            }
            let (next, count) = meta.plan(&req.items, loaded.size, i.max_stream_bytes)?;
            meta.commit(&req, next);
            let closed_by = match (&meta.closed_by, req.close) {
                (Some(p), true) => serde_json::to_string(&ProducerRec {
                    id: p.id.clone(),
                    epoch: p.epoch,
                    seq: p.seq,
                })
                .unwrap_or_default(),
                _ => String::new(),
            };
            let (pid, pstate) = match &req.producer {
                Some(p) => (p.id.as_str(), format!("{} {}", p.epoch, p.seq)),
                None => ("", String::new()),
            };
            let seq = req.seq.as_deref().unwrap_or("");
            let reply: String = retrying(|| {
                let mut conn = i.conn.clone();
                let mut call = i.write.prepare_invoke();
                call.key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .key(&keys[3])
                    .key(&i.total)
                    .key(&i.events)
                    .arg(&loaded.version)
                    .arg(&request)
                    .arg(u8::from(meta.config.json))
                    .arg(i.max_total_bytes)
                    .arg(next.segment())
                    .arg(next.position())
                    .arg(u8::from(meta.tail.closed))
                    .arg(seq)
                    .arg(&closed_by)
                    .arg(pid)
                    .arg(&pstate)
                    .arg(millis(now))
                    .arg(path)
                    .arg(meta.generation)
                    .arg(EVENTS_LEN)
                    .arg(count);
                for item in &req.items {
                    call.arg(item.as_ref());
                }
                async move { call.invoke_async(&mut conn).await }
            })
            .await
            .map_err(unavailable)?;
            match reply.as_str() {
                "ok" | "done" => {
                    self.saw(path, meta.generation, meta.tail);
                    return Ok(Appended::Done {
                        tail: meta.tail,
                        producer: meta.producer_state(&req),
                    });
                }
                // Another write went first (or the stream went): decide again.
                "conflict" | "gone" => {}
                other => return Err(self.refused("write", other)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "the append lost {TRIES} races in a row; retry"
        )))
    }

    /// See [`super::store::Streams::read`].
    pub(super) async fn read(
        &self,
        path: &str,
        from: Offset,
        max_bytes: usize,
        now: SystemTime,
    ) -> Result<Chunk, StoreError> {
        let i = &self.inner;
        let (meta_key, data_key) = (self.key("m", path), self.key("d", path));
        let reply: Vec<RValue> = retrying(|| {
            let mut conn = i.conn.clone();
            let mut call = i.read.prepare_invoke();
            call.key(&meta_key)
                .key(&data_key)
                .arg(from.position())
                .arg(max_bytes);
            async move { call.invoke_async(&mut conn).await }
        })
        .await
        .map_err(unavailable)?;
        let mut reply = reply.into_iter();
        let (Some(m), Some(items)) = (reply.next(), reply.next()) else {
            return Err(StoreError::NotFound);
        };
        let loaded = parse_meta(&pairs(m), &HashMap::new())?;
        if loaded.soft {
            return Err(StoreError::Gone);
        }
        if loaded.meta.expired(now) {
            self.end(path, loaded.meta.generation).await?;
            return Err(StoreError::NotFound);
        }
        self.touch(path, &loaded.meta, now).await?;
        let items: Vec<Vec<u8>> = redis::from_redis_value(items).map_err(|_| bad("data"))?;
        let items: Vec<Bytes> = items.into_iter().map(Bytes::from).collect();
        let count = if loaded.meta.config.json {
            items.len() as u64
        } else {
            items.iter().map(|b| b.len() as u64).sum()
        };
        let start = from.position().min(loaded.meta.tail.next.position());
        let next = Offset::new(from.segment(), start)
            .and_then(|o| o.advance(count))
            .map_err(|_| StoreError::OffsetOverflow)?;
        let mut meta = loaded.meta;
        meta.touched = now;
        Ok(Chunk { meta, items, next })
    }

    /// See [`super::store::Streams::meta`].
    pub(super) async fn meta(&self, path: &str, now: SystemTime) -> Result<Meta, StoreError> {
        self.live(path, false, now).await.map(|l| l.meta)
    }

    /// See [`super::store::Streams::delete`].
    pub(super) async fn delete(&self, path: &str, now: SystemTime) -> Result<(), StoreError> {
        let l = self.live(path, false, now).await?;
        match self.end(path, l.meta.generation).await?.as_str() {
            "ok" => Ok(()),
            "gone" => Err(StoreError::Gone),
            _ => Err(StoreError::NotFound),
        }
    }

    /// See [`super::store::Streams::watch`].
    pub(super) async fn watch(
        &self,
        path: &str,
        now: SystemTime,
    ) -> Result<watch::Receiver<Tail>, StoreError> {
        let l = self.live(path, false, now).await?;
        let generation = l.meta.generation;
        let rx = {
            let mut w = self
                .inner
                .watched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            w.retain(|_, e| e.tx.receiver_count() > 0);
            let e = w
                .entry(path.to_owned())
                .and_modify(|e| {
                    if e.generation != generation {
                        *e = Watched {
                            generation,
                            tx: watch::Sender::new(l.meta.tail),
                        };
                    }
                })
                .or_insert_with(|| Watched {
                    generation,
                    tx: watch::Sender::new(l.meta.tail),
                });
            bump(&e.tx, l.meta.tail);
            e.tx.subscribe()
        };
        // An append between the load and the subscription woke nobody: read the tail again.
        if let Some(again) = self.load(path, false).await?
            && again.meta.generation == generation
        {
            self.saw(path, generation, again.meta.tail);
        }
        Ok(rx)
    }

    /// Re-reads the tail of every watched stream (after a reconnect of the events reader).
    async fn resync(&self) {
        let watched: Vec<(String, u64)> = {
            let mut w = self
                .inner
                .watched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            w.retain(|_, e| e.tx.receiver_count() > 0);
            w.iter().map(|(p, e)| (p.clone(), e.generation)).collect()
        };
        for (path, generation) in watched {
            match self.load(&path, false).await {
                Ok(Some(l)) if l.meta.generation == generation && !l.soft => {
                    self.saw(&path, generation, l.meta.tail);
                }
                Ok(_) => self.forget(&path, generation),
                Err(_) => return,
            }
        }
    }

    /// Closes this node's watch of `path` (deleted): its live reads end.
    fn forget(&self, path: &str, generation: u64) {
        let mut w = self
            .inner
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if w.get(path).is_some_and(|e| e.generation == generation) {
            w.remove(path);
        }
    }

    fn apply(&self, entry: &StreamId) {
        let (Some(path), Some(generation)) = (
            entry.get::<String>("p"),
            entry.get::<String>("g").and_then(|g| g.parse::<u64>().ok()),
        ) else {
            return;
        };
        if entry.get::<String>("x").is_some() {
            self.forget(&path, generation);
            return;
        }
        let num = |k: &str| entry.get::<String>(k).and_then(|v| v.parse::<u64>().ok());
        if let (Some(seg), Some(pos)) = (num("s"), num("n"))
            && let Ok(next) = Offset::new(seg, pos)
        {
            let closed = entry.get::<String>("c").is_some_and(|c| c == "1");
            self.saw(&path, generation, Tail { next, closed });
        }
    }
}

/// Where a new `gen` counter starts: random, so that creation numbers (and so `ETag`s) after
/// Redis lost its data do not repeat the lost streams' (below 2^52, so that a counter never
/// runs out).
fn generation_seed() -> u64 {
    let hex = crate::log::new_epoch();
    let n = u64::from_str_radix(hex.get(..13).unwrap_or("0"), 16).unwrap_or(0);
    n & ((1 << 52) - 1)
}

/// Ends expired streams that no request names, [`SWEEP_COUNT`] per [`SWEEP_EVERY`], for as
/// long as the store lives (every node sweeps; ending is idempotent per creation).
async fn sweep(store: Weak<Inner>) {
    let mut cursor = 0u64;
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(inner) = store.upgrade() else { return };
        let streams = RedisStreams { inner };
        let all = streams.inner.all.clone();
        let step: Result<(u64, Vec<String>), LogError> = retrying(|| {
            let mut conn = streams.inner.conn.clone();
            let mut cmd = redis::cmd("SSCAN");
            cmd.arg(&all).arg(cursor).arg("COUNT").arg(SWEEP_COUNT);
            async move { cmd.query_async(&mut conn).await }
        })
        .await;
        let Ok((next, paths)) = step else { continue };
        cursor = next;
        let now = SystemTime::now();
        for path in paths.iter().take(SWEEP_COUNT * 4) {
            if streams.present(path, false, now).await.is_err() {
                break;
            }
        }
    }
}

/// The events reader: one blocking `XREAD` at a time on its own connection, for as long as
/// the store lives (each wait is bounded by [`BLOCK`], so it notices within that).
async fn follow(store: Weak<Inner>, client: Client) {
    let mut conn: Option<Conn> = None;
    let mut last = String::from("$");
    let opts = StreamReadOptions::default()
        .block(usize::try_from(BLOCK.as_millis()).unwrap_or(usize::MAX))
        .count(EVENTS_COUNT);
    loop {
        let Some(inner) = store.upgrade() else { return };
        let streams = RedisStreams { inner };
        let events = streams.inner.events.clone();
        let mut c = match conn.take() {
            Some(c) => c,
            None => match client.connect(BLOCK + OP_TIMEOUT).await {
                Ok(mut c) => {
                    // Resume after the newest event, then catch up on what was missed.
                    let newest: Result<redis::streams::StreamRangeReply, ()> =
                        tokio::time::timeout(OP_TIMEOUT, c.xrevrange_count(&events, "+", "-", 1))
                            .await
                            .map_err(|_| ())
                            .and_then(|r| r.map_err(|_| ()));
                    match newest {
                        Ok(r) => {
                            last = r
                                .ids
                                .first()
                                .map_or_else(|| "0-0".to_owned(), |e| e.id.clone());
                        }
                        Err(_) => {
                            drop(streams);
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                    }
                    streams.resync().await;
                    c
                }
                Err(_) => {
                    drop(streams);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
        };
        // Waiting must not keep the store alive.
        drop(streams);
        let reply: Result<Option<StreamReadReply>, ()> = tokio::time::timeout(
            BLOCK + OP_TIMEOUT,
            c.xread_options(&[&events], &[&last], &opts),
        )
        .await
        .map_err(|_| ())
        .and_then(|r| r.map_err(|_| ()));
        let Ok(reply) = reply else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        conn = Some(c);
        let Some(inner) = store.upgrade() else { return };
        let streams = RedisStreams { inner };
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                streams.apply(&entry);
                last.clone_from(&entry.id);
            }
        }
    }
}
