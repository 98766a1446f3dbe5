//! The reconnecting client: a tokio shell over `sse_core::agent::follow`.
//!
//! [`follow`] returns a [`Follow`], a [`Stream`](futures_util::Stream) of [`Observation`]s: status
//! changes (connected, connecting, disconnected, disabled, each with its reason) and events. It
//! works against any SSE server; against ours it also resumes with `from`, drops duplicates,
//! recovers gaps and starts over on `reset` or a new epoch, all decided by the core's follow
//! session. [`follow_durable`] reads a Durable Streams URL in SSE mode the same way, over
//! `sse_core::durable::follow`. This module only does HTTP (`transport`) and timers (`clock`, one `select!` in
//! `driver`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), sse_host::client::ClientError> {
//! use futures_util::StreamExt;
//! use sse_host::client::{Observation, Options, follow};
//!
//! let mut stream = follow(Options::new("http://127.0.0.1:8080/stream"))?;
//! while let Some(obs) = stream.next().await {
//!     match obs {
//!         Observation::Status(s) => println!("{}", s.status),
//!         Observation::Event(e) => println!("{}: {}", e.event_type, e.data),
//!         Observation::Reset { .. } => println!("server history replaced: drop what you have"),
//!         Observation::Dropped { line_bytes } => eprintln!("an event over {line_bytes} B was dropped"),
//!         Observation::Comment(_) => {}
//!     }
//! }
//! # Ok(()) }
//! ```

mod clock;
mod driver;
mod durable;
mod transport;

use std::fmt;

pub use sse_core::reconnect::{Policy, Reason, Status, StatusKind};
pub use transport::MAX_REDIRECTS;

pub use driver::{DATA_LIMIT, Follow, LINE_LIMIT};
pub use durable::{DurableFollow, DurableObservation, follow_durable, is_durable_stream};

/// The default [`Options::max_line_bytes`]: 4 KiB.
pub const DEFAULT_LINE_BYTES: usize = 4 * 1024;
/// The default [`Options::max_event_bytes`]: 1 MiB (our messages can be hundreds of KB).
pub const DEFAULT_EVENT_BYTES: usize = 1024 * 1024;

/// What to follow and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The stream URL (`http` or `https`), e.g. `http://127.0.0.1:8080/stream`.
    pub url: String,
    /// The first message index wanted (our server's `from`); `None` = from the start.
    pub from: Option<u64>,
    /// Event types to ask our server for (`events=`); empty = all.
    pub events: Vec<String>,
    /// Extra request headers, e.g. `("Authorization", "Bearer …")`.
    pub headers: Vec<(String, String)>,
    /// Backoff, connect timeout and watchdog tuning (the core's).
    pub policy: Policy,
    /// Seed for the backoff jitter.
    pub seed: u64,
    /// Redirects followed per attempt.
    pub max_redirects: usize,
    /// PEM certificate(s) to trust for `https` besides the bundled web roots: a private CA or
    /// a self-signed server.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate (chain) and its private key, PEM, both in this one buffer: presented
    /// to `https` servers that require one (mutual TLS).
    pub identity_pem: Option<Vec<u8>>,
    /// The `Last-Event-ID` of the first request (a resume point kept from before); the stream's
    /// `id:` lines replace it. The client sends exactly one `Last-Event-ID` on every request,
    /// so `headers` must not hold one.
    pub last_event_id: Option<String>,
    /// Report comment lines (`:` keep-alives) as [`Observation::Comment`].
    pub comments: bool,
    /// The longest `event:`/`id:` value or comment kept, in bytes (at most [`LINE_LIMIT`]).
    /// An event with a longer `event:`/`id:` value is dropped ([`Observation::Dropped`]).
    pub max_line_bytes: usize,
    /// The most data one event keeps, in bytes (at most [`DATA_LIMIT`]); longer data is cut
    /// and the event marked [`Event::truncated`].
    pub max_event_bytes: usize,
}

