//! `sse-host follow URL`: print a live, reconnecting event stream.
//!
//! A Durable Streams URL (`--durable`, `--offset`, or a path with `/v1/stream/`) is read in
//! SSE mode instead (`client::follow_durable`, over `sse_core::durable::follow`): the stream's
//! bytes go to stdout as they are (with `--json`, one line per `data` event), statuses to
//! stderr, and a closed stream ends it with exit 0.
//!
//! Human mode on a terminal keeps one status line at the top of the screen (a scroll region below
//! it holds the messages): the connection indicator with its reason and reconnect countdown, the
//! agent's state, tokens and cost. Not on a terminal it prints plain lines. `--json` prints one
//! line per observation exactly as PROTOCOL.md §8 says.
//!
//! Protocol decisions (what a status means, backoff, bounds) are the core's; this file maps
//! flags onto `client::Options`, prints, and chooses the exit code from the final status.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::client::{
    self, DATA_LIMIT, DEFAULT_EVENT_BYTES, DEFAULT_LINE_BYTES, DurableObservation, Event,
    LINE_LIMIT, Observation, Options, Reason, StatusChange, StatusKind,
};

/// Exit status: the server answered `204 No Content`, "stop" (WHATWG: do not reconnect).
pub const EXIT_STOPPED: u8 = 3;
/// Exit status: the server refused (a 4xx other than 408/429, e.g. 401, 404).
pub const EXIT_REFUSED: u8 = 4;
/// Exit status: `--max-retries` consecutive reconnects failed.
pub const EXIT_GAVE_UP: u8 = 5;
/// Exit status: `--timeout` passed without the stream ever opening.
pub const EXIT_NEVER_CONNECTED: u8 = 6;

const AFTER_HELP: &str = "\
Reconnecting: only `200` with `Content-Type: text/event-stream` opens the stream. Network
errors, a closed stream, 5xx, 408 and 429 are retried with backoff: --retry-initial × 1.5ⁿ
capped at --retry-max, plus up to 20 % jitter (never less than the reconnection time). A
server's `retry: MS` replaces the base and restarts the growth. 204 stops; 4xx other than
408/429, other 2xx (205, 210, 299, …) and a wrong Content-Type are terminal too.

