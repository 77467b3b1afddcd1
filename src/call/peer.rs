//! One `RTCPeerConnection` to one peer, negotiated with the "perfect negotiation" pattern:
//! either side may offer at any time (adding a camera later is a renegotiation), and when both
//! offer at once the impolite peer ignores the other's offer while the polite one rolls back
//! its own. Politeness is decided by comparing socket ids, so the two sides always disagree.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, RtcConfiguration, RtcIceCandidateInit, RtcIceServer, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState,
    RtcTrackEvent,
};

use crate::browser::sleep;
use crate::protocol::{IceCandidate, IceServer, Signal};

/// What a link reports to the call it belongs to.
pub struct Callbacks {
    /// Sends a signaling payload to this peer.
    pub send: Box<dyn Fn(Signal)>,
    /// The peer's media arrived.
    pub on_stream: Box<dyn Fn(MediaStream)>,
    /// The connection's state, when it changes and when media arrives (see [`PeerLink::state`]).
    pub on_state: Box<dyn Fn(String)>,
}

type Handler = Closure<dyn FnMut(JsValue)>;

/// How long the polite side waits for the other side's offer before making its first own.
const POLITE_FIRST_OFFER_DELAY_MS: i32 = 250;

pub struct PeerLink {
    pc: RtcPeerConnection,
    polite: bool,
    making_offer: Cell<bool>,
    ignore_offer: Cell<bool>,
    /// Signals from the peer, applied one at a time: each step awaits the browser, and a
    /// candidate must not overtake the description it belongs to.
    inbox: RefCell<VecDeque<Signal>>,
    busy: Cell<bool>,
    callbacks: Callbacks,
    /// The event handlers; the connection only holds them weakly.
    handlers: RefCell<Vec<Handler>>,
}

