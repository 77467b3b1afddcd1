//! The call's state in the browser: who is in the room, the local camera and microphone, and
//! one [`PeerLink`] per peer in a full mesh. Fed with the room's server events by the chat's
//! connection; sends `signal`s and `ice_servers` requests through it.
//!
//! Who connects to whom: starting the call connects to everyone already in the room; peers
//! that start later connect to us. Offers are accepted at any time, so someone who has not
//! started their camera still sees the others (and sends once they start, by renegotiating).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

use super::connectivity;
use super::peer::{Callbacks, PeerLink};
use super::tiles;
use crate::protocol::{ClientEvent, IceServer, RoomName, ServerEvent, Signal};

/// What the call's buttons and status line show.
#[derive(Clone, Copy)]
pub struct CallView {
    pub status: RwSignal<String>,
    pub in_call: RwSignal<bool>,
    pub muted: RwSignal<bool>,
    pub hidden: RwSignal<bool>,
    /// The connectivity check: running, each server's line, and what it means for calls.
    pub checking: RwSignal<bool>,
    pub checks: RwSignal<Vec<String>>,
    pub verdict: RwSignal<String>,
}

impl CallView {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(String::new()),
            in_call: RwSignal::new(false),
            muted: RwSignal::new(false),
            hidden: RwSignal::new(false),
            checking: RwSignal::new(false),
            checks: RwSignal::new(Vec::new()),
            verdict: RwSignal::new(String::new()),
        }
    }
}

impl Default for CallView {
    fn default() -> Self {
        Self::new()
    }
}

type Emit = Rc<dyn Fn(&ClientEvent) -> bool>;

pub struct CallSession {
    view: CallView,
    emit: Emit,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// This client's socket id and room, once joined.
    me: Option<(String, RoomName)>,
    /// The others in the room: id → display name.
    peers: BTreeMap<String, String>,
    links: HashMap<String, Rc<PeerLink>>,
    local: Option<MediaStream>,
    ice_servers: Vec<IceServer>,
}

impl CallSession {
    pub fn new(view: CallView, emit: impl Fn(&ClientEvent) -> bool + 'static) -> Rc<Self> {
        Rc::new(Self {
            view,
            emit: Rc::new(emit),
            state: RefCell::default(),
        })
    }

    /// Follows the room: who is there, who left, and signals addressed to us.
    pub fn on_event(self: &Rc<Self>, event: &ServerEvent) {
        match event {
            ServerEvent::Joined { room, id } => {
                if let Ok(room) = RoomName::parse(room) {
                    self.state.borrow_mut().me = Some((id.clone(), room));
                    (self.emit)(&ClientEvent::IceServers);
                }
            }
            // The whole room: after a resume with a gap (see `ResumeGrant::gap`) it may
            // also say who left unheard.
            ServerEvent::Roster { peers, .. } => {
                let gone: Vec<String> = {
                    let mut state = self.state.borrow_mut();
                    let listed = |id: &String| peers.iter().any(|p| &p.id == id);
                    let gone = state
                        .peers
                        .keys()
                        .filter(|id| !listed(id))
                        .cloned()
                        .collect();
                    state.peers.clear();
                    for peer in peers {
                        state.peers.insert(peer.id.clone(), peer.name.clone());
                    }
                    gone
                };
                for id in gone {
                    self.drop_link(&id);
                }
            }
            ServerEvent::OtherJoin { id, name, .. } => {
                self.state
                    .borrow_mut()
                    .peers
                    .insert(id.clone(), name.clone());
            }
            ServerEvent::IceServers(servers) => {
                self.state.borrow_mut().ice_servers = servers.clone();
                if self.view.checking.get_untracked() {
                    self.run_check(servers.clone());
                }
            }
            ServerEvent::Bye { id, .. } => {
                self.state.borrow_mut().peers.remove(id);
                self.drop_link(id);
            }
            ServerEvent::Signal { from, signal, .. } => self.on_signal(from, signal.clone()),
            ServerEvent::Full { room, .. } => self.view.status.set(format!(
                "Room {room} is full: every seat is taken. Try another room."
            )),
            ServerEvent::Leaved { .. } => self.left_room(),
            // A peer's connection to the server dropped; its tile stays, marked, until it is
            // back (or `bye` removes it).
            ServerEvent::Away { id, .. } => tiles::set_away(id, true),
            ServerEvent::Back { id, .. } => tiles::set_away(id, false),
            // This side's connection came back: links whose path broke meanwhile restart ICE.
            ServerEvent::Resumed(_) => {
                for link in self.state.borrow().links.values() {
                    link.restart_if_broken();
                }
            }
            // It came back as someone new: the others said `bye` to the old peer.
            ServerEvent::ResumeFailed(_) => {
                let in_call = self.view.in_call.get_untracked();
                self.left_room();
                if in_call {
                    self.view
                        .status
                        .set("Call ended: the connection could not be resumed".into());
                }
            }
            _ => {}
        }
    }

