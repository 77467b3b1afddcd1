//! Messages from one sender reach every member in the order they were sent, also back to back.

mod common;

use common::{start_server, start_server_with, TestClient};
use serde_json::json;
use signalroom::server::Config;

const MESSAGES: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_back_to_back_messages_arrive_complete_and_in_order() {
    // Above the default burst: this test is about order, not the rate limit.
    let server = start_server_with(Config {
        event_rate: 0.0,
        ..Config::default()
    })
    .await;
    let mut sender = TestClient::connect(&server).await;
    let mut receiver = TestClient::connect(&server).await;
    let sender_id = sender.join("order").await;
    receiver.join("order").await;

    for i in 0..MESSAGES {
        sender.emit("message", vec![json!("order"), json!(i)]).await;
    }
    for client in [&mut receiver, &mut sender] {
        for i in 0..MESSAGES {
            let args = client.expect("message").await;
            assert_eq!(
                args,
                vec![json!("order"), json!(sender_id), json!(i)],
                "message {i}"
            );
        }
        client.expect_quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_then_message_back_to_back_is_handled_in_order() {
    // Without per-socket ordering the message could be handled before the join and be refused.
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    for round in 0..50 {
        let room = format!("room-{round}");
        alice.emit("join", vec![json!(room)]).await;
        alice.emit("message", vec![json!(room), json!(round)]).await;
        alice.emit("leave", vec![json!(room)]).await;
        assert_eq!(alice.expect("joined").await[0], json!(room));
        assert_eq!(alice.expect("roster").await[0], json!(room));
        assert_eq!(alice.expect("message").await[2], json!(round));
        assert_eq!(alice.expect("leaved").await[0], json!(room));
    }
}
