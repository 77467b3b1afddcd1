//! WebRTC signaling: presence (`otherjoin`, `roster`, names), room capacity and `full`
//! (exact under 50 simultaneous joins), directed `signal` relay with its refusals, and
//! `ice_servers` with TURN credentials.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::raw::RawClient;
use common::{start_server, start_server_with, TestClient};
use serde_json::{json, Value};
use signalroom::server::{ice, Config};

/// Joins with `options` (a name or `{name, capacity}`); returns (id, roster).
async fn join_with(client: &mut TestClient, room: &str, options: Value) -> (String, Value) {
    client.emit("join", vec![json!(room), options]).await;
    let joined = client.expect("joined").await;
    let roster = client.expect("roster").await;
    assert_eq!(roster[0], json!(room));
    (joined[1].as_str().unwrap().to_owned(), roster[1].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiners_learn_who_is_there_and_the_others_learn_of_them() {
    let server = start_server().await;
    let mut ada = TestClient::connect(&server).await.watch_presence();
    let mut bob = TestClient::connect(&server).await.watch_presence();
    let mut anon = TestClient::connect(&server).await.watch_presence();

    let (ada_id, roster) = join_with(&mut ada, "call", json!("  Ada ")).await;
    assert_eq!(roster, json!([]));
    let (bob_id, roster) = join_with(&mut bob, "call", json!({"name": "Bob"})).await;
    assert_eq!(roster, json!([{"id": ada_id, "name": "Ada"}]));
    assert_eq!(
        ada.expect("otherjoin").await,
        vec![json!("call"), json!(bob_id), json!("Bob")]
    );

    // No name: a guest name from the id.
    let (anon_id, roster) = join_with(&mut anon, "call", Value::Null).await;
    let guest = format!("guest-{}", &anon_id[..4]);
    let names: Vec<&Value> = roster
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(names, vec![&json!("Ada"), &json!("Bob")], "{roster}");
    for other in [&mut ada, &mut bob] {
        assert_eq!(other.expect("otherjoin").await[2], json!(guest));
    }
    // A repeated join answers again but announces nothing.
    join_with(&mut bob, "call", json!("Bob")).await;
    ada.expect_quiet().await;

    // Names are plain text of bounded length.
    for bad in [json!(""), json!("x".repeat(65)), json!("a\nb")] {
        let mut eve = TestClient::connect(&server).await;
        eve.emit("join", vec![json!("call"), bad]).await;
        assert_eq!(
            eve.expect("refused").await[0]["code"],
            json!("invalid_name")
        );
    }
    ada.expect_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_joins_leave_exactly_capacity_inside() {
    const CLIENTS: usize = 50;
    let server = start_server_with(Config {
        room_capacity: 2,
        ..Config::default()
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(RawClient::connect(server.addr).await);
    }
    let (answers, _keep) = common::raw::race_to_join(clients, "crowded").await;
    let inside = answers.iter().filter(|a| *a == "joined").count();
    let full = answers.iter().filter(|a| *a == "full").count();
    assert_eq!((inside, full), (2, CLIENTS - 2), "{answers:?}");
    let health = common::health(server.addr).await;
    assert_eq!(health["rooms"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_joiner_can_ask_for_a_two_seat_room() {
    let server = start_server().await; // --room-capacity 0: unlimited
    let mut ada = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let mut cat = TestClient::connect(&server).await;
    join_with(
        &mut ada,
        "one-to-one",
        json!({"name": "Ada", "capacity": 2}),
    )
    .await;
    let (bob_id, _) = join_with(&mut bob, "one-to-one", json!({"capacity": 5})).await;

    cat.emit("join", vec![json!("one-to-one"), json!("Cat")])
        .await;
    let full = cat.expect("full").await;
    assert_eq!(full[0], json!("one-to-one"));
    // Cat is not in the room: a message from Cat is refused, and nobody saw a thing.
    cat.emit("message", vec![json!("one-to-one"), json!("hi")])
        .await;
    assert_eq!(cat.expect("refused").await[0]["code"], json!("not_member"));
    ada.expect_quiet().await;

    // A seat frees when someone leaves.
    bob.emit("leave", vec![json!("one-to-one")]).await;
    bob.expect("leaved").await;
    assert_eq!(ada.expect("bye").await[1], json!(bob_id));
    join_with(&mut cat, "one-to-one", json!("Cat")).await;

    // Bad capacities are refused.
    let mut dan = TestClient::connect(&server).await;
    dan.emit("join", vec![json!("other"), json!({"capacity": 0})])
        .await;
    assert_eq!(
        dan.expect("refused").await[0]["code"],
        json!("bad_arguments")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_only_the_addressed_peer_in_order() {
    let server = start_server().await;
    let mut ada = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let mut cat = TestClient::connect(&server).await;
    let ada_id = ada.join("call").await;
    let bob_id = bob.join("call").await;
    cat.join("call").await;

    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"});
    ada.emit("signal", vec![json!("call"), json!(bob_id), offer.clone()])
        .await;
    assert_eq!(
        bob.expect("signal").await,
        vec![json!("call"), json!(ada_id), offer]
    );
    // 200 trickled candidates arrive in the order sent.
    for i in 0..200 {
        let candidate = json!({"type": "candidate", "candidate": {
            "candidate": format!("candidate:{i} 1 udp 1 127.0.0.1 {} typ host", 10_000 + i),
            "sdpMid": "0", "sdpMLineIndex": 0}});
        ada.emit("signal", vec![json!("call"), json!(bob_id), candidate])
            .await;
    }
    for i in 0..200 {
        let args = bob.expect("signal").await;
        let line = args[2]["candidate"]["candidate"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(line.starts_with(&format!("candidate:{i} ")), "{line}");
    }
    let hangup = json!({"type": "hangup"});
    bob.emit("signal", vec![json!("call"), json!(ada_id), hangup.clone()])
        .await;
    assert_eq!(ada.expect("signal").await[2], hangup);
    cat.expect_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_outside_a_shared_room_or_malformed_are_refused() {
    let server = start_server().await;
    let mut ada = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    let mut cat = TestClient::connect(&server).await;
    let ada_id = ada.join("call").await;
    let bob_id = bob.join("call").await;
    let cat_id = cat.join("elsewhere").await;
    let hangup = json!({"type": "hangup"});

    let cases = [
        // Cat is connected but not in "call".
        (
            vec![json!("call"), json!(cat_id), hangup.clone()],
            "unknown_peer",
        ),
        (
            vec![json!("call"), json!(ada_id), hangup.clone()],
            "unknown_peer",
        ),
        (
            vec![json!("call"), json!("no-such-id"), hangup.clone()],
            "unknown_peer",
        ),
        // Ada is not in "elsewhere".
        (
            vec![json!("elsewhere"), json!(cat_id), hangup.clone()],
            "not_member",
        ),
        (
            vec![json!("call"), json!(bob_id), json!({"type": "offer"})],
            "bad_arguments",
        ),
        (
            vec![json!("call"), json!(bob_id), json!("offer")],
            "bad_arguments",
        ),
        (vec![json!("call"), json!(bob_id)], "bad_arguments"),
    ];
    for (args, code) in cases {
        ada.emit("signal", args.clone()).await;
        let refusal = ada.expect("refused").await;
        assert_eq!(refusal[0]["code"], json!(code), "{args:?}");
        assert_eq!(refusal[0]["event"], json!("signal"));
    }
    bob.expect_quiet().await;
    cat.expect_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_servers_come_with_fresh_turn_credentials() {
    let server = start_server_with(Config {
        stun_urls: vec!["stun:stun.example.com:3478".into()],
        turn_urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
        turn_secret: Some("north".into()),
        turn_ttl: 600,
        ..Config::default()
    })
    .await;
    let mut ada = TestClient::connect(&server).await;
    let ada_id = ada.join("call").await;
    ada.emit("ice_servers", vec![]).await;
    let servers = ada.expect("ice_servers").await.remove(0);
    assert_eq!(servers[0], json!({"urls": ["stun:stun.example.com:3478"]}));
    let username = servers[1]["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, ada_id);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "{expiry} vs {now}"
    );
    let (_, credential) = ice::turn_credential("north", expiry, &ada_id);
    assert_eq!(servers[1]["credential"], json!(credential));

    // No settings: an empty list, so browsers use host candidates only.
    let plain = start_server().await;
    let mut bob = TestClient::connect(&plain).await;
    bob.emit("ice_servers", vec![]).await;
    assert_eq!(bob.expect("ice_servers").await, vec![json!([])]);
}