Bounds: the parser keeps at most --max-event-bytes of one event's data (longer data is cut at
a character boundary and the event marked \"truncated\":true) and --max-line-bytes of an
`event:`/`id:` value or comment (an event with a longer `event:`/`id:` is dropped and an error
reported; the resume point is kept: the event's other `id:` lines still count). The bounds are
set at run time below compile-time maxima of 4 MiB and 64 KiB.

Durable Streams: with --durable, --offset, or a URL whose path contains `/v1/stream/` (where
`sse-host serve` mounts them), the URL is read as a Durable Stream in SSE mode; so is a URL
that answers with something other than an event stream when a HEAD of it (the protocol's
metadata request) has a `Stream-Next-Offset` header (stdout then starts with that first
attempt's status lines; --durable avoids them):
`GET URL?offset=O&live=sse` (`&cursor=C` once the server sent one). O starts at --offset
(-1: the beginning, `now`: only new data, or an offset printed before) and then is the last
`streamNextOffset` of a `control` event. Data is printed only once the `control` event after it
confirms its offset, so a cut connection neither loses nor repeats a byte. stdout gets the
stream's bytes exactly as appended (base64 decoded; nothing added), statuses go to stderr;
with --json, one line per `data` event {\"event\":{\"type\":\"data\",\"data\":D,\"offset\":O}}
(\"data_base64\" instead of \"data\" for bytes that are not UTF-8; O on the last event before a
`control` event, else null), {\"event\":{\"type\":\"up_to_date\",\"offset\":O}} when caught up,
{\"event\":{\"type\":\"closed\",\"offset\":O}} at the end, and the status lines below. A server ending
the SSE response (servers do, about every minute) is reconnected at once; errors back off. The
stream being closed (`streamClosed`) exits 0; 404 (no such stream) exits 4. --read-timeout
defaults to 90s here: the protocol has no heartbeat, and an idle response stays silent until the
server ends it.

Exit status:
  0  --max-events reached, --timeout passed after the stream had opened, the session ended
     (`session_ended`), a Durable Stream was closed, or stdout was closed (`follow | head -3`)
  1  another terminal failure (not an event stream, other 2xx, Durable Streams data that
     cannot be printed whole: over --max-event-bytes, bad base64, a bad control event)
  2  usage error (bad flag or header, unreadable file)
  3  the server said stop (HTTP 204)
  4  the server refused (4xx other than 408/429)
  5  gave up after --max-retries failed reconnects
  6  --timeout passed without the stream ever opening
  129/130/143  SIGHUP/SIGINT/SIGTERM";

/// Arguments of `sse-host follow`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct FollowArgs {
    /// The stream URL, e.g. http://127.0.0.1:8080/stream
    pub url: String,
    /// One JSON line per observation: {"status":S,"reason":R} or {"event":{"type":T,"data":D,"id":I}}.
    ///
    /// A status line comes on every connection status change (S: connected, connecting,
    /// disconnected, disabled; R: the reason, e.g. "Server closed the stream", "Server
    /// unreachable", "Connection lost"). A lost connection's line
    /// also has "cause": what the transport saw, e.g. "Connection refused (os error 111)",
    /// "HTTP 503" or "the server closed the stream". An event line comes per
    /// event, in order, each message exactly once (I: the message index, or null). An event of
    /// type "reset" means: drop every message you hold, the stream starts over from the server's
    /// first index. Its data is the server's reset data ({"epoch":..,"message_count":..}), or
    /// {"reason":"epoch","epoch":E} when the client saw the server's log replaced (a new epoch in
    /// "state") without a reset event. Heartbeat data is the server's Unix time.
    ///
    /// An event whose data is JSON also has "json": the parsed value (D stays the string); one
    /// cut at --max-event-bytes has "truncated":true. A "disconnected" line has "retry_in_ms":
    /// when the next attempt starts. {"error":E} says an event was dropped (--max-line-bytes);
    /// {"comment":C} is a comment line (with --comments).
    #[arg(long)]
    pub json: bool,
    /// Also show comment lines (`:` keep-alives): {"comment":C} with --json, `:C` otherwise.
    #[arg(long, env = "SSE_FOLLOW_COMMENTS")]
    pub comments: bool,
    /// Send `Last-Event-ID: ID` with the first request (a resume point kept from an earlier
    /// run); the stream's `id:` lines replace it. Exactly one Last-Event-ID goes out per request,
    /// so `-H 'Last-Event-ID: …'` is refused in favour of this flag.
    #[arg(long, env = "SSE_FOLLOW_LAST_EVENT_ID", value_name = "ID")]
    pub last_event_id: Option<String>,
    /// Give up after N consecutive failed reconnects (exit 5). Default: retry forever. A
    /// connection that stays up for 10 s resets the count.
    #[arg(long, env = "SSE_FOLLOW_MAX_RETRIES", value_name = "N")]
    pub max_retries: Option<u32>,
    /// The first reconnect delay, before growth (at least 250ms). A server's `retry:` replaces it.
    #[arg(long, env = "SSE_FOLLOW_RETRY_INITIAL", value_name = "DUR", default_value = "1s",
          value_parser = humantime::parse_duration)]
    pub retry_initial: Duration,
    /// The longest reconnect delay, jitter included.
    #[arg(long, env = "SSE_FOLLOW_RETRY_MAX", value_name = "DUR", default_value = "60s",
          value_parser = humantime::parse_duration)]
    pub retry_max: Duration,
    /// The watchdog: an open stream silent (no byte, not even a heartbeat or comment) this long
    /// is closed and reconnected. Our server sends a heartbeat every 15 s. Default 45s; 90s
    /// for a Durable Stream (no heartbeats; servers end idle responses after about 60 s).
    #[arg(long, env = "SSE_FOLLOW_READ_TIMEOUT", value_name = "DUR",
          value_parser = humantime::parse_duration)]
    pub read_timeout: Option<Duration>,
    /// The most data one event keeps (bytes, up to 4 MiB); longer data is cut and marked.
    #[arg(long, env = "SSE_FOLLOW_MAX_EVENT_BYTES", value_name = "N",
          default_value_t = DEFAULT_EVENT_BYTES)]
    pub max_event_bytes: usize,
    /// The longest `event:`/`id:` value or comment kept (bytes, up to 64 KiB); an event with a
    /// longer `event:`/`id:` is dropped and reported.
    #[arg(long, env = "SSE_FOLLOW_MAX_LINE_BYTES", value_name = "N",
          default_value_t = DEFAULT_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Start at message index N (our server's `from`; default: the whole log). Reconnects then
    /// resume after the last message received.
    #[arg(long, value_name = "N")]
    pub from: Option<u64>,
    /// Only these event types (our server's `events=`), comma-separated: state,message,heartbeat.
    /// `reset` and `session_ended` always come.
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub events: Vec<String>,
    /// Exit 0 after this many events (`reset` lines do not count).
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// Exit after this long (e.g. 30s, 5m): 0 if the stream opened at some point, 6 if it never did.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// An extra request header, 'Name: value' (repeatable). Not Last-Event-ID: see --last-event-id.
    #[arg(long = "header", short = 'H', value_name = "'K: V'")]
    pub headers: Vec<String>,
    /// Also trust the PEM certificate(s) in FILE for https (a private CA, or a self-signed
    /// server's own certificate), besides the bundled web roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
    /// Present the client certificate (PEM, chain allowed) in FILE to https servers that
    /// require one (mutual TLS). Needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// Read the URL as a Durable Stream in SSE mode (see "Durable Streams" below). Implied by
    /// --offset and by a URL path containing `/v1/stream/`; also chosen when the URL is not an
    /// event stream and a HEAD of it shows `Stream-Next-Offset`.
    #[arg(long)]
    pub durable: bool,
    /// The Durable Streams offset to start at: -1 (the beginning, the default), `now` (only
    /// what is appended from now on), or an offset printed earlier (`"offset"` with --json).
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub offset: Option<String>,
}

