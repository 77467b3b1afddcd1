//! Test harness: a real signalroom on 127.0.0.1:0 and rust_socketio clients that record every
//! event they receive, in order.
#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod certs;
pub mod raw;
pub mod redis_server;
pub mod tokens;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client as SioClient, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{json, Value};
use signalroom::server::{self, Config};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// How long a test waits for an event that should come.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test watches for an event that should not come.
pub const QUIET: Duration = Duration::from_millis(300);

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

pub async fn start_server() -> TestServer {
    start_server_with(Config::default()).await
}

pub async fn start_server_with(config: Config) -> TestServer {
    start_server_on("127.0.0.1:0", config).await
}

/// A server listening on `bind` (`0.0.0.0:0` for every address); its `addr` is on 127.0.0.1.
pub async fn start_server_on(bind: &str, config: Config) -> TestServer {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = SocketAddr::new([127, 0, 0, 1].into(), listener.local_addr().unwrap().port());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = Config {
        log_file: "".into(),
        ..config
    };
    tokio::spawn(server::run(listener, config, async move {
        let _ = stopped.await;
    }));
    TestServer { addr, _stop: stop }
}

/// One received event: its name and arguments.
pub type Received = (String, Vec<Value>);

pub struct TestClient {
    client: SioClient,
    events: mpsc::UnboundedReceiver<Received>,
    /// Whether `next` returns `otherjoin`. Off by default: the tutorial's contract tests look
    /// only at its own events, and presence is an addition they need not know of.
    presence: bool,
}

impl TestClient {
    pub async fn connect(server: &TestServer) -> Self {
        Self::connect_with(server, TransportType::Websocket).await
    }

    pub async fn connect_with(server: &TestServer, transport: TransportType) -> Self {
        Self::connect_to(server.addr, transport).await
    }

    /// Connects to any server, e.g. a separately started binary.
    pub async fn connect_to(addr: SocketAddr, transport: TransportType) -> Self {
        Self::try_connect(addr, transport)
            .await
            .expect("connect timed out")
    }

    /// Connects, or returns `None` if the server does not accept the namespace connection.
    pub async fn try_connect(addr: SocketAddr, transport: TransportType) -> Option<Self> {
        Self::open(addr, transport, None).await.ok()
    }

    /// Connects presenting `token` in the handshake's auth (as socket.io 3+ clients do), or
    /// returns the server's `connect_error` message.
    pub async fn connect_with_token(addr: SocketAddr, token: &str) -> Result<Self, String> {
        let auth = json!({ "token": token });
        Self::open(addr, TransportType::Websocket, Some(auth)).await
    }

    /// Connects with a valid token for `claims` (see [`tokens::jwt`]), watching presence.
    pub async fn with_claims(addr: SocketAddr, claims: Value) -> Self {
        Self::connect_with_token(addr, &tokens::jwt(claims))
            .await
            .expect("token accepted")
            .watch_presence()
    }

    /// Connects (with `auth` as the handshake's auth, if any), or returns the server's
    /// `connect_error` message (empty if it sent none).
    pub async fn open(
        addr: SocketAddr,
        transport: TransportType,
        auth: Option<Value>,
    ) -> Result<Self, String> {
        let builder = ClientBuilder::new(format!("http://{addr}/")).transport_type(transport);
        Self::open_with(builder, auth).await
    }

    /// Connects over TLS (HTTPS, then WSS) to a server whose certificate `ca_pem` signed.
    pub async fn connect_tls(addr: SocketAddr, ca_pem: &str) -> Self {
        let ca = native_tls::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
        let tls = native_tls::TlsConnector::builder()
            .add_root_certificate(ca)
            .build()
            .unwrap();
        let builder = ClientBuilder::new(format!("https://{addr}/"))
            .transport_type(TransportType::Websocket)
            .tls_config(tls);
        Self::open_with(builder, None)
            .await
            .expect("connected over TLS")
    }