impl Options {
    /// Defaults: from the start, all events, the core's default policy, a seed from the clock.
    pub fn new(url: impl Into<String>) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        Options {
            url: url.into(),
            from: None,
            events: Vec::new(),
            headers: Vec::new(),
            policy: Policy::default(),
            seed,
            max_redirects: MAX_REDIRECTS,
            ca_pem: None,
            identity_pem: None,
            last_event_id: None,
            comments: false,
            max_line_bytes: DEFAULT_LINE_BYTES,
            max_event_bytes: DEFAULT_EVENT_BYTES,
        }
    }
}

/// One thing the client observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The connection status changed.
    Status(StatusChange),
    /// An event, in order, never twice. For our server, `message` events are exactly the log.
    Event(Event),
    /// The server's history is not the one we had (a `reset` event or a new epoch): drop every
    /// message received so far; the stream starts over from the server's first index.
    Reset {
        /// The server's `reset` event data (`{"epoch":..,"message_count":..}`), or `None` when
        /// a `state` with a new epoch revealed the change (the server sends no `reset` then).
        data: Option<String>,
    },
    /// A comment line's text (only with [`Options::comments`]).
    Comment(String),
    /// An event was dropped: an `event:` or `id:` value was longer than `line_bytes`
    /// ([`Options::max_line_bytes`]). The resume point is kept.
    Dropped {
        /// The line bound in force.
        line_bytes: usize,
    },
}

/// A status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Kind and reason.
    pub status: Status,
    /// While disconnected: when the next attempt starts.
    pub retry_at: Option<tokio::time::Instant>,
    /// For a lost connection: what the transport saw, when it said more than the reason does
    /// (`Connection refused (os error 111)`, `HTTP 503`, `the server closed the stream`).
    pub cause: Option<String>,
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:` (`"message"` if none).
    pub event_type: String,
    /// The data lines joined with LF.
    pub data: String,
    /// The message index for `message` events of our server; the last event ID for events of
    /// other servers; `None` for events without one (`state`, `heartbeat`, …).
    pub id: Option<String>,
    /// `data` was cut to [`Options::max_event_bytes`] (at a character boundary).
    pub truncated: bool,
}

/// Why the client could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The URL is not a valid `http`/`https` URL.
    Url(String),
    /// A `--header` is not a valid `Name: value` pair.
    Header(String),
    /// The HTTP client could not be built (TLS roots, …).
    Http(String),
    /// `ca_pem` holds no usable PEM certificate.
    Ca(String),
    /// `identity_pem` is not a certificate and its private key.
    Identity(String),
    /// `last_event_id` cannot be sent (too long, or NUL, CR or LF in it).
    LastEventId(String),
    /// A bound in `max_line_bytes`/`max_event_bytes` is 0 or above the client's limit.
    Limit(String),
    /// A Durable Streams start offset that cannot be sent (empty, too long, control characters).
    Offset(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(e) => write!(f, "bad URL: {e}"),
            ClientError::Header(h) => write!(f, "bad header `{h}`"),
            ClientError::Http(e) => write!(f, "cannot build HTTP client: {e}"),
            ClientError::Ca(e) => write!(f, "bad CA certificate: {e}"),
            ClientError::Identity(e) => write!(f, "bad client certificate or key: {e}"),
            ClientError::LastEventId(e) => write!(f, "bad last event ID: {e}"),
            ClientError::Limit(e) => f.write_str(e),
            ClientError::Offset(e) => write!(f, "bad offset: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// The innermost error's text: "Connection refused (os error 111)" rather than reqwest's
/// "error sending request for url (…)" or "builder error" wrapped around it.
pub(crate) fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Start following. Nothing happens until the stream is polled; dropping it closes the connection.
///
/// # Errors
/// A bad URL or header, or an HTTP client that cannot be built.
pub fn follow(options: Options) -> Result<Follow, ClientError> {
    Follow::new(options)
}
