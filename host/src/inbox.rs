//! The inbox: what users sent (chat, cancel, restart), for the agent to consume.
//!
//! Commands get increasing ids from 1 and sit in a bounded ring ([`INBOX_CAPACITY`]; older
//! ones are dropped and counted). A consumer resumes after an id it has (`Last-Event-ID` on
//! `/api/inbox`), or, without one, starts at the first command no consumer has taken yet, so
//! commands sent while no agent was connected are not lost.

use bytes::Bytes;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use tokio::sync::watch;

/// Commands kept for consumers that reconnect. Beyond it the oldest is dropped.
pub const INBOX_CAPACITY: usize = 1024;

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
}

/// The inbox. Shared by the HTTP handlers and the built-in agents.
#[derive(Debug)]
pub struct Inbox {
    ring: Mutex<Ring>,
    tx: watch::Sender<u64>,
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Inbox {
    /// An empty inbox.
    #[must_use]
    pub fn new() -> Self {
        Inbox {
            ring: Mutex::new(Ring {
                items: VecDeque::new(),
                next_id: 1,
                undelivered: 1,
                dropped: 0,
            }),
            tx: watch::channel(0).0,
        }
    }

    /// Adds a command: `fields` (an object) gets `type` and `id` set. Returns its id.
    pub fn push(&self, kind: CommandKind, fields: serde_json::Map<String, Value>) -> u64 {
        self.push_then(kind, fields, |_| ()).0
    }

    /// [`Inbox::push`], calling `before(id)` before any consumer can see the command (to
    /// register for the agent's answer first, [`crate::replies`]).
    pub fn push_then<R>(
        &self,
        kind: CommandKind,
        fields: serde_json::Map<String, Value>,
        before: impl FnOnce(u64) -> R,
    ) -> (u64, R) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let id = ring.next_id;
        ring.next_id += 1;
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), kind.as_str().into());
        obj.insert("id".into(), id.into());
        for (k, v) in fields {
            if k != "type" && k != "id" {
                obj.insert(k, v);
            }
        }
        ring.items.push_back(Command {
            id,
            kind,
            json: Bytes::from(Value::Object(obj).to_string()),
        });
        while ring.items.len() > INBOX_CAPACITY {
            ring.items.pop_front();
            ring.dropped += 1;
        }
        let r = before(id);
        drop(ring);
        self.tx.send_replace(id);
        (id, r)
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
        inbox.push(CommandKind::Chat, m)
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
}
