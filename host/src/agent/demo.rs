//! `serve --demo`: a simulated coding agent so anyone can watch the system work.
//!
//! Each chat message starts a turn: a model call (tokens, cost), a tool request, a tool
//! run (every third turn its output is over 100 KB), a second model call, and the answer,
//! with the state moving through `SendingToLLM` → `ToolUseRequested` → `RunningTool` →
//! `SendingToLLM` → `EndOfTurn` → `WaitingForUserInput` and the totals growing. A `cancel`
//! ends the turn early.

use crate::hub::Hub;
use crate::inbox::{Command, CommandKind, Inbox};
use crate::model::{AgentMessage, MessageType, Usage, now_rfc3339};
use crate::replies::Replies;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Dollars per token, roughly a mid-size model's list price.
const INPUT_PRICE: f64 = 3.0e-6;
const OUTPUT_PRICE: f64 = 15.0e-6;
/// Size of the long tool output of every third turn.
const LONG_OUTPUT: usize = 120 * 1024;

#[derive(Debug, Default)]
struct Totals {
    input_tokens: u64,
    output_tokens: u64,
    cost: f64,
    calls: u64,
    /// Tool calls by tool name (sketch's `tool_uses`).
    tool_uses: serde_json::Map<String, Value>,
}

impl Totals {
    /// The totals a durable log's state already holds (so a restarted demo continues them).
    fn from_state(state: &Value) -> Self {
        let u = &state["total_usage"];
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        Totals {
            input_tokens: n("input_tokens"),
            output_tokens: n("output_tokens"),
            cost: u["total_cost_usd"].as_f64().unwrap_or(0.0),
            calls: n("messages"),
            tool_uses: u["tool_uses"].as_object().cloned().unwrap_or_default(),
        }
    }

    fn count_tool(&mut self, name: &str) {
        let n = self
            .tool_uses
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.tool_uses.insert(name.to_owned(), (n + 1).into());
    }
}

struct Demo {
    hub: Hub,
    /// The user's last chat (what a re-prompt suggestion builds on).
    last_chat: String,
    step: Duration,
    turn: u64,
    totals: Totals,
    start_time: String,
}

