//! What a Durable Streams store does, and the append rules every store shares.
//!
//! A store holds many streams by path. Each stream is a content type, a lifetime (TTL or
//! absolute expiry), bytes (or, in JSON mode, messages) addressed by [`Offset`], a closed
//! flag and the writer state (`Stream-Seq`, idempotent producers). [`Streams`] is the async
//! interface the HTTP layer calls, over the local store (memory, or memory backed by files:
//! `memory.rs`, `file.rs`) and the Redis store (`redis.rs`). [`Meta::admit`] is the one place
//! that decides whether an append goes in, and [`Meta::plan`], [`Meta::confirm`],
//! [`fork_anchor`] and [`fork_cut`] the other rules, so every store enforces the same ones
//! (each store only has to make `admit` + write atomic per stream).

use bytes::Bytes;
use sse_core::durable::{Offset, ProducerCheck, ProducerState, Tail};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// Producer ids one stream remembers: each costs memory for the stream's life, and a
/// client could otherwise invent them without end.
pub const MAX_PRODUCERS: usize = 4096;

/// How a stream ends its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Lives until deleted.
    Forever,
    /// Sliding window: expires `secs` after the last read or write (`Stream-TTL`).
    Ttl(u64),
    /// Expires at this instant (`Stream-Expires-At`).
    ExpiresAt(SystemTime),
}

/// A fork request (`PROTOCOL.md` §4.2): the source's path and where it diverges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkSpec {
    /// The source stream's path (after the prefix).
    pub source: String,
    /// `Stream-Fork-Offset` (`None`: the source's tail).
    pub offset: Option<Offset>,
    /// `Stream-Fork-Sub-Offset`: bytes (messages in JSON mode) past `offset`, within the
    /// source's next write.
    pub sub: u64,
}

/// The configuration a `PUT` asks for; an existing stream answers 200 only if it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The content type as given (compared case-insensitively, by essence); empty on a fork
    /// that inherits its source's.
    pub content_type: String,
    /// JSON mode (`application/json`).
    pub json: bool,
    /// TTL or expiry.
    pub lifetime: Lifetime,
    /// The `Stream-Expires-At` text as given, echoed by `HEAD`.
    pub expires_at_text: Option<String>,
    /// Created as a fork of another stream.
    pub fork: Option<ForkSpec>,
}

impl Config {
    /// Same content type (essence, any case) and lifetime.
    #[must_use]
    pub fn matches(&self, other: &Config) -> bool {
        essence(&self.content_type).eq_ignore_ascii_case(essence(&other.content_type))
            && self.lifetime == other.lifetime
            && self.fork == other.fork
    }
}

/// A content type without its parameters.
#[must_use]
pub fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// An idempotent producer's headers, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    /// `Producer-Id`.
    pub id: String,
    /// `Producer-Epoch`.
    pub epoch: u64,
    /// `Producer-Seq`.
    pub seq: u64,
}

/// One append, as validated by the HTTP layer.
#[derive(Debug, Clone)]
pub struct Append {
    /// The request's content type (`None`: not sent).
    pub content_type: Option<String>,
    /// What to store: one item for a byte stream; one per message in JSON mode. Empty for a
    /// close-only request.
    pub items: Vec<Bytes>,
    /// `Stream-Closed: true`.
    pub close: bool,
    /// `Stream-Seq`.
    pub seq: Option<String>,
    /// The idempotent producer headers.
    pub producer: Option<Producer>,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Data (or only the close) went in.
    Done {
        /// The tail after it.
        tail: Tail,
        /// The producer's state after it, when producer headers were sent.
        producer: Option<ProducerState>,
    },
    /// An idempotent retry of what is already stored: nothing was written.
    Duplicate {
        /// The tail.
        tail: Tail,
        /// The producer's state.
        producer: Option<ProducerState>,
    },
}

