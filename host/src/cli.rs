//! Command-line interface (clap). Each subcommand lives in its own module.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Real-time agent status over Server-Sent Events.
#[derive(Debug, Parser)]
#[command(name = "sse-host", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve an agent's conversation and status to browsers, terminals and devices.
    ///
    /// (Boxed: its many flags would make every `Command` as large as it.)
    Serve(Box<ServeArgs>),
    /// Append a message or update the state of a running server (for shell scripts).
    Publish(PublishArgs),
    /// Follow a live event stream, reconnecting and resuming as needed.
    ///
    /// Works against any SSE server; against `sse-host serve` it also resumes by message index,
    /// drops duplicates, recovers a gap by resuming at the first missing index, and starts over when the server's log was replaced. A
    /// Durable Streams URL (`/v1/stream/…`, or `--durable`) is read in SSE mode: its bytes as
    /// they are, resumed from `streamNextOffset`, until the stream is closed (exit 0). On a
    /// terminal, line 1 is a live status line (connection status with its reason and reconnect
    /// countdown, the agent's state, tokens and cost) above the scrolling messages; when stdout is
    /// not a terminal it prints plain lines instead (tool runs as `$ command → result`, with ✗
    /// when the tool failed; multi-line messages in full). Exit status (details below): 0 done,
    /// 1 other failure, 2 bad arguments, 3 server said stop (204), 4 refused (4xx other than
    /// 408/429), 5 gave up (--max-retries), 6 --timeout without ever connecting, 128+N on
    /// signal N.
    Follow(crate::follow_cmd::FollowArgs),
    /// Decode a raw text/event-stream from stdin with the core parser, one JSON line per event.
    ///
    /// Prints one JSON line per dispatched event, `{"type":T,"data":D,"last_event_id":I}`, then
    /// at end of input `{"end":true,"last_event_id":I,"retry":R}` (R: the reconnection time in
    /// ms set by the stream, or null). Invalid UTF-8 becomes U+FFFD. Limits: 1 MiB per line and
    /// per event. An event whose type or id is longer is dropped and reported on stderr; longer
    /// data is cut and reported on stderr. Decoding always goes on to the end; exit status 0.
    Decode(crate::decode::DecodeArgs),
}

/// `sse-host serve`: where the log lives, who may call, the limits, and the agent; each group
/// is its own section of `--help`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Binds loopback only by default; use 0.0.0.0:PORT to expose.
    #[arg(long, env = "SSE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Where the message log lives.
    #[command(flatten, next_help_heading = "Store")]
    pub store: StoreArgs,
    /// Who may call what.
    #[command(flatten, next_help_heading = "Access")]
    pub auth: AuthArgs,
    /// Heartbeat, sizes and timeouts.
    #[command(flatten, next_help_heading = "Limits")]
    pub limits: LimitArgs,
    /// Where messages come from besides the HTTP API.
    #[command(flatten, next_help_heading = "Agent")]
    pub agent: AgentArgs,
    /// Durable Streams under /v1/stream/.
    #[command(flatten, next_help_heading = "Durable Streams")]
    pub durable: crate::durable::DurableArgs,
}

