//! `signalroom healthcheck`: asks the running server's `/healthz` and exits 0 only on a 200, for
//! a container's `HEALTHCHECK` in an image without a shell or curl.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};

use super::config::Config;
use super::tls;

/// Connect, send and read, each at most this long.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Where the server started with these settings answers on this machine: `--addr`'s port, on
/// loopback when it listens on every interface.
fn local_addr(config: &Config) -> SocketAddr {
    let ip = match config.addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, config.addr.port())
}

/// `Ok` if `GET /healthz` at `addr` answers 200 (`ok`, or `degraded` in a cluster without
/// Redis: the instance still serves its members); over TLS if the server serves it.
fn check(addr: SocketAddr, tls: bool) -> anyhow::Result<String> {
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("cannot connect to {addr}"))?;
    tcp.set_read_timeout(Some(TIMEOUT))?;
    tcp.set_write_timeout(Some(TIMEOUT))?;
    if tls {
        ask(tls::loopback::wrap(tcp, addr)?, addr)
    } else {
        ask(tcp, addr)
    }
}

/// Sends the request on `stream` and reads the answer.
fn ask(mut stream: impl Read + Write, addr: SocketAddr) -> anyhow::Result<String> {
    let request = format!("GET /healthz HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    // One write: a server that answers before reading it all would break a second one.
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("cannot ask {addr}"))?;
    let mut response = Vec::new();
    // A health answer is a few hundred bytes; more is not a health answer.
    let read = stream.take(64 * 1024).read_to_end(&mut response);
    match read {
        Ok(_) => {}
        // A TLS peer that closes without close_notify after answering: the answer is whole
        // (HTTP/1.0, the connection's end is the body's end).
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(err) => return Err(err).with_context(|| format!("no answer from {addr}")),
    }
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        bail!("{addr}/healthz answered {status:?}");
    }
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok(body.trim().to_owned())
}

/// Prints the health answer and succeeds, or fails saying why.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let tls = config.tls_cert.is_some() || config.tls_self_signed;
    println!("{}", check(local_addr(config), tls)?);
    Ok(())
}
