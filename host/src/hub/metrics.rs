//! Hub counters, rendered as Prometheus text by `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters and gauges; all updates are relaxed atomics (no lock on any hot path).
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) subscribers: AtomicU64,
    pub(crate) subscribers_total: AtomicU64,
    pub(crate) subscribers_rejected: AtomicU64,
    pub(crate) messages_published: AtomicU64,
    pub(crate) messages_followed: AtomicU64,
    pub(crate) state_updates: AtomicU64,
    pub(crate) events_delivered: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) lagged: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) connections_stalled: AtomicU64,
    pub(crate) subscribers_shed: AtomicU64,
}

impl Metrics {
    /// Subscribers connected now.
    #[must_use]
    pub fn subscribers(&self) -> u64 {
        self.subscribers.load(Relaxed)
    }

    /// Renders the Prometheus text exposition format; `log_bytes` and `log_messages` come
    /// from the log, `max_subscribers` from the configuration.
    #[must_use]
    pub fn render(&self, log_bytes: u64, log_messages: u64, max_subscribers: u64) -> String {
        let mut out = String::new();
        let mut put = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            );
        };
        put(
            "sse_subscribers",
            "gauge",
            "Stream subscribers connected now.",
            self.subscribers.load(Relaxed),
        );
        put(
            "sse_subscribers_max",
            "gauge",
            "The subscriber bound (--max-subscribers, or derived from the fd limit).",
            max_subscribers,
        );
        put(
            "sse_subscribers_total",
            "counter",
            "Stream subscriptions accepted.",
            self.subscribers_total.load(Relaxed),
        );
        put(
            "sse_subscribers_rejected_total",
            "counter",
            "Subscriptions refused with 503 (too many subscribers).",
            self.subscribers_rejected.load(Relaxed),
        );
        put(
            "sse_messages_published_total",
            "counter",
            "Messages appended to the log.",
            self.messages_published.load(Relaxed),
        );
        put(
            "sse_messages_followed_total",
            "counter",
            "Messages read from the shared (Redis) log and fanned out, every node's included.",
            self.messages_followed.load(Relaxed),
        );
        put(
            "sse_state_updates_total",
            "counter",
            "State changes published.",
            self.state_updates.load(Relaxed),
        );
        put(
            "sse_events_delivered_total",
            "counter",
            "SSE frames handed to subscriber connections.",
            self.events_delivered.load(Relaxed),
        );
        put(
            "sse_writes_total",
            "counter",
            "Batched writes handed to subscriber connections.",
            self.writes.load(Relaxed),
        );
        put(
            "sse_bytes_out_total",
            "counter",
            "Bytes handed to subscriber connections.",
            self.bytes_out.load(Relaxed),
        );
        put(
            "sse_subscribers_lagged_total",
            "counter",
            "Times a subscriber fell behind the in-memory window and read from the log.",
            self.lagged.load(Relaxed),
        );
        put(
            "sse_subscribers_dropped_total",
            "counter",
            "Subscribers disconnected for not accepting bytes within the stall bound.",
            self.dropped.load(Relaxed),
        );
        put(
            "sse_connections_stalled_total",
            "counter",
            "Connections served by hyper (/download, /messages, ...) closed for taking no response bytes within the stall bound.",
            self.connections_stalled.load(Relaxed),
        );
        put(
            "sse_subscribers_shed_total",
            "counter",
            "Subscribers disconnected to free a file descriptor when accept found the fd table full.",
            self.subscribers_shed.load(Relaxed),
        );
        put(
            "sse_log_bytes",
            "gauge",
            "Size of the message log in bytes.",
            log_bytes,
        );
        put(
            "sse_log_messages",
            "gauge",
            "Messages in the log.",
            log_messages,
        );
        out
    }
}
