//! Joins and leaves are logged to the log file with the room's member count, like the
//! tutorial's log4js lines (its own binary: the logger is process-global); the binary's JSON
//! lines and rotated, pruned log files.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_binary, start_server, TestClient};
use serde_json::json;
use signalroom::server::logging;

#[tokio::test]
async fn joins_and_leaves_are_logged_with_member_counts() {
    let path = std::env::temp_dir().join(format!("signalroom-log-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let _guard = logging::init(&logging::LogSettings {
        filter: "info",
        file: path.to_str().unwrap(),
        format: logging::LogFormat::Text,
        rotation: logging::LogRotation::Never,
        keep: 1,
    })
    .unwrap();

    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    alice.join("logged").await;
    bob.join("logged").await;
    alice.emit("leave", vec![json!("logged")]).await;
    alice.expect("leaved").await;

    let expected = [
        "the number of users in the room is 1",
        "the number of users in the room is 2",
        "left; the number of users in the room is 1",
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if expected.iter().all(|line| log.contains(line)) {
            assert!(log.contains("room=logged"), "{log}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "log file lacks {expected:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn json_lines_go_to_stdout_and_a_daily_file_that_keeps_only_the_newest() {
    let dir = std::env::temp_dir().join(format!("signalroom-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Three days of old files: with --log-keep 2, only the newest of them stays beside today's.
    for day in ["2020-01-01", "2020-01-02", "2020-01-03"] {
        std::fs::write(dir.join(format!("app.log.{day}")), "old\n").unwrap();
        // Pruning goes by creation time, which the kernel's coarse clock ticks every few ms.
        std::thread::sleep(Duration::from_millis(20));
    }
    let file = dir.join("app.log");
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--log-rotation",
        "daily",
        "--log-keep",
        "2",
        "--log-file",
        file.to_str().unwrap(),
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    // spawn_binary finds the address in a JSON line of stdout: stdout is JSON too.
    let (server, addr) = spawn_binary(&args);
    let mut ada = TestClient::connect_to(addr, rust_socketio::TransportType::Websocket).await;
    ada.join("json").await;

    // Today's file: the one that is not among the old ones.
    let old = [
        "app.log.2020-01-01",
        "app.log.2020-01-02",
        "app.log.2020-01-03",
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let (today, lines) = loop {
        let current = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .find(|name| !old.contains(&name.as_str()));
        let log = current
            .as_ref()
            .and_then(|name| std::fs::read_to_string(dir.join(name)).ok())
            .unwrap_or_default();
        if log.contains("the number of users in the room is 1") {
            break (current.unwrap(), log);
        }
        assert!(
            Instant::now() < deadline,
            "{current:?} lacks the join:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(server);
    let events: Vec<serde_json::Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let join = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("the number of users in the room is 1"))
        })
        .unwrap_or_else(|| panic!("no join line in {lines}"));
    assert_eq!(join["level"], json!("INFO"));
    assert_eq!(join["room"], json!("json"));
    assert!(join["timestamp"].is_string(), "{join}");
    assert!(events
        .iter()
        .any(|e| e["message"] == json!("signalroom listening")));
    // Named after the file with the UTC date of what it holds (YYYY-MM-DD, as the timestamps).
    let date = &events[0]["timestamp"].as_str().unwrap()[..10];
    assert_eq!(today, format!("app.log.{date}"));

    let mut kept: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["app.log.2020-01-03".to_owned(), today]);
    let _ = std::fs::remove_dir_all(&dir);
}