impl PeerLink {
    pub fn new(
        polite: bool,
        ice_servers: &[IceServer],
        callbacks: Callbacks,
    ) -> Result<Rc<Self>, JsValue> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(&ice_server_list(ice_servers));
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let link = Rc::new(Self {
            pc,
            polite,
            making_offer: Cell::new(false),
            ignore_offer: Cell::new(false),
            inbox: RefCell::default(),
            busy: Cell::new(false),
            callbacks,
            handlers: RefCell::default(),
        });
        link.attach_handlers();
        Ok(link)
    }

    pub fn connection(&self) -> &RtcPeerConnection {
        &self.pc
    }

    /// `connectionState`: `new`, `connecting`, `connected`, `disconnected`, `failed` or `closed`.
    /// Read by name: web-sys's enum has no string form.
    pub fn state(&self) -> String {
        Reflect::get(&self.pc, &"connectionState".into())
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    /// After this side's signaling came back from a dropped connection: if the network path
    /// changed under the call (the connection failed or is failing), gathers new candidates
    /// and renegotiates (an ICE restart); a connection that still works is left alone.
    pub fn restart_if_broken(&self) {
        if matches!(self.state().as_str(), "failed" | "disconnected") {
            restart_ice(&self.pc);
        }
    }

    /// Handles a signal from the peer, after any still being applied.
    pub fn receive(self: &Rc<Self>, signal: Signal) {
        self.inbox.borrow_mut().push_back(signal);
        if self.busy.replace(true) {
            return;
        }
        let link = self.clone();
        spawn_local(async move {
            loop {
                let Some(signal) = link.inbox.borrow_mut().pop_front() else {
                    break;
                };
                if let Err(err) = link.apply(signal).await {
                    web_sys::console::warn_2(&"signalroom: signaling step failed".into(), &err);
                }
            }
            link.busy.set(false);
        });
    }

    pub fn close(&self) {
        self.pc.close();
        for handler in [
            "onnegotiationneeded",
            "onicecandidate",
            "ontrack",
            "onconnectionstatechange",
        ] {
            let _ = Reflect::set(&self.pc, &handler.into(), &JsValue::NULL);
        }
    }

    fn attach_handlers(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let on_negotiation = Closure::<dyn FnMut(JsValue)>::new({
            let weak = weak.clone();
            move |_| {
                if let Some(link) = weak.upgrade() {
                    spawn_local(async move { link.offer().await });
                }
            }
        });
        let on_candidate = Closure::<dyn FnMut(JsValue)>::new({
            let weak = weak.clone();
            move |event: JsValue| {
                let (Some(link), Ok(event)) = (
                    weak.upgrade(),
                    event.dyn_into::<RtcPeerConnectionIceEvent>(),
                ) else {
                    return;
                };
                let candidate = event.candidate().map(|c| IceCandidate {
                    candidate: c.candidate(),
                    sdp_mid: c.sdp_mid(),
                    sdp_m_line_index: c.sdp_m_line_index(),
                    username_fragment: None,
                });
                (link.callbacks.send)(Signal::Candidate { candidate });
            }
        });
        let on_track = Closure::<dyn FnMut(JsValue)>::new({
            let weak = weak.clone();
            move |event: JsValue| {
                let (Some(link), Ok(event)) = (weak.upgrade(), event.dyn_into::<RtcTrackEvent>())
                else {
                    return;
                };
                if let Ok(stream) = event.streams().get(0).dyn_into::<MediaStream>() {
                    (link.callbacks.on_stream)(stream);
                    // Media can arrive on a renegotiation, long after the state last changed.
                    (link.callbacks.on_state)(link.state());
                }
            }
        });
        let on_state = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(link) = weak.upgrade() {
                let state = link.state();
                // The path is gone for good (a relay or network that went away): only new
                // candidates can bring it back. Both sides may restart at once; perfect
                // negotiation settles it.
                if state == "failed" {
                    restart_ice(&link.pc);
                }
                (link.callbacks.on_state)(state);
            }
        });
        self.pc
            .set_onnegotiationneeded(Some(on_negotiation.as_ref().unchecked_ref()));
        self.pc
            .set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        self.pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        self.pc
            .set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        self.handlers
            .borrow_mut()
            .extend([on_negotiation, on_candidate, on_track, on_state]);
    }

    /// `negotiationneeded`: make and send an offer.
    async fn offer(&self) {
        if self.polite && self.pc.remote_description().is_none() {
            // Before the first exchange, the polite side gives the other a moment to offer
            // first: when both start at once, answering is safer than offering and rolling
            // back (see `apply`). If an offer came meanwhile, its answer settled this.
            sleep(POLITE_FIRST_OFFER_DELAY_MS).await;
            if self.pc.signaling_state() != RtcSignalingState::Stable
                || self.pc.remote_description().is_some()
            {
                return;
            }
        }
        self.making_offer.set(true);
        let result = JsFuture::from(set_local_description(&self.pc)).await;
        self.making_offer.set(false);
        match result {
            Ok(_) => self.send_local_description(),
            Err(err) => web_sys::console::warn_2(&"signalroom: offer failed".into(), &err),
        }
    }

    async fn apply(&self, signal: Signal) -> Result<(), JsValue> {
        match signal {
            Signal::Offer { sdp } | Signal::Answer { sdp } if sdp.is_empty() => Ok(()),
            Signal::Offer { sdp } => {
                let collision = self.making_offer.get()
                    || self.pc.signaling_state() != RtcSignalingState::Stable;
                self.ignore_offer.set(!self.polite && collision);
                if self.ignore_offer.get() {
                    return Ok(());
                }
                // For the polite peer this rolls back its own offer first (implicit rollback).
                self.set_remote(RtcSdpType::Offer, &sdp).await?;
                JsFuture::from(set_local_description(&self.pc)).await?;
                self.send_local_description();
                if collision {
                    // Chromium can lose the candidate gathering it began for the offer it just
                    // rolled back: the answer then goes out with no candidates ever following,
                    // and the pair never connects. An ICE restart, once the other side has our
                    // answer, gathers afresh under a new offer.
                    restart_ice(&self.pc);
                }
                Ok(())
            }
            Signal::Answer { sdp } => self.set_remote(RtcSdpType::Answer, &sdp).await,
            Signal::Candidate { candidate } => {
                let init = candidate.map(|c| {
                    let init = RtcIceCandidateInit::new(&c.candidate);
                    init.set_sdp_mid(c.sdp_mid.as_deref());
                    init.set_sdp_m_line_index(c.sdp_m_line_index);
                    init
                });
                let added = JsFuture::from(
                    self.pc
                        .add_ice_candidate_with_opt_rtc_ice_candidate_init(init.as_ref()),
                )
                .await;
                // Candidates for an offer we ignored are expected to fail.
                match added {
                    Err(err) if !self.ignore_offer.get() => Err(err),
                    _ => Ok(()),
                }
            }
            Signal::Hangup => Ok(()), // The call handles hang-ups.
        }
    }

    async fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<(), JsValue> {
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&init)).await?;
        Ok(())
    }

    fn send_local_description(&self) {
        let Some(description) = self.pc.local_description() else {
            return;
        };
        let sdp = description.sdp();
        let signal = match description.type_() {
            RtcSdpType::Offer => Signal::Offer { sdp },
            RtcSdpType::Answer => Signal::Answer { sdp },
            _ => return,
        };
        (self.callbacks.send)(signal);
    }
}

/// `setLocalDescription()` without arguments: the browser creates the offer or answer the
/// signaling state calls for. web-sys only binds the form that takes a description.
pub(super) fn set_local_description(pc: &RtcPeerConnection) -> Promise {
    Reflect::get(pc, &"setLocalDescription".into())
        .and_then(|f| f.dyn_into::<Function>())
        .and_then(|f| f.call0(pc))
        .and_then(|p| p.dyn_into::<Promise>())
        .unwrap_or_else(|err| Promise::reject(&err))
}

/// `restartIce()`: the next offer gathers new candidates. Not bound by web-sys.
fn restart_ice(pc: &RtcPeerConnection) {
    let restarted = Reflect::get(pc, &"restartIce".into())
        .and_then(|f| f.dyn_into::<Function>())
        .and_then(|f| f.call0(pc));
    if let Err(err) = restarted {
        web_sys::console::warn_2(&"signalroom: ICE restart failed".into(), &err);
    }
}

pub(super) fn ice_server_list(servers: &[IceServer]) -> Array {
    servers
        .iter()
        .map(|server| {
            let entry = RtcIceServer::new();
            let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            entry.set_urls(&urls);
            if let Some(username) = &server.username {
                entry.set_username(username);
            }
            if let Some(credential) = &server.credential {
                entry.set_credential(credential);
            }
            JsValue::from(entry)
        })
        .collect()
}