impl FollowArgs {
    /// Whether the URL is read as a Durable Stream.
    fn is_durable(&self) -> bool {
        self.durable
            || self.offset.is_some()
            || reqwest::Url::parse(&self.url).is_ok_and(|u| u.path().contains("/v1/stream/"))
    }
}

/// The watchdog default: our server's heartbeat is every 15 s; Durable Streams have none, and a
/// server ends an idle SSE response after about 60 s.
const READ_TIMEOUT: Duration = Duration::from_secs(45);
const DURABLE_READ_TIMEOUT: Duration = Duration::from_secs(90);

/// Run `follow` to completion on its own runtime.
pub fn run(args: FollowArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sse-host follow: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(follow(args))
}

fn parse_header(h: &str) -> Result<(String, String), String> {
    h.split_once(':')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("bad --header `{h}`: expected 'Name: value'"))
}

/// A usage error: the message on stderr, exit 2.
fn usage(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "sse-host follow: {message}");
    ExitCode::from(2)
}

/// The flags' reconnect tuning, or what is wrong with it.
fn policy(args: &FollowArgs, durable: bool) -> Result<client::Policy, String> {
    let ms = |d: Duration| {
        sse_core::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let min = Duration::from_millis(sse_core::reconnect::MIN_RETRY_HINT.as_millis());
    if args.retry_initial < min {
        return Err(format!("--retry-initial must be at least {min:?}"));
    }
    if args.retry_max < args.retry_initial {
        return Err("--retry-max must not be shorter than --retry-initial".into());
    }
    let read_timeout = args.read_timeout.unwrap_or(if durable {
        DURABLE_READ_TIMEOUT
    } else {
        READ_TIMEOUT
    });
    if read_timeout < Duration::from_secs(1) {
        return Err("--read-timeout must be at least 1s".into());
    }
    let mut policy = client::Policy::default();
    policy.initial_backoff = ms(args.retry_initial);
    policy.max_backoff = ms(args.retry_max);
    policy.idle_timeout = ms(read_timeout);
    policy.max_retries = args.max_retries;
    Ok(policy)
}

async fn follow(args: FollowArgs) -> ExitCode {
    let mut options = Options::new(args.url.clone());
    options.from = args.from;
    options.events = args.events.clone();
    options.comments = args.comments;
    options.last_event_id = args.last_event_id.clone();
    match policy(&args, args.is_durable()) {
        Ok(p) => options.policy = p,
        Err(e) => return usage(&e),
    }
    for (flag, value, max) in [
        ("--max-event-bytes", args.max_event_bytes, DATA_LIMIT),
        ("--max-line-bytes", args.max_line_bytes, LINE_LIMIT),
    ] {
        if value == 0 || value > max {
            return usage(&format!("{flag} must be 1 to {max}, not {value}"));
        }
    }
    options.max_event_bytes = args.max_event_bytes;
    options.max_line_bytes = args.max_line_bytes;
    for h in &args.headers {
        match parse_header(h) {
            Ok((k, _)) if k.eq_ignore_ascii_case("last-event-id") => {
                return usage(&format!(
                    "bad --header `{h}`: use --last-event-id ID (the client sends exactly one \
                     Last-Event-ID per request and keeps it up to date)"
                ));
            }
            Ok(kv) => options.headers.push(kv),
            Err(e) => {
                eprintln!("sse-host follow: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let read = |flag: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            eprintln!(
                "sse-host follow: cannot read {flag} {}: {e}",
                path.display()
            );
            ExitCode::from(2)
        })
    };
    if let Some(path) = &args.cacert {
        match read("--cacert", path) {
            Ok(pem) => options.ca_pem = Some(pem),
            Err(code) => return code,
        }
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        // reqwest takes the certificate and the key as one PEM buffer.
        match (read("--cert", cert), read("--key", key)) {
            (Ok(mut pem), Ok(key)) => {
                pem.push(b'\n');
                pem.extend_from_slice(&key);
                options.identity_pem = Some(pem);
            }
            (Err(code), _) | (_, Err(code)) => return code,
        }
    }
    if args.is_durable() {
        for (flag, given) in [
            ("--from", args.from.is_some()),
            ("--events", !args.events.is_empty()),
            ("--last-event-id", args.last_event_id.is_some()),
        ] {
            if given {
                return usage(&format!(
                    "{flag} does not apply to a Durable Stream (use --offset)"
                ));
            }
        }
        return follow_durable(&args, options).await;
    }
    // Kept for a URL that turns out to be a Durable Stream (see the loop's end).
    let mut durable_options = options.clone();
    let mut stream = match client::follow(options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sse-host follow: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = Output::new(args.json, args.max_event_bytes);
    let deadline = args.timeout.map(|d| tokio::time::Instant::now() + d);
    let mut events = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut signals = Signals::new();
    let code = loop {
        if out.closed {
            // `follow | head -3`: the reader is gone, nothing more can be shown.
            break ExitCode::SUCCESS;
        }
        tokio::select! {
            obs = stream.next() => match obs {
                Some(Observation::Event(ev)) => {
                    out.event(&ev);
                    events += 1;
                    if args.max_events.is_some_and(|max| events >= max) && !out.closed {
                        break ExitCode::SUCCESS;
                    }
                }
                Some(Observation::Status(change)) => out.status(change),
                Some(Observation::Reset { data }) => out.reset(data),
                Some(Observation::Comment(text)) => out.comment(&text),
                Some(Observation::Dropped { line_bytes }) => out.dropped(line_bytes),
                None if out.not_an_event_stream()
                    && args.from.is_none()
                    && args.events.is_empty()
                    && args.last_event_id.is_none()
                    && client::is_durable_stream(&durable_options).await =>
                {
                    // Not an event stream, but a Durable Stream: read it in SSE mode.
                    out.finish();
                    out.error("the URL is a Durable Stream (Stream-Next-Offset): following it in SSE mode");
                    if let Ok(p) = policy(&args, true) {
                        durable_options.policy = p;
                    }
                    return follow_durable(&args, durable_options).await;
                }
                None => break out.exit_code(),
            },
            () = sleep_until_opt(deadline) => {
                break if out.ever_connected {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_NEVER_CONNECTED)
                };
            }
            _ = tick.tick() => out.redraw(),
            signal = signals.next() => match signal {
                Signal::Resized => out.resized(),
                Signal::Stop(code) => break ExitCode::from(code),
            },
        }
    };
    out.finish();
    code
}

/// `follow` for a Durable Stream: the same loop over `client::follow_durable`'s observations.
async fn follow_durable(args: &FollowArgs, options: Options) -> ExitCode {
    let offset = args.offset.as_deref().unwrap_or("-1");
    let mut stream = match client::follow_durable(options, offset) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sse-host follow: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = Output::durable(args.json, args.max_event_bytes);
    let deadline = args.timeout.map(|d| tokio::time::Instant::now() + d);
    let mut events = 0u64;
    let mut signals = Signals::new();
    let code = loop {
        if out.closed {
            break ExitCode::SUCCESS;
        }
        tokio::select! {
            obs = stream.next() => match obs {
                Some(DurableObservation::Data { data, next }) => {
                    out.durable_data(&data, next.as_deref());
                    events += 1;
                    if args.max_events.is_some_and(|max| events >= max) && !out.closed {
                        break ExitCode::SUCCESS;
                    }
                }
                Some(DurableObservation::UpToDate { next }) => out.durable_edge("up_to_date", &next),
                Some(DurableObservation::Closed { next }) => {
                    out.durable_edge("closed", &next);
                    break ExitCode::SUCCESS;
                }
                Some(DurableObservation::Failed(e)) => {
                    out.error(&format!("{e}; stopped (see --max-event-bytes)"));
                    break ExitCode::FAILURE;
                }
                Some(DurableObservation::Status(change)) => out.status(change),
                None => break out.exit_code(),
            },
            () = sleep_until_opt(deadline) => {
                break if out.ever_connected {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_NEVER_CONNECTED)
                };
            }
            signal = signals.next() => match signal {
                Signal::Resized => {}
                Signal::Stop(code) => break ExitCode::from(code),
            },
        }
    };
    out.finish();
    code
}

