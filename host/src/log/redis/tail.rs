//! The tail of the shared log: one blocking `XREAD` on its own connection over the log and
//! the state streams, the one source of "an entry appeared" on a Redis hub (this node's entries and
//! everyone else's).

use std::sync::atomic::Ordering::Relaxed;

use redis::AsyncCommands;
use redis::streams::{StreamReadOptions, StreamReadReply};

use super::conn::Conn;
use super::entry::{entry_index, int_field, parse_state, record, str_field};
use super::{BLOCK, Changes, OP_TIMEOUT, READ_COUNT, RedisLog};
use crate::log::LogError;

/// Reads the log's and the state's new entries with `XREAD BLOCK` on its own connection.
#[derive(Debug)]
pub struct Tail {
    log: RedisLog,
    conn: Option<Conn>,
}

impl Tail {
    pub(super) fn new(log: RedisLog) -> Self {
        Tail { log, conn: None }
    }

    /// Waits (up to [`BLOCK`]) for new entries and returns them, having already advanced the
    /// log's extent and state. After a (re)connect, and whenever a wait ends empty, it
    /// re-reads the metadata: a changed epoch comes back as [`Changes::rebased`].
    ///
    /// # Errors
    /// Redis failed; the connection is dropped and the next call reconnects and resumes
    /// where this node left off.
    pub async fn next(&mut self) -> Result<Changes, LogError> {
        let result = self.step().await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn step(&mut self) -> Result<Changes, LogError> {
        let log = self.log.clone();
        let i = &log.inner;
        let Some(mut conn) = self.conn.take() else {
            let mut conn = i.client.connect(BLOCK + OP_TIMEOUT).await?;
            let changes = resync(&log, &mut conn).await?;
            self.conn = Some(conn);
            return Ok(changes);
        };
        let end = i.end.load(Relaxed);
        let version = log.versioned_state().0;
        let opts = StreamReadOptions::default()
            .block(usize::try_from(BLOCK.as_millis()).unwrap_or(usize::MAX))
            .count(READ_COUNT);
        let ids = [format!("{end}-0"), format!("{}-0", version + 1)];
        let reply: Option<StreamReadReply> = tokio::time::timeout(
            BLOCK + OP_TIMEOUT,
            conn.xread_options(&[&i.log, &i.states], &ids, &opts),
        )
        .await
        .map_err(|_| LogError::Redis("blocking read did not return".into()))?
        .map_err(|e| LogError::Redis(e.to_string()))?;
        let Some(reply) = reply else {
            // Quiet for BLOCK: check that the store is still the same log.
            let changes = resync(&log, &mut conn).await?;
            self.conn = Some(conn);
            return Ok(changes);
        };
        self.conn = Some(conn);
        let mut changes = Changes::default();
        for stream in reply.keys {
            if stream.key == i.log {
                let mut first = None;
                for entry in stream.ids {
                    if let Some(f) = entry.map.get("f").and_then(int_field) {
                        first = Some(f);
                    }
                    match record(entry) {
                        Some(r) if r.idx.0 >= i.end.load(Relaxed) => {
                            i.end.store(r.idx.0 + 1, Relaxed);
                            i.bytes.fetch_add(r.json.len() as u64, Relaxed);
                            changes.records.push(r);
                        }
                        Some(_) => {}
                        None => tracing::warn!(key = %i.log, "skipped a malformed stream entry"),
                    }
                }
                if let Some(f) = first {
                    i.first.fetch_max(f, Relaxed);
                }
            } else if stream.key == i.states
                && let Some(newest) = stream.ids.into_iter().next_back()
            {
                let version = entry_index(&newest.id);
                let state = newest
                    .map
                    .get("s")
                    .and_then(str_field)
                    .and_then(parse_state);
                if let (Some(v), Some(s)) = (version, state)
                    && log.saw_state(v, &s)
                {
                    changes.state = Some((v, s));
                }
            }
        }
        Ok(changes)
    }
}

/// Compares the store's metadata with what this node has seen: a new epoch rebases the node;
/// a newer state is returned. Messages missed meanwhile come with the next read.
async fn resync(log: &RedisLog, conn: &mut Conn) -> Result<Changes, LogError> {
    let meta = log.fetch_meta(conn).await?;
    if meta.epoch != log.epoch() {
        tracing::warn!(
            key = %log.inner.key,
            old = %log.epoch(),
            new = %meta.epoch,
            messages = meta.next,
            "the Redis log has a new epoch (its data was lost or replaced); starting over"
        );
        log.adopt(&meta);
        return Ok(Changes {
            records: Vec::new(),
            state: Some((meta.state_version, meta.state)),
            rebased: true,
        });
    }
    log.inner.first.fetch_max(meta.first, Relaxed);
    let state = log
        .saw_state(meta.state_version, &meta.state)
        .then_some((meta.state_version, meta.state));
    Ok(Changes {
        records: Vec::new(),
        state,
        rebased: false,
    })
}