/// Where the message log lives: one choice, `--store` (`--memory` and `--data-dir DIR` are
/// its older spellings, kept), and the options of the store chosen.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The message log: a directory (the durable file log, created if missing; one server per
    /// directory: a second one on it refuses to start), `memory` (messages in memory only: every
    /// start is a new epoch, clients see `reset`), or a Redis URL to share the log with other
    /// `serve` processes through Redis Streams: redis://HOST:PORT/DB
    /// (redis://:PASSWORD@HOST:PORT/DB with AUTH; rediss://… for TLS, checked against the
    /// system's trust store or --redis-ca). [default: ./sse-data]
    ///
    /// A directory named `memory` is `./memory`. With Redis, every node started with the same
    /// URL and --redis-key serves one conversation: any node accepts a publish, every node's
    /// subscribers receive it, and a client may resume on any node (same epoch, same indices).
    /// Redis must be reachable at start; later outages make publishes fail with 503 while
    /// streams stay open and resume when Redis is back. For "nothing acknowledged is lost"
    /// across Redis restarts, run Redis with `appendonly yes` and `appendfsync always`.
    #[arg(long, env = "SSE_STORE", value_name = "DIR|memory|URL", value_parser = parse_store)]
    pub store: Option<StoreChoice>,
    /// Same as --store memory.
    #[arg(long, env = "SSE_MEMORY", conflicts_with_all = ["store", "data_dir"])]
    pub memory: bool,
    /// Same as --store DIR.
    #[arg(
        long,
        env = "SSE_DATA_DIR",
        value_name = "DIR",
        conflicts_with = "store"
    )]
    pub data_dir: Option<PathBuf>,
    /// Repair a damaged message log (a directory --store) at start instead of refusing to start.
    ///
    /// Without it, a log damaged before its tail (a valid record after damaged bytes, or a
    /// complete record with a bad checksum at the end) makes `serve` exit with an error naming
    /// the file and offset; a torn last record (a crash mid-append) is always cut. With it, the
    /// damaged file is kept as messages.log.damaged-T (T: Unix time; nothing is deleted), every
    /// valid record is kept in order, and if any acknowledged record was lost or had to be
    /// renumbered a new epoch starts, so every client gets `reset` instead of a spliced history.
    /// Does nothing on a sound log.
    #[arg(long, env = "SSE_REPAIR", conflicts_with = "memory")]
    pub repair: bool,
    /// With --store memory: keep only the newest N messages, dropping the oldest (default: keep all).
    /// A client resuming below the kept window gets `reset`, then the kept messages.
    #[arg(long, env = "SSE_MAX_MESSAGES", value_name = "N", value_parser = parse_count)]
    pub max_messages: Option<usize>,
    /// Key prefix of this conversation in Redis (keys PREFIX:meta, PREFIX:log, PREFIX:state).
    /// [default: sse:default]
    #[arg(long, env = "SSE_REDIS_KEY", value_name = "PREFIX", requires = "store")]
    pub redis_key: Option<String>,
    /// With a rediss:// store: PEM file of the CA certificate(s) that signed the Redis
    /// server's certificate (a private CA, a self-signed server), used instead of the system's
    /// trust store.
    #[arg(long, env = "SSE_REDIS_CA", value_name = "FILE", requires = "store")]
    pub redis_ca: Option<PathBuf>,
    /// With a rediss:// store: PEM file of the certificate this node presents, for a Redis
    /// that requires client certificates (`tls-auth-clients yes`). Needs --redis-cert-key.
    #[arg(
        long,
        env = "SSE_REDIS_CERT",
        value_name = "FILE",
        requires = "store",
        requires = "redis_cert_key"
    )]
    pub redis_cert: Option<PathBuf>,
    /// PEM file of the private key of --redis-cert.
    #[arg(
        long,
        env = "SSE_REDIS_CERT_KEY",
        value_name = "FILE",
        requires = "redis_cert"
    )]
    pub redis_cert_key: Option<PathBuf>,
    /// The Redis --store URL names a node of a Redis Cluster: the others are discovered from it. Give
    /// several, comma-separated, so that a node can still (re)connect while one of them is down;
    /// or one name that always reaches a live node (a managed service's configuration endpoint).
    /// The conversation's keys share one slot: the --redis-key prefix P is stored as the hash
    /// tag {P} (unless it already contains one).
    #[arg(long, env = "SSE_REDIS_CLUSTER", requires = "store")]
    pub redis_cluster: bool,
    /// Keep at most N messages in the Redis stream (exact: older ones are trimmed as new ones
    /// arrive, and clients resuming below the oldest kept index get `reset`). Unbounded when
    /// not given.
    #[arg(long, env = "SSE_REDIS_MAX_LEN", value_name = "N", requires = "store", value_parser = clap::value_parser!(u64).range(1..))]
    pub redis_max_len: Option<u64>,
}

/// What `--store` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// `memory`.
    Memory,
    /// A directory: the file log.
    Dir(PathBuf),
    /// A Redis URL (or several, comma-separated, for `--redis-cluster`).
    Redis(String),
}

