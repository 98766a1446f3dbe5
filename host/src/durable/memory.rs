//! The Durable Streams store: every stream in a map, gone at restart unless the store was
//! opened on a directory ([`MemoryStreams::open_dir`]), where every change is also written
//! to the stream's file (`file.rs`) before it is acknowledged, and read back at the next start.
//!
//! Forks are copied at creation (`PROTOCOL.md` §4.2 allows copy-on-fork): a fork holds the
//! source's data up to the divergence point, at the same offsets, so reads never stitch. The
//! source still counts its forks: deleting a source with forks soft-deletes it (410 on its
//! URL, its path not re-creatable), and the last fork's end removes it, up the chain.

use super::file::{FileError, Journal, OpenReport};
use super::store::{
    Admit, Append, Appended, Chunk, Config, Meta, StoreError, fork_anchor, fork_cut,
};
use bytes::Bytes;
use sse_core::durable::{Offset, Tail};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// How often a call sweeps every stream for expiry (the stream it names is checked always).
const SWEEP_EVERY: Duration = Duration::from_millis(100);

struct Stream {
    meta: Meta,
    /// Byte streams: one contiguous buffer. JSON mode: one entry per message.
    bytes: Vec<u8>,
    messages: Vec<Bytes>,
    /// The position after each write, ascending: a fork's sub-offset stays within one.
    boundaries: Vec<u64>,
    /// Forks made from this stream and still alive.
    forks: usize,
    /// Deleted while forks remain: 410 on its URL.
    soft_deleted: bool,
    tail: watch::Sender<Tail>,
}

impl Stream {
    fn len(&self) -> u64 {
        if self.meta.config.json {
            self.messages.len() as u64
        } else {
            self.bytes.len() as u64
        }
    }

    fn size(&self) -> u64 {
        self.bytes.len() as u64 + self.messages.iter().map(|m| m.len() as u64).sum::<u64>()
    }

    /// Stores `items`; returns the new tail offset.
    fn push(&mut self, items: &[Bytes], max_bytes: u64) -> Result<Offset, StoreError> {
        let (next, count) = self.plan(items, max_bytes)?;
        self.apply(items, next, count);
        Ok(next)
    }

    /// Where `items` would move the tail, and how far (checked against the bound).
    fn plan(&self, items: &[Bytes], max_bytes: u64) -> Result<(Offset, u64), StoreError> {
        self.meta.plan(items, self.size(), max_bytes)
    }

    /// Stores `items` as [`Stream::plan`] allowed.
    fn apply(&mut self, items: &[Bytes], next: Offset, count: u64) {
        if self.meta.config.json {
            self.messages.extend(items.iter().cloned());
        } else {
            for i in items {
                self.bytes.extend_from_slice(i);
            }
        }
        if count > 0 {
            self.boundaries.push(next.position());
        }
    }
}

struct Streams {
    map: HashMap<String, Stream>,
    /// Stored bytes over all streams (soft-deleted ones included).
    total: u64,
    generation: u64,
    last_sweep: SystemTime,
    /// The stream files, when the store is on a directory.
    journal: Option<Journal>,
}

impl Streams {
    /// Ends a stream that was deleted or expired: soft when forks still read it, else gone,
    /// and then its source loses a fork (and may go in turn). Returns the first error of
    /// the files, if any (memory is changed regardless).
    fn end(&mut self, path: &str) -> Option<std::io::Error> {
        let mut failed = None;
        let mut next = Some(path.to_owned());
        // Each step removes one stream, so the chain is at most the map's size.
        let mut steps = self.map.len() + 1;
        while let Some(p) = next.take() {
            steps -= 1;
            if steps == 0 {
                break;
            }
            let Some(s) = self.map.get_mut(&p) else { break };
            if s.forks > 0 {
                if !s.soft_deleted
                    && let Some(j) = &self.journal
                    && let Err(e) = j.soft_delete(s.meta.generation)
                {
                    failed.get_or_insert(e);
                }
                s.soft_deleted = true;
                break;
            }
            if let Some(j) = &self.journal
                && let Err(e) = j.remove(s.meta.generation)
            {
                failed.get_or_insert(e);
            }
            let source = s.meta.config.fork.as_ref().map(|f| f.source.clone());
            self.total = self.total.saturating_sub(s.size());
            self.map.remove(&p);
            if let Some(src) = source
                && let Some(parent) = self.map.get_mut(&src)
            {
                parent.forks = parent.forks.saturating_sub(1);
                if parent.forks == 0 && parent.soft_deleted {
                    next = Some(src);
                }
            }
        }
        failed
    }

