//! The in-memory log (`--memory`): nothing survives the process, so every start is a new
//! epoch and clients that resume see a `reset`.

use super::{Extent, LogError, Record};
use bytes::Bytes;
use serde_json::{Map, Value};
use sse_core::Seq;
use std::sync::{Mutex, PoisonError, RwLock};

/// Messages in a `Vec`, state in a map.
#[derive(Debug)]
pub struct MemoryLog {
    epoch: std::sync::Arc<str>,
    messages: RwLock<Vec<Bytes>>,
    state: Mutex<Map<String, Value>>,
    bytes: std::sync::atomic::AtomicU64,
}

impl Default for MemoryLog {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLog {
    /// An empty log with a new epoch.
    #[must_use]
    pub fn new() -> Self {
        MemoryLog {
            epoch: super::new_epoch().into(),
            messages: RwLock::new(Vec::new()),
            state: Mutex::new(Map::new()),
            bytes: 0.into(),
        }
    }

    pub(super) fn epoch(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.epoch)
    }

    pub(super) fn extent(&self) -> Extent {
        let n = self
            .messages
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        Extent {
            first: Seq::ZERO,
            end: Seq(n as u64),
        }
    }

    pub(super) fn append(&self, idx: Seq, json: Bytes) -> Result<(), LogError> {
        let mut m = self
            .messages
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let expected = Seq(m.len() as u64);
        if idx != expected {
            return Err(LogError::Conflict { expected, got: idx });
        }
        self.bytes
            .fetch_add(json.len() as u64, std::sync::atomic::Ordering::Relaxed);
        m.push(json);
        Ok(())
    }

    pub(super) fn read(&self, from: Seq, max_count: usize, max_bytes: usize) -> Vec<Record> {
        let m = self.messages.read().unwrap_or_else(PoisonError::into_inner);
        let start = usize::try_from(from.0).unwrap_or(usize::MAX).min(m.len());
        let mut out = Vec::new();
        let mut total = 0usize;
        for (i, json) in m[start..].iter().enumerate().take(max_count) {
            if !out.is_empty() && total + json.len() > max_bytes {
                break;
            }
            total += json.len();
            out.push(Record {
                idx: Seq((start + i) as u64),
                json: json.clone(),
            });
        }
        out
    }

    pub(super) fn state(&self) -> Map<String, Value> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set_state(&self, state: Map<String, Value>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    pub(super) fn size_bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }
}
