//! Webhooks (`--webhook-url`) against a real server and a real HTTP receiver started by each
//! test: every event kind and `participant_left` reason, in the order they happened, each
//! signature checked here with an independent HMAC; a receiver that is down at first, one that
//! is slow and answers 500 now and then while 200 clients chat (no chat message lost, every
//! event delivered in order), and a full queue dropping events and counting them.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::tokens::{jwt, SECRET};
use common::{health, start_server_with, TestClient};
use hmac::Mac;
use serde_json::{json, Value};
use signalroom::server::Config;

const HOOK_SECRET: &str = "the webhook secret";

/// What the receiver got, and how it behaves.
#[derive(Default)]
struct Inbox {
    /// Each accepted delivery: its headers and body, as sent.
    received: Mutex<Vec<(HeaderMap, Bytes)>>,
    /// Requests seen, accepted or not.
    requests: AtomicU64,
    /// Milliseconds to wait before answering.
    delay_ms: AtomicU64,
    /// Every n-th request is answered 500 (0: never).
    fail_every: AtomicU64,
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = inbox.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = inbox.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let every = inbox.fail_every.load(Ordering::SeqCst);
    if every > 0 && n % every == 0 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    inbox.received.lock().unwrap().push((headers, body));
    StatusCode::NO_CONTENT
}

/// A receiver on `addr` (`127.0.0.1:0` for any port).
async fn receiver_on(addr: SocketAddr) -> (SocketAddr, Arc<Inbox>) {
    let inbox = Arc::new(Inbox::default());
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, inbox)
}

fn hooked(receiver: SocketAddr) -> Config {
    Config {
        webhook_url: Some(format!("http://{receiver}/hooks")),
        webhook_secret: Some(HOOK_SECRET.into()),
        auth_secret: Some(SECRET.into()),
        api_key: Some("the webhook tests' API key".into()),
        ..Config::default()
    }
}

/// The events received, each checked: signed with the secret over its exact body, its kind
/// in the header too.
fn events(inbox: &Inbox) -> Vec<Value> {
    let received = inbox.received.lock().unwrap();
    received
        .iter()
        .map(|(headers, bytes)| {
            let body: Value = serde_json::from_slice(bytes).expect("a JSON body");
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
            mac.update(bytes);
            let hex: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                headers["x-signalroom-signature"],
                format!("sha256={hex}").as_str()
            );
            assert_eq!(
                headers["x-signalroom-event"],
                body["event"].as_str().unwrap()
            );
            body
        })
        .collect()
}

/// Waits until `count` events arrived; returns them.
async fn until_events(inbox: &Inbox, count: usize, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let got = events(inbox);
        if got.len() >= count {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} events: {got:#?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(event, room, peer id, reason)` of each event, for comparing sequences.
fn summary(events: &[Value]) -> Vec<(String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    events
        .iter()
        .map(|e| {
            (
                s(&e["event"]),
                s(&e["room"]),
                s(&e["peer"]["id"]),
                s(&e["reason"]),
            )
        })
        .collect()
}

fn row(event: &str, room: &str, id: &str, reason: &str) -> (String, String, String, String) {
    (event.into(), room.into(), id.into(), reason.into())
}

#[tokio::test]
async fn every_event_and_reason_arrives_signed_and_in_order() {
    let (receiver, inbox) = receiver_on("127.0.0.1:0".parse().unwrap()).await;
    let server = start_server_with(Config {
        event_rate: 1.0,
        event_burst: 5,
        ..hooked(receiver)
    })
    .await;
    let before = common::tokens::now() * 1000;
    let mut ada =
        TestClient::with_claims(server.addr, json!({"name": "Ada", "sub": "u-ada"})).await;
    let ada_id = ada.join("r").await;
    let mut bob = TestClient::with_claims(server.addr, json!({"name": "Bob"})).await;
    let bob_id = bob.join("r").await;
    bob.emit("leave", vec![json!("r")]).await;
    bob.expect("leaved").await;
    let mut eve = TestClient::with_claims(server.addr, json!({"name": "Eve"})).await;
    let eve_id = eve.join("r").await;
    let removed = reqwest::Client::new()
        .delete(format!(
            "http://{}/api/rooms/r/members/{eve_id}",
            server.addr
        ))
        .bearer_auth("the webhook tests' API key")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 204);
    eve.expect("removed").await;
    // Over the event rate: disconnected (evicted).
    let mut flood = TestClient::with_claims(server.addr, json!({"name": "Flood"})).await;
    let flood_id = flood.join("r").await;
    for _ in 0..100 {
        flood
            .client_emit_unchecked("message", vec![json!("r"), json!("x")])
            .await;
    }
    ada.disconnect().await;

    let expected = vec![
        row("room_started", "r", "", ""),
        row("participant_joined", "r", &ada_id, ""),
        row("participant_joined", "r", &bob_id, ""),
        row("participant_left", "r", &bob_id, "left"),
        row("participant_joined", "r", &eve_id, ""),
        row("participant_left", "r", &eve_id, "kicked"),
        row("participant_joined", "r", &flood_id, ""),
        row("participant_left", "r", &flood_id, "evicted"),
        row("participant_left", "r", &ada_id, "disconnected"),
        row("room_finished", "r", "", ""),
    ];
    let got = until_events(&inbox, expected.len(), Duration::from_secs(10)).await;
    assert_eq!(summary(&got), expected);
    assert_eq!(
        got[1]["peer"],
        json!({"id": ada_id, "name": "Ada", "sub": "u-ada"})
    );
    assert_eq!(got[2]["peer"]["sub"], Value::Null);
    let mut ids: Vec<&str> = got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), got.len(), "ids are unique");
    let times: Vec<u64> = got.iter().map(|e| e["time"].as_u64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]) && times[0] >= before,
        "{times:?}"
    );
    let health = health(server.addr).await;
    assert_eq!(health["webhooks"]["sent"], json!(expected.len()));
    assert_eq!(health["webhooks"]["failed"], json!(0));
}

