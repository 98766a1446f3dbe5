//! Resource bounds of `serve` over real sockets: readers that stop reading, a full fd table,
//! and one reading of a `/stream` request whichever path serves it.

use serde_json::json;
use sse_tests::host_bin;
use sse_tests::server::{WAIT, append, config, get, start};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` on a new connection and reads until `until` appears, the peer closes, or
/// [`WAIT`] passes.
async fn exchange(addr: SocketAddr, request: &str, until: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !String::from_utf8_lossy(&out).contains(until) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Two `Last-Event-ID` headers are refused with 400 and a JSON error whichever path would serve
/// the stream: the fast path (a plain request on a server without CORS) and hyper (CORS on).
#[tokio::test]
async fn duplicate_last_event_id_is_400_on_both_paths() {
    for cors in [None, Some("http://ui.example".to_owned())] {
        let mut c = config();
        c.cors_origin = cors.clone();
        let s = start(c).await;
        let a = s.local_addr();
        for i in 0..3 {
            append(a, &json!({"type": "agent", "content": i.to_string()})).await;
        }
        let res = exchange(
            a,
            "GET /stream HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 0\r\nLast-Event-ID: 1\r\n\r\n",
            "}",
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 400"), "cors {cors:?}: {res}");
        assert!(res.contains("\"error\":"), "cors {cors:?}: {res}");
        assert!(res.contains("Last-Event-ID"), "cors {cors:?}: {res}");
        // One header still resumes after it, on the same path.
        let res = exchange(
            a,
            "GET /stream?events=message HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 1\r\n\r\n",
            "-2\ndata",
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 200"), "cors {cors:?}: {res}");
        assert!(
            res.contains("-2\ndata") && !res.contains("-1\ndata"),
            "cors {cors:?}: {res}"
        );
        // The inbox reads the header the same way.
        let res = exchange(
            a,
            "GET /api/inbox HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 0\r\nLast-Event-ID: 1\r\n\r\n",
            "}",
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 400"), "cors {cors:?}: {res}");
        s.shutdown().await.unwrap();
    }
}

/// Polls `/metrics` until `line` appears (watchdog: [`WAIT`]).
async fn await_metric(a: SocketAddr, line: &str) {
    sse_tests::eventually(&format!("{line} in /metrics"), WAIT, async || {
        let m = get(a, "/metrics").await.body;
        m.lines().any(|l| l == line).then_some(())
    })
    .await;
}

/// A client that asks for `/download` or `/messages` of a log of several MB and never reads is
/// disconnected after the stall bound, like a stalled `/stream` subscriber: the server does not
/// keep its connection and the chunk it holds forever.
#[tokio::test]
async fn download_and_messages_readers_that_never_read_are_disconnected() {
    let mut c = config();
    c.hub.stall_timeout = Duration::from_millis(500);
    let s = start(c).await;
    let a = s.local_addr();
    let big = "x".repeat(100 * 1024);
    const N: u64 = 40; // 4 MB: far beyond what the socket buffers below take
    for i in 0..N {
        s.hub()
            .append(json!({"type": "tool", "tool_result": big, "n": i}))
            .await
            .unwrap();
    }
    let full = get(a, "/download").await.body.len();
    for (k, path) in ["/download", "/messages"].into_iter().enumerate() {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // Small buffers, so that the kernel cannot take the whole body for the client.
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        let mut stalled = socket.connect(a).await.unwrap();
        stalled
            .write_all(format!("GET {path} HTTP/1.1\r\nhost: {a}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        await_metric(a, &format!("sse_connections_stalled_total {}", k + 1)).await;
        // Now read: what was in flight arrives, then the connection ends short of the body.
        let mut got = Vec::new();
        let read = tokio::time::timeout(WAIT, stalled.read_to_end(&mut got)).await;
        assert!(read.is_ok(), "{path}: the connection was closed");
        assert!(
            got.len() < full,
            "{path}: {} of {full} bytes before the close",
            got.len()
        );
    }
    // The server still serves.
    assert_eq!(get(a, "/download").await.body.len(), full);
    s.shutdown().await.unwrap();
}

/// Opens a `/stream` on a new connection and reads its response head.
async fn open_stream(addr: SocketAddr) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /stream?events=message HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            other => panic!(
                "no response head ({other:?}): {}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

/// Kills the child process when the test ends, failed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary with a soft fd limit of 128 and a hard one of 256 (the server raises the
/// soft one to 256), serving from memory with `extra` flags; its address and its log lines.
fn spawn_under_fd_limit(
    extra: &str,
) -> (
    Killed,
    SocketAddr,
    std::sync::mpsc::Receiver<String>,
    Vec<String>,
) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let script = format!(
        "ulimit -Sn 128 && ulimit -Hn 256 && exec \"$0\" serve --memory --bind 127.0.0.1:0 {extra}"
    );
    let mut child = Killed(
        Command::new("sh")
            .args(["-c", &script])
            .arg(host_bin::path())
            .env("RUST_LOG", "info")
            .env_remove("SSE_MAX_SUBSCRIBERS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sse-host serve"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let addr: SocketAddr = loop {
        let line = rx.recv_timeout(WAIT).expect("the server logs its address");
        log.push(line.clone());
        if let Some(a) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
        {
            break a.parse().expect("an address");
        }
    };
    (child, addr, rx, log)
}

/// Publishes one message and reads `stream` until it arrives.
async fn publish_and_receive(addr: SocketAddr, stream: &mut TcpStream) {
    let idx = append(addr, &json!({"type": "agent", "content": "still here"})).await;
    assert_eq!(idx, 0);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("still here") {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("the message in time")
            .expect("read");
        assert!(n > 0, "stream ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
}

/// More connections than the whole fd table (256) holds.
const TRIES: usize = 400;

/// The real binary under a low fd limit and without `--max-subscribers`: it derives the bound
/// from `RLIMIT_NOFILE` (after raising the soft limit to the hard one), subscribers past it get
/// 503 with `Retry-After`, and the agent's publishes are still answered and delivered.
#[tokio::test]
async fn under_a_low_fd_limit_extra_subscribers_get_503_and_publishes_still_work() {
    let (child, addr, rx, mut log) = spawn_under_fd_limit("");
    let (mut open, mut refused) = (Vec::new(), 0usize);
    for i in 0..TRIES {
        let (s, head) = open_stream(addr).await;
        if head.starts_with("HTTP/1.1 200") {
            assert_eq!(refused, 0, "#{i}: accepted after a refusal: {head}");
            open.push(s);
        } else {
            assert!(head.starts_with("HTTP/1.1 503"), "#{i}: {head}");
            assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
            refused += 1;
        }
    }
    assert!(
        !open.is_empty() && refused > 0,
        "{} open, {refused} refused",
        open.len()
    );
    let m = get(addr, "/metrics").await.body;
    assert!(
        m.lines()
            .any(|l| l == format!("sse_subscribers_max {}", open.len())),
        "the bound is what was accepted ({}): {m}",
        open.len()
    );
    publish_and_receive(addr, open.first_mut().expect("a subscriber")).await;
    drop(open);
    drop(child);
    log.extend(rx.try_iter());
    assert!(
        log.iter().any(|l| l.contains("max_subscribers=")),
        "the derived bound is logged:\n{}",
        log.join("\n")
    );
}

/// With `--max-subscribers` above what the fd table holds, the table does fill up: accept
/// fails, and a subscriber is shed (it would resume on reconnect) so that the connections
/// waiting in the backlog, the agent's publish among them, are still answered.
#[tokio::test]
async fn when_the_fd_table_is_full_subscribers_are_shed_and_publishes_answered() {
    let (child, addr, rx, mut log) = spawn_under_fd_limit("--max-subscribers 1000");
    let mut open = Vec::new();
    for i in 0..TRIES {
        let (s, head) = open_stream(addr).await;
        assert!(head.starts_with("HTTP/1.1 200"), "#{i}: {head}");
        open.push(s);
    }
    publish_and_receive(addr, open.first_mut().expect("a subscriber")).await;
    let m = get(addr, "/metrics").await.body;
    let shed: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("sse_subscribers_shed_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("sse_subscribers_shed_total in {m}"));
    assert!(shed > 0, "{m}");
    drop(open);
    drop(child);
    log.extend(rx.try_iter());
    assert!(
        log.iter().any(|l| l.contains("--max-subscribers is above")),
        "the warning:\n{}",
        log.join("\n")
    );
}

/// A command larger than the inbox's whole byte bound (16 MiB) is refused with 413, and a
/// chat that is refused does not join the conversation either.
#[tokio::test]
async fn a_command_larger_than_the_inbox_is_413_and_not_half_done() {
    let mut c = config();
    c.max_body = 32 << 20;
    let s = start(c).await;
    let a = s.local_addr();
    let huge = "z".repeat(17 << 20);
    for (path, body) in [
        ("/chat", json!({ "message": huge })),
        ("/cancel", json!({ "reason": huge })),
    ] {
        let r = sse_tests::server::request(a, "POST", path, Some(&body.to_string()), &[]).await;
        assert_eq!(
            r.status,
            413,
            "{path}: {}",
            &r.body[..r.body.len().min(200)]
        );
        assert!(
            r.json()["error"].as_str().unwrap().contains("inbox"),
            "{}",
            r.body
        );
    }
    assert_eq!(get(a, "/state").await.json()["message_count"], 0);
    s.shutdown().await.unwrap();
}
