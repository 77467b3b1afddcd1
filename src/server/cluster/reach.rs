//! Where the other instances reach this one, to carry a client that resumes on them (see
//! [`crate::server::signaling::tunnel`]): `--instance-url`, or found at startup.
//!
//! An instance that listens on every address (`0.0.0.0`, as in a container) does not know
//! which of its addresses the others can reach. The one it reaches Redis from is the best
//! guess a server can make alone: the instances share that Redis, so they are usually on the
//! same network as it. It is an address, not a name, so carrying a client needs no name
//! lookup: in containers a lookup goes through the engine's DNS, which can be slow or race the
//! host's resolver (musl asks every nameserver and takes the first answer, even "no such name").

use std::net::{IpAddr, SocketAddr};

use redis::ConnectionAddr;
use tokio::net::UdpSocket;

/// How this instance is reached, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// A URL given, or known from a specific `--addr`.
    Url(String),
    /// Listening on every address, on `port`: the address this machine reaches Redis from.
    /// `v4_only` for `0.0.0.0`, which takes no IPv6 connections (`[::]` takes both).
    Route {
        scheme: &'static str,
        port: u16,
        v4_only: bool,
    },
}

impl Reach {
    /// The URL, for a server whose TLS (or not) gives `scheme`, listening on `addr`, with
    /// `given` from `--instance-url`.
    pub fn new(given: Option<String>, scheme: &'static str, addr: SocketAddr) -> Self {
        match given {
            Some(url) => Self::Url(url),
            None if addr.ip().is_unspecified() => Self::Route {
                scheme,
                port: addr.port(),
                v4_only: addr.is_ipv4(),
            },
            None => Self::Url(format!("{scheme}://{addr}")),
        }
    }

    /// The URL the others use, given the address of Redis; `None` if no route to it is found
    /// (Redis on a Unix socket, no route, or only over IPv6 from `0.0.0.0`), and then a
    /// session resumes only here.
    pub(super) async fn resolve(self, redis: &ConnectionAddr) -> Option<String> {
        match self {
            Self::Url(url) => Some(url),
            Self::Route {
                scheme,
                port,
                v4_only,
            } => {
                let ip = local_ip_toward(redis, v4_only).await?;
                Some(format!("{scheme}://{}", SocketAddr::new(ip, port)))
            }
        }
    }
}

/// The local address this machine sends from to reach `redis` (over IPv4 if `v4_only`: an
/// IPv6 address would name one this instance does not listen on). A connected UDP socket picks
/// its route without sending anything.
async fn local_ip_toward(redis: &ConnectionAddr, v4_only: bool) -> Option<IpAddr> {
    let (host, port) = match redis {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            (host.as_str(), *port)
        }
        _ => return None,
    };
    let target = tokio::net::lookup_host((host, port))
        .await
        .ok()?
        .find(|target| target.is_ipv4() || !v4_only)?;
    let unspecified: IpAddr = match target {
        SocketAddr::V4(_) => [0, 0, 0, 0].into(),
        SocketAddr::V6(_) => [0u16; 8].into(),
    };
    let socket = UdpSocket::bind((unspecified, 0)).await.ok()?;
    socket.connect(target).await.ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_its_own_url_and_a_given_one_wins() {
        let specific: SocketAddr = "10.0.0.5:9980".parse().unwrap();
        let every: SocketAddr = "0.0.0.0:9980".parse().unwrap();
        assert_eq!(
            Reach::new(None, "http", specific),
            Reach::Url("http://10.0.0.5:9980".into())
        );
        assert_eq!(
            Reach::new(None, "https", every),
            Reach::Route {
                scheme: "https",
                port: 9980,
                v4_only: true,
            }
        );
        assert_eq!(
            Reach::new(Some("http://a:1".into()), "http", every),
            Reach::Url("http://a:1".into())
        );
    }

    #[tokio::test]
    async fn listening_everywhere_with_redis_on_loopback_is_reached_on_loopback() {
        let every: SocketAddr = "0.0.0.0:9980".parse().unwrap();
        let redis = ConnectionAddr::Tcp("127.0.0.1".into(), 6379);
        let url = Reach::new(None, "http", every).resolve(&redis).await;
        assert_eq!(url.as_deref(), Some("http://127.0.0.1:9980"));
        let v6 = ConnectionAddr::Tcp("::1".into(), 6379);
        let url = Reach::new(None, "http", "[::]:9980".parse().unwrap())
            .resolve(&v6)
            .await;
        assert_eq!(url.as_deref(), Some("http://[::1]:9980"));
        let unix = ConnectionAddr::Unix("/run/redis.sock".into());
        assert_eq!(Reach::new(None, "http", every).resolve(&unix).await, None);
    }

    #[tokio::test]
    async fn listening_on_ipv4_only_never_registers_an_ipv6_address() {
        let every_v4: SocketAddr = "0.0.0.0:9980".parse().unwrap();
        let v6 = ConnectionAddr::Tcp("::1".into(), 6379);
        assert_eq!(Reach::new(None, "http", every_v4).resolve(&v6).await, None);
        // A name with both kinds of address gives its IPv4 one (where `localhost` has ::1
        // too; everywhere, it gives no IPv6 one).
        let named = ConnectionAddr::Tcp("localhost".into(), 6379);
        let url = Reach::new(None, "http", every_v4).resolve(&named).await;
        assert_eq!(url.as_deref(), Some("http://127.0.0.1:9980"));
    }
}
