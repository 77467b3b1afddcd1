//! The page's connection to the server: one Socket.IO session that asks to be resumable and,
//! when its WebSocket drops, reconnects with backoff and resumes as the same peer within the
//! server's grace period (see [`crate::protocol::ResumeAsk`]); when the browser says it is
//! online again, it tries at once rather than at the end of its wait, and its waits start over
//! from the shortest (an attempt begun just before may still fail). When the browser says it
//! is offline, the WebSocket is given up at once: a closing handshake cannot be trusted to end
//! while offline, and the page should say it is reconnecting now. What it missed arrives in
//! order before anything new, so the page sees each event once. A server that says it is
//! shutting down (`closing` `shutdown`) is reconnected to the same way, for as long as the
//! grace period: another instance, or the same one restarted, takes the page back as a new
//! session (`resume_failed`).
//!
//! Only runs in a browser, like [`super::socket`].

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::socket::{End, Report, Socket, SocketEvent};
use crate::browser::sleep;
use crate::protocol::{ClientEvent, CloseCode, ResumeAsk, ServerEvent};

/// The first wait before reconnecting, doubled at each attempt up to [`MAX_DELAY_MS`], and
/// from the first again when the browser says it is online.
const FIRST_DELAY_MS: i32 = 250;
const MAX_DELAY_MS: i32 = 4000;
/// Events the page may send while reconnecting, sent once the session is back.
const MAX_OUTBOX: usize = 1000;

/// A cheap-to-clone handle on the page's connection. Dropping the last one closes it.
#[derive(Clone)]
pub struct Connection(Rc<Inner>);

struct Inner {
    /// The join token the page was opened with, presented at every connect.
    token: Option<String>,
    handler: Rc<dyn Fn(SocketEvent)>,
    /// The last position received, across the session's sockets.
    last_seq: Rc<Cell<u64>>,
    state: RefCell<State>,
    /// The window's `online` and `offline` listeners, removed when the connection goes.
    network: RefCell<Vec<(&'static str, Listener)>>,
}

type Listener = Closure<dyn FnMut()>;

impl Drop for Inner {
    fn drop(&mut self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        for (event, listener) in self.network.take() {
            let _ = window
                .remove_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        }
    }
}

#[derive(Default)]
struct State {
    socket: Option<Socket>,
    /// The token that resumes the session, and the grace period in seconds, once the server
    /// said it is resumable.
    resume: Option<(String, u64)>,
    /// While reconnecting: when the drop happened (ms since the epoch), the attempts made, and
    /// what the page sent meanwhile.
    dropped_at: Option<f64>,
    attempt: u32,
    /// The waits so far, which set the next one's length: since the drop, or since the browser
    /// last came online (an attempt under way then may still fail, as made offline).
    backoff: u32,
    /// The attempt waiting for its turn: only one reconnection is under way at a time.
    waiting: Option<u32>,
    outbox: Vec<ClientEvent>,
    /// The server said it is shutting down: its disconnect is a drop to come back from (to
    /// another instance, or to this one once it is back), not the session's end. Taken by the
    /// end of the socket that was told.
    restarting: bool,
    /// Closed by the page: nothing more is reported.
    closed: bool,
}

impl Connection {
    /// Connects, asking to be resumable; `on_event` hears everything, `Connected` once.
    pub fn open(
        token: Option<String>,
        on_event: impl Fn(SocketEvent) + 'static,
    ) -> Result<Self, String> {
        let connection = Self(Rc::new(Inner {
            token,
            handler: Rc::new(on_event),
            last_seq: Rc::default(),
            state: RefCell::default(),
            network: RefCell::default(),
        }));
        connection.connect(ResumeAsk::Enable)?;
        connection.follow_the_network();
        Ok(connection)
    }

    /// Sends an event, or keeps it while reconnecting to send once the session is back;
    /// returns whether it was taken (not when the connection is over, nor beyond
    /// [`MAX_OUTBOX`] kept).
    pub fn emit(&self, event: &ClientEvent) -> bool {
        let mut state = self.0.state.borrow_mut();
        if state.dropped_at.is_some() && !state.closed {
            if state.outbox.len() >= MAX_OUTBOX {
                return false;
            }
            state.outbox.push(event.clone());
            return true;
        }
        state
            .socket
            .as_ref()
            .is_some_and(|socket| socket.emit(event))
    }

    /// Ends the session on purpose: the server is told, nothing is resumed or reported. The
    /// socket is kept (it may be inside its own callback now) and dropped with the connection.
    pub fn close(&self) {
        let mut state = self.0.state.borrow_mut();
        state.closed = true;
        if let Some(socket) = &state.socket {
            socket.close();
        }
    }

    fn connect(&self, ask: ResumeAsk) -> Result<(), String> {
        let weak = Rc::downgrade(&self.0);
        let socket = Socket::connect(
            self.0.token.clone(),
            Some(ask),
            self.0.last_seq.clone(),
            move |report| {
                if let Some(inner) = weak.upgrade() {
                    Connection(inner).on_report(report);
                }
            },
        )?;
        // The old socket, if any, ended already; replacing it drops it outside its callbacks.
        let old = self.0.state.borrow_mut().socket.replace(socket);
        drop(old);
        Ok(())
    }