/// Tokens, reads, host names and CORS.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Bearer token required on every write (/api/*, /chat, /cancel, /restart) and on every
    /// read (/stream, /state, /messages, /download, /metrics; not the page itself) unless
    /// --open-reads. Reads also take it as ?access_token=T (for the browser's EventSource).
    /// Prefer SSE_TOKEN or --token-file: a command line is readable by every local user.
    /// Empty is refused.
    #[arg(long, env = "SSE_TOKEN", hide_env_values = true, group = "write_token", value_parser = parse_token)]
    pub token: Option<String>,
    /// Read --token from this file (one trailing newline is dropped; empty is refused).
    #[arg(long, env = "SSE_TOKEN_FILE", value_name = "PATH", group = "write_token", value_parser = read_token_file)]
    pub token_file: Option<String>,
    /// A second token that allows reads only (for devices and dashboards). Needs --token or
    /// --token-file. Empty is refused.
    #[arg(long, env = "SSE_READ_TOKEN", hide_env_values = true, requires = "write_token", value_parser = parse_token)]
    pub read_token: Option<String>,
    /// Read --read-token from this file.
    #[arg(long, env = "SSE_READ_TOKEN_FILE", value_name = "PATH", requires = "write_token", conflicts_with = "read_token", value_parser = read_token_file)]
    pub read_token_file: Option<String>,
    /// With a token: leave reads open to anyone who can reach the server; only writes need it.
    #[arg(long, env = "SSE_OPEN_READS", requires = "write_token", conflicts_with_all = ["read_token", "read_token_file"])]
    pub open_reads: bool,
    /// Serve requests for this host name too (repeatable; SSE_ALLOWED_HOSTS is comma-separated).
    /// On a loopback --bind only loopback names (localhost, *.localhost, 127.x.x.x, ::1) are
    /// served by default, so that a web page cannot reach the server by re-pointing its own
    /// name at 127.0.0.1 (DNS rebinding); other hosts get 421. On any other --bind every host
    /// is served unless this is given (then only these and the loopback names).
    #[arg(long = "allowed-host", env = "SSE_ALLOWED_HOSTS", value_name = "NAME", value_delimiter = ',', value_parser = parse_host_name)]
    pub allowed_hosts: Vec<String>,
    /// Allow this origin cross-origin requests (CORS is off by default).
    #[arg(long, env = "SSE_CORS_ORIGIN", value_name = "ORIGIN")]
    pub cors_origin: Option<String>,
}

/// Heartbeat, sizes and timeouts.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Interval of the `heartbeat` event (e.g. 15s, 500ms). Clients treat three missed
    /// heartbeats as a dead connection.
    #[arg(long, env = "SSE_HEARTBEAT", default_value = "15s", value_name = "DUR", value_parser = parse_interval)]
    pub heartbeat: Duration,
    /// Largest request body in bytes (suffixes K, M allowed); larger bodies get 413. At most 64M,
    /// the largest message the log stores (a message whose stored form, with its added idx and
    /// timestamp, passes that limit gets 413 too).
    #[arg(long, env = "SSE_MAX_BODY", default_value = "8M", value_name = "SIZE", value_parser = parse_body_size)]
    pub max_body: usize,
    /// Most concurrent /stream subscribers; more get 503 with Retry-After. Each holds a file
    /// descriptor, so by default it is derived from the fd limit (RLIMIT_NOFILE, whose soft
    /// value is first raised to the hard one): the limit less a reserve of a tenth, at least
    /// 256 (half of a limit below 512), for API requests, the agent, the log and Redis. The value
    /// in force is logged at start and shown as sse_subscribers_max in /metrics; a larger N is
    /// accepted with a warning.
    #[arg(
        long,
        env = "SSE_MAX_SUBSCRIBERS",
        value_name = "N",
        value_parser = parse_count
    )]
    pub max_subscribers: Option<usize>,
    /// A /stream subscriber whose connection accepts no bytes for this long while events wait
    /// for it is disconnected. Time is the only criterion on purpose: a slow subscriber holds no
    /// queue in the server (it is a position in the log and catches up from it), so being far
    /// behind costs nothing; what a stalled one pins is its connection. Idle subscribers (nothing
    /// to send) are never dropped. The same bound ends any other response (/download,
    /// /messages, /api/inbox) whose client takes no bytes of it for this long.
    #[arg(long, env = "SSE_STALL_TIMEOUT", default_value = "60s", value_name = "DUR", value_parser = parse_interval)]
    pub stall_timeout: Duration,
}

