//! The in-memory Durable Streams store: every stream in a map, gone at restart.

use super::store::{Append, Appended, Chunk, Config, Meta, StoreError, StreamStore};
use bytes::Bytes;
use sse_core::durable::{Offset, Tail};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use tokio::sync::watch;

struct Stream {
    meta: Meta,
    /// Byte streams: one contiguous buffer. JSON mode: one entry per message.
    bytes: Vec<u8>,
    messages: Vec<Bytes>,
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
        let added: u64 = items.iter().map(|i| i.len() as u64).sum();
        if self.size().saturating_add(added) > max_bytes {
            return Err(StoreError::StreamFull { max: max_bytes });
        }
        let count = if self.meta.config.json {
            items.len() as u64
        } else {
            added
        };
        let next = self
            .meta
            .tail
            .next
            .advance(count)
            .map_err(|_| StoreError::OffsetOverflow)?;
        if self.meta.config.json {
            self.messages.extend(items.iter().cloned());
        } else {
            for i in items {
                self.bytes.extend_from_slice(i);
            }
        }
        Ok(next)
    }
}

/// Streams in memory, at most `max_streams` of them, each at most `max_stream_bytes`.
pub struct MemoryStreams {
    streams: Mutex<HashMap<String, Stream>>,
    generation: AtomicU64,
    max_streams: usize,
    max_stream_bytes: u64,
}

impl MemoryStreams {
    /// An empty store with these bounds.
    #[must_use]
    pub fn new(max_streams: usize, max_stream_bytes: u64) -> Self {
        MemoryStreams {
            streams: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(1),
            max_streams,
            max_stream_bytes,
        }
    }

    /// The map, with expired streams at `path` removed first.
    fn lock(
        &self,
        path: &str,
        now: SystemTime,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Stream>> {
        // A panic while holding the lock cannot leave a stream half-written in a way later
        // calls misread (each call writes its fields before publishing the tail), so a
        // poisoned lock is taken over.
        let mut map = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(path).is_some_and(|s| s.meta.expired(now)) {
            map.remove(path);
        }
        map
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

impl StreamStore for MemoryStreams {
    fn create(
        &self,
        path: &str,
        config: Config,
        items: Vec<Bytes>,
        closed: bool,
        now: SystemTime,
    ) -> Result<(Meta, bool), StoreError> {
        let mut map = self.lock(path, now);
        if let Some(existing) = map.get(path) {
            return if existing.meta.config.matches(&config) && existing.meta.tail.closed == closed {
                Ok((existing.meta.clone(), false))
            } else {
                Err(StoreError::ConfigMismatch)
            };
        }
        if map.len() >= self.max_streams {
            // Expired streams elsewhere free their slots first.
            map.retain(|_, s| !s.meta.expired(now));
            if map.len() >= self.max_streams {
                return Err(StoreError::TooManyStreams {
                    max: self.max_streams,
                });
            }
        }
        let tail = Tail {
            next: Offset::ZERO,
            closed: false,
        };
        let mut stream = Stream {
            meta: Meta {
                config,
                generation: self.generation.fetch_add(1, Ordering::Relaxed),
                tail,
                last_seq: None,
                producers: HashMap::new(),
                closed_by: None,
                touched: now,
            },
            bytes: Vec::new(),
            messages: Vec::new(),
            tail: watch::Sender::new(tail),
        };
        let next = stream.push(&items, self.max_stream_bytes)?;
        stream.meta.tail = Tail { next, closed };
        stream.tail.send_replace(stream.meta.tail);
        let meta = stream.meta.clone();
        map.insert(path.to_owned(), stream);
        Ok((meta, true))
    }

    fn append(&self, path: &str, req: Append, now: SystemTime) -> Result<Appended, StoreError> {
        let mut map = self.lock(path, now);
        let stream = map.get_mut(path).ok_or(StoreError::NotFound)?;
        stream.meta.touched = now;
        match stream.meta.admit(&req)? {
            super::store::Admit::Duplicate => Ok(Appended::Duplicate {
                tail: stream.meta.tail,
                producer: stream.meta.producer_state(&req),
            }),
            super::store::Admit::Write => {
                let next = stream.push(&req.items, self.max_stream_bytes)?;
                stream.meta.commit(&req, next);
                stream.tail.send_replace(stream.meta.tail);
                Ok(Appended::Done {
                    tail: stream.meta.tail,
                    producer: stream.meta.producer_state(&req),
                })
            }
        }
    }

    fn read(
        &self,
        path: &str,
        from: Offset,
        max_bytes: usize,
        now: SystemTime,
    ) -> Result<Chunk, StoreError> {
        let mut map = self.lock(path, now);
        let stream = map.get_mut(path).ok_or(StoreError::NotFound)?;
        stream.meta.touched = now;
        let start = from.position().min(stream.len());
        let (items, count) = if stream.meta.config.json {
            let mut taken = 0usize;
            let mut out = Vec::new();
            for m in stream
                .messages
                .iter()
                .skip(usize::try_from(start).unwrap_or(usize::MAX))
            {
                if !out.is_empty() && taken.saturating_add(m.len()) > max_bytes {
                    break;
                }
                taken = taken.saturating_add(m.len());
                out.push(m.clone());
            }
            let n = out.len() as u64;
            (out, n)
        } else {
            let begin = usize::try_from(start).unwrap_or(usize::MAX);
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

    fn meta(&self, path: &str, now: SystemTime) -> Result<Meta, StoreError> {
        let map = self.lock(path, now);
        map.get(path)
            .map(|s| s.meta.clone())
            .ok_or(StoreError::NotFound)
    }

    fn delete(&self, path: &str, now: SystemTime) -> Result<(), StoreError> {
        let mut map = self.lock(path, now);
        map.remove(path).map(drop).ok_or(StoreError::NotFound)
    }

    fn watch(&self, path: &str, now: SystemTime) -> Result<watch::Receiver<Tail>, StoreError> {
        let map = self.lock(path, now);
        map.get(path)
            .map(|s| s.tail.subscribe())
            .ok_or(StoreError::NotFound)
    }
}
