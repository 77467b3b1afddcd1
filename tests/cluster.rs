//! Several signalroom instances on one real Redis (Debian's `redis-server`, started by each
//! test on a port of its own): one room across instances in every respect (roster in join
//! order with names, `otherjoin`, `message` in order, `bye`, `signal`, refusals, capacity under a
//! join race, per-client limits), an instance killed (and found dead sooner by a client's
//! resume) or shut down, Redis restarted empty, a slow
//! receiver on another instance, moderation (kicks, bans and locks hold on every instance), the
//! server API answering for the whole cluster, each instance's webhooks, and the settings (prefix, password, unreachable
//! Redis).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::certs::{self, TestCa};
use common::raw::{Frame, RawClient};
use common::redis_server::RedisServer;
use common::{
    health, spawn_binary, spawn_binary_with_env, start_server_with, ServerProcess, TestClient,
    TestServer,
};
use rust_socketio::TransportType;
use serde_json::{json, Value};
use signalroom::server::Config;

/// Seconds of `--node-timeout` in these tests: heartbeats every 0.4 s.
const NODE_TIMEOUT: u64 = 2;

fn cluster_config(redis: &RedisServer) -> Config {
    Config {
        redis_url: Some(redis.url()),
        node_timeout: NODE_TIMEOUT,
        ..Config::default()
    }
}

async fn instance(redis: &RedisServer) -> TestServer {
    start_server_with(cluster_config(redis)).await
}

/// The real binary as a cluster instance, for tests that kill or signal it.
fn binary_instance(
    redis: &RedisServer,
    node_timeout: u64,
) -> (ServerProcess, std::net::SocketAddr) {
    binary_instance_logging_to(redis, node_timeout, "")
}

/// As [`binary_instance`], writing its log to `log_file` too.
fn binary_instance_logging_to(
    redis: &RedisServer,
    node_timeout: u64,
    log_file: &str,
) -> (ServerProcess, std::net::SocketAddr) {
    binary_instance_on(redis, node_timeout, "127.0.0.1:0", log_file)
}

/// As [`binary_instance_logging_to`], listening on `addr`.
fn binary_instance_on(
    redis: &RedisServer,
    node_timeout: u64,
    addr: &str,
    log_file: &str,
) -> (ServerProcess, std::net::SocketAddr) {
    binary_instance_with(redis, node_timeout, addr, log_file, &[])
}

/// As [`binary_instance_on`], with `extra` arguments.
fn binary_instance_with(
    redis: &RedisServer,
    node_timeout: u64,
    addr: &str,
    log_file: &str,
    extra: &[&str],
) -> (ServerProcess, std::net::SocketAddr) {
    let url = redis.url();
    let timeout = node_timeout.to_string();
    let mut args = vec![
        "--addr",
        addr,
        "--redis-url",
        &url,
        "--node-timeout",
        &timeout,
        "--log-file",
        log_file,
        "--log-level",
        "info",
    ];
    args.extend_from_slice(extra);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    spawn_binary(&args)
}

/// Joins `room` with `options` (a name or `{name, capacity}`); returns (id, roster).
async fn join_with(client: &mut TestClient, room: &str, options: Value) -> (String, Value) {
    client.emit("join", vec![json!(room), options]).await;
    let joined = client.expect("joined").await;
    let roster = client.expect("roster").await;
    assert_eq!(roster[0], json!(room));
    (joined[1].as_str().unwrap().to_owned(), roster[1].clone())
}

fn peer(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name})
}

/// Waits until `check` holds for the instance's `/healthz`, for at most `within`.
async fn until_health(
    addr: std::net::SocketAddr,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let answer = health(addr).await;
        if check(&answer) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health never became as expected: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn redis_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |h| h["cluster"]["redis"] == json!(state)
}

/// Reads events for `quiet` and returns their names; the stream must then be silent.
async fn names_until_quiet(client: &mut TestClient, quiet: Duration) -> Vec<String> {
    let mut names = Vec::new();
    while let Ok(Some((name, _))) = client.try_next(quiet).await {
        names.push(name);
    }
    names
}

/// The instances registered in `redis`, by their node names.
async fn registered_nodes(redis: &RedisServer) -> Vec<String> {
    redis::cmd("ZRANGE")
        .arg("signalroom:nodes")
        .arg(0)
        .arg(-1)
        .query_async(&mut redis.connection().await)
        .await
        .unwrap()
}

/// The peers whose resumable sessions instance `node` keeps records of in `redis`.
async fn session_records(redis: &RedisServer, node: &str) -> Vec<String> {
    redis::cmd("HKEYS")
        .arg(format!("signalroom:sessions:{node}"))
        .query_async(&mut redis.connection().await)
        .await
        .unwrap()
}

