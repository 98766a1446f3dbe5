//! `sse-host follow URL`: print a live, reconnecting event stream.
//!
//! Human mode on a terminal keeps one status line at the top of the screen (a scroll region below
//! it holds the messages): the connection indicator with its reason and reconnect countdown, the
//! agent's state, tokens and cost. Not on a terminal it prints plain lines. `--json` prints one
//! line per observation exactly as DESIGN.md §6 says.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::client::{self, Event, Observation, Options, Reason, StatusChange, StatusKind};

/// Arguments of `sse-host follow`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// The stream URL, e.g. http://127.0.0.1:8080/stream
    pub url: String,
    /// One JSON line per observation: {"status":S,"reason":R} or {"event":{"type":T,"data":D,"id":I}}.
    ///
    /// A status line comes on every connection status change (S: connected, connecting,
    /// disconnected, disabled; R: the reason, e.g. "Connection lost"). A lost connection's line
    /// also has "cause": what the transport saw, e.g. "Connection refused (os error 111)",
    /// "HTTP 503" or "the server closed the stream". An event line comes per
    /// event, in order, each message exactly once (I: the message index, or null). An event of
    /// type "reset" means: drop every message you hold, the stream starts over from the server's
    /// first index. Its data is the server's reset data ({"epoch":..,"message_count":..}), or
    /// {"reason":"epoch","epoch":E} when the client saw the server's log replaced (a new epoch in
    /// "state") without a reset event. Heartbeat data is the server's Unix time.
    #[arg(long)]
    pub json: bool,
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
    /// Exit 0 after this long (e.g. 30s, 5m).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// An extra request header, 'Name: value' (repeatable).
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
}

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

async fn follow(args: FollowArgs) -> ExitCode {
    let mut options = Options::new(args.url.clone());
    options.from = args.from;
    options.events = args.events.clone();
    for h in &args.headers {
        match parse_header(h) {
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
    let mut stream = match client::follow(options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sse-host follow: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = Output::new(args.json);
    let deadline = args.timeout.map(|d| tokio::time::Instant::now() + d);
    let mut events = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut signals = Signals::new();
    let code = loop {
        tokio::select! {
            obs = stream.next() => match obs {
                Some(Observation::Event(ev)) => {
                    out.event(&ev);
                    events += 1;
                    if args.max_events.is_some_and(|max| events >= max) {
                        break ExitCode::SUCCESS;
                    }
                }
                Some(Observation::Status(change)) => out.status(change),
                Some(Observation::Reset { data }) => out.reset(data),
                None => break out.exit_code(),
            },
            () = sleep_until_opt(deadline) => break ExitCode::SUCCESS,
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
}

impl Output {
    fn new(json: bool) -> Self {
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
        }
    }

    fn line(&self, text: &str) {
        let mut lock = self.stdout.lock();
        // A closed stdout (`| head`) is not an error worth a panic.
        let _ = writeln!(lock, "{text}");
        let _ = lock.flush();
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
                self.line(&line.to_string());
            }
            Mode::Plain => self.line(&format!("[{}] {}", change.status.kind, describe(&change))),
            Mode::Terminal => {}
        }
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
        if matches!(self.mode, Mode::Json) {
            if ev.event_type == "state"
                && let Ok(state) = serde_json::from_str::<Value>(&ev.data)
            {
                // Kept for a synthetic `reset` line's epoch.
                self.agent.update(&state);
            }
            let line = json!({"event": {"type": ev.event_type, "data": ev.data, "id": ev.id}});
            self.line(&line.to_string());
            return;
        }
        let json: Option<Value> = serde_json::from_str(&ev.data).ok();
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
            ("message", Some(msg)) => self.line(&message_line(&msg)),
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
        let mut lock = self.stdout.lock();
        // Save the cursor, turn auto-wrap off (a line wider than the terminal is cut at the right
        // margin instead of spilling into the message area), paint line 1, wrap on, restore.
        let _ = write!(
            lock,
            "\x1b7\x1b[?7l\x1b[1;1H\x1b[2K{dot} {text}{sep}{agent}\x1b[?7h\x1b8"
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

    fn exit_code(&self) -> ExitCode {
        match self.status.as_ref().map(|s| s.status.reason) {
            Some(Reason::SessionEnded) => ExitCode::SUCCESS,
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
/// to reconnect: `Connection lost: Connection refused (os error 111) (reconnecting in 2s)`.
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

/// One line for an agent message: `#idx type [tool]: first line of content`.
fn message_line(msg: &Value) -> String {
    let idx = msg["idx"]
        .as_u64()
        .map_or_else(|| "?".into(), |i| i.to_string());
    let kind = msg["type"].as_str().unwrap_or("message");
    let tool = msg["tool_name"]
        .as_str()
        .map(|t| format!(" [{t}]"))
        .unwrap_or_default();
    let content = msg["content"].as_str().unwrap_or_default();
    let first = content.lines().next().unwrap_or_default();
    let more = if content.lines().nth(1).is_some() {
        " …"
    } else {
        ""
    };
    format!("#{idx} {kind}{tool}: {first}{more}")
}
