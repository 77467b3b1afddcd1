//! HTTPS and WSS on the public port, with rustls and ring (no OpenSSL): from PEM files
//! (`--tls-cert`, `--tls-key`), reloaded on SIGHUP, or a certificate made at startup
//! (`--tls-self-signed`, for testing).
//!
//! - [`certificate`]: reading and checking a PEM pair; fingerprints.
//! - [`listener`]: TLS handshakes for axum, each as a task of its own.
//! - [`self_signed`]: the startup certificate.
//! - [`loopback`]: the client `signalroom healthcheck` asks its own server with.
//!
//! A reload swaps the certificate that *new* handshakes get; connections already open keep
//! the session they negotiated, so nobody is dropped.

pub mod certificate;
mod listener;
pub mod loopback;
mod self_signed;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::serve::Listener;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tracing::{error, info, warn};

pub use certificate::{CertificateError, PemFiles};
pub use listener::TlsListener;

use super::Config;

/// The public port's TLS: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<Current>,
    /// Where a reload reads from; `None` for a self-signed certificate.
    files: Option<PemFiles>,
    provider: Arc<CryptoProvider>,
}

/// The certificate new handshakes get. Read once per handshake, written only by a reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

impl Tls {
    /// The TLS `config` asks for, if any: a bad certificate or key is an error here, at startup.
    pub fn from_config(config: &Config, addr: SocketAddr) -> anyhow::Result<Option<Self>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (certified, files) = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                let files = PemFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                };
                let certified = files.load(&provider)?;
                let fingerprint = certificate::fingerprint(&certified.cert[0]);
                info!(cert = %cert.display(), %fingerprint, "TLS certificate loaded");
                (certified, Some(files))
            }
            _ if config.tls_self_signed => {
                let made = self_signed::generate(addr, &provider)?;
                // Printed as well as logged: whoever tries it needs the fingerprint at hand.
                println!(
                    "signalroom: self-signed TLS certificate, for testing only (browsers warn until \
                     it is accepted), valid for {}; SHA-256 fingerprint {}",
                    made.names.join(", "),
                    made.fingerprint
                );
                warn!(fingerprint = %made.fingerprint, names = %made.names.join(","),
                      "serving a self-signed certificate: for testing only");
                (made.certified, None)
            }
            _ => return Ok(None),
        };
        let current = Arc::new(Current(RwLock::new(certified)));
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // axum serves HTTP/1.1 (WebSockets upgrade from it).
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            current,
            files,
            provider,
        }))
    }

    /// Wraps the TCP `listener`: what it accepts is handed on once its handshake is done.
    pub fn listener<L: Listener>(&self, listener: L) -> TlsListener<L>
    where
        L::Addr: 'static,
    {
        TlsListener::new(listener, self.acceptor.clone())
    }

    /// Reads the PEM files again; if they are good, new handshakes get them. Bad files change
    /// nothing: the previous certificate goes on serving.
    pub fn reload(&self) -> Result<(), CertificateError> {
        let Some(files) = &self.files else {
            return Ok(());
        };
        let certified = files.load(&self.provider)?;
        let fingerprint = certificate::fingerprint(&certified.cert[0]);
        *self.current.0.write().unwrap_or_else(|p| p.into_inner()) = certified;
        info!(cert = %files.cert.display(), %fingerprint, "TLS certificate reloaded");
        Ok(())
    }

    /// With PEM files: reloads them on every SIGHUP, for the process's life (a renewed
    /// certificate is picked up by `kill -HUP`, without a restart).
    pub fn reload_on_hangup(&self) -> anyhow::Result<()> {
        if self.files.is_none() {
            return Ok(());
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hangups = signal(SignalKind::hangup())?;
            let tls = self.clone();
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    if let Err(err) = tls.reload() {
                        error!(%err, "TLS certificate not reloaded; the previous one is still served");
                    }
                }
            });
        }
        Ok(())
    }
}
