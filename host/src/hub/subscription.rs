//! One stream subscriber: a position in the log plus what it last sent.

use super::{Shared, Slot, Snapshot};
use crate::frames;
use bytes::{Bytes, BytesMut};
use sse_core::Seq;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, PoisonError};
use tokio::sync::watch;

/// How soon a subscriber retries a log read that failed transiently.
const READ_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Which event types a subscriber wants (`?events=`). `reset` and `session_ended` are
/// control events and always sent: a client that misses them would resume wrongly or
/// reconnect forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFilter {
    /// `message` events.
    pub message: bool,
    /// `state` events.
    pub state: bool,
    /// `heartbeat` events.
    pub heartbeat: bool,
}

impl EventFilter {
    /// Every event.
    pub const ALL: EventFilter = EventFilter {
        message: true,
        state: true,
        heartbeat: true,
    };

    /// Parses `events=a,b,c`. Unknown names are ignored (a newer client may ask for event
    /// types this server does not send).
    #[must_use]
    pub fn parse(list: &str) -> EventFilter {
        let mut f = EventFilter {
            message: false,
            state: false,
            heartbeat: false,
        };
        for name in list.split(',').map(str::trim) {
            match name {
                "message" => f.message = true,
                "state" => f.state = true,
                "heartbeat" => f.heartbeat = true,
                _ => {}
            }
        }
        f
    }
}

/// Frames gathered for one write, bounded by the hub's `batch_bytes`.
#[derive(Debug)]
pub(crate) struct Batch {
    frames: Vec<Bytes>,
    len: usize,
    limit: usize,
}

impl Batch {
    fn new(limit: usize) -> Self {
        Batch {
            frames: Vec::new(),
            len: 0,
            limit,
        }
    }

    pub(crate) fn push(&mut self, frame: Bytes) {
        self.len += frame.len();
        self.frames.push(frame);
    }

    /// Puts `bytes` before everything queued (the opening `retry:` line).
    fn push_front(&mut self, bytes: Bytes) {
        self.len += bytes.len();
        self.frames.insert(0, bytes);
    }

    /// At or over the limit (a single oversized frame still goes out alone).
    pub(crate) fn is_full(&self) -> bool {
        self.len >= self.limit
    }

    fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.len)
    }

    /// One buffer for one write: the frame itself when alone (no copy).
    fn into_bytes(mut self) -> Bytes {
        if self.frames.len() == 1 {
            return self.frames.pop().unwrap_or_default();
        }
        let mut out = BytesMut::with_capacity(self.len);
        for f in &self.frames {
            out.extend_from_slice(f);
        }
        out.freeze()
    }
}

/// One subscriber's stream. Call [`Subscription::next_batch`] whenever the connection can
/// take more bytes; it returns `None` when the stream is over.
#[derive(Debug)]
pub struct Subscription {
    shared: Arc<Shared>,
    rx: watch::Receiver<Snapshot>,
    /// The log's epoch when this stream opened; the stream ends if it changes.
    epoch: Arc<str>,
    id: u64,
    slot: Arc<Slot>,
    /// The next message index to send.
    pos: Seq,
    filter: EventFilter,
    /// The opening (`reset`, if any) not yet queued.
    opening: Option<Option<Bytes>>,
    /// The `retry:` line goes in front of the first event sent.
    retry_owed: bool,
    sent_state: u64,
    sent_heartbeat: u64,
    lagging: bool,
    /// A log read failed transiently (Redis down): retry on a timer, keep the connection.
    read_failed: bool,
    done: bool,
}

