//! The stall bound for connections served by hyper (`/download`, `/messages`, `/api/inbox`,
//! `/stream` through hyper, every other response).
//!
//! Why at the socket and not in a body: hyper holds a response's bytes (up to a 1 MiB chunk
//! of `/download`) in its write buffer while the socket takes none, and a body cannot see
//! that; after a body's last chunk it is not even polled again. So the connection's writes
//! are watched: a write (or flush) that stays pending for `bound`, with no byte taken in
//! between, fails with `TimedOut`, hyper ends the connection, and its buffers and file
//! descriptor are released. A connection with nothing to send is never stalled, like a
//! parked `/stream` subscriber in the hub.

use crate::hub::Hub;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A socket whose writes may not stay pending longer than the stall bound.
pub(super) struct StallIo<T> {
    inner: T,
    bound: Duration,
    /// Armed while a write is pending (allocated on the first stall, then reset).
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    hub: Hub,
}

impl<T> StallIo<T> {
    pub(super) fn new(inner: T, bound: Duration, hub: Hub) -> Self {
        StallIo {
            inner,
            bound,
            timer: None,
            armed: false,
            hub,
        }
    }

    /// Passes a write's result through; a pending one arms the timer, which fails the write
    /// once it fires (its waker is the connection task's, so hyper polls again then).
    fn watch<R>(&mut self, cx: &mut Context<'_>, res: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if res.is_ready() {
            self.armed = false;
            return res;
        }
        let deadline = Instant::now() + self.bound;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        if timer.as_mut().poll(cx).is_ready() {
            self.hub.metrics().connections_stalled.fetch_add(1, Relaxed);
            tracing::info!(
                "closed a connection that took no response bytes within the stall bound"
            );
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no bytes within the stall bound",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, res)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, res)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, res)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, res)
    }
}
