//! Events the server will not act on get `refused({event, code, message})` and change nothing.

mod common;

use common::{start_server, TestClient};
use serde_json::{json, Value};

async fn expect_refused(client: &mut TestClient, event: &str, code: &str) {
    let args = client.expect("refused").await;
    assert_eq!(args[0]["event"], json!(event), "{args:?}");
    assert_eq!(args[0]["code"], json!(code), "{args:?}");
    assert!(args[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn wrong_argument_types_are_refused() {
    let server = start_server().await;
    let mut client = TestClient::connect(&server).await;
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        ("join", vec![], "bad_arguments"),
        ("join", vec![json!(["a", "b"])], "bad_arguments"),
        ("join", vec![json!({"__proto__": 1})], "bad_arguments"),
        ("join", vec![json!(112222)], "bad_arguments"),
        ("join", vec![json!("")], "invalid_room"),
        ("join", vec![json!("r".repeat(129))], "invalid_room"),
        ("leave", vec![json!(null)], "bad_arguments"),
        ("message", vec![json!("r")], "bad_arguments"),
        ("no_such_event", vec![json!("r")], "unknown_event"),
    ];
    for (event, args, code) in cases {
        client.emit(event, args).await;
        expect_refused(&mut client, event, code).await;
    }
    // The connection is still fine.
    client.join("r").await;
}

#[tokio::test]
async fn leave_of_a_room_not_joined_is_refused() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    bob.join("r").await;
    alice.emit("leave", vec![json!("r")]).await;
    expect_refused(&mut alice, "leave", "not_member").await;
    bob.expect_quiet().await;

    alice.join("r").await;
    alice.emit("leave", vec![json!("r")]).await;
    alice.expect("leaved").await;
    alice.emit("leave", vec![json!("r")]).await;
    expect_refused(&mut alice, "leave", "not_member").await;
}

#[tokio::test]
async fn message_to_a_room_not_joined_is_refused_not_relayed() {
    let server = start_server().await;
    let mut alice = TestClient::connect(&server).await;
    let mut bob = TestClient::connect(&server).await;
    bob.join("r").await;
    alice
        .emit("message", vec![json!("r"), json!("intruder")])
        .await;
    expect_refused(&mut alice, "message", "not_member").await;
    bob.expect_quiet().await;
}
