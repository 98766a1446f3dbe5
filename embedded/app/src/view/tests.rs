extern crate std;
use std::string::ToString;

use super::*;

fn view(kind: StatusKind, reason: Reason, activity: Option<Activity>) -> View {
    View {
        status: Status { kind, reason },
        activity,
        ..View::new()
    }
}

#[test]
fn led_patterns_follow_connection_then_activity() {
    use StatusKind::*;
    assert_eq!(
        view(Connecting, Reason::Connecting, Some(Activity::RunningTool)).pattern(),
        Pattern::Connecting
    );
    assert_eq!(
        view(Disconnected, Reason::NoHeartbeat, Some(Activity::Idle)).pattern(),
        Pattern::Offline
    );
    assert_eq!(
        view(Connected, Reason::Connected, None).pattern(),
        Pattern::Idle
    );
    assert_eq!(
        view(Connected, Reason::Connected, Some(Activity::ModelCall)).pattern(),
        Pattern::Working
    );
    assert_eq!(
        view(Connected, Reason::Connected, Some(Activity::RunningTool)).pattern(),
        Pattern::Working
    );
    assert_eq!(
        view(Connected, Reason::Connected, Some(Activity::WaitingForUser)).pattern(),
        Pattern::WaitingForUser
    );
    assert_eq!(
        view(Connected, Reason::Connected, Some(Activity::Error)).pattern(),
        Pattern::Error
    );
    assert_eq!(
        view(Disabled, Reason::SessionEnded, Some(Activity::Idle)).pattern(),
        Pattern::Ended
    );
}

#[test]
fn status_line_is_stable_and_cost_is_fixed_point() {
    let mut v = view(
        StatusKind::Connected,
        Reason::Connected,
        Some(Activity::RunningTool),
    );
    v.messages = 3;
    v.next = Seq(3);
    v.cost_micro_usd = 250_000;
    assert_eq!(
        v.to_string(),
        "status link=connected reason=\"Connected\" activity=running_tool messages=3 oversized=0 next=3 cost=0.2500"
    );
    for (micros, shown) in [
        (0, (0, 0)),
        (49, (0, 0)),
        (50, (0, 1)),
        (12_375_000, (12, 3750)),
        (999_950, (1, 0)),
        (u64::MAX, (u64::MAX / 1_000_000, 5516)),
    ] {
        v.cost_micro_usd = micros;
        assert_eq!(v.cost_fixed4(), shown, "{micros}");
    }
}

#[test]
fn notes_read_as_log_lines() {
    assert_eq!(
        Note::Connect {
            from: Seq(5),
            last_event_id: Some("4")
        }
        .to_string(),
        "connect from=5 last_event_id=4"
    );
    assert_eq!(
        Note::Message {
            idx: Seq(6),
            bytes: 2048,
            truncated: true
        }
        .to_string(),
        "message idx=6 bytes=2048 truncated=true"
    );
}
