//! The hub: one publisher, many subscribers, every event encoded once.
//!
//! ```text
//!  agent ──append/patch──▶ Hub::publish lock ──▶ Log (durable first)
//!                               │ local log: the publisher; Redis log: the tail task
//!                               ▼ (XREAD BLOCK: this node's and other nodes' entries)
//!                          "an entry appeared"
//!                               ├─▶ Ring: recent `message` frames (Bytes, encoded once)
//!                               └─▶ watch<Snapshot>: end index, state frame, heartbeat frame
//!                                        │ (one wake-up per change; no per-subscriber queue)
//!           ┌────────────────────────────┼────────────────────────────┐
//!      Subscription              Subscription                 Subscription
//!      pulls pos..end from the Ring (Bytes clones), or from the Log when it lagged out of the
//!      Ring; batches everything ready into one write; sends the latest state only once.
//! ```
//!
//! **Invariants.**
//! - The publisher never waits for a subscriber: publishing is "append to log, push to ring,
//!   bump the watch". Subscribers hold no queue the publisher fills; a subscriber is a position.
//! - A message is in the log before it is in the ring, and in the ring before the snapshot's
//!   `end` covers it, so a subscriber reading `pos..end` always finds it.
//! - One source feeds the ring: the publisher for a local log; for the Redis log only the
//!   tail task (`tail`), which reads every node's entries in index order, this node's
//!   own included, so nothing is delivered twice and no index is skipped. A publish on a
//!   Redis hub returns once the tail has seen its index (bounded wait), so a node reads
//!   its own writes.
//! - The snapshot carries the epoch; a subscription whose epoch is no longer the log's (the
//!   Redis log was lost and re-created) ends, so its client reconnects and sees the change.
//! - `state` is coalesced: a subscriber sends the snapshot's latest state frame when the
//!   version it sent last differs; never one per message it replays.
//! - Heartbeats come from one task for the whole hub (schedule: `sse_core::heartbeat`).
//! - Bounds: the ring holds at most `ring_frames` frames and `ring_bytes` bytes; one write is
//!   at most `batch_bytes` (or one frame if larger); a subscriber that has not taken a ready
//!   batch for `stall_timeout` is disconnected (the *stall bound*); at most `max_subscribers`.

mod metrics;
mod ring;
mod subscription;
mod tail;

pub use metrics::Metrics;
pub use subscription::{EventFilter, Subscription};

use crate::frames;
use crate::log::{Log, LogError, Record};
use crate::model::{self, ModelError};
use bytes::Bytes;
use ring::Ring;
use serde_json::{Map, Value};
use sse_core::Seq;
use sse_core::seq::{Resume, ResumeRequest, Window};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Tuning and bounds of a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Frames kept in the in-memory window (default 4096).
    pub ring_frames: usize,
    /// Bytes kept in the in-memory window (default 32 MiB).
    pub ring_bytes: usize,
    /// Largest batch handed to one socket write (default 256 KiB; a larger single frame is
    /// sent alone).
    pub batch_bytes: usize,
    /// Messages read from the log per catch-up read (default 256).
    pub log_read_count: usize,
    /// Heartbeat interval (default 15 s).
    pub heartbeat: Duration,
    /// The `retry:` hint sent first on every stream (default 1 s, the client's base backoff).
    pub retry: Duration,
    /// A subscriber that leaves a ready batch untaken this long is disconnected (default 60 s).
    pub stall_timeout: Duration,
    /// Most concurrent stream subscribers (default 100 000; `serve` derives it from the fd
    /// limit, see `server::fds`); more get 503.
    pub max_subscribers: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            ring_frames: 4096,
            ring_bytes: 32 << 20,
            batch_bytes: 256 << 10,
            log_read_count: 256,
            heartbeat: Duration::from_secs(15),
            retry: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(60),
            max_subscribers: 100_000,
        }
    }
}

/// What every subscriber sees at one moment; cloning is a handful of refcount increments.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) epoch: Arc<str>,
    pub(crate) end: Seq,
    pub(crate) state_version: u64,
    pub(crate) state_frame: Bytes,
    pub(crate) state_json: Bytes,
    pub(crate) heartbeat_gen: u64,
    pub(crate) heartbeat_frame: Bytes,
    /// `Some(frame)` once the agent ended the session.
    pub(crate) ended: Option<Bytes>,
    pub(crate) shutdown: bool,
}