/// What a signal asks of the output loop.
enum Signal {
    /// The terminal was resized (SIGWINCH).
    Resized,
    /// Leave with this exit code (128 + signal number): the screen is restored first.
    Stop(u8),
}

/// SIGINT, SIGTERM, SIGHUP and SIGWINCH as one source; a signal that cannot be hooked is simply
/// never reported (Ctrl-C then kills the process without restoring the screen, as before).
struct Signals {
    #[cfg(unix)]
    hooks: Vec<(tokio::signal::unix::Signal, Option<u8>)>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let wanted = [
                (SignalKind::interrupt(), Some(130)),
                (SignalKind::terminate(), Some(143)),
                (SignalKind::hangup(), Some(129)),
                (SignalKind::window_change(), None),
            ];
            let hooks = wanted
                .into_iter()
                .filter_map(|(kind, code)| signal(kind).ok().map(|s| (s, code)))
                .collect();
            Signals { hooks }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            if self.hooks.is_empty() {
                return std::future::pending().await;
            }
            let waits = self.hooks.iter_mut().map(|(s, code)| {
                let code = *code;
                Box::pin(async move {
                    s.recv().await;
                    code
                })
            });
            let (code, _, _) = futures_util::future::select_all(waits).await;
            code.map_or(Signal::Resized, Signal::Stop)
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop(130)
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How observations are shown.
enum Mode {
    Json,
    Plain,
    Terminal,
}

/// The agent summary shown on the status line, from the latest `state` event.
#[derive(Default)]
struct Agent {
    epoch: String,
    state: String,
    title: String,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

impl Agent {
    fn update(&mut self, json: &Value) {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        self.epoch = s(&json["epoch"]);
        self.state = s(&json["agent_state"]);
        self.title = s(&json["title"]);
        let usage = &json["total_usage"];
        self.input_tokens = usage["input_tokens"].as_u64().unwrap_or(0);
        self.output_tokens = usage["output_tokens"].as_u64().unwrap_or(0);
        self.cost_usd = usage["total_cost_usd"].as_f64().unwrap_or(0.0);
    }

