//! Who else is in the room, listed under the chat; with a moderator's token, each member has a
//! Kick button and the room a Lock / Unlock button. The server decides: a member's attempt is
//! simply refused.

use leptos::prelude::*;

use crate::protocol::{Peer, ServerEvent};

/// The list and the lock, as the room's events tell them.
#[derive(Debug, Clone, Copy)]
pub struct MembersView {
    peers: RwSignal<Vec<Peer>>,
    locked: RwSignal<bool>,
}

impl MembersView {
    pub fn new() -> Self {
        Self {
            peers: RwSignal::new(Vec::new()),
            locked: RwSignal::new(false),
        }
    }

    pub fn on_event(&self, event: &ServerEvent) {
        match event {
            ServerEvent::Roster { peers, .. } => self.peers.set(peers.clone()),
            ServerEvent::OtherJoin { id, name, .. } => self.peers.update(|peers| {
                peers.push(Peer {
                    id: id.clone(),
                    name: name.clone(),
                })
            }),
            ServerEvent::Bye { id, .. } => self.peers.update(|peers| peers.retain(|p| &p.id != id)),
            ServerEvent::Locked { locked, .. } => self.locked.set(*locked),
            ServerEvent::Leaved { .. } => self.clear(),
            _ => {}
        }
    }

    pub fn clear(&self) {
        self.peers.set(Vec::new());
        self.locked.set(false);
    }
}

impl Default for MembersView {
    fn default() -> Self {
        Self::new()
    }
}

#[component]
fn Member(peer: Peer, moderator: bool, on_kick: Callback<String>) -> impl IntoView {
    let Peer { id, name } = peer;
    let kick = {
        let id = id.clone();
        move |_| on_kick.run(id.clone())
    };
    view! {
        <li data-id=id>
            <span class="name">{name}</span>
            {moderator.then(|| view! { <button class="kick" on:click=kick>"Kick"</button> })}
        </li>
    }
}

/// `on_kick` gets a member's id; `on_lock` whether to lock.
#[component]
pub fn MembersPanel(
    view: MembersView,
    moderator: bool,
    #[prop(into)] on_kick: Callback<String>,
    #[prop(into)] on_lock: Callback<bool>,
) -> impl IntoView {
    let locked = view.locked;
    view! {
        <div class="members">
            <ul id="members">
                <For each=move || view.peers.get() key=|peer| peer.id.clone() let:peer>
                    <Member peer moderator on_kick/>
                </For>
            </ul>
            <Show when=move || moderator>
                <button id="lock" on:click=move |_| on_lock.run(!locked.get_untracked())>
                    {move || if locked.get() { "Unlock room" } else { "Lock room" }}
                </button>
            </Show>
        </div>
    }
}
