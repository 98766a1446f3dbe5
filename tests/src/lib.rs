//! Shared helpers for the integration tests (h2-support style): golden loader, chunk splitter,
//! spawning the real server. (The fake clock and the core-only property tests live in
//! `core/tests/`, run by `cargo test -p sse-core`.)

pub mod chaos;
pub mod chunks;
// What encoded frames mean: core's test support, shared with golden_frames and the fuzz targets.
#[path = "../../core/tests/it/support/frame_model.rs"]
pub mod frame_model;
pub mod golden;
pub mod host_bin;
pub mod redis;
pub mod scripted;
pub mod server;
pub mod tls;

/// Retries `attempt` until it returns `Some`, for at most `within`, pausing between tries
/// (10 ms, doubling up to 200 ms). The one poll loop of the integration tests: every wait for
/// "the server got there" goes through it, so each is bounded and says what it waited for.
///
/// # Panics
/// When `within` passes first; the message names `what`.
pub async fn eventually<T>(
    what: &str,
    within: std::time::Duration,
    mut attempt: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = std::time::Duration::from_millis(10);
    loop {
        if let Some(done) = attempt().await {
            return done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(200));
    }
}
