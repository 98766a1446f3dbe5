//! TEMPORARY stand-in for `sse_core::follow::Follow` (being written in the core, same API). It only
//! wires the core's parser, tracker and reconnect machine together so that the shell and its
//! tests run before the core session lands; delete it then and import `sse_core::follow`.

use sse_core::parse::{Parser, Step};
use sse_core::reconnect::{self, Disconnect, Policy, Reconnect, Status, StatusKind};
use sse_core::seq::{Arrival, EpochChange, Tracker, parse_index};
use sse_core::{Instant, Seq};

/// What the shell must do next.
pub(crate) enum Action {
    Connect { from: Seq },
    Close,
}

/// What the app sees (owned here; the core lends from its parser).
pub(crate) enum Output {
    Message {
        idx: Seq,
        data: String,
    },
    State(String),
    Heartbeat,
    StartOver,
    SessionEnded(String),
    Other {
        event_type: String,
        data: String,
        id: String,
    },
    StatusChanged(Status),
}

pub(crate) struct Follow<const LINE: usize, const DATA: usize> {
    parser: Parser<LINE, DATA>,
    tracker: Tracker,
    rc: Reconnect,
    reported: Status,
    start_over: bool,
    ours: bool,
}

impl<const LINE: usize, const DATA: usize> Follow<LINE, DATA> {
    pub(crate) fn with_resume(policy: Policy, seed: u64, next: Seq) -> Self {
        let rc = Reconnect::new(policy, seed);
        Follow {
            parser: Parser::new(),
            tracker: Tracker::with_resume(next),
            reported: rc.status(),
            rc,
            start_over: false,
            ours: false,
        }
    }
    pub(crate) fn start(&mut self, now: Instant) {
        self.rc.start(now);
    }
    pub(crate) fn handle_response(&mut self, now: Instant, status: u16, is_event_stream: bool) {
        match (status, is_event_stream) {
            (200, true) => self.rc.handle_connected(now),
            (200, false) => self.rc.handle_disconnected(now, Disconnect::NotEventStream),
            (code, _) => self
                .rc
                .handle_disconnected(now, Disconnect::HttpStatus(code)),
        }
    }
    pub(crate) fn handle_disconnected(&mut self, now: Instant, why: Disconnect) {
        self.rc.handle_disconnected(now, why);
    }
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.rc.handle_timeout(now);
    }
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        let a = self.rc.poll_action()?;
        self.parser.finish();
        Some(match a {
            reconnect::Action::Connect => Action::Connect {
                from: self.tracker.resume_from(),
            },
            reconnect::Action::Close => Action::Close,
        })
    }
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        if std::mem::take(&mut self.start_over) {
            return Some(Output::StartOver);
        }
        let status = self.rc.status();
        (status != self.reported).then(|| {
            self.reported = status;
            Output::StatusChanged(status)
        })
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
    pub(crate) fn last_event_id(&self) -> Option<&str> {
        let id = self.parser.last_event_id();
        match parse_index(id) {
            // Withhold only an index that disagrees with the tracker, and only once the stream has
            // shown it is ours (message indices); a generic server's numeric ids pass through.
            Ok(idx) if self.ours && idx.next() != self.tracker.resume_from() => None,
            _ => (!id.is_empty()).then_some(id),
        }
    }

    fn track(&mut self, idx: Seq) -> Arrival {
        self.ours = true;
        self.tracker.handle_index(idx)
    }

    pub(crate) fn handle_bytes(&mut self, now: Instant, input: &mut &[u8]) -> Option<Output> {
        if let Some(p) = self.poll_output() {
            return Some(p);
        }
        if self.rc.status().kind != StatusKind::Connected {
            *input = &[];
            return None;
        }
        self.rc.handle_bytes(now);
        let ev = match self.parser.push(input) {
            Ok(Step::Event(ev)) => ev,
            Ok(Step::Retry(d)) => {
                self.rc.handle_retry_hint(d);
                return None;
            }
            _ => return None,
        };
        let (t, data, id) = (
            ev.event_type.to_owned(),
            ev.data.to_owned(),
            ev.last_event_id.to_owned(),
        );
        match t.as_str() {
            "message" => match parse_index(&id) {
                Ok(idx) => match self.track(idx) {
                    Arrival::Next => Some(Output::Message { idx, data }),
                    Arrival::Duplicate => None,
                    Arrival::Gap { .. } => {
                        self.rc.handle_disconnected(now, Disconnect::Network);
                        None
                    }
                },
                Err(_) => Some(Output::Other {
                    event_type: t,
                    data,
                    id,
                }),
            },
            "state" => {
                let epoch = serde_json::from_str::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|v| v["epoch"].as_str().map(str::to_owned));
                if let Some(EpochChange::New) = epoch.map(|e| self.tracker.handle_epoch(&e)) {
                    self.start_over = true;
                }
                Some(Output::State(data))
            }
            "reset" => {
                self.tracker.handle_reset();
                Some(Output::StartOver)
            }
            "heartbeat" => Some(Output::Heartbeat),
            "session_ended" => {
                self.rc.handle_disconnected(now, Disconnect::SessionEnded);
                Some(Output::SessionEnded(data))
            }
            _ => Some(Output::Other {
                event_type: t,
                data,
                id,
            }),
        }
    }
}