/// The agent this server runs, if any.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Run the built-in simulated agent (answers chat with realistic turns).
    #[arg(long, conflicts_with = "exec")]
    pub demo: bool,
    /// Run CMD (with sh -c) as the agent: JSON lines on its stdout are messages (objects
    /// with "type") or state patches ({"state":{…}}); user commands go to its stdin.
    #[arg(long, env = "SSE_EXEC", value_name = "CMD")]
    pub exec: Option<String>,
    /// Pause between the demo agent's steps.
    #[arg(long, default_value = "700ms", value_parser = humantime::parse_duration, hide = true)]
    pub demo_step: Duration,
}

/// `sse-host publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The server's base URL (before or after `message`/`state`).
    #[arg(
        long,
        env = "SSE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Bearer token, if the server requires one (prefer SSE_TOKEN or --token-file: a command
    /// line is readable by every local user). Empty is refused.
    #[arg(long, env = "SSE_TOKEN", hide_env_values = true, global = true, value_parser = parse_token)]
    pub token: Option<String>,
    /// Read --token from this file (one trailing newline is dropped; empty is refused).
    #[arg(long, env = "SSE_TOKEN_FILE", value_name = "PATH", global = true, conflicts_with = "token", value_parser = read_token_file)]
    pub token_file: Option<String>,
    /// What to publish.
    #[command(subcommand)]
    pub what: PublishWhat,
}

/// What `publish` sends.
#[derive(Debug, Subcommand)]
pub enum PublishWhat {
    /// Append a message. Prints {"idx":N}.
    Message {
        /// The message as JSON (`-` reads it from stdin), e.g. '{"type":"agent","content":"hi"}'.
        #[arg(conflicts_with_all = ["kind", "content"])]
        json: Option<String>,
        /// Build the message from its type instead (user, agent, tool, error, …).
        #[arg(long = "type", requires = "content")]
        kind: Option<String>,
        /// The message text (with --type).
        #[arg(long)]
        content: Option<String>,
    },
    /// Merge a JSON patch into the state, e.g. '{"agent_state":"RunningTool"}'. Prints the state.
    State {
        /// The patch as JSON (`-` reads it from stdin).
        json: String,
    },
}

/// `8M`, `512K`, `1048576`.
///
/// # Errors
/// Not a size.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1usize << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("not a size: {s:?} (e.g. 8M, 512K, 1048576)"))
}

/// A size of at least one byte, for `--max-body` (a limit of 0 would refuse every publish),
/// and at most [`MAX_RECORD`](crate::log::MAX_RECORD) (a larger body could never be stored).
///
/// # Errors
/// Not a size, zero, or above the record limit.
pub fn parse_body_size(s: &str) -> Result<usize, String> {
    match parse_size(s)? {
        0 => Err("must be at least 1 byte".into()),
        n if n > crate::log::MAX_RECORD => Err(format!(
            "must be at most 64M ({} bytes), the largest message the log stores",
            crate::log::MAX_RECORD
        )),
        n => Ok(n),
    }
}

/// A count of at least one (`--max-messages`, `--max-subscribers`).
///
/// # Errors
/// Not a number, or zero.
pub fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("not a count: {s:?}")),
    }
}

/// A non-zero duration (`--heartbeat`, `--stall-timeout`): a zero heartbeat would send
/// heartbeats back to back, and a zero stall timeout would drop every subscriber that is sent
/// anything.
///
/// # Errors
/// Not a duration, or zero.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be longer than zero (e.g. 15s, 500ms)".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (e.g. 15s, 500ms)")),
    }
}

