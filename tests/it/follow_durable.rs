//! `sse-host follow` on a Durable Streams URL (`/v1/stream/…`), the real binary against the
//! in-process server: every appended byte is printed exactly once, in order, across the
//! server ending SSE responses and a proxy cutting connections anywhere; `--offset` resumes
//! from a printed offset; a closed stream exits 0, a missing one 4. Every wait is bounded.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sse_tests::chaos::Chaos;
use sse_tests::{host_bin, server as srv};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// How long one `follow` run may take in these tests.
const RUN_WAIT: Duration = Duration::from_secs(60);

/// The server with short SSE responses (the protocol's ~60 s, cut to 300 ms), so a test sees
/// many routine ends.
async fn server() -> sse_host::server::Server {
    // Build the binary (if stale) before the server runs on this test's thread.
    let _ = host_bin::path();
    let mut config = srv::config();
    config.durable.sse_lifetime = Duration::from_millis(300);
    srv::start(config).await
}

/// Runs `sse-host follow ARGS` to its end: (exit code, stdout bytes, stderr text).
async fn run(args: &[&str]) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(host_bin::path())
        .arg("follow")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sse-host follow");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (mut out, mut err) = (Vec::new(), String::new());
    let status = tokio::time::timeout(RUN_WAIT, async {
        let (a, b) = tokio::join!(
            stdout.read_to_end(&mut out),
            stderr.read_to_string(&mut err)
        );
        a.expect("read stdout");
        b.expect("read stderr");
        child.wait().await.expect("wait")
    })
    .await
    .unwrap_or_else(|_| panic!("follow did not exit within {RUN_WAIT:?}"));
    (status.code(), out, err)
}