#[tokio::test]
async fn a_receiver_down_at_first_gets_everything_once_it_is_up() {
    // A port with nothing listening yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = start_server_with(Config {
        webhook_attempts: 20,
        ..hooked(port)
    })
    .await;
    let mut ada = TestClient::with_claims(server.addr, json!({"name": "Ada"})).await;
    let ada_id = ada.join("r").await;
    // Chat does not wait for the webhooks.
    ada.emit("message", vec![json!("r"), json!("hello")]).await;
    assert_eq!(ada.expect("message").await[2], json!("hello"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, inbox) = receiver_on(port).await;
    let got = until_events(&inbox, 2, Duration::from_secs(20)).await;
    assert_eq!(
        summary(&got),
        vec![
            row("room_started", "r", "", ""),
            row("participant_joined", "r", &ada_id, "")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_failing_receiver_costs_200_chatting_clients_nothing() {
    let (receiver, inbox) = receiver_on("127.0.0.1:0".parse().unwrap()).await;
    inbox.delay_ms.store(20, Ordering::SeqCst);
    inbox.fail_every.store(4, Ordering::SeqCst);
    let server = start_server_with(Config {
        webhook_attempts: 10,
        ..hooked(receiver)
    })
    .await;
    const ROOMS: usize = 10;
    const PER_ROOM: usize = 20;
    const MESSAGES: usize = 5;
    let mut clients = Vec::new();
    let mut ids = vec![Vec::new(); ROOMS];
    for i in 0..ROOMS * PER_ROOM {
        let mut client =
            TestClient::connect_with_token(server.addr, &jwt(json!({"name": format!("c{i}")})))
                .await
                .expect("token accepted");
        ids[i % ROOMS].push(client.join(&format!("room-{}", i % ROOMS)).await);
        clients.push(client);
    }
    let started = Instant::now();
    for (i, client) in clients.iter().enumerate() {
        for m in 0..MESSAGES {
            client
                .emit(
                    "message",
                    vec![
                        json!(format!("room-{}", i % ROOMS)),
                        json!(format!("{i}:{m}")),
                    ],
                )
                .await;
        }
    }
    // Every member gets every message of its room, each sender's in order.
    for (i, client) in clients.iter_mut().enumerate() {
        let mut next = vec![0; ROOMS * PER_ROOM];
        for _ in 0..PER_ROOM * MESSAGES {
            let args = client.expect("message").await;
            assert_eq!(args[0], json!(format!("room-{}", i % ROOMS)));
            let (sender, m) = args[2].as_str().unwrap().split_once(':').unwrap();
            let sender: usize = sender.parse().unwrap();
            assert_eq!(
                m.parse::<usize>().unwrap(),
                next[sender],
                "sender {sender}'s order"
            );
            next[sender] += 1;
        }
    }
    let chat_took = started.elapsed();
    // The webhooks trickle in behind, and arrive complete and in order per room.
    let total = ROOMS * (PER_ROOM + 1);
    let pending = total - events(&inbox).len();
    let got = until_events(&inbox, total, Duration::from_secs(60)).await;
    for (room, members) in ids.iter().enumerate() {
        let name = format!("room-{room}");
        let of_room: Vec<_> = summary(&got).into_iter().filter(|e| e.1 == name).collect();
        let mut expected = vec![row("room_started", &name, "", "")];
        expected.extend(
            members
                .iter()
                .map(|id| row("participant_joined", &name, id, "")),
        );
        assert_eq!(of_room, expected);
    }
    let health = health(server.addr).await;
    assert_eq!(health["webhooks"]["sent"], json!(total));
    assert_eq!(health["webhooks"]["dropped"], json!(0));
    eprintln!(
        "chat of {} messages took {chat_took:?}, with {pending} of {total} webhooks still to \
         come; {} requests in all",
        ROOMS * PER_ROOM * MESSAGES,
        inbox.requests.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn a_full_queue_drops_events_counts_them_and_chat_goes_on() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = start_server_with(Config {
        webhook_queue: 2,
        webhook_attempts: 100,
        ..hooked(port)
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut client =
            TestClient::with_claims(server.addr, json!({"name": format!("c{i}")})).await;
        client.join("r").await;
        clients.push(client);
    }
    clients[0]
        .emit("message", vec![json!("r"), json!("still chatting")])
        .await;
    for client in &mut clients {
        loop {
            let (name, args) = client.next().await;
            if name == "message" {
                assert_eq!(args[2], json!("still chatting"));
                break;
            }
        }
    }
    let health = health(server.addr).await;
    // 6 events (a start, 5 joins): one being tried, two queued, three dropped.
    assert_eq!(health["webhooks"]["dropped"], json!(3), "{health}");
    assert_eq!(health["webhooks"]["queued"], json!(2), "{health}");
}
