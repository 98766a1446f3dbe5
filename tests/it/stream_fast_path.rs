//! `GET /stream` served without hyper (`host/src/server/fast_stream.rs`): plain requests get
//! the same stream as through hyper; everything else still reaches hyper and axum.

use sse_host::server::{Server, ServerConfig, Store};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn server() -> (tokio::runtime::Runtime, Server) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let config = ServerConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        store: Store::Memory,
        ..ServerConfig::default()
    };
    let server = rt.block_on(Server::start(config)).expect("server starts");
    for content in ["one", "two"] {
        rt.block_on(
            server
                .hub()
                .append(serde_json::json!({"type": "agent", "content": content})),
        )
        .expect("append");
    }
    (rt, server)
}

/// Sends `request` and reads until `until` appears in the response (or 5 s pass).
fn exchange(server: &Server, request: &str, until: &str) -> String {
    let mut s = TcpStream::connect(server.local_addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains(until) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn plain_stream_request_is_served_chunked_with_backlog_in_order() {
    let (_rt, server) = server();
    let id = |i: u64| format!("id: {}-{i}\n", server.hub().epoch());
    let res = exchange(
        &server,
        "GET /stream?from=0 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        &id(1),
    );
    let (head, body) = res.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    for h in [
        "content-type: text/event-stream",
        "cache-control: no-cache",
        "x-accel-buffering: no",
        "connection: keep-alive",
        "transfer-encoding: chunked",
    ] {
        assert!(head.to_ascii_lowercase().contains(h), "{h} missing: {head}");
    }
    // hyper adds `date:`; its absence shows this stream did not go through hyper.
    assert!(!head.to_ascii_lowercase().contains("date:"), "{head}");
    let retry = body.find("retry: 1000\n").expect("retry first");
    let state = body.find("event: state\n").expect("state");
    let one = body.find(&id(0)).expect("message 0");
    let two = body.find(&id(1)).expect("message 1");
    assert!(retry < state && state < one && one < two, "{body}");
}

#[test]
fn last_event_id_resumes_after_it() {
    let (_rt, server) = server();
    let id = |i: u64| format!("id: {}-{i}\n", server.hub().epoch());
    let res = exchange(
        &server,
        "GET /stream?events=message HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 0\r\n\r\n",
        &id(1),
    );
    assert!(res.contains(&id(1)), "{res}");
    assert!(!res.contains(&id(0)), "{res}");
    assert!(!res.contains("event: state"), "{res}");
}

#[test]
fn requests_the_fast_path_does_not_take_still_reach_axum() {
    let (_rt, server) = server();
    let id = |i: u64| format!("id: {}-{i}\n", server.hub().epoch());
    // Invalid `from`: axum's 400 with a JSON body.
    let res = exchange(
        &server,
        "GET /stream?from=abc HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "}",
    );
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    assert!(res.contains("\"error\""), "{res}");
    // A request with a body: left to hyper and axum.
    let res = exchange(
        &server,
        "GET /stream?from=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        &id(1),
    );
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.to_ascii_lowercase().contains("date:"), "{res}");
    assert!(res.contains(&id(1)) && !res.contains(&id(0)), "{res}");
    // A percent-encoded query reads the same on both paths (one parser): served here.
    let res = exchange(
        &server,
        "GET /stream?from=%31 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        &id(1),
    );
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains(&id(1)) && !res.contains(&id(0)), "{res}");
    // Another endpoint on a fresh connection.
    let res = exchange(
        &server,
        "GET /state HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "}",
    );
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains("\"message_count\":2"), "{res}");
}
