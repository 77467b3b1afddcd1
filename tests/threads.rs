//! `--threads`: the real binary runs as many runtime workers as asked, still serves, and refuses
//! a count it could not start.

mod common;

use common::TestClient;
use rust_socketio::TransportType;

/// The runtime's threads (no blocking ones run while nothing reads files).
fn workers(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == signalroom::server::THREAD_NAME)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_sets_the_number_of_workers() {
    for threads in ["1", "3"] {
        let (child, addr) = common::spawn_binary(&[
            "--addr".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--log-file".as_ref(),
            "".as_ref(),
            "--threads".as_ref(),
            threads.as_ref(),
        ]);
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
