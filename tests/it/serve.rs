//! `sse-host serve` over real HTTP on 127.0.0.1: resume, delivery, coalescing, filters,
//! slow subscribers, restarts, bad input, auth, and the built-in agents.

use serde_json::{Value, json};
use sse_host::agent::Agent;
use sse_tests::server::{self, Ev, append, config, file_config, get, open, request, start};
use std::time::Duration;

fn agent_msg(i: u64) -> Value {
    json!({"type": "agent", "content": format!("m{i}")})
}

fn idx_of(ev: &Ev) -> u64 {
    ev.idx()
}

#[tokio::test]
async fn stream_headers_and_opening_are_retry_then_state() {
    let s = start(config()).await;
    let a = s.local_addr();
    append(a, &agent_msg(0)).await;
    let mut st = open(a, "/stream", &[]).await;
    assert_eq!(st.status, 200);
    assert_eq!(st.headers["content-type"], "text/event-stream");
    assert_eq!(st.headers["cache-control"], "no-cache");
    assert_eq!(st.headers["x-accel-buffering"], "no");
    assert_eq!(st.headers["connection"], "keep-alive");
    let state = st.next().await.unwrap();
    assert_eq!(st.retries, [1000], "retry: comes before the first event");
    assert_eq!(state.event, "state");
    assert_eq!(state.json()["message_count"], 1);
    assert_eq!(state.json()["epoch"], s.hub().epoch());
    assert_eq!(idx_of(&st.next().await.unwrap()), 0);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn resume_from_any_n_and_via_last_event_id() {
    let s = start(config()).await;
    let a = s.local_addr();
    for i in 0..12 {
        append(a, &agent_msg(i)).await;
    }
    for n in 0..=12u64 {
        let mut st = open(a, &format!("/stream?from={n}"), &[]).await;
        assert_eq!(st.next().await.unwrap().event, "state");
        let end = s.hub().message_count().0;
        for want in n..end {
            assert_eq!(idx_of(&st.next().await.unwrap()), want);
        }
        append_and_expect_live(&s, &mut st).await;
    }
    // Last-Event-ID alone, and with a smaller `from` (the larger resume point wins).
    for (path, id, first) in [
        ("/stream", "4", 5),
        ("/stream?from=2", "6", 7),
        ("/stream?from=9", "3", 9),
    ] {
        let mut st = open(a, path, &[("last-event-id", id)]).await;
        assert_eq!(st.next().await.unwrap().event, "state");
        assert_eq!(
            idx_of(&st.next().await.unwrap()),
            first,
            "{path} + Last-Event-ID {id}"
        );
    }
    s.shutdown().await.unwrap();
}

async fn append_and_expect_live(s: &sse_host::server::Server, st: &mut server::SseStream) {
    let idx = s
        .hub()
        .append(json!({"type": "auto", "content": "live"}))
        .await
        .unwrap();
    assert_eq!(idx_of(&st.next_of("message").await.unwrap()), idx.0);
}

#[tokio::test]
async fn exactly_once_in_order_across_200_random_reconnects() {
    let s = start(config()).await;
    let a = s.local_addr();
    let hub = s.hub().clone();
    const TOTAL: u64 = 600;
    let publisher = tokio::spawn(async move {
        for i in 0..TOTAL {
            hub.append(agent_msg(i)).await.unwrap();
            if i % 4 == 0 {
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let mut rng = sse_tests::chaos::SplitMix::new(0x5eed);
    let mut received: Vec<u64> = Vec::new();
    let mut reconnects = 0;
    while received.len() < TOTAL as usize {
        let next = received.last().map_or(0, |l| l + 1);
        let use_header = rng.next_u64().is_multiple_of(2);
        let mut st = if use_header && next > 0 {
            open(a, "/stream", &[("last-event-id", &(next - 1).to_string())]).await
        } else {
            open(a, &format!("/stream?from={next}"), &[]).await
        };
        let take = if reconnects < 200 {
            rng.offset(3)
        } else {
            usize::MAX
        };
        let mut got = 0;
        while got < take && received.len() < TOTAL as usize {
            let ev = st.next().await.expect("stream open");
            if ev.event == "message" {
                received.push(idx_of(&ev));
                got += 1;
            }
        }
        drop(st);
        reconnects += 1;
        assert!(reconnects < 2000, "bounded");
    }
    publisher.await.unwrap();
    assert!(reconnects >= 200);
    assert_eq!(
        received,
        (0..TOTAL).collect::<Vec<_>>(),
        "each idx once, in order"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn replay_sends_one_state_and_the_latest_state_wins() {
    let s = start(config()).await;
    let a = s.local_addr();
    for i in 0..50 {
        append(a, &agent_msg(i)).await;
        s.hub()
            .patch_state(&json!({"title": format!("t{i}")}))
            .await
            .unwrap();
    }
    let mut st = open(a, "/stream?from=0", &[]).await;
    let mut states = Vec::new();
    let mut messages = 0;
    while messages < 50 {
        let ev = st.next().await.unwrap();
        match ev.event.as_str() {
            "state" => states.push(ev.json()),
            "message" => messages += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        states.len(),
        1,
        "one state for the whole replay, not one per message"
    );
    assert_eq!(states[0]["title"], "t49");
    // Live changes while the client is not reading: the last one always arrives.
    for i in 0..200 {
        s.hub()
            .patch_state(&json!({"title": format!("live{i}")}))
            .await
            .unwrap();
    }
    let mut seen = 0;
    loop {
        let ev = st.next_of("state").await.unwrap();
        seen += 1;
        if ev.json()["title"] == "live199" {
            break;
        }
    }
    assert!(seen <= 200);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn events_filter_sends_only_what_was_asked() {
    let mut c = config();
    c.hub.heartbeat = Duration::from_millis(100);
    let s = start(c).await;
    let a = s.local_addr();
    append(a, &agent_msg(0)).await;
    let mut st = open(a, "/stream?events=state,heartbeat", &[]).await;
    let mut kinds = std::collections::BTreeSet::new();
    append(a, &agent_msg(1)).await;
    for _ in 0..4 {
        kinds.insert(st.next().await.unwrap().event);
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["heartbeat", "state"]
    );
    let mut only_messages = open(a, "/stream?events=message", &[]).await;
    assert_eq!(only_messages.next().await.unwrap().event, "message");
    assert_eq!(only_messages.next().await.unwrap().event, "message");
    assert!(
        only_messages.quiet_for(Duration::from_millis(300)).await,
        "no heartbeats"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn heartbeat_carries_unix_time() {
    let mut c = config();
    c.hub.heartbeat = Duration::from_millis(100);
    let s = start(c).await;
    let mut st = open(s.local_addr(), "/stream", &[]).await;
    let hb = st.next_of("heartbeat").await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t: u64 = hb.data.parse().unwrap();
    assert!(t.abs_diff(now) < 5);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stalled_subscriber_does_not_delay_a_fast_one_and_is_dropped() {
    use tokio::io::AsyncWriteExt;
    let mut c = config();
    c.hub.heartbeat = Duration::from_millis(100);
    // Long enough that the fast reader (a debug build on a loaded 2-core CI machine) never
    // leaves one ready batch untaken this long; the stalled one is still dropped well within
    // `server::WAIT` once the publisher is done.
    c.hub.stall_timeout = Duration::from_secs(8);
    let s = start(c).await;
    let a = s.local_addr();
    // A client that sends its request and never reads a byte.
    let mut stalled = tokio::net::TcpStream::connect(a).await.unwrap();
    stalled
        .write_all(format!("GET /stream HTTP/1.1\r\nhost: {a}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut fast = open(a, "/stream?events=message", &[]).await;
    let big = "x".repeat(100 * 1024);
    const N: u64 = 200; // 20 MB: far beyond the stalled socket's buffers
    let hub = s.hub().clone();
    let publisher = tokio::spawn(async move {
        for i in 0..N {
            hub.append(json!({"type": "tool", "tool_result": big, "n": i}))
                .await
                .unwrap();
        }
    });
    for want in 0..N {
        assert_eq!(idx_of(&fast.next().await.unwrap()), want);
    }
    tokio::time::timeout(server::WAIT, publisher)
        .await
        .unwrap()
        .unwrap();
    // The stalled one is disconnected once it sat on ready data past the stall bound.
    sse_tests::eventually(
        "the stalled subscriber is dropped",
        server::WAIT,
        async || {
            let m = get(a, "/metrics").await.body;
            m.contains("sse_subscribers_dropped_total 1").then_some(())
        },
    )
    .await;
    drop(stalled);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_with_the_file_log_keeps_every_message_and_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    for i in 0..10 {
        append(
            a,
            &json!({"type": "agent", "content": format!("m{i}"), "extra": {"k": i}}),
        )
        .await;
    }
    request(a, "PATCH", "/api/state", Some(r#"{"title":"kept"}"#), &[]).await;
    let epoch = s.hub().epoch().to_owned();
    let before = get(a, "/messages").await.body;
    s.shutdown().await.unwrap();

    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    assert_eq!(get(a, "/messages").await.body, before);
    let state = get(a, "/state").await.json();
    assert_eq!(
        (state["epoch"].as_str(), state["message_count"].as_u64()),
        (Some(&*epoch), Some(10))
    );
    assert_eq!(state["title"], "kept");
    let mut st = open(a, "/stream?from=10", &[("last-event-id", "9")]).await;
    assert_eq!(
        st.next().await.unwrap().event,
        "state",
        "no reset: the log is the same"
    );
    assert_eq!(append(a, &agent_msg(10)).await, 10);
    assert_eq!(idx_of(&st.next_of("message").await.unwrap()), 10);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_with_the_memory_log_gives_a_new_epoch_and_the_client_sees_reset() {
    let s = start(config()).await;
    for i in 0..5 {
        append(s.local_addr(), &agent_msg(i)).await;
    }
    let old = s.hub().epoch().to_owned();
    s.shutdown().await.unwrap();
    let s = start(config()).await;
    let a = s.local_addr();
    append(a, &agent_msg(0)).await;
    let mut st = open(a, "/stream?from=5", &[("last-event-id", "4")]).await;
    let reset = st.next().await.unwrap();
    assert_eq!(reset.event, "reset");
    let r = reset.json();
    assert_ne!(r["epoch"], old.as_str());
    assert_eq!(r["epoch"], s.hub().epoch());
    assert_eq!(r["message_count"], 1);
    assert_eq!(st.next().await.unwrap().event, "state");
    assert_eq!(
        idx_of(&st.next().await.unwrap()),
        0,
        "replay from the new log's start"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_resuming_below_the_retention_window_gets_reset_then_the_kept_messages() {
    let s = start(sse_host::server::ServerConfig {
        max_messages: Some(5),
        ..config()
    })
    .await;
    let a = s.local_addr();
    for i in 0..8 {
        append(a, &agent_msg(i)).await;
    }
    let state = get(a, "/state").await.json();
    assert_eq!(
        (
            state["first_message_index"].as_u64(),
            state["message_count"].as_u64()
        ),
        (Some(3), Some(8))
    );
    let kept: Vec<u64> = get(a, "/messages")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["idx"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, [3, 4, 5, 6, 7]);
    // Over HTTP: `reset`, the state, then the kept messages from `first`.
    let mut st = open(a, "/stream?from=1", &[("last-event-id", "0")]).await;
    let reset = st.next().await.unwrap();
    assert_eq!(reset.event, "reset");
    assert_eq!(
        reset.json(),
        json!({"epoch": s.hub().epoch(), "message_count": 8})
    );
    assert_eq!(st.next().await.unwrap().event, "state");
    for i in 3..8 {
        assert_eq!(idx_of(&st.next().await.unwrap()), i);
    }
    // Inside the window there is no reset.
    let mut st = open(a, "/stream?from=3", &[]).await;
    assert_eq!(st.next().await.unwrap().event, "state");
    assert_eq!(idx_of(&st.next().await.unwrap()), 3);

    // The follow client that had messages 0 and 1 starts over and ends with exactly 3..8.
    use futures_util::StreamExt;
    use sse_host::client::{Observation, Options, follow};
    let mut o = Options::new(format!("http://{a}/stream"));
    o.from = Some(2);
    let mut c = follow(o).unwrap();
    let mut got = vec![0u64, 1];
    let mut resets = Vec::new();
    while got.last() != Some(&7) {
        match tokio::time::timeout(server::WAIT, c.next()).await.unwrap() {
            Some(Observation::Reset { data }) => {
                got.clear();
                resets.push(data);
            }
            Some(Observation::Event(e)) if e.event_type == "message" => {
                got.push(e.id.unwrap().parse().unwrap());
            }
            Some(_) => {}
            None => panic!("the client stopped"),
        }
    }
    assert_eq!(got, [3, 4, 5, 6, 7]);
    assert_eq!(resets.len(), 1);
    assert!(
        resets[0]
            .as_deref()
            .unwrap()
            .contains("\"message_count\":8")
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_torn_log_tail_is_repaired_at_start() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let s = start(file_config(dir.path())).await;
    for i in 0..3 {
        append(s.local_addr(), &agent_msg(i)).await;
    }
    s.shutdown().await.unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("messages.log"))
        .unwrap();
    // A record cut short: the magic, a length of 200, an index, a CRC and two payload bytes.
    let mut torn = vec![0xFF, b'S', b'S', b'E', 200, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
    torn.extend_from_slice(&[1, 2, 3, 4, b'{', b'"']);
    f.write_all(&torn).unwrap();
    drop(f);
    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    let msgs = get(a, "/messages").await.json();
    assert_eq!(msgs.as_array().unwrap().len(), 3);
    assert_eq!(append(a, &agent_msg(3)).await, 3);
    s.shutdown().await.unwrap();
    let s = start(file_config(dir.path())).await;
    assert_eq!(
        get(s.local_addr(), "/messages")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        4
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_bad_input_gets_its_status_and_a_json_error() {
    let mut c = config();
    c.max_body = 1024;
    c.hub.max_subscribers = 1;
    let s = start(c).await;
    let a = s.local_addr();
    append(a, &agent_msg(0)).await;
    let big = format!(r#"{{"type":"agent","content":"{}"}}"#, "x".repeat(2000));
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/stream?from=abc", None, vec![], 400, "from"),
        // (`from=-1` is 0, as sketch's server read it: PROTOCOL.md §2.)
        ("GET", "/stream?from=1.5", None, vec![], 400, "from"),
        (
            "GET",
            "/stream?from=99999999999999999999999",
            None,
            vec![],
            400,
            "from",
        ),
        (
            "GET",
            "/stream",
            None,
            vec![("last-event-id", "garbage")],
            400,
            "Last-Event-ID",
        ),
        ("GET", "/messages?start=5&end=2", None, vec![], 400, "start"),
        ("GET", "/messages?start=x", None, vec![], 400, "start"),
        (
            "POST",
            "/api/messages",
            Some("{not json"),
            vec![],
            400,
            "malformed JSON",
        ),
        (
            "POST",
            "/api/messages",
            Some(r#"{"type":"robot"}"#),
            vec![],
            400,
            "unknown message type",
        ),
        (
            "POST",
            "/api/messages",
            Some(r#"{"content":"no type"}"#),
            vec![],
            400,
            "type",
        ),
        (
            "POST",
            "/api/messages",
            Some("[1,2]"),
            vec![],
            400,
            "object",
        ),
        ("POST", "/api/messages", Some(&big), vec![], 413, "limit"),
        (
            "PATCH",
            "/api/state",
            Some(r#"{"outstanding_llm_calls":"many"}"#),
            vec![],
            400,
            "invalid field",
        ),
        (
            "POST",
            "/chat",
            Some(r#"{"nope":1}"#),
            vec![],
            400,
            "message",
        ),
        ("DELETE", "/stream", None, vec![], 405, "method"),
        ("POST", "/state", Some("{}"), vec![], 405, "method"),
        ("GET", "/api/messages", None, vec![], 405, "method"),
        (
            "GET",
            "/no/such/thing",
            None,
            vec![],
            404,
            "no such endpoint",
        ),
    ];
    for (method, path, body, headers, status, needle) in cases {
        let r = request(a, method, path, body, &headers).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert_eq!(
            r.headers["content-type"], "application/json",
            "{method} {path}"
        );
        let err = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(
            err.contains(needle),
            "{method} {path}: {err:?} lacks {needle:?}"
        );
    }
    // Nothing changed.
    assert_eq!(get(a, "/state").await.json()["message_count"], 1);
    // Too many subscribers: 503 with Retry-After.
    let mut first = open(a, "/stream", &[]).await;
    assert_eq!(first.next().await.unwrap().event, "state");
    let r = request(a, "GET", "/stream", None, &[]).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("too many subscribers")
    );
    drop(first);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_fields_pass_through_unchanged() {
    let s = start(config()).await;
    let a = s.local_addr();
    let sent = json!({"type": "agent", "future_field": {"nested": [1, 2.5, null, "é"]}, "content": "x", "zz": true});
    assert_eq!(append(a, &sent).await, 0);
    let got = &get(a, "/messages?start=0&end=1").await.json()[0];
    for (k, v) in sent.as_object().unwrap() {
        assert_eq!(&got[k], v, "{k}");
    }
    let mut st = open(a, "/stream", &[]).await;
    let ev = st.next_of("message").await.unwrap();
    assert_eq!(ev.json()["future_field"], sent["future_field"]);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn auth_on_protects_writes_the_inbox_and_reads() {
    let mut c = config();
    c.token = Some("s3cret".into());
    let s = start(c).await;
    let a = s.local_addr();
    let body = agent_msg(0).to_string();
    for (method, path, b) in [
        ("POST", "/api/messages", Some(body.as_str())),
        ("PATCH", "/api/state", Some("{}")),
        ("GET", "/api/inbox", None),
        ("POST", "/chat", Some(r#"{"message":"hi"}"#)),
        ("POST", "/cancel", Some("{}")),
        ("POST", "/restart", Some("{}")),
    ] {
        for auth in [vec![], vec![("authorization", "Bearer wrong")]] {
            let r = request(a, method, path, b, &auth).await;
            assert_eq!(r.status, 401, "{method} {path}");
            assert_eq!(r.headers["www-authenticate"], "Bearer");
            assert!(r.json()["error"].is_string());
        }
    }
    let ok = request(
        a,
        "POST",
        "/api/messages",
        Some(&body),
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!((ok.status, ok.json()), (200, json!({"idx": 0})));
    // Reads need the token too now (security.rs has the details: read token, access_token,
    // --open-reads).
    assert_eq!(get(a, "/state").await.status, 401);
    assert_eq!(get(a, "/messages").await.status, 401);
    assert_eq!(open(a, "/stream", &[]).await.status, 401);
    let auth = [("authorization", "Bearer s3cret")];
    assert_eq!(request(a, "GET", "/state", None, &auth).await.status, 200);
    assert_eq!(
        request(a, "GET", "/messages", None, &auth).await.status,
        200
    );
    let st = open(a, "/stream", &auth).await;
    assert_eq!(st.status, 200);
    s.shutdown().await.unwrap();

    let s = start(config()).await; // auth off
    assert_eq!(append(s.local_addr(), &agent_msg(0)).await, 0);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn chat_cancel_restart_reach_the_inbox_and_chat_joins_the_conversation() {
    let s = start(config()).await;
    let a = s.local_addr();
    let r = request(a, "POST", "/chat", Some(r#"{"message":"hello"}"#), &[]).await;
    assert_eq!(r.json(), json!({"idx": 0}));
    request(a, "POST", "/cancel", Some(r#"{"reason":"stop"}"#), &[]).await;
    let mut inbox = open(a, "/api/inbox", &[]).await;
    assert_eq!(inbox.status, 200);
    let chat = inbox.next().await.unwrap();
    assert_eq!(
        (chat.event.as_str(), chat.last_event_id.as_str()),
        ("chat", "1")
    );
    assert_eq!(chat.json()["message"], "hello");
    assert_eq!(inbox.next().await.unwrap().event, "cancel");
    request(
        a,
        "POST",
        "/restart",
        Some(r#"{"revision":"abc","initial_prompt":"go"}"#),
        &[],
    )
    .await;
    let restart = inbox.next().await.unwrap();
    assert_eq!(restart.json()["revision"], "abc");
    let user = &get(a, "/messages").await.json()[0];
    assert_eq!(
        (user["type"].as_str(), user["content"].as_str()),
        (Some("user"), Some("hello"))
    );
    // Resuming the inbox with Last-Event-ID.
    let mut again = open(a, "/api/inbox", &[("last-event-id", "1")]).await;
    assert_eq!(again.next().await.unwrap().event, "cancel");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn download_and_messages_serve_the_conversation() {
    let s = start(config()).await;
    let a = s.local_addr();
    for i in 0..5 {
        append(a, &agent_msg(i)).await;
    }
    let page = get(a, "/messages?start=1&end=3").await.json();
    let idx: Vec<u64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["idx"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, [1, 2]);
    assert_eq!(get(a, "/messages?start=5").await.json(), json!([]));
    let d = get(a, "/download").await;
    assert!(
        d.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let d = d.json();
    assert_eq!(d["messages"].as_array().unwrap().len(), 5);
    assert_eq!(d["state"]["message_count"], 5);
    let m = get(a, "/metrics").await.body;
    for name in [
        "sse_subscribers ",
        "sse_messages_published_total 5",
        "sse_events_delivered_total",
        "sse_subscribers_lagged_total",
        "sse_subscribers_dropped_total",
        "sse_bytes_out_total",
        "sse_log_bytes",
    ] {
        assert!(m.contains(name), "{name} in {m}");
    }
    assert!(get(a, "/").await.body.contains("<html"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn session_ended_is_sent_after_the_messages_and_ends_the_stream() {
    let s = start(config()).await;
    let a = s.local_addr();
    let mut st = open(a, "/stream", &[]).await;
    append(a, &agent_msg(0)).await;
    request(
        a,
        "PATCH",
        "/api/state",
        Some(r#"{"session_ended":true}"#),
        &[],
    )
    .await;
    let mut kinds = Vec::new();
    while let Some(ev) = st.next().await {
        kinds.push(ev.event);
    }
    assert_eq!(kinds.last().map(String::as_str), Some("session_ended"));
    assert!(kinds.contains(&"message".to_owned()));
    // New clients get the backlog and then session_ended too.
    let mut late = open(a, "/stream?events=state", &[]).await;
    assert_eq!(late.next().await.unwrap().event, "state");
    assert_eq!(
        late.next().await.unwrap().json()["message"],
        "Session ended"
    );
    assert!(late.next().await.is_none());
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly() {
    let s = start(config()).await;
    let mut st = open(s.local_addr(), "/stream", &[]).await;
    assert_eq!(st.next().await.unwrap().event, "state");
    let t = tokio::spawn(async move { st.next().await });
    s.shutdown().await.unwrap();
    assert!(t.await.unwrap().is_none(), "the stream ended");
}

#[tokio::test]
async fn exec_runs_a_real_child_and_reports_its_death() {
    let script = r#"
echo '{"type":"agent","content":"hello from the child"}'
echo '{"state":{"title":"child agent","agent_state":"WaitingForUserInput"}}'
echo 'this is not json'
read -r line
case "$line" in *'"type":"chat"'*) echo '{"type":"agent","content":"got a chat","end_of_turn":true}';; esac
exit 3
"#;
    let mut c = config();
    c.agent = Agent::Exec {
        command: script.into(),
        max_line: 1 << 20,
    };
    let s = start(c).await;
    let a = s.local_addr();
    let mut st = open(a, "/stream", &[]).await;
    let first = st.next_of("message").await.unwrap();
    assert_eq!(first.json()["content"], "hello from the child");
    request(a, "POST", "/chat", Some(r#"{"message":"hi child"}"#), &[]).await;
    let mut contents = Vec::new();
    while contents.len() < 3 {
        contents.push(st.next_of("message").await.unwrap().json());
    }
    assert_eq!(contents[0]["type"], "user");
    assert_eq!(contents[1]["content"], "got a chat");
    assert_eq!(contents[2]["type"], "error");
    assert!(
        contents[2]["content"]
            .as_str()
            .unwrap()
            .contains("exit status: 3"),
        "{}",
        contents[2]
    );
    let state = sse_tests::eventually("agent_state Error", server::WAIT, async || {
        let state = get(a, "/state").await.json();
        (state["agent_state"] == "Error").then_some(state)
    })
    .await;
    assert_eq!(state["title"], "child agent");
    assert_eq!(state["can_send_messages"], false);
    assert_eq!(get(a, "/state").await.status, 200, "the server lives on");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_demo_agent_drives_a_full_turn() {
    let mut c = config();
    c.agent = Agent::Demo {
        step: Duration::from_millis(5),
    };
    let s = start(c).await;
    let a = s.local_addr();
    let mut st = open(a, "/stream", &[]).await;
    let initial = st.next_of("state").await.unwrap().json();
    assert_eq!(initial["agent_state"], "WaitingForUserInput");
    assert_eq!(initial["can_send_messages"], true);
    // Three turns: the third has a tool output over 100 KB.
    let mut messages = Vec::new();
    let mut states = Vec::new();
    for turn in 0..3 {
        request(
            a,
            "POST",
            "/chat",
            Some(&format!(r#"{{"message":"turn {turn}"}}"#)),
            &[],
        )
        .await;
        loop {
            let ev = st.next().await.unwrap();
            match ev.event.as_str() {
                "message" => messages.push(ev.json()),
                "state" => states.push(ev.json()["agent_state"].as_str().unwrap_or("").to_owned()),
                _ => {}
            }
            if messages.len() == 4 * (turn + 1)
                && messages.last().is_some_and(|m| m["end_of_turn"] == true)
                && states.last().map(String::as_str) == Some("WaitingForUserInput")
            {
                break;
            }
        }
    }
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["user", "agent", "tool", "agent"].repeat(3));
    assert!(messages[10]["tool_result"].as_str().unwrap().len() > 100 * 1024);
    for s in ["SendingToLLM", "RunningTool"] {
        assert!(states.iter().any(|x| x == s), "{s} in {states:?}");
    }
    let state = get(a, "/state").await.json();
    assert_eq!(state["total_usage"]["messages"], 6);
    assert_eq!(
        state["total_usage"]["tool_uses"],
        json!({"bash": 3}),
        "per tool, as sketch sends it"
    );
    assert!(state["total_usage"]["total_cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(state["message_count"], 12);
    s.shutdown().await.unwrap();
}
