//! Several `sse-host serve --store redis://…` nodes sharing one log on a real `redis-server`
//! (127.0.0.1, a free port, a temporary directory): cross-node delivery, dense indices under
//! concurrent publishers on every node, a node killed under load, Redis restarts (with and
//! without its data), and the retention cap.

use serde_json::{Value, json};
use sse_host::server::Server;
use sse_tests::eventually;
use sse_tests::redis::{NodeProcess, Persistence, RedisCluster, RedisServer, node_config};
use sse_tests::server::{self, Ev, SseStream, WAIT, append, open, request, start};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

fn msg(tag: &str, i: u64) -> Value {
    json!({"type": "agent", "content": format!("{tag}-{i}")})
}

fn idx_of(ev: &Ev) -> u64 {
    ev.idx()
}

async fn nodes(redis: &RedisServer, n: usize, max_len: Option<u64>) -> Vec<Server> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(start(node_config(&redis.url(), "sse:test", max_len)).await);
    }
    out
}

/// Opens `/stream?from=N` and checks the opening `state` event; returns it with the stream.
async fn subscribe(addr: SocketAddr, from: u64) -> (SseStream, Value) {
    let mut st = open(addr, &format!("/stream?from={from}"), &[]).await;
    assert_eq!(st.status, 200);
    let state = st.next().await.expect("state first");
    assert_eq!(state.event, "state", "{state:?}");
    (st, state.json())
}

/// The next `count` messages as (idx, content), skipping state and heartbeat events.
async fn take_messages(st: &mut SseStream, count: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while out.len() < count {
        let ev = st.next_of("message").await.expect("stream open");
        let content = ev.json()["content"].as_str().unwrap_or_default().to_owned();
        out.push((idx_of(&ev), content));
    }
    out
}

