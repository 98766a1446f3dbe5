//! The accept loop: hyper HTTP/1.1 connections, each in its own task, each with a kill
//! switch the hub can pull when the subscriber on it passes the stall bound.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Request extension: closes this request's connection when notified.
#[derive(Debug, Clone)]
pub struct ConnKill(pub Arc<Notify>);

/// How long shutdown waits for connections to finish after streams were told to end.
const DRAIN: Duration = Duration::from_secs(5);
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `stop` resolves, then drains connections.
///
/// With `fast` set, plain `GET /stream` requests are answered by [`super::fast_stream`] and
/// skip hyper; every other request goes to hyper and `router`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    app: Arc<super::App>,
    fast: bool,
    stop: impl Future<Output = ()>,
) {
    let hyper_conn = HyperConn {
        stall: app.config.hub.stall_timeout,
        hub: app.hub.clone(),
    };
    let fast = fast.then_some(app);
    let mut accept_errors = AcceptErrors::default();
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(stop);
    // Every connection task, so that shutdown can wait for them (each holds the hub, and with
    // it the log and its directory lock); finished ones are reaped as the loop goes.
    let mut tasks = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    accept_errors.handle(&e, &hyper_conn.hub).await;
                    continue;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let Some(app) = fast.clone() else {
            tasks.spawn(serve_hyper(
                stream,
                peer,
                router.clone(),
                &builder,
                graceful.watcher(),
                kill,
                hyper_conn.clone(),
            ));
            continue;
        };
        let (router, builder, watcher) = (router.clone(), builder.clone(), graceful.watcher());
        let hyper_conn = hyper_conn.clone();
        tasks.spawn(async move {
            if let Some(accepted) = super::fast_stream::accept(&stream, &app, &kill).await {
                super::fast_stream::serve(stream, accepted, kill).await;
                return;
            }
            drop(app);
            // Boxed: hyper's connection state stays out of the (many, long-lived) fast stream
            // tasks' size.
            Box::pin(serve_hyper(
                stream, peer, router, &builder, watcher, kill, hyper_conn,
            ))
            .await;
        });
    }
    drop(listener);
    drop(fast);
    // Hyper's connections close once their responses end; fast streams end when the hub shuts
    // down. What is still open after `DRAIN` (a client that stopped reading) is aborted, so
    // that when this returns no connection holds the hub any more.
    let drained = tokio::time::timeout(DRAIN, async {
        graceful.shutdown().await;
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "connections still open after {DRAIN:?}; closing them"
        );
        tasks.shutdown().await;
    }
}

/// What every hyper connection needs besides the router: the stall bound on its writes.
#[derive(Clone)]
struct HyperConn {
    stall: Duration,
    hub: crate::hub::Hub,
}

/// Accept failures. EMFILE/ENFILE (the fd table is full) leave the connection in the backlog,
/// where an agent's publish would wait until some connection closes; a subscriber is shed
/// instead (it resumes on reconnect), so the backlog moves. Logged at most once per
/// [`ACCEPT_WARN_EVERY`], with the count in between.
#[derive(Default)]
struct AcceptErrors {
    last_warn: Option<tokio::time::Instant>,
    since_warn: u64,
}

/// Least time between two "accept failed" warnings.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(5);

impl AcceptErrors {
    async fn handle(&mut self, e: &std::io::Error, hub: &crate::hub::Hub) {
        // EMFILE (24), ENFILE (23): out of file descriptors.
        let out_of_fds = matches!(e.raw_os_error(), Some(23 | 24));
        let shed = out_of_fds && hub.shed_one();
        self.since_warn += 1;
        let now = tokio::time::Instant::now();
        if self.last_warn.is_none_or(|t| now - t >= ACCEPT_WARN_EVERY) {
            tracing::warn!(
                error = %e,
                failures = self.since_warn,
                shed_a_subscriber = shed,
                "accept failed"
            );
            self.last_warn = Some(now);
            self.since_warn = 0;
        }
        // Back off instead of spinning; shortly when a subscriber's fd is being freed.
        let pause = if shed { 5 } else { 50 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// One connection served by hyper and the router, until it ends, its writes pass the stall
/// bound, or the hub pulls `kill`.
fn serve_hyper(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: &hyper::server::conn::http1::Builder,
    watcher: Watcher,
    kill: Arc<Notify>,
    conn: HyperConn,
) -> impl Future<Output = ()> + Send + 'static {
    let svc = {
        let kill = ConnKill(Arc::clone(&kill));
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(kill.clone());
            router.clone().oneshot(req)
        })
    };
    let io = super::stall::StallIo::new(stream, conn.stall, conn.hub);
    let conn = watcher.watch(builder.serve_connection(TokioIo::new(io), svc));
    async move {
        tokio::select! {
            res = conn => {
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            () = kill.notified() => tracing::debug!(%peer, "connection closed by the hub"),
        }
    }
}