impl Subscription {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        shared: Arc<Shared>,
        rx: watch::Receiver<Snapshot>,
        epoch: Arc<str>,
        id: u64,
        slot: Arc<Slot>,
        pos: Seq,
        filter: EventFilter,
        reset: Option<Bytes>,
        heartbeat_gen: u64,
    ) -> Self {
        Subscription {
            shared,
            rx,
            epoch,
            id,
            slot,
            pos,
            filter,
            opening: Some(reset),
            retry_owed: false,
            sent_state: 0,
            sent_heartbeat: heartbeat_gen,
            // A backlog older than the ring is read from the log without counting as lag;
            // falling out of the ring after being served from it does count.
            lagging: true,
            read_failed: false,
            done: false,
        }
    }

    /// The next index this subscriber will send.
    #[must_use]
    pub fn position(&self) -> Seq {
        self.pos
    }

    /// Everything ready for this subscriber, as one buffer; waits (cheaply, on the hub's
    /// watch) when nothing is. Order within a batch: `retry`, `reset` (first batch only),
    /// the latest `state` if it changed, `message`s in index order, `heartbeat`, and finally
    /// `session_ended` once every message is out. `None`: the stream is over (shutdown,
    /// session ended, log failure).
    pub async fn next_batch(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            let snap = self.rx.borrow_and_update().clone();
            if snap.shutdown {
                return None;
            }
            if snap.epoch != self.epoch {
                // The log was replaced under this stream: indices from here on belong to
                // another history. End it; the client reconnects and sees the new epoch.
                tracing::info!("the log's epoch changed; ending the stream");
                return None;
            }
            let mut batch = Batch::new(self.shared.config.batch_bytes);
            if let Some(reset) = self.opening.take() {
                self.retry_owed = true;
                if let Some(reset) = reset {
                    batch.push(reset);
                }
            }
            if self.sent_state != snap.state_version {
                self.sent_state = snap.state_version;
                if self.filter.state {
                    batch.push(snap.state_frame.clone());
                }
            }
            if self.filter.message {
                self.read_failed = false;
                match self.fill_messages(&mut batch, snap.end).await {
                    Ok(()) => {}
                    Err(e @ crate::log::LogError::Redis(_)) => {
                        tracing::warn!(error = %e, "log read failed; retrying");
                        self.read_failed = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "log read failed; ending the stream");
                        self.done = true;
                    }
                }
            } else {
                self.pos = snap.end;
            }
            if self.sent_heartbeat != snap.heartbeat_gen {
                self.sent_heartbeat = snap.heartbeat_gen;
                if self.filter.heartbeat {
                    batch.push(snap.heartbeat_frame.clone());
                }
            }
            if let Some(ended) = &snap.ended
                && self.pos >= snap.end
                && !self.done
            {
                batch.push(ended.clone());
                self.done = true;
            }
            if !batch.frames.is_empty() {
                let m = &self.shared.metrics;
                m.events_delivered
                    .fetch_add(batch.frames.len() as u64, Relaxed);
                if std::mem::take(&mut self.retry_owed) {
                    // Inside the first event's block, never a block of its own.
                    batch.push_front(self.shared.retry_line.clone());
                }
                m.writes.fetch_add(1, Relaxed);
                m.bytes_out.fetch_add(batch.len as u64, Relaxed);
                self.slot.last_taken_ms.store(self.shared.now_ms(), Relaxed);
                return Some(batch.into_bytes());
            }
            if self.done {
                return None;
            }
            // Nothing ready: park. A parked subscriber is never "stalled".
            self.slot.parked.store(true, Relaxed);
            let changed = if self.read_failed {
                tokio::time::timeout(READ_RETRY, self.rx.changed())
                    .await
                    .unwrap_or(Ok(()))
            } else {
                self.rx.changed().await
            };
            self.slot.parked.store(false, Relaxed);
            self.slot.last_taken_ms.store(self.shared.now_ms(), Relaxed);
            if changed.is_err() {
                return None;
            }
        }
    }

    /// Adds messages `pos..end` from the ring, or from the log while `pos` is older than the
    /// ring, until the batch is full.
    async fn fill_messages(
        &mut self,
        batch: &mut Batch,
        end: Seq,
    ) -> Result<(), crate::log::LogError> {
        while self.pos < end && !batch.is_full() {
            let (copied, ring_first) = {
                let ring = self
                    .shared
                    .ring
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                (ring.copy_from(self.pos, end, batch), ring.first())
            };
            match copied {
                Some(0) => break,
                Some(n) => {
                    self.pos = Seq(self.pos.0 + n);
                    self.lagging = false;
                }
                None => {
                    if !self.lagging {
                        self.lagging = true;
                        self.shared.metrics.lagged.fetch_add(1, Relaxed);
                    }
                    let count = usize::try_from(ring_first.0 - self.pos.0)
                        .unwrap_or(usize::MAX)
                        .min(self.shared.config.log_read_count);
                    let records = self
                        .shared
                        .log
                        .read(self.pos, count, batch.remaining())
                        .await?;
                    if records.is_empty() {
                        break;
                    }
                    if records[0].idx != self.pos {
                        // Retention dropped messages this subscriber has not sent: never skip
                        // within a stream. End it; the client resumes here and gets `reset`.
                        tracing::info!(pos = %self.pos, first = %records[0].idx,
                            "a subscriber fell below the retention window; ending its stream");
                        self.done = true;
                        break;
                    }
                    for r in records {
                        batch.push(frames::message(&self.epoch, r.idx, &r.json));
                        self.pos = r.idx.next();
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .slots
            .remove(&self.id);
        self.shared.metrics.subscribers.fetch_sub(1, Relaxed);
    }
}
