//! The link: the one connection to Redis, and the one task that sends on it.
//!
//! Every command the cluster sends goes through this task in the order it was asked for, and
//! one connection's commands are applied by Redis, and what they publish is delivered, in that
//! order: that is how one sender's events keep their order on every instance. Commands waiting
//! when the task is free go out together as one pipeline (one write, one round trip), with one
//! pipeline in flight at a time, so a burst costs few round trips and nothing is reordered.
//!
//! Around that, the link
//! - subscribes to a room's channel before it sends the first join of one of this instance's
//!   members to it (so nothing published after the join can be missed), and unsubscribes once
//!   the room has none of them;
//! - renews the heartbeat (which also frees the seats of instances taken for dead);
//! - registers the instance again after a lost connection, then reads its rooms' rosters anew;
//! - while Redis cannot be reached, answers at once: joins `Unavailable`, room events refused
//!   to their senders, seats' releases left to the next registration (which removes them).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use redis::aio::ConnectionManager;
use redis::{Cmd, RedisResult, Value};
use socketioxide::socket::Sid;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::coalesce;
use super::inbox::Inbound;
use super::op::{Op, Query};
use super::replies;
use super::scripts::{is_noscript, Script, Scripts};
use super::wire::Reason;
use super::{LocalMembers, NodeId, SeatDone, Seating, Shared};
use crate::protocol::{event, RefusalCode, RoomName};
use crate::server::auth::TokenId;

/// Commands sent in one pipeline at most.
const MAX_BATCH: usize = 1024;
/// How often registering again is tried while Redis is unreachable.
const RETRY: std::time::Duration = std::time::Duration::from_millis(250);
/// Heartbeats an instance sends per `--node-timeout`: it is taken for dead only after missing
/// this many in a row.
const BEATS_PER_TIMEOUT: u32 = 5;
/// Heartbeats a suspect may miss before it is taken for dead: one late heartbeat can be a busy
/// instance; two, with nothing listening at its URL, is a dead one. At the default 10 s, a
/// killed instance's members leave after 4–6 s instead of 8–12 s, if a client of it tried to
/// resume elsewhere.
const LATE_HEARTBEATS: u32 = 2;

pub(super) struct Link {
    shared: Arc<Shared>,
    conn: ConnectionManager,
    members: Arc<dyn LocalMembers>,
    scripts: Arc<Scripts>,
    /// Per room: this instance's members and joins in progress. Its channel is subscribed, and
    /// its view kept, while there are any; a room at 0 is idle until unsubscribed.
    interest: HashMap<RoomName, usize>,
    subscribed: HashSet<RoomName>,
    /// The Redis dataset this instance is registered with; `None` while it must register.
    epoch: Option<String>,
    /// The dataset it last registered with, to tell whether Redis kept its data.
    last_epoch: Option<String>,
    /// After Redis lost its data: when every live instance has had time to register again, so
    /// that a full read of the rosters settles who left meanwhile.
    settle_at: Option<Instant>,
    /// Left the cluster at shutdown: nothing more is sent.
    departed: bool,
    /// Instances where nothing listened when a client's resume went there, each until when it
    /// stays suspected: every heartbeat until then takes it for dead if its own is late.
    suspects: HashMap<NodeId, Instant>,
}

impl Link {
    pub(super) fn new(
        shared: Arc<Shared>,
        conn: ConnectionManager,
        members: Arc<dyn LocalMembers>,
    ) -> Self {
        let scripts = Arc::new(Scripts::new(&shared.keys));
        Self {
            shared,
            conn,
            members,
            scripts,
            interest: HashMap::new(),
            subscribed: HashSet::new(),
            epoch: None,
            last_epoch: None,
            settle_at: None,
            departed: false,
            suspects: HashMap::new(),
        }
    }