/// Why a store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No stream at this path (or it expired).
    #[error("no stream at this path")]
    NotFound,
    /// A stream exists at this path with another configuration.
    #[error("a stream exists at this path with another configuration")]
    ConfigMismatch,
    /// The stream is closed.
    #[error("the stream is closed")]
    Closed {
        /// Its final offset.
        tail: Tail,
    },
    /// The body's content type is not the stream's.
    #[error("Content-Type {given:?} does not match the stream's {stream:?}")]
    ContentTypeMismatch {
        /// What the request sent.
        given: String,
        /// The stream's.
        stream: String,
    },
    /// `Stream-Seq` did not increase.
    #[error("Stream-Seq {given:?} is not after {last:?}")]
    SeqRegression {
        /// What the request sent.
        given: String,
        /// The last accepted.
        last: String,
    },
    /// A producer's epoch is older than the server's (a zombie).
    #[error("stale producer epoch; the current epoch is {current}")]
    StaleEpoch {
        /// The server's epoch.
        current: u64,
    },
    /// A new producer epoch did not start at sequence 0.
    #[error("a new producer epoch must start at Producer-Seq 0")]
    NewEpochNotAtZero,
    /// A producer skipped sequence numbers.
    #[error("producer sequence gap: expected {expected}, received {received}")]
    Gap {
        /// Expected next.
        expected: u64,
        /// Received.
        received: u64,
    },
    /// The store's bound on streams is reached.
    #[error("the server holds its maximum of {max} streams")]
    TooManyStreams {
        /// The bound.
        max: usize,
    },
    /// The stream would exceed its size bound.
    #[error("the stream would exceed {max} bytes")]
    StreamFull {
        /// The bound.
        max: u64,
    },
    /// The stream was deleted but forks still read it (`PROTOCOL.md` §4.2: 410).
    #[error("the stream was deleted")]
    Gone,
    /// A fork's source was deleted (its forks keep it): no new forks (409).
    #[error("the fork source was deleted")]
    SourceGone,
    /// `Stream-Fork-Offset` is past the source's tail.
    #[error("Stream-Fork-Offset is beyond the source stream's tail")]
    ForkBeyondTail,
    /// `Stream-Fork-Sub-Offset` names a position past the source's next write.
    #[error("Stream-Fork-Sub-Offset is past the next data boundary of the source")]
    SubOffsetOvershoot,
    /// A stream tracks at most [`MAX_PRODUCERS`] producer ids.
    #[error("the stream already tracks {MAX_PRODUCERS} producers")]
    TooManyProducers,
    /// The store's bound on all streams' bytes is reached.
    #[error("the server holds its maximum of {max} bytes of streams")]
    StoreFull {
        /// The bound.
        max: u64,
    },
    /// Offsets ran out (16 digits).
    #[error("the stream's offsets are exhausted")]
    OffsetOverflow,
    /// The store's files could not be written: nothing was acknowledged.
    #[error("the stream could not be written to disk: {0}")]
    Io(String),
    /// The shared store (Redis) did not answer: nothing was acknowledged (503).
    #[error("the stream store is unavailable: {0}")]
    Unavailable(String),
}

/// A stream's metadata and writer state: what `HEAD` shows and what [`Meta::admit`] checks.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Its configuration (a fork's with the content type and lifetime it inherited).
    pub config: Config,
    /// The configuration as the creating `PUT` asked for it: what a repeated `PUT` matches.
    pub requested: Config,
    /// A number unique to this creation (a stream re-created at the same path gets another),
    /// part of the `ETag`.
    pub generation: u64,
    /// The end.
    pub tail: Tail,
    /// The last accepted `Stream-Seq`.
    pub last_seq: Option<String>,
    /// Idempotent producers by id.
    pub producers: HashMap<String, ProducerState>,
    /// The producer request that closed the stream, so that its retry is a duplicate.
    pub closed_by: Option<Producer>,
    /// Last read or write (for a TTL).
    pub touched: SystemTime,
}