    fn expire(&mut self, path: &str, now: SystemTime) {
        if self
            .map
            .get(path)
            .is_some_and(|s| !s.soft_deleted && s.meta.expired(now))
        {
            self.ended(path);
        }
        let due = now
            .duration_since(self.last_sweep)
            .is_ok_and(|d| d >= SWEEP_EVERY);
        if due {
            self.last_sweep = now;
            let expired: Vec<String> = self
                .map
                .iter()
                .filter(|(_, s)| !s.soft_deleted && s.meta.expired(now))
                .map(|(p, _)| p.clone())
                .collect();
            for p in expired {
                self.ended(&p);
            }
        }
    }

    /// [`Streams::end`] for an expiry: an error of the files is only logged (the stream is
    /// gone for clients; its file, if left, expires again at the next start).
    fn ended(&mut self, path: &str) {
        if let Some(e) = self.end(path) {
            tracing::warn!(error = %e, "Durable Streams: could not remove an expired stream's file");
        }
    }

    /// The stream at `path` as clients see it: 404 when absent, 410 when soft-deleted.
    fn live(&mut self, path: &str) -> Result<&mut Stream, StoreError> {
        match self.map.get_mut(path) {
            None => Err(StoreError::NotFound),
            Some(s) if s.soft_deleted => Err(StoreError::Gone),
            Some(s) => Ok(s),
        }
    }
}

/// Streams in memory, at most `max_streams` of them, each at most `max_stream_bytes`, all
/// together at most `max_total_bytes` ([`MemoryStreams::with_max_total`]).
pub struct MemoryStreams {
    streams: Mutex<Streams>,
    max_streams: usize,
    max_stream_bytes: u64,
    max_total_bytes: u64,
    /// Backed by files.
    disk: bool,
}

impl MemoryStreams {
    /// An empty store with these bounds.
    #[must_use]
    pub fn new(max_streams: usize, max_stream_bytes: u64) -> Self {
        MemoryStreams {
            streams: Mutex::new(Streams {
                map: HashMap::new(),
                total: 0,
                generation: 1,
                last_sweep: SystemTime::UNIX_EPOCH,
                journal: None,
            }),
            max_streams,
            max_stream_bytes,
            max_total_bytes: u64::MAX,
            disk: false,
        }
    }

    /// The store on a directory: every stream read back from `dir` (torn tails cut), and
    /// every change written there durably before it is acknowledged.
    ///
    /// # Errors
    /// I/O errors, or a damaged stream file.
    pub fn open_dir(
        dir: &std::path::Path,
        max_streams: usize,
        max_stream_bytes: u64,
        now: SystemTime,
    ) -> Result<(Self, OpenReport), FileError> {
        let (journal, recovered, report) = Journal::open(dir, now)?;
        let mut store = MemoryStreams::new(max_streams, max_stream_bytes);
        store.disk = true;
        {
            let mut streams = store
                .streams
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for r in recovered {
                streams.generation = streams.generation.max(r.meta.generation.saturating_add(1));
                let stream = Stream {
                    tail: watch::Sender::new(r.meta.tail),
                    meta: r.meta,
                    bytes: r.bytes,
                    messages: r.messages,
                    boundaries: r.boundaries,
                    forks: 0,
                    soft_deleted: r.soft_deleted,
                };
                streams.total = streams.total.saturating_add(stream.size());
                streams.map.insert(r.path, stream);
            }
            let sources: Vec<String> = streams
                .map
                .values()
                .filter_map(|s| s.meta.config.fork.as_ref().map(|f| f.source.clone()))
                .collect();
            for src in sources {
                if let Some(s) = streams.map.get_mut(&src) {
                    s.forks += 1;
                }
            }
            streams.journal = Some(journal);
            // A soft-deleted stream whose last fork went just before a crash goes now.
            let orphans: Vec<String> = streams
                .map
                .iter()
                .filter(|(_, s)| s.soft_deleted && s.forks == 0)
                .map(|(p, _)| p.clone())
                .collect();
            for p in orphans {
                if let Some(e) = streams.end(&p) {
                    return Err(e.into());
                }
            }
        }
        Ok((store, report))
    }

    /// The same with a bound on all streams' bytes together (the memory they may take).
    #[must_use]
    pub fn with_max_total(mut self, max_total_bytes: u64) -> Self {
        self.max_total_bytes = max_total_bytes;
        self
    }

