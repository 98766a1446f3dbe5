//! What the status light shows, the discrete things it may log, and the trait a board
//! implements to show them. The `Display` impls give one text line each; the QEMU and desktop
//! runners print them and the end-to-end tests read them.

use core::fmt;

use sse_core::Seq;
use sse_core::agent::state::Activity;
use sse_core::reconnect::{Reason, Status, StatusKind};

use crate::led::Pattern;

#[cfg(test)]
mod tests;

/// A snapshot for displays: the connection, the agent's activity and the counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Connection status and its reason text (from sse-core's reconnect machine).
    pub status: Status,
    /// What the agent is doing; `None` until the first `state`.
    pub activity: Option<Activity>,
    /// Messages received in order since the start or the last start-over.
    pub messages: u64,
    /// Of those, messages whose data was larger than the buffer (counted by index, not read).
    pub oversized: u64,
    /// The next message index wanted (the resume point).
    pub next: Seq,
    /// `total_usage.total_cost_usd` from the last `state`, in millionths of a dollar.
    pub cost_micro_usd: u64,
}

impl View {
    /// The state before anything happened.
    pub const fn new() -> Self {
        Self {
            status: Status {
                kind: StatusKind::Disconnected,
                reason: Reason::Stopped,
            },
            activity: None,
            messages: 0,
            oversized: 0,
            next: Seq(0),
            cost_micro_usd: 0,
        }
    }

    /// The connection as a status light says it: connected, connecting or offline.
    pub const fn link(&self) -> &'static str {
        match self.status.kind {
            StatusKind::Connected => "connected",
            StatusKind::Connecting => "connecting",
            StatusKind::Disconnected | StatusKind::Disabled => "offline",
        }
    }

    /// The cost in whole dollars and ten-thousandths (rounded half up).
    pub const fn cost_fixed4(&self) -> (u64, u32) {
        let units = self.cost_micro_usd / 100 + (self.cost_micro_usd % 100 >= 50) as u64;
        (units / 10_000, (units % 10_000) as u32)
    }

    /// The LED pattern for this view.
    pub const fn pattern(&self) -> Pattern {
        match (self.status.kind, self.status.reason, self.activity) {
            (_, Reason::SessionEnded, _) | (_, _, Some(Activity::Ended)) => Pattern::Ended,
            (StatusKind::Connecting, _, _) => Pattern::Connecting,
            (StatusKind::Disconnected | StatusKind::Disabled, _, _) => Pattern::Offline,
            (StatusKind::Connected, _, Some(Activity::Error)) => Pattern::Error,
            (StatusKind::Connected, _, Some(Activity::WaitingForUser)) => Pattern::WaitingForUser,
            (StatusKind::Connected, _, Some(Activity::ModelCall | Activity::RunningTool)) => {
                Pattern::Working
            }
            (StatusKind::Connected, _, Some(Activity::Idle) | None) => Pattern::Idle,
        }
    }
}

impl Default for View {
    fn default() -> Self {
        Self::new()
    }
}

/// Short names for activities (one word, for logs and tests).
pub const fn activity_name(activity: Option<Activity>) -> &'static str {
    match activity {
        None => "unknown",
        Some(Activity::Idle) => "idle",
        Some(Activity::ModelCall) => "model_call",
        Some(Activity::RunningTool) => "running_tool",
        Some(Activity::WaitingForUser) => "waiting_for_user",
        Some(Activity::Ended) => "ended",
        Some(Activity::Error) => "error",
    }
}

impl fmt::Display for View {
    /// `status link=connected reason="Connected" activity=idle messages=3 oversized=0 next=3 cost=0.0120`
    ///
    /// The cost is printed in fixed point from integer micro-dollars: `core`'s float formatting
    /// would add about 8 KB of flash to the firmware.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dollars, frac) = self.cost_fixed4();
        write!(
            f,
            "status link={} reason=\"{}\" activity={} messages={} oversized={} next={} cost={dollars}.{frac:04}",
            self.link(),
            self.status.reason,
            activity_name(self.activity),
            self.messages,
            self.oversized,
            self.next,
        )
    }
}

/// Discrete happenings worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note<'a> {
    /// Opening a connection that resumes at `from`, sending `Last-Event-ID` if known.
    Connect {
        /// First index asked for.
        from: Seq,
        /// The `Last-Event-ID` header sent, if any.
        last_event_id: Option<&'a str>,
    },
    /// The response head arrived.
    Response {
        /// HTTP status.
        status: u16,
    },
    /// A message arrived in order (data of `bytes` bytes, cut if `truncated`).
    Message {
        /// Its index.
        idx: Seq,
        /// Bytes of data kept.
        bytes: usize,
        /// The data was larger than the buffer.
        truncated: bool,
    },
    /// A `state` that could not be parsed into the status model.
    BadState,
    /// A heartbeat.
    Heartbeat,
    /// The server's log was replaced or our resume point is gone: messages restart.
    StartOver,
    /// The server ended the session.
    SessionEnded,
}

impl fmt::Display for Note<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect {
                from,
                last_event_id: Some(id),
            } => write!(f, "connect from={from} last_event_id={id}"),
            Self::Connect {
                from,
                last_event_id: None,
            } => write!(f, "connect from={from} last_event_id=none"),
            Self::Response { status } => write!(f, "response status={status}"),
            Self::Message {
                idx,
                bytes,
                truncated,
            } => {
                write!(f, "message idx={idx} bytes={bytes} truncated={truncated}")
            }
            Self::BadState => f.write_str("state unparsed"),
            Self::Heartbeat => f.write_str("heartbeat"),
            Self::StartOver => f.write_str("start_over"),
            Self::SessionEnded => f.write_str("session_ended"),
        }
    }
}

/// Why [`crate::run`] returned: the session is disabled and will not reconnect by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End {
    /// The server said the session ended.
    SessionEnded,
    /// The server refused the stream for good (404, 204, not an event stream...).
    Refused(Reason),
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SessionEnded => f.write_str("session ended"),
            Self::Refused(reason) => write!(f, "refused: {reason}"),
        }
    }
}

/// Implemented by each board: how status reaches a human (LED, display, log, semihosting).
pub trait StatusDisplay {
    /// The view changed.
    fn show(&mut self, view: &View);
    /// Something happened worth a log line; ignored by default.
    fn note(&mut self, note: &Note<'_>) {
        let _ = note;
    }
}
