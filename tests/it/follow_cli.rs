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
            && l["reason"] == "Server closed the stream"
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
    srv::append(
        a,
        &json!({"type": "tool", "tool_name": "bash", "input": "{\"command\":\"cargo test\"}",
                "tool_result": "error[E0425]: x\n  at y\nfailed", "tool_error": true}),
    )
    .await;
    let url = format!("http://{a}/stream");
    let mut cli = FollowCli::spawn(&[&url, "--timeout", "30s"]);
    let first = cli.until(|l| l.starts_with("#1 ")).await;
    let tool = cli.until(|l| l.starts_with("#2 ")).await;
    assert_eq!(
        tool,
        ["#2 tool [bash] ✗: $ cargo test → error[E0425]: x (+2 lines)"]
    );
    assert_eq!(
        first,
        [
            "[connecting] Connecting...",
            "[connected] Connected",
            "[state] RunningTool | 12 in / 3 out tokens | $0.5000 | Fixing",
            "#0 agent: hello",
            "  world",
            "#1 tool [bash]: ls",
        ]
    );
    // The server goes away: the client says so, with the cause and its countdown, and keeps
    // trying.
    s.shutdown().await.unwrap();
    let down = cli.until(|l| l.starts_with("[disconnected]")).await;
    let last = down.last().unwrap();
    assert!(
        last.starts_with("[disconnected] Server closed the stream: ")
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

/// Runs `sse-host follow ARGS` to its end (stdout and stderr captured), bounded by a watchdog.
async fn run_to_end(args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(host_bin::path())
            .arg("follow")
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("follow exits in time")
    .expect("run sse-host follow");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn terminal_statuses_exit_at_once_with_their_own_codes() {
    // (status, exit code): 204 = stop, 4xx = refused, other 2xx = terminal failure.
    for (status, code) in [(204, 3), (404, 4), (401, 4), (205, 1), (210, 1), (299, 1)] {
        let server = Scripted::start(move |_, _| Reply::status(status)).await;
        let url = server.url("/stream");
        let (got, lines, err) = run_to_end(&[&url, "--json", "--timeout", "20s"]).await;
        assert_eq!(got, Some(code), "HTTP {status}: {lines:?} {err}");
        assert_eq!(server.requests().len(), 1, "HTTP {status} is not retried");
        assert_eq!(
            lines.last().unwrap(),
            &json!({"status": "disabled", "reason": format!("HTTP {status}")})
        );
    }
}

#[tokio::test]
async fn max_retries_gives_up_with_exit_5_and_disconnected_lines_say_when() {
    let server = Scripted::start(|_, _| Reply::status(503)).await;
    let url = server.url("/stream");
    let args = [
        &url,
        "--json",
        "--max-retries",
        "2",
        "--retry-initial",
        "250ms",
    ];
    let (code, lines, err) = run_to_end(&[&args[..], &["--timeout", "20s"]].concat()).await;
    assert_eq!(code, Some(5), "{lines:?} {err}");
    assert_eq!(server.requests().len(), 3, "the first try and 2 retries");
    let down: Vec<&Value> = lines
        .iter()
        .filter(|l| l["status"] == "disconnected")
        .collect();
    assert_eq!(down.len(), 2, "{lines:?}");
    for l in down {
        let ms = l["retry_in_ms"].as_u64().expect("retry_in_ms");
        assert!(ms <= 1_000, "{l}");
        assert_eq!(l["reason"], "HTTP 503");
    }
    assert_eq!(
        lines.last().unwrap(),
        &json!({"status": "disabled", "reason": "Gave up after 2 retries"})
    );
}

#[tokio::test]
async fn timeout_without_ever_connecting_exits_6() {
    let server = Scripted::start(|_, _| Reply::status(503)).await;
    let url = server.url("/stream");
    let (code, _, err) = run_to_end(&[&url, "--json", "--timeout", "1500ms"]).await;
    assert_eq!(code, Some(6), "{err}");
}

#[tokio::test]
async fn exactly_one_last_event_id_goes_out_on_every_request() {
    let server = Scripted::start(|n, _| match n {
        0 => Reply::sse().send("id: e-1\ndata: {\"a\":1}\n\n"),
        _ => Reply::sse().send("data: two\n\n").hold(),
    })
    .await;
    let url = server.url("/stream");
    let (code, lines, err) = run_to_end(&[
        &url,
        "--json",
        "--last-event-id",
        "seed-0",
        "--retry-initial",
        "250ms",
        "--max-events",
        "2",
        "-H",
        "X-Test: 1",
    ])
    .await;
    assert_eq!(code, Some(0), "{lines:?} {err}");
    let sent: Vec<Vec<String>> = server
        .requests()
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .filter(|(k, _)| k == "last-event-id")
                .map(|(_, v)| v.clone())
                .collect()
        })
        .collect();
    assert_eq!(sent, [vec!["seed-0".to_owned()], vec!["e-1".to_owned()]]);
    // Data that is JSON also comes parsed.
    let ev = events(&lines);
    assert_eq!(ev[0]["json"], json!({"a": 1}));
    assert_eq!(ev[0]["data"], "{\"a\":1}");
    assert!(ev[1].get("json").is_none(), "{:?}", ev[1]);

    // A Last-Event-ID header is refused, pointing at the flag.
    let (code, _, err) = run_to_end(&[&url, "-H", "last-event-id: 5"]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--last-event-id"), "{err}");
}

#[tokio::test]
async fn cut_data_and_dropped_events_are_reported_and_the_resume_point_kept() {
    let long_type = "t".repeat(100);
    let script = format!(
        "id: 1\ndata: {}\n\n: hello\nevent: {long_type}\nid: 2\ndata: x\n\ndata: after\n\n",
        "y".repeat(50)
    );
    let server = Scripted::start(move |n, _| match n {
        0 => Reply::sse().send(script.clone()),
        _ => Reply::sse().send("data: again\n\n").hold(),
    })
    .await;
    let url = server.url("/stream");
    let (code, lines, err) = run_to_end(&[
        &url,
        "--json",
        "--comments",
        "--max-event-bytes",
        "10",
        "--max-line-bytes",
        "64",
        "--retry-initial",
        "250ms",
        "--max-events",
        "3",
    ])
    .await;
    assert_eq!(code, Some(0), "{lines:?} {err}");
    let ev = events(&lines);
    assert_eq!(ev[0]["data"], "yyyyyyyyyy");
    assert_eq!(ev[0]["truncated"], true);
    assert!(ev[1].get("truncated").is_none());
    assert!(lines.contains(&json!({"comment": " hello"})), "{lines:?}");
    let error = lines
        .iter()
        .find_map(|l| l["error"].as_str())
        .unwrap_or_else(|| panic!("no error line: {lines:?}"));
    assert!(
        error.contains("64-byte line bound") && error.contains("--max-line-bytes"),
        "{error}"
    );
    // The dropped event's `id: 2` is the resume point.
    assert_eq!(server.requests()[1].header("last-event-id"), Some("2"));
}

#[tokio::test]
async fn a_closed_stdout_ends_follow_with_exit_0() {
    let server = Scripted::start(|_, _| {
        let mut r = Reply::sse();
        for i in 0..20 {
            r = r.send(format!("data: {i}\n\n")).wait_ms(50);
        }
        r.hold()
    })
    .await;
    let url = server.url("/stream");
    let mut child = Command::new(host_bin::path())
        .args(["follow", &url, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sse-host follow");
    // `| head -3`: read three lines, then close the pipe.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        tokio::time::timeout(LINE_WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("a line");
    }
    drop(lines);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("follow exits once its reader is gone")
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "quietly: {stderr}");
}
