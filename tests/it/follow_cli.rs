//! `sse-host follow` as a user runs it: the real binary, stdout a pipe (so `--json` or plain
//! lines, never terminal escapes), against the in-process server or a scripted one. Every wait is
//! bounded; the child is killed when a test ends.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use sse_tests::scripted::{Reply, Scripted};
use sse_tests::{host_bin, server as srv};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const LINE_WAIT: Duration = Duration::from_secs(10);

/// A running `sse-host follow`, read line by line.
struct FollowCli {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl FollowCli {
    fn spawn(args: &[&str]) -> FollowCli {
        let mut child = Command::new(host_bin::path())
            .arg("follow")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sse-host follow");
        let stdout = child.stdout.take().expect("piped stdout");
        FollowCli {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// The next line; `None` at exit. Panics after [`LINE_WAIT`] without one.
    async fn line(&mut self) -> Option<String> {
        let line = tokio::time::timeout(LINE_WAIT, self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no line within {LINE_WAIT:?}; so far: {:#?}", self.seen))
            .expect("read stdout")?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Lines up to and including the first one `pred` accepts.
    async fn until(&mut self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let line = self.line().await.unwrap_or_else(|| {
                panic!(
                    "follow exited before the expected line; saw {:#?}",
                    self.seen
                )
            });
            let done = pred(&line);
            out.push(line);
            if done {
                return out;
            }
        }
    }

    /// Every remaining line until the process exits (it must, within [`LINE_WAIT`] per line).
    async fn rest(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = self.line().await {
            out.push(line);
        }
        let status = tokio::time::timeout(LINE_WAIT, self.child.wait())
            .await
            .expect("exit in time")
            .expect("wait");
        assert!(status.success(), "{status}: {:#?}", self.seen);
        out
    }
}

fn parse(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The `{"event":…}` objects among JSON lines.
fn events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter_map(|l| l.get("event")).collect()
}

#[tokio::test]
async fn json_prints_the_servers_reset_before_the_replay() {
    let s = srv::start(srv::config()).await;
    let a = s.local_addr();
    for i in 0..3 {
        srv::append(a, &json!({"type": "agent", "content": format!("m{i}")})).await;
    }
    // Resume point 10 is past this log's end: the server says `reset` and replays from 0.
    let url = format!("http://{a}/stream");
    let mut cli = FollowCli::spawn(&[&url, "--json", "--from", "10", "--max-events", "4"]);
    let lines = parse(&cli.rest().await);
    assert_eq!(
        lines[..2],
        [
            json!({"status": "connecting", "reason": "Connecting..."}),
            json!({"status": "connected", "reason": "Connected"}),
        ]
    );
    let ev = events(&lines);
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["reset", "state", "message", "message", "message"]);
    let reset: Value = serde_json::from_str(ev[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(reset, json!({"epoch": s.hub().epoch(), "message_count": 3}));
    assert_eq!(ev[0]["id"], Value::Null);
    let ids: Vec<&Value> = ev[2..].iter().map(|e| &e["id"]).collect();
    assert_eq!(ids, [&json!("0"), &json!("1"), &json!("2")]);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn json_marks_a_new_epoch_with_a_reset_line_and_keeps_heartbeat_data() {
    // First connection: epoch e1 and message 0, then the server goes away. Second: a new log
    // (epoch e2) whose message 0 is another message; no `reset` event is sent.
    let server = Scripted::start(|n, _| match n {
        0 => Reply::sse().send(concat!(
            "event: state\ndata: {\"epoch\":\"e1\"}\n\n",
            "event: message\nid: 0\ndata: {\"idx\":0,\"content\":\"old\"}\n\n",
        )),
        _ => Reply::sse()
            .send(concat!(
                "event: state\ndata: {\"epoch\":\"e2\"}\n\n",
                "event: heartbeat\ndata: 1700000000\n\n",
                "event: message\nid: 0\ndata: {\"idx\":0,\"content\":\"new\"}\n\n",
            ))
            .hold(),
    })
    .await;
    let url = server.url("/stream");
    let mut cli = FollowCli::spawn(&[&url, "--json", "--max-events", "5"]);
    let lines = parse(&cli.rest().await);
    let ev: Vec<Value> = events(&lines).into_iter().cloned().collect();
    let data =
        |i: usize| -> Value { serde_json::from_str(ev[i]["data"].as_str().unwrap()).unwrap() };
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["state", "message", "state", "reset", "heartbeat", "message"],
        "{lines:#?}"
    );
    assert_eq!(data(3), json!({"reason": "epoch", "epoch": "e2"}));
    assert_eq!(ev[3]["id"], Value::Null);
    assert_eq!(ev[4]["data"], "1700000000");
    assert_eq!(data(5)["content"], "new");
    assert_eq!(ev[5]["id"], "0");
    // Between the two connections the status went down, saying why, and came back.
    assert!(
        lines.iter().any(|l| l["status"] == "disconnected"
            && l["reason"] == "Connection lost"
            && l["cause"].as_str().is_some_and(|c| !c.is_empty())),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn plain_mode_prints_status_state_and_messages_as_lines() {
    let s = srv::start(srv::config()).await;
    let a = s.local_addr();
    let patch = r#"{"agent_state":"RunningTool","title":"Fixing","total_usage":{"input_tokens":12,"output_tokens":3,"total_cost_usd":0.5}}"#;
    let r = srv::request(a, "PATCH", "/api/state", Some(patch), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    srv::append(a, &json!({"type": "agent", "content": "hello\nworld"})).await;
    srv::append(
        a,
        &json!({"type": "tool", "tool_name": "bash", "content": "ls"}),
    )
    .await;
    let url = format!("http://{a}/stream");
    let mut cli = FollowCli::spawn(&[&url, "--timeout", "30s"]);
    let first = cli.until(|l| l.starts_with("#1 ")).await;
    assert_eq!(
        first,
        [
            "[connecting] Connecting...",
            "[connected] Connected",
            "[state] RunningTool | 12 in / 3 out tokens | $0.5000 | Fixing",
            "#0 agent: hello …",
            "#1 tool [bash]: ls",
        ]
    );
    // The server goes away: the client says so, with the cause and its countdown, and keeps
    // trying.
    s.shutdown().await.unwrap();
    let down = cli.until(|l| l.starts_with("[disconnected]")).await;
    let last = down.last().unwrap();
    assert!(
        last.starts_with("[disconnected] Connection lost: ")
            && last.contains(" (reconnecting in ")
            && last.ends_with("s)"),
        "{last}"
    );
    let again = cli.until(|l| l.starts_with("[connecting]")).await;
    assert_eq!(again, ["[connecting] Connecting..."]);
    // Plain means plain: no terminal escapes anywhere.
    assert!(
        cli.seen.iter().all(|l| !l.contains('\x1b')),
        "{:#?}",
        cli.seen
    );
}

/// Writes the PEM `files` (name, contents) into a fresh temporary directory; returns it and the
/// files' paths, in order.
fn pem_files(files: &[(&str, &str)]) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = files
        .iter()
        .map(|(name, pem)| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write PEM");
            path.to_str().expect("utf-8 temp path").to_owned()
        })
        .collect();
    (dir, paths)
}

/// Runs `follow URL --json FLAGS --max-events 1` and returns the one event it printed.
async fn one_event(url: &str, flags: &[&str]) -> Value {
    let limit = ["--max-events", "1", "--timeout", "30s"];
    let mut cli = FollowCli::spawn(&[&[url, "--json"], flags, &limit].concat());
    let lines = parse(&cli.rest().await);
    let ev = events(&lines);
    assert_eq!(ev.len(), 1, "{lines:?}");
    ev[0].clone()
}

#[tokio::test]
async fn cacert_lets_follow_read_an_https_server_with_a_private_ca() {
    let (addr, issued) =
        sse_tests::tls::sse_server(b"event: message\nid: 0\ndata: hello\n\n").await;
    let (_dir, paths) = pem_files(&[("ca.pem", &issued.ca_pem)]);
    let url = format!("https://{addr}/stream");
    let ev = one_event(&url, &["--cacert", &paths[0]]).await;
    assert_eq!(ev["data"], "hello");
}

#[tokio::test]
async fn cert_and_key_let_follow_read_a_server_that_requires_a_client_certificate() {
    let (addr, issued) =
        sse_tests::tls::sse_server_requiring_client_cert(b"event: message\nid: 0\ndata: hi\n\n")
            .await;
    let (_dir, paths) = pem_files(&[
        ("ca.pem", &issued.ca_pem),
        ("me.pem", &issued.client_cert_pem),
        ("me.key", &issued.client_key_pem),
    ]);
    let [ca, cert, key] = [&paths[0], &paths[1], &paths[2]];
    let url = format!("https://{addr}/stream");
    let ev = one_event(&url, &["--cacert", ca, "--cert", cert, "--key", key]).await;
    assert_eq!(ev["data"], "hi");

    // A certificate without its key is a usage error.
    let out = Command::new(host_bin::path())
        .args(["follow", &url, "--cert", cert])
        .output()
        .await
        .expect("run sse-host follow");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
}

#[tokio::test]
async fn cacert_that_cannot_be_read_exits_2() {
    let mut child = Command::new(host_bin::path())
        .args([
            "follow",
            "https://127.0.0.1:1/stream",
            "--cacert",
            "/nonexistent/ca.pem",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sse-host follow");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits at once")
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
}
