//! Resuming, as a connection begins: the handshake asks for a fresh resumable session, or to
//! resume a peer whose connection dropped (see [`crate::protocol::ResumeAsk`]); once the client
//! is connected it is told which, and a resumed one first gets what it missed.
//!
//! The peer is claimed in the connect middleware, so the socket's handlers speak for it from
//! its first event; it stays away (its events held) until the connect handler has sent
//! `resumed` and replayed the held events, under the peer's log lock, so nothing overtakes them.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tracing::{debug, info};

use super::delivery::{self, Audience, Reach, Sockets};
use super::Hub;
use crate::protocol::{
    wire_name, CloseCode, ResumeAsk, ResumeFailure, ResumeFailureCode, ResumeGrant, RoomName,
    ServerEvent,
};
use crate::server::auth::Grant;
use crate::server::resume::{self, Claim};

/// What the connect middleware decided, for the connect handler to tell the client.
#[derive(Clone)]
pub(super) enum Start {
    /// A fresh resumable session, with its first token.
    Fresh { token: String },
    /// It resumed `claim.peer`, having received its events up to `seq`.
    Resumed { claim: Arc<Claim>, seq: u64 },
    /// It resumed `claim.peer`, whose instance died, having received that instance's events up
    /// to `seq` (see [`super::adopting`]): what it missed meanwhile is lost.
    Adopted { claim: Arc<Claim>, seq: u64 },
    /// Its resume failed for `code`: a fresh session, resumable with `token` if resuming is on.
    Failed {
        code: ResumeFailureCode,
        token: Option<String>,
    },
}

/// What the handshake asks: `auth.resume`, or the query (`resume=1`, or `resume_token` and
/// `resume_seq`) for socket.io 2.x clients.
pub(super) fn asked(auth: Option<&Json>, query: Option<&str>) -> Option<ResumeAsk> {
    if let Some(entry) = auth.and_then(|a| a.get("resume")) {
        return ResumeAsk::from_auth(entry);
    }
    let param = |name| super::query_param(query?, name);
    if let Some(token) = param("resume_token") {
        let seq = match param("resume_seq") {
            Some(seq) => seq.parse().ok()?,
            None => 0,
        };
        return Some(ResumeAsk::Resume { token, seq });
    }
    matches!(param("resume").as_deref(), Some("1" | "true")).then_some(ResumeAsk::Enable)
}

/// In the connect middleware, for `socket` presenting `grant`: the peer it speaks for (its own
/// id, or the one it resumes) and what to tell it once connected.
pub(super) fn begin<A: Adapter>(
    hub: &Hub,
    socket: &SocketRef<A>,
    grant: &Grant,
    ask: Option<ResumeAsk>,
) -> (Sid, Option<Start>) {
    let own = socket.id;
    let Some(ask) = ask else {
        return (own, None);
    };
    let Some(resumes) = hub.resumes() else {
        // Resuming is off: a fresh session, not resumable; a resume is told it failed.
        let start = matches!(ask, ResumeAsk::Resume { .. }).then_some(Start::Failed {
            code: ResumeFailureCode::Unknown,
            token: None,
        });
        return (own, start);
    };
    let fresh = || resumes.enable(own, grant.token.clone(), grant.sub.clone());
    match ask {
        ResumeAsk::Enable => (own, Some(Start::Fresh { token: fresh() })),
        ResumeAsk::Resume { token, seq } => {
            match resumes.claim(&token, seq, own, grant.sub.as_deref()) {
                Ok(claim) => {
                    info!(id = %claim.peer, socket = %own, seq, "resuming");
                    hub.metrics.resumed("resumed");
                    let claim = Arc::new(claim);
                    (claim.peer, Some(Start::Resumed { claim, seq }))
                }
                Err((code, gone)) => {
                    // It missed too much: the peer will not come back, so it leaves now.
                    if let Some(peer) = gone {
                        depart(hub, &Sockets::of(socket), peer);
                    }
                    refused(hub, socket, grant, code)
                }
            }
        }
    }
}

/// A resume refused for `code`, here or by the instance that issued its token (see
/// [`super::tunnel`]): a fresh session, resumable itself.
pub(super) fn refused<A: Adapter>(
    hub: &Hub,
    socket: &SocketRef<A>,
    grant: &Grant,
    code: ResumeFailureCode,
) -> (Sid, Option<Start>) {
    debug!(socket = %socket.id, ?code, "resume refused");
    hub.metrics.resumed(&wire_name(&code));
    let token = hub
        .resumes()
        .map(|r| r.enable(socket.id, grant.token.clone(), grant.sub.clone()));
    (socket.id, Some(Start::Failed { code, token }))
}