/// Publishing failed; the log and state are unchanged.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The message or patch is invalid.
    #[error(transparent)]
    Invalid(#[from] ModelError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
}

/// Subscribing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// `max_subscribers` are connected.
    #[error("too many subscribers")]
    TooMany,
    /// The session has ended and the client has every message ([`Resume::Ended`]): answer
    /// `204 No Content` so that an `EventSource` stops reconnecting.
    #[error("the session has ended")]
    Ended,
}

/// The fan-out hub. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) log: Log,
    pub(crate) config: HubConfig,
    publish: tokio::sync::Mutex<Publisher>,
    /// Serialises rendering the state and sending the snapshot (publisher and tail).
    render: Mutex<()>,
    pub(crate) ring: RwLock<Ring>,
    pub(crate) tx: watch::Sender<Snapshot>,
    pub(crate) metrics: Metrics,
    pub(crate) registry: Mutex<Registry>,
    /// `retry: N` (a field line, [`frames::retry_line`]) that goes before a stream's first event.
    pub(crate) retry_line: Bytes,
    origin: tokio::time::Instant,
    stop: Notify,
}

#[derive(Debug)]
struct Publisher {
    closed: bool,
}

/// Live subscribers, for the stall check.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    next_id: u64,
    pub(crate) slots: HashMap<u64, Arc<Slot>>,
}

/// What the hub knows about one subscriber without touching it.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Parked on the watch: nothing is ready for it, so it cannot be stalled.
    pub(crate) parked: AtomicBool,
    /// Hub-clock milliseconds when it last took a batch (or started).
    pub(crate) last_taken_ms: AtomicU64,
    pub(crate) killed: AtomicBool,
    /// Closes the subscriber's connection when the stall bound is passed.
    pub(crate) kill: Option<Arc<Notify>>,
}

impl Hub {
    /// A hub over `log`. Spawns the shared heartbeat task (needs a tokio runtime); it ends
    /// at [`Hub::shutdown`].
    #[must_use]
    pub fn new(log: Log, config: HubConfig) -> Hub {
        let state = log.state();
        let end = log.extent().end;
        let epoch = log.epoch();
        let (state_json, ended) = render_state(&state, &epoch, log.extent());
        let snapshot = Snapshot {
            epoch,
            end,
            state_version: 1,
            state_frame: frames::json_event(frames::STATE, &state_json),
            state_json: Bytes::from(state_json),
            heartbeat_gen: 0,
            heartbeat_frame: frames::heartbeat(unix_now()),
            ended: ended.map(|m| frames::session_ended(&m)),
            shutdown: false,
        };
        let (tx, _) = watch::channel(snapshot);
        let shared = Arc::new(Shared {
            ring: RwLock::new(Ring::new(end, config.ring_frames, config.ring_bytes)),
            retry_line: frames::retry_line(config.retry),
            log,
            config,
            publish: tokio::sync::Mutex::new(Publisher { closed: false }),
            render: Mutex::new(()),
            tx,
            metrics: Metrics::default(),
            registry: Mutex::new(Registry::default()),
            origin: tokio::time::Instant::now(),
            stop: Notify::new(),
        });
        tokio::spawn(heartbeat_task(Arc::downgrade(&shared)));
        if let Log::Redis(log) = &shared.log {
            tokio::spawn(tail::tail_task(Arc::downgrade(&shared), log.tail()));
        }
        Hub { shared }
    }

    /// Validates `message`, assigns it the next index, stores it durably, and publishes it.
    ///
    /// # Errors
    /// [`PublishError`]; nothing was stored then.
    pub async fn append(&self, message: Value) -> Result<Seq, PublishError> {
        if let Log::Redis(log) = &self.shared.log {
            return self.append_shared(log, message).await;
        }
        let p = self.shared.publish.lock().await;
        if p.closed {
            return Err(PublishError::ShuttingDown);
        }
        let s = &self.shared;
        let idx = s.log.extent().end;
        let map = model::prepare_message(message, idx.0)?;
        let json = Bytes::from(Value::Object(map).to_string());
        s.log.append(idx, json.clone()).await?;
        let frame = frames::message(&s.log.epoch(), idx, &json);
        s.ring
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(idx, frame);
        s.metrics.messages_published.fetch_add(1, Relaxed);
        s.publish_state();
        Ok(idx)
    }

