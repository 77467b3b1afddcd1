//! A listener that hands axum TLS connections: each accepted TCP connection's handshake runs as
//! a task of its own, so a slow or silent client never holds up the others' accepts.

use std::io;
use std::time::Duration;

use axum::serve::Listener;
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

/// A handshake not finished by then is dropped: browsers finish in a round trip or two.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at most; beyond it no new connection is accepted until one ends, so
/// a flood of half-open connections costs bounded memory.
const MAX_HANDSHAKES: usize = 1024;

pub struct TlsListener<L: Listener> {
    inner: L,
    acceptor: TlsAcceptor,
    /// Each ends with the connection, or with `None` if its handshake failed.
    handshakes: JoinSet<Option<Accepted<L>>>,
}

/// A connection whose handshake is done, and where it came from.
type Accepted<L> = (TlsStream<<L as Listener>::Io>, <L as Listener>::Addr);

impl<L: Listener> TlsListener<L>
where
    L::Addr: 'static,
{
    pub fn new(inner: L, acceptor: TlsAcceptor) -> Self {
        Self {
            inner,
            acceptor,
            handshakes: JoinSet::new(),
        }
    }
}

impl<L: Listener> Listener for TlsListener<L>
where
    L::Addr: std::fmt::Debug + 'static,
{
    type Io = TlsStream<L::Io>;
    type Addr = L::Addr;

    /// Cancel-safe, as axum needs at shutdown: a dropped call loses no connection (accepted
    /// ones wait in the set for the next call).
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                (io, addr) = self.inner.accept(), if self.handshakes.len() < MAX_HANDSHAKES => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                            Ok(Ok(stream)) => Some((stream, addr)),
                            Ok(Err(err)) => {
                                debug!(?addr, %err, "TLS handshake failed");
                                None
                            }
                            Err(_) => {
                                debug!(?addr, "TLS handshake timed out");
                                None
                            }
                        }
                    });
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(accepted)) = done {
                        return accepted;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
