//! Durable Streams under `/v1/stream/` on a real server (127.0.0.1): the server's auth and
//! bounds apply, and each read mode answers as the protocol says. The conformance suite
//! (`tests/durable/run.sh`) covers the protocol at large; these pin what is this server's own.

use sse_tests::server::{config, file_config, request, start};
use std::time::Duration;

const TEXT: (&str, &str) = ("content-type", "text/plain");
const OFFSET_0: &str = "0000000000000000_0000000000000000";

#[tokio::test]
async fn create_append_read_head_delete() {
    let s = start(config()).await;
    let a = s.local_addr();
    let r = request(a, "PUT", "/v1/stream/chat/1", Some("hello "), &[TEXT]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.headers["stream-next-offset"],
        "0000000000000000_0000000000000006"
    );
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/v1/stream/chat/1")
    );
    let r = request(a, "POST", "/v1/stream/chat/1", Some("world"), &[TEXT]).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.headers["stream-next-offset"],
        "0000000000000000_0000000000000011"
    );
    let r = request(a, "GET", "/v1/stream/chat/1", None, &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello world"));
    assert_eq!(r.headers["stream-up-to-date"], "true");
    let from = "/v1/stream/chat/1?offset=0000000000000000_0000000000000006";
    assert_eq!(request(a, "GET", from, None, &[]).await.body, "world");
    let bad = request(a, "GET", "/v1/stream/chat/1?offset=0,1", None, &[]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].is_string(), "JSON errors like the rest");
    let head = request(a, "HEAD", "/v1/stream/chat/1", None, &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["cache-control"], "no-store");
    assert_eq!(
        request(a, "DELETE", "/v1/stream/chat/1", None, &[])
            .await
            .status,
        204
    );
    // An error to HEAD keeps its declared length and an empty body (this once hung).
    let gone = request(a, "HEAD", "/v1/stream/chat/1", None, &[]).await;
    assert_eq!((gone.status, gone.body.as_str()), (404, ""));
    s.shutdown().await.unwrap();
}

