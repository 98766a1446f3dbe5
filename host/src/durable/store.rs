//! What a Durable Streams store does, and the append rules every store shares.
//!
//! A store holds many streams by path. Each stream is a content type, a lifetime (TTL or
//! absolute expiry), bytes (or, in JSON mode, messages) addressed by [`Offset`], a closed
//! flag and the writer state (`Stream-Seq`, idempotent producers). [`StreamStore`] is the
//! interface the HTTP layer calls; [`Meta::admit`] is the one place that decides whether an
//! append goes in, so the memory store here and the file and Redis stores to come enforce
//! the same rules (each store only has to make `admit` + write atomic per stream).

use bytes::Bytes;
use sse_core::durable::{Offset, ProducerCheck, ProducerState, Tail};
use std::collections::HashMap;
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

/// A Durable Streams store: many streams by path.
///
/// Calls for one stream are atomic with respect to each other (an append's admission and
/// write happen under one lock). `now` is passed in so that expiry is testable.
pub trait StreamStore: std::fmt::Debug + Send + Sync + 'static {
    /// Creates a stream with `config` and initial `items` (closed when `closed`), or
    /// confirms an existing one whose configuration and closed state match.
    ///
    /// # Errors
    /// [`StoreError::ConfigMismatch`], [`StoreError::TooManyStreams`].
    fn create(
        &self,
        path: &str,
        config: Config,
        items: Vec<Bytes>,
        closed: bool,
        now: SystemTime,
    ) -> Result<(Meta, bool), StoreError>;

    /// Appends (or closes).
    ///
    /// # Errors
    /// What [`Meta::admit`] refuses, [`StoreError::NotFound`], size bounds.
    fn append(&self, path: &str, req: Append, now: SystemTime) -> Result<Appended, StoreError>;

    /// Reads from `from`, at most `max_bytes` (at least one item when any exists). Refreshes
    /// a TTL.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn read(
        &self,
        path: &str,
        from: Offset,
        max_bytes: usize,
        now: SystemTime,
    ) -> Result<Chunk, StoreError>;

    /// The metadata, without refreshing a TTL (`HEAD`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn meta(&self, path: &str, now: SystemTime) -> Result<Meta, StoreError>;

    /// Deletes the stream.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn delete(&self, path: &str, now: SystemTime) -> Result<(), StoreError>;

    /// A receiver that changes whenever the stream's tail does; closed when it is deleted.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn watch(&self, path: &str, now: SystemTime) -> Result<watch::Receiver<Tail>, StoreError>;
}
