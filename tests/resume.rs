//! Resuming a dropped connection (`--resume-grace`, `--resume-buffer`) against a real server,
//! with clients that drop their TCP connection (a reset, no goodbye) while others keep sending:
//! every missed event once and in order after a resume, as the same peer in the same rooms;
//! `away` at the drop and `bye` only when the grace ends; forged, reused and late tokens, and a
//! client that missed more than is held, starting fresh; an explicit leave or disconnect never
//! held; clients that did not ask seeing none of it; and in a cluster, resuming on the instance
//! that held the session or through another one.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::raw::{Frame, RawClient};
use common::redis_server::RedisServer;
use common::{spawn_binary_with_env, start_server_on, start_server_with, TestServer};
use serde_json::{json, Value};
use signalroom::protocol::take_seq;
use signalroom::server::Config;

/// A client that asked to be resumable, checking that every event it gets carries the next
/// position.
struct Resumable {
    client: RawClient,
    /// Its peer id, kept across resumes.
    id: String,
    token: String,
    /// The last position received.
    seq: u64,
}

impl Resumable {
    async fn connect(server: &TestServer) -> Self {
        let client = RawClient::connect_with_auth(server.addr, &json!({"resume": true})).await;
        Self::begin(client).await
    }

    /// `client` asked to be resumable: its session's first answer.
    async fn begin(mut client: RawClient) -> Self {
        let grant = client.expect("resumable").await;
        assert_eq!(grant[0]["id"], json!(client.id));
        Self {
            id: client.id.clone(),
            token: grant[0]["token"].as_str().unwrap().to_owned(),
            seq: 0,
            client,
        }
    }

    /// Its TCP connection is cut: a reset, with no WebSocket or Socket.IO goodbye.
    fn cut(self) -> Dropped {
        self.client.kill();
        Dropped {
            id: self.id,
            token: self.token,
            seq: self.seq,
        }
    }

