//! A WebSocket client that speaks Engine.IO/Socket.IO frames by hand, for tests that need what
//! a well-behaved client library will not do: malformed frames, or not reading at all.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

pub struct RawClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The Socket.IO id from the namespace CONNECT answer.
    pub id: String,
}

/// What the server sent, one Engine.IO packet at a time, with pings already answered.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A Socket.IO event: its name and arguments.
    Event(String, Vec<Value>),
    /// Any other text packet, as sent.
    Text(String),
    Binary(Vec<u8>),
    /// The WebSocket closed.
    Closed,
    /// Reading failed: the connection broke without a close.
    Broken(String),
}

impl RawClient {
    /// Opens an Engine.IO v4 WebSocket session and connects to the `/` namespace.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_with_query(addr, "").await.expect("connected")
    }

    /// As [`RawClient::connect`], with `query` (e.g. `token=...`) added to the URL, as clients
    /// without handshake auth send a token; `Err` holds a `connect_error`'s message.
    pub async fn connect_with_query(addr: SocketAddr, query: &str) -> Result<Self, String> {
        Self::open(addr, query, None).await
    }

    /// As [`RawClient::connect`], with `auth` as the CONNECT packet's payload (the handshake
    /// auth of socket.io 3+ clients).
    pub async fn connect_with_auth(addr: SocketAddr, auth: &Value) -> Self {
        Self::open(addr, "", Some(auth)).await.expect("connected")
    }

    /// As [`RawClient::connect_with_auth`], over TLS to a server whose certificate `ca_pem`
    /// (and nothing else) is trusted for.
    pub async fn connect_tls_with_auth(addr: SocketAddr, auth: &Value, ca_pem: &str) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tls = tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(config));
        let url = format!("wss://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(tls))
            .await
            .expect("websocket over TLS");
        Self::handshake(ws, Some(auth)).await.expect("connected")
    }

    async fn open(addr: SocketAddr, query: &str, auth: Option<&Value>) -> Result<Self, String> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&{query}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        Self::handshake(ws, auth).await
    }

    /// The Engine.IO open, then a CONNECT to `/` with `auth`; `Err` holds a `connect_error`'s
    /// message.
    async fn handshake(
        ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
        auth: Option<&Value>,
    ) -> Result<Self, String> {
        let mut client = Self {
            ws,
            id: String::new(),
        };
        let open = client.next().await;
        assert!(
            matches!(&open, Frame::Text(t) if t.starts_with('0')),
            "{open:?}"
        );
        match auth {
            Some(auth) => client.send(&format!("40{auth}")).await,
            None => client.send("40").await,
        }
        let Frame::Text(answer) = client.next().await else {
            panic!("no CONNECT answer");
        };
        if let Some(error) = answer.strip_prefix("44") {
            let error: Value = serde_json::from_str(error).unwrap();
            return Err(error["message"].as_str().unwrap_or_default().to_owned());
        }
        let ack: Value = serde_json::from_str(answer.strip_prefix("40").expect("CONNECT")).unwrap();
        client.id = ack["sid"].as_str().expect("sid").to_owned();
        Ok(client)
    }

    /// Opens an Engine.IO session, asks to connect to `/` and goes away at once, without reading
    /// the answer or closing: the server may be anywhere in setting the socket up.
    pub async fn connect_then_vanish(addr: SocketAddr) {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let _ = ws.next().await;
        let _ = ws.send(Message::text("40")).await;
        drop(ws);
    }

    /// Sends one text frame as given; errors are ignored (the server may already have closed).
    pub async fn send(&mut self, text: &str) {
        let _ = self.ws.send(Message::text(text)).await;
    }

    /// Sends one binary frame; errors are ignored (the server may already have closed).
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        let _ = self.ws.send(Message::binary(bytes)).await;
    }

    /// Closes the WebSocket.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Kills the TCP connection (a reset, as a network that drops does), with no WebSocket or
    /// Socket.IO goodbye.
    pub fn kill(self) {
        let tcp = match self.ws.get_ref() {
            MaybeTlsStream::Plain(tcp) => Some(tcp),
            MaybeTlsStream::Rustls(tls) => Some(tls.get_ref().0),
            _ => None,
        };
        if let Some(tcp) = tcp {
            // A zero linger does not block on drop (the deprecation's concern): it resets.
            #[allow(deprecated)]
            let _ = tcp.set_linger(Some(Duration::ZERO));
        }
        drop(self.ws);
    }

    /// Sends a Socket.IO event.
    pub async fn emit(&mut self, event: &str, args: &[Value]) {
        let mut items = vec![Value::from(event)];
        items.extend_from_slice(args);
        self.send(&format!("42{}", Value::Array(items))).await;
    }

    /// The next packet from the server, answering Engine.IO pings on the way.
    pub async fn next(&mut self) -> Frame {
        self.next_within(WAIT)
            .await
            .expect("timed out waiting for a frame")
    }

    /// The next packet, or `None` if nothing comes within `wait`; Socket.IO events parsed.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        Some(match self.next_raw_within(wait).await? {
            Frame::Text(text) => match text.strip_prefix("42") {
                Some(array) => match serde_json::from_str::<Vec<Value>>(array) {
                    Ok(mut items) if !items.is_empty() => {
                        let name = items.remove(0).as_str().unwrap_or_default().to_owned();
                        Frame::Event(name, items)
                    }
                    _ => Frame::Text(text),
                },
                None => Frame::Text(text),
            },
            other => other,
        })
    }

    /// The next text frame as sent, unparsed (pings answered).
    pub async fn next_raw(&mut self) -> Frame {
        self.next_raw_within(WAIT)
            .await
            .expect("timed out waiting for a frame")
    }

    /// The next frame, unparsed, answering Engine.IO pings on the way; `None` if nothing comes
    /// within `wait`.
    async fn next_raw_within(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match message {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Some(Ok(Message::Text(text))) => return Some(Frame::Text(text.to_string())),
                Some(Ok(Message::Binary(bytes))) => return Some(Frame::Binary(bytes.to_vec())),
                Some(Ok(Message::Close(_))) | None => return Some(Frame::Closed),
                Some(Err(err)) => return Some(Frame::Broken(err.to_string())),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next Socket.IO event, which must be `name`; returns its arguments.
    pub async fn expect(&mut self, name: &str) -> Vec<Value> {
        match self.next().await {
            Frame::Event(got, args) if got == name => args,
            other => panic!("expected {name}, got {other:?}"),
        }
    }
}

/// Every client sends `join(room)` at the same instant, each from its own task; returns each
/// one's answer (`joined` or `full`, which must carry the room and the joiner's id; `otherjoin`
/// on the way is skipped) with the clients, still connected.
pub async fn race_to_join(clients: Vec<RawClient>, room: &str) -> (Vec<String>, Vec<RawClient>) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(index, mut client)| {
            let (barrier, room) = (barrier.clone(), room.to_owned());
            tokio::spawn(async move {
                barrier.wait().await;
                client.emit("join", &[Value::from(room.as_str())]).await;
                let started = std::time::Instant::now();
                loop {
                    let Some(frame) = client.next_within(WAIT).await else {
                        panic!(
                            "client #{index} ({}) had no answer to its join after {:?}",
                            client.id,
                            started.elapsed()
                        );
                    };
                    match frame {
                        Frame::Event(name, args) if name == "joined" || name == "full" => {
                            assert_eq!(args[0], Value::from(room.as_str()));
                            assert_eq!(
                                args[1],
                                Value::from(client.id.as_str()),
                                "answers carry the joiner's id"
                            );
                            return (name, client);
                        }
                        Frame::Event(name, _) if name == "otherjoin" => {}
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    let (mut answers, mut kept) = (Vec::new(), Vec::new());
    for task in tasks {
        let (answer, client) = task.await.unwrap();
        answers.push(answer);
        kept.push(client);
    }
    (answers, kept)
}
