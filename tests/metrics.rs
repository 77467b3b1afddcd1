//! `--metrics-addr`: after a scripted session, the scrape (read with a Prometheus text-format
//! parser) counts exactly what happened; the metrics are not on the public port; a cluster
//! instance reports Redis going away and coming back; resumes are counted by result, carried
//! ones included, and a carried connection that reaches the wrong instance is refused.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::redis_server::RedisServer;
use common::{spawn_binary_listening, TestClient};
use prometheus_parse::{Scrape, Value};
use rust_socketio::TransportType;
use serde_json::json;

/// One scrape: each sample's value by its name and labels (`name{k="v"}`, labels sorted).
struct Metrics(HashMap<String, Value>);

impl Metrics {
    async fn scrape(addr: SocketAddr) -> Self {
        let response = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.unwrap();
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let mut samples = HashMap::new();
        for sample in scrape.samples {
            let mut labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            labels.sort();
            let key = if labels.is_empty() {
                sample.metric
            } else {
                format!("{}{{{}}}", sample.metric, labels.join(","))
            };
            samples.insert(key, sample.value);
        }
        Self(samples)
    }

    /// A counter's or gauge's value; a counter never touched is absent, which reads as 0.
    fn value(&self, key: &str) -> f64 {
        match self.0.get(key) {
            Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
            Some(other) => panic!("{key} is {other:?}"),
            None => 0.0,
        }
    }

