//! TLS on the public port: the page, `/healthz` and Socket.IO over HTTPS and WSS with clients
//! that trust the test's own CA (and only it); bad certificate files refused at startup with
//! one line; SIGHUP reloading the certificate for new connections while an old one keeps
//! chatting; `--tls-self-signed`'s names and printed fingerprint; `signalroom healthcheck` over
//! TLS.

mod common;

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::certs::{temp_dir, TestCa};
use common::{spawn_binary, start_server_with, TestClient, TestServer, WAIT};
use serde_json::json;
use signalroom::server::Config;

/// An HTTPS client that trusts `ca_pem` and nothing else, and reports the server's certificate.
fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .tls_info(true)
        .build()
        .unwrap()
}

/// An in-process server on HTTPS, with a certificate from `ca` written to `dir`.
async fn start_tls_server(ca: &TestCa, dir: &Path) -> TestServer {
    let (cert, key) = ca.issue(&["127.0.0.1", "localhost"]).write(dir);
    start_server_with(Config {
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..Config::default()
    })
    .await
}

/// The fingerprint of the certificate the server at `addr` presents to a new client trusting
/// `ca_pem` (a new client: no pooled connection, no resumed session).
async fn presented(ca_pem: &str, addr: SocketAddr) -> String {
    let response = https_client(ca_pem)
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(response.status().as_u16(), 200);
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .unwrap();
    sha256_fingerprint(info.peer_certificate().expect("a certificate"))
}