async fn shutdown(nodes: Vec<Server>) {
    for n in nodes {
        n.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn publish_on_a_arrives_on_b_and_c_with_one_epoch_and_state() {
    let redis = RedisServer::start(Persistence::None);
    let ns = nodes(&redis, 3, None).await;
    let (a, b, c) = (ns[0].local_addr(), ns[1].local_addr(), ns[2].local_addr());
    let epoch = ns[0].hub().epoch();
    assert!(ns.iter().all(|n| n.hub().epoch() == epoch), "one epoch");
    let (mut sb, state_b) = subscribe(b, 0).await;
    let (mut sc, _) = subscribe(c, 0).await;
    assert_eq!(state_b["epoch"], epoch);
    for i in 0..5 {
        assert_eq!(append(a, &msg("a", i)).await, i);
    }
    let want: Vec<(u64, String)> = (0..5).map(|i| (i, format!("a-{i}"))).collect();
    assert_eq!(take_messages(&mut sb, 5).await, want);
    assert_eq!(take_messages(&mut sc, 5).await, want);

    // State merged on A reaches B and C (coalesced: the latest state wins).
    let r = request(
        a,
        "PATCH",
        "/api/state",
        Some(r#"{"agent_state":"RunningTool","title":"t"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for st in [&mut sb, &mut sc] {
        loop {
            let s = st.next_of("state").await.expect("state").json();
            if s["agent_state"] == "RunningTool" {
                assert_eq!(s["message_count"], 5);
                assert_eq!(s["title"], "t");
                assert_eq!(s["epoch"], epoch);
                break;
            }
        }
    }
    // A patch on C merges with A's (compare-and-set in Redis, not last-writer-wins).
    let r = request(c, "PATCH", "/api/state", Some(r#"{"title":"u"}"#), &[]).await;
    assert_eq!(r.json()["agent_state"], "RunningTool");
    assert_eq!(r.json()["title"], "u");
    // Every node serves the same history.
    for n in [a, b, c] {
        let m = server::get(n, "/messages?start=1&end=3").await.json();
        assert_eq!(m[0]["content"], "a-1");
        assert_eq!(m[1]["idx"], 2);
    }
    shutdown(ns).await;
}

#[tokio::test]
async fn three_nodes_with_concurrent_publishers_give_dense_ordered_indices() {
    const TASKS_PER_NODE: u64 = 4;
    const PER_TASK: u64 = 40;
    const TOTAL: u64 = 3 * TASKS_PER_NODE * PER_TASK;
    let redis = RedisServer::start(Persistence::None);
    let ns = nodes(&redis, 3, None).await;
    let mut subs = Vec::new();
    for n in &ns {
        subs.push(subscribe(n.local_addr(), 0).await.0);
    }
    let mut tasks = Vec::new();
    for (node, n) in ns.iter().enumerate() {
        for t in 0..TASKS_PER_NODE {
            let hub = n.hub().clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..PER_TASK {
                    let content = format!("n{node}t{t}-{i}");
                    let idx = hub
                        .append(json!({"type": "agent", "content": content}))
                        .await
                        .expect("append");
                    got.push((idx.0, content));
                }
                got
            }));
        }
    }
    let mut assigned = BTreeMap::new();
    for t in tasks {
        let got = tokio::time::timeout(WAIT, t)
            .await
            .expect("publishers finish")
            .expect("publisher task");
        // Each publisher's own indices increase.
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "{got:?}");
        for (idx, content) in got {
            assert!(assigned.insert(idx, content).is_none(), "idx {idx} twice");
        }
    }
    assert_eq!(
        assigned.keys().copied().collect::<Vec<_>>(),
        (0..TOTAL).collect::<Vec<_>>(),
        "dense: every index 0..{TOTAL} exactly once"
    );
    let want: Vec<(u64, String)> = assigned.into_iter().collect();
    for st in &mut subs {
        let total = usize::try_from(TOTAL).expect("small");
        assert_eq!(
            take_messages(st, total).await,
            want,
            "same order on every node"
        );
    }
    shutdown(ns).await;
}

#[tokio::test]
async fn a_node_killed_under_load_clients_resume_on_another_exactly() {
    const TOTAL: u64 = 400;
    let redis = RedisServer::start(Persistence::None);
    let mut victim = NodeProcess::start(&redis.url(), "sse:test").await;
    let survivor = start(node_config(&redis.url(), "sse:test", None)).await;
    let (mut st, state) = subscribe(victim.addr, 0).await;
    let epoch = state["epoch"].as_str().expect("epoch").to_owned();
    assert_eq!(epoch, survivor.hub().epoch());

    let hub = survivor.hub().clone();
    let publisher = tokio::spawn(async move {
        for i in 0..TOTAL {
            hub.append(msg("load", i)).await.expect("append");
            if i % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    let mut received: Vec<u64> = Vec::new();
    while received.len() < 100 {
        let ev = st.next().await.expect("victim stream open");
        if ev.event == "message" {
            received.push(idx_of(&ev));
        }
    }
    victim.kill();
    // Drain what the dead connection had already delivered, until it ends.
    while let Some(ev) = st.next().await {
        if ev.event == "message" {
            received.push(idx_of(&ev));
        }
    }
    // Reconnect to the survivor as a client does: from = last + 1 and Last-Event-ID.
    let last = *received.last().expect("some messages");
    let mut st = open(
        survivor.local_addr(),
        &format!("/stream?from={}", last + 1),
        &[("last-event-id", &last.to_string())],
    )
    .await;
    let state = st.next().await.expect("state");
    assert_eq!(state.event, "state");
    assert_eq!(state.json()["epoch"], epoch, "same epoch on the other node");
    while received.len() < usize::try_from(TOTAL).expect("small") {
        let ev = st.next_of("message").await.expect("survivor stream open");
        received.push(idx_of(&ev));
    }
    tokio::time::timeout(WAIT, publisher)
        .await
        .expect("publisher finishes")
        .expect("publisher task");
    assert_eq!(
        received,
        (0..TOTAL).collect::<Vec<_>>(),
        "no loss, no duplicate"
    );
    survivor.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn redis_restart_publishes_503_then_recover_and_subscribers_continue() {
    let mut redis = RedisServer::start(Persistence::Aof);
    let mut configs = Vec::new();
    for _ in 0..2 {
        let mut c = node_config(&redis.url(), "sse:test", None);
        c.hub.heartbeat = Duration::from_millis(200);
        configs.push(c);
    }
    let a = start(configs.remove(0)).await;
    let b = start(configs.remove(0)).await;
    let epoch = a.hub().epoch();
    let (mut st, _) = subscribe(b.local_addr(), 0).await;
    for i in 0..5 {
        append(a.local_addr(), &msg("before", i)).await;
    }
    assert_eq!(take_messages(&mut st, 5).await.len(), 5);

    redis.stop();
    let r = request(
        a.local_addr(),
        "POST",
        "/api/messages",
        Some(&msg("down", 0).to_string()),
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    let error = r.json()["error"].as_str().expect("JSON error").to_owned();
    assert!(error.contains("Redis"), "a clear error: {error}");
    assert!(r.headers.contains_key("retry-after"));
    // The subscriber's connection stays up: heartbeats keep coming while Redis is down.
    assert_eq!(
        st.next_of("heartbeat").await.expect("stream open").event,
        "heartbeat"
    );

    redis.restart();
    // Publishes succeed again within a bounded time.
    let first_after = eventually("publishes work again", WAIT, async || {
        let r = request(
            a.local_addr(),
            "POST",
            "/api/messages",
            Some(&msg("after", 0).to_string()),
            &[],
        )
        .await;
        if r.status == 200 {
            return Some(r.json()["idx"].as_u64().expect("idx"));
        }
        assert_eq!(r.status, 503, "{}", r.body);
        None
    })
    .await;
    assert_eq!(
        first_after, 5,
        "nothing acknowledged was lost, no index reused"
    );
    for i in 1..5 {
        append(b.local_addr(), &msg("after", i)).await;
    }
    let got = take_messages(&mut st, 5).await;
    let want: Vec<(u64, String)> = (0..5).map(|i| (5 + i, format!("after-{i}"))).collect();
    assert_eq!(got, want, "the same stream continues");
    assert_eq!(a.hub().epoch(), epoch);
    assert_eq!(b.hub().epoch(), epoch);
    shutdown(vec![a, b]).await;
}

#[tokio::test]
async fn redis_that_lost_its_data_gives_a_new_epoch_never_reused_indices() {
    let mut redis = RedisServer::start(Persistence::None);
    let ns = nodes(&redis, 2, None).await;
    let (a, b) = (ns[0].local_addr(), ns[1].local_addr());
    let old = ns[0].hub().epoch();
    let (mut st, _) = subscribe(b, 0).await;
    for i in 0..3 {
        append(a, &msg("old", i)).await;
    }
    assert_eq!(take_messages(&mut st, 3).await.len(), 3);
    redis.restart(); // no persistence: everything is gone
    // The open stream ends (its indices would now name other messages) ...
    while let Some(ev) = st.next().await {
        assert_ne!(ev.event, "message", "no message of another history: {ev:?}");
    }
    // ... and every node adopts one new epoch; publishing starts again at 0.
    let idx = eventually("publishes work again", WAIT, async || {
        let r = request(
            a,
            "POST",
            "/api/messages",
            Some(&msg("new", 0).to_string()),
            &[],
        )
        .await;
        (r.status == 200).then(|| r.json()["idx"].as_u64().expect("idx"))
    })
    .await;
    assert_eq!(idx, 0);
    let new = ns[0].hub().epoch();
    assert_ne!(new, old);
    // A client resuming at 3 on B sees the new epoch first (and resets its copy).
    eventually("B adopts the new epoch", WAIT, async || {
        (ns[1].hub().epoch() == new).then_some(())
    })
    .await;
    let mut st = open(b, "/stream?from=3", &[]).await;
    let first = st.next().await.expect("an event");
    let state = if first.event == "reset" {
        assert_eq!(first.json()["epoch"], new);
        st.next().await.expect("state")
    } else {
        first
    };
    assert_eq!(state.event, "state");
    assert_eq!(state.json()["epoch"], new);
    shutdown(ns).await;
}

#[tokio::test]
async fn retention_cap_keeps_the_newest_n_and_resets_clients_below_it() {
    let redis = RedisServer::start(Persistence::None);
    let ns = nodes(&redis, 2, Some(5)).await;
    let (a, b) = (ns[0].local_addr(), ns[1].local_addr());
    for i in 0..12 {
        append(a, &msg("r", i)).await;
    }
    // B has followed every append, so it knows the first kept index.
    eventually("B reads every append", WAIT, async || {
        (ns[1].hub().message_count().0 >= 12).then_some(())
    })
    .await;
    for node in [a, b] {
        // Below the cap: reset (current epoch and count), then the kept messages 7..12.
        let mut st = open(node, "/stream?from=2", &[]).await;
        let reset = st.next().await.expect("reset");
        assert_eq!(reset.event, "reset", "{reset:?}");
        assert_eq!(reset.json()["message_count"], 12);
        assert_eq!(reset.json()["epoch"], ns[0].hub().epoch());
        let state = st.next().await.expect("state").json();
        assert_eq!(state["first_message_index"], 7);
        let got: Vec<u64> = take_messages(&mut st, 5)
            .await
            .into_iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(got, (7..12).collect::<Vec<_>>());
        // At the cap: a plain replay.
        let (mut st, _) = subscribe(node, 7).await;
        assert_eq!(take_messages(&mut st, 1).await[0].0, 7);
    }
    let m = server::get(b, "/messages?start=0").await.json();
    let kept: Vec<u64> = m
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["idx"].as_u64())
        .collect();
    assert_eq!(kept, (7..12).collect::<Vec<_>>(), "the stream holds 5");
    shutdown(ns).await;
}

/// A TLS-only Redis with a certificate from a private CA: with `--redis-ca` two nodes share
/// the log over TLS (appends, the tail's `XREAD`, state) exactly as over plain TCP.
#[tokio::test]
async fn rediss_with_a_private_ca_shares_the_log_between_nodes() {
    let redis = RedisServer::start_tls();
    let ca = redis.tls().expect("TLS server").ca.clone();
    let config = || {
        let mut config = node_config(&redis.url(), "sse:tls", None);
        if let sse_host::server::Store::Redis(r) = &mut config.store {
            r.ca = Some(ca.clone());
        }
        config
    };
    let (a, b) = (start(config()).await, start(config()).await);
    assert_eq!(a.hub().epoch(), b.hub().epoch(), "one log");
    let (mut sb, _) = subscribe(b.local_addr(), 0).await;
    for i in 0..3 {
        assert_eq!(append(a.local_addr(), &msg("tls", i)).await, i);
    }
    let want: Vec<(u64, String)> = (0..3).map(|i| (i, format!("tls-{i}"))).collect();
    assert_eq!(take_messages(&mut sb, 3).await, want);
    drop(sb);
    shutdown(vec![a, b]).await;
}

/// Without the CA, the system's trust store does not know the private CA: opening the log
/// fails with the TLS error (promptly, no panic), so `serve` refuses to start.
#[tokio::test]
async fn rediss_with_an_unknown_issuer_is_refused_with_a_certificate_error() {
    let redis = RedisServer::start_tls();
    let config = sse_host::log::RedisConfig {
        url: redis.url(),
        ca: None,
        client_cert: None,
        cluster: false,
        key: "sse:tls".into(),
        max_len: None,
    };
    let opened = tokio::time::timeout(WAIT, sse_host::log::RedisLog::open(&config))
        .await
        .expect("fails within the wait, not a hang");
    let err = opened
        .expect_err("an untrusted certificate must be refused")
        .to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

/// `--redis-ca` with a plain `redis://` URL, or a CA file that is not there: a clear error
/// naming the problem, before anything connects.
#[tokio::test]
async fn redis_ca_misuse_is_a_clear_error() {
    let redis = RedisServer::start(Persistence::None);
    let plain = sse_host::log::RedisConfig {
        url: redis.url(),
        ca: Some("ca.pem".into()),
        client_cert: None,
        cluster: false,
        key: "sse:tls".into(),
        max_len: None,
    };
    let err = sse_host::log::RedisLog::open(&plain)
        .await
        .expect_err("plain URL");
    assert!(err.to_string().contains("rediss://"), "{err}");
    let missing = sse_host::log::RedisConfig {
        url: "rediss://127.0.0.1:1/0".into(),
        ca: Some("/nonexistent/ca.pem".into()),
        ..plain
    };
    let err = sse_host::log::RedisLog::open(&missing)
        .await
        .expect_err("no file");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

/// A Redis that authenticates clients by certificate (`tls-auth-clients yes`): with
/// `--redis-cert`/`--redis-cert-key` a node opens the log and serves it; without a certificate
/// the handshake is refused promptly and the node does not start.
#[tokio::test]
async fn rediss_with_a_client_certificate_for_a_redis_that_requires_one() {
    let redis = RedisServer::start_mutual_tls();
    let tls = redis.tls().expect("TLS server").clone();
    let config = |client_cert: Option<sse_host::log::ClientCert>| sse_host::log::RedisConfig {
        url: redis.url(),
        ca: Some(tls.ca.clone()),
        client_cert,
        cluster: false,
        key: "sse:mtls".into(),
        max_len: None,
    };
    let without = tokio::time::timeout(WAIT, sse_host::log::RedisLog::open(&config(None)))
        .await
        .expect("fails within the wait, not a hang");
    assert!(without.is_err(), "no client certificate must be refused");

    let cert = sse_host::log::ClientCert {
        cert: tls.client_cert.clone(),
        key: tls.client_key.clone(),
    };
    let mut node = node_config(&redis.url(), "sse:mtls", None);
    node.store = sse_host::server::Store::Redis(config(Some(cert)));
    let a = start(node).await;
    let (mut sa, _) = subscribe(a.local_addr(), 0).await;
    for i in 0..2 {
        assert_eq!(append(a.local_addr(), &msg("mtls", i)).await, i);
    }
    let want: Vec<(u64, String)> = (0..2).map(|i| (i, format!("mtls-{i}"))).collect();
    assert_eq!(take_messages(&mut sa, 2).await, want);
    drop(sa);
    shutdown(vec![a]).await;
}

/// Client certificate files that are missing, or given with a plain `redis://` URL: a clear
/// error naming the file, before anything connects.
#[tokio::test]
async fn redis_client_certificate_misuse_is_a_clear_error() {
    let cert = sse_host::log::ClientCert {
        cert: "/nonexistent/node.pem".into(),
        key: "/nonexistent/node.key".into(),
    };
    let config = |url: &str| sse_host::log::RedisConfig {
        url: url.into(),
        ca: None,
        client_cert: Some(cert.clone()),
        cluster: false,
        key: "sse:mtls".into(),
        max_len: None,
    };
    let err = sse_host::log::RedisLog::open(&config("redis://127.0.0.1:1/0"))
        .await
        .expect_err("plain URL");
    assert!(err.to_string().contains("rediss://"), "{err}");
    let err = sse_host::log::RedisLog::open(&config("rediss://127.0.0.1:1/0"))
        .await
        .expect_err("no file");
    assert!(err.to_string().contains("/nonexistent/node.pem"), "{err}");
}

/// A node on the Redis Cluster reached through `seeds` (`--redis-cluster`).
fn cluster_node_config(seeds: &str, key: &str) -> sse_host::server::ServerConfig {
    let mut config = node_config(seeds, key, None);
    if let sse_host::server::Store::Redis(r) = &mut config.store {
        r.cluster = true;
    }
    config
}

/// A Redis Cluster of three masters: nodes seeded from different masters share one log (one
/// epoch, dense indices, every node's subscribers get every message, state merges), and all of
/// the conversation's keys sit on one master, in the slot of its hash tag.
#[tokio::test]
async fn a_redis_cluster_serves_one_log_to_nodes_seeded_from_different_masters() {
    let cluster = RedisCluster::start(3);
    let config = |seed: &str| cluster_node_config(seed, "sse:cluster");
    let (a, b) = (
        start(config(&cluster.url(0))).await,
        start(config(&cluster.url(2))).await,
    );
    assert_eq!(a.hub().epoch(), b.hub().epoch(), "one log");
    // Several seeds: the first is down, the next one answers.
    let down = format!("redis://127.0.0.1:{}/0", sse_tests::redis::free_port());
    let c = start(config(&format!("{down},{}", cluster.url(1)))).await;
    assert_eq!(c.hub().epoch(), a.hub().epoch(), "one log");
    // Without --redis-cluster, a list is refused.
    let mut single = node_config(&cluster.url(0), "sse:cluster", None);
    if let sse_host::server::Store::Redis(r) = &mut single.store {
        r.url = format!("{down},{}", cluster.url(1));
    }
    let err = sse_host::server::Server::start(single)
        .await
        .expect_err("a list without --redis-cluster");
    assert!(err.to_string().contains("--redis-cluster"), "{err}");
    let (mut sa, _) = subscribe(a.local_addr(), 0).await;
    let (mut sb, _) = subscribe(b.local_addr(), 0).await;
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(append(node.local_addr(), &msg("c", i)).await, i);
    }
    let want: Vec<(u64, String)> = (0..6).map(|i| (i, format!("c-{i}"))).collect();
    assert_eq!(take_messages(&mut sa, 6).await, want);
    assert_eq!(take_messages(&mut sb, 6).await, want);

    let r = request(
        a.local_addr(),
        "PATCH",
        "/api/state",
        Some(r#"{"title":"t"}"#),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(
        b.local_addr(),
        "PATCH",
        "/api/state",
        Some(r#"{"agent_state":"Thinking"}"#),
        &[],
    )
    .await;
    assert_eq!(
        (r.json()["title"].as_str(), r.json()["agent_state"].as_str()),
        (Some("t"), Some("Thinking"))
    );

    let counts = cluster.key_counts();
    assert_eq!(
        counts.iter().filter(|&&n| n > 0).count(),
        1,
        "keys per master: {counts:?}"
    );
    drop((sa, sb));
    shutdown(vec![a, b, c]).await;
}

/// Failover: the master holding the conversation's slot is killed. Its replica takes over;
/// publishes answer 503 meanwhile and then succeed with the next index (nothing acknowledged and
/// replicated is lost, nothing is reused), and a subscriber on another node keeps following.
/// The nodes are seeded from replicas, which the test never kills.
#[tokio::test]
async fn a_redis_cluster_failover_keeps_indices_dense_and_subscribers_following() {
    let mut cluster = RedisCluster::start_with_replicas(3, 1);
    assert!(
        (3..6).all(|i| !cluster.is_master(i)),
        "servers 3.. are the replicas"
    );
    let config = |seed: &str| cluster_node_config(seed, "sse:failover");
    let (a, b) = (
        start(config(&cluster.url(3))).await,
        start(config(&cluster.url(4))).await,
    );
    let (mut sb, _) = subscribe(b.local_addr(), 0).await;
    for i in 0..3 {
        assert_eq!(append(a.local_addr(), &msg("f", i)).await, i);
    }
    assert_eq!(take_messages(&mut sb, 3).await.len(), 3);
    // The slot's master, once its replica holds the same keys (replication is asynchronous).
    let owner = eventually("the replica holds the master's keys", WAIT, async || {
        let counts = cluster.key_counts();
        let owner = (0..3)
            .find(|&i| counts[i] > 0)
            .expect("a master holds the keys");
        counts[3..].contains(&counts[owner]).then_some(owner)
    })
    .await;
    cluster.kill(owner);

    // Publishes fail (503) until the replica is promoted, then get the next index.
    let body = msg("f", 3).to_string();
    let idx = eventually("failover", Duration::from_secs(30), async || {
        let r = request(a.local_addr(), "POST", "/api/messages", Some(&body), &[]).await;
        match r.status {
            200 => Some(r.json()["idx"].as_u64().expect("idx")),
            503 => None,
            other => panic!("publish during failover: {other} {}", r.body),
        }
    })
    .await;
    assert_eq!(idx, 3, "the index after the last acknowledged one");
    assert!(
        (3..6).any(|i| cluster.is_master(i)),
        "a replica was promoted"
    );
    assert_eq!(append(b.local_addr(), &msg("f", 4)).await, 4);
    let want: Vec<(u64, String)> = (3..5).map(|i| (i, format!("f-{i}"))).collect();
    assert_eq!(take_messages(&mut sb, 2).await, want);
    drop(sb);
    shutdown(vec![a, b]).await;
}

const TEXT: (&str, &str) = ("content-type", "text/plain");

/// An offset at byte `pos` of segment 0.
fn offset(pos: u64) -> String {
    format!("0000000000000000_{pos:016}")
}

/// A Redis node whose long-polls wait long enough that only an append can end one early.
fn durable_node(redis: &RedisServer) -> sse_host::server::ServerConfig {
    let mut c = node_config(&redis.url(), "sse:test", None);
    c.durable.args.long_poll = Duration::from_secs(15);
    c
}

/// Durable Streams on a Redis store are Redis's: a stream created and appended on node A is
/// read on node B at the same offsets (bytes and JSON), HEAD agrees, and a delete on B is
/// seen on A.
#[tokio::test]
async fn durable_streams_written_on_one_node_are_read_on_another_at_the_same_offsets() {
    let redis = RedisServer::start(Persistence::None);
    let (na, nb) = (
        start(durable_node(&redis)).await,
        start(durable_node(&redis)).await,
    );
    let (a, b) = (na.local_addr(), nb.local_addr());
    let r = request(a, "PUT", "/v1/stream/chat/1", Some("hello "), &[TEXT]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.headers["stream-next-offset"], offset(6).as_str());
    let r = request(a, "POST", "/v1/stream/chat/1", Some("world"), &[TEXT]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.headers["stream-next-offset"], offset(11).as_str());
    // B: the same stream, the same offsets.
    let head = request(b, "HEAD", "/v1/stream/chat/1", None, &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["stream-next-offset"], offset(11).as_str());
    let r = request(b, "GET", "/v1/stream/chat/1", None, &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello world"));
    assert_eq!(r.headers["stream-next-offset"], offset(11).as_str());
    let from = format!("/v1/stream/chat/1?offset={}", offset(6));
    assert_eq!(request(b, "GET", &from, None, &[]).await.body, "world");
    // An append on B continues A's offsets; a second PUT on B confirms A's stream.
    let r = request(b, "POST", "/v1/stream/chat/1", Some("!"), &[TEXT]).await;
    assert_eq!(r.headers["stream-next-offset"], offset(12).as_str());
    let again = request(b, "PUT", "/v1/stream/chat/1", None, &[TEXT]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    // JSON mode: messages are positions, on every node.
    let json = ("content-type", "application/json");
    let r = request(
        a,
        "PUT",
        "/v1/stream/j",
        Some(r#"[{"n":1},{"n":2}]"#),
        &[json],
    )
    .await;
    assert_eq!(r.headers["stream-next-offset"], offset(2).as_str());
    let r = request(
        b,
        "GET",
        &format!("/v1/stream/j?offset={}", offset(1)),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body, r#"[{"n":2}]"#);
    // A delete on B is a delete on A.
    assert_eq!(
        request(b, "DELETE", "/v1/stream/chat/1", None, &[])
            .await
            .status,
        204
    );
    assert_eq!(
        request(a, "GET", "/v1/stream/chat/1", None, &[])
            .await
            .status,
        404
    );
    shutdown(vec![na, nb]).await;
}

/// Appends racing on two nodes get dense offsets: every byte lands once, none overlap.
#[tokio::test]
async fn durable_appends_racing_on_two_nodes_get_dense_offsets() {
    const PER_NODE: u64 = 25;
    let redis = RedisServer::start(Persistence::None);
    let (na, nb) = (
        start(durable_node(&redis)).await,
        start(durable_node(&redis)).await,
    );
    let (a, b) = (na.local_addr(), nb.local_addr());
    assert_eq!(
        request(a, "PUT", "/v1/stream/race", None, &[TEXT])
            .await
            .status,
        201
    );
    let mut tasks = Vec::new();
    for (node, letter) in [(a, "a"), (b, "b")] {
        tasks.push(tokio::spawn(async move {
            let mut ends = Vec::new();
            for _ in 0..PER_NODE {
                let r = request(node, "POST", "/v1/stream/race", Some(letter), &[TEXT]).await;
                assert_eq!(r.status, 204, "{}", r.body);
                ends.push(r.headers["stream-next-offset"].to_str().unwrap().to_owned());
            }
            ends
        }));
    }
    let mut ends = Vec::new();
    for t in tasks {
        ends.extend(t.await.expect("task"));
    }
    ends.sort();
    let want: Vec<String> = (1..=2 * PER_NODE).map(offset).collect();
    assert_eq!(ends, want, "each append got its own next offset");
    let body = request(b, "GET", "/v1/stream/race", None, &[]).await.body;
    assert_eq!(body.len() as u64, 2 * PER_NODE);
    assert_eq!(body.matches('a').count() as u64, PER_NODE);
    shutdown(vec![na, nb]).await;
}

/// A long-poll and an SSE read on node B, waiting at the tail, are woken by an append made on
/// node A (not by their timeouts: the long-poll would answer 204, the SSE response stay
/// silent for a minute).
#[tokio::test]
async fn durable_live_reads_on_one_node_wake_on_an_append_on_another() {
    let redis = RedisServer::start(Persistence::None);
    let (na, nb) = (
        start(durable_node(&redis)).await,
        start(durable_node(&redis)).await,
    );
    let (a, b) = (na.local_addr(), nb.local_addr());
    assert_eq!(
        request(a, "PUT", "/v1/stream/live", Some("x"), &[TEXT])
            .await
            .status,
        201
    );
    let mut sse = open(
        b,
        &format!("/v1/stream/live?offset={}&live=sse", offset(1)),
        &[],
    )
    .await;
    assert_eq!(sse.status, 200);
    let first = sse.next_of("control").await.expect("control");
    assert!(first.data.contains("\"upToDate\":true"), "{}", first.data);
    let waiter = tokio::spawn(async move {
        let path = format!("/v1/stream/live?offset={}&live=long-poll", offset(1));
        request(b, "GET", &path, None, &[]).await
    });
    // Let the long-poll reach B's wait (if the append comes first, it finds the data at once).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = request(a, "POST", "/v1/stream/live", Some("yz"), &[TEXT]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let polled = tokio::time::timeout(WAIT, waiter)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!((polled.status, polled.body.as_str()), (200, "yz"));
    assert_eq!(polled.headers["stream-next-offset"], offset(3).as_str());
    let data = sse.next_of("data").await.expect("data");
    assert_eq!(data.data, "yz");
    let control = sse.next_of("control").await.expect("control");
    assert!(control.data.contains(&offset(3)), "{}", control.data);
    // A close on A ends B's SSE response.
    let r = request(
        a,
        "POST",
        "/v1/stream/live",
        None,
        &[("stream-closed", "true")],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let closed = sse.next_of("control").await.expect("control");
    assert!(
        closed.data.contains("\"streamClosed\":true"),
        "{}",
        closed.data
    );
    assert!(sse.next().await.is_none(), "ends after the close");
    shutdown(vec![na, nb]).await;
}

/// Nothing acknowledged is lost when nodes restart (the streams are Redis's), nor when Redis
/// restarts with `appendfsync always`: data, offsets, the closed flag, producer state (a retry
/// is still a duplicate), forks.
#[tokio::test]
async fn durable_streams_survive_node_and_redis_restarts() {
    let mut redis = RedisServer::start(Persistence::Aof);
    let na = start(durable_node(&redis)).await;
    let a = na.local_addr();
    let producer = [
        TEXT,
        ("producer-id", "p"),
        ("producer-epoch", "0"),
        ("producer-seq", "0"),
    ];
    assert_eq!(
        request(a, "PUT", "/v1/stream/keep", Some("hello "), &[TEXT])
            .await
            .status,
        201
    );
    let r = request(a, "POST", "/v1/stream/keep", Some("world"), &producer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fork = [
        TEXT,
        ("stream-forked-from", "/v1/stream/keep"),
        ("stream-fork-offset", "0000000000000000_0000000000000006"),
    ];
    assert_eq!(
        request(a, "PUT", "/v1/stream/fork", Some("there"), &fork)
            .await
            .status,
        201
    );
    let r = request(
        a,
        "PUT",
        "/v1/stream/done",
        Some("end"),
        &[TEXT, ("stream-closed", "true")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    na.shutdown().await.expect("clean shutdown");

    let check = async |n: SocketAddr| {
        let r = request(n, "GET", "/v1/stream/keep", None, &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "hello world"));
        assert_eq!(r.headers["stream-next-offset"], offset(11).as_str());
        let r = request(n, "GET", "/v1/stream/fork", None, &[]).await;
        assert_eq!(r.body, "hello there");
        let r = request(n, "HEAD", "/v1/stream/done", None, &[]).await;
        assert_eq!(r.headers["stream-closed"], "true");
        // The producer's retry is a duplicate: nothing appended twice.
        let r = request(n, "POST", "/v1/stream/keep", Some("world"), &producer).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(r.headers["stream-next-offset"], offset(11).as_str());
    };
    let nb = start(durable_node(&redis)).await;
    check(nb.local_addr()).await;
    redis.restart();
    let b = nb.local_addr();
    eventually("the node reaches the restarted Redis", WAIT, async || {
        (request(b, "HEAD", "/v1/stream/keep", None, &[])
            .await
            .status
            == 200)
            .then_some(())
    })
    .await;
    check(b).await;
    shutdown(vec![nb]).await;
}

/// An expired stream that no request names is still ended (each node sweeps): here it held
/// the only place `--durable-max-streams 1` allows, and a new stream gets it.
#[tokio::test]
async fn expired_durable_streams_no_request_names_are_swept() {
    let redis = RedisServer::start(Persistence::None);
    let mut c = durable_node(&redis);
    c.durable.args.max_streams = 1;
    let n = start(c).await;
    let a = n.local_addr();
    let r = request(
        a,
        "PUT",
        "/v1/stream/short",
        None,
        &[TEXT, ("stream-ttl", "1")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let full = request(a, "PUT", "/v1/stream/next", None, &[TEXT]).await;
    assert_eq!(full.status, 507, "{}", full.body);
    eventually("the expired stream is swept", WAIT, async || {
        (request(a, "PUT", "/v1/stream/next", None, &[TEXT])
            .await
            .status
            == 201)
            .then_some(())
    })
    .await;
    shutdown(vec![n]).await;
}

/// A Redis that lost its data starts creation numbers somewhere new, so a stream re-created
/// at the same path with the same bytes never answers with the lost stream's `ETag` (a cache
/// would take one for the other).
#[tokio::test]
async fn redis_that_lost_its_data_never_repeats_a_durable_etag() {
    let mut redis = RedisServer::start(Persistence::None);
    let n = start(durable_node(&redis)).await;
    let a = n.local_addr();
    let etag = async || {
        let r = request(a, "PUT", "/v1/stream/e", Some("same"), &[TEXT]).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = request(a, "GET", "/v1/stream/e", None, &[]).await;
        r.headers["etag"].to_str().unwrap().to_owned()
    };
    let before = etag().await;
    redis.restart();
    eventually("the node reaches the restarted Redis", WAIT, async || {
        (request(a, "HEAD", "/v1/stream/e", None, &[]).await.status == 404).then_some(())
    })
    .await;
    let after = etag().await;
    assert_ne!(before, after);
    shutdown(vec![n]).await;
}

/// On a Redis Cluster, Durable Streams sit in the log's slot (the hash tag), so every script
/// (the fork chain's too) is a single-slot operation: nodes seeded from different masters
/// share streams, forks, deletes and live reads.
#[tokio::test]
async fn a_redis_cluster_serves_durable_streams_to_nodes_seeded_from_different_masters() {
    let cluster = RedisCluster::start(3);
    let config = |seed: &str| {
        let mut c = cluster_node_config(seed, "sse:cluster");
        c.durable.args.long_poll = Duration::from_secs(15);
        c
    };
    let (na, nb) = (
        start(config(&cluster.url(0))).await,
        start(config(&cluster.url(2))).await,
    );
    let (a, b) = (na.local_addr(), nb.local_addr());
    assert_eq!(
        request(a, "PUT", "/v1/stream/s", Some("abc"), &[TEXT])
            .await
            .status,
        201
    );
    let fork = [
        TEXT,
        ("stream-forked-from", "/v1/stream/s"),
        ("stream-fork-offset", "0000000000000000_0000000000000002"),
    ];
    let r = request(b, "PUT", "/v1/stream/f", Some("Z"), &fork).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        request(a, "GET", "/v1/stream/f", None, &[]).await.body,
        "abZ"
    );
    // A long-poll on A wakes on B's append.
    let waiter = tokio::spawn(async move {
        let path = format!("/v1/stream/f?offset={}&live=long-poll", offset(3));
        request(a, "GET", &path, None, &[]).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        request(b, "POST", "/v1/stream/f", Some("!"), &[TEXT])
            .await
            .status,
        204
    );
    let polled = tokio::time::timeout(WAIT, waiter)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!((polled.status, polled.body.as_str()), (200, "!"));
    // The source deleted while its fork reads it: 410; the fork's end takes it along.
    assert_eq!(
        request(a, "DELETE", "/v1/stream/s", None, &[]).await.status,
        204
    );
    assert_eq!(
        request(b, "GET", "/v1/stream/s", None, &[]).await.status,
        410
    );
    assert_eq!(
        request(b, "DELETE", "/v1/stream/f", None, &[]).await.status,
        204
    );
    let again = request(a, "PUT", "/v1/stream/s", None, &[TEXT]).await;
    assert_eq!(
        again.status, 201,
        "the source is gone with its last fork: {}",
        again.body
    );
    shutdown(vec![na, nb]).await;
}