/// In the connect handler: tells `socket` how its session began. A resumed one gets `resumed`,
/// then every event after the position it gave, then (once the log is unlocked) live events.
pub(super) fn announce<A: Adapter>(hub: &Hub, socket: &SocketRef<A>, start: &Start) {
    let grant = |token: &str| ResumeGrant {
        id: socket.id.to_string(),
        token: token.to_owned(),
        grace: grace(hub),
        rooms: vec![],
        gap: false,
    };
    match start {
        Start::Fresh { token } => {
            emit(socket, &ServerEvent::Resumable(grant(token)));
        }
        Start::Failed { code, token } => {
            emit(
                socket,
                &ServerEvent::ResumeFailed(ResumeFailure::new(*code)),
            );
            if let Some(token) = token {
                emit(socket, &ServerEvent::Resumable(grant(token)));
            }
        }
        Start::Resumed { claim, seq } => resumed(hub, socket, claim, *seq, false),
        Start::Adopted { claim, seq } => resumed(hub, socket, claim, *seq, true),
    }
}

/// Tells `socket`, which resumed `claim.peer`, that it did, with the events after `seq`; one
/// adopted after its instance died (`gap`) is then sent each room's roster. Its rooms hear that
/// it is `back` (after an adoption, from each instance's view: see `view::Change::Back`).
fn resumed<A: Adapter>(hub: &Hub, socket: &SocketRef<A>, claim: &Claim, seq: u64, gap: bool) {
    let (Some(adapter), Some(log)) = (hub.adapter(), hub.resume_log(claim.peer)) else {
        return; // Gone meanwhile (its grace ended, or it was evicted).
    };
    let rooms = hub.rooms.with(|rooms| rooms.rooms_of(&claim.peer));
    let resumed = ServerEvent::Resumed(ResumeGrant {
        id: claim.peer.to_string(),
        token: claim.token.clone(),
        grace: grace(hub),
        rooms: rooms.iter().map(RoomName::to_string).collect(),
        gap,
    });
    let rosters = rooms
        .iter()
        .filter(|_| gap)
        .map(|room| ServerEvent::Roster {
            room: room.to_string(),
            peers: super::session::roster_of(hub, claim.peer, room),
        });
    let mut log = resume::lock(&log);
    let mut sent = adapter.send_text(socket.id, resumed.to_json_array());
    for event in log.attach(seq) {
        sent = sent && adapter.send_text(socket.id, event.to_owned());
    }
    // After the replay, which happened before: the rosters are the rooms as they are now.
    for roster in rosters {
        sent = sent && adapter.send_text(socket.id, roster.to_json_array());
    }
    drop(log);
    if !sent {
        return delivery::evict(hub, socket.clone(), CloseCode::SlowReceiver);
    }
    let sockets = Sockets::of(socket);
    for room in rooms.iter().filter(|_| !gap) {
        let back = ServerEvent::Back {
            room: room.to_string(),
            id: claim.peer.to_string(),
        };
        let others = (Audience::Others, Reach::Cluster);
        let _ = delivery::to_room(hub, &sockets, room, others, &back);
    }
    // The socket it had still looked alive: it is this connection's no more.
    if let Some(previous) = claim
        .previous
        .and_then(|sid| socket.broadcast().get_socket(sid))
    {
        let _ = previous.disconnect();
    }
}

/// The grace period, in seconds, that `resumable` and `resumed` announce.
fn grace(hub: &Hub) -> u64 {
    hub.resumes().map_or(0, |r| r.grace().as_secs())
}

/// A resumable peer that will not come back: out of its rooms now, the others told `bye`.
fn depart<A: Adapter>(hub: &Hub, sockets: &Sockets<A>, peer: Sid) {
    // Its session is gone; nothing it started can seat it any more.
    let left = hub.remove(peer, &AtomicBool::new(false));
    delivery::byes(hub, sockets, peer, &left, "could not resume");
}

/// Sends `event` to a socket that just connected (its buffer is empty).
fn emit<A: Adapter>(socket: &SocketRef<A>, event: &ServerEvent) {
    if let Err(err) = socket.emit(event.name(), event) {
        debug!(id = %socket.id, %err, event = event.name(), "not sent");
    }
}
