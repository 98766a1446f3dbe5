//! The inbox: what users sent (chat, cancel, restart), for the agent to consume.
//!
//! Commands get increasing ids from 1 and sit in a ring bounded in count ([`INBOX_CAPACITY`])
//! and in bytes ([`INBOX_BYTES`]); older ones are dropped and counted. A single command larger
//! than the byte bound is refused ([`TooLarge`]; the HTTP handlers answer 413). A consumer resumes after an id it has (`Last-Event-ID` on
//! `/api/inbox`), or, without one, starts at the first command no consumer has taken yet, so
//! commands sent while no agent was connected are not lost.

use bytes::Bytes;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use tokio::sync::watch;

/// Commands kept for consumers that reconnect. Beyond it the oldest is dropped.
pub const INBOX_CAPACITY: usize = 1024;

/// Bytes of command JSON kept. Without it the count bound alone lets 1024 commands of up to
/// `--max-body` (8 MiB by default) each pin ~8 GiB. 16 MiB holds hundreds of ordinary chat
/// messages for an agent that reconnects, and still two commands of the default `--max-body`.
pub const INBOX_BYTES: usize = 16 << 20;

/// A command whose JSON alone is larger than [`INBOX_BYTES`]: it could never be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the command is {len} bytes; the inbox holds at most {limit}")]
pub struct TooLarge {
    /// The command's JSON length.
    pub len: usize,
    /// The inbox's byte bound.
    pub limit: usize,
}

/// One user command: `{"type":"chat"|"cancel"|"restart", ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Its id (the SSE `id:` on `/api/inbox`).
    pub id: u64,
    /// The `type` (also the SSE event name).
    pub kind: CommandKind,
    /// Compact JSON of the command, `type` and `id` included.
    pub json: Bytes,
}

/// The kinds of command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// The user sent a chat message.
    Chat,
    /// The user asked to cancel the turn (or one tool call).
    Cancel,
    /// The user asked to restart the conversation.
    Restart,
    /// The browser asks for a re-prompt suggestion; answer with `{"id","prompt"}`
    /// ([`crate::replies`]).
    SuggestReprompt,
    /// The browser asks for a commit's description (`revision`); answer with
    /// `{"id","description"}` ([`crate::replies`]).
    CommitDescription,
}

impl CommandKind {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Chat => "chat",
            CommandKind::Cancel => "cancel",
            CommandKind::Restart => "restart",
            CommandKind::SuggestReprompt => "suggest_reprompt",
            CommandKind::CommitDescription => "commit_description",
        }
    }
}

#[derive(Debug)]
struct Ring {
    items: VecDeque<Command>,
    next_id: u64,
    /// The first id no consumer has taken.
    undelivered: u64,
    dropped: u64,
    /// Sum of `json.len()` over `items`.
    bytes: usize,
}

/// The inbox. Shared by the HTTP handlers and the built-in agents.
#[derive(Debug)]
pub struct Inbox {
    ring: Mutex<Ring>,
    tx: watch::Sender<u64>,
    max_bytes: usize,
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Inbox {
    /// An empty inbox bounded by [`INBOX_BYTES`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_bytes(INBOX_BYTES)
    }

    /// An empty inbox keeping at most `max_bytes` of command JSON.
    #[must_use]
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Inbox {
            ring: Mutex::new(Ring {
                items: VecDeque::new(),
                next_id: 1,
                undelivered: 1,
                dropped: 0,
                bytes: 0,
            }),
            tx: watch::channel(0).0,
            max_bytes,
        }
    }

    /// Whether a command of `kind` with `fields` (and any id) would be kept; call before
    /// acting on a command that must not be half done (chat joins the conversation first).
    ///
    /// # Errors
    /// [`TooLarge`].
    pub fn check(
        &self,
        kind: CommandKind,
        fields: &serde_json::Map<String, Value>,
    ) -> Result<(), TooLarge> {
        self.fits(encode(kind, u64::MAX, fields.clone()).len())
    }

    fn fits(&self, len: usize) -> Result<(), TooLarge> {
        if len > self.max_bytes {
            return Err(TooLarge {
                len,
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Adds a command: `fields` (an object) gets `type` and `id` set. Returns its id. The
    /// oldest commands are dropped (and counted) while more than [`INBOX_CAPACITY`] or the byte
    /// bound are kept.
    ///
    /// # Errors
    /// [`TooLarge`]: the command alone is over the byte bound; nothing was added.
    pub fn push(
        &self,
        kind: CommandKind,
        fields: serde_json::Map<String, Value>,
    ) -> Result<u64, TooLarge> {
        self.push_then(kind, fields, |_| ()).map(|(id, ())| id)
    }

    /// [`Inbox::push`], calling `before(id)` before any consumer can see the command (to
    /// register for the agent's answer first, [`crate::replies`]).
    ///
    /// # Errors
    /// [`TooLarge`]: the command alone is over the byte bound; nothing was added, and
    /// `before` was not called.
    pub fn push_then<R>(
        &self,
        kind: CommandKind,
        fields: serde_json::Map<String, Value>,
        before: impl FnOnce(u64) -> R,
    ) -> Result<(u64, R), TooLarge> {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let id = ring.next_id;
        let json = encode(kind, id, fields);
        self.fits(json.len())?;
        ring.next_id += 1;
        ring.bytes += json.len();
        ring.items.push_back(Command { id, kind, json });
        while ring.items.len() > INBOX_CAPACITY || ring.bytes > self.max_bytes {
            let Some(old) = ring.items.pop_front() else {
                break;
            };
            ring.bytes -= old.json.len();
            ring.dropped += 1;
        }
        let r = before(id);
        drop(ring);
        self.tx.send_replace(id);
        Ok((id, r))
    }

    /// A consumer starting after `last_id`, or at the first untaken command.
    #[must_use]
    pub fn consumer(&self, last_id: Option<u64>) -> Consumer<'_> {
        let next = match last_id {
            Some(id) => id.saturating_add(1),
            None => {
                self.ring
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .undelivered
            }
        };
        Consumer {
            inbox: self,
            rx: self.tx.subscribe(),
            next,
        }
    }

    /// Commands dropped because the ring was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped
    }
}

/// The command's JSON: `type` and `id` first, then `fields` (their own `type`/`id` ignored).
fn encode(kind: CommandKind, id: u64, fields: serde_json::Map<String, Value>) -> Bytes {
    let mut obj = serde_json::Map::new();
    obj.insert("type".into(), kind.as_str().into());
    obj.insert("id".into(), id.into());
    for (k, v) in fields {
        if k != "type" && k != "id" {
            obj.insert(k, v);
        }
    }
    Bytes::from(Value::Object(obj).to_string())
}

/// Reads commands in order.
#[derive(Debug)]
pub struct Consumer<'a> {
    inbox: &'a Inbox,
    rx: watch::Receiver<u64>,
    next: u64,
}

