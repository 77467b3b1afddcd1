//! Join tokens and moderation against a real server (`--auth-secret`): each kind of bad token
//! refused at connect with its own message and nothing else affected, room grants and prefixes,
//! the token's name and seats, `kick` and `lock` by a moderator and (refused) by a member, and
//! `signalroom token` minting what the binary accepts.

mod common;

use std::ffi::OsStr;

use common::raw::RawClient;
use common::tokens::{jwt, jwt_signed, now, SECRET};
use common::{spawn_binary_with_env, start_server_with, TestClient, TestServer};
use serde_json::{json, Value};
use signalroom::server::Config;

async fn secured() -> TestServer {
    start_server_with(Config {
        auth_secret: Some(SECRET.into()),
        auth_leeway: 5,
        ..Config::default()
    })
    .await
}

async fn connect(server: &TestServer, token: &str) -> TestClient {
    TestClient::connect_with_token(server.addr, token)
        .await
        .expect("token accepted")
        .watch_presence()
}

async fn refused(server: &TestServer, token: Option<&str>) -> String {
    let attempt = match token {
        Some(token) => TestClient::connect_with_token(server.addr, token).await,
        None => {
            let transport = rust_socketio::TransportType::Websocket;
            TestClient::open(server.addr, transport, None).await
        }
    };
    match attempt {
        Ok(_) => panic!("connected with {token:?}"),
        Err(message) => message,
    }
}

/// Joins `room` (with `name`, if any); returns `joined`'s id and the roster.
async fn join(client: &mut TestClient, room: &str, name: Option<&str>) -> (String, Value) {
    let mut args = vec![json!(room)];
    args.extend(name.map(|n| json!(n)));
    client.emit("join", args).await;
    let joined = client.expect("joined").await;
    let roster = client.expect("roster").await;
    (joined[1].as_str().unwrap().to_owned(), roster[1].clone())
}

async fn expect_refused(client: &mut TestClient, event: &str, code: &str) {
    let refusal = client.expect("refused").await;
    assert_eq!(
        (refusal[0]["event"].as_str(), refusal[0]["code"].as_str()),
        (Some(event), Some(code)),
        "{refusal:?}"
    );
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused_with_its_own_message() {
    let server = secured().await;
    // A member already chatting sees none of the refusals.
    let mut member = connect(&server, &jwt(json!({}))).await;
    join(&mut member, "r", None).await;

    let claims = json!({"exp": now() + 3600});
    let header = json!({"alg": "HS256"});
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "a join token is required"),
        (
            "garbage",
            Some("not a token".into()),
            "not a well-formed JWT",
        ),
        (
            "wrong secret",
            Some(jwt_signed(
                &header,
                &claims,
                "another secret, long enough too...",
            )),
            "signature is not valid",
        ),
        (
            "alg none",
            Some({
                let signed = jwt_signed(&json!({"alg": "none"}), &claims, SECRET);
                format!("{}.", signed.rsplit_once('.').unwrap().0)
            }),
            "must be signed with HS256, not none",
        ),
        (
            "HS512",
            Some(jwt_signed(&json!({"alg": "HS512"}), &claims, SECRET)),
            "not HS512",
        ),
        (
            "RS256",
            Some(jwt_signed(&json!({"alg": "RS256"}), &claims, SECRET)),
            "not RS256",
        ),
        (
            "expired",
            Some(jwt_signed(&header, &json!({"exp": now() - 60}), SECRET)),
            "has expired",
        ),
        (
            "no exp",
            Some(jwt_signed(&header, &json!({"sub": "u"}), SECRET)),
            "has no exp claim",
        ),
        (
            "nbf ahead",
            Some(jwt_signed(
                &header,
                &json!({"exp": now() + 3600, "nbf": now() + 600}),
                SECRET,
            )),
            "not valid yet",
        ),
        (
            "bad name",
            Some(jwt(json!({"name": "a\u{7}b"}))),
            "claims are invalid",
        ),
    ];
    for (case, token, expected) in cases {
        let message = refused(&server, token.as_deref()).await;
        assert!(message.contains(expected), "{case}: {message:?}");
        assert!(
            !message.contains(SECRET),
            "{case}: the message names the secret"
        );
    }
    member.expect_quiet().await;
    member
        .emit("message", vec![json!("r"), json!("still here")])
        .await;
    assert_eq!(member.expect("message").await[2], json!("still here"));
}