    /// [`Hub::append`] on the Redis log: Redis assigns the index; the tail puts the entry
    /// in the ring. Publishers on one node run concurrently (no publish lock).
    async fn append_shared(
        &self,
        log: &crate::log::RedisLog,
        message: Value,
    ) -> Result<Seq, PublishError> {
        if self.shared.publish.lock().await.closed {
            return Err(PublishError::ShuttingDown);
        }
        let map = model::prepare_message(message, 0)?;
        let idx = log.append_message(map).await?;
        self.shared.metrics.messages_published.fetch_add(1, Relaxed);
        self.await_seen(idx).await;
        Ok(idx)
    }

    /// Waits (at most [`crate::log::OP_TIMEOUT`]) until this node's tail has put message
    /// `idx` in the ring. The message is stored either way; this only gives a publisher
    /// read-your-writes on its own node.
    async fn await_seen(&self, idx: Seq) {
        let mut rx = self.shared.tx.subscribe();
        let seen = rx.wait_for(|snap| snap.end > idx || snap.shutdown);
        if tokio::time::timeout(crate::log::OP_TIMEOUT, seen)
            .await
            .is_err()
        {
            tracing::warn!(%idx, "stored in Redis, but this node's tail has not read it yet");
        }
    }

    /// Merges `patch` (RFC 7396) into the state, stores and publishes it; returns the new
    /// state JSON.
    ///
    /// # Errors
    /// [`PublishError`]; the state is unchanged then.
    pub async fn patch_state(&self, patch: &Value) -> Result<Bytes, PublishError> {
        let s = &self.shared;
        if let Log::Redis(log) = &s.log {
            if s.publish.lock().await.closed {
                return Err(PublishError::ShuttingDown);
            }
            // Merged here, written with compare-and-set in Redis; other nodes learn it from
            // the state stream.
            log.update_state(|current| model::merge_state(current, patch))
                .await??;
        } else {
            let p = s.publish.lock().await;
            if p.closed {
                return Err(PublishError::ShuttingDown);
            }
            let next = model::merge_state(&s.log.state(), patch)?;
            s.log.set_state(next).await?;
        }
        s.metrics.state_updates.fetch_add(1, Relaxed);
        Ok(s.publish_state())
    }

    /// Restarts the conversation as sketch's `POST /restart` did: appends "Conversation
    /// restarted.", makes it the conversation's first message (`first_message_index`) and
    /// clears the title. The log keeps everything before it. Returns its index.
    ///
    /// # Errors
    /// [`PublishError`].
    pub async fn restart_conversation(&self) -> Result<Seq, PublishError> {
        let idx = self
            .append(serde_json::json!({"type": "agent", "content": "Conversation restarted."}))
            .await?;
        let mark = |current: &Map<String, Value>| {
            let mut next = current.clone();
            next.insert(model::RESTART_INDEX_FIELD.into(), idx.0.into());
            next.insert("title".into(), "".into());
            Ok::<_, ModelError>(next)
        };
        let s = &self.shared;
        if let Log::Redis(log) = &s.log {
            log.update_state(mark).await??;
        } else {
            let p = s.publish.lock().await;
            if p.closed {
                return Err(PublishError::ShuttingDown);
            }
            s.log.set_state(mark(&s.log.state())?).await?;
        }
        s.publish_state();
        Ok(idx)
    }

    /// Waits until the log holds more than `seen` messages, the server shuts down, or
    /// `limit` passes (sketch's `GET /state?poll=true&seen=N`).
    pub async fn wait_for_more_than(&self, seen: u64, limit: Duration) {
        let mut rx = self.shared.tx.subscribe();
        let more = rx.wait_for(|snap| snap.end.0 > seen || snap.shutdown);
        let _ = tokio::time::timeout(limit, more).await;
    }