    fn summary(&self) -> String {
        if self.state.is_empty() {
            return String::new();
        }
        format!(
            "{} | {} in / {} out tokens | ${:.4}{}",
            self.state,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            if self.title.is_empty() {
                String::new()
            } else {
                format!(" | {}", self.title)
            }
        )
    }
}

struct Output {
    mode: Mode,
    status: Option<StatusChange>,
    agent: Agent,
    stdout: std::io::Stdout,
    /// A write failed with EPIPE: the reader is gone.
    closed: bool,
    /// The stream opened at least once.
    ever_connected: bool,
    /// `--max-event-bytes`, for messages about cut data.
    max_event_bytes: usize,
    /// Status lines go to stderr, not stdout (a Durable Stream's bytes own stdout).
    status_to_stderr: bool,
}

impl Output {
    fn new(json: bool, max_event_bytes: usize) -> Self {
        let stdout = std::io::stdout();
        let mode = if json {
            Mode::Json
        } else if stdout.is_terminal() {
            // Reserve line 1 for the status: the scroll region is line 2 to the bottom.
            let mut lock = stdout.lock();
            let _ = write!(lock, "\x1b[2J\x1b[2r\x1b[2;1H");
            let _ = lock.flush();
            Mode::Terminal
        } else {
            Mode::Plain
        };
        Output {
            mode,
            status: None,
            agent: Agent::default(),
            stdout,
            closed: false,
            ever_connected: false,
            max_event_bytes,
            status_to_stderr: false,
        }
    }

