//! `--tls-self-signed`: a certificate made at startup for the listening address and this
//! machine's names, so a call can be tried across a LAN (browsers give a page the camera only
//! on https or localhost) without a CA. Browsers warn about it until it is accepted; it is for
//! testing, never for serving people.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::certificate::fingerprint;

/// How long the certificate is valid: long enough for a test session, short enough that a
/// forgotten copy does not live on.
const VALID_DAYS: i64 = 30;

/// A certificate made for this run.
pub struct SelfSigned {
    pub certified: Arc<CertifiedKey>,
    /// What browsers show as the certificate's SHA-256 fingerprint, to compare before accepting.
    pub fingerprint: String,
    /// The names and addresses it is valid for.
    pub names: Vec<String>,
}

/// Makes a certificate (ECDSA P-256) for `addr` and this machine's names.
pub fn generate(addr: SocketAddr, provider: &CryptoProvider) -> anyhow::Result<SelfSigned> {
    let names = names_for(addr);
    let mut params = rcgen::CertificateParams::new(names.clone())?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "signalroom (self-signed, for testing)",
    );
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let fingerprint = fingerprint(cert.der());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let certified = CertifiedKey::from_der(vec![cert.der().clone()], key, provider)?;
    Ok(SelfSigned {
        certified: Arc::new(certified),
        fingerprint,
        names,
    })
}

/// `localhost`, this machine's host name, and the addresses it answers on: the listening one,
/// or with an unspecified address (`0.0.0.0`, `::`) loopback and every interface's.
fn names_for(addr: SocketAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    if let Some(host) = host_name() {
        names.push(host);
    }
    let ips: Vec<IpAddr> = if addr.ip().is_unspecified() {
        let mut ips = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        let any_v6 = addr.is_ipv6();
        ips.extend(
            if_addrs::get_if_addrs()
                .unwrap_or_default()
                .into_iter()
                .map(|interface| interface.ip())
                // An IPv4 wildcard does not answer on IPv6 addresses.
                .filter(|ip| any_v6 || ip.is_ipv4()),
        );
        ips
    } else {
        vec![addr.ip()]
    };
    for ip in ips {
        let ip = ip.to_string();
        if !names.contains(&ip) {
            names.push(ip);
        }
    }
    names
}

/// The kernel's host name, if it is one a certificate can name.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_ascii_lowercase();
    let valid = !name.is_empty()
        && name != "localhost"
        && name.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_named_with_localhost() {
        let names = names_for("192.0.2.7:443".parse().unwrap());
        assert_eq!(names[0], "localhost");
        assert!(names.contains(&"192.0.2.7".to_owned()));
        assert!(!names.contains(&"127.0.0.1".to_owned()));
    }

    #[test]
    fn the_wildcard_names_loopback_and_the_interfaces() {
        let names = names_for("0.0.0.0:443".parse().unwrap());
        assert!(names.contains(&"127.0.0.1".to_owned()), "{names:?}");
        assert!(names.contains(&"::1".to_owned()), "{names:?}");
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }

    #[test]
    fn the_certificate_is_usable_and_fingerprinted() {
        let provider = rustls::crypto::ring::default_provider();
        let made = generate("127.0.0.1:0".parse().unwrap(), &provider).unwrap();
        made.certified.keys_match().unwrap();
        assert_eq!(made.fingerprint, fingerprint(&made.certified.cert[0]));
    }
}
