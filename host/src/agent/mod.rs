//! The agent behind the hub: none (an external agent uses `/api/*`), a child process
//! (`--exec`), or the built-in simulation (`--demo`).

mod demo;
mod exec;

use crate::hub::Hub;
use crate::inbox::Inbox;
use crate::replies::Replies;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which agent `serve` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// None: an external agent talks to `/api/*`.
    None,
    /// The built-in simulated agent; `step` is the pause between its actions.
    Demo {
        /// Pause between the simulated agent's steps.
        step: Duration,
    },
    /// A child process run with `sh -c`: JSON lines on stdout (messages, or `{"state":{…}}`
    /// patches), user commands as JSON lines on stdin.
    Exec {
        /// The shell command.
        command: String,
        /// Longest stdout line accepted (longer lines are skipped and reported).
        max_line: usize,
    },
}

/// Starts the agent task, if any.
///
/// # Errors
/// The child process could not be started, or the initial state could not be set.
pub(crate) async fn spawn(
    agent: &Agent,
    hub: Hub,
    inbox: Arc<Inbox>,
    replies: Arc<Replies>,
    closing: watch::Receiver<bool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    Ok(match agent {
        Agent::None => None,
        Agent::Demo { step } => Some(demo::spawn(hub, inbox, replies, *step, closing).await?),
        Agent::Exec { command, max_line } => {
            Some(exec::spawn(command, *max_line, hub, inbox, replies, closing).await?)
        }
    })
}
