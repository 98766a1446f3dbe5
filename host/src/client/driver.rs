//! The shell loop (STYLE.md snippet 4): perform the session's actions, then one `select!` over the
//! session's timer and the connection's next step (response head or body chunk), hand the result
//! to the session with `now`, and queue what it reports. No protocol decision is made here.

use std::collections::VecDeque;
use std::future::pending;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use sse_core::agent::follow::{Action, Follow as Session, Output};
use sse_core::reconnect::{Disconnect, Policy, Reason, StatusKind};

use super::clock::Clock;
use super::transport::{Opening, Transport, is_event_stream};
use super::{ClientError, Event, Observation, Options, StatusChange};

/// The largest [`Options::max_line_bytes`](super::Options::max_line_bytes): the parser's
/// compile-time line bound (64 KiB; it holds four such buffers). The user's bound lowers it at
/// run time (`sse_core::parse::Parser::set_limits`), with the parser's rules at that bound.
pub const LINE_LIMIT: usize = 64 * 1024;
/// The largest [`Options::max_event_bytes`](super::Options::max_event_bytes): the parser's
/// compile-time data bound (4 MiB), lowered at run time like [`LINE_LIMIT`]. The buffer is
/// reserved, not touched, until data arrives; it bounds the client's memory per connection.
pub const DATA_LIMIT: usize = 4 * 1024 * 1024;

type CoreSession = Session<LINE_LIMIT, DATA_LIMIT>;

/// The connection, as far as the shell is concerned.
pub(super) enum Conn {
    /// Nothing open.
    Idle,
    /// Request sent, waiting for the response head (redirects are followed inside).
    Opening(Opening),
    /// Reading the body.
    Open(reqwest::Response),
}

/// What woke the loop.
pub(super) enum Wake {
    Timer,
    Response(reqwest::Response),
    Bytes(Bytes),
    /// The connection ended, and what the transport said about it.
    Ended(Disconnect, String),
}

/// The connection's next step. Pending forever when idle, so only the timer can fire.
pub(super) async fn next_io(conn: &mut Conn) -> Wake {
    match conn {
        Conn::Idle => pending().await,
        Conn::Opening(req) => match req.await {
            Ok(resp) => Wake::Response(resp),
            Err(e) => Wake::Ended(Disconnect::Network, super::innermost(&e)),
        },
        Conn::Open(resp) => match resp.chunk().await {
            Ok(Some(bytes)) => Wake::Bytes(bytes),
            Ok(None) => Wake::Ended(
                Disconnect::EndOfStream,
                "the server closed the stream".into(),
            ),
            Err(e) => Wake::Ended(Disconnect::Network, super::innermost(&e)),
        },
    }
}

pub(super) async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => pending().await,
    }
}

struct Driver {
    session: Box<CoreSession>,
    transport: Transport,
    clock: Clock,
    conn: Conn,
    queue: VecDeque<Observation>,
    started: bool,
    /// `from` goes on the URL once there is something to resume (or the user asked for it).
    send_from: bool,
    /// What the transport said about the connection that just ended, for the next status change.
    cause: Option<String>,
    /// Pass comments on.
    comments: bool,
}

impl Driver {
    async fn next(&mut self) -> Option<Observation> {
        if !self.started {
            self.started = true;
            self.session.start(self.clock.now());
        }
        loop {
            self.perform_actions();
            while let Some(out) = self.session.poll_output() {
                self.report(out);
            }
            if let Some(obs) = self.queue.pop_front() {
                return Some(obs);
            }
            if self.session.status().kind == StatusKind::Disabled {
                return None;
            }
            let wake_at = self.session.poll_timeout().map(|t| self.clock.to_tokio(t));
            let wake = tokio::select! {
                () = sleep_until_opt(wake_at) => Wake::Timer,
                io = next_io(&mut self.conn) => io,
            };
            let now = self.clock.now();
            match wake {
                Wake::Timer => self.session.handle_timeout(now),
                Wake::Response(resp) => {
                    let status = resp.status().as_u16();
                    self.cause = Some(format!("HTTP {status}"));
                    self.session
                        .handle_response(now, status, is_event_stream(&resp));
                    if self.session.status().kind == StatusKind::Connected {
                        self.conn = Conn::Open(resp);
                    } else {
                        self.conn = Conn::Idle;
                    }
                }
                Wake::Ended(why, cause) => {
                    self.cause = Some(cause);
                    self.conn = Conn::Idle;
                    self.session.handle_disconnected(now, why);
                }
                Wake::Bytes(bytes) => self.feed(&bytes, now),
            }
        }
    }