pub(super) async fn spawn(
    hub: Hub,
    inbox: Arc<Inbox>,
    replies: Arc<Replies>,
    step: Duration,
    mut closing: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let state: Value = serde_json::from_slice(&hub.state_json()).unwrap_or(Value::Null);
    let totals = Totals::from_state(&state);
    let start_time = state["total_usage"]["start_time"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map_or_else(now_rfc3339, str::to_owned);
    hub.patch_state(&json!({
        "title": "Demo agent",
        "agent_state": "WaitingForUserInput",
        "can_send_messages": true,
        "session_ended": false,
        "outstanding_llm_calls": 0,
        "outstanding_tool_calls": [],
        "session_id": format!("demo-{}", &hub.epoch()[..8.min(hub.epoch().len())]),
        "hostname": hostname(),
        "working_dir": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "total_usage": {"input_tokens": totals.input_tokens, "output_tokens": totals.output_tokens,
            "total_cost_usd": totals.cost, "messages": totals.calls,
            "tool_uses": totals.tool_uses, "start_time": start_time},
    }))
    .await?;
    let mut demo = Demo {
        hub,
        last_chat: String::new(),
        step,
        turn: 0,
        totals,
        start_time,
    };
    Ok(tokio::spawn(async move {
        let mut consumer = inbox.consumer(None);
        // Chats that arrive during a turn wait for it to end (bounded like the inbox).
        let mut queued: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        loop {
            let text = if let Some(text) = queued.pop_front() {
                text
            } else {
                let cmd = tokio::select! {
                    cmd = consumer.next() => cmd,
                    _ = closing.wait_for(|c| *c) => return,
                };
                let Some(cmd) = cmd else { return };
                if cmd.kind != CommandKind::Chat {
                    // Cancel/restart outside a turn: nothing to stop.
                    answer(&replies, &cmd, &demo.last_chat);
                    continue;
                }
                chat_text(&cmd.json)
            };
            demo.last_chat.clone_from(&text);
            let last_chat = text.clone();
            // A cancel (or shutdown) during the turn stops it.
            let cancelled = {
                let turn = demo.run_turn(&text);
                tokio::pin!(turn);
                loop {
                    tokio::select! {
                        r = &mut turn => break r.is_err(),
                        next = consumer.next() => match next {
                            Some(c) if c.kind == CommandKind::Cancel => break true,
                            Some(c) if c.kind == CommandKind::Chat => {
                            if queued.len() < crate::inbox::INBOX_CAPACITY {
                                queued.push_back(chat_text(&c.json));
                            }
                        }
                        Some(c) => answer(&replies, &c, &last_chat),
                            None => return,
                        },
                        _ = closing.wait_for(|c| *c) => return,
                    }
                }
            };
            if cancelled {
                let _ = demo
                    .hub
                    .append(
                        json!({"type": "error", "content": "Turn cancelled.", "end_of_turn": true}),
                    )
                    .await;
                let _ = demo.state("Cancelled", 0, &[]).await;
                let _ = demo.state("WaitingForUserInput", 0, &[]).await;
            }
        }
    }))
}

impl Demo {
    async fn run_turn(&mut self, text: &str) -> Result<(), crate::hub::PublishError> {
        self.turn += 1;
        let long = self.turn.is_multiple_of(3);
        // Unique for the life of the log (a restarted demo on a durable log must not reuse an
        // id: sketch's UI attaches a tool result to the call with its id).
        let call_id = format!("toolu_demo_{}", self.hub.message_count().0);

        self.state("SendingToLLM", 1, &[]).await?;
        tokio::time::sleep(self.step).await;
        let command = if long { "cat src/*.rs" } else { "ls -la" };
        let mut m = AgentMessage::new(
            MessageType::Agent,
            format!("Let me look around the repository first (`{command}`)."),
        );
        m.usage = Some(self.usage(1200 + 37 * self.turn, 60 + self.turn % 40));
        m.tool_calls = Some(
            json!([{"name": "bash", "input": json!({"command": command}).to_string(), "tool_call_id": call_id}]),
        );
        self.message(m).await?;
        self.state("ToolUseRequested", 0, &[]).await?;

        self.state("RunningTool", 0, &["bash"]).await?;
        self.totals.count_tool("bash");
        let started = std::time::Instant::now();
        tokio::time::sleep(self.step).await;
        let output = if long {
            long_output()
        } else {
            "total 3\ndrwxr-xr-x  src\n-rw-r--r--  Cargo.toml\n".to_owned()
        };
        let mut t = AgentMessage::new(MessageType::Tool, "");
        t.content = None;
        t.tool_name = Some("bash".into());
        t.input = Some(json!({"command": command}).to_string());
        t.tool_result = Some(output);
        t.tool_error = Some(false);
        t.tool_call_id = Some(call_id);
        t.elapsed = Some(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        self.message(t).await?;

        self.state("SendingToLLM", 1, &[]).await?;
        tokio::time::sleep(self.step).await;
        let mut a = AgentMessage::new(
            MessageType::Agent,
            format!(
                "Done. You asked: \"{}\". The repository looks healthy.",
                text.chars().take(200).collect::<String>()
            ),
        );
        a.end_of_turn = true;
        a.usage = Some(self.usage(2400 + 41 * self.turn, 180 + self.turn % 90));
        self.message(a).await?;
        self.state("EndOfTurn", 0, &[]).await?;
        self.state("WaitingForUserInput", 0, &[]).await?;
        Ok(())
    }

    fn usage(&mut self, input: u64, output: u64) -> Usage {
        let cost = input as f64 * INPUT_PRICE + output as f64 * OUTPUT_PRICE;
        self.totals.input_tokens += input;
        self.totals.output_tokens += output;
        self.totals.cost += cost;
        self.totals.calls += 1;
        Usage {
            input_tokens: input,
            output_tokens: output,
            cost_usd: cost,
            ..Usage::default()
        }
    }

    async fn message(&self, mut m: AgentMessage) -> Result<(), crate::hub::PublishError> {
        m.timestamp = Some(now_rfc3339());
        self.hub
            .append(Value::Object(m.to_object()))
            .await
            .map(|_| ())
    }

    async fn state(
        &self,
        agent_state: &str,
        llm: u64,
        tools: &[&str],
    ) -> Result<(), crate::hub::PublishError> {
        let t = &self.totals;
        self.hub
            .patch_state(&json!({
                "agent_state": agent_state,
                "outstanding_llm_calls": llm,
                "outstanding_tool_calls": tools,
                "total_usage": {"input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
                    "total_cost_usd": t.cost, "messages": t.calls, "tool_uses": t.tool_uses,
                    "start_time": self.start_time},
            }))
            .await
            .map(|_| ())
    }
}

/// Answers the browser's questions (`/suggest-reprompt`, `/commit-description`) at once.
fn answer(replies: &Replies, cmd: &Command, last_chat: &str) {
    let (key, text) = match cmd.kind {
        CommandKind::SuggestReprompt if last_chat.is_empty() => (
            "prompt",
            "Start again from the task description, and keep what we learned so far.".to_owned(),
        ),
        CommandKind::SuggestReprompt => (
            "prompt",
            format!(
                "Start again: {}. Keep what we learned so far.",
                last_chat.chars().take(500).collect::<String>()
            ),
        ),
        CommandKind::CommitDescription => {
            let revision = serde_json::from_slice::<Value>(&cmd.json)
                .ok()
                .and_then(|v| v.get("revision").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let short: String = revision.chars().take(12).collect();
            (
                "description",
                format!("{short} (demo agent: no repository behind this session)"),
            )
        }
        _ => return,
    };
    let reply = serde_json::Map::from_iter([
        ("id".to_owned(), cmd.id.into()),
        (key.to_owned(), Value::String(text)),
    ]);
    replies.answer(cmd.id, reply);
}

fn chat_text(json: &[u8]) -> String {
    serde_json::from_slice::<Value>(json)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

fn long_output() -> String {
    let mut s = String::with_capacity(LONG_OUTPUT + 100);
    let mut n = 0;
    while s.len() < LONG_OUTPUT {
        n += 1;
        s.push_str(&format!(
            "{n:>6}  fn step_{n}(input: &[u8]) -> Result<usize, Error> {{ Ok(input.len()) }}\n"
        ));
    }
    s
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
