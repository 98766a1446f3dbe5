//! The wire contract of `docs/PROTOCOL.md` that sketch's clients and standard `EventSource`s rely
//! on, over real sockets: epoch-qualified ids and stale resume across restarts (real binary,
//! both `/stream` paths), 204 at the end of an ended session, sketch's query parsing, endpoints
//! and State defaults, and the demo agent continuing on a durable log.

use serde_json::{Value, json};
use sse_host::agent::Agent;
use sse_tests::redis::{PORT_TRIES, free_port};
use sse_tests::{host_bin, server as srv};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// Watchdog for every wait below (never an assertion on speed).
const WATCHDOG: Duration = Duration::from_secs(20);

/// One SSE block of a raw response.
#[derive(Debug, Default, Clone)]
struct Block {
    event: String,
    id: Option<String>,
    data: String,
    retry: Option<String>,
}

/// A raw HTTP/1.1 exchange: status, lower-cased head, de-chunked body.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn blocks(&self) -> Vec<Block> {
        self.body
            .split("\n\n")
            .filter(|b| !b.trim().is_empty())
            .map(|b| {
                let mut out = Block::default();
                for line in b.lines() {
                    let (k, v) = line.split_once(": ").unwrap_or((line, ""));
                    match k {
                        "event" => v.clone_into(&mut out.event),
                        "id" => out.id = Some(v.to_owned()),
                        "data" => v.clone_into(&mut out.data),
                        "retry" => out.retry = Some(v.to_owned()),
                        _ => {}
                    }
                }
                out
            })
            .collect()
    }

    /// The ids of the `message` events, in order.
    fn ids(&self) -> Vec<String> {
        self.blocks().into_iter().filter_map(|b| b.id).collect()
    }

    fn events(&self) -> Vec<String> {
        self.blocks().into_iter().map(|b| b.event).collect()
    }
}

/// Decodes the complete chunks of a chunked body; `None` once the last chunk was seen.
fn dechunk(mut body: &[u8], out: &mut Vec<u8>) -> bool {
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size else { return false };
        if size == 0 {
            return true;
        }
        let start = eol + 2;
        if body.len() < start + size + 2 {
            return false;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
}

/// Sends `request` as written and reads until `until` is in the body, the response ends, or the
/// watchdog fires.
async fn raw(addr: SocketAddr, request: &str, until: &str) -> Raw {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let deadline = tokio::time::Instant::now() + WATCHDOG;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => 0,
        };
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let head = head.to_ascii_lowercase();
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let mut body = Vec::new();
            let done = if head.contains("transfer-encoding: chunked") {
                dechunk(rest.as_bytes(), &mut body)
            } else {
                body.extend_from_slice(rest.as_bytes());
                head.contains("content-length: 0") || status == 204
            };
            let body = String::from_utf8_lossy(&body).into_owned();
            if n == 0 || done || (!until.is_empty() && body.contains(until)) {
                return Raw { status, head, body };
            }
        } else if n == 0 {
            return Raw {
                status: 0,
                head: text.into_owned(),
                body: String::new(),
            };
        }
    }
}

/// The two ways a `/stream` request is served: the fast path takes plain requests; a request
/// with a body (even an empty one) goes to hyper and axum (`tests/it/stream_fast_path.rs`).
const PATHS: [(&str, &str); 2] = [("fast path", ""), ("hyper", "Content-Length: 0\r\n")];

fn get_stream(query: &str, extra: &str, path_extra: &str) -> String {
    format!("GET /stream{query} HTTP/1.1\r\nHost: localhost\r\n{extra}{path_extra}\r\n")
}

/// Checks which path served `r`: hyper adds `date:`, the fast path does not.
fn assert_served_by(r: &Raw, path: &str) {
    assert_eq!(
        r.head.contains("date:"),
        path == "hyper",
        "{path}: {}",
        r.head
    );
}

/// `sse-host serve --memory` on `port`, ready to answer; `None` if it exited instead (the
/// port was taken).
async fn try_serve_memory(port: u16) -> Option<Child> {
    let mut child = Command::new(host_bin::path())
        .args(["serve", "--memory", "--bind", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sse-host serve");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = sse_tests::eventually(
        &format!("serve listening on {addr}"),
        srv::WAIT,
        async || {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(false);
            }
            tokio::net::TcpStream::connect(addr)
                .await
                .is_ok()
                .then_some(true)
        },
    )
    .await;
    up.then_some(child)
}

