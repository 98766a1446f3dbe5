//! The file log's integrity over real files and sockets: damage before the tail refuses to start
//! (the real binary: its one error line and exit status), `--repair` keeps every valid record and
//! starts a new epoch, a zero tail is cut, deleting `lock` does not let a second server in, and a
//! message over the record limit is 413 with a JSON error.

use serde_json::{Value, json};
use sse_host::log::MAX_RECORD;
use sse_tests::host_bin;
use sse_tests::server::{append, file_config, get, open, request, start};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Format-2 record header: magic, len, idx, crc.
const HEADER: usize = 20;

fn agent_msg(i: u64) -> Value {
    json!({"type": "agent", "content": format!("message {i}")})
}

/// A data directory holding `n` messages published over HTTP.
async fn published(dir: &Path, n: u64) -> String {
    let s = start(file_config(dir)).await;
    for i in 0..n {
        assert_eq!(append(s.local_addr(), &agent_msg(i)).await, i);
    }
    let epoch = s.hub().epoch();
    s.shutdown().await.unwrap();
    epoch
}

/// Start offsets of the records in a clean `messages.log`.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + HEADER <= bytes.len() {
        out.push(pos);
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += HEADER + len;
    }
    assert_eq!(pos, bytes.len(), "a clean log");
    out
}

/// Runs `sse-host serve` on `dir` and expects it to refuse to start: its exit status and stderr.
async fn serve_refused(dir: &Path) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(host_bin::path())
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("SSE_REPAIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sse-host serve");
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().expect("piped stderr");
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        pipe.read_to_string(&mut stderr).await.unwrap();
        child.wait().await.unwrap()
    })
    .await;
    let Ok(status) = status else {
        panic!("sse-host serve did not refuse to start; stderr so far: {stderr}");
    };
    (status.code(), stderr)
}