    fn check_total(&self, total: u64, added: u64) -> Result<(), StoreError> {
        if total.saturating_add(added) > self.max_total_bytes {
            return Err(StoreError::StoreFull {
                max: self.max_total_bytes,
            });
        }
        Ok(())
    }

    /// The streams, with expired ones ended first.
    fn lock(&self, path: &str, now: SystemTime) -> std::sync::MutexGuard<'_, Streams> {
        // Every call finishes its writes before it publishes a tail, so a panic elsewhere
        // leaves nothing half-visible: a poisoned lock is taken over.
        let mut s = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.expire(path, now);
        s
    }
}

impl std::fmt::Debug for MemoryStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStreams")
            .field("max_streams", &self.max_streams)
            .field("max_stream_bytes", &self.max_stream_bytes)
            .finish_non_exhaustive()
    }
}

/// What a fork inherits: the resolved configuration and the copied prefix.
struct Inherited {
    config: Config,
    bytes: Vec<u8>,
    messages: Vec<Bytes>,
    boundaries: Vec<u64>,
    next: Offset,
}

fn inherit(streams: &Streams, requested: &Config) -> Result<Option<Inherited>, StoreError> {
    let Some(fork) = &requested.fork else {
        return Ok(None);
    };
    let src = match streams.map.get(&fork.source) {
        None => return Err(StoreError::NotFound),
        Some(s) if s.soft_deleted => return Err(StoreError::SourceGone),
        Some(s) => s,
    };
    let (config, anchor) = fork_anchor(&src.meta, requested)?;
    let boundary = src
        .boundaries
        .iter()
        .copied()
        .find(|b| *b > anchor.position());
    let (cut, next) = fork_cut(anchor, fork.sub, boundary)?;
    let at = usize::try_from(cut).map_err(|_| StoreError::OffsetOverflow)?;
    let mut boundaries: Vec<u64> = src
        .boundaries
        .iter()
        .copied()
        .filter(|b| *b < cut)
        .collect();
    if cut > 0 {
        boundaries.push(cut);
    }
    Ok(Some(Inherited {
        config,
        bytes: src.bytes.get(..at).unwrap_or_default().to_vec(),
        messages: src.messages.get(..at).unwrap_or_default().to_vec(),
        boundaries,
        next,
    }))
}

/// The store's calls, each atomic for its stream ([`super::store::Streams`] says what they do).
impl MemoryStreams {
    /// Whether every change is written to files (then calls may `fsync`).
    #[must_use]
    pub fn on_disk(&self) -> bool {
        self.disk
    }

    /// See [`super::store::Streams::create`].
    ///
    /// # Errors
    /// As there.
    pub fn create(
        &self,
        path: &str,
        config: Config,
        items: Vec<Bytes>,
        closed: bool,
        now: SystemTime,
    ) -> Result<(Meta, bool), StoreError> {
        let mut streams = self.lock(path, now);
        if let Some(existing) = streams.map.get(path) {
            if existing.soft_deleted {
                return Err(StoreError::ConfigMismatch);
            }
            existing.meta.confirm(&config, closed)?;
            return Ok((existing.meta.clone(), false));
        }
        if streams.map.len() >= self.max_streams {
            return Err(StoreError::TooManyStreams {
                max: self.max_streams,
            });
        }
        let inherited = inherit(&streams, &config)?;
        let start = Tail {
            next: inherited.as_ref().map_or(Offset::ZERO, |i| i.next),
            closed: false,
        };
        let generation = streams.generation;
        streams.generation += 1;
        let requested = config.clone();
        let (config, bytes, messages, boundaries) = match inherited {
            Some(i) => (i.config, i.bytes, i.messages, i.boundaries),
            None => (config, Vec::new(), Vec::new(), Vec::new()),
        };
        let mut stream = Stream {
            meta: Meta {
                config,
                requested,
                generation,
                tail: start,
                last_seq: None,
                producers: HashMap::new(),
                closed_by: None,
                touched: now,
            },
            bytes,
            messages,
            boundaries,
            forks: 0,
            soft_deleted: false,
            tail: watch::Sender::new(start),
        };
        let added: u64 = items.iter().map(|i| i.len() as u64).sum();
        self.check_total(streams.total, stream.size().saturating_add(added))?;
        let next = stream.push(&items, self.max_stream_bytes)?;
        stream.meta.tail = Tail { next, closed };
        if let Some(j) = &streams.journal {
            let data: Vec<&[u8]> = if stream.meta.config.json {
                stream.messages.iter().map(AsRef::as_ref).collect()
            } else {
                vec![&stream.bytes]
            };
            j.create(path, &stream.meta, &data, &stream.boundaries)
                .map_err(io_error)?;
        }
        streams.total = streams.total.saturating_add(stream.size());
        stream.tail.send_replace(stream.meta.tail);
        let meta = stream.meta.clone();
        if let Some(f) = &meta.config.fork
            && let Some(src) = streams.map.get_mut(&f.source)
        {
            src.forks += 1;
        }
        streams.map.insert(path.to_owned(), stream);
        Ok((meta, true))
    }