/// What [`Meta::admit`] allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Write the items (maybe none), then [`Meta::commit`].
    Write,
    /// Write nothing and answer as a duplicate.
    Duplicate,
}

impl Meta {
    /// Whether the stream has expired at `now`.
    #[must_use]
    pub fn expired(&self, now: SystemTime) -> bool {
        match self.config.lifetime {
            Lifetime::Forever => false,
            Lifetime::Ttl(secs) => now
                .duration_since(self.touched)
                .is_ok_and(|idle| idle >= Duration::from_secs(secs)),
            Lifetime::ExpiresAt(at) => now >= at,
        }
    }

    /// Decides an append (`PROTOCOL.md` §5.2, with its error precedence: closed, content
    /// type, sequence; then producer fencing, §5.2.1).
    ///
    /// # Errors
    /// The [`StoreError`] the request earns.
    pub fn admit(&self, req: &Append) -> Result<Admit, StoreError> {
        if self.tail.closed {
            let same_closer = match (&req.producer, &self.closed_by) {
                (Some(p), Some(c)) => p == c,
                _ => false,
            };
            if same_closer || (req.close && req.items.is_empty()) {
                return Ok(Admit::Duplicate);
            }
            return Err(StoreError::Closed { tail: self.tail });
        }
        if !req.items.is_empty()
            && let Some(given) = &req.content_type
            && !essence(given).eq_ignore_ascii_case(essence(&self.config.content_type))
        {
            return Err(StoreError::ContentTypeMismatch {
                given: given.clone(),
                stream: self.config.content_type.clone(),
            });
        }
        // A producer's retry is a duplicate before anything else is checked: its Stream-Seq
        // was accepted the first time.
        if let Some(p) = &req.producer
            && self.producers.len() >= MAX_PRODUCERS
            && !self.producers.contains_key(&p.id)
        {
            return Err(StoreError::TooManyProducers);
        }
        let fenced = match &req.producer {
            None => None,
            Some(p) => Some(
                match ProducerCheck::decide(self.producers.get(&p.id).copied(), p.epoch, p.seq) {
                    ProducerCheck::Accept { .. } => Admit::Write,
                    ProducerCheck::Duplicate { .. } => return Ok(Admit::Duplicate),
                    ProducerCheck::StaleEpoch { current } => {
                        return Err(StoreError::StaleEpoch { current });
                    }
                    ProducerCheck::NewEpochNotAtZero => return Err(StoreError::NewEpochNotAtZero),
                    ProducerCheck::Gap { expected, received } => {
                        return Err(StoreError::Gap { expected, received });
                    }
                },
            ),
        };
        if let (Some(given), Some(last)) = (&req.seq, &self.last_seq)
            && given.as_bytes() <= last.as_bytes()
        {
            return Err(StoreError::SeqRegression {
                given: given.clone(),
                last: last.clone(),
            });
        }
        if let Some(admit) = fenced {
            return Ok(admit);
        }
        Ok(Admit::Write)
    }

    /// Records an admitted append that moved the tail to `next`.
    pub fn commit(&mut self, req: &Append, next: Offset) {
        self.tail.next = next;
        if let Some(seq) = &req.seq {
            self.last_seq = Some(seq.clone());
        }
        if let Some(p) = &req.producer {
            self.producers.insert(
                p.id.clone(),
                ProducerState {
                    epoch: p.epoch,
                    last_seq: p.seq,
                },
            );
        }
        if req.close {
            self.tail.closed = true;
            self.closed_by.clone_from(&req.producer);
        }
    }

    /// The producer state to echo for `req`.
    #[must_use]
    pub fn producer_state(&self, req: &Append) -> Option<ProducerState> {
        req.producer
            .as_ref()
            .and_then(|p| self.producers.get(&p.id).copied())
    }