    /// A histogram's count of observations (its `+Inf` bucket).
    fn observations(&self, key: &str) -> f64 {
        match self.0.get(key) {
            Some(Value::Histogram(buckets)) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map(|b| b.count)
                .unwrap(),
            other => panic!("{key} is {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_scripted_session_is_counted_exactly() {
    let (_server, public, metrics) = metered_binary(&[
        "--turn-urls",
        "turn:127.0.0.1:3478",
        "--turn-secret",
        "metrics-test-secret",
    ]);
    let connect = || TestClient::connect_to(public, TransportType::Websocket);

    let before = Metrics::scrape(metrics).await;
    assert_eq!(before.value("signalroom_connections"), 0.0);
    assert_eq!(before.value("signalroom_connects_total"), 0.0);

    let (mut ada, mut bob, mut cat) = (connect().await, connect().await, connect().await);
    ada.emit(
        "join",
        vec![json!("duo"), json!({"name": "Ada", "capacity": 2})],
    )
    .await;
    ada.expect("joined").await;
    ada.expect("roster").await;
    bob.emit("join", vec![json!("duo"), json!("Bob")]).await;
    bob.expect("joined").await;
    bob.expect("roster").await;
    cat.emit("join", vec![json!("duo"), json!("Cat")]).await;
    cat.expect("full").await;
    let data = "x".repeat(1000);
    for _ in 0..3 {
        ada.emit("message", vec![json!("duo"), json!(data)]).await;
    }
    for member in [&mut ada, &mut bob] {
        for _ in 0..3 {
            member.expect("message").await;
        }
    }
    cat.emit("leave", vec![json!("duo")]).await;
    assert_eq!(cat.expect("refused").await[0]["code"], json!("not_member"));
    ada.emit("ice_servers", vec![]).await;
    ada.expect("ice_servers").await;
    bob.emit("leave", vec![json!("duo")]).await;
    bob.expect("leaved").await;
    ada.expect("bye").await;
    cat.disconnect().await;

    // The disconnect is counted once the server has seen it.
    let mut after = Metrics::scrape(metrics).await;
    for _ in 0..100 {
        if after.value("signalroom_connections") == 2.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = Metrics::scrape(metrics).await;
    }
    let expect = [
        ("signalroom_connections", 2.0),
        ("signalroom_connects_total", 3.0),
        (
            "signalroom_disconnects_total{reason=\"client_disconnect\"}",
            1.0,
        ),
        ("signalroom_rooms", 1.0),
        ("signalroom_joins_total", 2.0),
        ("signalroom_full_total", 1.0),
        ("signalroom_leaves_total{reason=\"left\"}", 1.0),
        ("signalroom_refusals_total{code=\"not_member\"}", 1.0),
        // join ×3, message ×3, leave ×2, ice_servers.
        ("signalroom_events_received_total", 9.0),
        // joined + roster ×2, otherjoin, full, message 3 × 2, refused, ice_servers, leaved, bye.
        ("signalroom_deliveries_total", 16.0),
        ("signalroom_turn_credentials_total", 1.0),
        ("signalroom_evictions_total{code=\"slow_receiver\"}", 0.0),
    ];
    let got: Vec<(&str, f64)> = expect.iter().map(|(k, _)| (*k, after.value(k))).collect();
    assert_eq!(got, expect);
    assert_eq!(after.observations("signalroom_event_duration_seconds"), 9.0);
    // Each of the six message deliveries carried the 1000-byte payload; the three sends too.
    assert!(after.value("signalroom_sent_bytes_total") > 6000.0);
    assert!(after.value("signalroom_received_bytes_total") > 3000.0);
    // No cluster, no webhooks: their metrics are not reported as if they were zero.
    assert!(!after.0.contains_key("signalroom_redis_up"));

    // Metrics stay off the public port.
    let public_metrics = reqwest::get(format!("http://{public}/metrics"))
        .await
        .unwrap();
    assert_eq!(public_metrics.status(), 404);
    drop((ada, bob));
}

#[tokio::test]
async fn a_cluster_instance_reports_redis_going_and_coming_back() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let (_server, public, metrics) = metered_binary(&["--redis-url", &url, "--node-timeout", "2"]);
    let mut ada = TestClient::connect_to(public, TransportType::Websocket).await;
    ada.join("watched").await;

    let up = Metrics::scrape(metrics).await;
    assert_eq!(up.value("signalroom_redis_up"), 1.0);
    assert_eq!(up.value("signalroom_redis_registrations_total"), 1.0);
    assert_eq!(up.value("signalroom_redis_reconnects_total"), 0.0);
    // At least the registration and the join's pipeline.
    assert!(up.value("signalroom_redis_round_trips_total") >= 2.0);

    redis.kill();
    let down = until(metrics, |m| m.value("signalroom_redis_up") == 0.0).await;
    assert_eq!(down.value("signalroom_connections"), 1.0);
    redis.restart();
    let back = until(metrics, |m| m.value("signalroom_redis_up") == 1.0).await;
    assert_eq!(back.value("signalroom_redis_reconnects_total"), 1.0);
    assert_eq!(back.value("signalroom_redis_registrations_total"), 2.0);
    drop(ada);
}

#[tokio::test]
async fn webhooks_that_cannot_be_delivered_are_counted_as_failed() {
    // A port nothing listens on: each event fails at once, and is given up after one attempt.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", closed.local_addr().unwrap());
    drop(closed);
    let (_server, public, metrics) =
        metered_binary(&["--webhook-url", &url, "--webhook-attempts", "1"]);
    let before = Metrics::scrape(metrics).await;
    // Reported (as 0), not merely absent: the webhook metrics exist once webhooks are on.
    assert!(
        before.0.contains_key("signalroom_webhooks_queued"),
        "{:?}",
        before.0
    );
    assert_eq!(before.value("signalroom_webhooks_queued"), 0.0);
    let mut ada = TestClient::connect_to(public, TransportType::Websocket).await;
    ada.join("hooked").await;

    // room_started and participant_joined.
    let after = until(metrics, |m| {
        m.value("signalroom_webhooks_failed_total") == 2.0
    })
    .await;
    assert_eq!(after.value("signalroom_webhooks_sent_total"), 0.0);
    assert_eq!(after.value("signalroom_webhooks_dropped_total"), 0.0);
    assert_eq!(after.value("signalroom_webhooks_queued"), 0.0);
}

/// The binary with metrics on and `extra` settings: the process, its public and metrics
/// addresses.
fn metered_binary(extra: &[&str]) -> (common::ServerProcess, SocketAddr, SocketAddr) {
    let mut args = vec![
        "--addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--log-file",
        "",
    ];
    args.extend_from_slice(extra);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let (server, listening) = spawn_binary_listening(&args, &[]);
    (server, listening["signalroom"], listening["metrics"])
}

/// Scrapes until `done` holds (within 10 s).
async fn until(addr: SocketAddr, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let metrics = Metrics::scrape(addr).await;
        if done(&metrics) {
            return metrics;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", metrics.0);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[test]
fn the_dashboard_and_the_readme_use_the_exported_names() {
    let exported: Vec<&str> = signalroom::server::metrics::names().collect();
    let dashboard = std::fs::read_to_string("deploy/grafana/signalroom.json").unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let used: std::collections::BTreeSet<&str> = dashboard
        .match_indices("signalroom_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    for name in &used {
        let base = name.strip_suffix("_bucket").unwrap_or(name);
        assert!(
            exported.contains(&base),
            "the dashboard uses {name}, which is not exported"
        );
    }
    let readme = std::fs::read_to_string("README.md").unwrap();
    for name in exported {
        assert!(
            readme.contains(&format!("`{name}`")),
            "the README does not list {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_are_counted_by_result() {
    use common::raw::{Frame, RawClient};
    let (_server, public, metrics) = metered_binary(&[]);
    let mut ada = RawClient::connect_with_auth(public, &json!({"resume": true})).await;
    let token = ada.expect("resumable").await[0]["token"].clone();
    ada.kill();
    let resume = json!({"resume": {"token": token, "seq": 0}});
    let mut back = RawClient::connect_with_auth(public, &resume).await;
    assert!(matches!(back.next().await, Frame::Event(name, _) if name == "resumed"));
    // The token was used; and one never issued.
    for token in [token, json!("forged")] {
        let resume = json!({"resume": {"token": token, "seq": 0}});
        let mut refused = RawClient::connect_with_auth(public, &resume).await;
        assert_eq!(
            refused.expect("resume_failed").await[0]["code"],
            json!("unknown")
        );
    }
    let scrape = Metrics::scrape(metrics).await;
    assert_eq!(
        scrape.value(r#"signalroom_resumes_total{result="resumed"}"#),
        1.0
    );
    assert_eq!(
        scrape.value(r#"signalroom_resumes_total{result="unknown"}"#),
        2.0
    );
    assert_eq!(
        scrape.value(r#"signalroom_resumes_total{result="too_far_behind"}"#),
        0.0
    );
}

/// In a cluster: a resume carried through B to A counts `carried` on B; one whose issuer's
/// `--instance-url` leads back to B itself is refused there (`not_holder`) rather than carried
/// on from B to B, and the client is told `unknown` once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carried_resumes_are_counted_and_a_wrong_instance_url_is_refused() {
    use common::raw::RawClient;
    let redis = RedisServer::start();
    let url = redis.url();
    let (_b, b, metrics) = metered_binary(&["--redis-url", &url]);
    let instance = |extra: &[&str]| {
        let mut args = vec![
            "--addr",
            "127.0.0.1:0",
            "--log-file",
            "",
            "--redis-url",
            &url,
        ];
        args.extend_from_slice(extra);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        spawn_binary_listening(&args, &[])
    };
    let (_a, a) = instance(&[]);
    let wrong = format!("http://{b}");
    let (_misled, misled) = instance(&["--instance-url", &wrong]);

    for (holder, answer) in [
        (a["signalroom"], "resumed"),
        (misled["signalroom"], "resume_failed"),
    ] {
        let mut ada = RawClient::connect_with_auth(holder, &json!({"resume": true})).await;
        let token = ada.expect("resumable").await[0]["token"].clone();
        ada.kill();
        let resume = json!({"resume": {"token": token, "seq": 0}});
        let mut back = RawClient::connect_with_auth(b, &resume).await;
        back.expect(answer).await;
    }
    let scrape = Metrics::scrape(metrics).await;
    for (key, count) in [
        (r#"signalroom_resumes_total{result="carried"}"#, 1.0),
        (r#"signalroom_resumes_total{result="unknown"}"#, 1.0),
        (
            r#"signalroom_connections_refused_total{reason="not_holder"}"#,
            1.0,
        ),
    ] {
        assert_eq!(scrape.value(key), count, "{key}");
    }
}