impl Consumer<'_> {
    /// The next command; waits for one. Commands that fell out of the ring are skipped.
    pub async fn next(&mut self) -> Option<Command> {
        loop {
            {
                let _ = self.rx.borrow_and_update();
                let mut ring = self
                    .inbox
                    .ring
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(cmd) = ring.items.iter().find(|c| c.id >= self.next).cloned() {
                    self.next = cmd.id + 1;
                    ring.undelivered = ring.undelivered.max(self.next);
                    return Some(cmd);
                }
            }
            self.rx.changed().await.ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(inbox: &Inbox, text: &str) -> u64 {
        let mut m = serde_json::Map::new();
        m.insert("message".into(), text.into());
        inbox.push(CommandKind::Chat, m).unwrap()
    }

    #[tokio::test]
    async fn commands_sent_before_a_consumer_connects_are_delivered_once() {
        let inbox = Inbox::new();
        chat(&inbox, "a");
        chat(&inbox, "b");
        let mut c = inbox.consumer(None);
        assert_eq!(c.next().await.unwrap().id, 1);
        assert_eq!(
            c.next().await.unwrap().json,
            r#"{"type":"chat","id":2,"message":"b"}"#
        );
        drop(c);
        chat(&inbox, "c");
        let mut c = inbox.consumer(None);
        assert_eq!(
            c.next().await.unwrap().id,
            3,
            "a new consumer starts after what was taken"
        );
        let mut again = inbox.consumer(Some(1));
        assert_eq!(again.next().await.unwrap().id, 2, "Last-Event-ID resumes");
    }

    #[tokio::test]
    async fn the_ring_is_bounded() {
        let inbox = Inbox::new();
        for i in 0..INBOX_CAPACITY + 5 {
            chat(&inbox, &i.to_string());
        }
        assert_eq!(inbox.dropped(), 5);
        assert_eq!(inbox.consumer(Some(0)).next().await.unwrap().id, 6);
    }

    #[tokio::test]
    async fn the_ring_is_bounded_in_bytes_and_drops_the_oldest() {
        let inbox = Inbox::with_max_bytes(1000);
        let text = "x".repeat(300); // ~340 bytes of JSON each: two fit, a third does not
        for _ in 0..5 {
            chat(&inbox, &text);
        }
        assert_eq!(inbox.dropped(), 3, "only the newest two fit in 1000 bytes");
        let mut c = inbox.consumer(Some(0));
        assert_eq!(c.next().await.unwrap().id, 4);
        assert_eq!(c.next().await.unwrap().id, 5);
        let kept: usize = inbox
            .ring
            .lock()
            .unwrap()
            .items
            .iter()
            .map(|c| c.json.len())
            .sum();
        assert!(kept <= 1000, "{kept}");
        assert_eq!(inbox.ring.lock().unwrap().bytes, kept);
    }

    #[tokio::test]
    async fn a_command_larger_than_the_bound_is_refused_not_lost_silently() {
        let inbox = Inbox::with_max_bytes(1000);
        chat(&inbox, "small");
        let mut m = serde_json::Map::new();
        m.insert("message".into(), "y".repeat(2000).into());
        assert!(inbox.check(CommandKind::Chat, &m).is_err());
        let err = inbox.push(CommandKind::Chat, m).expect_err("too large");
        assert_eq!(err.limit, 1000);
        assert!(err.len > 2000, "{err}");
        assert_eq!(inbox.dropped(), 0, "nothing was pushed out for it");
        assert_eq!(chat(&inbox, "next"), 2, "its id was not used");
        let mut c = inbox.consumer(Some(0));
        assert_eq!(c.next().await.unwrap().id, 1);
    }
}