    fn perform_actions(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Close => self.conn = Conn::Idle,
                Action::Connect { from } => {
                    self.send_from |= from.0 > 0;
                    let from = self.send_from.then_some(from.0);
                    let id = self.session.last_event_id().unwrap_or_default();
                    let epoch = self.session.resume_epoch();
                    self.conn = Conn::Opening(self.transport.open(from, epoch, id));
                }
                // `Action` is non-exhaustive: an action this shell does not know needs nothing.
                _ => {}
            }
        }
    }

    /// Queue one observation; a status change gets its countdown from the session, and a lost
    /// connection what the transport said about it.
    fn push(&mut self, mut obs: Observation) {
        if let Observation::Status(change) = &mut obs {
            change.retry_at = self.session.retry_at().map(|t| self.clock.to_tokio(t));
            let cause = self.cause.take();
            if matches!(
                change.status.reason,
                Reason::ConnectionLost | Reason::ServerClosed | Reason::Unreachable
            ) {
                change.cause = cause;
            }
        }
        self.queue.push_back(obs);
    }

    fn report(&mut self, out: Output<'_>) {
        let line_bytes = self.session.limits().0;
        if let Some(obs) = observation(out, self.comments, line_bytes) {
            self.push(obs);
        }
    }

    /// Snippet 2: push every byte through the session, report what it says.
    fn feed(&mut self, bytes: &[u8], now: sse_core::Instant) {
        let mut rest = bytes;
        let line_bytes = self.session.limits().0;
        while !rest.is_empty() {
            // The output borrows the session's parser: copy it out before queueing.
            if let Some(obs) = self
                .session
                .handle_bytes(now, &mut rest)
                .and_then(|out| observation(out, self.comments, line_bytes))
            {
                self.push(obs);
            }
        }
    }
}

/// What the app sees of one session output (owned: the core lends from its parser); `None` for
/// a comment nobody asked for.
fn observation(out: Output<'_>, comments: bool, line_bytes: usize) -> Option<Observation> {
    let event = |event_type: &str, data: &str, id: Option<String>, truncated: bool| {
        Observation::Event(Event {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            id,
            truncated,
        })
    };
    Some(match out {
        Output::Message {
            idx,
            data,
            truncated,
        } => event("message", data, Some(idx.0.to_string()), truncated),
        Output::State { data, truncated } => event("state", data, None, truncated),
        Output::Heartbeat(data) => event("heartbeat", data, None, false),
        Output::SessionEnded(data) => event("session_ended", data, None, false),
        Output::Other {
            event_type,
            data,
            id,
            truncated,
        } => event(
            event_type,
            data,
            (!id.is_empty()).then(|| id.to_owned()),
            truncated,
        ),
        Output::Comment(text) => {
            if !comments {
                return None;
            }
            Observation::Comment(text.to_owned())
        }
        Output::Dropped(_) => Observation::Dropped { line_bytes },
        Output::StartOver { reset } => Observation::Reset {
            data: reset.map(str::to_owned),
        },
        Output::StatusChanged(status) => Observation::Status(StatusChange {
            status,
            retry_at: None,
            cause: None,
        }),
        // `Output` is non-exhaustive: outputs this client does not know are not reported.
        _ => return None,
    })
}

/// A live, reconnecting event stream. See the [module docs](super).
pub struct Follow {
    inner: Pin<Box<dyn Stream<Item = Observation> + Send>>,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow").finish_non_exhaustive()
    }
}

impl Follow {
    pub(super) fn new(options: Options) -> Result<Self, ClientError> {
        let transport = Transport::new(
            &options.url,
            &options.events,
            &options.headers,
            options.max_redirects,
            options.ca_pem.as_deref(),
            options.identity_pem.as_deref(),
        )?;
        let from = options.from.map(sse_core::Seq);
        for (name, value, max) in [
            ("max_line_bytes", options.max_line_bytes, LINE_LIMIT),
            ("max_event_bytes", options.max_event_bytes, DATA_LIMIT),
        ] {
            if value == 0 || value > max {
                return Err(ClientError::Limit(format!(
                    "{name} must be 1 to {max} bytes, not {value}"
                )));
            }
        }
        let mut session = boxed_session(options.policy, options.seed, from)?;
        session.set_limits(options.max_line_bytes, options.max_event_bytes);
        if let Some(id) = &options.last_event_id {
            session
                .set_last_event_id(id)
                .map_err(|e| ClientError::LastEventId(e.to_string()))?;
        }
        let driver = Driver {
            session,
            transport,
            clock: Clock::new(),
            conn: Conn::Idle,
            queue: VecDeque::new(),
            started: false,
            send_from: options.from.is_some(),
            cause: None,
            comments: options.comments,
        };
        let inner = futures_util::stream::unfold(driver, |mut d| async move {
            let obs = d.next().await?;
            Some((obs, d))
        });
        Ok(Follow {
            inner: Box::pin(inner),
        })
    }
}

/// The session holds its buffers inline (`DATA_LIMIT` is 1 MiB). `Box::new` builds the value on
/// the stack first in unoptimised builds, which would overflow a 2 MiB tokio or test thread; so it
/// is built once on a short-lived thread with room for it. Safe code, no allocator tricks.
fn boxed_session(
    policy: Policy,
    seed: u64,
    from: Option<sse_core::Seq>,
) -> Result<Box<CoreSession>, ClientError> {
    // Unoptimised builds keep several temporaries of the session on the stack.
    const STACK: usize = 8 * std::mem::size_of::<CoreSession>() + (1 << 20);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("sse-session-alloc".into())
            .stack_size(STACK)
            .spawn_scoped(s, move || {
                // A given `--from` says the stream is indexed; otherwise the session learns it
                // from the server's first `state` (sse_core::agent::follow, "Indexed streams").
                Box::new(match from {
                    Some(from) => CoreSession::with_resume(policy, seed, from),
                    None => CoreSession::new(policy, seed),
                })
            })
            .map_err(|e| ClientError::Http(format!("cannot allocate the session: {e}")))?
            .join()
            .map_err(|_| ClientError::Http("cannot allocate the session".into()))
    })
}

impl Stream for Follow {
    type Item = Observation;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Observation>> {
        self.inner.as_mut().poll_next(cx)
    }
}