/// On a directory store every stream survives a restart as it was: data, offsets, the closed
/// flag, producer state (a retry after the restart is still a duplicate), forks and deletes.
#[tokio::test]
async fn a_directory_store_keeps_streams_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    let producer = [
        TEXT,
        ("producer-id", "p"),
        ("producer-epoch", "0"),
        ("producer-seq", "0"),
    ];
    assert_eq!(
        request(a, "PUT", "/v1/stream/a", Some("hello "), &[TEXT])
            .await
            .status,
        201
    );
    assert_eq!(
        request(a, "POST", "/v1/stream/a", Some("world"), &producer)
            .await
            .status,
        200
    );
    assert_eq!(
        request(a, "PUT", "/v1/stream/p", None, &[TEXT])
            .await
            .status,
        201
    );
    assert_eq!(
        request(a, "POST", "/v1/stream/p", Some("1"), &producer)
            .await
            .status,
        200
    );
    assert_eq!(
        request(a, "PUT", "/v1/stream/gone", None, &[TEXT])
            .await
            .status,
        201
    );
    assert_eq!(
        request(a, "DELETE", "/v1/stream/gone", None, &[])
            .await
            .status,
        204
    );
    let fork = [TEXT, ("stream-forked-from", "/v1/stream/a")];
    assert_eq!(
        request(a, "PUT", "/v1/stream/f", None, &fork).await.status,
        201
    );
    assert_eq!(
        request(a, "POST", "/v1/stream/f", Some("!"), &[TEXT])
            .await
            .status,
        204
    );
    assert_eq!(
        request(a, "DELETE", "/v1/stream/a", None, &[]).await.status,
        204
    );
    let close = [TEXT, ("stream-closed", "true")];
    assert_eq!(
        request(a, "PUT", "/v1/stream/c", Some("end"), &close)
            .await
            .status,
        201
    );
    s.shutdown().await.unwrap();

    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    let f = request(a, "GET", "/v1/stream/f", None, &[]).await;
    assert_eq!((f.status, f.body.as_str()), (200, "hello world!"));
    assert_eq!(
        f.headers["stream-next-offset"],
        "0000000000000000_0000000000000012"
    );
    // The fork's source was deleted while the fork read it: still 410, not re-creatable.
    assert_eq!(
        request(a, "GET", "/v1/stream/a", None, &[]).await.status,
        410
    );
    assert_eq!(
        request(a, "GET", "/v1/stream/gone", None, &[]).await.status,
        404
    );
    let c = request(a, "GET", "/v1/stream/c", None, &[]).await;
    assert_eq!(
        (
            c.body.as_str(),
            c.headers["stream-closed"].to_str().unwrap()
        ),
        ("end", "true")
    );
    assert_eq!(
        request(a, "POST", "/v1/stream/c", Some("x"), &[TEXT])
            .await
            .status,
        409
    );
    // Ending the fork ends the soft-deleted source with it, on disk too.
    assert_eq!(
        request(a, "DELETE", "/v1/stream/f", None, &[]).await.status,
        204
    );
    assert_eq!(
        request(a, "GET", "/v1/stream/a", None, &[]).await.status,
        404
    );
    s.shutdown().await.unwrap();
    let s = start(file_config(dir.path())).await;
    let a = s.local_addr();
    assert_eq!(
        request(a, "GET", "/v1/stream/a", None, &[]).await.status,
        404
    );
    assert_eq!(
        request(a, "PUT", "/v1/stream/a", Some("new"), &[TEXT])
            .await
            .status,
        201
    );
    // The producer's retry of what it wrote before the restarts is a duplicate; its next goes in.
    assert_eq!(
        request(a, "POST", "/v1/stream/p", Some("1"), &producer)
            .await
            .status,
        204
    );
    let next = [
        TEXT,
        ("producer-id", "p"),
        ("producer-epoch", "0"),
        ("producer-seq", "1"),
    ];
    assert_eq!(
        request(a, "POST", "/v1/stream/p", Some("2"), &next)
            .await
            .status,
        200
    );
    assert_eq!(
        request(a, "GET", "/v1/stream/p", None, &[]).await.body,
        "12"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn writes_need_the_write_token_and_reads_the_read_token() {
    let mut c = config();
    c.token = Some("w".into());
    c.read_token = Some("r".into());
    let s = start(c).await;
    let a = s.local_addr();
    let path = "/v1/stream/secret";
    assert_eq!(request(a, "PUT", path, None, &[TEXT]).await.status, 401);
    let read_token = ("authorization", "Bearer r");
    assert_eq!(
        request(a, "PUT", path, None, &[TEXT, read_token])
            .await
            .status,
        401
    );
    let write = ("authorization", "Bearer w");
    assert_eq!(
        request(a, "PUT", path, Some("x"), &[TEXT, write])
            .await
            .status,
        201
    );
    assert_eq!(request(a, "GET", path, None, &[]).await.status, 401);
    let r = request(a, "GET", path, None, &[read_token]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "x"));
    let r = request(a, "GET", &format!("{path}?access_token=r"), None, &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "x"),
        "EventSource passes the token so"
    );
    // Cached reads of a protected stream are private.
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(
        request(a, "DELETE", path, None, &[read_token]).await.status,
        401
    );
    // A page of another site cannot write, token or not.
    let cross = ("sec-fetch-site", "cross-site");
    assert_eq!(
        request(a, "POST", path, Some("y"), &[TEXT, write, cross])
            .await
            .status,
        403
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn stream_count_and_body_size_are_bounded() {
    let mut c = config();
    c.durable.args.max_streams = 2;
    c.durable.max_body = 16;
    let s = start(c).await;
    let a = s.local_addr();
    for p in ["/v1/stream/a", "/v1/stream/b"] {
        assert_eq!(request(a, "PUT", p, None, &[TEXT]).await.status, 201);
    }
    let r = request(a, "PUT", "/v1/stream/c", None, &[TEXT]).await;
    assert_eq!(r.status, 507);
    assert!(r.json()["error"].as_str().unwrap().contains("2 streams"));
    let big = "x".repeat(17);
    let r = request(a, "POST", "/v1/stream/a", Some(&big), &[TEXT]).await;
    assert_eq!(r.status, 413);
    // Deleting frees a slot.
    assert_eq!(
        request(a, "DELETE", "/v1/stream/b", None, &[]).await.status,
        204
    );
    assert_eq!(
        request(a, "PUT", "/v1/stream/c", None, &[TEXT])
            .await
            .status,
        201
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn sse_frames_data_and_control_and_ends_on_close() {
    let s = start(config()).await;
    let a = s.local_addr();
    let json = ("content-type", "application/json");
    let r = request(
        a,
        "PUT",
        "/v1/stream/j",
        Some(r#"[{"a":1},{"b":"x\ny"}]"#),
        &[json],
    )
    .await;
    assert_eq!(r.status, 201);
    let close = ("stream-closed", "true");
    assert_eq!(
        request(a, "POST", "/v1/stream/j", None, &[close])
            .await
            .status,
        204
    );
    let r = request(
        a,
        "GET",
        &format!("/v1/stream/j?offset={OFFSET_0}&live=sse"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    assert_eq!(
        r.body,
        "event: data\ndata:[{\"a\":1},{\"b\":\"x\\ny\"}]\n\n\
         event: control\ndata:{\"streamNextOffset\":\"0000000000000000_0000000000000002\",\
         \"upToDate\":true,\"streamClosed\":true}\n\n"
    );
    // Binary streams are base64 in SSE mode.
    let bin = ("content-type", "application/octet-stream");
    request(a, "PUT", "/v1/stream/b", Some("\u{1}\u{2}"), &[bin, close]).await;
    let r = request(a, "GET", "/v1/stream/b?offset=-1&live=sse", None, &[]).await;
    assert_eq!(r.headers["stream-sse-data-encoding"], "base64");
    assert!(
        r.body.starts_with("event: data\ndata:AQI=\n\n"),
        "{}",
        r.body
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn long_poll_waits_for_an_append_and_times_out_with_204() {
    let mut c = config();
    c.durable.args.long_poll = Duration::from_millis(300);
    let s = start(c).await;
    let a = s.local_addr();
    request(a, "PUT", "/v1/stream/lp", None, &[TEXT]).await;
    let r = request(
        a,
        "GET",
        &format!("/v1/stream/lp?offset={OFFSET_0}&live=long-poll"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.headers["stream-up-to-date"], "true");
    assert!(r.headers.contains_key("stream-cursor"));
    let mut c = config();
    c.durable.args.long_poll = Duration::from_secs(15);
    let s2 = start(c).await;
    let b = s2.local_addr();
    request(b, "PUT", "/v1/stream/lp", None, &[TEXT]).await;
    // From the tail it knows: whether the append lands before the wait starts (then data
    // is there at once) or during it (then it wakes the wait), the answer is the data.
    let waiter = tokio::spawn(async move {
        let path = format!("/v1/stream/lp?offset={OFFSET_0}&live=long-poll");
        request(b, "GET", &path, None, &[]).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    request(b, "POST", "/v1/stream/lp", Some("late"), &[TEXT]).await;
    let r = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!((r.status, r.body.as_str()), (200, "late"));
    assert!(r.headers.contains_key("stream-cursor"));
    s.shutdown().await.unwrap();
    s2.shutdown().await.unwrap();
}
