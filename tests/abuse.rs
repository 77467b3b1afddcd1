//! The fault and abuse suite: malformed frames of every class, wrong-type arguments, a flood,
//! huge room names and 200 clients churning, all against the real binary on loopback. After each
//! case the server must still answer, and a pair of bystanders in another room must have seen
//! nothing foreign and still chat. After the churn, no session or room may be left behind and
//! memory must be back near its baseline. Prints a summary of what was tried.
//!
//! A plain `main` (`harness = false`) so the summary is always printed; bounded in count and
//! time, and it stops by itself.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::raw::{Frame, RawClient};
use common::TestClient;
use rust_socketio::TransportType;
use serde_json::{json, Value};

/// How long a case waits to see whether the server answers at all.
const ANSWER: Duration = Duration::from_millis(700);
const CHURN_CLIENTS: usize = 200;
const CHURN_TIME: Duration = Duration::from_secs(8);

/// What the server did with an abusive input.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// `refused` with this code.
    Refused(String),
    /// It ended the connection.
    Disconnected,
    /// It said nothing and the connection still works.
    Ignored,
    /// It answered with this (compared by prefix, as answers may carry a socket id).
    Answered(String),
    /// Anything else, as seen.
    Other(String),
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Self::Refused(code) => format!("refused {code}"),
            Self::Disconnected => "disconnected".into(),
            Self::Ignored => "ignored, connection still works".into(),
            Self::Answered(answer) => format!("answered {answer}"),
            Self::Other(seen) => format!("UNEXPECTED {seen}"),
        }
    }
}

struct Suite {
    addr: SocketAddr,
    pid: u32,
    alice: TestClient,
    bob: TestClient,
    report: Vec<(String, String)>,
    failures: Vec<String>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let failures = runtime.block_on(run());
    if !failures.is_empty() {
        eprintln!("abuse suite: {} failure(s):", failures.len());
        for failure in &failures {
            eprintln!("  - {failure}");
        }
        std::process::exit(1);
    }
}

async fn run() -> Vec<String> {
    let (server, addr) = common::spawn_binary(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--log-file".as_ref(),
        "".as_ref(),
    ]);
    let mut alice = TestClient::connect_to(addr, TransportType::Websocket).await;
    let mut bob = TestClient::connect_to(addr, TransportType::Websocket).await;
    alice.join("bystanders").await;
    bob.join("bystanders").await;
    let mut suite = Suite {
        addr,
        pid: server.0.id(),
        alice,
        bob,
        report: Vec::new(),
        failures: Vec::new(),
    };

    engine_io_frames(&mut suite).await;
    socket_io_frames(&mut suite).await;
    wrong_types(&mut suite).await;
    huge_inputs(&mut suite).await;
    flood(&mut suite).await;
    churn(&mut suite).await;

    println!("\nabuse suite against {addr}: {} cases", suite.report.len());
    let width = suite.report.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (case, outcome) in &suite.report {
        println!("  {case:width$}  {outcome}");
    }
    drop(server);
    suite.failures
}

impl Suite {
    /// Records a case and checks that nobody else was harmed by it.
    async fn after(&mut self, case: &str, outcome: Outcome, allowed: &[Outcome]) {
        let ok = allowed.iter().any(|a| match (a, &outcome) {
            (Outcome::Answered(want), Outcome::Other(got)) => got.starts_with(want.as_str()),
            (want, got) => want == got,
        });
        let outcome = match (&outcome, allowed.first()) {
            (Outcome::Other(_), Some(answer @ Outcome::Answered(_))) if ok => answer.clone(),
            _ => outcome,
        };
        if !ok {
            self.failures.push(format!(
                "{case}: {} (allowed {allowed:?})",
                outcome.describe()
            ));
        }
        self.report.push((case.to_owned(), outcome.describe()));
        self.bystanders_unharmed(case).await;
    }

    /// The server answers HTTP, and the bystanders saw nothing and still chat.
    async fn bystanders_unharmed(&mut self, case: &str) {
        let health = common::health(self.addr).await;
        if health["status"] != "ok" {
            self.failures.push(format!("{case}: healthz {health}"));
        }
        for who in [&mut self.alice, &mut self.bob] {
            if let Ok(Some(event)) = who.try_next(Duration::from_millis(50)).await {
                self.failures
                    .push(format!("{case}: a bystander received {event:?}"));
            }
        }
        let text = format!("still here after {case}");
        self.alice
            .emit("message", vec![json!("bystanders"), json!(text)])
            .await;
        for who in [&mut self.alice, &mut self.bob] {
            let args = who.expect("message").await;
            if args[2] != json!(text) {
                self.failures
                    .push(format!("{case}: bystanders' chat got {args:?}"));
            }
        }
    }
}