/// `sse-host serve --memory` on a free port, and the port; started again on another port if
/// the first was taken before the server bound it.
async fn serve_memory_anywhere() -> (Child, u16) {
    for _ in 0..PORT_TRIES {
        let port = free_port();
        if let Some(child) = try_serve_memory(port).await {
            return (child, port);
        }
    }
    panic!("serve could not bind a free port in {PORT_TRIES} tries");
}

/// `sse-host serve --memory` again on `port` (a restart keeps its address).
async fn serve_memory(port: u16) -> Child {
    try_serve_memory(port)
        .await
        .unwrap_or_else(|| panic!("serve exited at start on port {port} (taken meanwhile?)"))
}

async fn publish(addr: SocketAddr, n: u64) {
    for i in 0..n {
        srv::append(addr, &json!({"type": "agent", "content": format!("m{i}")})).await;
    }
}

async fn epoch(addr: SocketAddr) -> String {
    srv::get(addr, "/state").await.json()["epoch"]
        .as_str()
        .expect("epoch")
        .to_owned()
}

fn expect_ids(r: &Raw, epoch: &str, range: std::ops::Range<u64>, what: &str) {
    let want: Vec<String> = range.map(|i| format!("{epoch}-{i}")).collect();
    assert_eq!(r.ids(), want, "{what}: {}", r.body);
}