/// The node name of the instance at `addr`, from its `/healthz`.
async fn node_name(addr: std::net::SocketAddr) -> String {
    health(addr).await["cluster"]["node"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_different_instances_share_one_room() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let mut ada = TestClient::connect(&a).await.watch_presence();
    let mut bob = TestClient::connect(&b).await.watch_presence();
    let mut cy = TestClient::connect(&a).await.watch_presence();
    let mut dee = TestClient::connect_with(&b, TransportType::Polling)
        .await
        .watch_presence();
    let mut eve = TestClient::connect(&b).await.watch_presence();

    // Rosters in join order, with names, whichever instance each member is on.
    let (ada_id, roster) = join_with(&mut ada, "call", json!("Ada")).await;
    assert_eq!(roster, json!([]));
    let (bob_id, roster) = join_with(&mut bob, "call", json!("Bob")).await;
    assert_eq!(roster, json!([peer(&ada_id, "Ada")]));
    assert_eq!(
        ada.expect("otherjoin").await,
        vec![json!("call"), json!(bob_id), json!("Bob")]
    );
    let (cy_id, roster) = join_with(&mut cy, "call", json!({"name": "Cy"})).await;
    assert_eq!(roster, json!([peer(&ada_id, "Ada"), peer(&bob_id, "Bob")]));
    for member in [&mut ada, &mut bob] {
        assert_eq!(member.expect("otherjoin").await[1], json!(cy_id));
    }
    let (dee_id, roster) = join_with(&mut dee, "call", json!("Dee")).await;
    assert_eq!(
        roster,
        json!([
            peer(&ada_id, "Ada"),
            peer(&bob_id, "Bob"),
            peer(&cy_id, "Cy")
        ])
    );
    for member in [&mut ada, &mut bob, &mut cy] {
        assert_eq!(
            member.expect("otherjoin").await,
            vec![json!("call"), json!(dee_id), json!("Dee")]
        );
    }
    join_with(&mut eve, "elsewhere", json!("Eve")).await;

    // A message reaches every member on every instance, the sender included, with its id.
    bob.emit("message", vec![json!("call"), json!("Bob:hi")])
        .await;
    for member in [&mut ada, &mut bob, &mut cy, &mut dee] {
        assert_eq!(
            member.expect("message").await,
            vec![json!("call"), json!(bob_id), json!("Bob:hi")]
        );
    }

    // A leave on B and a disconnect on A reach the other instance as `bye`.
    dee.emit("leave", vec![json!("call")]).await;
    assert_eq!(
        dee.expect("leaved").await,
        vec![json!("call"), json!(dee_id)]
    );
    for member in [&mut ada, &mut bob, &mut cy] {
        assert_eq!(
            member.expect("bye").await,
            vec![json!("call"), json!(dee_id)]
        );
    }
    cy.disconnect().await;
    for member in [&mut ada, &mut bob] {
        assert_eq!(
            member.expect("bye").await,
            vec![json!("call"), json!(cy_id)]
        );
    }
    // The other room saw none of it.
    eve.expect_quiet().await;

    // Each instance's own figures, and Redis.
    let (health_a, health_b) = (health(a.addr).await, health(b.addr).await);
    assert_eq!(health_a["status"], json!("ok"));
    assert_eq!(health_a["cluster"]["redis"], json!("up"));
    assert_eq!(
        (health_a["connections"].clone(), health_a["rooms"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        (health_b["connections"].clone(), health_b["rooms"].clone()),
        (json!(3), json!(2))
    );
    assert_ne!(health_a["cluster"]["node"], health_b["cluster"]["node"]);
    // Bound to 127.0.0.1, each can be reached at its own address (--instance-url's default).
    assert_eq!(
        health_a["cluster"]["url"],
        json!(format!("http://{}", a.addr))
    );
}

#[tokio::test]
async fn kicks_bans_and_locks_hold_on_every_instance() {
    use common::tokens::{jwt, SECRET};
    let redis = RedisServer::start();
    let secured = || Config {
        auth_secret: Some(SECRET.into()),
        ..cluster_config(&redis)
    };
    let (a, b) = (
        start_server_with(secured()).await,
        start_server_with(secured()).await,
    );
    let connect = |addr, token: String| async move {
        TestClient::connect_with_token(addr, &token)
            .await
            .expect("token accepted")
            .watch_presence()
    };
    let mut moderator = connect(a.addr, jwt(json!({"role": "moderator", "name": "Mod"}))).await;
    let eve_token = jwt(json!({"name": "Eve"}));
    let mut eve = connect(b.addr, eve_token.clone()).await;
    let mut bob = connect(b.addr, jwt(json!({"name": "Bob"}))).await;
    join_with(&mut moderator, "r", json!(null)).await;
    let (eve_id, _) = join_with(&mut eve, "r", json!(null)).await;
    join_with(&mut bob, "r", json!(null)).await;
    for _ in 0..2 {
        moderator.expect("otherjoin").await;
    }
    eve.expect("otherjoin").await;

    // A moderator on A kicks a member on B: B removes it, and every instance says `bye`.
    moderator
        .emit("kick", vec![json!("r"), json!(eve_id)])
        .await;
    assert_eq!(eve.expect("removed").await[1]["code"], json!("kicked"));
    assert_eq!(eve.expect("leaved").await, vec![json!("r"), json!(eve_id)]);
    for member in [&mut moderator, &mut bob] {
        assert_eq!(member.expect("bye").await, vec![json!("r"), json!(eve_id)]);
    }
    // Its token is banned from the room on either instance.
    eve.emit("join", vec![json!("r")]).await;
    assert_eq!(eve.expect("refused").await[0]["code"], json!("kicked"));
    let mut eve_on_a = connect(a.addr, eve_token).await;
    eve_on_a.emit("join", vec![json!("r")]).await;
    assert_eq!(eve_on_a.expect("refused").await[0]["code"], json!("kicked"));
    // Kicking someone no longer there is refused from the instance that held it.
    moderator
        .emit("kick", vec![json!("r"), json!(eve_id)])
        .await;
    assert_eq!(
        moderator.expect("refused").await[0]["code"],
        json!("unknown_peer")
    );

    // A lock on A holds for joins on B, and every member hears of it.
    moderator.emit("lock", vec![json!("r")]).await;
    for member in [&mut moderator, &mut bob] {
        assert_eq!(member.expect("locked").await, vec![json!("r"), json!(true)]);
    }
    let mut late = connect(b.addr, jwt(json!({}))).await;
    late.emit("join", vec![json!("r")]).await;
    assert_eq!(
        late.expect("refused").await[0]["code"],
        json!("room_locked")
    );
    moderator.emit("unlock", vec![json!("r")]).await;
    bob.expect("locked").await;
    moderator.expect("locked").await;
    let (late_id, _) = join_with(&mut late, "r", json!(null)).await;
    assert_eq!(moderator.expect("otherjoin").await[1], json!(late_id));
}

#[tokio::test]
async fn the_server_api_of_any_instance_answers_for_the_whole_cluster() {
    use common::tokens::{jwt, SECRET};
    const KEY: &str = "the cluster test's API key";
    let redis = RedisServer::start();
    let with_api = || Config {
        auth_secret: Some(SECRET.into()),
        api_key: Some(KEY.into()),
        ..cluster_config(&redis)
    };
    let (a, b) = (
        start_server_with(with_api()).await,
        start_server_with(with_api()).await,
    );
    let connect = |addr, claims: Value| async move {
        TestClient::connect_with_token(addr, &jwt(claims))
            .await
            .expect("token accepted")
            .watch_presence()
    };
    let mut ada = connect(a.addr, json!({"name": "Ada", "sub": "u-ada"})).await;
    let mut bob = connect(b.addr, json!({"name": "Bob", "sub": "u-bob"})).await;
    let mut cy = connect(b.addr, json!({"name": "Cy"})).await;
    let (ada_id, _) = join_with(&mut ada, "call", json!(null)).await;
    let (bob_id, _) = join_with(&mut bob, "call", json!(null)).await;
    join_with(&mut cy, "solo", json!(null)).await;
    ada.expect("otherjoin").await;

    let api = |method: reqwest::Method, path: &str| {
        reqwest::Client::new()
            .request(method, format!("http://{}/api{path}", a.addr))
            .bearer_auth(KEY)
    };
    let json_of = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str::<Value>(&response.text().await.unwrap()).unwrap_or(Value::Null),
        )
    };
    // "solo" has no member on A: the list is the cluster's, from Redis.
    let (status, rooms) = json_of(api(reqwest::Method::GET, "/rooms").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        rooms,
        json!({"rooms": [
            {"room": "call", "members": 2, "locked": false},
            {"room": "solo", "members": 1, "locked": false},
        ]})
    );
    // The dashboard is A's: its own rooms, with the members B holds and where they are.
    let (status, dashboard) = json_of(
        api(reqwest::Method::GET, "/dashboard")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let b_node = health(b.addr).await["cluster"]["node"].clone();
    assert_eq!(dashboard["node"], health(a.addr).await["cluster"]["node"]);
    assert_eq!(dashboard["redis_up"], json!(true));
    let rooms = dashboard["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 1, "{dashboard:#}");
    assert_eq!(
        (&rooms[0]["room"], &rooms[0]["members"]),
        (&json!("call"), &json!(2))
    );
    let people: Vec<(Value, Value, Value)> = rooms[0]["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].clone(),
                p["transport"].clone(),
                p["instance"].clone(),
            )
        })
        .collect();
    assert_eq!(
        people,
        vec![
            (json!("Ada"), json!("websocket"), Value::Null),
            (json!("Bob"), Value::Null, b_node),
        ]
    );
    let (_, room) = json_of(
        api(reqwest::Method::GET, "/rooms/call")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let members: Vec<(Value, Value, Value)> = room["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].clone(), m["name"].clone(), m["sub"].clone()))
        .collect();
    assert_eq!(
        members,
        vec![
            (json!(ada_id), json!("Ada"), json!("u-ada")),
            (json!(bob_id), json!("Bob"), json!("u-bob")),
        ]
    );
    assert!(room["members"][1]["joined_at"].as_u64().unwrap() > 1_700_000_000_000);

    // A removal through A of a member on B, carried out by B.
    let path = format!("/rooms/call/members/{bob_id}");
    let response = api(reqwest::Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(bob.expect("removed").await[1]["code"], json!("kicked"));
    bob.expect("leaved").await;
    assert_eq!(ada.expect("bye").await[1], json!(bob_id));

    // A server message through A reaches a room that lives on B only; then A closes it.
    let body = json!({"data": "from the backend"}).to_string();
    let response = api(reqwest::Method::POST, "/rooms/solo/messages")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        cy.expect("message").await,
        vec![json!("solo"), json!("server"), json!("from the backend")]
    );
    let (status, closed) = json_of(
        api(reqwest::Method::DELETE, "/rooms/solo")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, closed),
        (200, json!({"room": "solo", "removed": 1}))
    );
    assert_eq!(cy.expect("removed").await[1]["code"], json!("room_closed"));
    cy.expect("leaved").await;
    let gone = until_rooms(&a, KEY, |rooms| rooms.len() == 1).await;
    assert_eq!(gone[0]["room"], json!("call"));
}

#[tokio::test]
async fn each_instance_sends_its_members_webhooks_with_the_clusters_room_lifetime() {
    let redis = RedisServer::start();
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(serde_json::from_slice(&body).unwrap());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let hooked = || Config {
        webhook_url: Some(hooks.clone()),
        ..cluster_config(&redis)
    };
    let (a, b) = (
        start_server_with(hooked()).await,
        start_server_with(hooked()).await,
    );
    let mut ada = TestClient::connect(&a).await.watch_presence();
    let (ada_id, _) = join_with(&mut ada, "r", json!("Ada")).await;
    assert_eq!(
        next_hook(&mut received).await,
        ("room_started".into(), String::new(), String::new())
    );
    assert_eq!(
        next_hook(&mut received).await,
        ("participant_joined".into(), ada_id.clone(), String::new())
    );
    // Bob's instance sees the room already started.
    let mut bob = TestClient::connect(&b).await;
    let (bob_id, _) = join_with(&mut bob, "r", json!("Bob")).await;
    assert_eq!(
        next_hook(&mut received).await,
        ("participant_joined".into(), bob_id.clone(), String::new())
    );
    ada.expect("otherjoin").await;
    // Both go at once, one on each instance: each instance's view may still hold the other,
    // but Redis's count finishes the room exactly once.
    ada.emit("leave", vec![json!("r")]).await;
    bob.disconnect().await;
    let mut last = Vec::new();
    for _ in 0..3 {
        last.push(next_hook(&mut received).await);
    }
    last.sort();
    let mut expected = vec![
        ("participant_left".into(), ada_id, "left".into()),
        ("participant_left".into(), bob_id, "disconnected".into()),
        ("room_finished".into(), String::new(), String::new()),
    ];
    expected.sort();
    assert_eq!(last, expected);
    let more = tokio::time::timeout(Duration::from_millis(500), received.recv()).await;
    assert!(more.is_err(), "no second room_finished: {more:?}");
}

/// The next webhook `received`: its event, peer id and reason.
async fn next_hook(
    received: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
) -> (String, String, String) {
    let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a webhook")
        .unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&event["event"]),
        text(&event["peer"]["id"]),
        text(&event["reason"]),
    )
}

/// Polls `GET /api/rooms` on `server` until `done` holds for its rooms; returns them.
async fn until_rooms(
    server: &TestServer,
    key: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = reqwest::Client::new()
            .get(format!("http://{}/api/rooms", server.addr))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let rooms = body["rooms"].as_array().cloned().unwrap_or_default();
        if done(&rooms) {
            return rooms;
        }
        assert!(Instant::now() < deadline, "rooms never settled: {rooms:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_senders_messages_arrive_in_order_on_every_instance() {
    const MESSAGES: u64 = 500;
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let mut clients = Vec::new();
    for server in [&a, &b, &a, &b] {
        let mut client = TestClient::connect(server).await;
        client.join("stream").await;
        clients.push(client);
    }
    let ids: Vec<String> = {
        // Each client's id, from a message of its own.
        let mut ids = Vec::new();
        for i in 0..clients.len() {
            clients[i]
                .emit("message", vec![json!("stream"), json!("hello")])
                .await;
            let mut id = None;
            for client in clients.iter_mut() {
                let args = client.expect("message").await;
                id = Some(args[1].as_str().unwrap().to_owned());
            }
            ids.push(id.unwrap());
        }
        ids
    };
    // The first two (one on each instance) send back to back, at the same time.
    let (sender_a, sender_b) = {
        let mut senders = clients.drain(..2);
        (senders.next().unwrap(), senders.next().unwrap())
    };
    let send = |client: TestClient, tag: &'static str| {
        tokio::spawn(async move {
            for seq in 0..MESSAGES {
                client
                    .emit(
                        "message",
                        vec![json!("stream"), json!({"from": tag, "seq": seq})],
                    )
                    .await;
            }
            client
        })
    };
    let (task_a, task_b) = (send(sender_a, "a"), send(sender_b, "b"));
    let mut everyone = clients;
    everyone.push(task_a.await.unwrap());
    everyone.push(task_b.await.unwrap());
    for client in everyone.iter_mut() {
        let mut next = [0u64, 0u64];
        while next != [MESSAGES, MESSAGES] {
            let args = client.expect("message").await;
            let data = &args[2];
            let which = usize::from(data["from"] == json!("b"));
            assert_eq!(args[1], json!(ids[which]), "the sender's id");
            assert_eq!(
                data["seq"],
                json!(next[which]),
                "out of order or missing: {data}"
            );
            next[which] += 1;
        }
        client.expect_quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_reaches_only_its_peer_on_another_instance_in_order() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let mut ada = TestClient::connect(&a).await;
    let mut bob = TestClient::connect(&b).await;
    let mut cat = TestClient::connect(&b).await;
    let mut eve = TestClient::connect(&b).await;
    let (ada_id, _) = join_with(&mut ada, "call", json!("Ada")).await;
    let (bob_id, _) = join_with(&mut bob, "call", json!("Bob")).await;
    join_with(&mut cat, "call", json!("Cat")).await;
    let (eve_id, _) = join_with(&mut eve, "other", json!("Eve")).await;

    for i in 0..200 {
        let candidate = json!({"type": "candidate", "candidate": {
            "candidate": format!("candidate:{i} 1 udp 1 127.0.0.1 {} typ host", 10_000 + i),
            "sdpMid": "0", "sdpMLineIndex": 0}});
        ada.emit("signal", vec![json!("call"), json!(bob_id), candidate])
            .await;
    }
    for i in 0..200 {
        let args = bob.expect("signal").await;
        assert_eq!((&args[0], &args[1]), (&json!("call"), &json!(ada_id)));
        let line = args[2]["candidate"]["candidate"].as_str().unwrap();
        assert!(line.starts_with(&format!("candidate:{i} ")), "{line}");
    }
    bob.emit(
        "signal",
        vec![
            json!("call"),
            json!(ada_id),
            json!({"type": "answer", "sdp": "v=0"}),
        ],
    )
    .await;
    assert_eq!(
        ada.expect("signal").await[2],
        json!({"type": "answer", "sdp": "v=0"})
    );
    cat.expect_quiet().await;

    // The refusals hold across instances: a peer in another room, a room not joined.
    let code = |args: Vec<Value>| args[0]["code"].clone();
    ada.emit(
        "signal",
        vec![json!("call"), json!(eve_id), json!({"type": "hangup"})],
    )
    .await;
    assert_eq!(code(ada.expect("refused").await), json!("unknown_peer"));
    ada.emit(
        "signal",
        vec![json!("other"), json!(eve_id), json!({"type": "hangup"})],
    )
    .await;
    assert_eq!(code(ada.expect("refused").await), json!("not_member"));
    // A peer that just left: whether A has heard of it yet or B answers that it is gone, the
    // sender is told; it also hears the peer leave, in either order.
    bob.emit("leave", vec![json!("call")]).await;
    ada.emit(
        "signal",
        vec![json!("call"), json!(bob_id), json!({"type": "hangup"})],
    )
    .await;
    let mut heard = [ada.next().await, ada.next().await];
    heard.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        heard[0],
        ("bye".to_owned(), vec![json!("call"), json!(bob_id)])
    );
    assert_eq!(
        (heard[1].0.as_str(), heard[1].1[0]["code"].clone()),
        ("refused", json!("unknown_peer"))
    );
    eve.expect_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_is_exact_across_instances_under_a_join_race() {
    const PER_INSTANCE: usize = 15;
    let redis = RedisServer::start();
    let two_seats = || Config {
        room_capacity: 2,
        ..cluster_config(&redis)
    };
    let (a, b) = (
        start_server_with(two_seats()).await,
        start_server_with(two_seats()).await,
    );
    let mut clients = Vec::new();
    for _ in 0..PER_INSTANCE {
        clients.push(RawClient::connect(a.addr).await);
        clients.push(RawClient::connect(b.addr).await);
    }
    let (answers, keep) = common::raw::race_to_join(clients, "duo").await;
    let inside = answers.iter().filter(|a| *a == "joined").count();
    let full = answers.iter().filter(|a| *a == "full").count();
    assert_eq!((inside, full), (2, 2 * PER_INSTANCE - 2), "{answers:?}");
    let seats: usize = redis::cmd("ZCARD")
        .arg("signalroom:members:duo")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    assert_eq!(seats, 2);

    // Once everyone is gone, Redis keeps no trace of the room.
    drop(keep);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let keys = redis.keys("signalroom").await;
        let instances = ["signalroom:nodes", "signalroom:timeouts", "signalroom:urls"];
        if keys
            == [
                "signalroom:epoch",
                instances[0],
                "signalroom:seq",
                instances[1],
                instances[2],
            ]
        {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {keys:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The tutorial's log lines count the room's members on every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_log_lines_count_every_instances_members() {
    let redis = RedisServer::start();
    let log =
        std::env::temp_dir().join(format!("signalroom-cluster-log-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let a = instance(&redis).await;
    let (_b, b_addr) = binary_instance_logging_to(&redis, NODE_TIMEOUT, log.to_str().unwrap());
    let mut ada = TestClient::connect(&a).await;
    let mut bob = TestClient::connect_to(b_addr, TransportType::Websocket)
        .await
        .watch_presence();
    join_with(&mut ada, "logged", json!("Ada")).await;
    join_with(&mut bob, "logged", json!("Bob")).await; // B logs 2: Ada on A, Bob
    let mut cy = TestClient::connect(&a).await;
    join_with(&mut cy, "logged", json!("Cy")).await;
    bob.expect("otherjoin").await; // B now counts Cy too
    bob.emit("leave", vec![json!("logged")]).await; // B logs 2 left: Ada and Cy on A
    bob.expect("leaved").await;
    join_with(&mut bob, "logged", json!("Bob")).await; // 3
    bob.disconnect().await; // 2 left

    let expected = [
        "joined; the number of users in the room is 2",
        "left; the number of users in the room is 2",
        "joined; the number of users in the room is 3",
        "disconnected; the number of users in the room is 2",
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if expected.iter().all(|line| text.contains(line)) {
            break;
        }
        assert!(Instant::now() < deadline, "log lacks {expected:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_per_client_hold_in_a_cluster() {
    let redis = RedisServer::start();
    let a = start_server_with(Config {
        max_rooms_per_client: 2,
        ..cluster_config(&redis)
    })
    .await;
    let mut ada = TestClient::connect(&a).await;
    ada.join("one").await;
    ada.join("two").await;
    ada.emit("join", vec![json!("three")]).await;
    assert_eq!(
        ada.expect("refused").await[0]["code"],
        json!("too_many_rooms")
    );
    // A repeated join is not a new room.
    ada.join("one").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_members_leave_their_rooms_within_the_node_timeout() {
    let redis = RedisServer::start();
    let a = instance(&redis).await;
    let (mut b, b_addr) = binary_instance(&redis, NODE_TIMEOUT);
    let mut bob = TestClient::connect_to(b_addr, TransportType::Websocket).await;
    let (bob_id, _) = join_with(&mut bob, "call", json!("Bob")).await;
    let mut ada = TestClient::connect(&a).await;
    let (ada_id, roster) = join_with(&mut ada, "call", json!("Ada")).await;
    assert_eq!(roster, json!([peer(&bob_id, "Bob")]));

    let offered: usize = redis::cmd("HLEN")
        .arg("signalroom:urls")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    assert_eq!(offered, 2, "each instance offers its URL");

    let killed = Instant::now();
    b.0.kill().unwrap();
    let _ = b.0.wait();
    assert_eq!(ada.expect("bye").await, vec![json!("call"), json!(bob_id)]);
    // Its heartbeat expires after the timeout; the next heartbeat of A's frees its seats.
    let waited = killed.elapsed();
    assert!(
        waited < Duration::from_secs(NODE_TIMEOUT + 2),
        "took {waited:?}"
    );

    // No ghost: a newcomer sees only Ada, and Redis holds only A's members.
    let mut cy = TestClient::connect(&a).await;
    let (_, roster) = join_with(&mut cy, "call", json!("Cy")).await;
    assert_eq!(roster, json!([peer(&ada_id, "Ada")]));
    let nodes = registered_nodes(&redis).await;
    let a_node = node_name(a.addr).await;
    assert_eq!(nodes, vec![a_node.clone()]);
    // Nor is its URL offered for resuming through it any more, nor its timeout kept.
    for hash in ["signalroom:urls", "signalroom:timeouts"] {
        let instances: Vec<String> = redis::cmd("HKEYS")
            .arg(hash)
            .query_async(&mut redis.connection().await)
            .await
            .unwrap();
        assert_eq!(instances, vec![a_node.clone()], "{hash}");
    }
    let keys = redis.keys("signalroom").await;
    assert!(!keys.iter().any(|k| k.contains(&bob_id)), "{keys:?}");
}

/// A resumable member of the instance at `addr`, joined to `room`: its client, id and token.
async fn resumable_member(addr: std::net::SocketAddr, room: &str) -> (RawClient, String, String) {
    let mut client = RawClient::connect_with_auth(addr, &json!({"resume": true})).await;
    let token = client.expect("resumable").await[0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    client.emit("join", &[json!(room)]).await;
    client.expect("joined").await;
    let id = client.id.clone();
    (client, id, token)
}

/// Resumes with `token` at the instance at `addr`, which cannot: the answer's code.
async fn resume_refused(addr: std::net::SocketAddr, token: &str) -> Value {
    let auth = json!({"resume": {"token": token, "seq": 2}});
    let mut client = RawClient::connect_with_auth(addr, &auth).await;
    client.expect("resume_failed").await[0]["code"].clone()
}

/// A client of a killed instance that comes back through another one finds nothing listening
/// there: the instance is taken for dead as soon as its heartbeat is late, well before it
/// expires, and the client's peer is adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_resumable_member_is_adopted_by_the_instance_it_comes_back_through() {
    adopted_after_a_death(false).await;
}

/// The same when the killed instance was restarted on its address at once (as a supervisor
/// would): the instance answering there says it does not hold the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_restarted_on_its_address_is_found_dead_by_a_resume() {
    adopted_after_a_death(true).await;
}

/// Bob on B, Ada on A; B is killed and, if `restarted`, a new instance started on its address.
/// Bob's resume through A (if `restarted`, so the adopter knows the room already) or through a
/// third instance C (which knows nothing of it) finds B gone, waits for B to be taken for dead,
/// and adopts Bob: the same peer, in the same room, told that events may be missing, with the
/// room's roster. Ada hears `away` and `back`, never `bye`, and they go on talking.
async fn adopted_after_a_death(restarted: bool) {
    const TIMEOUT: u64 = 10;
    let redis = RedisServer::start();
    let config = || Config {
        node_timeout: TIMEOUT,
        ..cluster_config(&redis)
    };
    let a = start_server_with(config()).await;
    let c = start_server_with(config()).await;
    let adopter = if restarted { a.addr } else { c.addr };
    let (mut b, b_addr) = binary_instance(&redis, TIMEOUT);
    let b_node = node_name(b_addr).await;
    let (bob, bob_id, token) = resumable_member(b_addr, "call").await;
    let mut ada = TestClient::connect(&a).await;
    let (ada_id, _) = join_with(&mut ada, "call", json!("Ada")).await;

    let killed = Instant::now();
    b.0.kill().unwrap();
    let _ = b.0.wait();
    drop(bob);
    let _successor =
        restarted.then(|| binary_instance_on(&redis, TIMEOUT, &b_addr.to_string(), ""));
    let auth = json!({"resume": {"token": token, "seq": 2}});
    let mut bob = RawClient::connect_with_auth(adopter, &auth).await;
    let resumed = bob.expect("resumed").await;
    let waited = killed.elapsed();
    assert_eq!(resumed[0]["id"], json!(bob_id));
    assert_eq!(resumed[0]["rooms"], json!(["call"]));
    assert_eq!(resumed[0]["gap"], json!(true));
    assert_ne!(resumed[0]["token"], json!(token));
    // Late: two heartbeats (4 s) after B's last, at A's next heartbeat (every 2 s). Expired:
    // 10 s after B's last, which was at most 2 s before the kill, so 8 s at the least.
    assert!(waited < Duration::from_millis(7_500), "took {waited:?}");
    let roster = bob.expect("roster").await;
    assert_eq!(roster, vec![json!("call"), json!([peer(&ada_id, "Ada")])]);
    let (name, args) = ada.next().await;
    assert_eq!(
        (name.as_str(), args),
        ("away", vec![json!("call"), json!(bob_id)])
    );
    assert_eq!(ada.expect("back").await, vec![json!("call"), json!(bob_id)]);

    // The same peer, going on: its events number on after the position it gave.
    bob.emit("message", &[json!("call"), json!("I'm back")])
        .await;
    let echo = bob.expect("message").await;
    assert_eq!(echo[1], json!(bob_id));
    assert_eq!(echo[3], json!({"seq": 3}));
    assert_eq!(
        ada.expect("message").await,
        vec![json!("call"), json!(bob_id), json!("I'm back")]
    );
    let offer = json!({"type": "offer", "sdp": "v=0"});
    ada.emit("signal", vec![json!("call"), json!(bob_id), offer])
        .await;
    let signal = bob.expect("signal").await;
    assert_eq!(signal[1], json!(ada_id));

    let nodes = registered_nodes(&redis).await;
    assert!(!nodes.contains(&b_node), "{nodes:?}");
    assert_eq!(nodes.len(), 2 + usize::from(restarted), "{nodes:?}");
    // Nothing of the orphan is left, and the adopter keeps Bob's session's record now.
    let keys = redis.keys("signalroom").await;
    assert!(!keys.iter().any(|k| k.contains("orphan")), "{keys:?}");
    let adopter_node = node_name(adopter).await;
    assert_eq!(session_records(&redis, &adopter_node).await, vec![bob_id]);
}

/// A killed instance's resumable member keeps its seat for its grace period: the room hears
/// `away` once the instance is taken for dead, and `bye` when the grace period ends. A forged
/// token naming the member adopts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_member_that_does_not_come_back_leaves_when_its_grace_ends() {
    const GRACE: u64 = 3;
    let redis = RedisServer::start();
    let a = instance(&redis).await;
    let grace = GRACE.to_string();
    let extra = ["--resume-grace", grace.as_str()];
    let (mut b, b_addr) = binary_instance_with(&redis, NODE_TIMEOUT, "127.0.0.1:0", "", &extra);
    let (bob, bob_id, token) = resumable_member(b_addr, "call").await;
    let mut ada = TestClient::connect(&a).await;
    join_with(&mut ada, "call", json!("Ada")).await;

    b.0.kill().unwrap();
    let _ = b.0.wait();
    drop(bob);
    assert_eq!(ada.expect("away").await, vec![json!("call"), json!(bob_id)]);
    let away = Instant::now();
    let orphans: Vec<String> = redis::cmd("ZRANGE")
        .arg("signalroom:orphans")
        .arg(0)
        .arg(-1)
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    assert_eq!(orphans, vec![bob_id.clone()]);

    // The right issuer and peer, a made-up secret: refused, and the orphan is left as it was.
    let (issuer, rest) = token.split_once('.').unwrap();
    let (named, _) = rest.split_once('.').unwrap();
    let forged = format!("{issuer}.{named}.{}", "A".repeat(43));
    assert_eq!(resume_refused(a.addr, &forged).await, json!("unknown"));

    let (name, args) = ada.next().await;
    let waited = away.elapsed();
    assert_eq!(
        (name.as_str(), args),
        ("bye", vec![json!("call"), json!(bob_id)])
    );
    // The grace period, less what passed between B's death and `away`, plus a heartbeat.
    assert!(waited > Duration::from_secs(GRACE - 1), "took {waited:?}");
    assert!(waited < Duration::from_secs(GRACE + 2), "took {waited:?}");
    let keys = redis.keys("signalroom").await;
    assert!(
        !keys
            .iter()
            .any(|k| k.contains(&bob_id) || k.contains("orphan")),
        "{keys:?}"
    );
    // Its real token finds nothing now either.
    assert_eq!(resume_refused(a.addr, &token).await, json!("unknown"));
}

/// An instance taken for dead that only stood still (stopped longer than its node timeout) takes
/// its resumable members back when it registers again: the room heard `away`, hears `back`,
/// and the member, whose connection never dropped, goes on as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_taken_for_dead_that_lived_takes_its_orphans_back() {
    let redis = RedisServer::start();
    let a = instance(&redis).await;
    let (b, b_addr) = binary_instance(&redis, NODE_TIMEOUT);
    let b_node = node_name(b_addr).await;
    let (mut bob, bob_id, _) = resumable_member(b_addr, "call").await;
    let mut ada = TestClient::connect(&a).await;
    let (ada_id, _) = join_with(&mut ada, "call", json!("Ada")).await;
    bob.expect("roster").await;
    assert_eq!(bob.expect("otherjoin").await[1], json!(ada_id));

    signal(&b, "-STOP");
    assert_eq!(ada.expect("away").await, vec![json!("call"), json!(bob_id)]);
    signal(&b, "-CONT");
    assert_eq!(ada.expect("back").await, vec![json!("call"), json!(bob_id)]);
    let keys = redis.keys("signalroom").await;
    assert!(!keys.iter().any(|k| k.contains("orphan")), "{keys:?}");
    assert_eq!(session_records(&redis, &b_node).await, vec![bob_id.clone()]);

    ada.emit("message", vec![json!("call"), json!("still there?")])
        .await;
    let message = bob.expect("message").await;
    assert_eq!(
        message[..3],
        [json!("call"), json!(ada_id), json!("still there?")]
    );
    assert_eq!(
        ada.expect("message").await[1],
        json!(ada_id),
        "her own, first"
    );
    bob.emit("message", &[json!("call"), json!("yes")]).await;
    assert_eq!(
        ada.expect("message").await,
        vec![json!("call"), json!(bob_id), json!("yes")]
    );
}

/// Sends signal `name` (`-STOP`, `-CONT`) to a server process.
fn signal(process: &ServerProcess, name: &str) {
    let pid = process.0.id().to_string();
    let status = Command::new("kill").args([name, &pid]).status().unwrap();
    assert!(status.success());
}

/// B stands still past its timeout; meanwhile Bob's connection drops and A adopts him. When B
/// runs again it lets him go: he stays A's, the room never hears `bye`, and B's old socket for
/// him ending frees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_lived_lets_go_of_a_member_adopted_meanwhile() {
    let redis = RedisServer::start();
    let a = instance(&redis).await;
    let (b, b_addr) = binary_instance(&redis, NODE_TIMEOUT);
    let (a_node, b_node) = (node_name(a.addr).await, node_name(b_addr).await);
    let (bob, bob_id, token) = resumable_member(b_addr, "call").await;
    let mut ada = TestClient::connect(&a).await;
    join_with(&mut ada, "call", json!("Ada")).await;

    signal(&b, "-STOP");
    assert_eq!(ada.expect("away").await, vec![json!("call"), json!(bob_id)]);
    bob.kill(); // B cannot notice yet
    let auth = json!({"resume": {"token": token, "seq": 3}});
    let mut bob = RawClient::connect_with_auth(a.addr, &auth).await;
    let resumed = bob.expect("resumed").await;
    assert_eq!(
        (&resumed[0]["id"], &resumed[0]["gap"]),
        (&json!(bob_id), &json!(true))
    );
    bob.expect("roster").await;
    assert_eq!(ada.expect("back").await, vec![json!("call"), json!(bob_id)]);

    signal(&b, "-CONT");
    // B registers again and lets Bob go; its old socket for him ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    while session_records(&redis, &b_node).await.contains(&bob_id) {
        assert!(Instant::now() < deadline, "B kept Bob's session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = names_until_quiet(&mut ada, Duration::from_secs(2)).await;
    assert!(!events.contains(&"bye".to_owned()), "{events:?}");
    let holder: String = redis::cmd("HGET")
        .arg("signalroom:info:call")
        .arg(&bob_id)
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    assert!(holder.starts_with(&format!("{a_node}\n")), "{holder:?}");
    assert_eq!(session_records(&redis, &a_node).await, vec![bob_id.clone()]);
    bob.emit("message", &[json!("call"), json!("still here")])
        .await;
    assert_eq!(
        ada.expect("message").await,
        vec![json!("call"), json!(bob_id), json!("still here")]
    );
}

/// An instance frees only the seats it holds: a leave in another instance's name (one taken for
/// dead, whose member another instance adopted meanwhile) frees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_frees_only_the_seats_its_instance_holds() {
    use signalroom::server::cluster::{keys::Keys, scripts::Scripts};
    let redis = RedisServer::start();
    let a = instance(&redis).await;
    let mut ada = TestClient::connect(&a).await;
    let (ada_id, _) = join_with(&mut ada, "call", json!("Ada")).await;
    let leave = Scripts::new(&Keys::new("signalroom")).leave;
    let leave_as = async |node: &str| -> Vec<String> {
        let call = leave.call([node, ada_id.as_str(), "left"]);
        leave
            .with_code(&call)
            .query_async(&mut redis.connection().await)
            .await
            .unwrap()
    };
    let seated = async || -> Option<u64> {
        redis::cmd("ZSCORE")
            .arg("signalroom:members:call")
            .arg(&ada_id)
            .query_async(&mut redis.connection().await)
            .await
            .unwrap()
    };
    assert_eq!(leave_as("00000000000000ab").await, Vec::<String>::new());
    assert!(seated().await.is_some());
    let a_node = node_name(a.addr).await;
    assert_eq!(leave_as(&a_node).await, vec!["call", "0"]);
    assert!(seated().await.is_none());
}

/// A resume that finds nothing listening at a live instance's URL (here, a URL made wrong in
/// Redis) suspects it, but a live instance's heartbeat is never late: it and its members stay.
/// B beats less often than A (every 1.2 s, A every 0.4 s): late is by B's own beat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_instance_whose_url_refuses_is_not_taken_for_dead() {
    let redis = RedisServer::start();
    let (a, a_addr) = binary_instance(&redis, NODE_TIMEOUT);
    let b = start_server_with(Config {
        node_timeout: 3 * NODE_TIMEOUT,
        ..cluster_config(&redis)
    })
    .await;
    let b_node = node_name(b.addr).await;
    let (bob, bob_id, token) = resumable_member(b.addr, "call").await;
    let mut ada = TestClient::connect_to(a_addr, TransportType::Websocket).await;
    join_with(&mut ada, "call", json!("Ada")).await;
    // Nothing listens on port 1.
    let _: () = redis::cmd("HSET")
        .arg("signalroom:urls")
        .arg(&b_node)
        .arg("http://127.0.0.1:1")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();

    bob.kill();
    assert_eq!(ada.expect("away").await, vec![json!("call"), json!(bob_id)]);
    assert_eq!(resume_refused(a_addr, &token).await, json!("unknown"));
    a.1.line_with("nothing listens at the issuing instance's address")
        .await;
    // Three node timeouts: B would have been taken for dead long before, were it late.
    let events = names_until_quiet(&mut ada, Duration::from_secs(3 * NODE_TIMEOUT)).await;
    assert!(events.is_empty(), "{events:?}");
    let nodes = registered_nodes(&redis).await;
    assert!(nodes.contains(&b_node), "{nodes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_shuts_down_leaves_its_rooms_at_once() {
    let redis = RedisServer::start();
    let a = instance(&redis).await;
    // A long node timeout: the `bye` must come from the shutdown, not from the timeout.
    let log = std::env::temp_dir().join(format!("signalroom-shutdown-{}.log", std::process::id()));
    let (b, b_addr) = binary_instance_logging_to(&redis, 60, log.to_str().unwrap());
    let mut bob = TestClient::connect_to(b_addr, TransportType::Websocket).await;
    let (bob_id, _) = join_with(&mut bob, "call", json!("Bob")).await;
    let mut ada = TestClient::connect(&a).await;
    join_with(&mut ada, "call", json!("Ada")).await;

    let stopped = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &b.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let bye = tokio::time::timeout(Duration::from_secs(8), ada.expect("bye")).await;
    let shown = || std::fs::read_to_string(&log).unwrap_or_default();
    let bye = bye.unwrap_or_else(|_| panic!("no bye; the instance's log:\n{}", shown()));
    assert_eq!(bye, vec![json!("call"), json!(bob_id)]);
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "took {:?}; the instance's log:\n{}",
        stopped.elapsed(),
        shown()
    );
    assert_eq!(bob.expect("closing").await[0]["code"], "shutdown");
    bob.expect("close").await;
    drop(b);
    let _ = std::fs::remove_file(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_the_instances_register_their_members_again() {
    let mut redis = RedisServer::start();
    let (a, b) = (instance(&redis).await, instance(&redis).await);
    let mut ada = TestClient::connect(&a).await.watch_presence();
    let mut bob = TestClient::connect(&b).await.watch_presence();
    let mut cat = TestClient::connect(&a).await.watch_presence();
    let mut dan = TestClient::connect(&a).await.watch_presence();
    let (ada_id, _) = join_with(&mut ada, "duo", json!({"name": "Ada", "capacity": 2})).await;
    let (bob_id, _) = join_with(&mut bob, "duo", json!("Bob")).await;
    ada.expect("otherjoin").await;
    let (cat_id, _) = join_with(&mut cat, "chat", json!("Cat")).await;
    let (dan_id, _) = join_with(&mut dan, "chat", json!("Dan")).await;
    cat.expect("otherjoin").await;
    // A resumable member's session record, which lets another instance adopt it, comes back too.
    let (_kim, kim_id, _) = resumable_member(a.addr, "solo").await;
    let a_node = node_name(a.addr).await;
    assert_eq!(session_records(&redis, &a_node).await, vec![kim_id.clone()]);

    redis.kill();
    until_health(a.addr, Duration::from_secs(5), redis_is("down")).await;
    assert_eq!(health(a.addr).await["status"], json!("degraded"));

    // Meanwhile: each instance serves its own members; what it cannot do is refused, clearly.
    cat.emit("message", vec![json!("chat"), json!("still here")])
        .await;
    for member in [&mut cat, &mut dan] {
        assert_eq!(member.expect("message").await[2], json!("still here"));
    }
    assert_eq!(
        cat.expect("refused").await[0]["code"],
        json!("cluster_unavailable")
    );
    let mut eve = TestClient::connect(&a).await;
    eve.emit("join", vec![json!("new")]).await;
    assert_eq!(
        eve.expect("refused").await[0]["code"],
        json!("cluster_unavailable")
    );

    redis.restart();
    for server in [&a, &b] {
        until_health(server.addr, Duration::from_secs(10), redis_is("up")).await;
    }
    assert_eq!(session_records(&redis, &a_node).await, vec![kim_id]);
    // Registered again: rosters in the old join order, and the room's two seats still hold.
    let mut fay = TestClient::connect(&b).await;
    let (_, roster) = join_with(&mut fay, "chat", json!("Fay")).await;
    assert_eq!(roster, json!([peer(&cat_id, "Cat"), peer(&dan_id, "Dan")]));
    let mut gus = TestClient::connect(&b).await;
    gus.emit("join", vec![json!("duo")]).await;
    assert_eq!(gus.expect("full").await[0], json!("duo"));
    // Chat across instances resumes.
    ada.emit("message", vec![json!("duo"), json!("back")]).await;
    for member in [&mut ada, &mut bob] {
        assert_eq!(
            member.expect("message").await,
            vec![json!("duo"), json!(ada_id), json!("back")]
        );
    }
    // No one was told that anyone left, or arrived again.
    tokio::time::sleep(Duration::from_secs(NODE_TIMEOUT + 1)).await; // past the settling read
    for (member, others) in [(&mut ada, 0), (&mut bob, 0), (&mut cat, 1), (&mut dan, 1)] {
        let names = names_until_quiet(member, Duration::from_millis(300)).await;
        // Cat and Dan see Fay arrive; no one sees a `bye`.
        assert_eq!(names, vec!["otherjoin"; others], "{names:?}");
    }
    let _ = bob_id;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_on_another_instance_is_cut_off_and_the_others_miss_nothing() {
    const MESSAGES: u64 = 3000;
    let redis = RedisServer::start();
    let a = start_server_with(Config {
        event_rate: 0.0,
        ..cluster_config(&redis)
    })
    .await;
    let b = start_server_with(Config {
        send_buffer: 64,
        ..cluster_config(&redis)
    })
    .await;
    let mut stalled = RawClient::connect(b.addr).await;
    stalled.emit("join", &[json!("stream")]).await;
    stalled.expect("joined").await;
    stalled.expect("roster").await;
    let mut sender = TestClient::connect(&a).await;
    let mut watchers = [TestClient::connect(&a).await, TestClient::connect(&b).await];
    sender.join("stream").await;
    for watcher in watchers.iter_mut() {
        watcher.join("stream").await;
    }

    let pad = "x".repeat(4096);
    let mut byes = vec![None, None];
    let mut next_seen = [0, 0];
    for seq in 0..MESSAGES {
        let data = json!({ "seq": seq, "pad": pad });
        sender.emit("message", vec![json!("stream"), data]).await;
        if seq % 50 == 49 || seq == MESSAGES - 1 {
            while sender.next().await.1.get(2).map(|d| &d["seq"]) != Some(&json!(seq)) {}
            for (i, watcher) in watchers.iter_mut().enumerate() {
                while next_seen[i] <= seq {
                    let (name, args) = watcher.next().await;
                    match name.as_str() {
                        "message" => {
                            assert_eq!(
                                args[2]["seq"],
                                json!(next_seen[i]),
                                "watcher {i} saw a gap"
                            );
                            next_seen[i] += 1;
                        }
                        "bye" => byes[i] = Some(args),
                        other => panic!("watcher {i} got {other}"),
                    }
                }
            }
        }
    }
    for bye in byes {
        assert_eq!(
            bye,
            Some(vec![json!("stream"), json!(stalled.id)]),
            "told it left"
        );
    }
    let mut received = 0;
    loop {
        match stalled.next().await {
            Frame::Event(name, args) if name == "message" => {
                assert_eq!(args[2]["seq"], json!(received), "gap in the stalled stream");
                received += 1;
            }
            Frame::Event(name, _) if name == "otherjoin" => {}
            Frame::Event(name, args) if name == "closing" => {
                assert_eq!(args[0]["code"], json!("slow_receiver"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received < MESSAGES, "the stalled client was never cut off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_keep_deployments_on_one_redis_apart() {
    let redis = RedisServer::start();
    let with_prefix = |prefix: &str| Config {
        redis_prefix: prefix.to_owned(),
        ..cluster_config(&redis)
    };
    let (a, b) = (
        start_server_with(with_prefix("blue")).await,
        start_server_with(with_prefix("green")).await,
    );
    let mut ada = TestClient::connect(&a).await.watch_presence();
    let mut bob = TestClient::connect(&b).await.watch_presence();
    join_with(&mut ada, "call", json!("Ada")).await;
    let (_, roster) = join_with(&mut bob, "call", json!("Bob")).await;
    assert_eq!(roster, json!([]));
    bob.emit("message", vec![json!("call"), json!("hi")]).await;
    bob.expect("message").await;
    ada.expect_quiet().await;
    let keys = redis.keys("blue").await;
    assert!(keys.contains(&"blue:members:call".to_owned()), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_is_used_and_a_wrong_one_fails_startup() {
    let redis = RedisServer::start_with(&["--requirepass", "s3cret"]);
    let url = format!("redis://:s3cret@127.0.0.1:{}", redis.port());
    let a = start_server_with(Config {
        redis_url: Some(url),
        ..cluster_config(&redis)
    })
    .await;
    let mut ada = TestClient::connect(&a).await;
    ada.join("call").await;
    until_health(a.addr, Duration::from_secs(2), redis_is("up")).await;

    let wrong = format!("redis://:nope@127.0.0.1:{}", redis.port());
    let (code, stderr) = failed_startup(&wrong);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains(&format!("cannot use Redis at 127.0.0.1:{}", redis.port())),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret") && !stderr.contains("nope"),
        "no password in: {stderr}"
    );
}

#[test]
fn startup_with_an_unreachable_or_invalid_redis_fails_with_one_clear_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let started = Instant::now();
    let (code, stderr) = failed_startup(&format!("redis://127.0.0.1:{port}"));
    assert_ne!(code, Some(0));
    assert!(started.elapsed() < Duration::from_secs(15), "it hung");
    assert!(
        stderr.contains(&format!("cannot use Redis at 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let (code, stderr) = failed_startup("http://example.com");
    assert_ne!(code, Some(0));
    assert!(stderr.contains("invalid --redis-url"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_urls_connect_over_tls_to_a_trusted_redis_only() {
    let dir = certs::temp_dir("rediss");
    let test_ca = TestCa::new();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, test_ca.pem()).unwrap();
    let (cert, key) = test_ca.issue(&["127.0.0.1"]).write(&dir);
    let redis = RedisServer::start_tls(&cert, &key);
    let url = format!("rediss://127.0.0.1:{}", redis.port());

    // Trusting the test's CA, as an operator adds theirs to the system's store.
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--log-file",
        "",
        "--log-level",
        "info",
        "--redis-url",
        &url,
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let (_instance, addr) = spawn_binary_with_env(&args, &[("SSL_CERT_FILE", ca.as_os_str())]);
    let mut ada = TestClient::connect_to(addr, TransportType::Websocket).await;
    ada.join("call").await;
    assert_eq!(health(addr).await["cluster"]["redis"], json!("up"));

    // A certificate it does not trust: refused at startup, saying so.
    let (code, stderr) = failed_startup_with_env(&url, &[("SSL_CERT_FILE", cert.as_os_str())]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("cannot use Redis") && stderr.contains("certificate"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the binary with `--redis-url url`, expecting it to stop; its exit code and stderr.
fn failed_startup(url: &str) -> (Option<i32>, String) {
    failed_startup_with_env(url, &[])
}

fn failed_startup_with_env(url: &str, env: &[(&str, &std::ffi::OsStr)]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_signalroom"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log-file",
            "",
            "--log-level",
            "off",
            "--redis-url",
            url,
        ])
        .envs(env.iter().copied())
        .output()
        .expect("run signalroom");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