    /// The connection to the server is gone: so is the call.
    pub fn on_closed(self: &Rc<Self>) {
        self.left_room();
    }

    /// Starts the camera and microphone and calls everyone in the room.
    pub fn start(self: &Rc<Self>) {
        if self.view.in_call.get_untracked() {
            return;
        }
        self.view.in_call.set(true);
        self.view
            .status
            .set("Starting camera and microphone…".into());
        let call = self.clone();
        leptos::task::spawn_local(async move {
            match user_media().await {
                Ok(stream) => call.started(stream),
                Err(reason) => {
                    call.view.in_call.set(false);
                    call.view.status.set(reason);
                }
            }
        });
    }

    /// Checks which STUN and TURN servers work from here, with fresh credentials: asks the
    /// server for them, and runs the check when they come.
    pub fn check_connectivity(&self) {
        if self.view.checking.get_untracked() {
            return;
        }
        self.view.checking.set(true);
        self.view.checks.set(Vec::new());
        self.view.verdict.set("Testing connectivity…".into());
        if !(self.emit)(&ClientEvent::IceServers) {
            self.view.checking.set(false);
            self.view
                .verdict
                .set("Not connected: connect to a room first.".into());
        }
    }

    fn run_check(&self, servers: Vec<IceServer>) {
        let view = self.view;
        leptos::task::spawn_local(async move {
            let report = connectivity::report(servers).await;
            view.checks.set(report.lines);
            view.verdict.set(report.verdict.to_owned());
            view.checking.set(false);
        });
    }

    /// Leaves the call: tells every peer, closes every connection, stops the camera.
    pub fn hang_up(self: &Rc<Self>) {
        let ids: Vec<String> = self.state.borrow().links.keys().cloned().collect();
        for id in &ids {
            self.send(id, Signal::Hangup);
            self.drop_link(id);
        }
        self.stop_local();
        self.view.status.set("Call ended".into());
    }

    pub fn toggle_mute(&self) {
        let muted = !self.view.muted.get_untracked();
        self.set_tracks_enabled("audio", !muted);
        self.view.muted.set(muted);
    }

    pub fn toggle_video(&self) {
        let hidden = !self.view.hidden.get_untracked();
        self.set_tracks_enabled("video", !hidden);
        self.view.hidden.set(hidden);
    }

    fn started(self: &Rc<Self>, stream: MediaStream) {
        if !self.view.in_call.get_untracked() {
            stop_tracks(&stream); // Hung up while the camera was starting.
            return;
        }
        tiles::show(tiles::LOCAL, "You", Some(&stream));
        let peers: Vec<String> = {
            let mut state = self.state.borrow_mut();
            state.local = Some(stream.clone());
            state.peers.keys().cloned().collect()
        };
        // Existing links (we were receiving) renegotiate to send; new ones offer.
        for link in self.state.borrow().links.values() {
            add_tracks(link, &stream);
        }
        for id in peers {
            self.link(&id);
        }
        self.update_status();
    }

    fn on_signal(self: &Rc<Self>, from: &str, signal: Signal) {
        if signal == Signal::Hangup {
            self.drop_link(from);
            return;
        }
        if let Some(link) = self.link(from) {
            link.receive(signal);
        }
    }

