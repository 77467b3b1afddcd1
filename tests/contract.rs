//! The tutorial's wire contract, against a real server, with rust_socketio clients.

mod common;

use common::{start_server, start_server_with, TestClient};
use rust_socketio::TransportType;
use serde_json::json;
use signalroom::server::Config;

#[tokio::test]
async fn join_answers_joined_with_room_and_id() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let id = alice.join("112222").await;
    assert!(!id.is_empty());
    alice.expect_quiet().await;
}

#[tokio::test]
async fn message_reaches_everyone_in_the_room_sender_included() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let alice_id = alice.join("r").await;
    bob.join("r").await;

    alice
        .emit("message", vec![json!("r"), json!("Chrome:hello")])
        .await;
    for client in [&mut alice, &mut bob] {
        let args = client.expect("message").await;
        assert_eq!(
            args,
            vec![json!("r"), json!(alice_id), json!("Chrome:hello")]
        );
    }
}

#[tokio::test]
async fn rooms_are_isolated() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let mut carol = TestClient::connect(&server).await;
    alice.join("a").await;
    bob.join("a").await;
    carol.join("c").await;

    alice
        .emit("message", vec![json!("a"), json!("for a")])
        .await;
    carol
        .emit("message", vec![json!("c"), json!("for c")])
        .await;
    assert_eq!(bob.expect("message").await[2], json!("for a"));
    assert_eq!(carol.expect("message").await[2], json!("for c"));
    assert_eq!(alice.expect("message").await[2], json!("for a"));
    for client in [&mut alice, &mut bob, &mut carol] {
        client.expect_quiet().await;
    }
}

#[tokio::test]
async fn leave_sends_bye_to_the_others_and_leaved_to_the_leaver() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let alice_id = alice.join("r").await;
    bob.join("r").await;

    alice.emit("leave", vec![json!("r")]).await;
    assert_eq!(
        alice.expect("leaved").await,
        vec![json!("r"), json!(alice_id.clone())]
    );
    assert_eq!(bob.expect("bye").await, vec![json!("r"), json!(alice_id)]);
    alice.expect_quiet().await;

    // Once out, the leaver no longer receives the room's messages.
    bob.emit("message", vec![json!("r"), json!("still here?")])
        .await;
    bob.expect("message").await;
    alice.expect_quiet().await;
}

#[tokio::test]
async fn disconnect_without_leave_removes_from_rooms_and_says_bye() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let alice_id = alice.join("r").await;
    bob.join("r").await;

    alice.disconnect().await;
    assert_eq!(bob.expect("bye").await, vec![json!("r"), json!(alice_id)]);
    bob.expect_quiet().await;
}

#[tokio::test]
async fn rejoining_another_room_moves_the_conversation() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    alice.join("one").await;
    bob.join("two").await;
    alice.emit("leave", vec![json!("one")]).await;
    alice.expect("leaved").await;
    alice.join("two").await;

    alice
        .emit("message", vec![json!("two"), json!("moved")])
        .await;
    assert_eq!(bob.expect("message").await[2], json!("moved"));
    assert_eq!(alice.expect("message").await[2], json!("moved"));
}

#[tokio::test]
async fn polling_and_websocket_clients_share_a_room() {
    let server = start_server().await;
    let mut poller = TestClient::connect_with(&server, TransportType::Polling).await;
    let mut ws = TestClient::connect(&server).await;
    let poller_id = poller.join("mixed").await;
    ws.join("mixed").await;

    poller
        .emit("message", vec![json!("mixed"), json!("over polling")])
        .await;
    assert_eq!(
        ws.expect("message").await,
        vec![json!("mixed"), json!(poller_id), json!("over polling")]
    );
    assert_eq!(poller.expect("message").await[2], json!("over polling"));
}

#[tokio::test]
async fn messages_of_any_json_type_are_relayed_intact() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    alice.join("r").await;
    let payloads = [
        json!("中文 and emoji 🎉"),
        json!("x".repeat(10_000)),
        json!({"type": "offer", "sdp": "v=0\r\n"}),
        json!(42),
        json!(null),
    ];
    for data in &payloads {
        alice.emit("message", vec![json!("r"), data.clone()]).await;
        assert_eq!(&alice.expect("message").await[2], data);
    }
}

#[tokio::test]
async fn join_twice_answers_joined_again_and_counts_once() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let first = alice.join("r").await;
    assert_eq!(alice.join("r").await, first);
    bob.join("r").await;

    // One leave takes alice out entirely: bob sees one bye and alice no more messages.
    alice.emit("leave", vec![json!("r")]).await;
    alice.expect("leaved").await;
    bob.expect("bye").await;
    bob.emit("message", vec![json!("r"), json!("alone")]).await;
    bob.expect("message").await;
    alice.expect_quiet().await;
}

#[tokio::test]
async fn settings_are_applied() {
    // A server built from explicit settings still speaks the contract.
    let config = Config {
        send_buffer: 64,
        event_queue: Some(16), // ignored now, but still accepted
        ..Config::default()
    };
    let server = start_server_with(config).await;
    let mut alice = TestClient::connect(&server).await;
    alice.join("r").await;
    alice.emit("message", vec![json!("r"), json!("ok")]).await;
    assert_eq!(alice.expect("message").await[2], json!("ok"));
}

#[tokio::test]
async fn a_payload_over_the_limit_disconnects_its_sender_on_either_transport() {
    let config = Config {
        max_payload: 20_000,
        ..Config::default()
    };
    let server = start_server_with(config).await;
    for (label, transport) in [
        ("websocket", TransportType::Websocket),
        ("polling", TransportType::Polling),
    ] {
        let mut big = TestClient::connect_with(&server, transport).await;
        let mut watcher = TestClient::connect(&server).await;
        let big_id = big.join("limits").await;
        watcher.join("limits").await;

        big.client_emit_unchecked("message", vec![json!("limits"), json!("x".repeat(50_000))])
            .await;
        // The message is not relayed; its sender is dropped and the room is told.
        assert_eq!(
            watcher.expect("bye").await,
            vec![json!("limits"), json!(big_id)],
            "{label}"
        );
        watcher
            .emit("message", vec![json!("limits"), json!("small")])
            .await;
        assert_eq!(watcher.expect("message").await[2], json!("small"));
        watcher.emit("leave", vec![json!("limits")]).await;
        watcher.expect("leaved").await;
    }
}

/// The exact frame on the wire, as socket.io clients parse it: a room event is encoded once and
/// copied to each member, so check the bytes, not just the parsed value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_message_is_the_exact_socket_io_frame() {
    let server = start_server().await;
    let mut alice = common::raw::RawClient::connect(server.addr).await;
    alice.emit("join", &[json!("r")]).await;
    alice.expect("joined").await;
    alice.expect("roster").await;
    alice
        .send(r#"42["message","r",{"k":[1,"\u00e9\"",null],"n":-0.5}]"#)
        .await;
    let common::raw::Frame::Text(frame) = alice.next_raw().await else {
        panic!("no frame");
    };
    let expected = format!(
        r#"42["message","r","{}",{{"k":[1,"é\"",null],"n":-0.5}}]"#,
        alice.id
    );
    assert_eq!(frame, expected);
}
