//! The benchmarks' load generator measures what it claims: `sse-loadgen durable` against a
//! real server counts every append and every delivered body exactly (the figures in
//! docs/BENCHMARKS.md come from it).

use serde_json::Value;
use sse_tests::server::{config, start};

#[tokio::test]
async fn durable_mode_counts_every_append_and_every_delivery() {
    let s = start(config()).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-loadgen"))
        .args(["durable", "--addr", &s.local_addr().to_string()])
        .args(["--pid", &std::process::id().to_string()])
        .args(["--writers", "3", "--appends", "20", "--readers", "4"])
        .args(["--fanout-appends", "25", "--body", "100"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["appends"], 60.0, "{v}");
    assert_eq!(v["append_ack_us"]["n"], 60, "{v}");
    assert_eq!(v["expected"], 100, "{v}");
    assert_eq!(v["delivered"], 100, "{v}");
    assert_eq!(v["drained"], true, "{v}");
    assert_eq!(v["reader_errors"], 0, "{v}");
    assert_eq!(v["latency_us"]["n"], 100, "every body was timed: {v}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn durable_mode_refuses_a_non_loopback_address() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-loadgen"))
        .args(["durable", "--addr", "192.0.2.1:80"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