/// Sends `frames` on a fresh connection and reports what the server did.
async fn send_frames(addr: SocketAddr, frames: &[&str]) -> Outcome {
    let mut client = RawClient::connect(addr).await;
    for frame in frames {
        client.send(frame).await;
    }
    watch(client).await
}

/// What the server does next on `client`: a refusal, a disconnect, or nothing (then proves
/// the connection still works with a valid join).
async fn watch(mut client: RawClient) -> Outcome {
    match client.next_within(ANSWER).await {
        Some(Frame::Event(name, args)) if name == "refused" => {
            Outcome::Refused(args[0]["code"].as_str().unwrap_or_default().to_owned())
        }
        Some(Frame::Closed | Frame::Broken(_)) => Outcome::Disconnected,
        Some(Frame::Text(t)) if t == "41" || t == "1" => Outcome::Disconnected,
        Some(other) => Outcome::Other(format!("{other:?}")),
        None => {
            client.emit("join", &[json!("probe")]).await;
            match client.next_within(ANSWER).await {
                Some(Frame::Event(name, _)) if name == "joined" => Outcome::Ignored,
                Some(Frame::Closed | Frame::Broken(_)) | None => Outcome::Disconnected,
                Some(Frame::Text(t)) if t == "41" || t == "1" => Outcome::Disconnected,
                Some(other) => Outcome::Other(format!("after a valid join: {other:?}")),
            }
        }
    }
}

async fn engine_io_frames(suite: &mut Suite) {
    use Outcome::*;
    let either = [Ignored, Disconnected];
    let cases: &[(&str, &str)] = &[
        ("engine.io: empty frame", ""),
        ("engine.io: unknown packet type 9", "9"),
        ("engine.io: message without a socket.io packet", "4"),
        ("engine.io: random text", "\u{1f980}x\u{0}\u{7f}zz"),
        ("engine.io: close packet then data", "1"),
    ];
    for (case, frame) in cases {
        let outcome = send_frames(suite.addr, &[frame]).await;
        suite.after(case, outcome, &either).await;
    }

    // Binary WebSocket frames: random bytes, and bytes that are not UTF-8, with no binary
    // packet announced.
    for (case, bytes) in [
        ("engine.io: random binary bytes", random_bytes(4096, 7)),
        (
            "engine.io: invalid UTF-8 bytes",
            b"42[\"join\",\"\xff\xfe\"]".to_vec(),
        ),
    ] {
        let mut client = RawClient::connect(suite.addr).await;
        client.send_binary(bytes).await;
        let outcome = watch(client).await;
        suite.after(case, outcome, &either).await;
    }

    // Invalid UTF-8 in a long-polling body, where the bytes reach the decoder as they are.
    let outcome = polling_post(suite.addr, b"42[\"join\",\"\xff\xfe\"]").await;
    suite
        .after(
            "engine.io polling: invalid UTF-8 body",
            outcome,
            &[Disconnected],
        )
        .await;
}

