//! SIGTERM: the real binary stops accepting, tells connected clients (`closing` `shutdown`, then
//! a disconnect), exits within its grace period and flushes its log file; `signalroom
//! healthcheck` tells a live server from a gone one.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{spawn_binary, TestClient};
use rust_socketio::TransportType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_disconnects_clients_and_exits_cleanly() {
    sigterm_case("0").await;
}

/// The same on one thread (`--threads 1`), where the runtime is the main thread's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_one_thread_disconnects_clients_and_exits_cleanly() {
    sigterm_case("1").await;
}

/// Starts the binary with `--threads threads`, logging to a file of its own, and stops it with
/// SIGTERM while two clients are in a room.
async fn sigterm_case(threads: &str) {
    let log = std::env::temp_dir().join(format!(
        "signalroom-shutdown-{threads}-{}.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let (mut child, addr) = common::spawn_binary(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--shutdown-timeout".as_ref(),
        "5".as_ref(),
        "--log-level".as_ref(),
        "info".as_ref(),
        "--log-file".as_ref(),
        log.as_os_str(),
        "--threads".as_ref(),
        threads.as_ref(),
    ]);

    let mut websocket = TestClient::connect_to(addr, TransportType::Websocket).await;
    let mut polling = TestClient::connect_to(addr, TransportType::Polling).await;
    websocket.join("closing").await;
    polling.join("closing").await;

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Told why first, so they know to connect again; then disconnected.
    for client in [&mut websocket, &mut polling] {
        let closing = client.expect("closing").await;
        assert_eq!(closing[0]["code"], "shutdown", "{closing:?}");
        client.expect("close").await;
    }
    let exit = tokio::task::spawn_blocking(move || child.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
    // Well inside the 5 s grace period: nothing was left for it to cut off.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );

    // No longer accepting.
    assert!(std::net::TcpStream::connect(addr).is_err());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("shutting down"), "{text}");
    assert!(!text.contains("grace period over"), "{text}");
    assert!(
        text.trim_end().ends_with("stopped"),
        "the log was not flushed to the end:\n{text}"
    );
}

#[tokio::test]
async fn healthcheck_exits_0_against_a_live_server_and_1_once_it_is_gone() {
    let args = ["--addr", "127.0.0.1:0", "--log-file", ""];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let (server, addr) = spawn_binary(&args);
    let healthcheck = |addr: std::net::SocketAddr| {
        // As a HEALTHCHECK runs it: the container's settings in the environment.
        std::process::Command::new(env!("CARGO_BIN_EXE_signalroom"))
            .arg("healthcheck")
            .env("SIGNALROOM_ADDR", format!("0.0.0.0:{}", addr.port()))
            .output()
            .unwrap()
    };
    let healthy = healthcheck(addr);
    assert!(healthy.status.success(), "{healthy:?}");
    let answer: serde_json::Value = serde_json::from_slice(&healthy.stdout).unwrap();
    assert_eq!(answer["status"], "ok");

    drop(server);
    let gone = healthcheck(addr);
    assert_eq!(gone.status.code(), Some(1));
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(said.contains("cannot connect to 127.0.0.1:"), "{said}");
}

/// A port that answers HTTP but not with a 200 at `/healthz` is unhealthy too.
#[tokio::test]
async fn healthcheck_fails_on_an_answer_other_than_200() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = answer_503(listener);
    let check = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_signalroom"))
            .args(["--addr", &format!("127.0.0.1:{port}"), "healthcheck"])
            .output()
            .unwrap()
    });
    let output = check.await.unwrap();
    app.abort();
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("503"), "{said}");
}

/// Answers every connection with a bare `503 Service Unavailable`.
fn answer_503(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    })
}
