//! The video call beside the chat: start the camera and microphone, mute, hide video, hang
//! up, a status line and a grid with a tile per peer. A full mesh of WebRTC peer connections,
//! signaled through the chat's connection.
//!
//! - [`session`]: the call's state and what each room event does to it.
//! - [`peer`]: one `RTCPeerConnection`, negotiated with the "perfect negotiation" pattern.
//! - [`tiles`]: the video grid.
//! - [`connectivity`]: which STUN and TURN servers work from here ("Test connectivity").

mod connectivity;
mod peer;
mod session;
mod tiles;

use std::rc::Rc;

use leptos::prelude::*;

use crate::browser::BrowserOnly;

pub use session::{CallSession, CallView};

#[component]
pub fn CallPanel(
    session: BrowserOnly<Rc<CallSession>>,
    view: CallView,
    /// Whether the chat is in a room: a call needs one.
    #[prop(into)]
    joined: Signal<bool>,
) -> impl IntoView {
    let in_call = view.in_call;
    view! {
        <section class="call" aria-label="Video call">
            <div class="row">
                <button id="start-call" on:click=move |_| { session.with(|s| s.start()); }
                    disabled=move || !joined.get() || in_call.get()>"Start call"</button>
                <button id="mute" on:click=move |_| { session.with(|s| s.toggle_mute()); }
                    disabled=move || !in_call.get()>
                    {move || if view.muted.get() { "Unmute" } else { "Mute" }}
                </button>
                <button id="hide-video" on:click=move |_| { session.with(|s| s.toggle_video()); }
                    disabled=move || !in_call.get()>
                    {move || if view.hidden.get() { "Show video" } else { "Hide video" }}
                </button>
                <button id="hang-up" on:click=move |_| { session.with(|s| s.hang_up()); }
                    disabled=move || !in_call.get()>"Hang up"</button>
                <button id="test-connectivity" on:click=move |_| { session.with(|s| s.check_connectivity()); }
                    disabled=move || !joined.get() || view.checking.get()
                    title="Check which STUN and TURN servers work from this network">"Test connectivity"</button>
            </div>
            <p id="call-status" role="status">{move || view.status.get()}</p>
            <div id="connectivity" class="connectivity" aria-live="polite">
                <p id="connectivity-verdict">{move || view.verdict.get()}</p>
                <ul>
                    {move || view.checks.get().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                </ul>
            </div>
            <div id=tiles::GRID_ID class="videos"></div>
        </section>
    }
}