#[tokio::test]
async fn a_flipped_byte_mid_log_refuses_to_start_and_repair_starts_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let old_epoch = published(dir.path(), 100).await;
    let path = dir.path().join("messages.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let offsets = record_offsets(&bytes);
    let damaged_at = offsets[50];
    bytes[damaged_at + HEADER + 10] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();

    let (code, stderr) = serve_refused(dir.path()).await;
    assert_eq!(code, Some(1), "{stderr}");
    let line = stderr.lines().last().unwrap_or_default();
    for needed in [
        path.display().to_string(),
        format!("damaged at byte {damaged_at}"),
        "49 valid records follow".to_owned(),
        "--repair".to_owned(),
    ] {
        assert!(line.contains(&needed), "{needed:?} not in {line:?}");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the refused log is untouched"
    );

    let mut config = file_config(dir.path());
    config.repair_log = true;
    let s = start(config).await;
    let a = s.local_addr();
    let new_epoch = s.hub().epoch();
    assert_ne!(new_epoch, old_epoch);
    let msgs = get(a, "/messages").await.json();
    let msgs = msgs.as_array().unwrap();
    assert_eq!(msgs.len(), 99);
    let idx: Vec<u64> = msgs.iter().map(|m| m["idx"].as_u64().unwrap()).collect();
    assert_eq!(idx, (0..99).collect::<Vec<_>>(), "dense indices");
    assert_eq!(msgs[50]["content"], "message 51");
    let quarantined: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("messages.log.damaged-") && !n.ends_with(".json"))
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(
        std::fs::read(dir.path().join(&quarantined[0])).unwrap(),
        bytes
    );

    // A client that had everything of the old epoch is told to start over.
    let mut st = open(a, "/stream", &[("last-event-id", "99")]).await;
    let reset = st.next().await.unwrap();
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.json()["epoch"], new_epoch.as_str());
    assert_eq!(reset.json()["message_count"], 99);
    assert_eq!(st.next_of("message").await.unwrap().json()["idx"], 0);
    drop(st);
    assert_eq!(append(a, &agent_msg(100)).await, 99);
    s.shutdown().await.unwrap();

    // The repaired log opens as it is, with the new epoch.
    let s = start(file_config(dir.path())).await;
    assert_eq!(s.hub().epoch(), new_epoch);
    assert_eq!(s.hub().message_count().0, 100);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_zero_tail_is_cut_and_the_messages_stay_valid_json() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let epoch = published(dir.path(), 10).await;
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("messages.log"))
        .unwrap()
        .write_all(&[0; 4096])
        .unwrap();
    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    assert_eq!(s.hub().epoch(), epoch);
    let msgs = get(a, "/messages").await.json();
    assert_eq!(msgs.as_array().unwrap().len(), 10);
    let download = get(a, "/download").await;
    assert_eq!(download.status, 200);
    assert!(
        serde_json::from_str::<Value>(&download.body).is_ok(),
        "{}",
        download.body
    );
    assert_eq!(append(a, &agent_msg(10)).await, 10);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleting_the_lock_file_does_not_let_a_second_server_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(file_config(dir.path())).await;
    append(s.local_addr(), &agent_msg(0)).await;
    std::fs::remove_file(dir.path().join("lock")).unwrap();
    let (code, stderr) = serve_refused(dir.path()).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("in use by another sse-host"), "{stderr}");
    // The first server is unaffected.
    assert_eq!(append(s.local_addr(), &agent_msg(1)).await, 1);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_message_over_the_record_limit_is_413_with_json_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = file_config(dir.path());
    config.max_body = MAX_RECORD;
    let s = start(config).await;
    let a = s.local_addr();
    assert_eq!(append(a, &agent_msg(0)).await, 0);

    // 65 MiB: over --max-body.
    let big = format!(r#"{{"type":"agent","content":"{}"}}"#, "x".repeat(65 << 20));
    let r = request(a, "POST", "/api/messages", Some(&big), &[]).await;
    assert_eq!(r.status, 413, "{}", &r.body[..r.body.len().min(200)]);
    assert!(r.json()["error"].is_string());
    drop(big);

    // Exactly --max-body, but the stored record (with idx and timestamp) passes the limit.
    let shell = r#"{"type":"agent","content":""}"#.len();
    let edge = format!(
        r#"{{"type":"agent","content":"{}"}}"#,
        "y".repeat(MAX_RECORD - shell)
    );
    assert_eq!(edge.len(), MAX_RECORD);
    let r = request(a, "POST", "/api/messages", Some(&edge), &[]).await;
    drop(edge);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.headers.get("retry-after").is_none(),
        "no retry invitation"
    );
    assert!(
        r.json()["error"].as_str().unwrap().contains("limit"),
        "{}",
        r.body
    );

    // The log is unaffected.
    assert_eq!(s.hub().message_count().0, 1);
    assert_eq!(append(a, &agent_msg(1)).await, 1);
    s.shutdown().await.unwrap();
    let s = start(file_config(dir.path())).await;
    let msgs = get(s.local_addr(), "/messages").await.json();
    assert_eq!(msgs.as_array().unwrap().len(), 2);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn max_body_above_the_record_limit_is_a_usage_error() {
    let run = tokio::process::Command::new(host_bin::path())
        .args([
            "serve",
            "--memory",
            "--bind",
            "127.0.0.1:0",
            "--max-body",
            "65M",
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("sse-host serve refuses at once")
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--max-body") && stderr.contains("64M"),
        "{stderr}"
    );
}

/// `Server::shutdown` returns only once the log is closed, so a new server opens the same
/// directory at once: here with a subscriber that stopped reading (its stream task is stuck in
/// a write, and without the bound on shutdown it held the log and its lock until the stall
/// bound, a minute) and one that hung up just before. A stream task that had not yet run when
/// `shutdown` returned failed one CI run this way.
#[tokio::test]
async fn shutdown_closes_the_log_so_a_new_server_opens_it_at_once() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(a).await.unwrap();
    stalled
        .write_all(b"GET /stream HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut dropped = open(a, "/stream", &[]).await;
    let big = json!({"type": "agent", "content": "x".repeat(1 << 20)});
    for i in 0..16 {
        assert_eq!(append(a, &big).await, i);
    }
    assert!(dropped.next_of("message").await.is_some());
    drop(dropped);
    s.shutdown().await.unwrap();
    let again = sse_host::server::Server::start(file_config(dir.path())).await;
    let again = again.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(again.hub().message_count().0, 16);
    again.shutdown().await.unwrap();
    drop(stalled);
}