    /// See [`super::store::Streams::append`].
    ///
    /// # Errors
    /// As there.
    pub fn append(&self, path: &str, req: Append, now: SystemTime) -> Result<Appended, StoreError> {
        let mut streams = self.lock(path, now);
        streams.live(path)?;
        let Streams {
            map,
            total,
            journal,
            ..
        } = &mut *streams;
        let stream = map.get_mut(path).ok_or(StoreError::NotFound)?;
        stream.meta.touched = now;
        match stream.meta.admit(&req)? {
            Admit::Duplicate => Ok(Appended::Duplicate {
                tail: stream.meta.tail,
                producer: stream.meta.producer_state(&req),
            }),
            Admit::Write => {
                let added: u64 = req.items.iter().map(|i| i.len() as u64).sum();
                self.check_total(*total, added)?;
                let (next, count) = stream.plan(&req.items, self.max_stream_bytes)?;
                if let Some(j) = journal {
                    j.append(stream.meta.generation, &req, next)
                        .map_err(io_error)?;
                }
                stream.apply(&req.items, next, count);
                *total = total.saturating_add(added);
                stream.meta.commit(&req, next);
                stream.tail.send_replace(stream.meta.tail);
                Ok(Appended::Done {
                    tail: stream.meta.tail,
                    producer: stream.meta.producer_state(&req),
                })
            }
        }
    }

    /// See [`super::store::Streams::read`].
    ///
    /// # Errors
    /// As there.
    pub fn read(
        &self,
        path: &str,
        from: Offset,
        max_bytes: usize,
        now: SystemTime,
    ) -> Result<Chunk, StoreError> {
        let mut streams = self.lock(path, now);
        let stream = streams.live(path)?;
        stream.meta.touched = now;
        let start = from.position().min(stream.len());
        let begin = usize::try_from(start).unwrap_or(usize::MAX);
        let (items, count) = if stream.meta.config.json {
            let mut taken = 0usize;
            let mut out = Vec::new();
            for m in stream.messages.iter().skip(begin) {
                if !out.is_empty() && taken.saturating_add(m.len()) > max_bytes {
                    break;
                }
                taken = taken.saturating_add(m.len());
                out.push(m.clone());
            }
            let n = out.len() as u64;
            (out, n)
        } else {
            let end = stream
                .bytes
                .len()
                .min(begin.saturating_add(max_bytes.max(1)));
            let slice = stream.bytes.get(begin..end).unwrap_or_default();
            let n = slice.len() as u64;
            let items = if slice.is_empty() {
                Vec::new()
            } else {
                vec![Bytes::copy_from_slice(slice)]
            };
            (items, n)
        };
        let base = Offset::new(from.segment(), start).map_err(|_| StoreError::OffsetOverflow)?;
        let next = base
            .advance(count)
            .map_err(|_| StoreError::OffsetOverflow)?;
        Ok(Chunk {
            meta: stream.meta.clone(),
            items,
            next,
        })
    }

    /// See [`super::store::Streams::meta`].
    ///
    /// # Errors
    /// As there.
    pub fn meta(&self, path: &str, now: SystemTime) -> Result<Meta, StoreError> {
        let mut streams = self.lock(path, now);
        streams.live(path).map(|s| s.meta.clone())
    }

    /// See [`super::store::Streams::delete`].
    ///
    /// # Errors
    /// As there.
    pub fn delete(&self, path: &str, now: SystemTime) -> Result<(), StoreError> {
        let mut streams = self.lock(path, now);
        streams.live(path)?;
        match streams.end(path) {
            None => Ok(()),
            Some(e) => Err(io_error(e)),
        }
    }

    /// See [`super::store::Streams::watch`].
    ///
    /// # Errors
    /// As there.
    pub fn watch(&self, path: &str, now: SystemTime) -> Result<watch::Receiver<Tail>, StoreError> {
        let mut streams = self.lock(path, now);
        streams.live(path).map(|s| s.tail.subscribe())
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    tracing::error!(error = %e, "Durable Streams: writing a stream file failed");
    StoreError::Io(e.to_string())
}