    pub(super) async fn run(
        mut self,
        mut ops: mpsc::UnboundedReceiver<Op>,
        mut suspects: mpsc::UnboundedReceiver<NodeId>,
    ) {
        let mut heartbeat = tokio::time::interval(self.shared.node_timeout / BEATS_PER_TIMEOUT);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut retry = tokio::time::interval(RETRY);
        retry.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let unregistered = self.epoch.is_none() && !self.departed;
            // Timers first: a steady stream of commands must not starve the heartbeat.
            tokio::select! {
                biased;
                _ = heartbeat.tick() => self.heartbeat().await,
                Some(node) = suspects.recv() => {
                    if self.suspect(node) {
                        self.heartbeat().await;
                    }
                }
                _ = retry.tick(), if unregistered => {
                    if self.register().await.is_ok() {
                        info!(node = %self.shared.node, "Redis is back: this instance's members are registered again");
                    }
                    // The next attempt a full period after this one ended: an attempt can take
                    // longer than the period (reconnecting), and the biased select would then
                    // retry at once, forever, while the operations waiting here are never
                    // answered.
                    retry.reset();
                }
                n = ops.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        return;
                    }
                    self.run_batch(&mut batch).await;
                }
            }
        }
    }

    /// Registers this instance with exactly its members (`sync.lua`), loading the scripts first;
    /// if it was registered before, reads its rooms' rosters anew.
    pub(super) async fn register(&mut self) -> RedisResult<()> {
        // This registration covers any loss before it; one during it sets the flag again.
        self.shared.lost.store(false, Ordering::SeqCst);
        let timeout = self.shared.node_timeout.as_millis().to_string();
        let fresh_epoch = format!("{:016x}", rand::random::<u64>());
        let mut args = vec![self.shared.node.to_string(), timeout, fresh_epoch];
        // From the inbox, after every seat it was handed: none is missing, none is removed.
        let (reply, registrations) = oneshot::channel();
        let _ = self.shared.inbox.send(Inbound::Registrations(reply));
        // Without them (the inbox gone) nothing is registered: an empty list would free every
        // seat this instance holds.
        let Ok(registrations) = registrations.await else {
            return Err(self.fail_link(unexpected("registrations", None)));
        };
        for r in &registrations {
            args.extend([
                r.room.to_string(),
                r.sid.to_string(),
                r.name.as_str().to_owned(),
                r.order.to_string(),
                r.capacity.unwrap_or(0).to_string(),
                r.sub.clone().unwrap_or_default(),
                r.since.to_string(),
            ]);
        }
        let mut pipe = redis::pipe();
        for script in self.scripts.all() {
            pipe.add_command(script.load());
        }
        if let Some(url) = &self.shared.url {
            let node = self.shared.node.to_string();
            pipe.add_command(
                redis::cmd("HSET")
                    .arg(self.shared.keys.urls())
                    .arg(node)
                    .arg(url)
                    .to_owned(),
            );
        }
        // Its sessions' records as they are now: whatever happened to them while Redis was
        // unreachable (or lost its data, or took this instance for dead).
        let sessions = self.shared.keys.sessions(self.shared.node);
        pipe.add_command(redis::cmd("DEL").arg(&sessions).to_owned());
        let records = self.members.sessions();
        if !records.is_empty() {
            let mut hset = redis::cmd("HSET");
            hset.arg(&sessions);
            for (peer, record) in records {
                hset.arg(peer.to_string()).arg(record);
            }
            pipe.add_command(hset);
        }
        pipe.add_command(self.scripts.sync.call(args));
        self.shared.metrics.redis_round_trip();
        let replies = self.conn.send_packed_commands(&pipe, 0, pipe.len()).await;
        let reply = replies.map_err(|e| self.fail_link(e))?.pop();
        let Some(synced) = reply.as_ref().and_then(replies::sync) else {
            let err = unexpected("sync", reply);
            return Err(self.fail_link(err));
        };
        let replies::Synced {
            epoch,
            seated,
            removed,
            taken,
        } = synced;
        // Before the rosters are read, which list them as the other instance's.
        if !taken.is_empty() {
            warn!(
                members = taken.len(),
                "this instance was taken for dead, and another adopted some of its members meanwhile: they are that instance's now"
            );
        }
        for sid in taken {
            self.members.taken(sid);
        }
        let kept = self.last_epoch.as_deref() == Some(epoch.as_str());
        if self.last_epoch.is_some() {
            if kept {
                self.snapshot(Reading::Full).await?;
            } else {
                warn!(
                    members = registrations.len(),
                    "Redis lost its data: this instance's members are registered again"
                );
                self.settle_at = Some(Instant::now() + self.shared.node_timeout);
                self.snapshot(Reading::RegisteredOnly).await?;
            }
        }
        if seated + removed > 0 {
            info!(seated, removed, "Redis's seats for this instance put right");
        }
        self.shared
            .metrics
            .redis_registered(self.last_epoch.is_some());
        self.last_epoch = Some(epoch.clone());
        self.epoch = Some(epoch);
        self.shared.up.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Suspects instance `node` for a while; whether it is new, so worth a heartbeat now. One
    /// already suspected is checked by every heartbeat anyway: a thousand clients of a dead
    /// instance coming back cost one check, not a thousand.
    fn suspect(&mut self, node: NodeId) -> bool {
        let until = Instant::now() + self.shared.node_timeout;
        node != self.shared.node && self.suspects.insert(node, until).is_none()
    }

    /// Renews the heartbeat; settles the rosters once the time after a data loss is up.
    async fn heartbeat(&mut self) {
        if self.departed || self.epoch.is_none() {
            return;
        }
        if self.settle_at.is_some_and(|at| Instant::now() >= at) {
            self.settle_at = None;
            if self.snapshot(Reading::Full).await.is_err() {
                return;
            }
        }
        let now = Instant::now();
        self.suspects.retain(|_, until| *until > now);
        let mut args = vec![
            self.shared.node.to_string(),
            self.shared.node_timeout.as_millis().to_string(),
            // The share of a timeout after which a suspect is late, whatever its timeout.
            (f64::from(LATE_HEARTBEATS) / f64::from(BEATS_PER_TIMEOUT)).to_string(),
        ];
        args.extend(self.suspects.keys().map(NodeId::to_string));
        let cmd = self.scripts.heartbeat.call(args);
        let scripts = self.scripts.clone();
        match self.query(&scripts.heartbeat, cmd).await {
            Ok(reply) => match replies::heartbeat(&reply) {
                Some((true, freed)) => {
                    if freed > 0 {
                        info!(
                            freed,
                            "freed the seats of dead instances' members, and of orphans whose grace period ended"
                        );
                    }
                }
                Some((false, _)) => {
                    warn!("this instance was not registered in Redis (taken for dead, or Redis lost its data): registering again");
                    self.epoch = None;
                    self.shared.up.store(false, Ordering::SeqCst);
                }
                None => {
                    let err = unexpected("heartbeat", Some(reply));
                    self.fail_link(err);
                }
            },
            Err(err) => {
                self.fail_link(err);
            }
        }
    }

    /// Sends one batch of operations as one pipeline and finishes each with its answer.
    async fn run_batch(&mut self, batch: &mut Vec<Op>) {
        if self.shared.lost.swap(false, Ordering::SeqCst) {
            self.epoch = None;
        }
        for op in batch.iter() {
            match op {
                // Counted first, so a failure below releases every join the same way.
                Op::Seat { room, .. } => {
                    let interest = self.interest.entry(room.clone()).or_default();
                    *interest += 1;
                    if *interest == 1 {
                        let _ = self.shared.inbox.send(Inbound::Expect(room.clone()));
                    }
                }
                Op::Publish { .. } => {
                    self.shared.queued_publishes.fetch_sub(1, Ordering::SeqCst);
                }
                Op::Unseat { .. }
                | Op::Depart { .. }
                | Op::Lock { .. }
                | Op::Ban { .. }
                | Op::Record { .. }
                | Op::Query { .. } => {}
            }
        }
        // Nothing is sent after leaving the cluster.
        if let Some(depart) = batch.iter().position(|op| matches!(op, Op::Depart { .. })) {
            for op in batch.drain(depart + 1..) {
                self.fail(op);
            }
        }
        if self.epoch.is_none() || self.departed {
            self.fail_all(batch);
            return;
        }
        let unsubscribed = self.unsubscribed_rooms(batch);
        if let Err(err) = self.subscribe(unsubscribed).await {
            self.fail_link(err);
            self.fail_all(batch);
            return;
        }
        coalesce::publishes(batch);
        let mut pipe = redis::pipe();
        for op in batch.iter() {
            pipe.add_command(self.command(op));
        }
        self.shared.metrics.redis_round_trip();
        match self.conn.send_packed_commands(&pipe, 0, batch.len()).await {
            Ok(replies) if replies.len() == batch.len() => {
                for (op, reply) in batch.drain(..).zip(replies) {
                    self.finish(op, reply).await;
                }
            }
            Ok(replies) => {
                let err = unexpected("pipeline", Some(Value::Array(replies)));
                self.fail_link(err);
                self.fail_all(batch);
            }
            Err(err) => {
                self.fail_link(err);
                self.fail_all(batch);
            }
        }
        self.release_idle().await;
    }

    /// The rooms `batch` joins whose channels are not subscribed yet.
    fn unsubscribed_rooms(&self, batch: &[Op]) -> Vec<RoomName> {
        let mut rooms: Vec<RoomName> = Vec::new();
        for op in batch {
            if let Op::Seat { room, .. } = op {
                if !self.subscribed.contains(room) && !rooms.contains(room) {
                    rooms.push(room.clone());
                }
            }
        }
        rooms
    }

    /// Subscribes to the channels of `rooms`, before the joins that need them go out.
    async fn subscribe(&mut self, rooms: Vec<RoomName>) -> RedisResult<()> {
        if rooms.is_empty() {
            return Ok(());
        }
        let channels: Vec<String> = rooms
            .iter()
            .map(|room| self.shared.keys.room_channel(room.as_str()))
            .collect();
        self.conn.subscribe(&channels).await?;
        self.subscribed.extend(rooms);
        Ok(())
    }

    /// Drops the views of rooms this instance no longer has members in or joins for, and
    /// unsubscribes from their channels (once Redis answers: until then they stay idle).
    async fn release_idle(&mut self) {
        let idle: Vec<RoomName> = self
            .interest
            .iter()
            .filter(|(_, &n)| n == 0)
            .map(|(room, _)| room.clone())
            .collect();
        if idle.is_empty() {
            return;
        }
        let (subscribed, unsubscribed): (Vec<RoomName>, Vec<RoomName>) = idle
            .into_iter()
            .partition(|room| self.subscribed.contains(room));
        for room in subscribed.iter().chain(&unsubscribed) {
            let _ = self.shared.inbox.send(Inbound::Forget(room.clone()));
        }
        for room in &unsubscribed {
            self.interest.remove(room);
        }
        if subscribed.is_empty() || self.epoch.is_none() {
            return;
        }
        let channels: Vec<String> = subscribed
            .iter()
            .map(|room| self.shared.keys.room_channel(room.as_str()))
            .collect();
        if let Err(err) = self.conn.unsubscribe(&channels).await {
            debug!(%err, "unsubscribe failed; tried again after the next batch");
            return;
        }
        for room in &subscribed {
            self.subscribed.remove(room);
            self.interest.remove(room);
        }
    }

    fn command(&self, op: &Op) -> Cmd {
        match op {
            Op::Seat {
                sid,
                room,
                name,
                capacity,
                token,
                sub,
                since,
                ..
            } => self.scripts.join.call([
                self.shared.node.to_string(),
                sid.to_string(),
                room.to_string(),
                name.as_str().to_owned(),
                capacity.to_string(),
                token.as_ref().map_or("", TokenId::as_str).to_owned(),
                sub.clone().unwrap_or_default(),
                since.to_string(),
            ]),
            Op::Query { query, .. } => match query {
                Query::Rooms => self.scripts.rooms.call(Vec::<String>::new()),
                Query::Room(room) => self.scripts.room.call([room.as_str()]),
                Query::Url(node) => redis::cmd("HGET")
                    .arg(self.shared.keys.urls())
                    .arg(node.to_string())
                    .to_owned(),
                Query::Adopt {
                    issuer,
                    peer,
                    digest,
                    sub,
                } => self.scripts.adopt.call([
                    issuer.to_string(),
                    peer.to_string(),
                    digest.clone(),
                    sub.clone(),
                    self.shared.node.to_string(),
                ]),
            },
            Op::Record { peer, record } => {
                let sessions = self.shared.keys.sessions(self.shared.node);
                match record {
                    Some(record) => redis::cmd("HSET")
                        .arg(sessions)
                        .arg(peer.to_string())
                        .arg(record)
                        .to_owned(),
                    None => redis::cmd("HDEL")
                        .arg(sessions)
                        .arg(peer.to_string())
                        .to_owned(),
                }
            }
            Op::Lock { room, locked, .. } => self
                .scripts
                .lock
                .call([room.as_str(), if *locked { "1" } else { "0" }]),
            Op::Ban { room, token, ms } => {
                self.scripts
                    .ban
                    .call([room.to_string(), token.as_str().to_owned(), ms.to_string()])
            }
            Op::Unseat {
                sid,
                rooms,
                everywhere,
                reason,
            } => {
                let mut args = vec![
                    self.shared.node.to_string(),
                    sid.to_string(),
                    reason.as_str().to_owned(),
                ];
                if !everywhere {
                    args.extend(rooms.iter().map(RoomName::to_string));
                }
                self.scripts.leave.call(args)
            }
            Op::Publish {
                channel, payload, ..
            } => {
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg(channel).arg(payload);
                cmd
            }
            Op::Depart { .. } => self.scripts.depart.call([
                self.shared.node.to_string(),
                Reason::Shutdown.as_str().to_owned(),
            ]),
        }
    }

    fn script_of(&self, op: &Op) -> Option<&Script> {
        match op {
            Op::Seat { .. } => Some(&self.scripts.join),
            Op::Unseat { .. } => Some(&self.scripts.leave),
            Op::Depart { .. } => Some(&self.scripts.depart),
            Op::Lock { .. } => Some(&self.scripts.lock),
            Op::Query { query, .. } => match query {
                Query::Rooms => Some(&self.scripts.rooms),
                Query::Room(_) => Some(&self.scripts.room),
                Query::Url(_) => None,
                Query::Adopt { .. } => Some(&self.scripts.adopt),
            },
            Op::Ban { .. } => Some(&self.scripts.ban),
            Op::Publish { .. } | Op::Record { .. } => None,
        }
    }

    /// Finishes `op` with its answer; a script Redis did not know is sent again whole first.
    async fn finish(&mut self, op: Op, mut reply: Value) {
        if is_noscript(&reply) {
            if let Some(script) = self.script_of(&op).cloned() {
                let eval = script.with_code(&self.command(&op));
                reply = match eval.query_async(&mut self.conn).await {
                    Ok(reply) => reply,
                    Err(err) => {
                        self.fail_link(err);
                        return self.fail(op);
                    }
                };
            }
        }
        match op {
            Op::Seat {
                sid, room, done, ..
            } => self.seated(sid, room, &reply, done),
            Op::Unseat { rooms, .. } => {
                for room in &rooms {
                    self.release(room);
                }
                if let Value::ServerError(err) = reply {
                    // Redis still holds the seats: the next registration removes them.
                    warn!(%err, "a leave failed in Redis; registering again");
                    self.epoch = None;
                    return;
                }
                // Redis's count, not a view's: two members leaving on two instances at once
                // each see the room emptied only here.
                for room in replies::left(&reply).unwrap_or_default() {
                    if let Ok(room) = RoomName::parse(&room) {
                        self.members.emptied(&room);
                    }
                }
            }
            Op::Publish { origin, merged, .. } => {
                if let Value::ServerError(err) = &reply {
                    debug!(%err, "a room event was not published");
                    self.refuse_senders(origin, merged);
                }
            }
            Op::Depart { done } => {
                self.departed = true;
                self.shared.up.store(false, Ordering::SeqCst);
                let _ = done.send(());
            }
            Op::Lock { origin, .. } => {
                if let Value::ServerError(err) = reply {
                    warn!(%err, "a room lock failed in Redis");
                    self.members
                        .refuse(origin, event::LOCK, RefusalCode::ClusterUnavailable);
                }
            }
            Op::Ban { .. } => {
                if let Value::ServerError(err) = reply {
                    warn!(%err, "a kick's ban failed in Redis");
                }
            }
            Op::Record { .. } => {
                if let Value::ServerError(err) = reply {
                    warn!(%err, "a resumable session's record failed in Redis");
                }
            }
            Op::Query { reply: answer, .. } => {
                let ok = !matches!(reply, Value::ServerError(_));
                let _ = answer.send(ok.then_some(reply));
            }
        }
    }

    /// A join's answer: a seat goes to the inbox, which applies its roster to the room's view
    /// and then seats the joiner; anything else is answered here.
    fn seated(&mut self, sid: Sid, room: RoomName, reply: &Value, done: SeatDone) {
        let seating = match replies::join(reply) {
            Some(replies::Join::Seated {
                seq,
                capacity,
                roster,
            }) => {
                let order = roster
                    .iter()
                    .find(|m| m.sid == sid)
                    .map_or(seq, |m| m.order);
                let remote = roster
                    .into_iter()
                    .filter(|m| m.node != self.shared.node)
                    .collect();
                let seating = Seating::Seated {
                    order,
                    capacity: (capacity > 0).then_some(capacity),
                };
                let seated = Inbound::Seated {
                    sid,
                    room,
                    seq,
                    remote,
                    seating,
                    done,
                };
                if let Err(mpsc::error::SendError(Inbound::Seated { done, .. })) =
                    self.shared.inbox.send(seated)
                {
                    done(Seating::Unavailable);
                }
                return;
            }
            Some(replies::Join::Full { capacity }) => Seating::Full { capacity },
            Some(replies::Join::Locked) => Seating::Locked,
            Some(replies::Join::Banned) => Seating::Banned,
            None => {
                warn!(%room, ?reply, "unexpected answer to a join");
                Seating::Unavailable
            }
        };
        self.release(&room);
        done(seating);
    }

    /// Reads the roster of every room with members here in one go, for the inbox to apply.
    async fn snapshot(&mut self, reading: Reading) -> RedisResult<()> {
        let rooms: Vec<RoomName> = self
            .interest
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(room, _)| room.clone())
            .collect();
        if rooms.is_empty() {
            return Ok(());
        }
        let cmd = self
            .scripts
            .snapshot
            .call(rooms.iter().map(RoomName::as_str));
        let scripts = self.scripts.clone();
        let reply = self.query(&scripts.snapshot, cmd).await?;
        let Some((seq, live, rosters)) = replies::snapshot(&reply, rooms.len()) else {
            return Err(self.fail_link(unexpected("snapshot", Some(reply))));
        };
        let node = self.shared.node;
        let rosters = rooms
            .into_iter()
            .zip(rosters)
            .map(|(room, roster)| {
                (
                    room,
                    roster.into_iter().filter(|m| m.node != node).collect(),
                )
            })
            .collect();
        let registered = match reading {
            Reading::Full => None,
            Reading::RegisteredOnly => Some(live),
        };
        let _ = self.shared.inbox.send(Inbound::Rosters {
            seq,
            rosters,
            registered,
        });
        Ok(())
    }

    /// Sends one script call alone, whole if Redis did not know it.
    async fn query(&mut self, script: &Script, cmd: Cmd) -> RedisResult<Value> {
        self.shared.metrics.redis_round_trip();
        let reply: Value = cmd.query_async(&mut self.conn).await?;
        if is_noscript(&reply) {
            return script.with_code(&cmd).query_async(&mut self.conn).await;
        }
        Ok(reply)
    }

    fn release(&mut self, room: &RoomName) {
        if let Some(n) = self.interest.get_mut(room) {
            *n = n.saturating_sub(1);
        }
    }

    fn fail_all(&mut self, batch: &mut Vec<Op>) {
        for op in batch.drain(..) {
            self.fail(op);
        }
    }

    /// `op` cannot be sent: it is answered as if Redis were unreachable.
    fn fail(&mut self, op: Op) {
        match op {
            Op::Seat { room, done, .. } => {
                self.release(&room);
                done(Seating::Unavailable);
            }
            // Redis still holds them; the next registration removes them.
            Op::Unseat { rooms, .. } => {
                for room in &rooms {
                    self.release(room);
                }
            }
            Op::Publish { origin, merged, .. } => self.refuse_senders(origin, merged),
            Op::Depart { done } => {
                self.departed = true;
                let _ = done.send(());
            }
            Op::Lock { origin, .. } => {
                self.members
                    .refuse(origin, event::LOCK, RefusalCode::ClusterUnavailable);
            }
            // The kick itself went ahead: only the ban is lost, as with Redis's data. A session
            // whose record is lost is not adopted should this instance die.
            Op::Ban { .. } | Op::Record { .. } => {}
            Op::Query { reply, .. } => {
                let _ = reply.send(None);
            }
        }
    }

    /// The senders of a publish that did not go out are told it reached this instance only.
    fn refuse_senders(
        &self,
        origin: Option<(Sid, &'static str)>,
        merged: Vec<(Sid, &'static str)>,
    ) {
        for (sid, event) in origin.into_iter().chain(merged) {
            self.members
                .refuse(sid, event, RefusalCode::ClusterUnavailable);
        }
    }

    /// Redis did not answer as it should: from now on the instance serves its own members only,
    /// until it is registered again. Returns the error, for the caller to pass on.
    fn fail_link(&mut self, err: redis::RedisError) -> redis::RedisError {
        if self.epoch.is_some() || self.shared.up.load(Ordering::SeqCst) {
            warn!(%err, "Redis unreachable: serving this instance's members only until it is back");
        }
        self.epoch = None;
        self.shared.down();
        err
    }
}

/// How far a roster read in one go is to be trusted (see [`super::view::Authority`]).
#[derive(Debug, Clone, Copy)]
enum Reading {
    Full,
    /// Redis lost its data: only instances registered again have all their members in it.
    RegisteredOnly,
}

fn unexpected(what: &str, reply: Option<Value>) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Client,
        "unexpected answer",
        format!("{what}: {reply:?}"),
    ))
}
