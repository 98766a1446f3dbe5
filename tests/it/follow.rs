//! The reconnecting client (`sse_host::client`) against a scripted raw-TCP server, and through a
//! chaos proxy. Every test is bounded in time: short backoff, short deadlines.

use std::time::Duration;

use futures_util::StreamExt;
use sse_core::reconnect::{Policy, Reason, Status, StatusKind};
use sse_host::client::{Follow, Observation, Options, follow};
use sse_tests::scripted::{Reply, Request, Scripted};
use tokio::time::Instant;

fn ms(n: u64) -> sse_core::Duration {
    sse_core::Duration::from_millis(n)
}

/// 50 ms doubling to a 400 ms cap, no jitter, so delays are exact lower bounds.
fn test_policy() -> Policy {
    let mut p = Policy::default();
    p.initial_backoff = ms(50);
    p.backoff_factor_pct = 200;
    p.max_backoff = ms(400);
    p.jitter_pct = 0;
    p.connect_timeout = ms(2_000);
    p.idle_timeout = ms(5_000);
    p.healthy_after = ms(300);
    p
}

fn client(url: &str, policy: Policy) -> Follow {
    let mut o = Options::new(url);
    o.policy = policy;
    o.seed = 7;
    follow(o).expect("valid options")
}

/// Observe until `done` says so, the stream ends, or `limit` passes.
async fn observe(
    stream: &mut Follow,
    limit: Duration,
    mut done: impl FnMut(&[Observation]) -> bool,
) -> Vec<Observation> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while let Ok(Some(obs)) = tokio::time::timeout_at(deadline, stream.next()).await {
        seen.push(obs);
        if done(&seen) {
            break;
        }
    }
    seen
}

fn statuses(obs: &[Observation]) -> Vec<Status> {
    obs.iter()
        .filter_map(|o| match o {
            Observation::Status(s) => Some(s.status),
            _ => None,
        })
        .collect()
}

fn datas(obs: &[Observation]) -> Vec<String> {
    obs.iter()
        .filter_map(|o| match o {
            Observation::Event(e) => Some(e.data.clone()),
            _ => None,
        })
        .collect()
}

fn gaps(reqs: &[Request]) -> Vec<Duration> {
    reqs.windows(2).map(|w| w[1].at - w[0].at).collect()
}

fn disabled(obs: &[Observation]) -> Option<Reason> {
    statuses(obs)
        .last()
        .filter(|s| s.kind == StatusKind::Disabled)
        .map(|s| s.reason)
}

