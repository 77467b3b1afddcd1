//! The public port's bytes in and out, counted where they cross the socket: every HTTP
//! request, long-poll and WebSocket frame, headers and framing included.
//!
//! Writes far outnumber reads on a signaling server (a message to a room of n is one read and
//! n writes), and a shared atomic add per write is the one metrics cost that grows with
//! deliveries (every core's writes contend for its cache line). So each connection sums what
//! it wrote and hands the sum over at its next read (a client's event, or the pong to every
//! heartbeat), whenever it reaches [`FLUSH_AT`], and when the connection closes: a scrape lags
//! by less than [`FLUSH_AT`] per connection, and by no more than one heartbeat.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::metrics::Metrics;

/// Written bytes a connection hands over at once, reads aside.
const FLUSH_AT: u64 = 16 * 1024;

/// A listener whose connections count their bytes into [`Metrics`].
pub struct MeteredListener<L> {
    inner: L,
    metrics: Metrics,
}

impl<L> MeteredListener<L> {
    pub fn new(inner: L, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

impl<L: Listener> Listener for MeteredListener<L> {
    type Io = Metered<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        let metrics = self.metrics.clone();
        (
            Metered {
                io,
                metrics,
                unsent: 0,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One connection, counting what it reads and writes.
pub struct Metered<T> {
    io: T,
    metrics: Metrics,
    /// Written and not yet counted.
    unsent: u64,
}

impl<T> Metered<T> {
    fn wrote(&mut self, n: usize) {
        self.unsent += n as u64;
        if self.unsent >= FLUSH_AT {
            self.flush_count();
        }
    }

    fn flush_count(&mut self) {
        if self.unsent > 0 {
            self.metrics.bytes_sent(std::mem::take(&mut self.unsent));
        }
    }
}

impl<T> Drop for Metered<T> {
    fn drop(&mut self) {
        self.flush_count();
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            this.metrics.bytes_received(read as u64);
            this.flush_count();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.wrote(n);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.wrote(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
