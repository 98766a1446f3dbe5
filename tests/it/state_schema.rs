//! One State schema (PROTOCOL.md §4): what the host renders is what a device reads. The States
//! here are made by the real hub (defaults overlaid with what an agent set) and read by the
//! device's parser with the firmware's own bounds.

use serde_json::{Value, json};
use sse_core::agent::follow::{Follow, Output};
use sse_core::agent::state::{Activity, DeviceState};
use sse_core::reconnect::Policy;
use sse_host::hub::{Hub, HubConfig};
use sse_host::log::{Log, MemoryLog};

/// The firmware's parser bounds (`embedded/app/src/config.rs`: LINE, DATA).
type DeviceFollow = Follow<64, 2048>;

fn hub() -> Hub {
    Hub::new(Log::Memory(MemoryLog::new()), HubConfig::default())
}

fn state(hub: &Hub) -> Value {
    serde_json::from_slice(&hub.state_json()).expect("the State is JSON")
}

#[tokio::test]
async fn a_fresh_state_has_sketchs_fields_and_the_device_reads_it() {
    let hub = hub();
    // An agent that sets one field only (sketch's UI threw on the missing others).
    hub.patch_state(&json!({"outstanding_llm_calls": 0}))
        .await
        .unwrap();
    let s = state(&hub);
    assert_eq!(s["outstanding_tool_calls"], json!([]));
    assert_eq!(s["total_usage"]["tool_uses"], json!({}));
    for key in [
        "message_count",
        "epoch",
        "first_message_index",
        "title",
        "hostname",
        "working_dir",
        "initial_commit",
        "session_id",
        "outstanding_llm_calls",
        "session_ended",
        "can_send_messages",
    ] {
        assert!(s.get(key).is_some(), "{key} missing: {s}");
    }
    let d = DeviceState::parse(&hub.state_json()).expect("the device reads the host's State");
    assert_eq!(d.epoch.as_str(), hub.epoch());
    assert_eq!(d.activity(), Activity::Idle);
}

#[tokio::test]
async fn a_busy_state_reads_the_same_on_the_device() {
    let hub = hub();
    hub.patch_state(&json!({
        "title": "Fix the parser",
        "agent_state": "RunningTool",
        "outstanding_llm_calls": 1,
        "outstanding_tool_calls": ["bash", "patch"],
        "total_usage": {"input_tokens": 1200, "output_tokens": 80, "total_cost_usd": 0.0048,
            "tool_uses": {"bash": 2}},
        "custom": {"nested": [1, 2, {"deep": true}]},
    }))
    .await
    .unwrap();
    let d = DeviceState::parse(&hub.state_json()).unwrap();
    assert_eq!(d.title.as_str(), "Fix the parser");
    assert_eq!(d.activity(), Activity::RunningTool);
    assert_eq!(d.outstanding_llm_calls, 1);
    assert_eq!(d.outstanding_tool_calls.len(), 2);
    assert_eq!((d.input_tokens, d.output_tokens), (1200, 80));
    assert_eq!(d.total_cost_micro_usd, 4800);
    assert!(d.can_send_messages, "the default: the session runs");
}

#[tokio::test]
async fn counters_the_device_holds_in_32_bits_saturate() {
    let hub = hub();
    hub.patch_state(&json!({"outstanding_llm_calls": u64::MAX}))
        .await
        .unwrap();
    let d = DeviceState::parse(&hub.state_json()).expect("a huge counter is not an error");
    assert_eq!(d.outstanding_llm_calls, u32::MAX);
}

#[tokio::test]
async fn a_state_over_the_device_bound_is_reported_as_too_large() {
    let hub = hub();
    hub.patch_state(&json!({"title": "t", "notes": "x".repeat(4096)}))
        .await
        .unwrap();
    let frame = format!(
        "event: state\ndata: {}\n\n",
        String::from_utf8(hub.state_json().to_vec()).unwrap()
    );
    let mut f = DeviceFollow::new(Policy::default(), 1);
    f.start(sse_core::Instant::from_millis(0));
    while f.poll_action().is_some() {}
    f.handle_response(sse_core::Instant::from_millis(1), 200, true);
    let mut rest = frame.as_bytes();
    let mut seen = None;
    while !rest.is_empty() {
        if let Some(Output::State { data, truncated }) =
            f.handle_bytes(sse_core::Instant::from_millis(2), &mut rest)
        {
            seen = Some((data.len(), truncated));
        }
    }
    assert_eq!(seen, Some((2048, true)));
}