    /// The output of a Durable Stream: `--json` lines, or the stream's bytes on stdout as they
    /// are (even on a terminal: no status line) with statuses on stderr.
    fn durable(json: bool, max_event_bytes: usize) -> Self {
        Output {
            mode: if json { Mode::Json } else { Mode::Plain },
            status: None,
            agent: Agent::default(),
            stdout: std::io::stdout(),
            closed: false,
            ever_connected: false,
            max_event_bytes,
            status_to_stderr: !json,
        }
    }

    /// Bytes to stdout exactly as given.
    fn raw(&mut self, bytes: &[u8]) {
        let mut lock = self.stdout.lock();
        let written = lock.write_all(bytes).and_then(|()| lock.flush());
        if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.closed = true;
        }
    }

    /// One `data` event of a Durable Stream: its bytes, or a JSON line with the offset after
    /// it (when known) and, for JSON data, the parsed value.
    fn durable_data(&mut self, data: &[u8], next: Option<&str>) {
        if !matches!(self.mode, Mode::Json) {
            self.raw(data);
            return;
        }
        let mut line = json!({"event": {"type": "data", "offset": next}});
        match std::str::from_utf8(data) {
            Ok(text) => {
                line["event"]["data"] = text.into();
                if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                    line["event"]["json"] = parsed;
                }
            }
            Err(_) => {
                use base64::Engine as _;
                line["event"]["data_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .into();
            }
        }
        self.line(&line.to_string());
    }

    /// `up_to_date` or `closed` at `next`: a JSON line; without --json only the close is noted
    /// (on stderr: an up-to-date note after every append would interleave with the data).
    fn durable_edge(&mut self, kind: &str, next: &str) {
        if matches!(self.mode, Mode::Json) {
            self.line(&json!({"event": {"type": kind, "offset": next}}).to_string());
        } else if kind == "closed" {
            let _ = writeln!(
                std::io::stderr(),
                "sse-host follow: stream closed at offset {next}"
            );
        }
    }

    fn line(&mut self, text: &str) {
        let mut lock = self.stdout.lock();
        let written = writeln!(lock, "{text}").and_then(|()| lock.flush());
        // A closed stdout (`| head`) ends the process quietly (exit 0), like other Unix tools.
        if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.closed = true;
        }
    }

    /// A problem with the stream that is not a status: `{"error":..}` with --json, stderr otherwise.
    fn error(&mut self, text: &str) {
        if matches!(self.mode, Mode::Json) {
            self.line(&json!({ "error": text }).to_string());
        } else {
            let _ = writeln!(std::io::stderr(), "sse-host follow: {text}");
        }
    }

    fn comment(&mut self, text: &str) {
        match self.mode {
            Mode::Json => self.line(&json!({ "comment": text }).to_string()),
            Mode::Plain | Mode::Terminal => self.line(&format!(":{text}")),
        }
    }

    fn dropped(&mut self, line_bytes: usize) {
        self.error(&format!(
            "event dropped: an `event:` or `id:` line is longer than the {line_bytes}-byte line \
             bound (--max-line-bytes); the resume point is kept"
        ));
    }

    fn status(&mut self, change: StatusChange) {
        match self.mode {
            Mode::Json => {
                let mut line = json!({
                    "status": change.status.kind.to_string(),
                    "reason": change.status.reason.to_string(),
                });
                if let Some(cause) = &change.cause {
                    line["cause"] = cause.as_str().into();
                }
                if let Some(at) = change.retry_at {
                    let left = at.saturating_duration_since(tokio::time::Instant::now());
                    line["retry_in_ms"] =
                        u64::try_from(left.as_millis()).unwrap_or(u64::MAX).into();
                }
                self.line(&line.to_string());
            }
            Mode::Plain if self.status_to_stderr => {
                let _ = writeln!(
                    std::io::stderr(),
                    "[{}] {}",
                    change.status.kind,
                    describe(&change)
                );
            }
            Mode::Plain => self.line(&format!("[{}] {}", change.status.kind, describe(&change))),
            Mode::Terminal => {}
        }
        self.ever_connected |= change.status.kind == StatusKind::Connected;
        self.status = Some(change);
        self.redraw();
    }

