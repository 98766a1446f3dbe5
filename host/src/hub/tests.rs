use super::*;
use crate::log::MemoryLog;
use serde_json::json;
use std::time::Duration;

fn hub_with(config: HubConfig) -> Hub {
    Hub::new(Log::Memory(MemoryLog::new()), config)
}

fn events(batch: &Bytes) -> Vec<String> {
    let text = std::str::from_utf8(batch).unwrap();
    text.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            // `retry:` travels in the block of the stream's first event: "retry+state".
            let retry = if f.lines().any(|l| l.starts_with("retry: ")) {
                "retry+"
            } else {
                ""
            };
            let what = f
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map_or_else(
                    || f.lines().next().unwrap_or("").to_owned(),
                    |name| {
                        // Message ids are `<epoch>-<idx>`: show the index.
                        let id = f.lines().find_map(|l| l.strip_prefix("id: "));
                        let idx = id.map(|id| id.rsplit_once('-').map_or(id, |(_, i)| i));
                        idx.map_or(name.to_owned(), |idx| format!("{name}#{idx}"))
                    },
                );
            format!("{retry}{what}")
        })
        .collect()
}

async fn next(sub: &mut Subscription) -> Vec<String> {
    let b = tokio::time::timeout(Duration::from_secs(60), sub.next_batch())
        .await
        .expect("a batch within 60 s")
        .expect("stream still open");
    events(&b)
}

fn from(n: u64) -> ResumeRequest<'static> {
    ResumeRequest {
        from: Some(Seq(n)),
        last_event_id: None,
        epoch: None,
    }
}

