//! Tidy checks (rust-analyzer `tidy.rs` style): architecture invariants that the compiler does not
//! enforce on the host, checked by reading the sources.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source dir is readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Non-test source of sse-core: every `.rs` under `core/src` except `tests.rs` files.
fn core_sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
        .map(|p| {
            let text = fs::read_to_string(&p).expect("source is UTF-8");
            (p, text)
        })
        .collect()
}

/// Lines of code, without `//` comments and doc comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

#[test]
fn core_never_allocates_reads_a_clock_or_logs() {
    const FORBIDDEN: &[(&str, &str)] = &[
        ("extern crate alloc", "allocation"),
        ("alloc::", "allocation"),
        ("format!", "allocation"),
        (".to_string()", "allocation"),
        (".to_owned()", "allocation"),
        ("Box<", "allocation"),
        ("Vec::new()", "allocation (use heapless)"),
        ("String::new()", "allocation (use heapless)"),
        ("Instant::now", "a clock read"),
        ("SystemTime", "a clock read"),
        ("thread::sleep", "sleeping"),
        ("println!", "logging"),
        ("eprintln!", "logging"),
        ("log::", "logging"),
        ("defmt::info", "logging"),
        ("defmt::warn", "logging"),
        ("defmt::debug", "logging"),
        ("tokio", "async runtime"),
    ];
    let mut problems = Vec::new();
    for (path, text) in core_sources() {
        for (n, line) in code_lines(&text) {
            // `heapless::Vec::new()` / `heapless::String::new()` are fixed-capacity: allowed.
            if line.contains("heapless::") {
                continue;
            }
            for (pat, why) in FORBIDDEN {
                if line.contains(pat) {
                    problems.push(format!("{}:{n}: `{pat}` is {why}", path.display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "sse-core invariants broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn core_forbids_unsafe_and_is_no_std() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/lib.rs"))
        .expect("lib.rs");
    assert!(lib.contains("#![no_std]"));
    assert!(lib.contains("#![forbid(unsafe_code)]"));
}

#[test]
fn shells_do_not_do_backoff_arithmetic() {
    // Backoff and heartbeat cadence belong to sse-core; a shell that multiplies by 1.5 or hard-codes
    // the 60 s cap is re-implementing the policy.
    let mut files = Vec::new();
    for dir in ["../host/src", "../embedded/app/src"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        if d.is_dir() {
            rust_files(&d, &mut files);
        }
    }
    let mut problems = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).expect("source is UTF-8");
        for (n, line) in code_lines(&text) {
            for pat in ["* 1.5", "*1.5", "backoff_factor", "powi(", "pow(attempt"] {
                if line.contains(pat) {
                    problems.push(format!("{}:{n}: `{pat}`", path.display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "protocol policy in a shell:\n{}",
        problems.join("\n")
    );
}

/// The web UI runs sse-core's session compiled to wasm (issue 13): no backoff, jitter, watchdog,
/// status classification or resume arithmetic may come back into `host/web` as a JS copy.
#[test]
fn web_ui_has_no_copy_of_the_connection_policy() {
    const FORBIDDEN: &[(&str, &str)] = &[
        ("backoff", "backoff (core's `Reconnect`)"),
        ("jitter", "jitter (core's `Reconnect`)"),
        ("Math.random", "jitter (core's `Reconnect`)"),
        (" ** ", "backoff growth (core's `Reconnect`)"),
        (
            "healthy",
            "the healthy-connection rule (core's `Reconnect`)",
        ),
        ("lastRx", "the heartbeat watchdog (core's `Reconnect`)"),
        (
            "isFatalStatus",
            "status classification (core's `Reconnect`)",
        ),
        ("new EventSource", "EventSource's own reconnect policy"),
        (
            "from=${nextIdx",
            "the resume point (core's `Tracker`; use the Connect action's `from`)",
        ),
        ("idx > nextIdx", "gap detection (core's `Tracker`)"),
        ("idx < nextIdx", "duplicate detection (core's `Tracker`)"),
        // Tabs sharing one stream (web/share.js) pass core's resume point along and compare
        // an index with it for equality; they never work one out.
        ("shared.next +", "resume-point arithmetic (core's)"),
        ("shared.next -", "resume-point arithmetic (core's)"),
        ("msg.next +", "resume-point arithmetic (core's)"),
        ("msg.next -", "resume-point arithmetic (core's)"),
        (".next() +", "resume-point arithmetic (core's `Tracker`)"),
        (".next() -", "resume-point arithmetic (core's `Tracker`)"),
        ("idx < shared", "ordering indices (core's)"),
        ("idx > shared", "ordering indices (core's)"),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/web");
    let mut problems = Vec::new();
    let mut seen = 0;
    for entry in fs::read_dir(&dir).expect("host/web is readable") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "js") {
            continue;
        }
        seen += 1;
        let text = fs::read_to_string(&path).expect("JS is UTF-8");
        for (n, line) in code_lines(&text) {
            // Query-parameter names of the test hooks (`backoff_ms`, `healthy_ms`) are allowed.
            let line = line.replace("'backoff_ms'", "").replace("'healthy_ms'", "");
            let line = line
                .replace("initialBackoffMs", "")
                .replace("healthyAfterMs", "");
            let line = line.replace("maxBackoffMs", "");
            for (pat, what) in FORBIDDEN {
                if line.contains(pat) {
                    problems.push(format!("{}:{n}: `{pat}` is {what}", path.display()));
                }
            }
        }
    }
    assert!(seen >= 3, "no JS found in {}", dir.display());
    assert!(
        problems.is_empty(),
        "host/web must drive sse_core.wasm, not reimplement it:\n{}",
        problems.join("\n")
    );
}
