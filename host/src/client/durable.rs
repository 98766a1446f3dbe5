//! Following a Durable Streams URL in SSE mode: the tokio shell over
//! `sse_core::durable::follow` (the same loop as `driver.rs`, another session). Every decision
//! (what to hand out, where to resume, when to reconnect or stop) is the core session's; this
//! file opens `?offset=…&live=sse[&cursor=…]` requests and moves bytes.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use sse_core::durable::follow::{Action, Follow as Session, FollowError, Output};
use sse_core::reconnect::{Policy, Reason, StatusKind};

use super::clock::Clock;
use super::driver::{Conn, DATA_LIMIT, LINE_LIMIT, Wake, next_io, sleep_until_opt};
use super::transport::{Transport, is_base64, is_event_stream};
use super::{ClientError, Options, StatusChange};

type CoreSession = Session<LINE_LIMIT, DATA_LIMIT>;

/// One thing the Durable Streams client observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurableObservation {
    /// The connection status changed.
    Status(StatusChange),
    /// The payload of one `data` event (base64 already decoded), in order, exactly once.
    Data {
        /// The bytes.
        data: Vec<u8>,
        /// The offset after this data, on the last `data` event before a `control` event.
        next: Option<String>,
    },
    /// Everything there is was handed out (reported when this changes).
    UpToDate {
        /// The resume point.
        next: String,
    },
    /// The stream is closed and everything was handed out; the stream of observations ends.
    Closed {
        /// The final offset.
        next: String,
    },
    /// The session stopped: data could not be handed out whole.
    Failed(FollowError),
}

struct Driver {
    session: Box<CoreSession>,
    transport: Transport,
    clock: Clock,
    conn: Conn,
    queue: VecDeque<DurableObservation>,
    started: bool,
    cause: Option<String>,
}

impl Driver {
    async fn next(&mut self) -> Option<DurableObservation> {
        if !self.started {
            self.started = true;
            self.session.start(self.clock.now());
        }
        loop {
            self.perform_actions();
            while let Some(out) = self.session.poll_output() {
                let obs = observation(out);
                self.push(obs);
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
                    self.session.handle_response(
                        now,
                        status,
                        is_event_stream(&resp),
                        is_base64(&resp),
                    );
                    self.conn = if self.session.status().kind == StatusKind::Connected {
                        Conn::Open(resp)
                    } else {
                        Conn::Idle
                    };
                }
                Wake::Ended(why, cause) => {
                    self.cause = Some(cause);
                    self.conn = Conn::Idle;
                    self.session.handle_disconnected(now, why);
                }
                Wake::Bytes(bytes) => {
                    let mut rest: &[u8] = &bytes;
                    while !rest.is_empty() {
                        if let Some(out) = self.session.handle_bytes(now, &mut rest) {
                            let obs = observation(out);
                            self.push(obs);
                        }
                    }
                }
            }
        }
    }

    fn perform_actions(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Connect => {
                    let opening = self
                        .transport
                        .open_durable(self.session.offset(), self.session.cursor());
                    self.conn = Conn::Opening(opening);
                }
                // `Close`, and actions this shell does not know: drop the connection.
                _ => self.conn = Conn::Idle,
            }
        }
    }

    /// Queue one observation; a status change gets its countdown and, for a lost connection,
    /// what the transport said.
    fn push(&mut self, mut obs: Option<DurableObservation>) {
        if let Some(DurableObservation::Status(change)) = &mut obs {
            change.retry_at = self.session.retry_at().map(|t| self.clock.to_tokio(t));
            let cause = self.cause.take();
            if matches!(
                change.status.reason,
                Reason::ConnectionLost | Reason::ServerClosed | Reason::Unreachable
            ) {
                change.cause = cause;
            }
        }
        self.queue.extend(obs);
    }
}