#[tokio::test]
async fn sends_accept_cache_control_and_last_event_id_on_reconnect() {
    let server = Scripted::start(|n, _| match n {
        // An id-only block counts; an id inside the unfinished block at the cut does not.
        0 => Reply::sse().send(concat!(
            "event: tick\n",
            "id: 5\n",
            "data: a\n",
            "\n",
            "id: 7\n",
            "\n",
            "event: tick\n",
            "id: 8\n",
            "data: partial",
        )),
        _ => Reply::sse().hold(),
    })
    .await;
    let mut stream = client(&server.url("/stream"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        statuses(o)
            .iter()
            .filter(|s| s.kind == StatusKind::Connected)
            .count()
            == 2
    })
    .await;
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{obs:?}");
    for r in &reqs {
        assert_eq!(r.method, "GET");
        assert_eq!(r.header("accept"), Some("text/event-stream"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
    assert_eq!(reqs[0].header("last-event-id"), None);
    assert_eq!(reqs[1].header("last-event-id"), Some("7"));
    // The partial event at the drop is discarded.
    assert_eq!(datas(&obs), ["a"]);
}

#[tokio::test]
async fn last_event_id_survives_any_id_text() {
    let server = Scripted::start(|n, _| match n {
        0 => Reply::sse().send("id: abc-1\ndata: x\n\n"),
        _ => Reply::sse().hold(),
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let _ = observe(&mut stream, Duration::from_secs(5), |o| {
        statuses(o)
            .iter()
            .filter(|s| s.kind == StatusKind::Connected)
            .count()
            == 2
    })
    .await;
    let reqs = server.requests();
    assert_eq!(reqs[1].header("last-event-id"), Some("abc-1"));
    // Not our server (no message index seen): the URL is left alone.
    assert_eq!(reqs[1].target, "/");
}

#[tokio::test]
async fn honours_retry_field() {
    let server = Scripted::start(|n, _| match n {
        0 => Reply::sse().send("retry: 400\n\n"),
        _ => Reply::sse().hold(),
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let _ = observe(&mut stream, Duration::from_secs(5), |o| {
        statuses(o)
            .iter()
            .filter(|s| s.kind == StatusKind::Connected)
            .count()
            == 2
    })
    .await;
    let g = gaps(&server.requests());
    // Without the hint the first retry comes after 50 ms.
    assert_eq!(g.len(), 1);
    assert!(g[0] >= Duration::from_millis(390), "{g:?}");
}

#[tokio::test]
async fn backoff_grows_and_caps() {
    let server = Scripted::start(|_, _| Reply::hang_up()).await;
    let mut stream = client(&server.url("/"), test_policy());
    let reqs = tokio::select! {
        r = server.wait_requests(7, Duration::from_secs(8)) => r,
        _ = observe(&mut stream, Duration::from_secs(10), |_| false) => unreachable!(),
    };
    let g = gaps(&reqs[..7]);
    for (gap, nominal) in g.iter().zip([50u64, 100, 200, 400, 400, 400]) {
        assert!(*gap >= Duration::from_millis(nominal - 5), "{g:?}");
        assert!(*gap < Duration::from_millis(nominal + 250), "{g:?}");
    }
}

#[tokio::test]
async fn accept_then_close_does_not_storm() {
    // 200 + a comment, then the server closes: open, but never healthy.
    let server = Scripted::start(|_, _| Reply::sse().send(": hi\n\n")).await;
    let mut stream = client(&server.url("/"), test_policy());
    let reqs = tokio::select! {
        r = server.wait_requests(6, Duration::from_secs(8)) => r,
        _ = observe(&mut stream, Duration::from_secs(10), |_| false) => unreachable!(),
    };
    let g = gaps(&reqs[..6]);
    for (gap, nominal) in g.iter().zip([50u64, 100, 200, 400, 400]) {
        assert!(*gap >= Duration::from_millis(nominal - 5), "{g:?}");
    }
}

#[tokio::test]
async fn attempt_count_resets_only_after_a_healthy_connection() {
    let server = Scripted::start(|n, _| match n {
        0..=3 => Reply::hang_up(),
        // Up for 500 ms (> healthy_after) with bytes after 400 ms, then closed.
        4 => Reply::sse()
            .send(": a\n\n")
            .wait_ms(400)
            .send(": b\n\n")
            .wait_ms(100),
        _ => Reply::sse().hold(),
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let reqs = tokio::select! {
        r = server.wait_requests(6, Duration::from_secs(8)) => r,
        _ = observe(&mut stream, Duration::from_secs(10), |_| false) => unreachable!(),
    };
    let g = gaps(&reqs);
    // 4 failures: the next delay would be 400 ms; after a healthy connection it is 50 ms again.
    assert!(g[4] >= Duration::from_millis(545), "{g:?}");
    assert!(g[4] < Duration::from_millis(800), "{g:?}");
}

#[tokio::test]
async fn no_content_and_not_found_stop_the_client() {
    for code in [204u16, 404, 401] {
        let server = Scripted::start(move |_, _| Reply::status(code)).await;
        let mut stream = client(&server.url("/"), test_policy());
        let obs = observe(&mut stream, Duration::from_secs(5), |_| false).await;
        assert_eq!(disabled(&obs), Some(Reason::HttpStatus(code)), "{obs:?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            server.requests().len(),
            1,
            "HTTP {code} must not be retried"
        );
    }
}

#[tokio::test]
async fn server_errors_and_408_429_are_retried() {
    for code in [500u16, 503, 408, 429] {
        let server = Scripted::start(move |n, _| match n {
            0 => Reply::status(code).header("Content-Length", "0"),
            _ => Reply::sse().send("data: ok\n\n").hold(),
        })
        .await;
        let mut stream = client(&server.url("/"), test_policy());
        let obs = observe(&mut stream, Duration::from_secs(5), |o| {
            !datas(o).is_empty()
        })
        .await;
        assert_eq!(datas(&obs), ["ok"], "HTTP {code}: {obs:?}");
        let st = statuses(&obs);
        assert!(
            st.iter().any(|s| s.kind == StatusKind::Disconnected
                && s.reason == Reason::HttpStatus(code)),
            "the status says which HTTP status it is retrying: {st:?}"
        );
    }
}

/// A status that says the connection went away (lost, closed by the server, unreachable).
fn is_lost(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::ConnectionLost | Reason::ServerClosed | Reason::Unreachable
    )
}

/// The `cause` of each lost-connection status, in order.
fn causes(obs: &[Observation]) -> Vec<Option<String>> {
    obs.iter()
        .filter_map(|o| match o {
            Observation::Status(s) if is_lost(s.status.reason) => Some(s.cause.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_lost_connection_says_what_the_transport_saw() {
    let server = Scripted::start(|n, _| match n {
        0 => Reply::status(503).header("Content-Length", "0"),
        1 => Reply::sse().send(": hi\n\n"),
        _ => Reply::sse().send("data: ok\n\n").hold(),
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        !datas(o).is_empty()
    })
    .await;
    // The 503 is the status's own reason; the closed stream is a lost connection with a cause.
    assert!(
        statuses(&obs)
            .iter()
            .any(|s| s.reason == Reason::HttpStatus(503)),
        "{obs:?}"
    );
    let expected = ["the server closed the stream"].map(|c| Some(c.to_owned()));
    assert_eq!(causes(&obs), expected, "{obs:?}");
    assert!(
        statuses(&obs)
            .iter()
            .any(|s| s.reason == Reason::ServerClosed),
        "an ended body is the server's doing: {obs:?}"
    );
    // Other statuses carry no cause.
    assert!(obs.iter().all(|o| match o {
        Observation::Status(s) => is_lost(s.status.reason) || s.cause.is_none(),
        _ => true,
    }));

    // Nothing listens: the innermost error (the OS's), not reqwest's wrapping of it.
    let port = sse_tests::redis::free_port();
    let mut stream = client(&format!("http://127.0.0.1:{port}/"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        !causes(o).is_empty()
    })
    .await;
    let cause = causes(&obs)
        .into_iter()
        .flatten()
        .next()
        .unwrap_or_default();
    assert!(
        statuses(&obs)
            .iter()
            .any(|s| s.reason == Reason::Unreachable),
        "{obs:?}"
    );
    assert!(cause.contains("refused"), "{cause:?}");
    assert!(!cause.contains("error sending request"), "{cause:?}");
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let server = Scripted::start(|_, _| {
        Reply::status(200)
            .header("Content-Type", "text/plain")
            .send("data: not an event stream\n\n")
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |_| false).await;
    assert_eq!(disabled(&obs), Some(Reason::NotEventStream), "{obs:?}");
    assert!(datas(&obs).is_empty());
}

#[tokio::test]
async fn content_type_parameters_are_accepted() {
    let server = Scripted::start(|_, _| {
        Reply::status(200)
            .header("Content-Type", "Text/Event-Stream; charset=utf-8")
            .send("data: x\n\n")
            .hold()
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        !datas(o).is_empty()
    })
    .await;
    assert_eq!(datas(&obs), ["x"]);
}

#[tokio::test]
async fn watchdog_fires_on_a_silent_stream() {
    let server = Scripted::start(|_, _| Reply::sse().send(": hello\n\n").hold()).await;
    let mut policy = test_policy();
    policy.idle_timeout = ms(300);
    let mut stream = client(&server.url("/"), policy);
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        statuses(o)
            .iter()
            .filter(|s| s.kind == StatusKind::Connected)
            .count()
            == 2
    })
    .await;
    assert!(
        statuses(&obs).contains(&Status {
            kind: StatusKind::Disconnected,
            reason: Reason::NoHeartbeat
        }),
        "{obs:?}"
    );
    let g = gaps(&server.requests());
    assert!(g[0] >= Duration::from_millis(340), "{g:?}");
}

#[tokio::test]
async fn connect_timeout_fires_when_no_response_comes() {
    let server = Scripted::start(|n, _| match n {
        0 => Reply::silent(),
        _ => Reply::sse().hold(),
    })
    .await;
    let mut policy = test_policy();
    policy.connect_timeout = ms(300);
    let mut stream = client(&server.url("/"), policy);
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        statuses(o).iter().any(|s| s.kind == StatusKind::Connected)
    })
    .await;
    assert!(
        statuses(&obs).contains(&Status {
            kind: StatusKind::Disconnected,
            reason: Reason::ConnectTimeout
        }),
        "{obs:?}"
    );
}

#[tokio::test]
async fn redirects_are_followed_and_bounded() {
    let server = Scripted::start(|_, req| match req.target.as_str() {
        "/old" => Reply::redirect(301, "/older"),
        "/older" => Reply::redirect(307, "/stream"),
        "/loop" => Reply::redirect(302, "/loop"),
        _ => Reply::sse().send("data: here\n\n").hold(),
    })
    .await;
    let mut stream = client(&server.url("/old"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        !datas(o).is_empty()
    })
    .await;
    assert_eq!(datas(&obs), ["here"]);
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/old", "/older", "/stream"]);
    assert!(server.requests()[2].header("accept") == Some("text/event-stream"));

    // A redirect loop ends the attempt after a bounded number of hops and is retried later.
    let server = Scripted::start(|_, _| Reply::redirect(302, "/loop")).await;
    let mut stream = client(&server.url("/loop"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| {
        statuses(o)
            .iter()
            .any(|s| s.kind == StatusKind::Disconnected)
    })
    .await;
    assert!(
        statuses(&obs)
            .iter()
            .any(|s| s.reason == Reason::Unreachable)
    );
    let hops = server.requests().len();
    assert!(
        (2..=sse_host::client::MAX_REDIRECTS + 1).contains(&hops),
        "{hops}"
    );
}

const EVENTS: &str = concat!(
    ": comment\n",
    "event: tick\n",
    "data: one\n",
    "data: two\n",
    "\n",
    "event: tick\r\n",
    "data: \u{e9}t\u{e9}\r\n",
    "\r\n",
);

fn split(bytes: &[u8], at: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &a in at.iter().chain([bytes.len()].iter()) {
        out.push(bytes[start..a].to_vec());
        start = a;
    }
    out
}

#[tokio::test]
async fn chunked_and_close_delimited_bodies() {
    // The same stream three ways: close-delimited, chunked with chunk borders inside lines and
    // inside a UTF-8 sequence, and chunked one byte per chunk.
    let bytes = EVENTS.as_bytes().to_vec();
    let e_acute = EVENTS.find('\u{e9}').expect("é") + 1;
    let ways: Vec<Vec<Vec<u8>>> = vec![
        vec![bytes.clone()],
        split(&bytes, &[3, 17, 30, e_acute]),
        bytes.iter().map(|b| vec![*b]).collect(),
    ];
    for (i, parts) in ways.into_iter().enumerate() {
        let server = Scripted::start(move |_, _| {
            let mut r = Reply::sse();
            if i > 0 {
                r = r.chunked();
            }
            for p in &parts {
                r = r.send(p);
            }
            r.hold()
        })
        .await;
        let mut stream = client(&server.url("/"), test_policy());
        let obs = observe(&mut stream, Duration::from_secs(5), |o| datas(o).len() == 2).await;
        assert_eq!(datas(&obs), ["one\ntwo", "\u{e9}t\u{e9}"], "way {i}");
    }
}

#[tokio::test]
async fn chunked_body_cut_mid_event_discards_the_partial_event() {
    let server = Scripted::start(|n, _| match n {
        0 => Reply::sse()
            .chunked()
            .send("data: whole\n\n")
            .send("data: hal")
            .cut(),
        _ => Reply::sse().chunked().send("data: next\n\n").hold(),
    })
    .await;
    let mut stream = client(&server.url("/"), test_policy());
    let obs = observe(&mut stream, Duration::from_secs(5), |o| datas(o).len() == 2).await;
    assert_eq!(datas(&obs), ["whole", "next"]);
}

// ---------------------------------------------------------------------------------------------
// Chaos: the real server (`sse_host::server::Server`, in-process) behind a seeded proxy that cuts
// connections at random byte offsets while the demo agent runs and messages are published through
// the HTTP API. Every client must end with exactly the server's `/messages`.

use serde_json::{Value, json};
use sse_host::agent::Agent;
use sse_host::server::{Server, ServerConfig};
use sse_tests::chaos::Chaos;
use sse_tests::server as srv;

/// Reconnect fast: the cap keeps even the server's `retry:` hint short.
fn chaos_policy() -> Policy {
    let mut p = Policy::default();
    p.initial_backoff = ms(5);
    p.max_backoff = ms(20);
    p.jitter_pct = 50;
    p.connect_timeout = ms(2_000);
    p.idle_timeout = ms(5_000);
    p.healthy_after = ms(50);
    p
}

/// The demo agent with a 1 ms step (every third turn has a 120 KB tool output).
fn with_demo(mut c: ServerConfig) -> ServerConfig {
    c.agent = Agent::Demo {
        step: Duration::from_millis(1),
    };
    c
}

const END: &str = "chaos-end";

/// One client's copy of the log.
#[derive(Debug, Default)]
struct Copy {
    /// Message data (parsed) in arrival order, emptied on `Reset`.
    messages: Vec<Value>,
    /// How often the client was told to start over.
    resets: usize,
}

/// Follow `url` until the message whose content is [`END`] (or `limit`).
async fn follow_until_end(url: String, seed: u64, limit: Duration) -> Copy {
    let mut o = Options::new(url);
    o.policy = chaos_policy();
    o.seed = seed;
    let mut stream = follow(o).expect("options");
    let deadline = Instant::now() + limit;
    let mut copy = Copy::default();
    while let Ok(Some(obs)) = tokio::time::timeout_at(deadline, stream.next()).await {
        match obs {
            Observation::Event(e) if e.event_type == "message" => {
                let msg: Value = serde_json::from_str(&e.data).expect("message JSON");
                assert_eq!(e.id, msg["idx"].as_u64().map(|i| i.to_string()));
                let done = msg["content"] == END;
                copy.messages.push(msg);
                if done {
                    break;
                }
            }
            Observation::Reset { .. } => {
                copy.messages.clear();
                copy.resets += 1;
            }
            _ => {}
        }
    }
    copy
}

fn spawn_clients(proxy: &Chaos, n: u64) -> Vec<tokio::task::JoinHandle<Copy>> {
    (0..n)
        .map(|seed| {
            tokio::spawn(follow_until_end(
                proxy.url("/stream"),
                seed,
                Duration::from_secs(60),
            ))
        })
        .collect()
}

/// Publishes through the HTTP API (one `POST /api/messages` per millisecond, and a `/chat` for
/// the demo agent every 40th) until the proxy has made `cuts` cuts in all (bounded by 30 s and
/// 20 000 messages). Returns how many it published.
async fn publish_through_cuts(server: &Server, proxy: &Chaos, cuts: usize) -> usize {
    let addr = server.local_addr();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0usize;
    while n < 20_000 && proxy.cuts() < cuts && Instant::now() < deadline {
        if n.is_multiple_of(40) {
            let chat = json!({"message": format!("turn {n}")}).to_string();
            let r = srv::request(addr, "POST", "/chat", Some(&chat), &[]).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        srv::append(addr, &json!({"type": "agent", "content": format!("m{n}")})).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    n
}

/// Waits (bounded) until the demo agent is idle, then publishes the [`END`] message.
async fn finish(server: &Server) {
    let addr = server.local_addr();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = u64::MAX;
    loop {
        let state = srv::get(addr, "/state").await.json();
        let count = state["message_count"].as_u64().unwrap_or(0);
        if state["agent_state"] == "WaitingForUserInput" && count == last {
            break;
        }
        assert!(Instant::now() < deadline, "the demo agent never went idle");
        last = count;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv::append(addr, &json!({"type": "agent", "content": END})).await;
}

async fn server_messages(server: &Server) -> Vec<Value> {
    match srv::get(server.local_addr(), "/messages").await.json() {
        Value::Array(a) => a,
        other => panic!("/messages is not an array: {other}"),
    }
}

/// Every client's copy equals the server's log; returns each client's reset count.
async fn assert_exact(
    server: &Server,
    proxy: &Chaos,
    clients: Vec<tokio::task::JoinHandle<Copy>>,
) -> Vec<usize> {
    let expected = server_messages(server).await;
    eprintln!(
        "{} messages through {} cuts of {} connections",
        expected.len(),
        proxy.cuts(),
        proxy.connections()
    );
    assert_eq!(expected.last().map(|m| &m["content"]), Some(&json!(END)));
    let long = |m: &Value| m["tool_result"].as_str().map_or(0, str::len) > MAX_OFFSET * 10;
    assert!(
        expected.iter().any(long),
        "no message long enough to be cut in its middle"
    );
    let mut resets = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        let copy = c.await.expect("client task");
        assert_eq!(
            copy.messages.len(),
            expected.len(),
            "client {i}: cuts {}",
            proxy.cuts()
        );
        assert!(
            copy.messages == expected,
            "client {i}'s copy differs from /messages"
        );
        resets.push(copy.resets);
    }
    resets
}

const CLIENTS: u64 = 16;
const CUTS: usize = 1_000;
/// Most cuts fall within this many bytes of a connection's start (see `sse_tests::chaos`).
const MAX_OFFSET: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_against_the_real_server_loses_and_repeats_nothing() {
    let server = srv::start(with_demo(srv::config())).await;
    let proxy = Chaos::start(server.local_addr(), 0x5EED, CUTS, MAX_OFFSET).await;
    let clients = spawn_clients(&proxy, CLIENTS);
    publish_through_cuts(&server, &proxy, CUTS).await;
    finish(&server).await;
    let resets = assert_exact(&server, &proxy, clients).await;
    assert!(proxy.cuts() >= CUTS, "only {} cuts", proxy.cuts());
    assert_eq!(resets, vec![0; CLIENTS as usize], "one log, one epoch");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_across_a_file_log_restart_is_exact_without_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = srv::start(with_demo(srv::file_config(dir.path()))).await;
    let epoch = first.hub().epoch().to_owned();
    let proxy = Chaos::start(first.local_addr(), 0xF11E, CUTS / 2, MAX_OFFSET).await;
    let clients = spawn_clients(&proxy, CLIENTS / 2);
    publish_through_cuts(&first, &proxy, CUTS / 4).await;
    first.shutdown().await.expect("shutdown");
    // Down for a moment: connections through the proxy fail and back off.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = srv::start(with_demo(srv::file_config(dir.path()))).await;
    assert_eq!(second.hub().epoch(), epoch, "the file log keeps its epoch");
    proxy.set_upstream(second.local_addr());
    publish_through_cuts(&second, &proxy, CUTS / 2).await;
    finish(&second).await;
    let resets = assert_exact(&second, &proxy, clients).await;
    assert_eq!(
        resets,
        vec![0; CLIENTS as usize / 2],
        "same epoch: resume, never start over"
    );
    second.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_across_a_memory_log_restart_resets_then_is_exact() {
    let first = srv::start(with_demo(srv::config())).await;
    let proxy = Chaos::start(first.local_addr(), 0xC0FFEE, CUTS / 2, MAX_OFFSET).await;
    let clients = spawn_clients(&proxy, CLIENTS / 2);
    publish_through_cuts(&first, &proxy, CUTS / 4).await;
    let old_epoch = first.hub().epoch().to_owned();
    first.shutdown().await.expect("shutdown");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A fresh memory log: new epoch, history gone.
    let second = srv::start(with_demo(srv::config())).await;
    assert_ne!(second.hub().epoch(), old_epoch);
    proxy.set_upstream(second.local_addr());
    publish_through_cuts(&second, &proxy, CUTS / 2).await;
    finish(&second).await;
    let resets = assert_exact(&second, &proxy, clients).await;
    assert!(
        resets.iter().all(|&r| r >= 1),
        "every client started over: {resets:?}"
    );
}

/// `https` with a private CA: trusted through `ca_pem`, the stream is read as over `http`;
/// without it the bundled web roots do not know the CA and the client never connects.
#[tokio::test]
async fn https_with_a_private_ca_is_followed_only_when_trusted() {
    let (addr, issued) =
        sse_tests::tls::sse_server(b"event: message\nid: 0\ndata: over tls\n\n").await;
    let url = format!("https://{addr}/stream");

    let mut o = Options::new(url.clone());
    o.policy = test_policy();
    o.ca_pem = Some(issued.ca_pem.clone().into_bytes());
    let mut trusted = follow(o).expect("valid options");
    let seen = observe(&mut trusted, Duration::from_secs(10), |o| {
        !datas(o).is_empty()
    })
    .await;
    assert_eq!(datas(&seen), ["over tls"], "{seen:?}");

    let mut untrusted = client(&url, test_policy());
    let seen = observe(&mut untrusted, Duration::from_millis(1_500), |_| false).await;
    assert!(datas(&seen).is_empty(), "{seen:?}");
    assert!(
        !statuses(&seen)
            .iter()
            .any(|s| s.kind == StatusKind::Connected),
        "an untrusted certificate must not connect: {seen:?}"
    );
}

/// A server that requires a client certificate (mutual TLS): with `identity_pem` the stream is
/// read; without it the handshake fails, the client never connects, and the status says why.
#[tokio::test]
async fn https_requiring_a_client_certificate_is_followed_with_an_identity() {
    let (addr, issued) = sse_tests::tls::sse_server_requiring_client_cert(
        b"event: message\nid: 0\ndata: mutual\n\n",
    )
    .await;
    let url = format!("https://{addr}/stream");
    let options = |identity: bool| {
        let mut o = Options::new(url.clone());
        o.policy = test_policy();
        o.ca_pem = Some(issued.ca_pem.clone().into_bytes());
        if identity {
            let pem = format!("{}\n{}", issued.client_cert_pem, issued.client_key_pem);
            o.identity_pem = Some(pem.into_bytes());
        }
        o
    };
    let mut with = follow(options(true)).expect("valid options");
    let seen = observe(&mut with, Duration::from_secs(10), |o| !datas(o).is_empty()).await;
    assert_eq!(datas(&seen), ["mutual"], "{seen:?}");

    let mut without = follow(options(false)).expect("valid options");
    let seen = observe(&mut without, Duration::from_millis(1_500), |o| {
        !causes(o).is_empty()
    })
    .await;
    assert!(datas(&seen).is_empty(), "{seen:?}");
    let connected = statuses(&seen)
        .iter()
        .any(|s| s.kind == StatusKind::Connected);
    assert!(!connected, "no certificate, no stream: {seen:?}");
}

/// Something that is not a certificate and key is refused when the client is built.
#[test]
fn identity_pem_without_a_key_is_an_error() {
    let issued = sse_tests::tls::issue_for_localhost();
    let mut o = Options::new("https://127.0.0.1:1/stream");
    o.identity_pem = Some(issued.client_cert_pem.into_bytes());
    let err = follow(o).expect_err("a certificate without its key");
    assert!(err.to_string().contains("client certificate"), "{err}");
}

/// A CA that is not PEM is refused when the client is built, not at the first connect.
#[test]
fn ca_pem_without_a_certificate_is_an_error() {
    let mut o = Options::new("https://127.0.0.1:1/stream");
    o.ca_pem = Some(b"not a certificate".to_vec());
    let err = follow(o).expect_err("no certificate in it");
    assert!(err.to_string().contains("CA certificate"), "{err}");
}
