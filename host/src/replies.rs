//! Questions the browser asks the agent and waits for: sketch's `GET /suggest-reprompt` and
//! `GET /commit-description?revision=R`.
//!
//! The handler puts a command in the [`Inbox`](crate::inbox::Inbox) (`suggest_reprompt`,
//! `commit_description`, with its `id`) and waits here, at most [`REPLY_WAIT`], for the agent's
//! answer with that id: `POST /api/replies {"id":N,…}` from an HTTP agent, a
//! `{"reply":{"id":N,…}}` line from an `--exec` agent, or the demo's own. At most
//! [`MAX_PENDING`] questions wait at once (each holds one request open); more get 503.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a question waits for the agent.
pub const REPLY_WAIT: Duration = Duration::from_secs(30);
/// Questions waiting at once.
pub const MAX_PENDING: usize = 64;

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// [`MAX_PENDING`] questions are already waiting.
    #[error("too many questions are waiting for the agent")]
    Busy,
    /// The agent did not answer within [`REPLY_WAIT`] (or the server is closing).
    #[error("the agent did not answer")]
    NoAnswer,
}

/// The waiting questions, by command id.
#[derive(Debug, Default)]
pub struct Replies {
    pending: Mutex<HashMap<u64, oneshot::Sender<Map<String, Value>>>>,
}

/// A question registered with [`Replies::register`]; await [`Pending::answer`].
#[derive(Debug)]
pub struct Pending<'a> {
    replies: &'a Replies,
    id: u64,
    rx: oneshot::Receiver<Map<String, Value>>,
}

impl Replies {
    /// Registers a question whose command has `id` (register before the command is pushed, so
    /// a fast agent's answer is not missed).
    ///
    /// # Errors
    /// [`ReplyError::Busy`].
    pub fn register(&self, id: u64) -> Result<Pending<'_>, ReplyError> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= MAX_PENDING {
            return Err(ReplyError::Busy);
        }
        let (tx, rx) = oneshot::channel();
        pending.insert(id, tx);
        Ok(Pending {
            replies: self,
            id,
            rx,
        })
    }

    /// Delivers the agent's answer to question `id`. `false` when nobody waits for it (answered
    /// already, timed out, or never asked).
    pub fn answer(&self, id: u64, reply: Map<String, Value>) -> bool {
        let tx = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        tx.is_some_and(|tx| tx.send(reply).is_ok())
    }
}

impl Pending<'_> {
    /// The answer, or [`ReplyError::NoAnswer`] after [`REPLY_WAIT`].
    ///
    /// # Errors
    /// [`ReplyError::NoAnswer`].
    pub async fn answer(mut self) -> Result<Map<String, Value>, ReplyError> {
        match tokio::time::timeout(REPLY_WAIT, &mut self.rx).await {
            Ok(Ok(reply)) => Ok(reply),
            _ => Err(ReplyError::NoAnswer),
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.replies
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_reaches_its_question_once() {
        let r = Replies::default();
        let q = r.register(7).unwrap();
        let mut m = Map::new();
        m.insert("prompt".into(), "again".into());
        assert!(r.answer(7, m.clone()));
        assert!(!r.answer(7, m.clone()), "answered already");
        assert_eq!(q.answer().await.unwrap(), m);
        assert!(!r.answer(8, Map::new()), "never asked");
    }

    #[test]
    fn waiting_questions_are_bounded_and_freed() {
        let r = Replies::default();
        let held: Vec<_> = (0..MAX_PENDING as u64)
            .map(|i| r.register(i).unwrap())
            .collect();
        assert_eq!(r.register(999).unwrap_err(), ReplyError::Busy);
        drop(held);
        assert!(
            r.register(999).is_ok(),
            "dropped questions free their place"
        );
    }
}
