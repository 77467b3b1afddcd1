//! SIGTERM: the real binary stops accepting, tells connected clients, exits within its grace
//! period and flushes its log file.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::TestClient;
use rust_socketio::TransportType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_disconnects_clients_and_exits_cleanly() {
    let log = std::env::temp_dir().join(format!("signalroom-shutdown-{}.log", std::process::id()));
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

    for client in [&mut websocket, &mut polling] {
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
