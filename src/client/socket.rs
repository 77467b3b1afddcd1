//! A minimal Socket.IO client over `web_sys::WebSocket`: connects to the page's own host,
//! answers the server's pings, and turns frames into [`SocketEvent`]s. One WebSocket, one
//! session: [`super::connection`] resumes a dropped one on a new socket.
//!
//! Only runs in a browser; on the server the type exists so components compile, but nothing
//! constructs it (event handlers never run during server rendering).

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::frame::{self, Incoming};
use crate::protocol::{take_seq, ClientEvent, ResumeAsk, ServerEvent};

/// What the connection reports to its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// Connected to the default namespace; `id` is this client's id in server events.
    Connected {
        id: String,
    },
    Event(ServerEvent),
    /// The WebSocket dropped and the session is being resumed: attempt `attempt` is on its way.
    Reconnecting {
        attempt: u32,
    },
    /// The connection is gone (reported once).
    Closed {
        reason: String,
    },
}

/// How a socket ended, as its owner needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum End {
    /// The WebSocket closed or broke without the server or this page ending the session: a
    /// resumable session may come back.
    Dropped(String),
    /// The server refused or ended the session, or this page closed it.
    Over(String),
}

/// What a socket reports: an event (or its connection), or its end (once).
pub(super) enum Report {
    Connected { id: String },
    Event(ServerEvent),
    Ended(End),
}

type Handler = Rc<dyn Fn(Report)>;

/// An open (or opening) WebSocket with one Socket.IO session. Dropping it closes the connection
/// and detaches its callbacks; do not drop it from inside its own callback.
pub(super) struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    /// Set once the end is reported, or this page closes it (then no end is reported).
    ended: Rc<Cell<bool>>,
}

impl Socket {
    /// Connects to `/socket.io/` on the page's own host, presenting `token` if there is one and
    /// asking for `resume` if given; then every event ends with its position, which goes into
    /// `last_seq`.
    pub(super) fn connect(
        token: Option<String>,
        resume: Option<ResumeAsk>,
        last_seq: Rc<Cell<u64>>,
        on_report: impl Fn(Report) + 'static,
    ) -> Result<Self, String> {
        let ws = WebSocket::new(&page_url()?).map_err(describe)?;
        let handler: Handler = Rc::new(on_report);
        let ended = Rc::new(Cell::new(false));
        let report_end: Rc<dyn Fn(End)> = {
            let (handler, ended) = (handler.clone(), ended.clone());
            Rc::new(move |end: End| {
                if !ended.replace(true) {
                    handler(Report::Ended(end));
                }
            })
        };
        let numbered = resume.is_some();

        let on_message = {
            let (ws, report_end) = (ws.clone(), report_end.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                match frame::decode(&text) {
                    Ok(Incoming::Open(_)) => {
                        send(&ws, &frame::connect(token.as_deref(), resume.as_ref()))
                    }
                    Ok(Incoming::Ping) => send(&ws, frame::PONG),
                    Ok(Incoming::Connected { sid }) => handler(Report::Connected { id: sid }),
                    Ok(Incoming::Event { name, mut args }) => {
                        if numbered {
                            if let Some(seq) = take_seq(&mut args) {
                                last_seq.set(seq);
                            }
                        }
                        if let Some(event) = ServerEvent::decode(&name, &args) {
                            handler(Report::Event(event));
                        }
                    }
                    Ok(Incoming::ConnectError { message }) => {
                        report_end(End::Over(format!("connection refused: {message}")));
                        let _ = ws.close();
                    }
                    Ok(Incoming::Close | Incoming::Disconnected) => {
                        report_end(End::Over("disconnected by the server".into()));
                        let _ = ws.close();
                    }
                    Ok(Incoming::Ignored) => {}
                    Err(err) => web_sys::console::warn_1(&format!("signalroom: {err}").into()),
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let reason = match event.reason() {
                r if r.is_empty() => format!("connection closed (code {})", event.code()),
                r => r,
            };
            report_end(End::Dropped(reason));
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _on_message: on_message,
            _on_close: on_close,
            ended,
        })
    }

    /// Sends an event; returns whether the connection was open to take it.
    pub(super) fn emit(&self, event: &ClientEvent) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
            && self.ws.send_with_str(&frame::encode_event(event)).is_ok()
    }

    /// Gives the WebSocket up without ending the session, as a network that went away would:
    /// the server holds the session for a resume, and no end is reported (the owner knows).
    pub(super) fn abandon(&self) {
        self.ended.set(true);
        let _ = self.ws.close();
    }

    /// Ends the session on purpose: the server is told (so its rooms hear `bye` at once, even a
    /// resumable one's), and no end is reported.
    pub(super) fn close(&self) {
        if self.ws.ready_state() == WebSocket::OPEN {
            send(&self.ws, frame::DISCONNECT);
        }
        self.abandon();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

fn send(ws: &WebSocket, text: &str) {
    let _ = ws.send_with_str(text);
}

/// The join token the page was opened with (`?token=`), if any.
pub fn page_token() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("token")
        .filter(|t| !t.is_empty())
}

/// The claims of `token` (a JWT), unchecked: only to decide what the page shows (its name, a
/// moderator's controls). The server checks the token; the page cannot.
pub fn unchecked_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    // base64url without padding, as JWTs write it, to the base64 `atob` reads.
    let mut b64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !b64.len().is_multiple_of(4) {
        b64.push('=');
    }
    let json = web_sys::window()?.atob(&b64).ok()?;
    serde_json::from_str(&json).ok()
}

/// The Socket.IO WebSocket endpoint of the server that served the page.
fn page_url() -> Result<String, String> {
    let location = web_sys::window().ok_or("no window")?.location();
    let scheme = if location.protocol().map_err(describe)? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().map_err(describe)?;
    Ok(format!(
        "{scheme}://{host}/socket.io/?EIO=4&transport=websocket"
    ))
}

fn describe(err: JsValue) -> String {
    err.as_string().unwrap_or_else(|| format!("{err:?}"))
}