    fn on_report(&self, report: Report) {
        if self.0.state.borrow().closed {
            return;
        }
        let handler = &self.0.handler;
        match report {
            Report::Connected { id } => {
                // A reconnection is told by `resumed` or `resume_failed`, not as a new start.
                if self.0.state.borrow().dropped_at.is_none() {
                    handler(SocketEvent::Connected { id });
                }
            }
            Report::Event(event) => {
                let resumed = matches!(event, ServerEvent::Resumed(_));
                self.follow(&event);
                handler(SocketEvent::Event(event));
                if resumed {
                    self.flush();
                }
            }
            Report::Ended(end) => {
                // A shutdown notice speaks for the end of its own socket, whichever end it is.
                let restarting = std::mem::take(&mut self.0.state.borrow_mut().restarting);
                match end {
                    End::Dropped(reason) => self.dropped(reason),
                    End::Over(reason) if restarting => {
                        self.dropped(format!("{reason} (shutting down)"));
                    }
                    End::Over(reason) => {
                        self.0.state.borrow_mut().closed = true;
                        handler(SocketEvent::Closed { reason });
                    }
                }
            }
        }
    }

    /// Keeps what the session's own events say: its token, and that a reconnection is over.
    fn follow(&self, event: &ServerEvent) {
        let mut state = self.0.state.borrow_mut();
        match event {
            ServerEvent::Resumable(grant) | ServerEvent::Resumed(grant) => {
                state.resume = Some((grant.token.clone(), grant.grace));
                state.dropped_at = None;
                state.attempt = 0;
                state.backoff = 0;
            }
            ServerEvent::ResumeFailed(_) => {
                // A fresh session: its `resumable` and its own numbering follow. What the page
                // sent meanwhile was for the old one.
                state.resume = None;
                state.dropped_at = None;
                state.attempt = 0;
                state.backoff = 0;
                state.outbox.clear();
                self.0.last_seq.set(0);
            }
            ServerEvent::Closing(closing) => {
                state.restarting = closing.code == CloseCode::Shutdown;
            }
            _ => {}
        }
    }

    /// The WebSocket dropped: reconnect and resume while the grace period lasts, else it is over.
    fn dropped(&self, reason: String) {
        let now = js_sys::Date::now();
        let (attempt, backoff) = {
            let mut state = self.0.state.borrow_mut();
            let Some((_, grace)) = state.resume else {
                drop(state);
                return self.end(reason);
            };
            let since = *state.dropped_at.get_or_insert(now);
            if now - since > grace as f64 * 1000.0 {
                drop(state);
                return self.end(format!(
                    "{reason}; not back within the {grace} s grace period"
                ));
            }
            state.attempt += 1;
            state.backoff += 1;
            state.waiting = Some(state.attempt);
            (state.attempt, state.backoff)
        };
        (self.0.handler)(SocketEvent::Reconnecting { attempt });
        let delay = (FIRST_DELAY_MS << (backoff - 1).min(4)).min(MAX_DELAY_MS);
        let weak: Weak<Inner> = Rc::downgrade(&self.0);
        leptos::task::spawn_local(async move {
            sleep(delay).await;
            if let Some(inner) = weak.upgrade() {
                Connection(inner).retry(Some(attempt));
            }
        });
    }

    /// Reconnects now, resuming: when `attempt`'s wait is over, or (`None`) when the browser
    /// is online again. Each wait leads to one attempt at most.
    fn retry(&self, attempt: Option<u32>) {
        let (ask, grace) = {
            let mut state = self.0.state.borrow_mut();
            let due = match attempt {
                Some(attempt) => state.waiting == Some(attempt),
                None => {
                    // Online again: an attempt under way may still fail, as made offline; the
                    // one after it waits the shortest time.
                    state.backoff = 0;
                    state.waiting.is_some()
                }
            };
            if state.closed || !due {
                return;
            }
            state.waiting = None;
            let Some((token, grace)) = &state.resume else {
                return;
            };
            let ask = ResumeAsk::Resume {
                token: token.clone(),
                seq: self.0.last_seq.get(),
            };
            (ask, *grace)
        };
        if let Err(err) = self.connect(ask) {
            self.end(format!("cannot reconnect: {err} (grace {grace} s)"));
        }
    }

    /// What the browser knows of its network: coming back is the moment to reconnect, not the
    /// end of the backoff; going away is a drop now, not when a ping goes unanswered.
    fn follow_the_network(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let on = |event: &'static str, act: fn(&Connection)| {
            let weak = Rc::downgrade(&self.0);
            let listener = Listener::new(move || {
                if let Some(inner) = weak.upgrade() {
                    act(&Connection(inner));
                }
            });
            let _ =
                window.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
            self.0.network.borrow_mut().push((event, listener));
        };
        on("online", |connection| connection.retry(None));
        on("offline", Connection::offline);
    }

    /// The browser is offline: a resumable session that is up gives its WebSocket up and
    /// reconnects as after any drop (its attempts fail until the browser is online again). One
    /// that cannot be resumed keeps its socket, which may yet work.
    fn offline(&self) {
        let state = self.0.state.borrow();
        let up = state.resume.is_some() && state.dropped_at.is_none() && !state.closed;
        let Some(socket) = state.socket.as_ref().filter(|_| up) else {
            return;
        };
        socket.abandon();
        drop(state);
        self.dropped("the browser is offline".into());
    }

    /// Sends what the page sent while reconnecting, in order, now that the session is back.
    fn flush(&self) {
        let state = &mut *self.0.state.borrow_mut();
        if let Some(socket) = &state.socket {
            for event in state.outbox.drain(..) {
                socket.emit(&event);
            }
        }
    }

    fn end(&self, reason: String) {
        self.0.state.borrow_mut().closed = true;
        (self.0.handler)(SocketEvent::Closed { reason });
    }
}