    /// Connects with `builder` (presenting `auth` in the handshake, if any), or returns the
    /// server's `connect_error` message (empty if it sent none).
    async fn open_with(builder: ClientBuilder, auth: Option<Value>) -> Result<Self, String> {
        let (tx, events) = mpsc::unbounded_channel();
        let (connected_tx, connected) = oneshot::channel::<Result<(), String>>();
        let connected_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(connected_tx)));
        let refused_tx = connected_tx.clone();
        let mut builder = builder.reconnect(false);
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        let client = builder
            // rust_socketio lets `emit` run before the server has acknowledged the namespace
            // connection; socket.io clients buffer until then, so the harness waits likewise.
            .on(Event::Connect, move |_, _| {
                if let Some(tx) = connected_tx.lock().unwrap().take() {
                    let _ = tx.send(Ok(()));
                }
                async {}.boxed()
            })
            // A `connect_error`, before the connection was acknowledged.
            .on(Event::Error, move |payload, _| {
                if let Some(tx) = refused_tx.lock().unwrap().take() {
                    let _ = tx.send(Err(connect_error_message(&payload)));
                }
                async {}.boxed()
            })
            // Recorded as a `close` event, so tests can see the server end the connection.
            .on(Event::Close, {
                let tx = tx.clone();
                move |_, _| {
                    let _ = tx.send(("close".to_owned(), vec![]));
                    async {}.boxed()
                }
            })
            .on_any(move |event, payload, _| {
                let args = match payload {
                    Payload::Text(args) => args,
                    other => vec![json!(format!("{other:?}"))],
                };
                let _ = tx.send((event.as_str().to_owned(), args));
                async {}.boxed()
            })
            .connect()
            .await
            .expect("connect");
        // A refused connection never gets the namespace acknowledgement.
        let refused = match tokio::time::timeout(Duration::from_secs(2), connected).await {
            Ok(Ok(Ok(()))) => {
                return Ok(Self {
                    client,
                    events,
                    presence: false,
                })
            }
            Ok(Ok(Err(message))) => message,
            _ => String::new(),
        };
        let _ = client.disconnect().await;
        Err(refused)
    }

    pub async fn emit(&self, event: &str, args: Vec<Value>) {
        self.client
            .emit(event, Payload::Text(args))
            .await
            .expect("emit");
    }

    /// Emits without asserting that the transport accepted it (for payloads the server may
    /// refuse by closing the connection).
    pub async fn client_emit_unchecked(&self, event: &str, args: Vec<Value>) {
        let _ = self.client.emit(event, Payload::Text(args)).await;
    }

    /// Makes `next` return `otherjoin` events too.
    pub fn watch_presence(mut self) -> Self {
        self.presence = true;
        self
    }

    /// Joins `room` and returns this client's id, from `joined(room, id)`; the `roster` that
    /// follows is consumed.
    pub async fn join(&mut self, room: &str) -> String {
        self.emit("join", vec![json!(room)]).await;
        let args = self.expect("joined").await;
        assert_eq!(args[0], json!(room));
        assert_eq!(self.expect("roster").await[0], json!(room));
        args[1].as_str().expect("id is a string").to_owned()
    }

    pub async fn next(&mut self) -> Received {
        loop {
            let event = tokio::time::timeout(WAIT, self.events.recv())
                .await
                .expect("timed out waiting for an event")
                .expect("event channel closed");
            if self.presence || event.0 != "otherjoin" {
                return event;
            }
        }
    }

    /// The next event if one comes within `wait`; `Err` on timeout.
    pub async fn try_next(
        &mut self,
        wait: Duration,
    ) -> Result<Option<Received>, tokio::time::error::Elapsed> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv()).await?;
            match event {
                Some((name, _)) if !self.presence && name == "otherjoin" => continue,
                other => return Ok(other),
            }
        }
    }

    /// The next event, which must be `name`; returns its arguments.
    pub async fn expect(&mut self, name: &str) -> Vec<Value> {
        let (got, args) = self.next().await;
        assert_eq!(got, name, "expected {name}, got {got}{args:?}");
        args
    }

    /// Asserts that nothing arrives for a while.
    pub async fn expect_quiet(&mut self) {
        if let Ok(Some(event)) = self.try_next(QUIET).await {
            panic!("expected no event, got {event:?}");
        }
    }

    pub async fn disconnect(self) {
        self.client.disconnect().await.expect("disconnect");
    }
}