/// Two clients over WSS join `room`; each one's message reaches both.
async fn chat_over_wss(addr: SocketAddr, ca_pem: &str, room: &str) {
    let mut a = TestClient::connect_tls(addr, ca_pem).await;
    let mut b = TestClient::connect_tls(addr, ca_pem).await;
    let a_id = a.join(room).await;
    b.join(room).await;
    a.emit("message", vec![json!(room), json!("over wss")])
        .await;
    for client in [&mut a, &mut b] {
        assert_eq!(
            client.expect("message").await,
            vec![json!(room), json!(a_id), json!("over wss")]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_health_and_socketio_are_served_over_tls() {
    let dir = temp_dir("tls-serve");
    let ca = TestCa::new();
    let server = start_tls_server(&ca, &dir).await;
    let https = https_client(&ca.pem());

    let page = https
        .get(format!("https://{}/", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<title>signalroom</title>"));
    let health = https
        .get(format!("https://{}/healthz", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");

    chat_over_wss(server.addr, &ca.pem(), "tls-room").await;

    // A client that does not trust the CA is refused the handshake, and plain HTTP on the TLS
    // port gets no page.
    let stranger = https_client(&TestCa::new().pem());
    assert!(stranger
        .get(format!("https://{}/", server.addr))
        .send()
        .await
        .is_err());
    let plain = reqwest::get(format!("http://{}/", server.addr)).await;
    assert!(plain.is_err(), "{plain:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the binary with `args`, expecting it to stop at startup; its exit code and stderr.
fn failed_startup(args: &[&OsStr]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_signalroom"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log-file",
            "",
            "--log-level",
            "off",
        ])
        .args(args)
        .output()
        .expect("run signalroom");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_certificate_files_stop_startup_with_one_line() {
    let dir = temp_dir("tls-bad");
    let ca = TestCa::new();
    let (cert, key) = ca.issue(&["127.0.0.1"]).write(&dir);
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, ca.issue(&["127.0.0.1"]).key_pem).unwrap();
    let missing = dir.join("missing.pem");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();

    let cases: [(&[&Path], &str); 4] = [
        (&[&cert, &other_key], "is not the key of the certificate"),
        (&[&missing, &key], "cannot read --tls-cert"),
        (&[&cert, &missing], "cannot read --tls-key"),
        (&[&empty, &key], "holds no PEM certificate"),
    ];
    for (files, expected) in cases {
        let (code, stderr) = failed_startup(&[
            "--tls-cert".as_ref(),
            files[0].as_os_str(),
            "--tls-key".as_ref(),
            files[1].as_os_str(),
        ]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    // Half a pair, or a pair and a self-signed certificate, is a usage error.
    let (code, stderr) = failed_startup(&["--tls-cert".as_ref(), cert.as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    let (code, stderr) = failed_startup(&[
        "--tls-self-signed".as_ref(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn hang_up(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_for_new_connections_only() {
    let dir = temp_dir("tls-reload");
    let ca = TestCa::new();
    let first = ca.issue(&["127.0.0.1"]);
    let (cert, key) = first.write(&dir);
    let (server, addr) = spawn_binary(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--log-file".as_ref(),
        "".as_ref(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(
        presented(&ca.pem(), addr).await,
        sha256_fingerprint(&first.der)
    );
    let mut old = TestClient::connect_tls(addr, &ca.pem())
        .await
        .watch_presence();
    let old_id = old.join("renewal").await;

    // A renewed certificate (a new key too) is written over the old files.
    let second = ca.issue(&["127.0.0.1"]);
    second.write(&dir);
    hang_up(server.0.id());
    server.1.line_with("TLS certificate reloaded").await;
    assert_eq!(
        presented(&ca.pem(), addr).await,
        sha256_fingerprint(&second.der)
    );

    // Bad files on a later SIGHUP change nothing: the second certificate goes on serving.
    std::fs::write(&key, "not a key").unwrap();
    hang_up(server.0.id());
    server.1.line_with("TLS certificate not reloaded").await;
    assert_eq!(
        presented(&ca.pem(), addr).await,
        sha256_fingerprint(&second.der)
    );

    // The connection opened before the reloads still chats, with one opened after them.
    let mut new = TestClient::connect_tls(addr, &ca.pem()).await;
    let new_id = new.join("renewal").await;
    assert_eq!(old.expect("otherjoin").await[1], json!(new_id));
    old.emit("message", vec![json!("renewal"), json!("still here")])
        .await;
    for client in [&mut old, &mut new] {
        assert_eq!(
            client.expect("message").await,
            vec![json!("renewal"), json!(old_id), json!("still here")]
        );
    }
    new.emit("message", vec![json!("renewal"), json!("welcome")])
        .await;
    assert_eq!(old.expect("message").await[2], json!("welcome"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_names_the_address_and_prints_its_fingerprint() {
    let (server, addr) = spawn_binary(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--log-file".as_ref(),
        "".as_ref(),
        "--tls-self-signed".as_ref(),
    ]);
    let printed = server.1.line_with("SHA-256 fingerprint").await;
    assert!(printed.contains("for testing only"), "{printed}");
    let fingerprint = printed.rsplit(' ').next().unwrap().to_owned();

    // Trusting exactly that certificate, as someone who compared the fingerprint would.
    let pem = fetch_certificate_pem(addr).await;
    assert_eq!(presented(&pem, addr).await, fingerprint);
    let https = https_client(&pem);
    // It names the listening address (the client checked 127.0.0.1) and localhost.
    let localhost = https
        .get(format!("https://localhost:{}/healthz", addr.port()))
        .send()
        .await;
    assert_eq!(localhost.unwrap().status().as_u16(), 200);

    let mut chat = TestClient::connect_tls(addr, &pem).await;
    chat.join("lan").await;
    chat.emit("message", vec![json!("lan"), json!("hi")]).await;
    assert_eq!(chat.expect("message").await[2], json!("hi"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_speaks_tls_to_a_tls_server() {
    let (server, addr) = spawn_binary(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--log-file".as_ref(),
        "".as_ref(),
        "--tls-self-signed".as_ref(),
    ]);
    let check = move |tls: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signalroom"));
        command.env("SIGNALROOM_ADDR", addr.to_string());
        if tls {
            command.env("SIGNALROOM_TLS_SELF_SIGNED", "true");
        }
        command.arg("healthcheck").output().unwrap()
    };
    let healthy = tokio::task::spawn_blocking(move || check(true))
        .await
        .unwrap();
    assert!(healthy.status.success(), "{healthy:?}");
    assert!(String::from_utf8_lossy(&healthy.stdout).contains("\"status\":\"ok\""));
    // Plain HTTP to a TLS port is no health answer.
    let plain = tokio::task::spawn_blocking(move || check(false))
        .await
        .unwrap();
    assert_eq!(plain.status.code(), Some(1), "{plain:?}");
    drop(server);
}

/// The certificate the server at `addr` presents, as PEM, read without trusting it (as a
/// person reads it in the browser's warning before comparing its fingerprint).
async fn fetch_certificate_pem(addr: SocketAddr) -> String {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .timeout(WAIT)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .unwrap();
    let der = info.peer_certificate().unwrap();
    pem_of(der)
}

fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// SHA-256 over `der`, written as the server prints it; computed here, not by the server's code.
fn sha256_fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The page's reactive owner is dropped on whichever worker finishes the response, and over TLS
/// that is often another thread than the one that rendered it: nothing in the page may be tied
/// to its thread (a `LocalStorage` value panics there, which cut pages short).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_renders_whole_whichever_thread_finishes_it() {
    let dir = temp_dir("tls-pages");
    let ca = TestCa::new();
    let server = start_tls_server(&ca, &dir).await;
    let client = https_client(&ca.pem());
    let url = format!("https://{}/", server.addr);
    let mut pages = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (client, url) = (client.clone(), url.clone());
        pages.spawn(async move {
            for _ in 0..10 {
                let response = client.get(&url).send().await.expect("request");
                assert_eq!(response.status().as_u16(), 200);
                let html = response.text().await.expect("whole page");
                // Leptos streams its resource scripts after `</html>`; the last one closes it.
                assert!(
                    html.contains("</html>") && html.trim_end().ends_with("</script>"),
                    "page cut short: {html}"
                );
            }
        });
    }
    while let Some(done) = pages.join_next().await {
        done.expect("every page whole");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