    /// Whether a repeated `PUT` asking for `config` (closed when `closed`) confirms this
    /// stream (200) rather than conflicting with it.
    ///
    /// # Errors
    /// [`StoreError::ConfigMismatch`].
    pub fn confirm(&self, config: &Config, closed: bool) -> Result<(), StoreError> {
        if self.requested.matches(config) && self.tail.closed == closed {
            Ok(())
        } else {
            Err(StoreError::ConfigMismatch)
        }
    }

    /// Where `items` would move the tail of this stream, which stores `size` bytes, and by
    /// how much (bytes, or messages in JSON mode), within `max_bytes` per stream.
    ///
    /// # Errors
    /// [`StoreError::StreamFull`], [`StoreError::OffsetOverflow`].
    pub fn plan(
        &self,
        items: &[Bytes],
        size: u64,
        max_bytes: u64,
    ) -> Result<(Offset, u64), StoreError> {
        let added: u64 = items.iter().map(|i| i.len() as u64).sum();
        if size.saturating_add(added) > max_bytes {
            return Err(StoreError::StreamFull { max: max_bytes });
        }
        let count = if self.config.json {
            items.len() as u64
        } else {
            added
        };
        let next = self
            .tail
            .next
            .advance(count)
            .map_err(|_| StoreError::OffsetOverflow)?;
        Ok((next, count))
    }
}

/// A fork's configuration (what it inherits from `src`, the source's metadata, filled in)
/// and the offset it names (`PROTOCOL.md` §4.2): [`fork_cut`] refines it.
///
/// # Errors
/// [`StoreError::ConfigMismatch`] (another content type), [`StoreError::ForkBeyondTail`].
pub fn fork_anchor(src: &Meta, requested: &Config) -> Result<(Config, Offset), StoreError> {
    let mut config = requested.clone();
    if config.content_type.is_empty() {
        config.content_type.clone_from(&src.config.content_type);
        config.json = src.config.json;
    } else if !essence(&config.content_type).eq_ignore_ascii_case(essence(&src.config.content_type))
    {
        return Err(StoreError::ConfigMismatch);
    }
    if config.lifetime == Lifetime::Forever {
        config.lifetime = src.config.lifetime;
        config
            .expires_at_text
            .clone_from(&src.config.expires_at_text);
    }
    let anchor = requested
        .fork
        .as_ref()
        .and_then(|f| f.offset)
        .unwrap_or(src.tail.next);
    if anchor > src.tail.next || anchor.segment() != src.tail.next.segment() {
        return Err(StoreError::ForkBeyondTail);
    }
    Ok((config, anchor))
}

/// Where a fork at `anchor` with sub-offset `sub` diverges: the position of the cut and the
/// fork's first offset. `boundary` is the source's first write boundary after `anchor` (the
/// sub-offset stays within that write).
///
/// # Errors
/// [`StoreError::SubOffsetOvershoot`], [`StoreError::OffsetOverflow`].
pub fn fork_cut(
    anchor: Offset,
    sub: u64,
    boundary: Option<u64>,
) -> Result<(u64, Offset), StoreError> {
    let mut cut = anchor.position();
    if sub > 0 {
        let boundary = boundary
            .filter(|b| *b > cut)
            .ok_or(StoreError::SubOffsetOvershoot)?;
        cut = cut
            .checked_add(sub)
            .filter(|c| *c <= boundary)
            .ok_or(StoreError::SubOffsetOvershoot)?;
    }
    let next = Offset::new(anchor.segment(), cut).map_err(|_| StoreError::OffsetOverflow)?;
    Ok((cut, next))
}

/// What a read returns.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The stream's metadata at the time of the read.
    pub meta: Meta,
    /// Items from the requested offset (bytes: one slice; JSON: messages).
    pub items: Vec<Bytes>,
    /// The offset after the last item returned.
    pub next: Offset,
}

