//! SIGTERM: the real binary stops accepting, tells connected clients, exits within its grace
//! period and flushes its log file.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestClient;
use rust_socketio::TransportType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_disconnects_clients_and_exits_cleanly() {
    let log = std::env::temp_dir().join(format!("signalroom-shutdown-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalroom"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--shutdown-timeout",
            "5",
            "--log-level",
            "info",
        ])
        .arg("--log-file")
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start signalroom");

    // The bound address, from the "listening" line on stdout.
    let stdout = child.stdout.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line
                .split("addr=")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
            {
                let _ = addr_tx.send(addr.parse::<SocketAddr>().expect("address"));
            }
        }
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server started");

    let mut websocket = TestClient::connect_to(addr, TransportType::Websocket).await;
    let mut polling = TestClient::connect_to(addr, TransportType::Polling).await;
    websocket.join("closing").await;
    polling.join("closing").await;

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    for client in [&mut websocket, &mut polling] {
        client.expect("close").await;
    }
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );

    // No longer accepting.
    assert!(std::net::TcpStream::connect(addr).is_err());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("shutting down"), "{text}");
    assert!(
        text.trim_end().ends_with("stopped"),
        "the log was not flushed to the end:\n{text}"
    );
}
