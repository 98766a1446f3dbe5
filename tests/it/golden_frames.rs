//! The golden frame corpus `tests/data/frames/*.sse`: the exact bytes of each frame the system
//! sends. The same files prove the core encoder, the host's frame builders, the real server's
//! `/stream` bytes and the parser (which reads each back to the frame's meaning).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use http_body_util::BodyExt;
use serde_json::json;
use sse_core::Seq;
use sse_core::encode::KEEPALIVE;
use sse_host::frames;
use sse_tests::server::{WAIT, append, config, open_raw, request, start};

use sse_tests::frame_model::{Out, Parts, encode_all, meaning};

/// Bounds well above anything the golden frames hold, so nothing is cut.
fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Out>, String) {
    sse_tests::frame_model::parse_chunks::<1024, 8192>(chunks)
}

/// The message the server test publishes; `message.sse` is its frame at index 0.
const MESSAGE_JSON: &str =
    r#"{"type":"agent","content":"Hello, wörld","timestamp":"2025-01-02T03:04:05Z","idx":0}"#;
const STATE_JSON: &str = r#"{"message_count":1,"epoch":"4f2a9c1e","title":"Demo","agent_state":"Ready","session_ended":false}"#;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/frames")
}

fn golden(name: &str) -> Vec<u8> {
    let path = dir().join(format!("{name}.sse"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parts(
    comment: Option<&str>,
    retry: Option<u64>,
    event: Option<&str>,
    id: Option<&str>,
    data: Option<&str>,
) -> Parts {
    Parts {
        comment: comment.map(Into::into),
        retry,
        event: event.map(Into::into),
        id: id.map(Into::into),
        data: data.map(Into::into),
    }
}

/// Every golden file but `keepalive` (a constant, not a frame) and the frame it holds.
fn frame_cases() -> Vec<(&'static str, Parts)> {
    let multiline = "first line\r\n indented second\r\rafter an empty line\n";
    vec![
        (
            "message",
            parts(
                None,
                None,
                Some("message"),
                Some("4f2a9c1e-0"),
                Some(MESSAGE_JSON),
            ),
        ),
        (
            "state",
            parts(None, None, Some("state"), None, Some(STATE_JSON)),
        ),
        (
            "heartbeat",
            parts(None, None, Some("heartbeat"), None, Some("1700000000")),
        ),
        (
            "reset",
            parts(
                None,
                None,
                Some("reset"),
                None,
                Some(r#"{"epoch":"4f2a9c1e","message_count":5}"#),
            ),
        ),
        (
            "session_ended",
            parts(
                None,
                None,
                Some("session_ended"),
                None,
                Some(r#"{"message":"Session ended"}"#),
            ),
        ),
        ("retry", parts(None, Some(1000), None, None, None)),
        (
            "multiline",
            parts(None, None, Some("message"), Some("12"), Some(multiline)),
        ),
        ("comment", parts(Some("connected"), None, None, None, None)),
        (
            "all_fields",
            parts(
                Some("resumed"),
                Some(2500),
                Some("state"),
                Some("41"),
                Some("{}"),
            ),
        ),
    ]
}

#[test]
fn every_golden_file_has_a_case_and_every_case_a_file() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sse"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut cases: BTreeSet<String> = frame_cases()
        .into_iter()
        .map(|(n, _)| n.to_owned())
        .collect();
    cases.insert("keepalive".into());
    assert_eq!(on_disk, cases);
}

#[test]
fn the_core_encoder_writes_each_golden_file_exactly() {
    for (name, p) in frame_cases() {
        let want = golden(name);
        let frame = p.frame();
        assert_eq!(frame.encoded_len(), want.len(), "{name}: encoded_len");
        let mut buf = vec![0u8; want.len()];
        let n = frame.encode(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&buf[..n]),
            String::from_utf8_lossy(&want),
            "{name}"
        );
        let mut written = Vec::new();
        sse_core::io::write_frame(&mut written, &frame).unwrap();
        assert_eq!(written, want, "{name}: write_frame");
    }
    assert_eq!(KEEPALIVE, golden("keepalive"));
}

#[test]
fn the_parser_reads_each_golden_file_back_to_its_meaning() {
    let mut all = Vec::new();
    let mut frames = Vec::new();
    for (name, p) in frame_cases() {
        let bytes = golden(name);
        assert_eq!(
            parse_chunks(&[&bytes]),
            meaning(std::slice::from_ref(&p), String::new()),
            "{name}"
        );
        all.extend_from_slice(&bytes);
        frames.push(p);
    }
    // All of them as one stream, fed one byte at a time.
    assert_eq!(encode_all(&frames), all);
    let bytes: Vec<&[u8]> = all.chunks(1).collect();
    assert_eq!(parse_chunks(&bytes), meaning(&frames, String::new()));
    assert_eq!(
        parse_chunks(&[&golden("keepalive")]),
        (vec![Out::Comment(String::new())], String::new())
    );
}

#[test]
fn the_host_frame_builders_send_the_golden_bytes() {
    let bytes = |b: bytes::Bytes| String::from_utf8_lossy(&b).into_owned();
    let want = |name: &str| String::from_utf8(golden(name)).unwrap();
    assert_eq!(
        bytes(frames::message("4f2a9c1e", Seq(0), MESSAGE_JSON.as_bytes())),
        want("message")
    );
    assert_eq!(
        bytes(frames::json_event(frames::STATE, STATE_JSON)),
        want("state")
    );
    assert_eq!(bytes(frames::heartbeat(1_700_000_000)), want("heartbeat"));
    assert_eq!(bytes(frames::reset("4f2a9c1e", Seq(5))), want("reset"));
    assert_eq!(
        bytes(frames::session_ended("Session ended")),
        want("session_ended")
    );
    // The opening `retry:` is the golden frame's field line, without its blank line: it goes
    // into the block of the stream's first event.
    assert_eq!(
        bytes(frames::retry_line(std::time::Duration::from_secs(1))) + "\n",
        want("retry")
    );
}

/// Reads `body` into `buf` until `done(buf)` or the end of the stream, within [`WAIT`].
async fn read_until(
    body: &mut hyper::body::Incoming,
    buf: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(buf) {
        match tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("bytes in time")
        {
            None => return,
            Some(frame) => {
                if let Ok(data) = frame.expect("body frame").into_data() {
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Splits encoder output into frames: each ends at the blank line (`\n\n`), and no encoded
/// frame has a blank line inside.
fn split_frames(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).expect("the server sends UTF-8");
    text.split_inclusive("\n\n").map(str::to_owned).collect()
}

#[tokio::test]
async fn the_real_server_sends_the_golden_bytes() {
    let s = start(config()).await;
    let a = s.local_addr();
    let sent =
        json!({"type": "agent", "content": "Hello, wörld", "timestamp": "2025-01-02T03:04:05Z"});
    assert_eq!(append(a, &sent).await, 0);

    let res = open_raw(a, "/stream").await;
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let mut raw = Vec::new();
    // retry + state, message
    read_until(&mut body, &mut raw, |b| split_frames(b).len() >= 2).await;
    request(
        a,
        "PATCH",
        "/api/state",
        Some(r#"{"session_ended":true}"#),
        &[],
    )
    .await;
    read_until(&mut body, &mut raw, |_| false).await; // session_ended ends the stream

    let got = split_frames(&raw);
    let want = |name: &str| String::from_utf8(golden(name)).unwrap();
    assert!(got.len() >= 3, "{got:?}");
    // `retry:` opens the stream inside the first event's block (never a data-less block).
    let retry = want("retry");
    let state = got[0]
        .strip_prefix(retry.trim_end_matches('\n'))
        .and_then(|rest| rest.strip_prefix('\n'))
        .unwrap_or_else(|| panic!("the stream opens with retry: {:?}", got[0]));
    let epoch = s.hub().epoch();
    assert!(
        state.starts_with("event: state\ndata: {")
            && state.ends_with("}\n\n")
            && state.contains(&format!(r#""epoch":"{epoch}""#))
            && state.matches('\n').count() == 3,
        "{state:?}"
    );
    assert_eq!(
        got[1],
        want("message").replace("id: 4f2a9c1e-0", &format!("id: {epoch}-0"))
    );
    assert_eq!(got.last(), Some(&want("session_ended")));
    assert_eq!(
        raw.len(),
        got.iter().map(String::len).sum::<usize>(),
        "nothing after the last frame"
    );
    s.shutdown().await.unwrap();
}
