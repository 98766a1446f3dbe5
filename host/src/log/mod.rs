//! The message log: where every message the hub accepted lives, by index.
//!
//! A log holds messages `first..end` (JSON objects with their `idx`, stored as sent), an
//! `epoch` fixed when the log is created, and the latest [`State`](crate::model::State)
//! object. Backends: [`MemoryLog`] (`--memory`: a new epoch every start), [`FileLog`]
//! (the default: durable, crash-safe, keeps its epoch across restarts) and [`RedisLog`]
//! (`--store redis://…`: one log shared by several nodes).
//!
//! **Invariant:** appends to a local log are serialised by the caller (the hub holds one
//! publish lock), and the caller passes the index it expects; a log refuses any other index.
//! The Redis log assigns indices itself, atomically in Redis, so nodes need no shared lock
//! ([`RedisLog::append_message`]). Readers run concurrently with the writer and only ever see
//! committed records.
//!
//! Dispatch is an enum, not a trait object: the set of backends is closed and small, calls
//! stay static, and an async backend (Redis) can be added as one more variant.

mod file;
mod memory;
pub mod redis;

pub use self::redis::{Changes, ClientCert, OP_TIMEOUT, RedisConfig, RedisLog, Tail};
pub use file::{FileLog, OpenReport, RepairReport};
pub use memory::MemoryLog;

use bytes::Bytes;
use serde_json::{Map, Value};
use sse_core::Seq;
use std::sync::Arc;

/// One stored message: its index and its JSON (the object the agent sent, `idx` included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The message's index.
    pub idx: Seq,
    /// Compact JSON, one line.
    pub json: Bytes,
}

/// Which indices a log holds: `first..end` (`end` is the message count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// The oldest index still held.
    pub first: Seq,
    /// One past the newest index; the next append gets this index.
    pub end: Seq,
}

/// A log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file system failed. (Its text is in this error's own message, not a `source()`, so
    /// that printing the chain does not say it twice.)
    #[error("log I/O: {0}")]
    Io(std::io::Error),
    /// The data directory could not be created or opened at start.
    #[error("cannot use data directory {}: {error}", dir.display())]
    DataDir {
        /// The `--data-dir` given.
        dir: std::path::PathBuf,
        /// What the file system said.
        error: std::io::Error,
    },
    /// The caller's index is not the log's next index (two writers, or a bug).
    #[error("append at {got} but the log's next index is {expected}")]
    Conflict {
        /// The log's next index.
        expected: Seq,
        /// What the caller asked for.
        got: Seq,
    },
    /// A record is larger than [`MAX_RECORD`].
    #[error("record of {len} bytes exceeds the {max} byte limit")]
    TooLarge {
        /// The record's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Stored metadata could not be read.
    #[error("log metadata: {0}")]
    Metadata(String),
    /// Another process holds the data directory's lock (see the file log's module docs).
    #[error(
        "data directory {} is in use by another sse-host (lock held on its `lock` file); stop it or use another --data-dir",
        dir.display()
    )]
    Locked {
        /// The data directory.
        dir: std::path::PathBuf,
    },
    /// The file log is damaged before its tail (see the file log's module docs): refused so
    /// that no acknowledged message is dropped silently. `serve --repair` repairs it.
    #[error(
        "message log {} is damaged at byte {offset} ({damaged_bytes} damaged bytes) and {records_after} valid records follow; refusing to start so that no acknowledged message is dropped silently. Repair it with `sse-host serve --repair` (same --data-dir): the damaged file is kept as {}.damaged-<unix time>, every valid record is kept, and clients reset if any record was lost",
        path.display(),
        path.display()
    )]
    Corrupt {
        /// The damaged file.
        path: std::path::PathBuf,
        /// Byte offset of the first damage.
        offset: u64,
        /// Valid records after that offset.
        records_after: u64,
        /// Damaged bytes in the whole file.
        damaged_bytes: u64,
    },
    /// Redis is unreachable, too slow, or answered with an error.
    #[error("Redis: {0}")]
    Redis(String),
    /// The Redis log's epoch is not the one this node serves: its data was lost (a restart
    /// without persistence, a flush) or replaced. The node adopts the new epoch shortly.
    #[error("the Redis log was lost or replaced (new epoch); retry")]
    EpochChanged,
    /// The blocking I/O task was cancelled (runtime shutting down).
    #[error("log task cancelled")]
    Cancelled,
}