    /// The link to `peer`, created (with our tracks, if any) when there is none yet.
    fn link(self: &Rc<Self>, peer: &str) -> Option<Rc<PeerLink>> {
        if let Some(link) = self.state.borrow().links.get(peer) {
            return Some(link.clone());
        }
        let (me, ice, local, name) = {
            let state = self.state.borrow();
            let (me, _) = state.me.clone()?;
            let name = state
                .peers
                .get(peer)
                .cloned()
                .unwrap_or_else(|| peer.to_owned());
            (me, state.ice_servers.clone(), state.local.clone(), name)
        };
        let weak = Rc::downgrade(self);
        let (to, shown, marked) = (peer.to_owned(), peer.to_owned(), peer.to_owned());
        let callbacks = Callbacks {
            send: Box::new({
                let weak = weak.clone();
                move |signal| {
                    if let Some(call) = weak.upgrade() {
                        call.send(&to, signal);
                    }
                }
            }),
            on_stream: Box::new(move |stream| tiles::show(&shown, &name, Some(&stream))),
            on_state: Box::new(move |state| {
                tiles::set_state(&marked, &state);
                if let Some(call) = weak.upgrade() {
                    call.update_status();
                }
            }),
        };
        // Ids differ, so exactly one side of each pair is polite.
        let link = match PeerLink::new(me.as_str() < peer, &ice, callbacks) {
            Ok(link) => link,
            Err(err) => {
                web_sys::console::warn_2(&"signalroom: no peer connection".into(), &err);
                return None;
            }
        };
        if let Some(stream) = &local {
            add_tracks(&link, stream);
        }
        self.state
            .borrow_mut()
            .links
            .insert(peer.to_owned(), link.clone());
        Some(link)
    }

    fn drop_link(&self, peer: &str) {
        if let Some(link) = self.state.borrow_mut().links.remove(peer) {
            link.close();
        }
        tiles::remove(peer);
        self.update_status();
    }

    fn left_room(&self) {
        let links: Vec<Rc<PeerLink>> = {
            let mut state = self.state.borrow_mut();
            state.me = None;
            state.peers.clear();
            state.links.drain().map(|(_, link)| link).collect()
        };
        links.iter().for_each(|link| link.close());
        self.stop_local();
        tiles::clear();
    }

    fn stop_local(&self) {
        if let Some(stream) = self.state.borrow_mut().local.take() {
            stop_tracks(&stream);
        }
        tiles::remove(tiles::LOCAL);
        self.view.in_call.set(false);
        self.view.muted.set(false);
        self.view.hidden.set(false);
    }

    fn send(&self, to: &str, signal: Signal) {
        let Some((_, room)) = self.state.borrow().me.clone() else {
            return;
        };
        (self.emit)(&ClientEvent::Signal {
            room,
            to: to.to_owned(),
            signal,
        });
    }

    fn set_tracks_enabled(&self, kind: &str, enabled: bool) {
        if let Some(stream) = &self.state.borrow().local {
            for track in stream.get_tracks().iter() {
                if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                    if track.kind() == kind {
                        track.set_enabled(enabled);
                    }
                }
            }
        }
    }

    fn update_status(&self) {
        if !self.view.in_call.get_untracked() {
            return;
        }
        let connected = self
            .state
            .borrow()
            .links
            .values()
            .filter(|link| link.state() == "connected")
            .count();
        self.view.status.set(match connected {
            0 => "In the call, waiting for others".into(),
            1 => "In the call with 1 other".into(),
            n => format!("In the call with {n} others"),
        });
    }
}

fn add_tracks(link: &PeerLink, stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            link.connection().add_track_0(&track, stream);
        }
    }
}

fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.stop();
        }
    }
}

/// Asks for the camera and microphone; the error is a message for people.
async fn user_media() -> Result<MediaStream, String> {
    let devices = web_sys::window()
        .map(|w| w.navigator())
        .and_then(|n| n.media_devices().ok())
        .ok_or(
            "This browser cannot use a camera here: open the page over https or on localhost.",
        )?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio_bool(true);
    constraints.set_video_bool(true);
    let request = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| "The camera could not be requested.".to_owned())?;
    match JsFuture::from(request).await {
        Ok(stream) => stream
            .dyn_into::<MediaStream>()
            .map_err(|_| "The camera gave no stream.".to_owned()),
        Err(err) => {
            let name = js_sys::Reflect::get(&err, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_default();
            Err(match name.as_str() {
                "NotAllowedError" | "SecurityError" => {
                    "Camera or microphone access was denied. Allow it in the browser's site settings and try again.".into()
                }
                "NotFoundError" | "OverconstrainedError" => {
                    "No camera or microphone was found.".into()
                }
                "NotReadableError" => "The camera or microphone is in use by another program.".into(),
                _ => format!("The camera could not start ({name})."),
            })
        }
    }
}