#[tokio::test]
async fn a_resume_point_of_another_epoch_gets_reset_and_the_new_history_from_0() {
    let (mut first, port) = serve_memory_anywhere().await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    publish(addr, 5).await;
    let old = epoch(addr).await;
    first.kill().await.expect("kill");
    let _ = first.wait().await;
    let _second = serve_memory(port).await;
    publish(addr, 10).await;
    let new = epoch(addr).await;
    assert_ne!(old, new, "--memory: a new epoch every start");
    let last = format!("id: {new}-9\n");

    for (path, extra) in PATHS {
        // A standard EventSource resuming with its last id of the old process.
        let r = raw(
            addr,
            &get_stream("", &format!("Last-Event-ID: {old}-3\r\n"), extra),
            &last,
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_served_by(&r, path);
        let events = r.events();
        assert_eq!(
            events.first().map(String::as_str),
            Some("reset"),
            "{path}: {events:?}"
        );
        // `retry:` is a field of the first event's block, not a block of its own.
        assert_eq!(
            r.blocks()[0].retry.as_deref(),
            Some("1000"),
            "{path}: {}",
            r.body
        );
        let reset: Value = serde_json::from_str(&r.blocks()[0].data).expect("reset JSON");
        assert_eq!(reset["epoch"], new.as_str(), "{path}");
        assert_eq!(reset["message_count"], 10, "{path}");
        expect_ids(
            &r,
            &new,
            0..10,
            &format!("{path}, Last-Event-ID of the old epoch"),
        );

        // Our clients: `from` with the epoch of their copy.
        let r = raw(
            addr,
            &get_stream(&format!("?from=4&epoch={old}"), "", extra),
            &last,
        )
        .await;
        assert_served_by(&r, path);
        assert!(
            r.events().contains(&"reset".to_owned()),
            "{path}: {}",
            r.body
        );
        expect_ids(&r, &new, 0..10, &format!("{path}, from=4&epoch=old"));

        let r = raw(
            addr,
            &get_stream(&format!("?from=4&epoch={new}"), "", extra),
            &last,
        )
        .await;
        assert_served_by(&r, path);
        assert!(
            !r.events().contains(&"reset".to_owned()),
            "{path}: {}",
            r.body
        );
        expect_ids(&r, &new, 4..10, &format!("{path}, from=4&epoch=current"));

        // sketch's bare index: the last one the client has.
        let r = raw(addr, &get_stream("", "Last-Event-ID: 3\r\n", extra), &last).await;
        assert_served_by(&r, path);
        assert!(
            !r.events().contains(&"reset".to_owned()),
            "{path}: {}",
            r.body
        );
        expect_ids(&r, &new, 4..10, &format!("{path}, bare Last-Event-ID"));

        // Conflicting epochs, and two Last-Event-ID headers: 400 with JSON.
        let conflicting = get_stream(
            &format!("?epoch={old}"),
            &format!("Last-Event-ID: {new}-3\r\n"),
            extra,
        );
        let two = get_stream("", "Last-Event-ID: 3\r\nLast-Event-ID: 4\r\n", extra);
        for (what, req) in [
            ("conflicting epochs", conflicting),
            ("two Last-Event-IDs", two),
        ] {
            let r = raw(addr, &req, "}").await;
            assert_eq!(r.status, 400, "{path}, {what}: {r:?}");
            assert!(r.body.contains("\"error\""), "{path}, {what}: {r:?}");
        }
    }
}

#[tokio::test]
async fn the_end_of_an_ended_session_is_204_and_a_client_behind_gets_the_rest_then_session_ended() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    publish(addr, 3).await;
    let ep = epoch(addr).await;
    let r = srv::request(
        addr,
        "PATCH",
        "/api/state",
        Some(r#"{"session_ended":true}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (path, extra) in PATHS {
        for (what, query, header) in [
            ("from=end", "?from=3".to_owned(), String::new()),
            (
                "Last-Event-ID of the last message",
                String::new(),
                format!("Last-Event-ID: {ep}-2\r\n"),
            ),
            (
                "bare Last-Event-ID",
                String::new(),
                "Last-Event-ID: 2\r\n".to_owned(),
            ),
        ] {
            let r = raw(addr, &get_stream(&query, &header, extra), "").await;
            assert_eq!(r.status, 204, "{path}, {what}: {r:?}");
            assert!(r.body.is_empty(), "{path}, {what}: {r:?}");
        }
        // Not "has every message": another epoch, or beyond the end, is still `reset`.
        let other = "f".repeat(32);
        for (what, query, header) in [
            (
                "another epoch at the end",
                format!("?from=3&epoch={other}"),
                String::new(),
            ),
            (
                "beyond the end",
                String::new(),
                "Last-Event-ID: 10\r\n".to_owned(),
            ),
        ] {
            let r = raw(
                addr,
                &get_stream(&query, &header, extra),
                "event: session_ended\n",
            )
            .await;
            assert_eq!(r.status, 200, "{path}, {what}: {r:?}");
            assert_eq!(
                r.events().first().map(String::as_str),
                Some("reset"),
                "{path}, {what}"
            );
            expect_ids(&r, &ep, 0..3, &format!("{path}, {what}"));
        }
        let r = raw(
            addr,
            &get_stream("?from=1", "", extra),
            "event: session_ended\n",
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_served_by(&r, path);
        expect_ids(&r, &ep, 1..3, path);
        let events = r.events();
        let ended = events.iter().position(|e| e == "session_ended");
        let last_message = events.iter().rposition(|e| e == "message");
        assert!(ended > last_message, "{path}: {events:?}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn from_is_read_as_sketch_read_it() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    publish(addr, 7).await;
    let ep = epoch(addr).await;
    let last = format!("id: {ep}-6\n");
    for (path, extra) in PATHS {
        for (from, first) in [("", 0), ("-3", 0), ("%2B5", 5), ("+5", 5)] {
            let r = raw(
                addr,
                &get_stream(&format!("?from={from}"), "", extra),
                &last,
            )
            .await;
            assert_eq!(r.status, 200, "{path}, from={from}: {r:?}");
            expect_ids(&r, &ep, first..7, &format!("{path}, from={from}"));
        }
        let r = raw(addr, &get_stream("?from=abc", "", extra), "}").await;
        assert_eq!(r.status, 400, "{path}: {r:?}");
        assert!(r.body.contains("\"error\""), "{path}: {r:?}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn cancel_with_an_empty_json_body_is_200() {
    let server = srv::start(srv::config()).await;
    let r = srv::request(
        server.local_addr(),
        "POST",
        "/cancel",
        None,
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn state_poll_answers_at_once_when_ahead_and_after_the_next_publish_otherwise() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    publish(addr, 2).await;
    let r = tokio::time::timeout(WATCHDOG, srv::get(addr, "/state?poll=true&seen=1"))
        .await
        .expect("answered");
    assert_eq!(r.json()["message_count"], 2);

    let poll = tokio::spawn(async move { srv::get(addr, "/state?poll=true&seen=2").await });
    // Give the poll time to be waiting: it must still be pending without a publish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "seen=2 with 2 messages waits");
    publish(addr, 1).await;
    let r = tokio::time::timeout(WATCHDOG, poll)
        .await
        .expect("answered after the publish")
        .expect("task");
    assert_eq!(r.json()["message_count"], 3, "{}", r.body);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn restart_appends_conversation_restarted_then_the_initial_prompt_and_clears_the_title() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    publish(addr, 2).await;
    let r = srv::request(addr, "PATCH", "/api/state", Some(r#"{"title":"Old"}"#), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = srv::request(
        addr,
        "POST",
        "/restart",
        Some(r#"{"initial_prompt":"go"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "restarted", "{}", r.body);
    let state = srv::get(addr, "/state").await.json();
    assert_eq!(state["first_message_index"], 2, "{state}");
    assert_eq!(state["message_count"], 4, "{state}");
    assert_eq!(state["title"], "", "{state}");
    let messages = srv::get(addr, "/messages?start=2").await.json();
    assert_eq!(messages[0]["type"], "agent", "{messages}");
    assert_eq!(
        messages[0]["content"], "Conversation restarted.",
        "{messages}"
    );
    assert_eq!(messages[0]["idx"], 2, "{messages}");
    assert_eq!(messages[1]["type"], "user", "{messages}");
    assert_eq!(messages[1]["content"], "go", "{messages}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn download_is_a_sketch_file() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    publish(addr, 2).await;
    let r = srv::get(addr, "/download").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cd = r.headers["content-disposition"].to_str().expect("ascii");
    let name = cd
        .split("filename=")
        .nth(1)
        .expect("a filename")
        .trim_matches('"');
    let stamp = name
        .strip_prefix("sketch-")
        .and_then(|n| n.strip_suffix(".json"))
        .expect("sketch-….json");
    let (day, time) = stamp.split_once('-').expect("YYYYMMDD-HHMMSS");
    assert!(
        day.len() == 8
            && time.len() == 6
            && (day.to_owned() + time).bytes().all(|b| b.is_ascii_digit()),
        "{cd}"
    );
    let body = r.json();
    for key in [
        "messages",
        "message_count",
        "total_usage",
        "hostname",
        "working_dir",
        "download_time",
    ] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["message_count"], 2);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_state_has_sketchs_fields_whatever_the_agent_patched() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    let r = srv::request(
        addr,
        "PATCH",
        "/api/state",
        Some(r#"{"outstanding_llm_calls":0}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut s = srv::open(addr, "/stream", &[]).await;
    let from_stream = s.next_of("state").await.expect("state").json();
    for state in [srv::get(addr, "/state").await.json(), from_stream] {
        for key in [
            "message_count",
            "epoch",
            "first_message_index",
            "title",
            "outstanding_llm_calls",
            "outstanding_tool_calls",
            "total_usage",
            "session_id",
            "hostname",
            "working_dir",
            "initial_commit",
            "session_ended",
            "can_send_messages",
        ] {
            assert!(state.get(key).is_some(), "{key} missing: {state}");
        }
        assert_eq!(state["outstanding_tool_calls"], json!([]), "{state}");
        assert_eq!(state["title"], "", "{state}");
        assert_eq!(state["session_ended"], false, "{state}");
        let u = &state["total_usage"];
        assert_eq!(u["tool_uses"], json!({}), "{state}");
        for key in [
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "messages",
        ] {
            assert_eq!(u[key], 0, "{key}: {state}");
        }
        assert!(u["total_cost_usd"].is_number(), "{state}");
        assert!(u.get("start_time").is_some(), "{state}");
    }
    server.shutdown().await.expect("shutdown");
}

/// Asks `/suggest-reprompt` and `/commit-description?revision=abc`; both must be 200 with a
/// string. A missing revision is 400.
async fn ask_both(addr: SocketAddr) -> (String, String) {
    let r = srv::get(addr, "/commit-description").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json().get("error").is_some(), "{}", r.body);
    let r = srv::get(addr, "/suggest-reprompt").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let prompt = r.json()["prompt"].as_str().expect("prompt").to_owned();
    let r = srv::get(addr, "/commit-description?revision=abc").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let description = r.json()["description"]
        .as_str()
        .expect("description")
        .to_owned();
    (prompt, description)
}

#[tokio::test]
async fn the_demo_agent_answers_suggest_reprompt_and_commit_description() {
    let mut config = srv::config();
    config.agent = Agent::Demo {
        step: Duration::from_millis(5),
    };
    let server = srv::start(config).await;
    let (prompt, description) = ask_both(server.local_addr()).await;
    assert!(!prompt.is_empty() && !description.is_empty());
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_exec_agent_answers_with_reply_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("agent.py");
    std::fs::write(
        &script,
        r#"import json, sys
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd.get("type") == "suggest_reprompt":
        print(json.dumps({"reply": {"id": cmd["id"], "prompt": "try again"}}), flush=True)
    elif cmd.get("type") == "commit_description":
        print(json.dumps({"reply": {"id": cmd["id"], "description": "rev " + cmd["revision"]}}), flush=True)
"#,
    )
    .expect("write script");
    let mut config = srv::config();
    config.agent = Agent::Exec {
        command: format!("exec python3 {}", script.display()),
        max_line: 64 * 1024,
    };
    let server = srv::start(config).await;
    let (prompt, description) = ask_both(server.local_addr()).await;
    assert_eq!(prompt, "try again");
    assert_eq!(description, "rev abc");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_http_agent_answers_through_api_replies() {
    let server = srv::start(srv::config()).await;
    let addr = server.local_addr();
    let agent = tokio::spawn(async move {
        let mut inbox = srv::open(addr, "/api/inbox", &[]).await;
        assert_eq!(inbox.status, 200);
        for _ in 0..2 {
            let cmd = loop {
                let ev = inbox.next().await.expect("a command");
                if !ev.data.is_empty() && ev.data.starts_with('{') {
                    break ev.json();
                }
            };
            let reply = match cmd["type"].as_str() {
                Some("suggest_reprompt") => json!({"id": cmd["id"], "prompt": "over http"}),
                Some("commit_description") => {
                    json!({"id": cmd["id"], "description": format!("http {}", cmd["revision"].as_str().unwrap_or(""))})
                }
                other => panic!("unexpected command {other:?}: {cmd}"),
            };
            let r = srv::request(addr, "POST", "/api/replies", Some(&reply.to_string()), &[]).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    });
    // Let the agent's inbox stream open before asking.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (prompt, description) = ask_both(addr).await;
    assert_eq!(prompt, "over http");
    assert_eq!(description, "http abc");
    tokio::time::timeout(WATCHDOG, agent)
        .await
        .expect("agent done")
        .expect("agent");
    server.shutdown().await.expect("shutdown");
}

/// Chats `text` to the demo agent and waits (watchdog) for the end of its turn.
async fn demo_turn(addr: SocketAddr, text: &str) -> Value {
    let start = srv::get(addr, "/state").await.json()["message_count"]
        .as_u64()
        .expect("count");
    let mut s = srv::open(addr, &format!("/stream?from={start}&events=message"), &[]).await;
    let r = srv::request(
        addr,
        "POST",
        "/chat",
        Some(&json!({"message": text}).to_string()),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for _ in 0..100 {
        let m = s.next_of("message").await.expect("a message").json();
        if m["end_of_turn"] == true {
            break;
        }
    }
    // The demo's state patches follow its last message: wait for it to be idle again.
    sse_tests::eventually("the demo agent finishes its turn", srv::WAIT, async || {
        let state = srv::get(addr, "/state").await.json();
        (state["agent_state"] == "WaitingForUserInput").then_some(state)
    })
    .await
}

#[tokio::test]
async fn the_demo_agent_continues_its_ids_and_usage_after_a_restart_on_a_durable_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = || {
        let mut c = srv::file_config(dir.path());
        c.agent = Agent::Demo {
            step: Duration::from_millis(5),
        };
        c
    };
    let server = srv::start(demo()).await;
    let first = demo_turn(server.local_addr(), "one").await;
    server.shutdown().await.expect("shutdown");
    let server = srv::start(demo()).await;
    let addr = server.local_addr();
    let second = demo_turn(addr, "two").await;

    let (u1, u2) = (&first["total_usage"], &second["total_usage"]);
    for key in ["input_tokens", "output_tokens", "messages"] {
        assert!(u2[key].as_u64() > u1[key].as_u64(), "{key}: {u1} then {u2}");
    }
    assert!(
        u2["total_cost_usd"].as_f64() > u1["total_cost_usd"].as_f64(),
        "{u1} then {u2}"
    );
    assert!(
        u2["tool_uses"]["bash"].as_u64() > u1["tool_uses"]["bash"].as_u64(),
        "{u1} then {u2}"
    );
    assert_eq!(
        u2["start_time"], u1["start_time"],
        "one session: {u1} then {u2}"
    );

    let messages = srv::get(addr, "/messages").await.json();
    let messages = messages.as_array().expect("array");
    let mut calls: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["tool_calls"].as_array())
        .flatten()
        .filter_map(|c| c["tool_call_id"].as_str())
        .collect();
    let mut results: Vec<&str> = messages
        .iter()
        .filter(|m| m["type"] == "tool")
        .filter_map(|m| m["tool_call_id"].as_str())
        .collect();
    assert_eq!(calls.len(), 2, "one call per turn: {messages:?}");
    for ids in [&mut calls, &mut results] {
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "distinct tool_call_ids: {messages:?}");
    }
    server.shutdown().await.expect("shutdown");
}
