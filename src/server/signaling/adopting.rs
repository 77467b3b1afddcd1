//! Adopting, as a connection begins: a client resumes a peer whose instance died.
//!
//! When an instance is taken for dead, its resumable members become *orphans* in Redis: they
//! keep their seats for their grace period, and their rooms hear `away` (see `lib.lua`'s
//! `orphan`). A client that comes back through this instance with such a peer's token (which
//! names its instance and its peer) is given the peer here: `adopt.lua` checks the token's digest
//! and subject against the orphan's record and makes its seats this instance's, then the join
//! path seats it locally (it subscribes to each room and reads its roster). What the dead
//! instance held for it is gone, so the client hears `resumed` with `gap: true` and each room's
//! `roster`, and the rooms hear `back`.
//!
//! A client usually comes back before its instance is taken for dead: its drop and its resume
//! take milliseconds, and a death is noticed within two heartbeats. So when the dead instance's
//! URL refused the resume (it is suspected, see [`super::tunnel`]), this waits for the verdict,
//! at most one `--node-timeout`, before telling the client to start fresh.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{info, warn};

use super::resuming::Start;
use super::Hub;
use crate::protocol::{DisplayName, ResumeAsk, ResumeFailureCode, RoomName};
use crate::server::auth::Grant;
use crate::server::cluster::{self, Adoption, NodeId, Reason, Seating};
use crate::server::resume;
use crate::server::rooms::Member;

/// How often a resume asks again whether its suspected instance was taken for dead.
const POLL: Duration = Duration::from_millis(250);

/// For `socket` presenting `grant`, resuming with `ask` a session of `issuer` (an instance that
/// is not registered, or `suspected` of having died): the peer it adopted and what to tell it,
/// or why not.
pub(super) async fn adopt<A: Adapter>(
    hub: &Hub,
    socket: &SocketRef<A>,
    grant: &Grant,
    ask: &ResumeAsk,
    (issuer, suspected): (NodeId, bool),
) -> Result<(Sid, Start), ResumeFailureCode> {
    let unknown = ResumeFailureCode::Unknown;
    let (Some(cluster), Some(resumes)) = (hub.cluster(), hub.resumes()) else {
        return Err(unknown);
    };
    let ResumeAsk::Resume { token, seq } = ask else {
        return Err(unknown);
    };
    let peer = resume::peer_named(token).ok_or(unknown)?;
    let digest = resume::digest(token);
    let wait = if suspected {
        cluster.node_timeout()
    } else {
        Duration::ZERO
    };
    let deadline = Instant::now() + wait;
    let seats = loop {
        match cluster
            .adopt(issuer, peer, &digest, grant.sub.as_deref())
            .await
        {
            Some(Adoption::Adopted(seats)) => break seats,
            Some(Adoption::Alive) if Instant::now() + POLL < deadline => {
                tokio::time::sleep(POLL).await;
            }
            _ => return Err(unknown),
        }
    };
    info!(id = %peer, socket = %socket.id, %issuer, rooms = seats.len(), "adopted a peer of an instance that died");
    hub.metrics.resumed("adopted");
    let claim = resumes.adopt(
        peer,
        socket.id,
        *seq,
        grant.token.clone(),
        grant.sub.clone(),
    );
    for (room, name, since) in seats {
        seat_here(hub, cluster, peer, grant, (room, name, since)).await;
    }
    let claim = Arc::new(claim);
    Ok((peer, Start::Adopted { claim, seq: *seq }))
}

/// Seats the adopted `peer` in `room` here: through the join path, which keeps its seat in
/// Redis (it is already this instance's) and brings the room's roster.
async fn seat_here(
    hub: &Hub,
    cluster: &cluster::Cluster,
    peer: Sid,
    grant: &Grant,
    (room, name, since): (RoomName, DisplayName, u64),
) {
    let (done, seated) = oneshot::channel();
    let seat = cluster::Seat {
        name: name.clone(),
        capacity: None,
        token: None,
        sub: grant.sub.as_deref().map(str::to_owned),
        since,
    };
    let answer = Box::new(move |seating| {
        let _ = done.send(seating);
    });
    cluster.seat(peer, room.clone(), seat, answer);
    match seated.await {
        Ok(Seating::Seated { order, capacity }) => {
            let member = Member {
                order,
                name,
                since,
                sub: grant.sub.clone(),
            };
            hub.rooms
                .with(|rooms| rooms.seat(&peer, &room, member, capacity));
        }
        other => {
            // Redis has the seat as this instance's, and nothing here holds it: free it.
            warn!(id = %peer, %room, ?other, "an adopted peer's seat could not be taken here");
            cluster.unseat(peer, vec![room], false, Reason::Disconnected);
        }
    }
}
