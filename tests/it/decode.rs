//! `sse-host decode`, run as a user would, against the golden corpus.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use sse_tests::{golden, host_bin};

/// Runs `sse-host decode ARGS` with `input` on stdin.
fn decode(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(host_bin::path())
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sse-host");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait for sse-host");
    writer.join().expect("writer thread").expect("write stdin");
    out
}

fn stdout(out: &Output) -> &str {
    std::str::from_utf8(&out.stdout).expect("stdout is UTF-8")
}

#[test]
fn golden_corpus_at_several_chunk_sizes() {
    for case in golden::cases() {
        for chunk in [
            None,
            Some("1"),
            Some("2"),
            Some("3"),
            Some("7"),
            Some("64"),
            Some("4096"),
        ] {
            let args: Vec<&str> = chunk.map(|n| vec!["--chunk", n]).unwrap_or_default();
            let out = decode(&args, &case.input);
            let what = format!("{} with {args:?}", case.name);
            assert!(out.status.success(), "{what}: {out:?}");
            assert_eq!(stdout(&out), case.events_text, "{what}");
            assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{what}");
        }
    }
}

#[test]
fn last_event_id_seeds_the_parser() {
    let out = decode(
        &["--last-event-id", "41"],
        b"data: a\n\nid: 42\ndata: b\n\n",
    );
    assert_eq!(
        stdout(&out),
        concat!(
            "{\"type\":\"message\",\"data\":\"a\",\"last_event_id\":\"41\"}\n",
            "{\"type\":\"message\",\"data\":\"b\",\"last_event_id\":\"42\"}\n",
            "{\"end\":true,\"last_event_id\":\"42\",\"retry\":null}\n",
        )
    );
    let out = decode(&["--last-event-id", "7"], b"");
    assert_eq!(
        stdout(&out),
        "{\"end\":true,\"last_event_id\":\"7\",\"retry\":null}\n"
    );
}

#[test]
fn refused_last_event_id_is_a_usage_error() {
    // (An ID over the 1 MiB limit cannot be tested: Linux caps one argument at 128 KiB.)
    let out = decode(&["--last-event-id", "a\nb"], b"");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("contains LF"));
}

#[test]
fn over_long_id_is_reported_and_decoding_goes_on() {
    let mut input = b"data: before\n\nid: ".to_vec();
    input.extend(std::iter::repeat_n(b'9', (1 << 20) + 1));
    input.extend(b"\ndata: dropped\n\ndata: after\n\n");
    let out = decode(&["--chunk", "4096"], &input);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        concat!(
            "{\"type\":\"message\",\"data\":\"before\",\"last_event_id\":\"\"}\n",
            "{\"type\":\"message\",\"data\":\"after\",\"last_event_id\":\"\"}\n",
            "{\"end\":true,\"last_event_id\":\"\",\"retry\":null}\n",
        )
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("longer than the line limit"), "{stderr}");
}

#[test]
fn a_mebibyte_of_data_fits_and_more_is_cut() {
    let line = |n: usize| {
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', n));
        input.extend(b"\n\n");
        input
    };
    let out = decode(&[], &line(1 << 20));
    let first = stdout(&out).lines().next().expect("an event");
    let value: serde_json::Value = serde_json::from_str(first).expect("json");
    assert_eq!(value["data"].as_str().map(str::len), Some(1 << 20));
    assert!(out.stderr.is_empty());

    let out = decode(&[], &line((1 << 20) + 10));
    let first = stdout(&out).lines().next().expect("an event");
    let value: serde_json::Value = serde_json::from_str(first).expect("json");
    assert_eq!(value["data"].as_str().map(str::len), Some(1 << 20));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut"));
}

#[test]
fn help_documents_the_output() {
    let out = Command::new(host_bin::path())
        .args(["decode", "--help"])
        .output()
        .expect("run");
    let help = stdout(&out);
    for needle in ["--chunk", "--last-event-id", "\"end\":true", "U+FFFD"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
