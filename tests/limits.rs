//! Per-client limits: event rate (refused, then disconnected), rooms per client, connections.

mod common;

use std::time::Duration;

use common::raw::{Frame, RawClient};
use common::{start_server_with, TestClient};
use rust_socketio::TransportType;
use serde_json::json;
use signalroom::server::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_the_rate_are_refused_and_the_client_recovers() {
    let config = Config {
        event_rate: 5.0,
        event_burst: 20,
        ..Config::default()
    };
    let server = start_server_with(config).await;
    let mut alice = TestClient::connect(&server).await;
    alice.join("rate").await; // 1 token

    for i in 0..30 {
        alice.emit("message", vec![json!("rate"), json!(i)]).await;
    }
    let (mut delivered, mut refused) = (0, 0);
    for _ in 0..30 {
        let (name, args) = alice.next().await;
        match name.as_str() {
            "message" => delivered += 1,
            "refused" => {
                assert_eq!(args[0]["code"], json!("rate_limited"));
                assert_eq!(args[0]["event"], json!("message"));
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // 19 tokens were left; at 5 per second a token or two may come back meanwhile.
    assert!((19..=21).contains(&delivered), "delivered {delivered}");
    assert_eq!(delivered + refused, 30);

    // After a pause the client sends again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    alice
        .emit("message", vec![json!("rate"), json!("after")])
        .await;
    assert_eq!(alice.expect("message").await[2], json!("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_flooding_is_disconnected_and_others_keep_chatting() {
    let config = Config {
        event_rate: 5.0,
        event_burst: 20,
        ..Config::default()
    };
    let server = start_server_with(config).await;
    let mut flooder = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let flooder_id = flooder.join("flood").await;
    bob.join("flood").await;

    for i in 0..200 {
        flooder
            .client_emit_unchecked("message", vec![json!("flood"), json!(i)])
            .await;
    }
    // Bob sees at most the burst, then the flooder's bye.
    let mut seen = 0;
    loop {
        let (name, args) = bob.next().await;
        match name.as_str() {
            "message" => seen += 1,
            "bye" => {
                assert_eq!(args[1], json!(flooder_id));
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(seen <= 21, "saw {seen}");
    // The flooder is told why, after the messages it had sent within the limit.
    let closing = loop {
        let (name, args) = flooder.next().await;
        match name.as_str() {
            "message" | "refused" => continue,
            "closing" => break args,
            other => panic!("unexpected {other}"),
        }
    };
    assert_eq!(closing[0]["code"], json!("rate_limited"));
    flooder.expect("close").await;
    bob.emit("message", vec![json!("flood"), json!("still fine")])
        .await;
    assert_eq!(bob.expect("message").await[2], json!("still fine"));
}

#[tokio::test]
async fn a_client_may_be_in_a_limited_number_of_rooms() {
    let server = start_server_with(Config {
        max_rooms_per_client: 2,
        ..Config::default()
    })
    .await;
    let mut alice = TestClient::connect(&server).await;
    alice.join("one").await;
    alice.join("two").await;
    alice.emit("join", vec![json!("three")]).await;
    let refusal = alice.expect("refused").await;
    assert_eq!(refusal[0]["code"], json!("too_many_rooms"));
    alice.emit("leave", vec![json!("one")]).await;
    alice.expect("leaved").await;
    alice.join("three").await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_until_one_leaves() {
    let server = start_server_with(Config {
        max_connections: 2,
        ..Config::default()
    })
    .await;
    let first = TestClient::connect(&server).await;
    let _second = TestClient::connect(&server).await;
    assert!(
        TestClient::try_connect(server.addr, TransportType::Websocket)
            .await
            .is_none()
    );

    first.disconnect().await;
    // The slot frees once the server has cleaned up the first session.
    let mut third = None;
    for _ in 0..50 {
        third = TestClient::try_connect(server.addr, TransportType::Websocket).await;
        if third.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    third.expect("a slot freed").join("after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_while_connecting_free_their_slots() {
    let server = start_server_with(Config {
        max_connections: 5,
        ..Config::default()
    })
    .await;
    let mut bystander = TestClient::connect(&server).await;
    bystander.join("r").await;
    for _ in 0..100 {
        RawClient::connect_then_vanish(server.addr).await;
    }
    // Each vanished client's session ends, whether or not its connect completed.
    let mut health = common::health(server.addr).await;
    for _ in 0..100 {
        if health["connections"] == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = common::health(server.addr).await;
    }
    assert_eq!(health["connections"], json!(1), "{health}");
    let mut others = Vec::new();
    for _ in 0..4 {
        let mut client = TestClient::connect(&server).await;
        client.join("r").await;
        others.push(client);
    }
    bystander
        .emit("message", vec![json!("r"), json!("still here")])
        .await;
    for client in &mut others {
        assert_eq!(client.expect("message").await[2], json!("still here"));
    }
}

/// A client that stops reading while a room streams: once its send buffer is full it is taken
/// out of the room (the others get `bye`) and, when it reads again, finds an unbroken prefix of
/// the stream, then `closing(slow_receiver)`, then the disconnect; never a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_stops_reading_is_disconnected_not_left_with_a_gap() {
    const MESSAGES: u64 = 3000;
    let server = start_server_with(Config {
        send_buffer: 64,
        event_rate: 0.0,
        ..Config::default()
    })
    .await;
    let mut stalled = RawClient::connect(server.addr).await;
    stalled.emit("join", &[json!("stream")]).await;
    stalled.expect("joined").await;
    stalled.expect("roster").await;
    let mut sender = TestClient::connect(&server).await;
    let mut watcher = TestClient::connect(&server).await;
    sender.join("stream").await;
    watcher.join("stream").await;

    // 3000 × 4 KB is far more than the stalled socket's TCP buffers and 64 queued packets hold.
    // The sender waits for its own copy every 50 messages, so the readers never fall that far.
    let pad = "x".repeat(4096);
    let mut bye = None;
    let mut next_seen = 0;
    for seq in 0..MESSAGES {
        let data = json!({ "seq": seq, "pad": pad });
        sender.emit("message", vec![json!("stream"), data]).await;
        if seq % 50 == 49 || seq == MESSAGES - 1 {
            // The sender gets its own copies, and a `bye` like the watcher.
            while sender.next().await.1.get(2).map(|d| &d["seq"]) != Some(&json!(seq)) {}
            while next_seen <= seq {
                let (name, args) = watcher.next().await;
                match name.as_str() {
                    "message" => {
                        assert_eq!(args[2]["seq"], json!(next_seen), "watcher saw a gap");
                        next_seen += 1;
                    }
                    "bye" => bye = Some(args),
                    other => panic!("watcher got {other}"),
                }
            }
        }
    }
    let bye = bye.expect("the others were told the stalled client left");
    assert_eq!(bye, vec![json!("stream"), json!(stalled.id)]);

    // Now read what the stalled client was sent.
    let mut received = 0;
    loop {
        match stalled.next().await {
            Frame::Event(name, args) if name == "message" => {
                assert_eq!(args[2]["seq"], json!(received), "gap in the stalled stream");
                received += 1;
            }
            Frame::Event(name, _) if name == "otherjoin" => {} // The sender and watcher.
            Frame::Event(name, args) if name == "closing" => {
                assert_eq!(args[0]["code"], json!("slow_receiver"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received < MESSAGES, "the stalled client was never cut off");
    assert_eq!(stalled.next().await, Frame::Text("41".into()), "disconnect");
}