    /// The client starts over. In JSON mode this is a `reset` event line, also when no `reset`
    /// event came (a new epoch): a consumer must drop its copy either way.
    fn reset(&mut self, data: Option<String>) {
        match self.mode {
            Mode::Json => {
                let data = data.unwrap_or_else(|| {
                    json!({"reason": "epoch", "epoch": self.agent.epoch}).to_string()
                });
                let line = json!({"event": {"type": "reset", "data": data, "id": null}});
                self.line(&line.to_string());
            }
            Mode::Plain | Mode::Terminal => {
                self.line("--- server history replaced: starting over ---");
            }
        }
    }

    fn event(&mut self, ev: &Event) {
        let json: Option<Value> = serde_json::from_str(&ev.data).ok();
        if matches!(self.mode, Mode::Json) {
            if ev.event_type == "state"
                && let Some(state) = &json
            {
                // Kept for a synthetic `reset` line's epoch.
                self.agent.update(state);
            }
            let mut line = json!({"event": {"type": ev.event_type, "data": ev.data, "id": ev.id}});
            if let Some(parsed) = json {
                line["event"]["json"] = parsed;
            }
            if ev.truncated {
                line["event"]["truncated"] = true.into();
            }
            self.line(&line.to_string());
            return;
        }
        if ev.truncated {
            let id = ev.id.as_deref().unwrap_or("-");
            self.error(&format!(
                "{} event (id {id}): data cut at the {}-byte event bound (--max-event-bytes)",
                ev.event_type, self.max_event_bytes
            ));
        }
        match (ev.event_type.as_str(), json) {
            ("state", Some(state)) => {
                let before = self.agent.state.clone();
                self.agent.update(&state);
                match self.mode {
                    Mode::Terminal => self.redraw(),
                    _ if before != self.agent.state => {
                        self.line(&format!("[state] {}", self.agent.summary()));
                    }
                    _ => {}
                }
            }
            ("heartbeat", _) => {}
            ("message", Some(msg)) => {
                let text = message_line(&msg);
                self.line(&text);
            }
            (other, _) => self.line(&format!("{other}: {}", ev.data)),
        }
    }

    /// Repaint the status line (terminal mode only): indicator, reason, countdown, agent.
    fn redraw(&mut self) {
        if !matches!(self.mode, Mode::Terminal) {
            return;
        }
        let (dot, text) = match &self.status {
            None => ("\x1b[90m●\x1b[0m", "starting".to_owned()),
            Some(change) => {
                let dot = match change.status.kind {
                    StatusKind::Connected => "\x1b[32m●\x1b[0m",
                    StatusKind::Connecting => "\x1b[33m●\x1b[0m",
                    StatusKind::Disconnected => "\x1b[31m●\x1b[0m",
                    StatusKind::Disabled => "\x1b[90m●\x1b[0m",
                };
                let text = format!("{}: {}", change.status.kind, describe(change));
                (dot, text)
            }
        };
        let agent = self.agent.summary();
        let sep = if agent.is_empty() { "" } else { " | " };
        // The dot and its space take two columns; auto-wrap off below is the fallback.
        let line = format!("{text}{sep}{agent}");
        let line = terminal_width().map_or(line.clone(), |w| fit(&line, w.saturating_sub(2)));
        let mut lock = self.stdout.lock();
        // Save the cursor, turn auto-wrap off (a line wider than the terminal is cut at the right
        // margin instead of spilling into the message area), paint line 1, wrap on, restore.
        let _ = write!(
            lock,
            "\x1b7\x1b[?7l\x1b[1;1H\x1b[2K{dot} {line}\x1b[?7h\x1b8"
        );
        let _ = lock.flush();
    }

    /// A resized terminal may reset the scroll region: reserve line 1 again and repaint.
    fn resized(&mut self) {
        if matches!(self.mode, Mode::Terminal) {
            let mut lock = self.stdout.lock();
            // DECSTBM homes the cursor: save and restore around it.
            let _ = write!(lock, "\x1b7\x1b[2r\x1b8");
            let _ = lock.flush();
            drop(lock);
            self.redraw();
        }
    }

