//! `--threads`: the real binary runs as many runtime workers as asked (one: the whole server on
//! its main thread), still serves, and refuses a count it could not start.

mod common;

use common::TestClient;
use rust_socketio::TransportType;

/// The names of the process's threads.
fn threads(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// The runtime's worker threads (no blocking ones run while nothing reads files).
fn workers(pid: u32) -> usize {
    threads(pid)
        .iter()
        .filter(|name| *name == signalroom::server::THREAD_NAME)
        .count()
}

/// The binary, serving with `--threads threads` on a free port.
fn serve_on(threads: &str) -> (common::ServerProcess, std::net::SocketAddr) {
    common::spawn_binary(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--log-file".as_ref(),
        "".as_ref(),
        "--threads".as_ref(),
        threads.as_ref(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thread_runs_the_whole_server_on_the_main_thread() {
    let (child, addr) = serve_on("1");
    let mut ada = TestClient::connect_to(addr, TransportType::Websocket).await;
    let mut bob = TestClient::connect_to(addr, TransportType::Polling).await;
    let ada_id = ada.join("threads").await;
    bob.join("threads").await;
    ada.emit("message", vec!["threads".into(), "hello".into()])
        .await;
    let message = bob.expect("message").await;
    assert_eq!(message, ["threads", ada_id.as_str(), "hello"]);
    assert_eq!(threads(child.0.id()), ["signalroom"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_sets_the_number_of_workers() {
    for threads in ["2", "3"] {
        let (child, addr) = serve_on(threads);
        let mut client = TestClient::connect_to(addr, TransportType::Websocket).await;
        client.join("threads").await;
        assert_eq!(workers(child.0.id()).to_string(), threads);
    }
}

#[test]
fn an_impossible_thread_count_is_refused_at_startup() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_signalroom"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log-file",
            "",
            "--threads",
            "50000",
        ])
        .output()
        .expect("run signalroom");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--threads") && stderr.contains("0..=1024"),
        "{stderr}"
    );
}
