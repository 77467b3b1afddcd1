//! A certificate and its private key from PEM files (`--tls-cert`, `--tls-key`), checked as a
//! pair before they are served, so a wrong file is a startup error (or, on SIGHUP, a log line
//! while the previous pair goes on serving) rather than a handshake failure in every browser.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("cannot read {flag} {}: {source}", path.display())]
    Unreadable {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{flag} {} is not PEM: {detail}", path.display())]
    NotPem {
        flag: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("--tls-cert {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", .0.display())]
    NoCertificate(PathBuf),
    #[error("--tls-key {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", .0.display())]
    NoKey(PathBuf),
    #[error("--tls-key {}: {source}", path.display())]
    UnusableKey {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("--tls-key {} is not the key of the certificate in --tls-cert {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("--tls-cert {}: {source}", path.display())]
    BadCertificate {
        path: PathBuf,
        source: rustls::Error,
    },
}

/// Where the pair is read from, for the first load and every reload.
#[derive(Debug, Clone)]
pub struct PemFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl PemFiles {
    /// Reads and checks the pair: the chain (server certificate first) and a key that belongs
    /// to its first certificate.
    pub fn load(&self, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, CertificateError> {
        let chain = read_chain(&self.cert)?;
        let key = read_key(&self.key)?;
        let certified =
            CertifiedKey::from_der(chain, key, provider).map_err(|source| match source {
                rustls::Error::InconsistentKeys(_) => CertificateError::Mismatch {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                },
                rustls::Error::General(_) => CertificateError::UnusableKey {
                    path: self.key.clone(),
                    source,
                },
                source => CertificateError::BadCertificate {
                    path: self.cert.clone(),
                    source,
                },
            })?;
        Ok(Arc::new(certified))
    }
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, CertificateError> {
    std::fs::read(path).map_err(|source| CertificateError::Unreadable {
        flag,
        path: path.to_owned(),
        source,
    })
}

fn not_pem(flag: &'static str, path: &Path, err: pem::Error) -> CertificateError {
    CertificateError::NotPem {
        flag,
        path: path.to_owned(),
        detail: err.to_string(),
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let bytes = read("--tls-cert", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| not_pem("--tls-cert", path, err))?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate(path.to_owned()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertificateError> {
    let bytes = read("--tls-key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| match err {
        pem::Error::NoItemsFound => CertificateError::NoKey(path.to_owned()),
        err => not_pem("--tls-key", path, err),
    })
}

/// The SHA-256 fingerprint of a certificate as browsers show it: `AB:CD:…`.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    /// A certificate for 127.0.0.1 and its key, as PEM.
    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn files(dir: &Path, cert: &str, key: &str) -> PemFiles {
        let files = PemFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        files
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("signalroom-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = temp_dir("pair-ok");
        let (cert, key) = pair();
        let loaded = files(&dir, &cert, &key).load(&provider()).unwrap();
        assert_eq!(loaded.cert.len(), 1);
    }

    #[test]
    fn each_bad_pair_says_what_is_wrong() {
        let dir = temp_dir("pair-bad");
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let load = |cert: &str, key: &str| files(&dir, cert, key).load(&provider()).unwrap_err();
        assert!(matches!(
            load(&cert, &other_key),
            CertificateError::Mismatch { .. }
        ));
        assert!(matches!(load("", &key), CertificateError::NoCertificate(_)));
        assert!(matches!(load(&cert, &cert), CertificateError::NoKey(_)));
        assert!(matches!(
            load(&key, &key),
            CertificateError::NoCertificate(_)
        ));
        let garbled = cert.replace("MII", "!!!");
        assert!(matches!(
            load(&garbled, &key),
            CertificateError::NotPem { .. } | CertificateError::BadCertificate { .. }
        ));
        let missing = PemFiles {
            cert: dir.join("nowhere.pem"),
            key: dir.join("key.pem"),
        };
        let err = missing.load(&provider()).unwrap_err();
        assert!(matches!(err, CertificateError::Unreadable { .. }));
        assert!(
            err.to_string().starts_with("cannot read --tls-cert"),
            "{err}"
        );
    }

    #[test]
    fn fingerprints_are_colon_separated_sha256() {
        let der = CertificateDer::from(vec![1u8, 2, 3]);
        let print = fingerprint(&der);
        assert_eq!(print.len(), 32 * 3 - 1);
        assert!(print.starts_with("03:90:58:C6"), "{print}");
    }
}