    /// Opens a stream subscription resuming as `resume` asks (`sse_core` decides replay vs
    /// reset). `kill`, when given, is notified if the subscriber passes the stall bound.
    ///
    /// # Errors
    /// [`SubscribeError::TooMany`] at `max_subscribers`; [`SubscribeError::Ended`] when the
    /// session ended and the client has everything.
    pub fn subscribe(
        &self,
        resume: ResumeRequest<'_>,
        filter: EventFilter,
        kill: Option<Arc<Notify>>,
    ) -> Result<Subscription, SubscribeError> {
        let s = &self.shared;
        let decided = {
            let snap = s.tx.borrow();
            let window = Window {
                first: s.log.extent().first,
                end: snap.end,
            };
            if snap.ended.is_some() {
                resume.decide_ended(window, &snap.epoch)
            } else {
                resume.decide(window, &snap.epoch)
            }
        };
        if decided == Resume::Ended {
            return Err(SubscribeError::Ended);
        }
        let slot = Arc::new(Slot {
            parked: AtomicBool::new(false),
            last_taken_ms: AtomicU64::new(self.now_ms()),
            killed: AtomicBool::new(false),
            kill,
        });
        let id = {
            let mut reg = s.registry.lock().unwrap_or_else(PoisonError::into_inner);
            if reg.slots.len() >= s.config.max_subscribers {
                s.metrics.subscribers_rejected.fetch_add(1, Relaxed);
                return Err(SubscribeError::TooMany);
            }
            reg.next_id += 1;
            let id = reg.next_id;
            reg.slots.insert(id, Arc::clone(&slot));
            id
        };
        s.metrics.subscribers.fetch_add(1, Relaxed);
        s.metrics.subscribers_total.fetch_add(1, Relaxed);
        let rx = s.tx.subscribe();
        let (epoch, end, heartbeat_gen) = {
            let snap = rx.borrow();
            (Arc::clone(&snap.epoch), snap.end, snap.heartbeat_gen)
        };
        // Decided again on the snapshot this subscription starts from (the log may have
        // grown since), without the ended rule: a session that ended meanwhile ends the stream
        // with `session_ended` instead.
        let window = Window {
            first: s.log.extent().first,
            end,
        };
        let (pos, reset) = match resume.decide(window, &epoch) {
            Resume::Replay { from } => (from, None),
            Resume::Reset { from } => (from, Some(frames::reset(&epoch, end))),
            Resume::Ended => (end, None),
        };
        Ok(Subscription::new(
            Arc::clone(s),
            rx,
            epoch,
            id,
            slot,
            pos,
            filter,
            reset,
            heartbeat_gen,
        ))
    }

    /// Disconnects the newest subscriber that has a connection to close, to give its file
    /// descriptor to a connection waiting in the accept backlog (the fd table is full: an
    /// agent's publish there would otherwise wait until some subscriber leaves). A subscriber
    /// loses nothing: it reconnects and resumes. Returns whether one was disconnected.
    pub(crate) fn shed_one(&self) -> bool {
        let s = &self.shared;
        let victim = {
            let reg = s.registry.lock().unwrap_or_else(PoisonError::into_inner);
            reg.slots
                .iter()
                .filter(|(_, slot)| slot.kill.is_some() && !slot.killed.load(Relaxed))
                .max_by_key(|(id, _)| **id)
                .map(|(_, slot)| Arc::clone(slot))
        };
        let Some(slot) = victim else { return false };
        slot.killed.store(true, Relaxed);
        s.metrics.subscribers_shed.fetch_add(1, Relaxed);
        if let Some(kill) = &slot.kill {
            kill.notify_one();
        }
        true
    }

    /// The current state JSON (as `/state` serves it).
    #[must_use]
    pub fn state_json(&self) -> Bytes {
        self.shared.tx.borrow().state_json.clone()
    }

    /// The `retry:` field line that goes before every stream's first event
    /// ([`frames::retry_line`]).
    #[must_use]
    pub fn retry_line(&self) -> Bytes {
        self.shared.retry_line.clone()
    }

    /// The log's epoch.
    #[must_use]
    pub fn epoch(&self) -> String {
        self.shared.log.epoch().to_string()
    }

    /// Messages in the log.
    #[must_use]
    pub fn message_count(&self) -> Seq {
        self.shared.log.extent().end
    }

    /// Reads stored messages (for `/messages` and `/download`).
    ///
    /// # Errors
    /// Log I/O errors.
    pub async fn read(
        &self,
        from: Seq,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, LogError> {
        self.shared.log.read(from, max_count, max_bytes).await
    }

    /// The hub's counters.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Prometheus text for `/metrics`.
    #[must_use]
    pub fn render_metrics(&self) -> String {
        let log = &self.shared.log;
        self.shared.metrics.render(
            log.size_bytes(),
            log.extent().end.0,
            self.shared.config.max_subscribers as u64,
        )
    }

    /// Stops publishing, ends every stream, stops the heartbeat and flushes the log.
    ///
    /// # Errors
    /// The log's flush failed.
    pub async fn shutdown(&self) -> Result<(), LogError> {
        let mut p = self.shared.publish.lock().await;
        p.closed = true;
        self.shared.tx.send_modify(|s| s.shutdown = true);
        self.shared.stop.notify_one();
        self.shared.log.flush().await
    }

    fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }
}