impl From<std::io::Error> for LogError {
    fn from(e: std::io::Error) -> Self {
        LogError::Io(e)
    }
}

/// Largest message a log stores: 64 MiB. It bounds the allocation a (corrupt) length prefix
/// in a file can cause at start, and lies far above any sane `--max-body`.
pub const MAX_RECORD: usize = 64 << 20;

/// A message log backend.
#[derive(Debug)]
pub enum Log {
    /// In memory; gone at exit.
    Memory(MemoryLog),
    /// Append-only file in a data directory.
    File(FileLog),
    /// Streams in a Redis shared by several nodes.
    Redis(RedisLog),
}

impl Log {
    /// The log's epoch: random, fixed when the log was created.
    #[must_use]
    pub fn epoch(&self) -> Arc<str> {
        match self {
            Log::Memory(l) => l.epoch(),
            Log::File(l) => l.epoch(),
            Log::Redis(l) => l.epoch(),
        }
    }

    /// Which indices the log holds now (for Redis: what this node has seen).
    #[must_use]
    pub fn extent(&self) -> Extent {
        match self {
            Log::Memory(l) => l.extent(),
            Log::File(l) => l.extent(),
            Log::Redis(l) => l.extent(),
        }
    }

    /// Appends `json` as message `idx`, durably for durable backends, before returning.
    ///
    /// # Errors
    /// [`LogError::Conflict`] when `idx` is not the next index (always, for the Redis log,
    /// which assigns indices itself: use [`RedisLog::append_message`]); I/O errors. On error
    /// the log is unchanged.
    pub async fn append(&self, idx: Seq, json: Bytes) -> Result<(), LogError> {
        if json.len() > MAX_RECORD {
            return Err(LogError::TooLarge {
                len: json.len(),
                max: MAX_RECORD,
            });
        }
        match self {
            Log::Memory(l) => l.append(idx, json),
            Log::File(l) => l.append(idx, json).await,
            Log::Redis(l) => Err(LogError::Conflict {
                expected: l.extent().end,
                got: idx,
            }),
        }
    }

    /// Reads messages from `from` on: at most `max_count`, and no more than `max_bytes` in
    /// total unless the first record alone is larger (a reader always makes progress).
    /// Indices below `first` are skipped; an empty result means `from >= end`.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn read(
        &self,
        from: Seq,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, LogError> {
        match self {
            Log::Memory(l) => Ok(l.read(from, max_count, max_bytes)),
            Log::File(l) => l.read(from, max_count, max_bytes).await,
            Log::Redis(l) => l.read(from, max_count, max_bytes).await,
        }
    }

    /// The stored state object (without the log-owned fields, which the hub adds).
    #[must_use]
    pub fn state(&self) -> Map<String, Value> {
        match self {
            Log::Memory(l) => l.state(),
            Log::File(l) => l.state(),
            Log::Redis(l) => l.state(),
        }
    }

    /// Replaces the stored state object (local logs; the Redis log merges with
    /// [`RedisLog::update_state`] instead).
    ///
    /// # Errors
    /// I/O errors; the stored state is then unchanged.
    pub async fn set_state(&self, state: Map<String, Value>) -> Result<(), LogError> {
        match self {
            Log::Memory(l) => {
                l.set_state(state);
                Ok(())
            }
            Log::File(l) => l.set_state(state).await,
            Log::Redis(l) => l
                .update_state(|_| Ok::<_, std::convert::Infallible>(state.clone()))
                .await
                .map(|_| ()),
        }
    }

    /// Bytes the log occupies (file size, or payload bytes in memory).
    #[must_use]
    pub fn size_bytes(&self) -> u64 {
        match self {
            Log::Memory(l) => l.size_bytes(),
            Log::File(l) => l.size_bytes(),
            Log::Redis(l) => l.size_bytes(),
        }
    }

    /// Makes everything written so far durable (state included). Called at shutdown.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn flush(&self) -> Result<(), LogError> {
        match self {
            Log::Memory(_) | Log::Redis(_) => Ok(()),
            Log::File(l) => l.flush().await,
        }
    }
}

/// A fresh random epoch: 128 bits from the OS as 32 hex digits.
#[must_use]
pub fn new_epoch() -> String {
    use std::io::Read;
    let mut buf = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if from_os.is_err() {
        // No /dev/urandom: fall back on std's per-process random hash keys and the clock.
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in buf.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