async fn append_n(hub: &Hub, n: u64) {
    for i in 0..n {
        hub.append(json!({"type": "agent", "content": format!("m{i}")}))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn first_batch_is_retry_state_then_backlog_with_one_state() {
    let hub = hub_with(HubConfig::default());
    append_n(&hub, 5).await;
    let mut sub = hub.subscribe(from(2), EventFilter::ALL, None).unwrap();
    assert_eq!(
        next(&mut sub).await,
        ["retry+state", "message#2", "message#3", "message#4"]
    );
    append_n(&hub, 1).await;
    assert_eq!(next(&mut sub).await, ["state", "message#5"]);
}

#[tokio::test]
async fn state_is_coalesced_latest_wins() {
    let hub = hub_with(HubConfig::default());
    let mut sub = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    assert_eq!(next(&mut sub).await, ["retry+state"]);
    for i in 0..10 {
        hub.patch_state(&json!({"title": format!("t{i}")}))
            .await
            .unwrap();
    }
    let b = sub.next_batch().await.unwrap();
    assert_eq!(events(&b), ["state"]);
    assert!(std::str::from_utf8(&b).unwrap().contains(r#""title":"t9""#));
}

#[tokio::test]
async fn from_beyond_the_end_resets_and_replays_from_first() {
    let hub = hub_with(HubConfig::default());
    append_n(&hub, 2).await;
    let mut sub = hub.subscribe(from(7), EventFilter::ALL, None).unwrap();
    let b = sub.next_batch().await.unwrap();
    assert_eq!(
        events(&b),
        ["retry+reset", "state", "message#0", "message#1"]
    );
    let text = std::str::from_utf8(&b).unwrap();
    assert!(text.contains(&format!(
        r#"data: {{"epoch":"{}","message_count":2}}"#,
        hub.epoch()
    )));
}

#[tokio::test]
async fn filter_drops_messages_but_keeps_control_events() {
    let hub = hub_with(HubConfig::default());
    append_n(&hub, 3).await;
    let filter = EventFilter::parse("state,heartbeat,bogus");
    let mut sub = hub.subscribe(from(0), filter, None).unwrap();
    assert_eq!(next(&mut sub).await, ["retry+state"]);
    hub.patch_state(&json!({"session_ended": true}))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await, ["state", "session_ended"]);
    assert!(sub.next_batch().await.is_none());
}

#[tokio::test]
async fn lagging_subscriber_reads_the_log_and_sees_every_message_in_order() {
    let config = HubConfig {
        ring_frames: 4,
        batch_bytes: 300,
        ..HubConfig::default()
    };
    let hub = hub_with(config);
    let mut sub = hub
        .subscribe(from(0), EventFilter::parse("message"), None)
        .unwrap();
    append_n(&hub, 2).await;
    assert_eq!(next(&mut sub).await, ["retry+message#0", "message#1"]);
    append_n(&hub, 40).await; // the ring holds 4: messages 2..38 come from the log
    let mut seen = Vec::new();
    let mut writes = 0;
    while seen.len() < 40 {
        seen.extend(next(&mut sub).await);
        writes += 1;
    }
    assert!(writes < 40, "several messages per write");
    let want: Vec<String> = (2..42).map(|i| format!("message#{i}")).collect();
    assert_eq!(seen, want);
    assert_eq!(hub.metrics().lagged.load(Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_come_from_the_shared_timer() {
    let config = HubConfig {
        heartbeat: Duration::from_secs(15),
        ..HubConfig::default()
    };
    let hub = hub_with(config);
    let mut a = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    let mut b = hub
        .subscribe(from(0), EventFilter::parse("state"), None)
        .unwrap();
    assert_eq!(next(&mut a).await, ["retry+state"]);
    assert_eq!(next(&mut b).await, ["retry+state"]);
    let t0 = tokio::time::Instant::now();
    assert_eq!(next(&mut a).await, ["heartbeat"]);
    assert_eq!(t0.elapsed().as_secs(), 15);
    let sb = a.next_batch();
    tokio::pin!(sb);
    assert!(
        tokio::time::timeout(Duration::from_secs(14), &mut sb)
            .await
            .is_err()
    );
    assert!(sb.await.is_some());
    // `b` filtered heartbeats out: it has nothing until a state change.
    assert!(
        tokio::time::timeout(Duration::from_secs(40), b.next_batch())
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_stops_taking_batches_is_dropped_past_the_stall_bound() {
    let config = HubConfig {
        heartbeat: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(5),
        ..HubConfig::default()
    };
    let hub = hub_with(config);
    let kill = Arc::new(Notify::new());
    let mut stalled = hub
        .subscribe(from(0), EventFilter::ALL, Some(Arc::clone(&kill)))
        .unwrap();
    let mut healthy = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    // `stalled` takes one batch and is never polled again: a socket that stopped reading.
    stalled.next_batch().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while healthy.next_batch().await.is_some() {
            n += 1;
        }
        n
    });
    tokio::time::timeout(Duration::from_secs(8), kill.notified())
        .await
        .expect("killed");
    assert_eq!(hub.metrics().dropped.load(Relaxed), 1);
    hub.shutdown().await.unwrap();
    assert!(
        reader.await.unwrap() >= 6,
        "the healthy subscriber kept getting heartbeats"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_subscriber_is_never_dropped() {
    let config = HubConfig {
        heartbeat: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(2),
        ..HubConfig::default()
    };
    let hub = hub_with(config);
    let kill = Arc::new(Notify::new());
    let mut sub = hub
        .subscribe(
            from(0),
            EventFilter::parse("message"),
            Some(Arc::clone(&kill)),
        )
        .unwrap();
    // Nothing to send (no messages; `retry:` waits for the first event): it parks at once.
    let waiting = tokio::spawn(async move { sub.next_batch().await.is_some() });
    assert!(
        tokio::time::timeout(Duration::from_secs(30), kill.notified())
            .await
            .is_err()
    );
    assert_eq!(hub.metrics().dropped.load(Relaxed), 0);
    hub.shutdown().await.unwrap();
    assert!(!waiting.await.unwrap(), "shutdown ends the stream");
}

#[tokio::test]
async fn max_subscribers_is_enforced_and_closed_subscribers_free_their_slot() {
    let hub = hub_with(HubConfig {
        max_subscribers: 2,
        ..HubConfig::default()
    });
    let a = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    let _b = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    assert_eq!(
        hub.subscribe(from(0), EventFilter::ALL, None).err(),
        Some(SubscribeError::TooMany)
    );
    drop(a);
    assert_eq!(hub.metrics().subscribers(), 1);
    assert!(hub.subscribe(from(0), EventFilter::ALL, None).is_ok());
}

#[tokio::test]
async fn message_frames_are_encoded_once_and_shared() {
    let hub = hub_with(HubConfig::default());
    let mut a = hub
        .subscribe(from(0), EventFilter::parse("message"), None)
        .unwrap();
    let mut b = hub
        .subscribe(from(0), EventFilter::parse("message"), None)
        .unwrap();
    // The first batch carries the `retry:` line too (one buffer); the next is the frame alone.
    append_n(&hub, 1).await;
    a.next_batch().await.unwrap();
    b.next_batch().await.unwrap();
    append_n(&hub, 1).await;
    let x = a.next_batch().await.unwrap();
    let y = b.next_batch().await.unwrap();
    assert_eq!(x.as_ptr(), y.as_ptr(), "same allocation, not a copy");
}

#[tokio::test]
async fn invalid_input_changes_nothing() {
    let hub = hub_with(HubConfig::default());
    assert!(matches!(
        hub.append(json!({"type": "nope"})).await,
        Err(PublishError::Invalid(_))
    ));
    assert!(matches!(
        hub.patch_state(&json!([1])).await,
        Err(PublishError::Invalid(_))
    ));
    assert_eq!(hub.message_count(), Seq(0));
    assert_eq!(hub.append(json!({"type": "user"})).await.unwrap(), Seq(0));
}

#[tokio::test]
async fn a_subscriber_below_the_retention_window_is_ended_not_skipped() {
    let config = HubConfig {
        ring_frames: 1,
        ..HubConfig::default()
    };
    let hub = Hub::new(Log::Memory(MemoryLog::with_max_messages(Some(3))), config);
    let mut sub = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    assert_eq!(next(&mut sub).await, ["retry+state"]);
    // Messages 0..6 arrive while it is not reading: the log keeps 3..6, the ring only 5.
    append_n(&hub, 6).await;
    // It gets what it can without a gap (the latest state), then its stream ends: a client
    // resuming at 0 gets `reset`.
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        let mut rest = Vec::new();
        while let Some(b) = sub.next_batch().await {
            rest.extend(events(&b));
        }
        rest
    })
    .await
    .expect("the stream ends");
    assert_eq!(rest, ["state"]);
    let mut again = hub.subscribe(from(0), EventFilter::ALL, None).unwrap();
    assert_eq!(
        next(&mut again).await,
        [
            "retry+reset",
            "state",
            "message#3",
            "message#4",
            "message#5"
        ]
    );
}

#[tokio::test]
async fn message_ids_are_epoch_qualified_and_a_stale_epoch_resets() {
    let hub = hub_with(HubConfig::default());
    append_n(&hub, 3).await;
    let mut sub = hub.subscribe(from(1), EventFilter::ALL, None).unwrap();
    let b = sub.next_batch().await.unwrap();
    let text = std::str::from_utf8(&b).unwrap();
    assert!(text.contains(&format!("id: {}-1\n", hub.epoch())), "{text}");
    // A client whose copy came from another log (a restarted --memory server) is reset, even
    // though its index is inside this log.
    let stale = ResumeRequest::parse(None, None, Some("0123abcd-1")).unwrap();
    let mut sub = hub.subscribe(stale, EventFilter::ALL, None).unwrap();
    assert_eq!(
        next(&mut sub).await,
        [
            "retry+reset",
            "state",
            "message#0",
            "message#1",
            "message#2"
        ]
    );
    let epoch = hub.epoch();
    let same = ResumeRequest::parse(None, Some(&epoch), Some("1")).unwrap();
    let mut sub = hub.subscribe(same, EventFilter::ALL, None).unwrap();
    assert_eq!(next(&mut sub).await, ["retry+state", "message#2"]);
}

#[tokio::test]
async fn a_client_at_the_end_of_an_ended_session_is_told_ended() {
    let hub = hub_with(HubConfig::default());
    append_n(&hub, 2).await;
    hub.patch_state(&json!({"session_ended": true}))
        .await
        .unwrap();
    let epoch = hub.epoch();
    let last = format!("{epoch}-1");
    let at_end = ResumeRequest::parse(None, None, Some(&last)).unwrap();
    assert!(matches!(
        hub.subscribe(at_end, EventFilter::ALL, None),
        Err(SubscribeError::Ended)
    ));
    // Behind the end: the rest, then `session_ended`.
    let mut sub = hub.subscribe(from(1), EventFilter::ALL, None).unwrap();
    assert_eq!(
        next(&mut sub).await,
        ["retry+state", "message#1", "session_ended"]
    );
}