async fn socket_io_frames(suite: &mut Suite) {
    use Outcome::*;
    let bad = Refused("bad_arguments".into());
    let cases: Vec<(&str, Vec<String>, Vec<Outcome>)> = vec![
        (
            "socket.io: truncated JSON",
            vec![r#"42["join","a"#.into()],
            vec![Disconnected, bad.clone()],
        ),
        (
            "socket.io: event to a namespace never joined",
            vec![r#"42/nope,["join","a"]"#.into()],
            vec![Disconnected, Ignored],
        ),
        (
            "socket.io: connect to an unknown namespace",
            vec!["40/nope,".into()],
            vec![Answered(
                r#"Text("44/nope,{\"message\":\"Invalid namespace\"}")"#.into(),
            )],
        ),
        (
            "socket.io: binary placeholder, attachment never sent",
            vec![r#"451-["message","r",{"_placeholder":true,"num":0}]"#.into()],
            vec![Ignored, Disconnected],
        ),
        (
            "socket.io: binary event claiming 10^12 attachments",
            vec![r#"451000000000000-["message","r",{"_placeholder":true,"num":0}]"#.into()],
            vec![Ignored, Disconnected],
        ),
        (
            "socket.io: binary attachment with no binary packet",
            vec!["b4AAAA".into()],
            vec![Ignored, Disconnected],
        ),
        (
            "socket.io: unknown packet type",
            vec!["47".into(), "4x".into()],
            vec![Ignored, Disconnected],
        ),
        (
            "socket.io: event that is not an array",
            vec![r#"42{"join":"a"}"#.into()],
            vec![Disconnected, bad.clone()],
        ),
        (
            "socket.io: empty event array",
            vec!["42[]".into()],
            vec![Disconnected, bad.clone()],
        ),
        (
            "socket.io: event name not a string",
            vec!["42[1,\"a\"]".into()],
            vec![Disconnected, bad.clone()],
        ),
        (
            "socket.io: 2,000-deep JSON",
            vec![format!(
                "42[\"message\",\"r\",{}{}]",
                "[".repeat(2000),
                "]".repeat(2000)
            )],
            vec![Disconnected, bad.clone()],
        ),
        (
            "socket.io: ack id on an event",
            vec![r#"4212["join","acked"]"#.into()],
            vec![Answered(r#"Event("joined", [String("acked"), "#.into())],
        ),
    ];
    for (case, frames, allowed) in cases {
        let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
        let outcome = send_frames(suite.addr, &frames).await;
        suite.after(case, outcome, &allowed).await;
    }
}

async fn wrong_types(suite: &mut Suite) {
    let bad = || Outcome::Refused("bad_arguments".into());
    let wrong: [(&str, Value); 6] = [
        ("a number", json!(1)),
        ("an array", json!(["room"])),
        ("an object", json!({"room": "a"})),
        ("__proto__ object", json!({"__proto__": {"polluted": true}})),
        ("null", Value::Null),
        ("true", json!(true)),
    ];
    for event in ["join", "leave"] {
        for (what, arg) in &wrong {
            let outcome = emit_once(suite.addr, event, std::slice::from_ref(arg)).await;
            suite
                .after(&format!("{event}({what})"), outcome, &[bad()])
                .await;
        }
        let outcome = emit_once(suite.addr, event, &[]).await;
        suite
            .after(&format!("{event}() with no room"), outcome, &[bad()])
            .await;
    }
    for (what, arg) in &wrong {
        let outcome = emit_once(suite.addr, "message", &[arg.clone(), json!("hi")]).await;
        suite
            .after(&format!("message(room = {what})"), outcome, &[bad()])
            .await;
    }
    for (what, arg) in &wrong {
        let outcome = emit_once(
            suite.addr,
            "signal",
            &[arg.clone(), json!("peer"), json!({"type": "hangup"})],
        )
        .await;
        suite
            .after(&format!("signal(room = {what})"), outcome, &[bad()])
            .await;
        let outcome = emit_once(
            suite.addr,
            "signal",
            &[json!("r"), json!("peer"), arg.clone()],
        )
        .await;
        suite
            .after(&format!("signal(payload = {what})"), outcome, &[bad()])
            .await;
    }
    let outcome = emit_once(
        suite.addr,
        "join",
        &[json!("r"), json!({"capacity": "many"})],
    )
    .await;
    suite
        .after("join(room, {capacity: \"many\"})", outcome, &[bad()])
        .await;
    let outcome = emit_once(suite.addr, "join", &[json!("r"), json!(["name"])]).await;
    suite.after("join(room, [name])", outcome, &[bad()]).await;
    let outcome = emit_once(suite.addr, "message", &[json!("bystanders")]).await;
    suite
        .after("message(room) with no data", outcome, &[bad()])
        .await;
    let outcome = emit_once(suite.addr, "message", &[json!("bystanders"), json!("x")]).await;
    suite
        .after(
            "message to a room not joined",
            outcome,
            &[Outcome::Refused("not_member".into())],
        )
        .await;
    let outcome = emit_once(suite.addr, "leave", &[json!("bystanders")]).await;
    suite
        .after(
            "leave of a room not joined",
            outcome,
            &[Outcome::Refused("not_member".into())],
        )
        .await;
    for name in [
        "__proto__",
        "constructor",
        "toString",
        "ping",
        "connect",
        "disconnect",
    ] {
        let outcome = emit_once(suite.addr, name, &[json!("bystanders")]).await;
        suite
            .after(
                &format!("unknown event {name:?}"),
                outcome,
                &[Outcome::Refused("unknown_event".into())],
            )
            .await;
    }
}

async fn huge_inputs(suite: &mut Suite) {
    // Just under the 1,000,000-byte packet limit: refused for its length.
    let outcome = emit_once(suite.addr, "join", &[json!("r".repeat(999_000))]).await;
    suite
        .after(
            "join(999,000-character room)",
            outcome,
            &[Outcome::Refused("invalid_room".into())],
        )
        .await;
    // A 1 MB room name makes the packet itself too big: the connection is closed.
    let outcome = emit_once(suite.addr, "join", &[json!("r".repeat(1_000_000))]).await;
    suite
        .after("join(1 MB room)", outcome, &[Outcome::Disconnected])
        .await;
    let outcome = emit_once(
        suite.addr,
        "message",
        &[json!("r".repeat(1_000_000)), json!(1)],
    )
    .await;
    suite
        .after("message(1 MB room)", outcome, &[Outcome::Disconnected])
        .await;
}

/// 5,000 messages as fast as one socket can write them, with the default rate limit.
async fn flood(suite: &mut Suite) {
    let mut flooder = RawClient::connect(suite.addr).await;
    flooder.emit("join", &[json!("flood")]).await;
    flooder.expect("joined").await;
    flooder.expect("roster").await;
    let started = Instant::now();
    for i in 0..5000 {
        flooder.emit("message", &[json!("flood"), json!(i)]).await;
    }
    let (mut delivered, mut refused, mut closing) = (0, 0, None);
    let mut codes = std::collections::BTreeMap::new();
    let ended = loop {
        match flooder.next_within(Duration::from_secs(10)).await {
            Some(Frame::Event(name, _)) if name == "message" => delivered += 1,
            Some(Frame::Event(name, args)) if name == "refused" => {
                refused += 1;
                *codes.entry(args[0]["code"].to_string()).or_insert(0) += 1;
            }
            Some(Frame::Event(name, args)) if name == "closing" => closing = Some(args),
            Some(Frame::Text(t)) if t == "41" => break "disconnect packet".to_owned(),
            Some(Frame::Closed) => break "connection closed".to_owned(),
            Some(Frame::Broken(err)) => break format!("connection broken: {err}"),
            None => break "nothing for 10 s".to_owned(),
            Some(other) => {
                suite.failures.push(format!("flood: unexpected {other:?}"));
                break "an unexpected frame".to_owned();
            }
        }
    };
    let code = closing.map(|args| args[0]["code"].clone());
    // The burst of 1,000, plus what 100 tokens a second refilled while the flood lasted.
    let allowed = 1000 + (100.0 * started.elapsed().as_secs_f64()).ceil() as usize;
    // Told why, or, when the flooder is still writing as the server closes, reset: a socket
    // closed with unread input sends RST, and the client's kernel then drops the notice.
    let cut_off = code == Some(json!("rate_limited")) || ended.starts_with("connection broken");
    let outcome = if cut_off && delivered <= allowed {
        Outcome::Disconnected
    } else {
        Outcome::Other(format!(
            "{delivered} relayed (at most {allowed}), {refused} refused ({codes:?}), closing {code:?}, ended by {ended}"
        ))
    };
    suite.report.push((
        "flood: 5,000 messages, default rate limit".into(),
        format!("{delivered} relayed, {refused} refused, then closing {code:?}, ended by {ended}"),
    ));
    suite
        .after("flood", outcome, &[Outcome::Disconnected])
        .await;
    suite.report.pop();
}

/// 200 clients loop connect → join → message → leave → disconnect for a bounded time.
async fn churn(suite: &mut Suite) {
    // Warm up at full concurrency, so the baseline includes what the allocator keeps after a
    // first use at this size; growth beyond it would be a leak.
    run_churn(suite.addr, CHURN_CLIENTS, Duration::from_secs(2)).await;
    settle(suite.addr).await;
    let baseline = rss_kib(suite.pid);

    let started = Instant::now();
    let (cycles, errors) = run_churn(suite.addr, CHURN_CLIENTS, CHURN_TIME).await;
    let elapsed = started.elapsed().as_secs_f64();
    let health = settle(suite.addr).await;
    let after = rss_kib(suite.pid);
    // Exactly the bystanders are left: no session or room leaked.
    if health["connections"] != json!(2) || health["rooms"] != json!(1) {
        suite.failures.push(format!("churn left {health}"));
    }
    if errors > 0 {
        suite
            .failures
            .push(format!("churn: {errors} cycles failed"));
    }
    // "Near": within a quarter of the baseline or 8 MiB, whichever is larger.
    let allowance = (baseline / 4).max(8 * 1024);
    if after > baseline + allowance {
        suite.failures.push(format!(
            "churn: RSS {after} KiB after, baseline {baseline} KiB"
        ));
    }
    suite.report.push((
        format!("churn: {CHURN_CLIENTS} clients for {}s", CHURN_TIME.as_secs()),
        format!(
            "{cycles} cycles ({:.0}/s), {errors} errors; RSS {baseline} KiB before, {after} KiB after; {health}",
            cycles as f64 / elapsed
        ),
    ));
    suite.bystanders_unharmed("churn").await;
}

/// Runs `clients` churn loops for `time`; returns (cycles completed, cycles failed).
async fn run_churn(addr: SocketAddr, clients: usize, time: Duration) -> (usize, usize) {
    let deadline = Instant::now() + time;
    let workers: Vec<_> = (0..clients)
        .map(|n| {
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                while Instant::now() < deadline {
                    match tokio::time::timeout(Duration::from_secs(10), cycle(addr, n)).await {
                        Ok(true) => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut totals = (0, 0);
    for worker in workers {
        let (ok, failed) = worker.await.unwrap_or((0, 1));
        totals.0 += ok;
        totals.1 += failed;
    }
    totals
}

/// One churn cycle; true if every step got its answer.
async fn cycle(addr: SocketAddr, n: usize) -> bool {
    let room = format!("churn-{}", n % 20);
    let mut client = RawClient::connect(addr).await;
    client.emit("join", &[json!(room)]).await;
    if !until(&mut client, "joined").await {
        return false;
    }
    client.emit("message", &[json!(room), json!(n)]).await;
    // Others in the room may be talking too; wait for our own copy.
    let mine = json!(client.id);
    loop {
        match client.next_within(Duration::from_secs(5)).await {
            Some(Frame::Event(name, args)) if name == "message" && args[1] == mine => break,
            Some(Frame::Event(..)) => continue,
            _ => return false,
        }
    }
    client.emit("leave", &[json!(room)]).await;
    let left = until(&mut client, "leaved").await;
    client.close().await;
    left
}

/// Reads until event `name`, skipping other room traffic.
async fn until(client: &mut RawClient, name: &str) -> bool {
    loop {
        match client.next_within(Duration::from_secs(5)).await {
            Some(Frame::Event(got, _)) if got == name => return true,
            Some(Frame::Event(..)) => continue,
            _ => return false,
        }
    }
}

/// Waits until only the bystanders are connected (sessions end just after their sockets close).
async fn settle(addr: SocketAddr) -> Value {
    let mut health = common::health(addr).await;
    for _ in 0..100 {
        if health["connections"] == json!(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = common::health(addr).await;
    }
    health
}

/// Emits one event on a fresh connection and reports what the server did.
async fn emit_once(addr: SocketAddr, event: &str, args: &[Value]) -> Outcome {
    let mut client = RawClient::connect(addr).await;
    client.emit(event, args).await;
    watch(client).await
}

/// Opens a long-polling session and posts `body` as its first message after CONNECT.
async fn polling_post(addr: SocketAddr, body: &[u8]) -> Outcome {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/socket.io/?EIO=4&transport=polling");
    let open = http.get(&base).send().await.unwrap().text().await.unwrap();
    let sid: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    let url = format!("{base}&sid={}", sid["sid"].as_str().unwrap());
    http.post(&url).body("40").send().await.unwrap();
    // Packets in a v4 payload are separated by 0x1e; pings may come before the CONNECT answer.
    let mut connected = false;
    for _ in 0..5 {
        let polled = http.get(&url).send().await.unwrap().text().await.unwrap();
        if polled.split('\x1e').any(|p| p.starts_with("40")) {
            connected = true;
            break;
        }
    }
    assert!(connected, "no CONNECT answer over polling");
    let posted = http.post(&url).body(body.to_vec()).send().await.unwrap();
    if !posted.status().is_success() {
        return Outcome::Disconnected;
    }
    match http.get(&url).send().await.unwrap().status().as_u16() {
        400 => Outcome::Disconnected,
        status => Outcome::Other(format!("poll after bad body: HTTP {status}")),
    }
}

/// Reproducible pseudo-random bytes (xorshift), so a failure can be replayed.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The server's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
