//! Where the other instances reach this one, to carry a client that resumes on them (see
//! [`crate::server::signaling::tunnel`]): `--instance-url`, or found at startup.
//!
//! An instance that listens on every address (`0.0.0.0`, as in a container) does not know
//! which of its addresses the others can reach. The one it reaches Redis from is the best
//! guess a server can make alone: the instances share that Redis, so they are usually on the
//! same network as it. It is an address, not a name, so carrying a client needs no name
//! lookup: in containers a lookup goes through the engine's DNS, which can be slow or race the
//! host's resolver (musl asks every nameserver and takes the first answer, even "no such name").

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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

    /// The URL the others use, given the address of Redis, or why none was found (and then a
    /// session resumes only here).
    pub(super) async fn resolve(self, redis: &ConnectionAddr) -> Result<String, NoRoute> {
        match self {
            Self::Url(url) => Ok(url),
            Self::Route {
                scheme,
                port,
                v4_only,
            } => {
                let ip = local_ip_toward(redis, v4_only).await?;
                Ok(format!("{scheme}://{}", SocketAddr::new(ip, port)))
            }
        }
    }
}

/// Why an instance on every address found no URL for the others to reach it at.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoRoute {
    #[error("Redis is on a Unix socket, so its route says nothing about this machine's network")]
    UnixSocket,
    #[error("Redis's address could not be resolved: {0}")]
    Unresolved(String),
    #[error(
        "Redis has no IPv4 address, and an instance on 0.0.0.0 takes no IPv6 connections \
         (listen on [::] to take both)"
    )]
    NoIpv4,
    #[error("no route to Redis: {0}")]
    Unroutable(String),
}

/// The local address this machine sends from to reach `redis` (over IPv4 if `v4_only`: an
/// IPv6 address would name one this instance does not listen on). A connected UDP socket picks
/// its route without sending anything.
async fn local_ip_toward(redis: &ConnectionAddr, v4_only: bool) -> Result<IpAddr, NoRoute> {
    let (host, port) = match redis {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            (host.as_str(), *port)
        }
        _ => return Err(NoRoute::UnixSocket),
    };
    let addresses = lookup(host, port).await?;
    let target = pick(host, &addresses, v4_only)?;
    let unspecified: IpAddr = match target {
        SocketAddr::V4(_) => [0, 0, 0, 0].into(),
        SocketAddr::V6(_) => [0u16; 8].into(),
    };
    let no_route = |err: std::io::Error| NoRoute::Unroutable(err.to_string());
    let socket = UdpSocket::bind((unspecified, 0)).await.map_err(no_route)?;
    socket.connect(target).await.map_err(no_route)?;
    let ip = socket.local_addr().map_err(no_route)?.ip();
    if ip.is_unspecified() {
        return Err(NoRoute::Unroutable(format!(
            "no local address toward {target}"
        )));
    }
    Ok(ip)
}

/// How often, and how far apart, a failed lookup of Redis's name is tried. musl's race (see
/// the module's doc) makes one lookup fail now and then where the next succeeds: seen under
/// podman-compose as "Name does not resolve" for `redis`, a moment after the Redis connection
/// had resolved it. One failure would leave the instance without a URL for its whole life.
const LOOKUP_TRIES: u32 = 10;
const LOOKUP_PAUSE: Duration = Duration::from_millis(300);

async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, NoRoute> {
    retried(LOOKUP_TRIES, LOOKUP_PAUSE, || {
        tokio::net::lookup_host((host, port))
    })
    .await
}

/// What `resolve` finds, tried up to `tries` times, `pause` apart, until it succeeds; the last
/// failure if it never does.
async fn retried<Found, Resolving>(
    tries: u32,
    pause: Duration,
    mut resolve: impl FnMut() -> Resolving,
) -> Result<Vec<SocketAddr>, NoRoute>
where
    Found: Iterator<Item = SocketAddr>,
    Resolving: Future<Output = io::Result<Found>>,
{
    let mut tried = 1;
    loop {
        match resolve().await {
            Ok(found) => return Ok(found.collect()),
            Err(err) if tried >= tries => return Err(NoRoute::Unresolved(err.to_string())),
            Err(_) => tried += 1,
        }
        tokio::time::sleep(pause).await;
    }
}

