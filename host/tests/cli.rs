//! The `sse-host` binary's command line, run as a user runs it: help, version, and the start-up
//! errors a user can cause. Each must be one clear line and an exit code, never a panic.
//!
//! (The streaming behaviour of the binary is tested in `tests/it`, which also reuses the binary
//! that building these tests leaves in the target directory.)

use std::process::{Command, Output};

fn sse_host(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sse-host"));
    // Flags have `SSE_*` environment fallbacks: keep the caller's environment out of the test.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SSE_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
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