impl Shared {
    /// Re-renders the log's state (with the log-owned fields) and wakes every subscriber;
    /// returns the state JSON.
    pub(crate) fn publish_state(&self) -> Bytes {
        let _render = self.render.lock().unwrap_or_else(PoisonError::into_inner);
        let extent = self.log.extent();
        let epoch = self.log.epoch();
        let (json, ended) = render_state(&self.log.state(), &epoch, extent);
        let json = Bytes::from(json);
        let frame = frames::json_event(frames::STATE, std::str::from_utf8(&json).unwrap_or("{}"));
        self.tx.send_modify(|snap| {
            snap.epoch = epoch;
            snap.end = extent.end;
            snap.state_version += 1;
            snap.state_frame = frame;
            snap.state_json = json.clone();
            match (&snap.ended, ended) {
                (None, Some(m)) => snap.ended = Some(frames::session_ended(&m)),
                (Some(_), None) => snap.ended = None,
                _ => {}
            }
        });
        json
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Disconnects subscribers that left a ready batch untaken for longer than the bound.
    fn drop_stalled(&self) {
        let now = self.now_ms();
        let bound = u64::try_from(self.config.stall_timeout.as_millis()).unwrap_or(u64::MAX);
        let reg = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in reg.slots.values() {
            if slot.parked.load(Relaxed) || slot.killed.load(Relaxed) {
                continue;
            }
            if now.saturating_sub(slot.last_taken_ms.load(Relaxed)) > bound {
                slot.killed.store(true, Relaxed);
                self.metrics.dropped.fetch_add(1, Relaxed);
                if let Some(kill) = &slot.kill {
                    kill.notify_one();
                }
                tracing::info!(
                    "dropped a stalled subscriber (no bytes taken within the stall bound)"
                );
            }
        }
    }
}

/// State JSON = log-owned fields first, then the stored object; and the session-ended
/// message if the state says the session ended.
fn render_state(
    state: &Map<String, Value>,
    epoch: &str,
    extent: crate::log::Extent,
) -> (String, Option<String>) {
    let mut out = Map::new();
    out.insert("message_count".into(), extent.end.0.into());
    out.insert("epoch".into(), epoch.into());
    // The first message of the current conversation (a restart moves it, as in sketch), and
    // never below what the log still holds.
    let restarted_at = state
        .get(model::RESTART_INDEX_FIELD)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    out.insert(
        "first_message_index".into(),
        extent.first.0.max(restarted_at.min(extent.end.0)).into(),
    );
    let mut fields = model::state_defaults();
    model::overlay(&mut fields, state);
    for (k, v) in fields {
        if !model::LOG_OWNED_STATE_FIELDS.contains(&k.as_str()) && k != model::RESTART_INDEX_FIELD {
            out.insert(k, v);
        }
    }
    let ended = (state.get("session_ended") == Some(&Value::Bool(true))).then(|| {
        state
            .get("session_ended_message")
            .and_then(Value::as_str)
            .unwrap_or("Session ended")
            .to_owned()
    });
    (Value::Object(out).to_string(), ended)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The one heartbeat timer of the hub: sse-core's schedule, tokio's clock. Holds only a
/// weak reference between beats, so a dropped hub ends it.
async fn heartbeat_task(weak: std::sync::Weak<Shared>) {
    let Some(shared) = weak.upgrade() else { return };
    let interval = sse_core::Duration::from_millis(
        u64::try_from(shared.config.heartbeat.as_millis()).unwrap_or(u64::MAX),
    );
    let now = |s: &Shared| sse_core::Instant::from_millis(s.now_ms());
    let origin = shared.origin;
    let mut schedule = sse_core::heartbeat::Heartbeat::new(now(&shared), interval);
    drop(shared);
    loop {
        let due = origin + Duration::from_millis(schedule.poll_timeout().as_millis());
        {
            let Some(shared) = weak.upgrade() else { return };
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = shared.stop.notified() => return,
            }
        }
        let Some(shared) = weak.upgrade() else { return };
        if schedule.handle_timeout(now(&shared)) {
            let frame = frames::heartbeat(unix_now());
            shared.tx.send_modify(|s| {
                s.heartbeat_gen += 1;
                s.heartbeat_frame = frame;
            });
            shared.drop_stalled();
        }
    }
}

#[cfg(test)]
mod tests;
