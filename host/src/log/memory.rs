//! The in-memory log (`--memory`): nothing survives the process, so every start is a new
//! epoch and clients that resume see a `reset`.
//!
//! **Retention** (`--max-messages N`): only the newest `N` messages are kept; each append past
//! `N` drops the oldest, so `first` moves up. A client resuming below `first` gets `reset` and
//! the retained messages (the hub's resume decision, `sse_core::seq::ResumeRequest::decide`).
//! Without a bound the log keeps everything (memory grows with the conversation).

use super::{Extent, LogError, Record};
use bytes::Bytes;
use serde_json::{Map, Value};
use sse_core::Seq;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, RwLock};

/// Messages `first..first + len` in a `VecDeque`, state in a map.
#[derive(Debug)]
pub struct MemoryLog {
    epoch: std::sync::Arc<str>,
    messages: RwLock<Window>,
    /// Most messages kept (`None`: all).
    max_messages: Option<usize>,
    state: Mutex<Map<String, Value>>,
    bytes: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct Window {
    /// Index of `messages[0]`.
    first: u64,
    messages: VecDeque<Bytes>,
}

impl Window {
    fn end(&self) -> u64 {
        self.first + self.messages.len() as u64
    }
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
        Self::with_max_messages(None)
    }

    /// An empty log with a new epoch that keeps at most `max` messages (at least one), dropping
    /// the oldest; `None` keeps all.
    #[must_use]
    pub fn with_max_messages(max: Option<usize>) -> Self {
        MemoryLog {
            epoch: super::new_epoch().into(),
            messages: RwLock::new(Window::default()),
            max_messages: max.map(|m| m.max(1)),
            state: Mutex::new(Map::new()),
            bytes: 0.into(),
        }
    }

    pub(super) fn epoch(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.epoch)
    }

    pub(super) fn extent(&self) -> Extent {
        let w = self.messages.read().unwrap_or_else(PoisonError::into_inner);
        Extent {
            first: Seq(w.first),
            end: Seq(w.end()),
        }
    }

    pub(super) fn append(&self, idx: Seq, json: Bytes) -> Result<(), LogError> {
        let mut m = self
            .messages
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let expected = Seq(m.end());
        if idx != expected {
            return Err(LogError::Conflict { expected, got: idx });
        }
        let mut size = self.bytes.load(std::sync::atomic::Ordering::Relaxed) + json.len() as u64;
        m.messages.push_back(json);
        while self.max_messages.is_some_and(|max| m.messages.len() > max) {
            if let Some(old) = m.messages.pop_front() {
                size -= old.len() as u64;
                m.first += 1;
            }
        }
        // Writers are serialised by the lock held here.
        self.bytes.store(size, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn read(&self, from: Seq, max_count: usize, max_bytes: usize) -> Vec<Record> {
        let w = self.messages.read().unwrap_or_else(PoisonError::into_inner);
        let start = usize::try_from(from.0.saturating_sub(w.first))
            .unwrap_or(usize::MAX)
            .min(w.messages.len());
        let mut out = Vec::new();
        let mut total = 0usize;
        for (i, json) in w.messages.range(start..).enumerate().take(max_count) {
            if !out.is_empty() && total + json.len() > max_bytes {
                break;
            }
            total += json.len();
            out.push(Record {
                idx: Seq(w.first + (start + i) as u64),
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
