//! The tail task of a hub over the Redis log (it tails the shared log, as `tail -f` does a
//! file): "an entry appeared" for every node.
//!
//! It blocks on `XREAD` (through [`Tail`]) and turns what it reads into the same ring
//! pushes and snapshot bumps a local publisher makes, so subscribers cannot tell a local log
//! from a shared one. It is the only writer of the ring on such a hub. While Redis is
//! unreachable it retries (every [`RETRY_MIN`], doubling to [`RETRY_MAX`]); subscribers stay
//! parked on the watch meanwhile and get heartbeats from the hub's timer.

use super::Shared;
use super::ring::Ring;
use crate::frames;
use crate::log::{Changes, Tail};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{PoisonError, Weak};
use std::time::Duration;

/// First pause after a failed read.
pub(crate) const RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest pause between attempts while Redis stays down.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(2);

/// Runs until the hub shuts down or is dropped.
pub(crate) async fn tail_task(weak: Weak<Shared>, mut tail: Tail) {
    let mut shutdown = match weak.upgrade() {
        Some(shared) => shared.tx.subscribe(),
        None => return,
    };
    let mut delay = RETRY_MIN;
    let mut down = false;
    loop {
        let result = tokio::select! {
            r = tail.next() => r,
            _ = shutdown.wait_for(|s| s.shutdown) => return,
        };
        let Some(shared) = weak.upgrade() else { return };
        match result {
            Ok(changes) => {
                if down {
                    tracing::info!("Redis reachable again; following the log");
                    down = false;
                }
                delay = RETRY_MIN;
                shared.apply(changes);
            }
            Err(e) => {
                if !down {
                    tracing::warn!(error = %e, "cannot read the Redis log; retrying");
                    down = true;
                }
                drop(shared);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|s| s.shutdown) => return,
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}

impl Shared {
    /// Puts entries read from the shared log in the ring and wakes subscribers.
    fn apply(&self, changes: Changes) {
        if !changes.rebased && changes.records.is_empty() && changes.state.is_none() {
            return;
        }
        {
            let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
            if changes.rebased {
                *ring = Ring::new(
                    self.log.extent().end,
                    self.config.ring_frames,
                    self.config.ring_bytes,
                );
            }
            let epoch = self.log.epoch();
            for r in &changes.records {
                ring.push(r.idx, frames::message(&epoch, r.idx, &r.json));
            }
        }
        self.metrics
            .messages_followed
            .fetch_add(changes.records.len() as u64, Relaxed);
        self.publish_state();
    }
}
