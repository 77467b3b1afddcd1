//! Socket.IO over a bare WebSocket, written by hand so a client costs one task and one socket:
//! the Engine.IO v4 (Socket.IO 5) and v3 (Socket.IO 4, socket.io-client 2.x) handshakes,
//! pings, and event frames.

use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Engine.IO protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
pub enum Eio {
    #[value(name = "3")]
    V3,
    #[value(name = "4")]
    V4,
}

impl Eio {
    fn query(self) -> u8 {
        match self {
            Self::V3 => 3,
            Self::V4 => 4,
        }
    }
}

/// How long a handshake step may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

pub struct Conn {
    pub tx: Sender,
    pub rx: Receiver,
}

pub struct Sender {
    sink: SplitSink<Ws, Message>,
}

pub struct Receiver {
    stream: SplitStream<Ws>,
    eio: Eio,
}

/// What a read returned.
pub enum Incoming {
    /// A Socket.IO event: `42[...]`, the text after `42`.
    Event(String),
    /// A ping the caller must answer with [`Sender::pong`] (Engine.IO v4).
    Ping,
    Other,
}

/// Opens a session on `addr` (host:port) and connects to the `/` namespace.
pub async fn connect(addr: &str, eio: Eio) -> anyhow::Result<Conn> {
    let url = format!(
        "ws://{addr}/socket.io/?EIO={}&transport=websocket",
        eio.query()
    );
    // TCP_NODELAY, as browsers do: latency figures must not include Nagle's algorithm.
    let connecting = tokio_tungstenite::connect_async_with_config(url, None, true);
    let (ws, _) = tokio::time::timeout(HANDSHAKE, connecting)
        .await
        .context("websocket handshake timed out")??;
    let (sink, stream) = ws.split();
    let mut conn = Conn {
        tx: Sender { sink },
        rx: Receiver { stream, eio },
    };
    let open = conn.rx.text().await?;
    if !open.starts_with('0') {
        bail!("expected an Engine.IO open packet, got {open:?}");
    }
    // Socket.IO 5 clients ask to join `/`; Socket.IO 4 servers put them there unasked.
    if eio == Eio::V4 {
        conn.tx.send("40").await?;
    }
    loop {
        let text = conn.rx.text().await?;
        if text.starts_with("40") {
            return Ok(conn);
        }
        if text == "2" {
            conn.tx.pong().await?;
        }
    }
}

impl Sender {
    pub async fn send(&mut self, text: &str) -> anyhow::Result<()> {
        self.sink.send(Message::text(text)).await?;
        Ok(())
    }

    /// Sends `["event", args...]` given the JSON array text.
    pub async fn emit_raw(&mut self, array: &str) -> anyhow::Result<()> {
        let mut frame = String::with_capacity(array.len() + 2);
        frame.push_str("42");
        frame.push_str(array);
        self.send(&frame).await
    }

    pub async fn emit(&mut self, event: &str, args: &[Value]) -> anyhow::Result<()> {
        let mut items = Vec::with_capacity(args.len() + 1);
        items.push(Value::from(event));
        items.extend_from_slice(args);
        self.emit_raw(&Value::Array(items).to_string()).await
    }

    pub async fn pong(&mut self) -> anyhow::Result<()> {
        self.send("3").await
    }

    /// Engine.IO v3 clients ping the server themselves.
    pub async fn ping(&mut self) -> anyhow::Result<()> {
        self.send("2").await
    }

    pub async fn close(mut self) {
        let _ = self.sink.close().await;
    }
}

impl Receiver {
    pub fn eio(&self) -> Eio {
        self.eio
    }

    /// The next packet.
    pub async fn next(&mut self) -> anyhow::Result<Incoming> {
        let text = self.text().await?;
        Ok(if let Some(event) = text.strip_prefix("42") {
            Incoming::Event(event.to_owned())
        } else if text == "2" && self.eio == Eio::V4 {
            Incoming::Ping
        } else {
            Incoming::Other
        })
    }

    async fn text(&mut self) -> anyhow::Result<String> {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                Some(Ok(Message::Close(_))) | None => bail!("connection closed"),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.into()),
            }
        }
    }
}

/// Reads until the event `name` arrives (answering pings); returns its JSON array text.
pub async fn until(conn: &mut Conn, name: &str) -> anyhow::Result<String> {
    let prefix = format!("[\"{name}\"");
    loop {
        match conn.rx.next().await? {
            Incoming::Event(array) if array.starts_with(&prefix) => return Ok(array),
            Incoming::Ping => conn.tx.pong().await?,
            _ => {}
        }
    }
}