/// The server's `/healthz` answer.
pub async fn health(addr: SocketAddr) -> Value {
    let response = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("healthz request");
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.text().await.unwrap()).expect("healthz is JSON")
}

/// Starts the real `signalroom` binary with `args` (which must include `--addr 127.0.0.1:0`) and
/// returns it with the address it bound, read from its "listening" log line (so the log level
/// must be `info` or lower).
pub fn spawn_binary(args: &[&std::ffi::OsStr]) -> (ServerProcess, SocketAddr) {
    spawn_binary_with_env(args, &[])
}

/// As [`spawn_binary`], with these environment variables set.
pub fn spawn_binary_with_env(
    args: &[&std::ffi::OsStr],
    env: &[(&str, &std::ffi::OsStr)],
) -> (ServerProcess, SocketAddr) {
    let (child, listening) = spawn_binary_listening(args, env);
    (child, listening["signalroom"])
}

/// Starts the binary and returns, once it serves, every address it said it listens on, by
/// what listens there (`signalroom`, `metrics`).
pub fn spawn_binary_listening(
    args: &[&std::ffi::OsStr],
    env: &[(&str, &std::ffi::OsStr)],
) -> (ServerProcess, std::collections::HashMap<String, SocketAddr>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_signalroom"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start signalroom");
    let stdout = child.stdout.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let output = Output::default();
    // Keeps reading stdout for the process's life, so its log never blocks on a full pipe.
    std::thread::spawn({
        let output = output.clone();
        move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(listening) = listening_address(&line) {
                    let _ = addr_tx.send(listening);
                }
                output.0.lock().unwrap().push(line);
            }
        }
    });
    let child = ServerProcess(child, output);
    let mut listening = std::collections::HashMap::new();
    // The public port is announced last, once everything else listens.
    while !listening.contains_key("signalroom") {
        let (what, addr) = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        listening.insert(what, addr);
    }
    (child, listening)
}

/// What listens where, from a "… listening" line of the binary's log, as text or as JSON.
fn listening_address(line: &str) -> Option<(String, SocketAddr)> {
    let (message, addr) = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(event) => (
            event["message"].as_str()?.to_owned(),
            event["addr"].as_str()?.to_owned(),
        ),
        Err(_) => {
            let (before, after) = line.split_once(" listening addr=")?;
            let message = format!("{} listening", before.rsplit(' ').next()?);
            (message, after.split(' ').next()?.to_owned())
        }
    };
    let what = message.strip_suffix(" listening")?;
    Some((what.to_owned(), addr.parse().expect("address")))
}

/// A server process that is killed when dropped, so a failing test leaves nothing running;
/// with what it has written on stdout so far.
pub struct ServerProcess(pub std::process::Child, pub Output);

/// The lines a process wrote on stdout.
#[derive(Clone, Default)]
pub struct Output(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Output {
    /// Waits (up to [`WAIT`]) for a line containing `text`, and returns it.
    pub async fn line_with(&self, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.0.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no line with {text:?} in {:#?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many lines contain `text` so far.
    pub fn count(&self, text: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The message of a `connect_error` as rust_socketio reports it ("Received an ConnectError
/// frame: {json}").
fn connect_error_message(payload: &Payload) -> String {
    let text = match payload {
        Payload::Text(values) => values
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        #[allow(deprecated)]
        Payload::String(text) => text.clone(),
        Payload::Binary(_) => String::new(),
    };
    let json = text
        .split_once(": ")
        .map_or(text.as_str(), |(_, json)| json);
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| json.to_owned())
}