async fn create(a: std::net::SocketAddr, path: &str, content_type: &str) {
    let r = srv::request(a, "PUT", path, None, &[("content-type", content_type)]).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn append(a: std::net::SocketAddr, path: &str, content_type: &str, body: &str) {
    let r = srv::request(
        a,
        "POST",
        path,
        Some(body),
        &[("content-type", content_type)],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

async fn close(a: std::net::SocketAddr, path: &str, content_type: &str) {
    let headers = [("content-type", content_type), ("stream-closed", "true")];
    let r = srv::request(a, "POST", path, None, &headers).await;
    assert!(
        r.status == 204 || r.status == 200,
        "{} {}",
        r.status,
        r.body
    );
}

/// Appends `n` chunks a few milliseconds apart (so they spread over several SSE responses and
/// cuts), then closes the stream; returns everything appended.
async fn feed(a: std::net::SocketAddr, path: &str, content_type: &str, n: usize) -> Vec<u8> {
    let mut all = Vec::new();
    for i in 0..n {
        // Multi-line and non-ASCII text; CR only where base64 carries it (binary streams).
        let chunk = if content_type.starts_with("text/") {
            format!("chunk {i}: é\nline two of {i}\n")
        } else {
            format!("chunk {i}: é\r\n\0{}\n", "x".repeat(i % 7))
        };
        append(a, path, content_type, &chunk).await;
        all.extend_from_slice(chunk.as_bytes());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    close(a, path, content_type).await;
    all
}

const FAST_RETRY: [&str; 4] = ["--retry-initial", "250ms", "--retry-max", "400ms"];

#[tokio::test]
async fn every_byte_is_printed_once_in_order_across_server_ends_and_cuts_then_exit_0() {
    for (content_type, seed) in [("text/plain", 11), ("application/octet-stream", 12)] {
        let s = server().await;
        let a = s.local_addr();
        let path = "/v1/stream/follow/cuts";
        create(a, path, content_type).await;
        // Cut connections after 1..=900 bytes from the server (the head is about 440): inside the response head, a
        // `data` event, between a `data` event and its `control` event.
        let chaos = Chaos::start(a, seed, 25, 900).await;
        let mut args = args_owned(&[&chaos.url(path)]);
        args.extend(args_owned(&FAST_RETRY));
        let follower = tokio::spawn(run_owned(args));
        let appended = feed(a, path, content_type, 60).await;
        let (code, out, err) = follower.await.expect("follow task");
        assert_eq!(
            code,
            Some(0),
            "{content_type}: closed stream exits 0; stderr: {err}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&appended),
            "{content_type}: every byte once, in order; stderr: {err}"
        );
        assert_eq!(out, appended);
        assert!(
            chaos.cuts() > 0,
            "{content_type}: the proxy cut connections"
        );
        assert!(
            chaos.connections() > chaos.cuts(),
            "{content_type}: reconnected after the cuts"
        );
        assert!(err.contains("stream closed at offset"), "{err}");
        s.shutdown().await.unwrap();
    }
}

fn args_owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

async fn run_owned(args: Vec<String>) -> (Option<i32>, Vec<u8>, String) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs).await
}

#[tokio::test]
async fn routine_server_ends_resume_from_stream_next_offset_without_a_repeat() {
    let s = server().await;
    let a = s.local_addr();
    let path = "/v1/stream/follow/ends";
    create(a, path, "text/plain").await;
    let url = format!("http://{a}{path}");
    let mut args = args_owned(&[&url, "--json"]);
    args.extend(args_owned(&FAST_RETRY));
    let follower = tokio::spawn(run_owned(args));
    let mut appended = Vec::new();
    for i in 0..8 {
        let chunk = format!("m{i};");
        append(a, path, "text/plain", &chunk).await;
        appended.extend_from_slice(chunk.as_bytes());
        // Longer than a response lives: each append comes on a new response.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    close(a, path, "text/plain").await;
    let (code, out, err) = follower.await.expect("follow task");
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let data: String = lines
        .iter()
        .filter(|l| l["event"]["type"] == "data")
        .map(|l| l["event"]["data"].as_str().unwrap())
        .collect();
    assert_eq!(data.as_bytes(), appended);
    // Each data line carries the offset after it; they only grow.
    let offsets: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"]["type"] == "data")
        .map(|l| l["event"]["offset"].as_str().unwrap())
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    let last = lines.last().unwrap();
    assert_eq!(last["event"]["type"], "closed", "{lines:#?}");
    assert_eq!(last["event"]["offset"], *offsets.last().unwrap());
    // The server ended responses many times and the client came back each time. (These
    // responses last 300 ms, under the 10 s a connection needs to count as healthy, so after
    // the first one the client backs off briefly: the storm rule. With a real server's 60 s it
    // goes straight back every time; core's unit tests check both.)
    let connects = lines.iter().filter(|l| l["status"] == "connected").count();
    assert!(connects >= 3, "{lines:#?}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn offset_resumes_after_a_printed_offset_and_missing_streams_exit_4() {
    let s = server().await;
    let a = s.local_addr();
    let path = "/v1/stream/follow/resume";
    create(a, path, "application/json").await;
    append(a, path, "application/json", r#"{"n":1}"#).await;
    let url = format!("http://{a}{path}");
    let (code, out, err) = run(&[&url, "--json", "--max-events", "1"]).await;
    assert_eq!(code, Some(0), "{err}");
    let first: Value = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["event"]["type"] == "data")
        .expect("a data line");
    assert_eq!(first["event"]["json"], serde_json::json!([{"n": 1}]));
    let offset = first["event"]["offset"].as_str().unwrap().to_owned();
    append(a, path, "application/json", r#"{"n":2}"#).await;
    close(a, path, "application/json").await;
    // From the printed offset: only what came after it, then the close.
    let (code, out, err) = run(&["--durable", &url, "--offset", &offset]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(String::from_utf8(out).unwrap(), r#"[{"n":2}]"#);
    // A stream that does not exist: refused, exit 4, nothing on stdout.
    let missing = format!("http://{a}/v1/stream/follow/none");
    let (code, out, err) = run(&[&missing]).await;
    assert_eq!(code, Some(4), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("HTTP 404"), "{err}");
    // Flags of the index protocol do not apply.
    let (code, _, err) = run(&[&url, "--from", "3"]).await;
    assert_eq!(code, Some(2), "{err}");
    // An offset that cannot go on a URL is a usage error.
    let (code, _, err) = run(&[&url, "--offset", "a\nb"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad offset"), "{err}");
    s.shutdown().await.unwrap();
}

/// A Durable Stream at a path without `/v1/stream/`: `follow` first reads it as an SSE URL, gets
/// something else, asks `HEAD` for `Stream-Next-Offset`, and then reads it in SSE mode.
#[tokio::test]
async fn a_durable_stream_elsewhere_is_recognised_by_its_stream_next_offset() {
    use sse_tests::scripted::{Reply, Scripted};
    let _ = host_bin::path();
    const NEXT: &str = "0000000000000000_0000000000000005";
    let server = Scripted::start(|_, req| {
        if req.method == "HEAD" {
            return Reply::status(200)
                .header("Stream-Next-Offset", NEXT)
                .header("Content-Length", "0");
        }
        if req.target.contains("live=sse") {
            return Reply::sse().send(format!(
                "event: data\ndata:hello\n\nevent: control\ndata:{{\"streamNextOffset\":\"{NEXT}\",\"streamClosed\":true}}\n\n"
            ));
        }
        Reply::status(200)
            .header("Content-Type", "text/plain")
            .header("Stream-Next-Offset", NEXT)
            .send("hello")
    })
    .await;
    let (code, out, err) = run(&[&server.url("/streams/s1"), "--retry-initial", "250ms"]).await;
    assert_eq!(code, Some(0), "{err}");
    // The first attempt's status lines (plain mode prints them on stdout) and then the bytes;
    // `--durable` (or a `/v1/stream/` path) gives the bytes alone.
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "[connecting] Connecting...\n[disabled] Not an event stream\nhello"
    );
    assert!(err.contains("is a Durable Stream"), "{err}");
    let targets: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(
        targets,
        [
            "GET /streams/s1",
            "HEAD /streams/s1",
            "GET /streams/s1?offset=-1&live=sse"
        ]
    );
    // An ordinary URL that is not an event stream still fails as before (exit 1).
    let plain = Scripted::start(|_, _| {
        Reply::status(200)
            .header("Content-Type", "text/plain")
            .send("x")
    })
    .await;
    let (code, _, err) = run(&[&plain.url("/x")]).await;
    assert_eq!(code, Some(1), "{err}");
}