    /// The next event, whose position must follow the last one's.
    async fn next(&mut self) -> (String, Vec<Value>) {
        match self.client.next().await {
            Frame::Event(name, mut args) => {
                let seq = take_seq(&mut args).unwrap_or_else(|| panic!("{name} has no position"));
                assert_eq!(seq, self.seq + 1, "{name}{args:?}");
                self.seq = seq;
                (name, args)
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }

    async fn expect(&mut self, name: &str) -> Vec<Value> {
        let (got, args) = self.next().await;
        assert_eq!(got, name, "{args:?}");
        args
    }

    async fn join(&mut self, room: &str) {
        self.client.emit("join", &[json!(room)]).await;
        assert_eq!(self.expect("joined").await[1], json!(self.id));
        self.expect("roster").await;
    }
}

/// A resumable client whose connection was cut: what it remembers.
struct Dropped {
    id: String,
    token: String,
    seq: u64,
}

impl Dropped {
    /// Connects again presenting its token and position; the server's first answer.
    async fn reconnect(&self, server: &TestServer) -> (RawClient, String, Vec<Value>) {
        self.reconnect_to(server.addr).await
    }

    async fn reconnect_to(&self, addr: SocketAddr) -> (RawClient, String, Vec<Value>) {
        let auth = json!({"resume": {"token": self.token, "seq": self.seq}});
        let mut client = RawClient::connect_with_auth(addr, &auth).await;
        let Frame::Event(name, args) = client.next().await else {
            panic!("no answer to the resume");
        };
        (client, name, args)
    }

    /// Resumes, which must work: `resumed` with the same id, its rooms and a new token.
    async fn resume(self, server: &TestServer, rooms: &[&str]) -> Resumable {
        self.resume_at(server.addr, rooms).await
    }

    async fn resume_at(self, addr: SocketAddr, rooms: &[&str]) -> Resumable {
        let (client, name, args) = self.reconnect_to(addr).await;
        assert_eq!(name, "resumed", "{args:?}");
        assert_eq!(args[0]["id"], json!(self.id));
        assert_eq!(args[0]["rooms"], json!(rooms));
        assert_ne!(args[0]["token"], json!(self.token));
        Resumable {
            client,
            id: self.id,
            token: args[0]["token"].as_str().unwrap().to_owned(),
            seq: self.seq,
        }
    }
}

/// A client connecting to `server` with handshake `auth` is told its resume is `unknown`.
async fn refused_as_unknown(server: &TestServer, auth: &Value) -> RawClient {
    let mut client = RawClient::connect_with_auth(server.addr, auth).await;
    let failure = client.expect("resume_failed").await;
    assert_eq!(failure[0]["code"], json!("unknown"));
    client
}

/// A plain client's next event, with no position on it (it did not ask to be resumable).
async fn plain_next(client: &mut RawClient) -> (String, Vec<Value>) {
    match client.next().await {
        Frame::Event(name, args) => {
            let mut copy = args.clone();
            assert_eq!(take_seq(&mut copy), None, "{name}{args:?}");
            (name, args)
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Joins `room`; returns the `roster` event's arguments.
async fn plain_join(client: &mut RawClient, room: &str) -> Vec<Value> {
    client.emit("join", &[json!(room)]).await;
    assert_eq!(plain_next(client).await.0, "joined");
    let (name, roster) = plain_next(client).await;
    assert_eq!(name, "roster");
    roster
}

fn server_config(grace: u64, buffer: u32) -> Config {
    Config {
        resume_grace: grace,
        resume_buffer: buffer,
        ..Config::default()
    }
}

/// Reads `client`'s events until `count` messages arrived; returns their data, and any other
/// events' names.
async fn plain_messages(client: &mut RawClient, count: usize) -> (Vec<Value>, Vec<String>) {
    let (mut messages, mut others) = (Vec::new(), Vec::new());
    while messages.len() < count {
        match plain_next(client).await {
            (name, args) if name == "message" => messages.push(args[2].clone()),
            (name, args) => others.push(format!("{name}{args:?}")),
        }
    }
    (messages, others)
}

/// Ada (resumable) and Bob, both on `server`, in room `r`; Ada's connection is cut, and Bob
/// hears she is away.
async fn away_from(server: &TestServer) -> (Dropped, RawClient) {
    let mut ada = Resumable::connect(server).await;
    ada.join("r").await;
    let mut bob = RawClient::connect(server.addr).await;
    plain_join(&mut bob, "r").await;
    ada.expect("otherjoin").await;
    let ada = ada.cut();
    assert_eq!(plain_next(&mut bob).await.0, "away");
    (ada, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_resumes_with_every_missed_event_once_and_in_order() {
    let server = start_server_with(server_config(30, 1000)).await;
    let mut ada = Resumable::connect(&server).await;
    ada.join("r").await;
    let mut bob = RawClient::connect(server.addr).await;
    plain_join(&mut bob, "r").await;
    assert_eq!(ada.expect("otherjoin").await[1], json!(bob.id));

    // Bob sends 300 messages back to back; Ada reads 100 and her connection is cut.
    for i in 0..300 {
        bob.emit("message", &[json!("r"), json!(i)]).await;
    }
    let mut received = Vec::new();
    while received.len() < 100 {
        let args = ada.expect("message").await;
        assert_eq!(args[1], json!(bob.id));
        received.push(args[2].clone());
    }
    let ada = ada.cut();
    let seq_at_drop = ada.seq;

    // Bob's room hears she is away, not gone, and Bob goes on: 200 more, and a signal for her.
    // (`away` comes when the server notices the cut: among Bob's 300 or after them.)
    let (_, mut others) = plain_messages(&mut bob, 300).await;
    while !others.iter().any(|e| e.starts_with("away")) {
        let (name, args) = plain_next(&mut bob).await;
        others.push(format!("{name}{args:?}"));
    }
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(others[0].contains(&ada.id), "{others:?}");
    for i in 300..500 {
        bob.emit("message", &[json!("r"), json!(i)]).await;
    }
    let offer = json!({"type": "offer", "sdp": "v=0"});
    bob.emit("signal", &[json!("r"), json!(ada.id), offer.clone()])
        .await;
    plain_messages(&mut bob, 200).await;

    // She comes back on a new connection as the same peer: everything after what she had, in
    // order, once; then live events.
    let mut ada = ada.resume(&server, &["r"]).await;
    assert_eq!(ada.seq, seq_at_drop);
    while received.len() < 500 {
        received.push(ada.expect("message").await[2].clone());
    }
    assert_eq!(received, (0..500).map(|i| json!(i)).collect::<Vec<_>>());
    let signal = ada.expect("signal").await;
    assert_eq!((&signal[1], &signal[2]), (&json!(bob.id), &offer));
    // The room hears she is back, and she speaks as the same peer.
    let back = plain_next(&mut bob).await;
    assert_eq!(back, ("back".to_owned(), vec![json!("r"), json!(ada.id)]));
    let again = vec![json!("r"), json!("again")];
    ada.client.emit("message", &again).await;
    let echo = ada.expect("message").await;
    assert_eq!(echo, vec![json!("r"), json!(ada.id), json!("again")]);
    assert_eq!(plain_next(&mut bob).await, ("message".to_owned(), echo));
    // No one was told she left.
    assert!(bob.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_period_the_room_hears_bye_and_the_token_is_refused() {
    let server = start_server_with(server_config(1, 100)).await;
    let mut ada = Resumable::connect(&server).await;
    ada.join("r").await;
    let mut bob = RawClient::connect(server.addr).await;
    plain_join(&mut bob, "r").await;
    // The server notices the drop after the cut, and the grace period runs from then.
    let cut = tokio::time::Instant::now();
    let ada = ada.cut();
    let away = plain_next(&mut bob).await;
    assert_eq!(away, ("away".to_owned(), vec![json!("r"), json!(ada.id)]));
    let bye = plain_next(&mut bob).await;
    assert_eq!(bye, ("bye".to_owned(), vec![json!("r"), json!(ada.id)]));
    assert!(
        cut.elapsed() >= Duration::from_secs(1),
        "{:?}",
        cut.elapsed()
    );

    let (mut client, name, args) = ada.reconnect(&server).await;
    assert_eq!(
        (name.as_str(), &args[0]["code"]),
        ("resume_failed", &json!("unknown"))
    );
    // A fresh session, resumable in turn, under a new id.
    let grant = client.expect("resumable").await;
    assert_eq!(grant[0]["id"], json!(client.id));
    assert_ne!(client.id, ada.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_reused_tokens_start_fresh() {
    let server = start_server_with(server_config(30, 100)).await;
    let forged = json!({"resume": {"token": "not-a-token-the-server-issued", "seq": 0}});
    let mut client = refused_as_unknown(&server, &forged).await;
    client.expect("resumable").await;

    let mut ada = Resumable::connect(&server).await;
    ada.join("r").await;
    let used = ada.token.clone();
    let ada = ada.cut().resume(&server, &["r"]).await;
    let reused = json!({"resume": {"token": used, "seq": ada.seq}});
    refused_as_unknown(&server, &reused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_more_than_is_held_starts_fresh_and_the_room_hears_bye_at_once() {
    let server = start_server_with(server_config(30, 5)).await;
    misses_too_much(&server, &server).await;
}

/// Ada (on `holder`, which keeps 5 events) drops while Bob sends 10; resuming on `resume_at`
/// she is told `too_far_behind` and starts fresh there, and the room hears `bye` at once.
async fn misses_too_much(holder: &TestServer, resume_at: &TestServer) {
    let (ada, mut bob) = away_from(holder).await;
    for i in 0..10 {
        bob.emit("message", &[json!("r"), json!(i)]).await;
    }
    plain_messages(&mut bob, 10).await;

    let (mut client, name, args) = ada.reconnect(resume_at).await;
    assert_eq!(
        (name.as_str(), &args[0]["code"]),
        ("resume_failed", &json!("too_far_behind"))
    );
    assert_eq!(client.expect("resumable").await[0]["id"], json!(client.id));
    let bye = plain_next(&mut bob).await;
    assert_eq!(bye, ("bye".to_owned(), vec![json!("r"), json!(ada.id)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_leave_or_disconnect_is_never_held() {
    let server = start_server_with(server_config(30, 100)).await;
    let mut bob = RawClient::connect(server.addr).await;
    plain_join(&mut bob, "r").await;

    let mut ada = Resumable::connect(&server).await;
    ada.join("r").await;
    assert_eq!(plain_next(&mut bob).await.0, "otherjoin");
    ada.client.emit("leave", &[json!("r")]).await;
    assert_eq!(ada.expect("leaved").await[1], json!(ada.id));
    assert_eq!(
        plain_next(&mut bob).await,
        ("bye".to_owned(), vec![json!("r"), json!(ada.id)])
    );

    let mut cy = Resumable::connect(&server).await;
    cy.join("r").await;
    assert_eq!(plain_next(&mut bob).await.0, "otherjoin");
    // A Socket.IO disconnect: the client means to go.
    cy.client.send("41").await;
    assert_eq!(
        plain_next(&mut bob).await,
        ("bye".to_owned(), vec![json!("r"), json!(cy.id)])
    );
    let (mut client, name, _) = cy.cut().reconnect(&server).await;
    assert_eq!(name, "resume_failed");
    client.expect("resumable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_resuming_off_a_drop_is_a_leave() {
    let server = start_server_with(server_config(0, 100)).await;
    let mut bob = RawClient::connect(server.addr).await;
    plain_join(&mut bob, "r").await;
    let mut ada = RawClient::connect_with_auth(server.addr, &json!({"resume": true})).await;
    // No `resumable`: the server does not resume; events carry no position.
    plain_join(&mut ada, "r").await;
    let ada_id = ada.id.clone();
    assert_eq!(plain_next(&mut bob).await.0, "otherjoin");
    ada.kill();
    assert_eq!(
        plain_next(&mut bob).await,
        ("bye".to_owned(), vec![json!("r"), json!(ada_id)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_an_away_member_as_away() {
    const KEY: &str = "the resume test's API key";
    let server = start_server_with(Config {
        api_key: Some(KEY.into()),
        ..server_config(30, 100)
    })
    .await;
    let mut ada = Resumable::connect(&server).await;
    ada.join("r").await;
    let transport = || async {
        let url = format!("http://{}/api/dashboard", server.addr);
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth(KEY)
            .send()
            .await;
        let snapshot: Value =
            serde_json::from_str(&response.unwrap().text().await.unwrap()).unwrap();
        snapshot["rooms"][0]["people"][0]["transport"].clone()
    };
    assert_eq!(transport().await, json!("websocket"));
    let ada = ada.cut();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while transport().await != json!("away") {
        assert!(tokio::time::Instant::now() < deadline, "never shown away");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ada = ada.resume(&server, &["r"]).await;
    assert_eq!(transport().await, json!("websocket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_join_tokens_only_the_same_subject_resumes() {
    let server = start_server_with(with_join_tokens(None)).await;
    only_the_same_subject_resumes(&server, &server).await;
}

/// The same through another instance: the join token is presented to the instance holding the
/// session, which checks its subject as for a resume of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_with_join_tokens_only_the_same_subject_resumes_through_another_instance() {
    let redis = RedisServer::start();
    let config = || with_join_tokens(Some(redis.url()));
    let (a, b) = (
        start_server_with(config()).await,
        start_server_with(config()).await,
    );
    only_the_same_subject_resumes(&a, &b).await;
}

/// Resumable, requiring join tokens; in a cluster on `redis_url` if given.
fn with_join_tokens(redis_url: Option<String>) -> Config {
    Config {
        auth_secret: Some(common::tokens::SECRET.into()),
        redis_url,
        ..server_config(30, 100)
    }
}

/// Ada (with a join token for `u-ada`) begins a session on `begin` and drops; on `resume_at`
/// Eve, holding Ada's resume token but her own join token, is refused as unknown, and Ada
/// resumes.
async fn only_the_same_subject_resumes(begin: &TestServer, resume_at: &TestServer) {
    use common::tokens::jwt;
    let as_user = |sub: &str| jwt(json!({"sub": sub}));
    let auth = json!({"token": as_user("u-ada"), "resume": true});
    let mut client = RawClient::connect_with_auth(begin.addr, &auth).await;
    let grant = client.expect("resumable").await;
    let ada = Resumable {
        id: client.id.clone(),
        token: grant[0]["token"].as_str().unwrap().to_owned(),
        seq: 0,
        client,
    }
    .cut();
    let resume = json!({"token": ada.token, "seq": 0});
    // Someone else who got hold of her resume token: refused, as if it were unknown.
    let stolen = json!({"token": as_user("u-eve"), "resume": resume});
    refused_as_unknown(resume_at, &stolen).await;
    // The token still works for her.
    let own = json!({"token": as_user("u-ada"), "resume": resume});
    let mut back = RawClient::connect_with_auth(resume_at.addr, &own).await;
    assert_eq!(back.expect("resumed").await[0]["id"], json!(ada.id));
}

/// The ids in a `roster` event's arguments, in order.
fn roster_ids(roster: &[Value]) -> Vec<Value> {
    let people = roster[1].as_array().unwrap();
    people.iter().map(|p| p["id"].clone()).collect()
}

/// Two instances A and B on one real Redis, Ada (resumable) and Bob (plain), in room `r`. Bind
/// every field: a Redis or an instance dropped stops.
struct Pair {
    _redis: RedisServer,
    a: TestServer,
    b: TestServer,
    ada: Resumable,
    bob: RawClient,
}

/// Resumable for `grace` seconds; Ada on A, Bob on B.
async fn ada_on_a_and_bob_on_b(grace: u64) -> Pair {
    let redis = RedisServer::start();
    let config = || Config {
        redis_url: Some(redis.url()),
        node_timeout: 2,
        ..server_config(grace, 1000)
    };
    let (a, b) = (
        start_server_with(config()).await,
        start_server_with(config()).await,
    );
    let mut ada = Resumable::connect(&a).await;
    ada.join("r").await;
    let mut bob = RawClient::connect(b.addr).await;
    plain_join(&mut bob, "r").await;
    assert_eq!(ada.expect("otherjoin").await[1], json!(bob.id));
    Pair {
        _redis: redis,
        a,
        b,
        ada,
        bob,
    }
}

/// Ada's connection is cut; Bob, on B, hears she is away and goes on: 200 messages and a
/// signal for her (returned), which A holds.
async fn cut_while_bob_sends(ada: Resumable, bob: &mut RawClient) -> (Dropped, Value) {
    let ada = ada.cut();
    let away = plain_next(bob).await;
    assert_eq!(away, ("away".to_owned(), vec![json!("r"), json!(ada.id)]));
    for i in 0..200 {
        bob.emit("message", &[json!("r"), json!(i)]).await;
    }
    plain_messages(bob, 200).await;
    let offer = json!({"type": "offer", "sdp": "v=0"});
    bob.emit("signal", &[json!("r"), json!(ada.id), offer.clone()])
        .await;
    (ada, offer)
}

/// Ada resumes on `server`: every message Bob sent once, in order, then his `offer`; Bob hears
/// she is back.
async fn resume_with_what_bob_sent(
    ada: Dropped,
    server: &TestServer,
    bob: &mut RawClient,
    offer: &Value,
) -> Resumable {
    let mut ada = ada.resume(server, &["r"]).await;
    for i in 0..200 {
        let message = ada.expect("message").await;
        assert_eq!((&message[1], &message[2]), (&json!(bob.id), &json!(i)));
    }
    let signal = ada.expect("signal").await;
    assert_eq!((&signal[1], &signal[2]), (&json!(bob.id), offer));
    let back = plain_next(bob).await;
    assert_eq!(back, ("back".to_owned(), vec![json!("r"), json!(ada.id)]));
    ada
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_client_resumes_on_its_instance_and_the_other_instance_sees_away_and_back() {
    let Pair {
        _redis,
        a,
        b,
        ada,
        mut bob,
    } = ada_on_a_and_bob_on_b(30).await;

    // Her connection to A is cut while Bob, on B, sends; back on A (a sticky session).
    let (ada, cy) = cut_and_resumed(ada, &a, &b, &mut bob).await;
    let _ = (ada, cy);
}

/// Ada's connection is cut while Bob sends; she resumes on `server` with all of it, then
/// chats both ways as the same peer; a newcomer Cy on B (returned) sees her seat once.
async fn cut_and_resumed(
    ada: Resumable,
    server: &TestServer,
    b: &TestServer,
    bob: &mut RawClient,
) -> (Resumable, RawClient) {
    let (ada, offer) = cut_while_bob_sends(ada, bob).await;
    let mut ada = resume_with_what_bob_sent(ada, server, bob, &offer).await;
    ada.client
        .emit("message", &[json!("r"), json!("again")])
        .await;
    let own = ada.expect("message").await;
    assert_eq!((&own[1], &own[2]), (&json!(ada.id), &json!("again")));
    let heard = plain_next(bob).await;
    assert_eq!(heard.1, vec![json!("r"), json!(ada.id), json!("again")]);
    bob.emit("message", &[json!("r"), json!("to her")]).await;
    plain_messages(bob, 1).await;
    assert_eq!(ada.expect("message").await[2], json!("to her"));
    let mut cy = RawClient::connect(b.addr).await;
    let roster = plain_join(&mut cy, "r").await;
    assert_eq!(roster_ids(&roster), vec![json!(ada.id), json!(bob.id)]);
    assert_eq!(ada.expect("otherjoin").await[1], json!(cy.id));
    assert_eq!(plain_next(bob).await.0, "otherjoin");
    (ada, cy)
}

/// A resume on the other instance is carried to the one that holds the session: the same
/// peer, every missed event once and in order, and from then on live events both ways. Its
/// connection there drops like any other (the room hears `away`), and it resumes again on its
/// own instance; an explicit disconnect through B is a `bye` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_client_resumes_on_the_other_instance_with_everything_it_missed() {
    let Pair {
        _redis,
        a,
        b,
        ada,
        mut bob,
    } = ada_on_a_and_bob_on_b(30).await;
    // Back on B, which does not hold her session.
    let (ada, mut cy) = cut_and_resumed(ada, &b, &b, &mut bob).await;

    // Cut on B: a drop, then a resume on A itself, with what was sent meanwhile.
    let ada = ada.cut();
    assert_eq!(plain_next(&mut bob).await.0, "away");
    assert_eq!(plain_next(&mut cy).await.0, "away");
    bob.emit("message", &[json!("r"), json!("meanwhile")]).await;
    let mut ada = ada.resume(&a, &["r"]).await;
    assert_eq!(ada.expect("message").await[2], json!("meanwhile"));
    assert_eq!(plain_next(&mut cy).await.1[2], json!("meanwhile"));
    assert_eq!(plain_next(&mut cy).await.0, "back");

    // Through B once more, then an explicit disconnect: `bye` at once.
    let ada = ada.cut();
    assert_eq!(plain_next(&mut cy).await.0, "away");
    let mut ada = ada.resume(&b, &["r"]).await;
    assert_eq!(plain_next(&mut cy).await.0, "back");
    ada.client.send("41").await;
    let bye = plain_next(&mut cy).await;
    assert_eq!(bye, ("bye".to_owned(), vec![json!("r"), json!(ada.id)]));
}

/// A token its issuer no longer knows, presented to the other instance: the issuer's refusal
/// comes back, and the client starts fresh where it is, alone with the others in the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_token_its_issuer_refuses_starts_fresh_on_the_other_instance() {
    let Pair {
        _redis,
        a: _a,
        b,
        ada,
        mut bob,
    } = ada_on_a_and_bob_on_b(1).await;
    let ada = ada.cut();
    assert_eq!(plain_next(&mut bob).await.0, "away");
    let bye = plain_next(&mut bob).await;
    assert_eq!(bye, ("bye".to_owned(), vec![json!("r"), json!(ada.id)]));

    let (mut client, name, args) = ada.reconnect(&b).await;
    assert_eq!(
        (name.as_str(), &args[0]["code"]),
        ("resume_failed", &json!("unknown"))
    );
    let fresh = client.expect("resumable").await;
    assert_eq!(fresh[0]["id"], json!(client.id));
    assert_ne!(fresh[0]["id"], json!(ada.id));
    client.emit("join", &[json!("r")]).await;
    assert_eq!(client.expect("joined").await[1], json!(client.id));
    let roster = client.expect("roster").await;
    assert_eq!(roster_ids(&roster), vec![json!(bob.id)]);
    // Made-up tokens, naming an instance or not, start fresh too.
    for token in ["0000000000000000.x", "x"] {
        let auth = json!({"resume": {"token": token, "seq": 0}});
        refused_as_unknown(&b, &auth).await;
    }
}

/// The issuer's own refusal comes back through B: a client that missed more than A holds is
/// told `too_far_behind` (B, which holds nothing of it, could only say `unknown`), and the room
/// hears `bye` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_the_issuers_refusal_code_reaches_the_client_on_the_other_instance() {
    let redis = RedisServer::start();
    let config = |buffer| Config {
        redis_url: Some(redis.url()),
        ..server_config(30, buffer)
    };
    let a = start_server_with(config(5)).await;
    let b = start_server_with(config(100)).await;
    misses_too_much(&a, &b).await;
}

/// When the instance holding a session carried through B stops, the client is told
/// `closing(shutdown)` and disconnected, free to connect again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_carried_client_hears_when_the_holding_instance_stops() {
    let Pair {
        _redis,
        a,
        b,
        ada,
        mut bob,
    } = ada_on_a_and_bob_on_b(30).await;
    let ada = ada.cut();
    assert_eq!(plain_next(&mut bob).await.0, "away");
    let mut ada = ada.resume(&b, &["r"]).await;
    assert_eq!(plain_next(&mut bob).await.0, "back");
    drop(a);
    // Not numbered: it is about the connection, not the session.
    let closing = ada.client.expect("closing").await;
    assert_eq!(closing[0]["code"], json!("shutdown"));
    loop {
        match ada.client.next().await {
            Frame::Event(name, args) => panic!("{name}{args:?} after closing"),
            Frame::Text(text) if text == "41" => break,
            Frame::Closed | Frame::Broken(_) => break,
            Frame::Text(_) | Frame::Binary(_) => {}
        }
    }
    // Bob, on B, hears her leave with the instance.
    let bye = plain_next(&mut bob).await;
    assert_eq!(bye, ("bye".to_owned(), vec![json!("r"), json!(ada.id)]));
}

/// Instances A and B (configured by `a` and `b`) on one real Redis; Ada (resumable) and Bob,
/// both on A, in room `r`. Ada's connection is cut, and she resumes through B.
async fn carried_by_b(a: Config, b: Config) -> Pair {
    let redis = RedisServer::start();
    let in_cluster = |config| Config {
        redis_url: Some(redis.url()),
        node_timeout: 2,
        ..config
    };
    let a = start_server_with(in_cluster(a)).await;
    let b = start_server_with(in_cluster(b)).await;
    let (ada, mut bob) = away_from(&a).await;
    let ada = ada.resume(&b, &["r"]).await;
    assert_eq!(plain_next(&mut bob).await.0, "back");
    Pair {
        _redis: redis,
        a,
        b,
        ada,
        bob,
    }
}

/// A client carried through B that stops reading is cut off by B, as any slow receiver: its
/// stream has no gap up to `closing(slow_receiver)`, and the room hears `bye` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_carried_client_that_stops_reading_is_cut_off() {
    const MESSAGES: u64 = 3000;
    let config = |send_buffer| Config {
        event_rate: 0.0,
        send_buffer,
        ..server_config(30, 1000)
    };
    let Pair {
        _redis,
        a: _a,
        b: _b,
        mut ada,
        mut bob,
    } = carried_by_b(config(1024), config(64)).await;

    // Ada reads nothing while Bob sends.
    let pad = "x".repeat(4096);
    let mut bye = None;
    for i in 0..MESSAGES {
        bob.emit("message", &[json!("r"), json!({ "i": i, "pad": pad })])
            .await;
        if i % 50 == 49 {
            let mut echoed = 0;
            while echoed < 50 {
                match plain_next(&mut bob).await {
                    (name, _) if name == "message" => echoed += 1,
                    (name, args) if name == "bye" => bye = Some(args),
                    other => panic!("Bob got {other:?}"),
                }
            }
        }
        if bye.is_some() {
            break;
        }
    }
    assert_eq!(bye, Some(vec![json!("r"), json!(ada.id)]), "never cut off");
    let mut received = 0;
    loop {
        match ada.client.next().await {
            Frame::Event(name, mut args) if name == "message" => {
                let seq = take_seq(&mut args).unwrap();
                assert_eq!(seq, ada.seq + 1, "gap in the stalled stream");
                ada.seq = seq;
                assert_eq!(args[2]["i"], json!(received));
                received += 1;
            }
            Frame::Event(name, args) if name == "closing" => {
                assert_eq!(args[0]["code"], json!("slow_receiver"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received < MESSAGES);
}

/// A binary event from a carried client reaches the instance holding the session, which
/// refuses it as its own clients' (numbered, then the session goes on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_carried_clients_binary_event_is_refused_by_its_instance() {
    let config = || server_config(30, 1000);
    let mut pair = carried_by_b(config(), config()).await;
    let ada = &mut pair.ada;
    ada.client
        .send(r#"451-["message","r",{"_placeholder":true,"num":0}]"#)
        .await;
    ada.client.send_binary(vec![1, 2, 3]).await;
    let refused = ada.expect("refused").await;
    assert_eq!(refused[0]["code"], json!("binary_unsupported"));
    ada.client
        .emit("message", &[json!("r"), json!("text")])
        .await;
    assert_eq!(ada.expect("message").await[2], json!("text"));
    let heard = plain_messages(&mut pair.bob, 1).await;
    assert_eq!(heard.0, vec![json!("text")]);
}

/// When B, which carries a session, shuts down, the session lives on at A: the client is told
/// `closing(shutdown)`, the room hears `away`, and the client resumes on A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_carried_session_outlives_the_carrying_instance() {
    let config = || server_config(30, 1000);
    let Pair {
        _redis,
        a,
        b,
        mut ada,
        mut bob,
    } = carried_by_b(config(), config()).await;

    drop(b);
    assert_eq!(
        ada.client.expect("closing").await[0]["code"],
        json!("shutdown")
    );
    assert_eq!(plain_next(&mut bob).await.0, "away");
    bob.emit("message", &[json!("r"), json!("still here?")])
        .await;
    plain_messages(&mut bob, 1).await;
    let dropped = Dropped {
        id: ada.id,
        token: ada.token,
        seq: ada.seq,
    };
    let mut ada = dropped.resume(&a, &["r"]).await;
    assert_eq!(ada.expect("message").await[2], json!("still here?"));
    assert_eq!(plain_next(&mut bob).await.0, "back");
}

/// Ada resumes through B while Bob, on B, keeps sending: every message once, in order,
/// whether it was sent before, during or after the resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_resume_through_the_other_instance_loses_nothing_sent_meanwhile() {
    const MESSAGES: u64 = 600;
    let Pair {
        _redis,
        a: _a,
        b,
        mut ada,
        bob,
    } = ada_on_a_and_bob_on_b(30).await;
    let sending = tokio::spawn(async move {
        let mut bob = bob;
        for i in 0..MESSAGES {
            bob.emit("message", &[json!("r"), json!(i)]).await;
            if i % 20 == 19 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        bob
    });
    let mut next = 0;
    while next < 50 {
        let (name, args) = ada.next().await;
        assert_eq!((name.as_str(), &args[2]), ("message", &json!(next)));
        next += 1;
    }
    let dropped = ada.cut();
    let mut ada = dropped.resume(&b, &["r"]).await;
    while next < MESSAGES {
        let (name, args) = ada.next().await;
        assert_eq!(
            (name.as_str(), &args[2]),
            ("message", &json!(next)),
            "{name}"
        );
        next += 1;
    }
    let mut bob = sending.await.unwrap();
    let (messages, others) = plain_messages(&mut bob, MESSAGES as usize).await;
    assert_eq!(
        messages,
        (0..MESSAGES).map(|i| json!(i)).collect::<Vec<_>>()
    );
    // `back`, after `away` unless the resume came before A noticed the drop (then the old
    // connection is closed quietly, and the room never hears she was away).
    let back = format!("back[String(\"r\"), String(\"{}\")]", ada.id);
    let away = back.replacen("back", "away", 1);
    assert!(
        others == [back.clone()] || others == [away, back],
        "{others:?}"
    );
}

/// An instance that serves HTTPS itself is reached over TLS by the instance carrying a resume to
/// it, trusting what the system trusts (`SSL_CERT_FILE` names the test's own authority here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_resume_is_carried_to_an_instance_serving_https() {
    use common::certs::{temp_dir, TestCa};
    use std::ffi::OsStr;
    use std::path::Path;
    let redis = RedisServer::start();
    let dir = temp_dir("carried-tls");
    let ca = TestCa::new();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (cert, key) = ca.issue(&["127.0.0.1"]).write(&dir);
    let url = redis.url();
    let start = |tls: &[&Path]| {
        let plain = [
            "--addr",
            "127.0.0.1:0",
            "--log-file",
            "",
            "--redis-url",
            url.as_str(),
        ];
        let mut args = plain.map(OsStr::new).to_vec();
        for (flag, file) in ["--tls-cert", "--tls-key"].iter().zip(tls) {
            args.extend([OsStr::new(flag), file.as_os_str()]);
        }
        spawn_binary_with_env(&args, &[("SSL_CERT_FILE", ca_file.as_os_str())])
    };
    let (_a, a) = start(&[&cert, &key]);
    let (_b, b) = start(&[]);

    let auth = json!({"resume": true});
    let client = RawClient::connect_tls_with_auth(a, &auth, &ca.pem()).await;
    let mut ada = Resumable::begin(client).await;
    ada.join("r").await;
    let mut bob = RawClient::connect(b).await;
    plain_join(&mut bob, "r").await;
    ada.expect("otherjoin").await;
    let ada = ada.cut();
    assert_eq!(plain_next(&mut bob).await.0, "away");
    bob.emit("message", &[json!("r"), json!("over TLS")]).await;
    plain_messages(&mut bob, 1).await;

    // On B, which speaks plain HTTP to her and HTTPS to A.
    let mut ada = ada.resume_at(b, &["r"]).await;
    assert_eq!(ada.expect("message").await[2], json!("over TLS"));
    assert_eq!(plain_next(&mut bob).await.0, "back");
}

/// An instance listening on every address (as in a container) registers the address it
/// reaches Redis from, with its own port, so a client resumes through the other instance with no
/// `--instance-url` set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_an_instance_on_every_address_is_reached_at_its_route_to_redis() {
    let redis = RedisServer::start();
    let config = || Config {
        redis_url: Some(redis.url()),
        ..server_config(30, 100)
    };
    let a = start_server_on("0.0.0.0:0", config()).await;
    let b = start_server_with(config()).await;
    // Redis is on loopback: so is the route to it.
    let url = common::health(a.addr).await["cluster"]["url"].clone();
    assert_eq!(url, json!(format!("http://{}", a.addr)));

    let (ada, mut bob) = away_from(&a).await;
    bob.emit("message", &[json!("r"), json!("meanwhile")]).await;
    plain_messages(&mut bob, 1).await;
    let mut ada = ada.resume(&b, &["r"]).await;
    assert_eq!(ada.expect("message").await[2], json!("meanwhile"));
    assert_eq!(plain_next(&mut bob).await.0, "back");
}
