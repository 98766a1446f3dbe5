//! Browser and network security over real sockets: the Host check (DNS rebinding), cross-site
//! writes (CSRF), tokens on reads and writes (the fast `/stream` path included), security
//! headers, and the token flags of the real binary.

use serde_json::json;
use sse_tests::host_bin;
use sse_tests::server::{WAIT, config, get, open, request, start};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` as is on a fresh connection and returns the response head. Served by the fast
/// `/stream` path when it has no `date:` header (hyper always sends one).
async fn raw_head(addr: SocketAddr, head: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before a response head: {buf:?}");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("a response head in time");
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn is_fast(head: &str) -> bool {
    !head.contains("\r\ndate:")
}

async fn message_count(addr: SocketAddr, auth: &[(&str, &str)]) -> u64 {
    let r = request(addr, "GET", "/state", None, auth).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message_count"].as_u64().expect("message_count")
}

#[tokio::test]
async fn a_foreign_host_gets_421_on_every_route_the_fast_stream_included() {
    let s = start(config()).await;
    let a = s.local_addr();
    for host in [
        "evil.example",
        "evil.example:8080",
        "localhost.evil.example",
        "10.1.2.3",
    ] {
        let h = [("host", host)];
        for (method, path, body) in [
            ("GET", "/stream", None),
            ("GET", "/", None),
            ("GET", "/web/app.js", None),
            ("GET", "/state", None),
            ("GET", "/messages", None),
            ("POST", "/chat", Some(r#"{"message":"rebound"}"#)),
            (
                "POST",
                "/api/messages",
                Some(r#"{"type":"agent","content":"x"}"#),
            ),
            ("GET", "/nope", None),
        ] {
            let r = request(a, method, path, body, &h).await;
            assert_eq!(r.status, 421, "{method} {path} Host {host}: {}", r.body);
            assert!(
                r.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("--allowed-host"),
                "{}",
                r.body
            );
        }
        // The fast path hands it to hyper, which answers the error.
        let head = raw_head(a, &format!("GET /stream HTTP/1.1\r\nHost: {host}\r\n\r\n")).await;
        assert_eq!(status_of(&head), 421, "{head}");
    }
    assert_eq!(message_count(a, &[]).await, 0, "nothing was written");
    // HTTP/1.1 without a Host: 400, on the fast path too.
    let r = request(a, "GET", "/stream", None, &[("host", "")]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let head = raw_head(a, "GET /stream HTTP/1.1\r\n\r\n").await;
    assert_eq!(status_of(&head), 400, "{head}");
    let r = request(
        a,
        "POST",
        "/chat",
        Some(r#"{"message":"x"}"#),
        &[("host", "")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Loopback names are served, by the fast path where it applies.
    let port = a.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("app.localhost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.2".to_owned(),
    ] {
        let head = raw_head(a, &format!("GET /stream HTTP/1.1\r\nHost: {host}\r\n\r\n")).await;
        assert_eq!(status_of(&head), 200, "{host}: {head}");
        assert!(is_fast(&head), "{host}: {head}");
        let r = request(a, "GET", "/state", None, &[("host", &host)]).await;
        assert_eq!(r.status, 200, "{host}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn allowed_host_names_are_served_on_a_loopback_bind() {
    let mut c = config();
    c.allowed_hosts = vec!["agent.example".into()];
    let s = start(c).await;
    let a = s.local_addr();
    let head = raw_head(
        a,
        "GET /stream HTTP/1.1\r\nHost: Agent.Example:8080\r\n\r\n",
    )
    .await;
    assert_eq!((status_of(&head), is_fast(&head)), (200, true), "{head}");
    let chat = Some(r#"{"message":"hi"}"#);
    let r = request(a, "POST", "/chat", chat, &[("host", "agent.example")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(a, "POST", "/chat", chat, &[("host", "other.example")]).await;
    assert_eq!(r.status, 421, "{}", r.body);
    assert_eq!(get(a, "/state").await.status, 200, "loopback still served");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn writes_must_be_json() {
    let s = start(config()).await;
    let a = s.local_addr();
    let chat = r#"{"message":"hi"}"#;
    for path in ["/chat", "/api/messages", "/cancel", "/restart"] {
        for ct in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            let r = request(a, "POST", path, Some(chat), &[("content-type", ct)]).await;
            assert_eq!(r.status, 415, "{path} {ct:?}: {}", r.body);
            assert!(
                r.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("application/json")
            );
        }
    }
    let r = request(
        a,
        "PATCH",
        "/api/state",
        Some("{}"),
        &[("content-type", "text/plain")],
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(message_count(a, &[]).await, 0, "nothing was written");
    let json = [("content-type", "application/json; charset=utf-8")];
    let r = request(a, "POST", "/chat", Some(chat), &json).await;
    assert_eq!((r.status, r.json()), (200, json!({"idx": 0})));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn cross_site_writes_get_403_same_origin_and_the_cors_origin_pass() {
    let s = start(config()).await;
    let a = s.local_addr();
    let own = format!("http://{a}");
    let chat = Some(r#"{"message":"hi"}"#);
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "http://127.0.0.1:1")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", own.as_str()), ("sec-fetch-site", "cross-site")],
        vec![
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ],
    ] {
        for (method, path) in [
            ("POST", "/chat"),
            ("POST", "/api/messages"),
            ("POST", "/cancel"),
            ("POST", "/restart"),
            ("PATCH", "/api/state"),
            ("GET", "/api/inbox"),
        ] {
            let body = if method == "GET" { None } else { chat };
            let r = request(a, method, path, body, &headers).await;
            assert_eq!(r.status, 403, "{method} {path} {headers:?}: {}", r.body);
            assert!(r.json()["error"].as_str().unwrap().contains("cross-site"));
        }
    }
    assert_eq!(message_count(a, &[]).await, 0, "nothing was written");
    for headers in [
        vec![("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
        vec![], // curl, agents, `sse-host publish`
    ] {
        let r = request(a, "POST", "/chat", chat, &headers).await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.body);
    }
    s.shutdown().await.unwrap();

    let mut c = config();
    c.cors_origin = Some("https://ui.example".into());
    let s = start(c).await;
    let a = s.local_addr();
    let allowed = [
        ("origin", "https://ui.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let r = request(a, "POST", "/chat", chat, &allowed).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let other = [("origin", "https://other.example")];
    assert_eq!(request(a, "POST", "/chat", chat, &other).await.status, 403);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_protects_reads_and_writes_a_read_token_reads_only() {
    let mut c = config();
    c.token = Some("w-s3cret".into());
    c.read_token = Some("r-s3cret".into());
    let s = start(c).await;
    let a = s.local_addr();
    let host = format!("Host: {a}\r\n");
    for path in ["/stream", "/state", "/messages", "/download", "/metrics"] {
        for auth in [&[][..], &[("authorization", "Bearer wrong")]] {
            let r = request(a, "GET", path, None, auth).await;
            assert_eq!(r.status, 401, "{path} {auth:?}");
            assert_eq!(r.headers["www-authenticate"], "Bearer");
            assert!(r.json()["error"].is_string());
        }
        for token in ["w-s3cret", "r-s3cret"] {
            let bearer = format!("Bearer {token}");
            let ok = open(a, path, &[("authorization", &bearer)]).await;
            assert_eq!(ok.status, 200, "{path} with {token}");
            let query = format!("{path}?access_token={token}");
            assert_eq!(open(a, &query, &[]).await.status, 200, "{query}");
        }
    }
    // The fast path checks the same, and hands a refusal to hyper.
    let head = raw_head(a, &format!("GET /stream HTTP/1.1\r\n{host}\r\n")).await;
    assert_eq!(status_of(&head), 401, "{head}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    let wrong = format!("GET /stream?access_token=nope HTTP/1.1\r\n{host}\r\n");
    assert_eq!(status_of(&raw_head(a, &wrong).await), 401);
    for req in [
        format!("GET /stream?access_token=r-s3cret HTTP/1.1\r\n{host}\r\n"),
        format!("GET /stream?from=0&access_token=w-s3cret HTTP/1.1\r\n{host}\r\n"),
        format!("GET /stream HTTP/1.1\r\n{host}Authorization: Bearer r-s3cret\r\n\r\n"),
    ] {
        let head = raw_head(a, &req).await;
        assert_eq!(
            (status_of(&head), is_fast(&head)),
            (200, true),
            "{req}: {head}"
        );
    }
    // The page and its files stay open, so that it can load and ask for the token.
    assert_eq!(get(a, "/").await.status, 200);
    assert_eq!(get(a, "/web/app.js").await.status, 200);
    // Writes take the write token, in the header only.
    let msg = json!({"type": "agent", "content": "hi"}).to_string();
    for (path, auth) in [
        ("/api/messages", vec![("authorization", "Bearer r-s3cret")]),
        ("/api/messages?access_token=w-s3cret", vec![]),
        ("/chat", vec![("authorization", "Bearer r-s3cret")]),
    ] {
        let r = request(a, "POST", path, Some(&msg), &auth).await;
        assert_eq!(r.status, 401, "{path} {auth:?}: {}", r.body);
    }
    let inbox = open(a, "/api/inbox?access_token=w-s3cret", &[]).await;
    assert_eq!(inbox.status, 401, "the inbox is the agent's: header only");
    let w = [("authorization", "Bearer w-s3cret")];
    let r = request(a, "POST", "/api/messages", Some(&msg), &w).await;
    assert_eq!((r.status, r.json()), (200, json!({"idx": 0})));
    assert_eq!(
        message_count(a, &[("authorization", "Bearer r-s3cret")]).await,
        1
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn open_reads_keep_reads_open_while_writes_need_the_token() {
    let mut c = config();
    c.token = Some("s3cret".into());
    c.open_reads = true;
    let s = start(c).await;
    let a = s.local_addr();
    let head = raw_head(a, &format!("GET /stream HTTP/1.1\r\nHost: {a}\r\n\r\n")).await;
    assert_eq!((status_of(&head), is_fast(&head)), (200, true), "{head}");
    assert_eq!(get(a, "/messages").await.status, 200);
    let r = request(a, "POST", "/chat", Some(r#"{"message":"x"}"#), &[]).await;
    assert_eq!(r.status, 401);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let s = start(config()).await;
    let a = s.local_addr();
    let check = |what: &str, get: &dyn Fn(&str) -> Option<String>| {
        let csp = get("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{what}: {csp}");
        }
        assert_eq!(
            get("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(get("x-frame-options").as_deref(), Some("DENY"), "{what}");
        assert_eq!(
            get("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{what}"
        );
    };
    for path in ["/", "/web/app.js", "/web/style.css", "/state", "/nope"] {
        let r = get(a, path).await;
        check(path, &|name| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    }
    let head = raw_head(a, &format!("GET /stream HTTP/1.1\r\nHost: {a}\r\n\r\n")).await;
    assert!(is_fast(&head), "{head}");
    check("fast /stream", &|name| {
        let prefix = format!("{name}: ");
        head.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.replace("deny", "DENY"))
    });
    s.shutdown().await.unwrap();
}

/// The binary without the caller's `SSE_*` variables.
fn binary() -> Command {
    let mut cmd = Command::new(host_bin::path());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SSE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn empty_tokens_and_unusable_token_files_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let newline = dir.path().join("newline");
    std::fs::write(&newline, "\n").unwrap();
    let missing = dir.path().join("missing");
    let (empty, newline, missing) = (
        empty.to_str().unwrap(),
        newline.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let serve = ["serve", "--memory", "--bind", "127.0.0.1:0"];
    for (args, env, says) in [
        (&["--token", ""][..], None, "--token"),
        (&[], Some(("SSE_TOKEN", "")), "--token"),
        (&["--token", "a b"], None, "--token"),
        (&["--token", "w", "--read-token", ""], None, "--read-token"),
        (&[], Some(("SSE_READ_TOKEN", "r")), "--token"),
        (&["--read-token", "r"], None, "--token"),
        (&["--open-reads"], None, "--token"),
        (&["--token-file", empty], None, "--token-file"),
        (&["--token-file", newline], None, "--token-file"),
        (
            &["--token-file", missing],
            None,
            "cannot read the token file",
        ),
        (&[], Some(("SSE_TOKEN_FILE", empty)), "--token-file"),
        (
            &["--token", "a", "--token-file", newline],
            None,
            "--token-file",
        ),
        (
            &["--allowed-host", "http://x.example:80"],
            None,
            "--allowed-host",
        ),
    ] {
        let mut cmd = binary();
        cmd.args(serve).args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}:\n{err}");
        assert!(
            err.contains(says),
            "{args:?} {env:?} should name {says}:\n{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    for args in [
        &["publish", "--token", "", "state", "{}"][..],
        &["publish", "--token-file", empty, "state", "{}"],
    ] {
        let out = binary().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// `sse-host serve` on 127.0.0.1:0; returns the process and its address (from its log).
fn serve(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = binary()
        .args(["serve", "--memory", "--bind", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = lines
        .by_ref()
        .take(50)
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.split("addr=").nth(1)?;
            rest.split_whitespace().next()?.parse::<SocketAddr>().ok()
        })
        .expect("the bound address in the log");
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, addr)
}

#[tokio::test]
async fn a_token_file_protects_the_real_server_and_publish_reads_one_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let file = file.to_str().unwrap();
    let (mut child, a) = serve(&["--token-file", file]);
    let r = get(a, "/state").await;
    assert_eq!(r.status, 401, "{}", r.body);
    let auth = [("authorization", "Bearer from-a-file")];
    assert_eq!(message_count(a, &auth).await, 0);
    let url = format!("http://{a}");
    let publish = |args: &[&str]| {
        binary()
            .args(["publish", "--url", &url])
            .args(args)
            .args(["message", "--type", "agent", "--content", "hi"])
            .output()
            .unwrap()
    };
    let denied = publish(&[]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("401"));
    let ok = publish(&["--token-file", file]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), r#"{"idx":0}"#);
    assert_eq!(message_count(a, &auth).await, 1);
    child.kill().unwrap();
    child.wait().unwrap();
}
