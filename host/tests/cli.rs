//! The `sse-host` binary's command line, run as a user runs it: help, version, and the start-up
//! errors a user can cause. Each must be one clear line and an exit code, never a panic.
//!
//! (The streaming behaviour of the binary is tested in `tests/it`, which also reuses the binary
//! that building these tests leaves in the target directory.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

/// The binary, without the caller's `SSE_*` variables (flags fall back to them).
fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sse-host"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SSE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn sse_host(args: &[&str]) -> Output {
    let out = command()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run sse-host");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_names_every_command_and_version_matches_the_package() {
    let out = sse_host(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "publish", "follow", "decode"] {
        assert!(help.contains(command), "--help lacks {command}:\n{help}");
    }
    let out = sse_host(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        concat!("sse-host ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    for (args, says) in [
        (&["serve", "--bind", "nope"][..], "--bind"),
        (&["serve", "--store", "ftp://x"], "not a Redis URL"),
        (&["serve", "--heartbeat", "0s"], "--heartbeat"),
        (
            &["serve", "--memory", "--max-messages", "0"],
            "--max-messages",
        ),
        (&["serve", "--max-messages", "5"], "--memory"),
        (&["serve", "--memory", "--data-dir", "d"], "--data-dir"),
        (&["launch"], "launch"),
    ] {
        let out = sse_host(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{err}");
        assert!(err.contains(says), "{args:?} should mention {says}:\n{err}");
    }
}

#[test]
fn a_data_dir_that_is_a_file_is_refused_once_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let path = file.to_str().expect("utf-8 temp path");
    let out = sse_host(&["serve", "--bind", "127.0.0.1:0", "--data-dir", path]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("data directory {path}")), "{err}");
    // The OS error is said once, not once per level of the error chain.
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_redis_ca_with_a_plain_redis_url_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, b"").expect("write");
    let ca = ca.to_str().expect("utf-8 temp path");
    // Port 1 on loopback: nothing listens there, and the CA check comes first anyway.
    let url = "redis://127.0.0.1:1/0";
    let out = sse_host(&["serve", "--store", url, "--redis-ca", ca]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rediss://"), "{err}");
}

#[test]
fn publish_takes_its_url_before_or_after_the_subcommand() {
    // Nothing listens on port 1: both spellings reach the connect and fail there, naming it.
    for args in [
        &["publish", "--url", "http://127.0.0.1:1", "state", "{}"][..],
        &["publish", "state", "{}", "--url", "http://127.0.0.1:1"],
    ] {
        let out = sse_host(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{err}");
        assert!(err.contains("127.0.0.1:1"), "{args:?}:\n{err}");
    }
}

/// The binary as a service manager runs it: its log on a pipe (plain text, no colour codes, the
/// bound address on the first line), serving until SIGTERM, then a clean stop with exit 0.
#[test]
fn serve_logs_plain_text_to_a_pipe_serves_and_stops_on_sigterm() {
    let mut child = command()
        .args(["serve", "--memory", "--bind", "127.0.0.1:0"])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sse-host serve");
    let pid = child.id().to_string();
    // Bounded: if it has not exited within 20 s, SIGKILL ends the wait below (and the test fails
    // on the exit code).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (done, pid) = (done.clone(), pid.clone());
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        })
    };
    let mut log = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut first = String::new();
    log.read_line(&mut first).expect("read the first log line");
    assert!(!first.contains('\x1b'), "colour codes on a pipe: {first:?}");
    let addr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .unwrap_or_else(|| panic!("no addr= in {first:?}"))
        .to_owned();

    let mut http = TcpStream::connect(&addr).expect("connect to the logged address");
    http.write_all(b"GET /state HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut reply = String::new();
    http.read_to_string(&mut reply).expect("read reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let mut rest = String::new();
    log.read_to_string(&mut rest)
        .expect("read the rest of the log");
    let status = child.wait().expect("wait");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(
        !rest.contains('\x1b') && !rest.contains("panicked"),
        "{rest}"
    );
}

/// SIGTERM while `serve` is still starting (here: waiting for a Redis that accepted the
/// connection but does not answer) is a clean stop with exit 0, not death by the signal. The
/// handler used to be installed only once the server was up, and one CI run sent SIGTERM in
/// that gap (the test above: exit status "killed", no log).
#[test]
fn sigterm_while_starting_stops_cleanly() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("local addr").port();
    let mut child = command()
        .args(["serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("redis://127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sse-host serve");
    // The server is inside its start once it has connected to the "Redis".
    let (_held, _) = silent.accept().expect("the server connects");
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut log)
        .expect("read the log");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped before serving"), "{log}");
    assert!(!log.contains("no answer"), "it waited for Redis: {log}");
}
