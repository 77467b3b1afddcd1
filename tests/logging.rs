//! Joins and leaves are logged to the log file with the room's member count, like the
//! tutorial's log4js lines. (Its own binary: the logger is process-global.)

mod common;

use std::time::{Duration, Instant};

use common::{start_server, TestClient};
use serde_json::json;
use signalroom::server::logging;

#[tokio::test]
async fn joins_and_leaves_are_logged_with_member_counts() {
    let path = std::env::temp_dir().join(format!("signalroom-log-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let _guard = logging::init("info", path.to_str().unwrap()).unwrap();

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