/// The Durable Streams store the HTTP layer uses: many streams by path.
///
/// Calls for one stream are atomic with respect to each other: an append's admission and
/// write happen under one lock (local) or as one compare-and-set script (Redis). `now` is
/// passed in so that expiry is testable. A local store on files does its work (which may
/// `fsync`) on the blocking pool, never on an async worker.
#[derive(Debug, Clone)]
pub enum Streams {
    /// In this process (in memory, or backed by files).
    Local(Arc<super::MemoryStreams>),
    /// On Redis, shared by every node there.
    Redis(super::redis::RedisStreams),
}

impl Streams {
    /// Runs `f` on the local store: inline in memory, on the blocking pool on files.
    async fn local<T: Send + 'static>(
        store: &Arc<super::MemoryStreams>,
        f: impl FnOnce(&super::MemoryStreams) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if !store.on_disk() {
            return f(store);
        }
        let store = Arc::clone(store);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Io(format!("the store's worker failed: {e}")))?
    }

    /// Creates a stream with `config` and initial `items` (closed when `closed`), or
    /// confirms an existing one whose configuration and closed state match; `true` when
    /// created.
    ///
    /// # Errors
    /// [`StoreError::ConfigMismatch`], [`StoreError::TooManyStreams`], fork errors.
    pub async fn create(
        &self,
        path: &str,
        config: Config,
        items: Vec<Bytes>,
        closed: bool,
        now: SystemTime,
    ) -> Result<(Meta, bool), StoreError> {
        match self {
            Streams::Local(s) => {
                let path = path.to_owned();
                Self::local(s, move |s| s.create(&path, config, items, closed, now)).await
            }
            Streams::Redis(r) => r.create(path, config, items, closed, now).await,
        }
    }

    /// Appends (or closes).
    ///
    /// # Errors
    /// What [`Meta::admit`] refuses, [`StoreError::NotFound`], size bounds.
    pub async fn append(
        &self,
        path: &str,
        req: Append,
        now: SystemTime,
    ) -> Result<Appended, StoreError> {
        match self {
            Streams::Local(s) => {
                let path = path.to_owned();
                Self::local(s, move |s| s.append(&path, req, now)).await
            }
            Streams::Redis(r) => r.append(path, req, now).await,
        }
    }

    /// Reads from `from`, at most `max_bytes` (at least one item when any exists). Refreshes
    /// a TTL.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn read(
        &self,
        path: &str,
        from: Offset,
        max_bytes: usize,
        now: SystemTime,
    ) -> Result<Chunk, StoreError> {
        match self {
            Streams::Local(s) => {
                let path = path.to_owned();
                Self::local(s, move |s| s.read(&path, from, max_bytes, now)).await
            }
            Streams::Redis(r) => r.read(path, from, max_bytes, now).await,
        }
    }

    /// The metadata, without refreshing a TTL (`HEAD`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn meta(&self, path: &str, now: SystemTime) -> Result<Meta, StoreError> {
        match self {
            Streams::Local(s) => {
                let path = path.to_owned();
                Self::local(s, move |s| s.meta(&path, now)).await
            }
            Streams::Redis(r) => r.meta(path, now).await,
        }
    }

    /// Deletes the stream.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn delete(&self, path: &str, now: SystemTime) -> Result<(), StoreError> {
        match self {
            Streams::Local(s) => {
                let path = path.to_owned();
                Self::local(s, move |s| s.delete(&path, now)).await
            }
            Streams::Redis(r) => r.delete(path, now).await,
        }
    }

    /// A receiver that changes whenever the stream's tail does (on Redis: an append on any
    /// node); closed when it is deleted.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn watch(
        &self,
        path: &str,
        now: SystemTime,
    ) -> Result<watch::Receiver<Tail>, StoreError> {
        match self {
            Streams::Local(s) => {
                let path = path.to_owned();
                Self::local(s, move |s| s.watch(&path, now)).await
            }
            Streams::Redis(r) => r.watch(path, now).await,
        }
    }
}