/// A bearer token: not empty (an empty `--token ''` or `SSE_TOKEN=` must not mean "no
/// auth"), visible ASCII only (what an `Authorization` header can carry).
///
/// # Errors
/// Empty, or other characters.
pub fn parse_token(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err(
            "the token is empty; give a token, or leave the flag and its variable \
                    unset for no authentication"
                .into(),
        );
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token must be visible ASCII characters without spaces".into());
    }
    Ok(s.to_owned())
}

/// Most bytes read from a token file: a token is short, and this is no place for a log.
const TOKEN_FILE_MAX: u64 = 4096;

/// The token in a file (`--token-file`): its text without one trailing newline, checked as
/// [`parse_token`] checks.
///
/// # Errors
/// Unreadable, too long, not UTF-8, or not a token.
pub fn read_token_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(TOKEN_FILE_MAX + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read the token file {path:?}: {e}"))?;
    if text.len() as u64 > TOKEN_FILE_MAX {
        return Err(format!(
            "the token file {path:?} is longer than {TOKEN_FILE_MAX} bytes"
        ));
    }
    let token = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    parse_token(token).map_err(|e| format!("{path:?}: {e}"))
}

/// A host name for `--allowed-host`: a name or IP address, without scheme or port.
///
/// # Errors
/// Empty, or a port, scheme or path in it.
pub fn parse_host_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let ok = name.parse::<std::net::Ipv6Addr>().is_ok()
        || (!name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)));
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "not a host name: {s:?} (give the name alone, e.g. agent.example.com, without scheme or port)"
        ))
    }
}

/// Accepts `redis://` (TCP), `rediss://` (TLS) and `redis+unix://` (socket) URLs, or several
/// separated by commas (seed nodes, for `--redis-cluster`).
///
/// # Errors
/// Any other scheme.
pub fn parse_redis_url(s: &str) -> Result<String, String> {
    let redis = |u: &str| {
        u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("redis+unix://")
    };
    if s.split(',').all(redis) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "not a Redis URL: {s:?} (expected redis://HOST:PORT/DB, or rediss:// for TLS)"
        ))
    }
}

/// `--store`: `memory`, a Redis URL (`redis://`, `rediss://`, `redis+unix://`, or several
/// comma-separated), or else a directory.
///
/// # Errors
/// Empty, or a URL of another scheme (`http://…` is a mistake, not a directory).
pub fn parse_store(s: &str) -> Result<StoreChoice, String> {
    if s == "memory" {
        return Ok(StoreChoice::Memory);
    }
    if s.contains("://") {
        return parse_redis_url(s).map(StoreChoice::Redis);
    }
    if s.is_empty() {
        return Err("empty: give a directory, `memory` or a redis:// URL".into());
    }
    Ok(StoreChoice::Dir(PathBuf::from(s)))
}

impl StoreArgs {
    /// The store chosen, with the options that belong to it.
    ///
    /// # Errors
    /// An option of another store (`--repair` without a directory, `--max-messages` without
    /// memory, `--redis-*` without a Redis URL).
    pub fn to_store(&self) -> Result<crate::server::Store, clap::Error> {
        use crate::server::Store;
        let choice = if self.memory {
            StoreChoice::Memory
        } else if let Some(dir) = &self.data_dir {
            StoreChoice::Dir(dir.clone())
        } else {
            self.store
                .clone()
                .unwrap_or_else(|| StoreChoice::Dir(PathBuf::from("./sse-data")))
        };
        let misplaced = |flag: &str, store: &str| {
            Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                format!("{flag} only applies to {store}\n"),
            ))
        };
        let redis_flag = [
            (self.redis_key.is_some(), "--redis-key"),
            (self.redis_ca.is_some(), "--redis-ca"),
            (self.redis_cert.is_some(), "--redis-cert"),
            (self.redis_cluster, "--redis-cluster"),
            (self.redis_max_len.is_some(), "--redis-max-len"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag));
        if self.repair && !matches!(choice, StoreChoice::Dir(_)) {
            return misplaced("--repair", "a directory --store (--data-dir: the file log)");
        }
        if self.max_messages.is_some() && choice != StoreChoice::Memory {
            return misplaced("--max-messages", "--store memory (--memory)");
        }
        if let Some(flag) = redis_flag
            && !matches!(choice, StoreChoice::Redis(_))
        {
            return misplaced(flag, "a Redis --store (redis://…)");
        }
        Ok(match choice {
            StoreChoice::Memory => Store::Memory,
            StoreChoice::Dir(dir) => Store::File(dir),
            StoreChoice::Redis(url) => Store::Redis(crate::log::RedisConfig {
                url,
                ca: self.redis_ca.clone(),
                client_cert: self
                    .redis_cert
                    .clone()
                    .zip(self.redis_cert_key.clone())
                    .map(|(cert, key)| crate::log::ClientCert { cert, key }),
                cluster: self.redis_cluster,
                key: self
                    .redis_key
                    .clone()
                    .unwrap_or_else(|| "sse:default".to_owned()),
                max_len: self.redis_max_len,
            }),
        })
    }
}