/// Which of `host`'s `addresses` to route toward: the first, or the first IPv4 one if `v4_only`.
fn pick(host: &str, addresses: &[SocketAddr], v4_only: bool) -> Result<SocketAddr, NoRoute> {
    match addresses.iter().find(|target| target.is_ipv4() || !v4_only) {
        Some(target) => Ok(*target),
        None if addresses.is_empty() => Err(NoRoute::Unresolved(format!("{host} has no address"))),
        None => Err(NoRoute::NoIpv4),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A resolver that fails its first `failures` lookups, counting them all.
    fn flaky(
        failures: u32,
        calls: &Cell<u32>,
    ) -> impl FnMut() -> std::future::Ready<io::Result<std::vec::IntoIter<SocketAddr>>> + '_ {
        move || {
            calls.set(calls.get() + 1);
            std::future::ready(if calls.get() <= failures {
                Err(io::Error::other("Name does not resolve"))
            } else {
                Ok(vec!["10.0.0.7:6379".parse().unwrap()].into_iter())
            })
        }
    }

    #[tokio::test]
    async fn a_lookup_that_fails_is_tried_again_up_to_its_limit() {
        let pause = Duration::from_millis(1);
        let calls = Cell::new(0);
        let found = retried(10, pause, flaky(3, &calls)).await;
        assert_eq!(found.unwrap(), vec!["10.0.0.7:6379".parse().unwrap()]);
        assert_eq!(calls.get(), 4);

        let calls = Cell::new(0);
        let failed = retried(10, pause, flaky(u32::MAX, &calls)).await;
        assert!(
            matches!(&failed, Err(NoRoute::Unresolved(why)) if why.contains("does not resolve")),
            "{failed:?}"
        );
        assert_eq!(calls.get(), 10);
    }

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
        assert_eq!(url.as_deref(), Ok("http://127.0.0.1:9980"));
        let v6 = ConnectionAddr::Tcp("::1".into(), 6379);
        let url = Reach::new(None, "http", "[::]:9980".parse().unwrap())
            .resolve(&v6)
            .await;
        assert_eq!(url.as_deref(), Ok("http://[::1]:9980"));
        let unix = ConnectionAddr::Unix("/run/redis.sock".into());
        let url = Reach::new(None, "http", every).resolve(&unix).await;
        assert_eq!(url, Err(NoRoute::UnixSocket));
    }

    #[tokio::test]
    async fn listening_on_ipv4_only_never_registers_an_ipv6_address() {
        let every_v4: SocketAddr = "0.0.0.0:9980".parse().unwrap();
        let v6 = ConnectionAddr::Tcp("::1".into(), 6379);
        let url = Reach::new(None, "http", every_v4).resolve(&v6).await;
        assert_eq!(url, Err(NoRoute::NoIpv4));
    }

    #[test]
    fn a_name_with_both_kinds_of_address_is_routed_as_the_listener_allows() {
        let both: Vec<SocketAddr> = vec![
            "[::1]:6379".parse().unwrap(),
            "127.0.0.1:6379".parse().unwrap(),
        ];
        assert_eq!(pick("redis", &both, true), Ok(both[1]));
        assert_eq!(pick("redis", &both, false), Ok(both[0]));
        assert_eq!(pick("redis", &both[..1], true), Err(NoRoute::NoIpv4));
        assert!(matches!(
            pick("redis", &[], false),
            Err(NoRoute::Unresolved(_))
        ));
        assert!(matches!(
            pick("redis", &[], true),
            Err(NoRoute::Unresolved(_))
        ));
    }
}