/// What the app sees of one session output (owned: the core lends from its buffers).
fn observation(out: Output<'_>) -> Option<DurableObservation> {
    Some(match out {
        Output::Data { data, next } => DurableObservation::Data {
            data: data.to_vec(),
            next: next.map(str::to_owned),
        },
        Output::UpToDate { next } => DurableObservation::UpToDate {
            next: next.to_owned(),
        },
        Output::Closed { next } => DurableObservation::Closed {
            next: next.to_owned(),
        },
        Output::Failed(e) => DurableObservation::Failed(e),
        Output::StatusChanged(status) => DurableObservation::Status(StatusChange {
            status,
            retry_at: None,
            cause: None,
        }),
        // `Output` is non-exhaustive: outputs this client does not know are not reported.
        _ => return None,
    })
}

/// A live, reconnecting read of one Durable Stream. See [`follow_durable`].
pub struct DurableFollow {
    inner: Pin<Box<dyn Stream<Item = DurableObservation> + Send>>,
}

impl std::fmt::Debug for DurableFollow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableFollow").finish_non_exhaustive()
    }
}

impl Stream for DurableFollow {
    type Item = DurableObservation;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<DurableObservation>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Follow the Durable Stream at `options.url` in SSE mode from `offset` (`-1`: the beginning,
/// `now`: the tail, or an offset the server returned). `from`, `events`, `last_event_id` and
/// `comments` of `options` do not apply. The stream of observations ends when the stream is
/// closed ([`DurableObservation::Closed`]) or the session stops.
///
/// # Errors
/// A bad URL, header, bound or offset, or an HTTP client that cannot be built.
pub fn follow_durable(options: Options, offset: &str) -> Result<DurableFollow, ClientError> {
    let transport = Transport::new(
        &options.url,
        &[],
        &options.headers,
        options.max_redirects,
        options.ca_pem.as_deref(),
        options.identity_pem.as_deref(),
    )?;
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
    let mut session = boxed_session(options.policy, options.seed, offset)?;
    session.set_limits(options.max_line_bytes, options.max_event_bytes);
    let driver = Driver {
        session,
        transport,
        clock: Clock::new(),
        conn: Conn::Idle,
        queue: VecDeque::new(),
        started: false,
        cause: None,
    };
    let inner = futures_util::stream::unfold(driver, |mut d| async move {
        let obs = d.next().await?;
        Some((obs, d))
    });
    Ok(DurableFollow {
        inner: Box::pin(inner),
    })
}

/// Whether `options.url` is a Durable Stream: a `HEAD` (the protocol's metadata request,
/// `PROTOCOL.md` §5.5) answered 2xx with a `Stream-Next-Offset` header, within the policy's
/// connect timeout. For a URL that answered a `GET` with something other than an event stream.
pub async fn is_durable_stream(options: &Options) -> bool {
    let Ok(transport) = Transport::new(
        &options.url,
        &[],
        &options.headers,
        options.max_redirects,
        options.ca_pem.as_deref(),
        options.identity_pem.as_deref(),
    ) else {
        return false;
    };
    let wait = std::time::Duration::from_millis(options.policy.connect_timeout.as_millis());
    match tokio::time::timeout(wait, transport.head()).await {
        Ok(Ok(resp)) => {
            resp.status().is_success() && resp.headers().contains_key("stream-next-offset")
        }
        _ => false,
    }
}

/// As `driver.rs`'s: the session holds its buffers inline (two of `DATA_LIMIT`), so it is built
/// on a short-lived thread with room for the temporaries of an unoptimised build.
fn boxed_session(policy: Policy, seed: u64, offset: &str) -> Result<Box<CoreSession>, ClientError> {
    const STACK: usize = 8 * std::mem::size_of::<CoreSession>() + (1 << 20);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("sse-durable-alloc".into())
            .stack_size(STACK)
            .spawn_scoped(s, move || {
                CoreSession::new(policy, seed, offset).map(Box::new)
            })
            .map_err(|e| ClientError::Http(format!("cannot allocate the session: {e}")))?
            .join()
            .map_err(|_| ClientError::Http("cannot allocate the session".into()))?
            .map_err(|e| ClientError::Offset(e.to_string()))
    })
}