impl ServeArgs {
    /// The server configuration these flags describe.
    ///
    /// # Errors
    /// Flags that clap accepts one by one but not together (see [`StoreArgs::to_store`]).
    pub fn to_config(&self) -> Result<crate::server::ServerConfig, clap::Error> {
        use crate::agent::Agent;
        let store = self.store.to_store()?;
        let (auth, limits, agent) = (&self.auth, &self.limits, &self.agent);
        let agent = if agent.demo {
            Agent::Demo {
                step: agent.demo_step,
            }
        } else if let Some(command) = &agent.exec {
            Agent::Exec {
                command: command.clone(),
                max_line: limits.max_body,
            }
        } else {
            Agent::None
        };
        Ok(crate::server::ServerConfig {
            bind: self.bind,
            store,
            agent,
            token: auth.token.clone().or_else(|| auth.token_file.clone()),
            read_token: auth
                .read_token
                .clone()
                .or_else(|| auth.read_token_file.clone()),
            open_reads: auth.open_reads,
            allowed_hosts: auth.allowed_hosts.clone(),
            max_body: limits.max_body,
            cors_origin: auth.cors_origin.clone(),
            max_messages: self.store.max_messages,
            repair_log: self.store.repair,
            durable: crate::durable::DurableConfig {
                args: self.durable.clone(),
                max_body: limits.max_body,
                ..crate::durable::DurableConfig::default()
            },
            hub: crate::hub::HubConfig {
                heartbeat: limits.heartbeat,
                max_subscribers: crate::server::fds::max_subscribers(limits.max_subscribers),
                stall_timeout: limits.stall_timeout,
                ..crate::hub::HubConfig::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command};
    use crate::server::Store;
    use clap::Parser;
    use clap::error::ErrorKind;

    fn store(args: &[&str]) -> Result<Store, clap::Error> {
        let cli = Cli::try_parse_from([&["sse-host", "serve"], args].concat())?;
        let Command::Serve(serve) = cli.command else {
            unreachable!("parsed `serve`")
        };
        Ok(serve.to_config()?.store)
    }

    #[test]
    fn store_urls_plain_tls_and_the_ca() {
        let Ok(Store::Redis(r)) = store(&["--store", "redis://127.0.0.1:6379/0"]) else {
            panic!("redis:// is a Redis store")
        };
        assert_eq!((r.url.as_str(), r.ca), ("redis://127.0.0.1:6379/0", None));
        let tls = ["--store", "rediss://h:6380/0", "--redis-ca", "ca.pem"];
        let Ok(Store::Redis(r)) = store(&tls) else {
            panic!("rediss:// is a Redis store")
        };
        assert_eq!(r.ca.as_deref(), Some(std::path::Path::new("ca.pem")));
        let err = store(&["--store", "http://h:6379"]).expect_err("not Redis");
        assert!(err.to_string().contains("rediss://"), "{err}");
        // The CA only means something with a Redis store.
        assert!(store(&["--redis-ca", "ca.pem"]).is_err());
        // A client certificate comes with its key, and only with a Redis store.
        let mtls = [
            "--store",
            "rediss://h:6380/0",
            "--redis-cert",
            "node.pem",
            "--redis-cert-key",
            "node.key",
        ];
        let Ok(Store::Redis(r)) = store(&mtls) else {
            panic!("a Redis store with a client certificate")
        };
        let cert = r.client_cert.expect("client certificate");
        assert_eq!(
            (cert.cert.to_str(), cert.key.to_str()),
            (Some("node.pem"), Some("node.key"))
        );
        assert!(store(&mtls[..4]).is_err(), "a certificate without its key");
        assert!(
            store(&[&mtls[..2], &mtls[4..]].concat()).is_err(),
            "a key alone"
        );
        assert!(store(&mtls[2..]).is_err(), "no Redis store");
        let Ok(Store::Redis(r)) = store(&["--store", "redis://h:7000", "--redis-cluster"]) else {
            panic!("a Redis Cluster store")
        };
        assert!(r.cluster);
        let seeds = "redis://h:7000,rediss://g:7001";
        let Ok(Store::Redis(r)) = store(&["--store", seeds, "--redis-cluster"]) else {
            panic!("seed nodes")
        };
        assert_eq!(r.url, seeds);
        assert!(store(&["--store", "redis://h:7000,http://g"]).is_err());
        assert!(store(&["--redis-cluster"]).is_err(), "no Redis store");
    }

    #[test]
    fn the_store_is_one_choice_in_any_of_its_spellings() {
        let dir = |p: &str| Store::File(std::path::PathBuf::from(p));
        assert!(matches!(store(&[]), Ok(s) if s == dir("./sse-data")));
        assert!(matches!(store(&["--store", "memory"]), Ok(Store::Memory)));
        assert!(matches!(store(&["--memory"]), Ok(Store::Memory)));
        assert!(matches!(store(&["--store", "d"]), Ok(s) if s == dir("d")));
        assert!(matches!(store(&["--data-dir", "d"]), Ok(s) if s == dir("d")));
        assert!(matches!(store(&["--store", "./memory"]), Ok(s) if s == dir("./memory")));
        // Two spellings at once are one choice made twice.
        assert!(store(&["--memory", "--store", "d"]).is_err());
        assert!(store(&["--data-dir", "d", "--store", "memory"]).is_err());
        // Each store's options only with that store, whichever way it was named.
        assert!(store(&["--store", "memory", "--max-messages", "5"]).is_ok());
        assert!(store(&["--store", "d", "--max-messages", "5"]).is_err());
        assert!(store(&["--store", "d", "--repair"]).is_ok());
        assert!(
            store(&["--repair"]).is_ok(),
            "the default store is a directory"
        );
        assert!(store(&["--store", "memory", "--repair"]).is_err());
        assert!(store(&["--store", "redis://h:1/0", "--repair"]).is_err());
        assert!(store(&["--store", "d", "--redis-key", "k"]).is_err());
        assert!(store(&["--store", "memory", "--redis-cluster"]).is_err());
        let Ok(Store::Redis(r)) = store(&["--store", "redis://h:1/0"]) else {
            panic!("a Redis store")
        };
        assert_eq!(r.key, "sse:default");
        assert!(store(&["--store", ""]).is_err());
    }

    #[test]
    fn zero_limits_and_intervals_are_refused_with_the_flag_named() {
        for args in [
            &["--heartbeat", "0s"][..],
            &["--stall-timeout", "0ms"],
            &["--max-body", "0K"],
            &["--max-body", "65M"],
            &["--max-subscribers", "0"],
            &["--memory", "--max-messages", "0"],
        ] {
            let err = store(args).expect_err("zero is refused");
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{args:?}");
            assert!(err.to_string().contains(args[args.len() - 2]), "{err}");
        }
        let ok = [
            "--heartbeat",
            "1ms",
            "--stall-timeout",
            "1s",
            "--max-body",
            "1",
        ];
        assert!(
            store(&["--max-body", "64M"]).is_ok(),
            "the record limit itself"
        );
        assert!(store(&ok).is_ok());
        assert!(store(&["--memory", "--max-messages", "1", "--max-subscribers", "1"]).is_ok());
        let err = store(&["--heartbeat", "soon"]).expect_err("not a duration");
        assert!(err.to_string().contains("e.g. 15s"), "{err}");
    }
}
