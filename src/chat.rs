//! The chat room: the tutorial's page (username, room, Connect, Leave, output, input, Send),
//! driven by the Rust Socket.IO client.

use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use serde_json::Value;

use crate::browser::BrowserOnly;
use crate::call::{CallPanel, CallSession, CallView};
use crate::client::{page_token, unchecked_claims, Connection, SocketEvent};
use crate::members::{MembersPanel, MembersView};
use crate::protocol::{ClientEvent, CloseCode, DisplayName, JoinOptions, RoomName, ServerEvent};

/// Where the page is in its connection's life; the buttons' states follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Joining,
    Joined { room: RoomName },
    Leaving,
}

/// What the chat shows and remembers: reactive handles, cheap to copy into each callback.
#[derive(Clone, Copy)]
struct ChatState {
    phase: RwSignal<Phase>,
    output: RwSignal<String>,
    status: RwSignal<String>,
    socket: BrowserOnly<Connection>,
    /// The last join asked for: asked again if the connection comes back as a new session.
    last_join: StoredValue<Option<ClientEvent>>,
}

impl ChatState {
    /// What a socket event does to the chat: its output, its phase and its status line.
    fn on_event(self, event: SocketEvent) {
        let Self {
            phase,
            output,
            status,
            socket,
            last_join,
        } = self;
        let event = match event {
            SocketEvent::Event(event) => event,
            SocketEvent::Connected { .. } => return, // `connect` queued the join.
            // A dropped connection coming back (see `client::connection`).
            SocketEvent::Reconnecting { attempt } => {
                return status.set(if attempt == 1 {
                    "Reconnecting…".to_owned()
                } else {
                    format!("Reconnecting… (attempt {attempt})")
                })
            }
            SocketEvent::Closed { reason } => {
                if phase.get_untracked() != Phase::Idle {
                    status.set(format!("Disconnected: {reason}"));
                }
                return phase.set(Phase::Idle);
            }
        };
        match event {
            ServerEvent::Joined { room, id } => {
                if let Ok(room) = RoomName::parse(&room) {
                    status.set(format!("Joined room {room} as {id}"));
                    phase.set(Phase::Joined { room });
                }
            }
            ServerEvent::Leaved { room, .. } => {
                // A removal said why already; a leave the user asked for says so here.
                if phase.get_untracked() == Phase::Leaving {
                    status.set(format!("Left room {room}"));
                }
                phase.set(Phase::Idle);
                socket.with(Connection::close);
            }
            ServerEvent::Message { data, .. } => {
                let line = match data {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                output.update(|out| {
                    out.push_str(&line);
                    out.push('\n');
                });
            }
            ServerEvent::Refused(refusal) => {
                status.set(format!("Refused {}: {}", refusal.event, refusal.message));
                if phase.get_untracked() == Phase::Joining {
                    phase.set(Phase::Idle);
                    socket.with(Connection::close);
                }
            }
            ServerEvent::Full { room, .. } => {
                status.set(format!("Room {room} is full"));
                phase.set(Phase::Idle);
                socket.with(Connection::close);
            }
            ServerEvent::Resumed(grant) => {
                if let Phase::Joined { room } = phase.get_untracked() {
                    status.set(if grant.gap {
                        format!("Reconnected through another server: back in room {room}, but lines sent while the old one failed may be missing")
                    } else {
                        format!("Reconnected: back in room {room}")
                    });
                }
            }
            ServerEvent::ResumeFailed(failure) => {
                // A new session: the old peer left the room, so this one joins again.
                status.set(format!(
                    "Reconnected as someone new ({}): joining again",
                    failure.message
                ));
                if matches!(phase.get_untracked(), Phase::Joined { .. }) {
                    phase.set(Phase::Joining);
                    if let Some(join) = last_join.get_value() {
                        socket.with(|s| s.emit(&join));
                    }
                }
            }
            // The server is going away; the connection comes back by itself (see
            // `client::connection`) and the room is joined again.
            ServerEvent::Closing(closing) if closing.code == CloseCode::Shutdown => {
                status.set("The server is shutting down: reconnecting…".to_owned())
            }
            ServerEvent::Closing(closing) => {
                // The disconnect follows; leaving the phase idle keeps this reason on screen.
                status.set(format!("Disconnected by the server: {}", closing.message));
                phase.set(Phase::Idle);
            }
            event @ (ServerEvent::Bye { .. }
            | ServerEvent::OtherJoin { .. }
            | ServerEvent::Removed { .. }
            | ServerEvent::Locked { .. }
            | ServerEvent::Away { .. }
            | ServerEvent::Back { .. }) => status.set(notice(&event).unwrap_or_default()),
            // Call signaling and the resume token: the chat has no use for them.
            ServerEvent::Roster { .. }
            | ServerEvent::Signal { .. }
            | ServerEvent::IceServers(_)
            | ServerEvent::Resumable(_) => {}
        }
    }
}

/// The status line for a room event that changes nothing else on the chat's side (someone
/// came, left, went away or came back; a removal; a lock); `None` for any other event.
fn notice(event: &ServerEvent) -> Option<String> {
    Some(match event {
        ServerEvent::Bye { id, .. } => format!("{id} left the room"),
        ServerEvent::OtherJoin { name, .. } => format!("{name} joined the room"),
        ServerEvent::Removed { room, reason } => {
            format!("Removed from room {room}: {}", reason.message)
        }
        ServerEvent::Locked { room, locked: true } => {
            format!("Room {room} is locked: no one new can join")
        }
        ServerEvent::Locked {
            room,
            locked: false,
        } => format!("Room {room} is unlocked"),
        ServerEvent::Away { id, .. } => format!("{id} is reconnecting…"),
        ServerEvent::Back { id, .. } => format!("{id} is back"),
        _ => return None,
    })
}

#[component]
pub fn Chat() -> impl IntoView {
    let phase = RwSignal::new(Phase::Idle);
    let output = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let hydrated = RwSignal::new(false);
    let socket = BrowserOnly::<Connection>::default();
    let last_join = StoredValue::new(None::<ClientEvent>);
    let (username, room_input, seats, input, output_area) = (
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Textarea>::new(),
        NodeRef::<html::Textarea>::new(),
    );
    // A join token from the page's address (`?token=`), read once hydrated (`None` on the
    // server, which renders no moderation controls).
    let token = StoredValue::new(None::<String>);
    let moderator = RwSignal::new(false);
    let members = MembersView::new();
    // The call shares this connection: it follows the room's events and sends its signals.
    let call_view = CallView::new();
    let call = BrowserOnly::<Rc<CallSession>>::default();

    // Effects run only in the browser: this marks the page as hydrated (tests wait for it).
    Effect::new(move || {
        call.set(CallSession::new(call_view, move |event| {
            socket.with(|s| s.emit(event)).unwrap_or(false)
        }));
        let found = page_token();
        let claims = found
            .as_deref()
            .and_then(unchecked_claims)
            .unwrap_or_default();
        moderator.set(claims["role"] == "moderator");
        // The token's name is the one others see: the page uses it too, in its chat lines.
        if let (Some(name), Some(field)) = (claims["name"].as_str(), username.get_untracked()) {
            field.set_value(name);
            field.set_read_only(true);
        }
        token.set_value(found);
        hydrated.set(true);
    });
    // Leaving the page ends the session at once (the room hears `bye` now rather than when the
    // grace period for a dropped connection ends).
    Effect::new(move || {
        let _ = window_event_listener(leptos::ev::pagehide, move |_| {
            socket.with(Connection::close);
        });
    });
    // Keep the newest line in view: after the next frame, once the new value is rendered.
    Effect::new(move || {
        output.track();
        request_animation_frame(move || {
            if let Some(area) = output_area.get_untracked() {
                area.set_scroll_top(area.scroll_height());
            }
        });
    });

    let chat = ChatState {
        phase,
        output,
        status,
        socket,
        last_join,
    };
    let on_socket_event = move |event: SocketEvent| {
        match &event {
            SocketEvent::Event(server_event) => {
                members.on_event(server_event);
                call.with(|c| c.on_event(server_event));
            }
            SocketEvent::Closed { .. } => {
                members.clear();
                call.with(|c| c.on_closed());
            }
            SocketEvent::Connected { .. } | SocketEvent::Reconnecting { .. } => {}
        }
        chat.on_event(event)
    };
    let connect = move |_| {
        if phase.get_untracked() != Phase::Idle {
            return; // A second click before the first join finished.
        }
        let Some(field) = room_input.get_untracked() else {
            return;
        };
        let room = match RoomName::parse(&field.value()) {
            Ok(room) => room,
            Err(code) => return status.set(code.describe().to_owned()),
        };
        phase.set(Phase::Joining);
        status.set(format!("Connecting to room {room}…"));
        let options = JoinOptions {
            name: username
                .get_untracked()
                .and_then(|field| DisplayName::parse(&field.value()).ok()),
            // Empty or 0: no wish; the server's limit applies.
            capacity: seats
                .get_untracked()
                .and_then(|field| field.value().trim().parse::<usize>().ok())
                .filter(|&n| n > 0),
        };
        let join = ClientEvent::Join { room, options };
        last_join.set_value(Some(join.clone()));
        let result = Connection::open(token.get_value(), move |event| {
            if matches!(event, SocketEvent::Connected { .. }) {
                socket.with(|s| s.emit(&join));
            }
            on_socket_event(event);
        });
        match result {
            // Replacing the old connection drops it here, outside any of its callbacks.
            Ok(new) => socket.set(new),
            Err(err) => {
                status.set(format!("Cannot connect: {err}"));
                phase.set(Phase::Idle);
            }
        }
    };

    let leave = move |_| {
        if let Phase::Joined { room } = phase.get_untracked() {
            phase.set(Phase::Leaving);
            socket.with(|s| s.emit(&ClientEvent::Leave { room }));
        }
    };

    let send = move || {
        let (Phase::Joined { room }, Some(name), Some(field)) = (
            phase.get_untracked(),
            username.get_untracked(),
            input.get_untracked(),
        ) else {
            return;
        };
        let text = field.value();
        if text.is_empty() {
            return;
        }
        let data = Value::String(format!("{}:{text}", name.value()));
        if socket
            .with(|s| s.emit(&ClientEvent::Message { room, data }))
            .unwrap_or(false)
        {
            field.set_value("");
        }
    };

    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        // Not while an input method is composing (Enter then picks a candidate).
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };

    let emit = move |event: ClientEvent| {
        socket.with(|s| s.emit(&event));
    };
    let kick = move |peer: String| {
        if let Phase::Joined { room } = phase.get_untracked() {
            emit(ClientEvent::Kick { room, peer });
        }
    };
    let lock = move |locked: bool| {
        if let Phase::Joined { room } = phase.get_untracked() {
            emit(ClientEvent::Lock { room, locked });
        }
    };

    let joined = move || matches!(phase.get(), Phase::Joined { .. });
    view! {
        <div class="chat" data-hydrated=move || hydrated.get().to_string()>
            <label>"UserName: " <input node_ref=username id="username" type="text" value="Chrome"/></label>
            <div class="row">
                <label>"room: " <input node_ref=room_input id="room" type="text" value="112222"/></label>
                <label>"seats: " <input node_ref=seats id="seats" type="number" min="0" placeholder="any" title="Seats in the room, if you are the first to join it"/></label>
                <button id="connect" on:click=connect disabled=move || phase.get() != Phase::Idle>"Connect"</button>
                <button id="leave" on:click=leave disabled=move || !joined()>"Leave"</button>
            </div>
            <label for="output">"Content:"</label>
            <textarea node_ref=output_area id="output" rows="10" readonly prop:value=move || output.get()></textarea>
            <label for="input">"Input:"</label>
            <textarea node_ref=input id="input" rows="3" disabled=move || !joined() on:keydown=on_key></textarea>
            <div class="row">
                <button id="send" on:click=move |_| send() disabled=move || !joined()>"Send"</button>
                <p id="status" role="status">{move || status.get()}</p>
            </div>
            <Show when=joined>
                <MembersPanel view=members moderator=moderator.get() on_kick=kick on_lock=lock/>
            </Show>
            <CallPanel session=call view=call_view joined=Signal::derive(joined)/>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Removal, RemovalCode};