#[tokio::test]
async fn rooms_are_granted_by_name_or_prefix() {
    let server = secured().await;
    let mut client = connect(&server, &jwt(json!({"rooms": ["lobby", "team-*"]}))).await;
    join(&mut client, "lobby", None).await;
    join(&mut client, "team-red", None).await;
    for room in ["lobby2", "team", "other"] {
        client.emit("join", vec![json!(room)]).await;
        expect_refused(&mut client, "join", "forbidden").await;
    }
    // Nothing changed: still in its two rooms only.
    client
        .emit("message", vec![json!("other"), json!("x")])
        .await;
    expect_refused(&mut client, "message", "not_member").await;
    let mut anywhere = connect(&server, &jwt(json!({}))).await;
    join(&mut anywhere, "other", None).await;
}

#[tokio::test]
async fn the_tokens_name_and_seats_win_over_the_joins() {
    let server = secured().await;
    let mut ada = connect(&server, &jwt(json!({"name": "Ada", "capacity": 2}))).await;
    join(&mut ada, "pair", Some("Mallory")).await;
    let mut bob = connect(&server, &jwt(json!({"sub": "u-bob"}))).await;
    let (_, roster) = join(&mut bob, "pair", Some("Bob")).await;
    assert_eq!(roster[0]["name"], json!("Ada"));
    assert_eq!(ada.expect("otherjoin").await[2], json!("Bob"));
    // Ada's token made it a room of two.
    let mut third = connect(&server, &jwt(json!({}))).await;
    third.emit("join", vec![json!("pair")]).await;
    third.expect("full").await;
}

#[tokio::test]
async fn a_token_in_the_query_is_accepted_as_socketio_2_clients_send_it() {
    // socket.io 2 clients have no handshake auth: a `token` query parameter on the Engine.IO
    // URL (end2end/compat runs the real socket.io 2 client this way).
    let server = secured().await;
    let token = jwt(json!({"name": "Old"}));
    let mut old = RawClient::connect_with_query(server.addr, &format!("token={token}"))
        .await
        .expect("query token accepted");
    old.emit("join", &[json!("r")]).await;
    assert_eq!(old.expect("joined").await[0], json!("r"));
    let refused = RawClient::connect_with_query(server.addr, "token=junk").await;
    assert!(refused.err().unwrap().contains("not a well-formed JWT"));
    let missing = RawClient::connect_with_query(server.addr, "").await;
    assert!(missing.err().unwrap().contains("a join token is required"));
}

#[tokio::test]
async fn a_moderator_kicks_a_member_who_cannot_rejoin_with_that_token() {
    let server = secured().await;
    let mut moderator = connect(&server, &jwt(json!({"role": "moderator", "name": "Mod"}))).await;
    let member_token = jwt(json!({"name": "Eve", "sub": "u-eve"}));
    let mut member = connect(&server, &member_token).await;
    let mut other = connect(&server, &jwt(json!({"name": "Other"}))).await;
    join(&mut moderator, "r", None).await;
    let (eve, _) = join(&mut member, "r", None).await;
    join(&mut other, "r", None).await;
    moderator.expect("otherjoin").await;
    moderator.expect("otherjoin").await;
    member.expect("otherjoin").await;

    // A member may not kick.
    let (_, roster) = join(&mut other, "r", None).await;
    let first = roster[0]["id"].clone();
    member.emit("kick", vec![json!("r"), first]).await;
    expect_refused(&mut member, "kick", "forbidden").await;

    moderator.emit("kick", vec![json!("r"), json!(eve)]).await;
    let removed = member.expect("removed").await;
    assert_eq!(
        (removed[0].clone(), removed[1]["code"].clone()),
        (json!("r"), json!("kicked"))
    );
    assert_eq!(member.expect("leaved").await, vec![json!("r"), json!(eve)]);
    assert_eq!(moderator.expect("bye").await, vec![json!("r"), json!(eve)]);
    assert_eq!(other.expect("bye").await, vec![json!("r"), json!(eve)]);

    // Not with the same token, on this connection or a new one; a new token may.
    member.emit("join", vec![json!("r")]).await;
    expect_refused(&mut member, "join", "kicked").await;
    let mut again = connect(&server, &member_token).await;
    again.emit("join", vec![json!("r")]).await;
    expect_refused(&mut again, "join", "kicked").await;
    join(&mut again, "elsewhere", None).await;
    let mut fresh = connect(&server, &jwt(json!({"name": "Eve"}))).await;
    join(&mut fresh, "r", None).await;
    assert_eq!(moderator.expect("otherjoin").await[2], json!("Eve"));

    // Kicking who is not there, or from a room the moderator is not in.
    moderator.emit("kick", vec![json!("r"), json!(eve)]).await;
    expect_refused(&mut moderator, "kick", "unknown_peer").await;
    moderator
        .emit("kick", vec![json!("elsewhere"), json!(eve)])
        .await;
    expect_refused(&mut moderator, "kick", "not_member").await;
}

