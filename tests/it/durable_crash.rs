//! Durable Streams on a directory store survive `kill -9`: concurrent appends to many streams
//! against a real `sse-host serve`, the process killed mid-run, restarted on the same
//! directory, and every acknowledged append is there, byte for byte, in order.

use sse_tests::host_bin;
use sse_tests::redis::{PORT_TRIES, free_port};
use sse_tests::server as srv;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

const STREAMS: usize = 12;
/// Appends each writer makes at most (the kill comes long before).
const MAX_APPENDS: usize = 400;
/// Acknowledged appends over all streams before the kill.
const KILL_AFTER: usize = 240;

/// `sse-host serve --store DIR` on a free port, ready to answer.
async fn serve(dir: &Path) -> (Child, SocketAddr) {
    for _ in 0..PORT_TRIES {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut child = Command::new(host_bin::path())
            .args(["serve", "--bind", &addr.to_string(), "--store"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sse-host serve");
        let up = sse_tests::eventually("serve listening", srv::WAIT, async || {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(false);
            }
            tokio::net::TcpStream::connect(addr)
                .await
                .is_ok()
                .then_some(true)
        })
        .await;
        if up {
            return (child, addr);
        }
    }
    panic!("serve could not bind a free port in {PORT_TRIES} tries");
}

/// One request over its own connection; `None` when the server is gone (no panic: the kill
/// cuts requests short). The status and body.
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<(u16, Vec<u8>)> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/plain\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out);
        let status = text.get(9..12)?.parse().ok()?;
        let at = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        Some((status, out[at..].to_vec()))
    };
    tokio::time::timeout(srv::WAIT, exchange)
        .await
        .ok()
        .flatten()
}

fn item(stream: usize, i: usize) -> String {
    format!("<s{stream}:{i}:{}>", "x".repeat(i % 37))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_concurrent_appends_loses_no_acknowledged_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path()).await;
    for k in 0..STREAMS {
        let r = call(addr, "PUT", &format!("/v1/stream/crash/{k}"), "").await;
        assert_eq!(r.map(|r| r.0), Some(201), "create stream {k}");
    }
    // acked[k]: how many appends of stream k were acknowledged (each writer waits for its
    // answer before the next, so they are in order).
    let acked = Arc::new(Mutex::new(vec![0usize; STREAMS]));
    let writers: Vec<_> = (0..STREAMS)
        .map(|k| {
            let acked = Arc::clone(&acked);
            tokio::spawn(async move {
                for i in 0..MAX_APPENDS {
                    let path = format!("/v1/stream/crash/{k}");
                    match call(addr, "POST", &path, &item(k, i)).await {
                        Some((204, _)) => acked.lock().unwrap()[k] = i + 1,
                        _ => return,
                    }
                }
            })
        })
        .collect();
    let total = || acked.lock().unwrap().iter().sum::<usize>();
    sse_tests::eventually("appends acknowledged", srv::WAIT, async || {
        (total() >= KILL_AFTER).then_some(())
    })
    .await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.iter().all(|n| *n < MAX_APPENDS),
        "the kill came mid-run: {acked:?}"
    );

    let (_child, addr) = serve(dir.path()).await;
    for (k, n) in acked.iter().enumerate() {
        let (status, body) = call(addr, "GET", &format!("/v1/stream/crash/{k}"), "")
            .await
            .expect("read back");
        assert_eq!(status, 200, "stream {k}");
        let want: String = (0..*n).map(|i| item(k, i)).collect();
        let got = String::from_utf8(body).expect("text");
        // The append in flight at the kill may have been written but not acknowledged.
        let rest = got.strip_prefix(&want).unwrap_or_else(|| {
            panic!("stream {k}: {n} acknowledged appends not all there, in order: {got:?}")
        });
        assert!(
            rest.is_empty() || rest == item(k, *n),
            "stream {k}: unexpected bytes after the acknowledged ones: {rest:?}"
        );
        // The stream goes on where it is.
        let r = call(addr, "POST", &format!("/v1/stream/crash/{k}"), "more").await;
        assert_eq!(
            r.map(|r| r.0),
            Some(204),
            "append after restart, stream {k}"
        );
    }
}
