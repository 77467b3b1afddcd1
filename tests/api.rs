//! The server API (`--api-key`) against a real server: every route with the right key, a wrong
//! key and none; malformed, wrongly shaped, oversized and non-JSON bodies; what each route does
//! to real Socket.IO clients (removal, closing, server messages, minted tokens that connect);
//! the OpenAPI document naming every route; the dashboard's snapshot and page; and the API
//! (and the dashboard) off without a key.

mod common;

use common::tokens::{jwt, SECRET};
use std::time::{Duration, Instant};

use common::{start_server_with, TestClient, TestServer};
use reqwest::{Client, Method, StatusCode};
use rust_socketio::TransportType;
use serde_json::{json, Value};
use signalroom::server::Config;

const KEY: &str = "an API key for the tests";

async fn api_server() -> TestServer {
    start_server_with(Config {
        api_key: Some(KEY.into()),
        auth_secret: Some(SECRET.into()),
        ..Config::default()
    })
    .await
}

/// One request: `(status, JSON body or Null)`.
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Client::new().request(method, format!("http://{}{path}", server.addr));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn member(server: &TestServer, claims: Value, room: &str) -> (TestClient, String) {
    let mut client = TestClient::with_claims(server.addr, claims).await;
    let id = client.join(room).await;
    (client, id)
}

/// Every route, for the key checks.
fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/rooms", None),
        (Method::GET, "/api/rooms/r", None),
        (Method::DELETE, "/api/rooms/r", None),
        (
            Method::DELETE,
            "/api/rooms/r/members/AAAAAAAAAAAAAAAA",
            None,
        ),
        (
            Method::POST,
            "/api/rooms/r/messages",
            Some(json!({"data": "x"})),
        ),
        (Method::POST, "/api/tokens", Some(json!({}))),
        (Method::GET, "/api/dashboard", None),
    ]
}

