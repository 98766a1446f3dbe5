//! TEMPORARY stand-in for `sse_core::follow::Session`, which is being written in the core. It only
//! wires the core's parser, tracker and reconnect machine together so the shell and its tests can
//! run; it is deleted when the core session lands (its API mirrors the one the shell expects).

use sse_core::parse::{Parser, Step};
use sse_core::reconnect::{Action, Disconnect, Policy, Reconnect, Status};
use sse_core::seq::{Arrival, EpochChange, Tracker, parse_index};
use sse_core::{Instant, Seq};

/// What the session reports.
pub(crate) enum Output {
    /// A delivered event: type, data, last event id.
    Event(String, String, String),
    /// Start over.
    Reset,
}

pub(crate) struct Session<const LINE: usize, const DATA: usize> {
    parser: Parser<LINE, DATA>,
    tracker: Tracker,
    rc: Reconnect,
    resuming: bool,
}

impl<const LINE: usize, const DATA: usize> Session<LINE, DATA> {
    pub(crate) fn new(policy: Policy, seed: u64) -> Self {
        Session {
            parser: Parser::new(),
            tracker: Tracker::new(),
            rc: Reconnect::new(policy, seed),
            resuming: false,
        }
    }
    pub(crate) fn resume_at(&mut self, from: Seq) {
        self.tracker = Tracker::with_resume(from);
        self.resuming = true;
    }
    pub(crate) fn start(&mut self, now: Instant) {
        self.rc.start(now);
    }
    pub(crate) fn handle_connected(&mut self, now: Instant) {
        self.rc.handle_connected(now);
    }
    pub(crate) fn handle_disconnected(&mut self, now: Instant, why: Disconnect) {
        self.parser.finish();
        self.rc.handle_disconnected(now, why);
    }
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.rc.handle_timeout(now);
        if self.rc.status().kind != sse_core::reconnect::StatusKind::Connected {
            self.parser.finish();
        }
    }
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.rc.poll_action()
    }
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.rc.poll_timeout()
    }
    pub(crate) fn status(&self) -> Status {
        self.rc.status()
    }
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.rc.retry_at()
    }
    pub(crate) fn resume_from(&self) -> Option<Seq> {
        self.resuming.then(|| self.tracker.resume_from())
    }
    pub(crate) fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    pub(crate) fn handle_bytes(&mut self, now: Instant, input: &mut &[u8]) -> Option<Output> {
        self.rc.handle_bytes(now);
        loop {
            let owned;
            if self.rc.status().kind != sse_core::reconnect::StatusKind::Connected {
                *input = &[];
                return None;
            }
            // Decide on a copy of what matters, then re-borrow to return the event.
            let verdict = match self.parser.push(input) {
                Ok(Step::NeedMore) => return None,
                Ok(Step::Retry(d)) => {
                    self.rc.handle_retry_hint(d);
                    continue;
                }
                Ok(Step::Comment(_)) | Err(_) => continue,
                Ok(Step::Event(ev)) => {
                    owned = (
                        ev.event_type.to_owned(),
                        ev.data.to_owned(),
                        ev.last_event_id.to_owned(),
                    );
                    match ev.event_type {
                        "message" => match parse_index(ev.last_event_id) {
                            Ok(idx) => {
                                self.resuming = true;
                                match self.tracker.handle_index(idx) {
                                    Arrival::Next => 0,
                                    Arrival::Duplicate => continue,
                                    Arrival::Gap { .. } => 3,
                                }
                            }
                            Err(_) => 0,
                        },
                        "state" => {
                            let epoch = serde_json::from_str::<serde_json::Value>(ev.data)
                                .ok()
                                .and_then(|v| v["epoch"].as_str().map(str::to_owned));
                            match epoch.map(|e| self.tracker.handle_epoch(&e)) {
                                Some(EpochChange::New) => 1,
                                _ => 0,
                            }
                        }
                        "reset" => {
                            self.tracker.handle_reset();
                            1
                        }
                        "session_ended" => 2,
                        _ => 0,
                    }
                }
            };
            match verdict {
                1 => return Some(Output::Reset),
                2 => {
                    self.rc.handle_disconnected(now, Disconnect::SessionEnded);
                }
                3 => {
                    let resume = self.tracker.resume_from().0;
                    let id = if resume == 0 {
                        String::new()
                    } else {
                        (resume - 1).to_string()
                    };
                    let _ = self.parser.set_last_event_id(&id);
                    self.parser.finish();
                    self.rc.handle_disconnected(now, Disconnect::Network);
                    return None;
                }
                _ => {}
            }
            let (t, d, i) = owned;
            return Some(Output::Event(t, d, i));
        }
    }
}