#[tokio::test]
async fn a_moderator_locks_a_room_to_new_joins_and_unlocks_it() {
    let server = secured().await;
    let mut moderator = connect(&server, &jwt(json!({"role": "moderator", "rooms": ["r"]}))).await;
    let mut member = connect(&server, &jwt(json!({}))).await;
    join(&mut moderator, "r", None).await;
    join(&mut member, "r", None).await;
    moderator.expect("otherjoin").await;

    member.emit("lock", vec![json!("r")]).await;
    expect_refused(&mut member, "lock", "forbidden").await;

    moderator.emit("lock", vec![json!("r")]).await;
    assert_eq!(
        moderator.expect("locked").await,
        vec![json!("r"), json!(true)]
    );
    assert_eq!(member.expect("locked").await, vec![json!("r"), json!(true)]);
    let mut late = connect(&server, &jwt(json!({}))).await;
    late.emit("join", vec![json!("r")]).await;
    expect_refused(&mut late, "join", "room_locked").await;
    // Members still talk.
    member.emit("message", vec![json!("r"), json!("hi")]).await;
    assert_eq!(moderator.expect("message").await[2], json!("hi"));
    member.expect("message").await;

    moderator.emit("unlock", vec![json!("r")]).await;
    assert_eq!(
        member.expect("locked").await,
        vec![json!("r"), json!(false)]
    );
    join(&mut late, "r", None).await;
    assert_eq!(moderator.expect("locked").await[1], json!(false));
    moderator.expect("otherjoin").await;
}

#[tokio::test]
async fn a_lock_ends_when_its_room_empties() {
    let server = secured().await;
    let mut moderator = connect(&server, &jwt(json!({"role": "moderator"}))).await;
    join(&mut moderator, "r", None).await;
    moderator.emit("lock", vec![json!("r")]).await;
    moderator.expect("locked").await;
    moderator.emit("leave", vec![json!("r")]).await;
    moderator.expect("leaved").await;
    let mut next = connect(&server, &jwt(json!({}))).await;
    join(&mut next, "r", None).await;
}

#[tokio::test]
async fn an_open_server_has_no_moderators_and_needs_no_token() {
    let server = start_server_with(Config::default()).await;
    let mut a = TestClient::connect(&server).await;
    let mut b = TestClient::connect(&server).await;
    join(&mut a, "r", None).await;
    let (b_id, _) = join(&mut b, "r", None).await;
    a.emit("kick", vec![json!("r"), json!(b_id)]).await;
    expect_refused(&mut a, "kick", "forbidden").await;
    a.emit("lock", vec![json!("r")]).await;
    expect_refused(&mut a, "lock", "forbidden").await;
}

#[tokio::test]
async fn the_token_command_mints_what_the_binary_accepts() {
    let exe = env!("CARGO_BIN_EXE_signalroom");
    let mint = |args: &[&str]| {
        std::process::Command::new(exe)
            .arg("token")
            .args(args)
            .env("SIGNALROOM_AUTH_SECRET", SECRET)
            .output()
            .expect("run signalroom token")
    };
    let out = mint(&[
        "--room",
        "demo-*",
        "--name",
        "Ada",
        "--role",
        "moderator",
        "--ttl",
        "10m",
    ]);
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let bad = mint(&["--ttl", "soon"]);
    assert!(!bad.status.success());
    let no_secret = std::process::Command::new(exe)
        .args(["token"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&no_secret.stderr);
    assert!(stderr.contains("needs --auth-secret"), "{stderr}");

    let env = [("SIGNALROOM_AUTH_SECRET", OsStr::new(SECRET))];
    let args: Vec<&OsStr> = ["--addr", "127.0.0.1:0", "--log-file", ""]
        .iter()
        .map(OsStr::new)
        .collect();
    let (_server, addr) = spawn_binary_with_env(&args, &env);
    let mut ada = TestClient::connect_with_token(addr, &token)
        .await
        .expect("accepted")
        .watch_presence();
    ada.emit("join", vec![json!("demo-1"), json!("Someone else")])
        .await;
    ada.expect("joined").await;
    ada.expect("roster").await;
    ada.emit("join", vec![json!("other")]).await;
    expect_refused(&mut ada, "join", "forbidden").await;
    let mut bob = TestClient::connect_with_token(addr, &jwt(json!({})))
        .await
        .unwrap()
        .watch_presence();
    let (_, roster) = join(&mut bob, "demo-1", None).await;
    assert_eq!(
        roster[0]["name"],
        json!("Ada"),
        "the token's name, not the join's"
    );
    let arrival = ada.expect("otherjoin").await;
    assert!(
        arrival[2].as_str().unwrap().starts_with("guest-"),
        "{arrival:?}"
    );
}