    /// The stream ended because the answer was not an event stream.
    fn not_an_event_stream(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.status.reason == Reason::NotEventStream)
    }

    /// The exit status for a stream that ended on its own (see `AFTER_HELP`).
    fn exit_code(&self) -> ExitCode {
        match self.status.as_ref().map(|s| s.status.reason) {
            Some(Reason::SessionEnded) => ExitCode::SUCCESS,
            Some(Reason::HttpStatus(204)) => ExitCode::from(EXIT_STOPPED),
            Some(Reason::HttpStatus(400..=499)) => ExitCode::from(EXIT_REFUSED),
            Some(Reason::GaveUp(_)) => ExitCode::from(EXIT_GAVE_UP),
            _ => ExitCode::FAILURE,
        }
    }

    fn finish(&mut self) {
        if matches!(self.mode, Mode::Terminal) {
            self.redraw();
            let mut lock = self.stdout.lock();
            // Give the whole screen back; DECSTBM homes the cursor, so restore it to below the
            // last message (else the shell prompt would land on the status line).
            let _ = write!(lock, "\x1b7\x1b[r\x1b8");
            let _ = lock.flush();
        }
    }
}

/// The reason, what the transport said (if anything), and ` (reconnecting in Ns)` while waiting
/// to reconnect: `Server unreachable: Connection refused (os error 111) (reconnecting in 2s)`.
fn describe(change: &StatusChange) -> String {
    let mut text = change.status.reason.to_string();
    if let Some(cause) = &change.cause {
        text.push_str(": ");
        text.push_str(cause);
    }
    if let Some(at) = change.retry_at {
        let left = at.saturating_duration_since(tokio::time::Instant::now());
        text.push_str(&format!(
            " (reconnecting in {}s)",
            left.as_secs_f32().ceil()
        ));
    }
    text
}

/// Lines of a multi-line text shown in human mode; the rest is counted.
const MAX_TEXT_LINES: usize = 12;

/// An agent message for a person: `#idx type [tool]: text`, every line of a multi-line text
/// (indented, up to [`MAX_TEXT_LINES`]); for a tool run also what ran (`$ command`) and a result
/// summary (`→ first line (+N lines)`), with ` ✗` after the tool name when it failed.
fn message_line(msg: &Value) -> String {
    let idx = msg["idx"]
        .as_u64()
        .map_or_else(|| "?".into(), |i| i.to_string());
    let kind = msg["type"].as_str().unwrap_or("message");
    let tool = msg["tool_name"]
        .as_str()
        .map(|t| format!(" [{t}]"))
        .unwrap_or_default();
    let failed = if msg["tool_error"].as_bool() == Some(true) {
        " ✗"
    } else {
        ""
    };
    let mut body: Vec<String> = msg["content"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    if let Some(input) = msg["input"].as_str() {
        // Tool input is a JSON string; a shell tool's is `{"command": ..}`.
        let command = serde_json::from_str::<Value>(input)
            .ok()
            .and_then(|v| v["command"].as_str().map(str::to_owned))
            .unwrap_or_else(|| input.to_owned());
        body.push(format!("$ {}", command.lines().next().unwrap_or_default()));
    }
    if let Some(result) = msg["tool_result"].as_str() {
        let mut lines = result.lines();
        let first = lines.next().unwrap_or("(no output)");
        let more = lines.count();
        let more = if more > 0 {
            format!(" (+{more} lines)")
        } else {
            String::new()
        };
        let summary = format!("→ {first}{more}");
        match body.last_mut() {
            // `$ command → result`: what ran and what came of it, on one line.
            Some(last) if msg["input"].is_string() => {
                last.push(' ');
                last.push_str(&summary);
            }
            _ => body.push(summary),
        }
    }
    let mut text = format!("#{idx} {kind}{tool}{failed}:");
    if body.is_empty() {
        return text;
    }
    let shown = body.len().min(MAX_TEXT_LINES);
    for (i, line) in body.iter().take(shown).enumerate() {
        text.push_str(if i == 0 { " " } else { "\n  " });
        text.push_str(line);
    }
    if body.len() > shown {
        text.push_str(&format!("\n  … ({} more lines)", body.len() - shown));
    }
    text
}

/// The terminal's width in columns, if stdout is one.
fn terminal_width() -> Option<usize> {
    #[cfg(unix)]
    {
        rustix::termios::tcgetwinsize(std::io::stdout())
            .ok()
            .map(|w| usize::from(w.ws_col))
            .filter(|&w| w > 0)
    }
    #[cfg(not(unix))]
    None
}

/// `text` cut to `width` characters (an ellipsis marks the cut).
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
