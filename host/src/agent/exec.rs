//! `serve --exec CMD`: a child process is the agent.
//!
//! Protocol (JSON lines, UTF-8):
//! - stdout: an object with `"type"` is a message (`POST /api/messages`); an object with
//!   `"state"` is a state merge patch (`PATCH /api/state`); `{"reply":{"id":N,…}}` answers
//!   the inbox question `N` (`suggest_reprompt` → `"prompt"`, `commit_description` →
//!   `"description"`, see [`crate::replies`]). Anything else is logged and skipped; lines
//!   longer than `max_line` are skipped.
//! - stdin: every user command from the inbox, one JSON object per line
//!   (`{"type":"chat","id":1,"message":"…","idx":4}`).
//!
//! When the child exits (or its stdout closes), an `error` message saying so is appended
//! and the state shows `agent_state: "Error"`; the server keeps serving.

use crate::hub::Hub;
use crate::inbox::Inbox;
use crate::replies::Replies;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(super) async fn spawn(
    command: &str,
    max_line: usize,
    hub: Hub,
    inbox: Arc<Inbox>,
    replies: Arc<Replies>,
    mut closing: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take();
    let mut stdin = child.stdin.take();
    hub.patch_state(
        &json!({"agent_state": "Ready", "can_send_messages": true, "session_ended": false}),
    )
    .await?;
    tracing::info!(command, pid = child.id(), "started the agent process");
    let command = command.to_owned();
    Ok(tokio::spawn(async move {
        let feeder = tokio::spawn(async move {
            let mut consumer = inbox.consumer(None);
            while let Some(cmd) = consumer.next().await {
                let Some(w) = stdin.as_mut() else { break };
                let mut line = cmd.json.to_vec();
                line.push(b'\n');
                if w.write_all(&line).await.is_err() || w.flush().await.is_err() {
                    break;
                }
            }
        });
        let read = async {
            if let Some(out) = stdout {
                read_lines(BufReader::new(out), max_line, &hub, &replies).await;
            }
            child.wait().await
        };
        let status = tokio::select! {
            status = read => status,
            _ = closing.wait_for(|c| *c) => {
                feeder.abort();
                return;
            }
        };
        feeder.abort();
        let what = match status {
            Ok(s) => format!("agent process exited ({s})"),
            Err(e) => format!("agent process could not be waited for: {e}"),
        };
        tracing::warn!(command, "{what}");
        let _ = hub
            .append(json!({"type": "error", "content": what, "end_of_turn": true}))
            .await;
        let _ = hub
            .patch_state(&json!({
                "agent_state": "Error",
                "can_send_messages": false,
                "outstanding_llm_calls": 0,
                "outstanding_tool_calls": [],
            }))
            .await;
    }))
}

async fn read_lines(
    mut r: impl AsyncBufRead + Unpin,
    max_line: usize,
    hub: &Hub,
    replies: &Replies,
) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line_bounded(&mut r, &mut line, max_line).await {
            Ok(LineRead::Eof) => return,
            Ok(LineRead::TooLong) => {
                tracing::warn!(max_line, "agent process wrote an over-long line; skipped");
                continue;
            }
            Ok(LineRead::Line) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading the agent process failed");
                return;
            }
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(mut m)) if m.contains_key("type") => {
                if let Err(e) = hub.append(Value::Object(std::mem::take(&mut m))).await {
                    tracing::warn!(error = %e, "agent process sent a message the hub refused");
                }
            }
            Ok(Value::Object(mut m)) if m.contains_key("reply") => match m.remove("reply") {
                Some(Value::Object(reply)) => {
                    let id = reply.get("id").and_then(Value::as_u64);
                    if !id.is_some_and(|id| replies.answer(id, reply)) {
                        tracing::warn!(?id, "agent process answered a question nobody waits for");
                    }
                }
                _ => tracing::warn!("agent process sent a reply that is not an object"),
            },
            Ok(Value::Object(m)) if m.contains_key("state") => {
                if let Err(e) = hub.patch_state(&m["state"]).await {
                    tracing::warn!(error = %e, "agent process sent a state patch the hub refused");
                }
            }
            _ => {
                tracing::warn!(line = %text.chars().take(200).collect::<String>(), "agent process wrote a line that is neither a message nor a state patch")
            }
        }
    }
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line into `out`, holding at most `max` bytes; a longer line is
/// consumed and reported as [`LineRead::TooLong`].
async fn read_line_bounded(
    r: &mut (impl AsyncBufRead + Unpin),
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if too_long {
                LineRead::TooLong
            } else if out.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        let found_newline = done > chunk.len();
        if !too_long {
            if out.len() + chunk.len() > max {
                too_long = true;
                out.clear();
            } else {
                out.extend_from_slice(chunk);
            }
        }
        r.consume(done);
        if found_newline {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}