#[tokio::test]
async fn every_route_wants_the_key_and_a_wrong_one_changes_nothing() {
    let server = api_server().await;
    let (mut watcher, _) = member(&server, json!({"sub": "w"}), "r").await;
    for (method, path, body) in routes() {
        let (status, error) = call(&server, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(error["error"], json!("unauthorized"));
        let (status, error) = call(
            &server,
            method.clone(),
            path,
            Some("not the key, but long"),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(error["error"], json!("forbidden"));
    }
    // Nothing happened to the room.
    watcher.expect_quiet().await;
    let (status, room) = call(&server, Method::GET, "/api/rooms/r", Some(KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(room["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn rooms_and_members_are_listed_with_names_subjects_and_join_times() {
    let server = api_server().await;
    let before = common::tokens::now() * 1000;
    let (_ada, ada) = member(&server, json!({"sub": "u-ada", "name": "Ada"}), "call").await;
    let (_bob, bob) = member(&server, json!({"name": "Bob"}), "call").await;
    let (_cy, _) = member(&server, json!({}), "other room").await;

    let (status, list) = call(&server, Method::GET, "/api/rooms", Some(KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!({"rooms": [
            {"room": "call", "members": 2, "locked": false},
            {"room": "other room", "members": 1, "locked": false},
        ]})
    );
    let (status, room) = call(&server, Method::GET, "/api/rooms/call", Some(KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    let members = room["members"].as_array().unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| (m["id"].clone(), m["name"].clone(), m["sub"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!(ada), json!("Ada"), json!("u-ada")),
            (json!(bob), json!("Bob"), Value::Null)
        ]
    );
    let joined_at = members[0]["joined_at"].as_u64().unwrap();
    assert!(joined_at >= before && joined_at <= common::tokens::now() * 1000 + 1000);
    // Room names are percent-encoded in the path.
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/rooms/other%20room",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = call(&server, Method::GET, "/api/rooms/nobody", Some(KEY), None).await;
    assert_eq!(
        (status, error["error"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let long = "x".repeat(129);
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("/api/rooms/{long}"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(&server, Method::GET, "/api/nothing", Some(KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn removing_a_member_is_a_kick_and_closing_removes_everyone() {
    let server = api_server().await;
    let (mut ada, ada_id) = member(&server, json!({}), "r").await;
    let eve_token = jwt(json!({"name": "Eve"}));
    let mut eve = TestClient::connect_with_token(server.addr, &eve_token)
        .await
        .unwrap();
    eve.emit("join", vec![json!("r")]).await;
    let eve_id = eve.expect("joined").await[1].as_str().unwrap().to_owned();
    eve.expect("roster").await;
    ada.expect("otherjoin").await;

    let path = format!("/api/rooms/r/members/{eve_id}");
    let (status, _) = call(&server, Method::DELETE, &path, Some(KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(eve.expect("removed").await[1]["code"], json!("kicked"));
    eve.expect("leaved").await;
    assert_eq!(ada.expect("bye").await[1], json!(eve_id));
    eve.emit("join", vec![json!("r")]).await;
    assert_eq!(eve.expect("refused").await[0]["code"], json!("kicked"));
    let (status, _) = call(&server, Method::DELETE, &path, Some(KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone already");
    let (status, _) = call(
        &server,
        Method::DELETE,
        "/api/rooms/r/members/nonsense",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (mut bob, _) = member(&server, json!({}), "r").await;
    ada.expect("otherjoin").await;
    let (status, closed) = call(&server, Method::DELETE, "/api/rooms/r", Some(KEY), None).await;
    assert_eq!(
        (status, closed),
        (StatusCode::OK, json!({"room": "r", "removed": 2}))
    );
    for (client, id) in [(&mut ada, &ada_id)] {
        assert_eq!(
            client.expect("removed").await[1]["code"],
            json!("room_closed")
        );
        assert_eq!(client.expect("leaved").await[1], json!(id));
    }
    assert_eq!(bob.next().await.0, "bye");
    assert_eq!(bob.expect("removed").await[1]["code"], json!("room_closed"));
    bob.expect("leaved").await;
    // Closing bans no one: the room can be joined again at once.
    bob.emit("join", vec![json!("r")]).await;
    bob.expect("joined").await;
    let (status, _) = call(&server, Method::DELETE, "/api/rooms/empty", Some(KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_server_message_reaches_every_member_from_the_reserved_sender() {
    let server = api_server().await;
    let (mut ada, _) = member(&server, json!({}), "r").await;
    let (mut bob, _) = member(&server, json!({}), "r").await;
    ada.expect("otherjoin").await;
    let body = json!({"data": {"notice": "maintenance at noon"}});
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/rooms/r/messages",
        Some(KEY),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for client in [&mut ada, &mut bob] {
        assert_eq!(
            client.expect("message").await,
            vec![
                json!("r"),
                json!("server"),
                json!({"notice": "maintenance at noon"})
            ]
        );
    }
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/rooms/none/messages",
        Some(KEY),
        Some(json!({"data": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bodies_get_their_status_and_change_nothing() {
    let server = api_server().await;
    let (mut ada, _) = member(&server, json!({}), "r").await;
    let url = format!("http://{}/api/rooms/r/messages", server.addr);
    let send = |body: String, content_type: &'static str| {
        let url = url.clone();
        async move {
            let response = Client::new()
                .post(url)
                .bearer_auth(KEY)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
            (status, body["error"].clone())
        }
    };
    let json_type = "application/json";
    assert_eq!(
        send("{not json".into(), json_type).await,
        (StatusCode::BAD_REQUEST, json!("malformed"))
    );
    assert_eq!(
        send("{\"text\": 1}".into(), json_type).await,
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid"))
    );
    assert_eq!(
        send("\"a string\"".into(), json_type).await,
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid"))
    );
    assert_eq!(
        send("{\"data\": 1}".into(), "text/plain").await,
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!("unsupported_media_type")
        )
    );
    let huge = format!("{{\"data\": \"{}\"}}", "x".repeat(100_000));
    assert_eq!(send(huge, json_type).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    ada.expect_quiet().await;
    // The server still serves.
    let (status, _) = call(&server, Method::GET, "/api/rooms", Some(KEY), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn minted_tokens_connect_and_carry_their_claims() {
    let server = api_server().await;
    let body = json!({"sub": "u-1", "name": "Minted", "rooms": ["team-*"], "role": "moderator", "ttl": 600});
    let (status, minted) = call(&server, Method::POST, "/api/tokens", Some(KEY), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let expires = minted["expires_at"].as_u64().unwrap();
    assert!(expires.abs_diff(common::tokens::now() + 600) <= 5);
    let token = minted["token"].as_str().unwrap();
    let mut client = TestClient::connect_with_token(server.addr, token)
        .await
        .expect("accepted");
    client.emit("join", vec![json!("team-a")]).await;
    client.expect("joined").await;
    client.expect("roster").await;
    client.emit("join", vec![json!("lobby")]).await;
    assert_eq!(
        client.expect("refused").await[0]["code"],
        json!("forbidden")
    );
    let (_, room) = call(&server, Method::GET, "/api/rooms/team-a", Some(KEY), None).await;
    assert_eq!(room["members"][0]["name"], json!("Minted"));
    assert_eq!(room["members"][0]["sub"], json!("u-1"));

    for bad in [
        json!({"ttl": 0}),
        json!({"name": ""}),
        json!({"role": "admin"}),
        json!({"rooms": "x"}),
        json!({"extra": 1}),
    ] {
        let (status, _) = call(
            &server,
            Method::POST,
            "/api/tokens",
            Some(KEY),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // Without --auth-secret there is nothing to sign with.
    let open = start_server_with(Config {
        api_key: Some(KEY.into()),
        ..Config::default()
    })
    .await;
    let (status, error) = call(
        &open,
        Method::POST,
        "/api/tokens",
        Some(KEY),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, error["error"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
}

#[tokio::test]
async fn the_openapi_document_names_every_route_and_the_api_is_off_without_a_key() {
    let server = api_server().await;
    let (status, doc) = call(&server, Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], json!("3.1.0"));
    let paths = doc["paths"].as_object().unwrap();
    for (method, path, _) in routes() {
        let templated = path
            .trim_start_matches("/api")
            .replace("/r/members/AAAAAAAAAAAAAAAA", "/{room}/members/{id}")
            .replace("/rooms/r", "/rooms/{room}");
        let operation = &paths[&templated][method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{method} {templated} is documented");
    }
    let off = start_server_with(Config::default()).await;
    for (method, path, body) in routes() {
        let (status, _) = call(&off, method, path, Some(KEY), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = call(&off, Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `GET /api/dashboard?after=VERSION`: the first snapshot newer than `version`.
async fn snapshot_after(server: &TestServer, version: &Value) -> Value {
    let path = format!("/api/dashboard?after={version}");
    let (status, snapshot) = call(server, Method::GET, &path, Some(KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        snapshot["version"].as_u64() > version.as_u64(),
        "{snapshot}"
    );
    snapshot
}

/// Snapshots, each waiting for the next, until `done` holds of one (within 10 s).
async fn snapshot_until(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut version = json!(0);
    loop {
        let snapshot = snapshot_after(server, &version).await;
        if done(&snapshot) {
            return snapshot;
        }
        assert!(Instant::now() < deadline, "never: {snapshot:#}");
        version = snapshot["version"].clone();
    }
}

#[tokio::test]
async fn the_dashboard_shows_members_activity_and_each_second() {
    let server = api_server().await;
    let (status, first) = call(&server, Method::GET, "/api/dashboard", Some(KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&first["connections"], &first["rooms"], &first["node"]),
        (&json!(0), &json!([]), &Value::Null)
    );

    // A change answers a waiting request at once, well before the next second's sample.
    let waiting = tokio::spawn({
        let (addr, version) = (server.addr, first["version"].clone());
        async move {
            let started = Instant::now();
            let url = format!("http://{addr}/api/dashboard?after={version}");
            let response = Client::new()
                .get(url)
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap();
            (started.elapsed(), response.status())
        }
    });
    let before = common::tokens::now() * 1000;
    let (mut ada, ada_id) = member(&server, json!({"sub": "u-ada", "name": "Ada"}), "call").await;
    let (elapsed, status) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

    let mut bob = TestClient::open(
        server.addr,
        TransportType::Polling,
        Some(json!({"token": jwt(json!({"name": "Bob", "capacity": 1}))})),
    )
    .await
    .unwrap();
    let bob_id = bob.join("solo").await;
    ada.emit("join", vec![json!("")]).await; // refused: invalid_room
    ada.expect("refused").await;
    ada.emit("join", vec![json!("solo")]).await; // full
    ada.expect("full").await;
    for i in 0..5 {
        ada.emit("message", vec![json!("call"), json!(i)]).await;
    }
    let snapshot = snapshot_until(&server, |s| {
        s["recent"][0]["kind"] == json!("full")
            && s["series"].as_array().is_some_and(|series| {
                // Four joins and five messages, whatever second each fell in.
                series
                    .iter()
                    .filter_map(|x| x["events"].as_u64())
                    .sum::<u64>()
                    == 9
            })
    })
    .await;
    assert_eq!(snapshot["connections"], json!(2));
    let rooms = snapshot["rooms"].as_array().unwrap();
    assert_eq!(
        rooms
            .iter()
            .map(|r| (r["room"].clone(), r["members"].clone()))
            .collect::<Vec<_>>(),
        vec![(json!("call"), json!(1)), (json!("solo"), json!(1))],
    );
    let ada_row = &rooms[0]["people"][0];
    assert_eq!(
        (&ada_row["id"], &ada_row["name"], &ada_row["sub"]),
        (&json!(ada_id), &json!("Ada"), &json!("u-ada"))
    );
    assert_eq!(ada_row["transport"], json!("websocket"));
    assert!(ada_row["joined_at"].as_u64().unwrap() >= before);
    assert_eq!(rooms[1]["people"][0]["transport"], json!("polling"));
    let recent: Vec<(Value, Value)> = snapshot["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["kind"].clone(), h["detail"].clone()))
        .collect();
    assert_eq!(
        recent,
        vec![
            (json!("full"), Value::Null),
            (json!("refused"), json!("join invalid_room")),
            (json!("joined"), Value::Null),
            (json!("joined"), Value::Null),
        ]
    );
    assert_eq!(snapshot["recent"][3]["name"], json!("Ada"));

    // A removal by the API shows as a leave, with its reason.
    let path = format!("/api/rooms/solo/members/{bob_id}");
    let (status, _) = call(&server, Method::DELETE, &path, Some(KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let snapshot = snapshot_until(&server, |s| s["recent"][0]["kind"] == json!("left")).await;
    assert_eq!(
        (
            &snapshot["recent"][0]["detail"],
            &snapshot["recent"][0]["name"]
        ),
        (&json!("kicked"), &json!("Bob"))
    );
    assert_eq!(snapshot["rooms"].as_array().unwrap().len(), 1);

    let (status, error) = call(
        &server,
        Method::GET,
        "/api/dashboard?after=x",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(
        (status, &error["error"]),
        (StatusCode::BAD_REQUEST, &json!("malformed"))
    );
}

#[tokio::test]
async fn the_dashboard_page_is_served_only_with_the_api() {
    let server = api_server().await;
    let page = reqwest::get(format!("http://{}/admin", server.addr))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<title>signalroom dashboard</title>"),
        "{html}"
    );
    assert!(html.contains("id=\"api-key\""), "{html}");

    let off = start_server_with(Config::default()).await;
    let page = reqwest::get(format!("http://{}/admin", off.addr))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}
