//! Plumbing: how a node reaches Redis (one server or a cluster, plain or TLS), the connection
//! type the log is written against, and the retry and timeout rules every command follows.

use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Value as RValue};

use super::{OP_TIMEOUT, RETRY_PAUSES_MS, RedisConfig};
use crate::log::LogError;

/// Runs `op` until it succeeds, pausing [`RETRY_PAUSES_MS`] between attempts, all within
/// [`OP_TIMEOUT`].
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T, LogError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    let attempts = async {
        let mut last = None;
        for pause in RETRY_PAUSES_MS {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.code() == Some("SSE_EPOCH") => return Err(LogError::EpochChanged),
                Err(e) => last = Some(e),
            }
        }
        Err(LogError::Redis(
            last.map_or_else(|| "no attempt".into(), |e| e.to_string()),
        ))
    };
    tokio::time::timeout(OP_TIMEOUT, attempts)
        .await
        .unwrap_or_else(|_| {
            Err(LogError::Redis(format!(
                "no answer within {}",
                humantime::format_duration(OP_TIMEOUT)
            )))
        })
}

/// One attempt of `fut`, bounded by [`OP_TIMEOUT`].
pub(crate) async fn timed<T>(
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, LogError> {
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.code() == Some("SSE_EPOCH") => Err(LogError::EpochChanged),
        Ok(Err(e)) => Err(LogError::Redis(e.to_string())),
        Err(_) => Err(LogError::Redis(format!(
            "no answer within {}",
            humantime::format_duration(OP_TIMEOUT)
        ))),
    }
}

/// How a node reaches Redis: one server, or a cluster through the node its URL names.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per log, made once at start; boxing would buy nothing"
)]
pub(crate) enum Client {
    Single(redis::Client),
    Cluster(ClusterClient),
}

/// A connection to either; the log's code is written once against [`ConnectionLike`].
#[derive(Clone)]
pub(crate) enum Conn {
    /// Commands to one server (reconnects by itself).
    Managed(ConnectionManager),
    /// A tail's blocking reads from one server.
    Single(MultiplexedConnection),
    /// Commands or blocking reads, routed by slot.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Managed(_) => "Conn::Managed",
            Conn::Single(_) => "Conn::Single",
            Conn::Cluster(_) => "Conn::Cluster",
        })
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, RValue> {
        match self {
            Conn::Managed(c) => c.req_packed_command(cmd),
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<RValue>> {
        match self {
            Conn::Managed(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Managed(c) => c.get_db(),
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Client {
    /// A connection whose replies may take up to `response` (longer for blocking reads).
    pub(crate) async fn connect(&self, response: Duration) -> Result<Conn, LogError> {
        let connect = Duration::from_secs(1);
        match self {
            Client::Single(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(connect))
                    .set_response_timeout(Some(response));
                timed(client.get_multiplexed_async_connection_with_config(&config))
                    .await
                    .map(Conn::Single)
            }
            Client::Cluster(client) => {
                let config = ClusterConfig::new()
                    .set_connection_timeout(connect)
                    .set_response_timeout(response);
                timed(client.get_async_connection_with_config(config))
                    .await
                    .map(Conn::Cluster)
            }
        }
    }

    /// The connection for commands: self-reconnecting for one server.
    pub(crate) async fn commands(&self) -> Result<Conn, LogError> {
        match self {
            Client::Single(client) => {
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(OP_TIMEOUT))
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1));
                timed(ConnectionManager::new_with_config(client.clone(), manager))
                    .await
                    .map(Conn::Managed)
            }
            Client::Cluster(_) => self.connect(OP_TIMEOUT).await,
        }
    }
}

/// The key prefix as stored: in a cluster, a hash tag, so all of a conversation's keys share
/// one slot (`sse:default` → `{sse:default}`; a prefix that already has a tag is kept).
pub(crate) fn stored_prefix(key: &str, cluster: bool) -> String {
    let tagged = key
        .split_once('{')
        .is_some_and(|(_, rest)| rest.find('}').is_some_and(|end| end > 0));
    if cluster && !tagged {
        format!("{{{key}}}")
    } else {
        key.to_owned()
    }
}

/// A client for `config`: one server or a cluster, plain or TLS as the URL says, trusting
/// `config.ca` if given and presenting `config.client_cert` if given.
pub(crate) fn client(config: &RedisConfig) -> Result<Client, LogError> {
    let tls = tls_certificates(config)?;
    let bad = |e: redis::RedisError| LogError::Redis(e.to_string());
    if config.cluster {
        let mut builder = ClusterClientBuilder::new(config.url.split(',')).retries(2);
        if let Some(tls) = tls {
            builder = builder.certs(tls);
        }
        return builder.build().map(Client::Cluster).map_err(bad);
    }
    if config.url.contains(',') {
        return Err(LogError::Redis(
            "several URLs (seed nodes) only apply to a Redis Cluster: add --redis-cluster".into(),
        ));
    }
    match tls {
        None => redis::Client::open(config.url.as_str()),
        Some(tls) => redis::Client::build_with_tls(config.url.as_str(), tls),
    }
    .map(Client::Single)
    .map_err(bad)
}

/// The CA and client certificate files of `config`, read; `None` when neither is given.
pub(crate) fn tls_certificates(
    config: &RedisConfig,
) -> Result<Option<redis::TlsCertificates>, LogError> {
    let tls_file = config
        .ca
        .as_ref()
        .or(config.client_cert.as_ref().map(|c| &c.cert));
    let Some(tls_file) = tls_file else {
        return Ok(None);
    };
    if !config.url.starts_with("rediss://") {
        return Err(LogError::Redis(format!(
            "TLS files ({}) only apply to TLS: use a rediss:// URL",
            tls_file.display()
        )));
    }
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| LogError::Redis(format!("reading the {what} {}: {e}", path.display())))
    };
    let root_cert = config
        .ca
        .as_deref()
        .map(|p| read("CA file", p))
        .transpose()?;
    let client_tls = match &config.client_cert {
        None => None,
        Some(c) => Some(redis::ClientTlsConfig {
            client_cert: read("client certificate", &c.cert)?,
            client_key: read("client key", &c.key)?,
        }),
    };
    Ok(Some(redis::TlsCertificates {
        client_tls,
        root_cert,
    }))
}

#[cfg(test)]
mod tests {
    use super::stored_prefix;

    #[test]
    fn cluster_prefixes_become_one_hash_tag() {
        assert_eq!(stored_prefix("sse:default", false), "sse:default");
        assert_eq!(stored_prefix("sse:default", true), "{sse:default}");
        // A prefix with a (non-empty) tag already keeps its slot choice.
        assert_eq!(stored_prefix("app:{room7}", true), "app:{room7}");
        // `{}` is not a tag to Redis: the whole key would be hashed.
        assert_eq!(stored_prefix("a{}b", true), "{a{}b}");
    }
}
