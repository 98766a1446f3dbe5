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
    #[arg(long)]
    pub json: bool,
    /// The first message index wanted (our server's `from`).
    #[arg(long, value_name = "N")]
    pub from: Option<u64>,
    /// Only these event types (our server's `events=`), comma-separated: state,message,heartbeat,…
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub events: Vec<String>,
    /// Exit 0 after this many events.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// Exit 0 after this long (e.g. 30s, 5m).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// An extra request header, 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "'K: V'")]
    pub headers: Vec<String>,
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
                Some(Observation::Reset) => out.reset(),
                None => break out.exit_code(),
            },
            () = sleep_until_opt(deadline) => break ExitCode::SUCCESS,
            _ = tick.tick() => out.redraw(),
            _ = tokio::signal::ctrl_c() => break ExitCode::from(130),
        }
    };
    out.finish();
    code
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
    state: String,
    title: String,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

impl Agent {
    fn update(&mut self, json: &Value) {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
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
        self.status = Some(change);
        match self.mode {
            Mode::Json => self.line(
                &json!({
                    "status": change.status.kind.to_string(),
                    "reason": change.status.reason.to_string(),
                })
                .to_string(),
            ),
            Mode::Plain => self.line(&format!(
                "[{}] {}",
                change.status.kind, change.status.reason
            )),
            Mode::Terminal => self.redraw(),
        }
    }

    fn reset(&mut self) {
        if !matches!(self.mode, Mode::Json) {
            self.line("--- server history replaced: starting over ---");
        }
    }

    fn event(&mut self, ev: &Event) {
        if matches!(self.mode, Mode::Json) {
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
        let (dot, text) = match self.status {
            None => ("\x1b[90m●\x1b[0m", "starting".to_owned()),
            Some(change) => {
                let dot = match change.status.kind {
                    StatusKind::Connected => "\x1b[32m●\x1b[0m",
                    StatusKind::Connecting => "\x1b[33m●\x1b[0m",
                    StatusKind::Disconnected => "\x1b[31m●\x1b[0m",
                    StatusKind::Disabled => "\x1b[90m●\x1b[0m",
                };
                let mut text = format!("{}: {}", change.status.kind, change.status.reason);
                if let Some(at) = change.retry_at {
                    let left = at.saturating_duration_since(tokio::time::Instant::now());
                    text.push_str(&format!(
                        " (reconnecting in {}s)",
                        left.as_secs_f32().ceil()
                    ));
                }
                (dot, text)
            }
        };
        let agent = self.agent.summary();
        let sep = if agent.is_empty() { "" } else { " | " };
        let mut lock = self.stdout.lock();
        let _ = write!(lock, "\x1b7\x1b[1;1H\x1b[2K{dot} {text}{sep}{agent}\x1b8");
        let _ = lock.flush();
    }

    fn exit_code(&self) -> ExitCode {
        match self.status.map(|s| s.status.reason) {
            Some(Reason::SessionEnded) => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        }
    }

    fn finish(&mut self) {
        if matches!(self.mode, Mode::Terminal) {
            self.redraw();
            let mut lock = self.stdout.lock();
            // Give the whole screen back.
            let _ = write!(lock, "\x1b[r");
            let _ = lock.flush();
        }
    }
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