    #[test]
    fn room_notices_name_who_and_what() {
        let (room, id) = ("r1".to_owned(), "p1".to_owned());
        let line = |event| notice(&event).expect("a notice");
        assert_eq!(
            line(ServerEvent::Bye {
                room: room.clone(),
                id: id.clone()
            }),
            "p1 left the room"
        );
        assert_eq!(
            line(ServerEvent::OtherJoin {
                room: room.clone(),
                id: id.clone(),
                name: "Ada".into()
            }),
            "Ada joined the room"
        );
        assert_eq!(
            line(ServerEvent::Away {
                room: room.clone(),
                id: id.clone()
            }),
            "p1 is reconnecting…"
        );
        assert_eq!(
            line(ServerEvent::Locked {
                room: room.clone(),
                locked: true
            }),
            "Room r1 is locked: no one new can join"
        );
        assert_eq!(
            line(ServerEvent::Locked {
                room: room.clone(),
                locked: false
            }),
            "Room r1 is unlocked"
        );
        let removed = line(ServerEvent::Removed {
            room,
            reason: Removal::new(RemovalCode::Kicked),
        });
        assert!(removed.starts_with("Removed from room r1: "), "{removed}");
    }

    #[test]
    fn events_that_change_more_than_the_status_line_are_not_notices() {
        let joined = ServerEvent::Joined {
            room: "r1".into(),
            id: "p1".into(),
        };
        let message = ServerEvent::Message {
            room: "r1".into(),
            from: "p1".into(),
            data: Value::String("hi".into()),
        };
        assert_eq!(notice(&joined), None);
        assert_eq!(notice(&message), None);
    }
}
