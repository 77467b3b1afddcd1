//! Resumable sessions (`--resume-grace`): for each peer whose client asked, the events sent to
//! it, numbered, the last `--resume-buffer` of them kept; whether its connection is up or it is
//! away; and the one token that resumes it.
//!
//! Pure state, no I/O: the signaling layer sends what [`Log::sequence`] numbers, and turns a
//! drop, an expiry and a resume into room events. In a cluster each session's token digest is
//! also kept in Redis ([`Records`]), so that another instance can adopt the peer should this one
//! die. Each peer's log has a lock of its own, taken around numbering *and* sending one event,
//! so a peer's events reach it in the order of their numbers however many threads send to it;
//! the map of logs is read-locked per delivery and written only when a peer comes or goes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use socketioxide::socket::Sid;

use crate::protocol::{with_seq, ResumeFailureCode};
use crate::server::auth::TokenId;

/// Bytes of held events kept per peer at most, whatever `--resume-buffer` says: a room flooded
/// with large messages must not hold megabytes per member.
pub const HELD_BYTES: usize = 1 << 20;

/// Where a cluster keeps each resumable session's record outside the instance: the grace
/// period, the SHA-256 of its current token and its subject.
pub trait Records: Send + Sync {
    fn put(&self, peer: Sid, grace: Duration, digest: &[u8; 32], sub: Option<&str>);
    fn remove(&self, peer: Sid);
}

/// The resumable peers of this instance: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Resumes(Arc<Shared>);

struct Shared {
    grace: Duration,
    /// This instance's name in a cluster, which begins every token it issues
    /// (`NODE.PEER.RANDOM`), so another instance knows where a token it does not hold was
    /// issued, and which peer it resumes should that instance be dead.
    issuer: Option<String>,
    /// Set once the cluster is up; written while `logs` is write-locked, so records reach Redis
    /// in the order their tokens were issued.
    records: OnceLock<Arc<dyn Records>>,
    /// Events kept per peer.
    keep: usize,
    logs: RwLock<Maps>,
    /// How many peers are resumable: zero lets every delivery skip the map.
    count: AtomicUsize,
}

#[derive(Default)]
struct Maps {
    /// By peer id.
    peers: HashMap<Sid, Arc<Mutex<Log>>>,
    /// Peer by the SHA-256 of its token: a forged token finds nothing, and none is stored.
    tokens: HashMap<[u8; 32], Sid>,
    /// Peer by socket, for sockets that resumed a peer (a first socket's id is its peer's).
    sockets: HashMap<Sid, Sid>,
}

/// One resumable peer.
#[derive(Debug)]
pub struct Log {
    /// Its socket; `None` while it is away.
    socket: Option<Sid>,
    /// Whether events go to `socket` as they come: not between a resume's claim and the replay
    /// of what it missed, so nothing overtakes the replay.
    attached: bool,
    /// Its join token, for a ban if it is kicked while away, and the token's subject: a resume
    /// must present a join token of the same subject.
    ban_key: Option<TokenId>,
    sub: Option<Arc<str>>,
    /// The number the next event gets (the first is 1).
    next: u64,
    /// The last events sent, oldest first, each with its number appended.
    held: VecDeque<(u64, String)>,
    held_bytes: usize,
    keep: usize,
    /// Bumped at each drop and each resume, so a grace period that ended after a resume (or a
    /// newer drop) does not remove it.
    generation: u64,
    token: [u8; 32],
}

/// What a resume found.
pub struct Claim {
    pub peer: Sid,
    /// The next token, for `resumed`.
    pub token: String,
    /// The socket it still had, if its drop was not noticed yet: to be closed quietly.
    pub previous: Option<Sid>,
}

impl Resumes {
    /// `None` when resuming is off (`--resume-grace 0`). `issuer` names this instance in a
    /// cluster.
    pub fn new(grace: Duration, keep: usize, issuer: Option<String>) -> Option<Self> {
        (!grace.is_zero()).then(|| {
            Self(Arc::new(Shared {
                grace,
                issuer,
                keep: keep.max(1),
                records: OnceLock::new(),
                logs: RwLock::default(),
                count: AtomicUsize::new(0),
            }))
        })
    }

    pub fn grace(&self) -> Duration {
        self.0.grace
    }

    /// Keeps every session's record in `records` from now on (the cluster, once started).
    pub fn mirror(&self, records: Arc<dyn Records>) {
        let _ = self.0.records.set(records);
    }

    /// Every session's record: its peer, its token's SHA-256 and its subject.
    pub fn records(&self) -> Vec<(Sid, [u8; 32], Option<Arc<str>>)> {
        let maps = self.read();
        maps.peers
            .iter()
            .map(|(peer, log)| {
                let log = lock(log);
                (*peer, log.token, log.sub.clone())
            })
            .collect()
    }

    fn put_record(&self, peer: Sid, log: &Log) {
        if let Some(records) = self.0.records.get() {
            records.put(peer, self.0.grace, &log.token, log.sub.as_deref());
        }
    }

    /// Makes `peer` (whose socket has the same id, presenting the join token `ban_key` of
    /// subject `sub`) resumable; returns its first token.
    pub fn enable(&self, peer: Sid, ban_key: Option<TokenId>, sub: Option<Arc<str>>) -> String {
        self.begin(peer, peer, 1, ban_key, sub)
    }

    /// Makes `peer`, an orphan of a dead instance that this instance adopted, resumable here,
    /// its socket now `socket`, away until [`Log::attach`]; its numbers go on after `seq`, the
    /// last the client saw. Returns the claim, with its next token.
    pub fn adopt(
        &self,
        peer: Sid,
        socket: Sid,
        seq: u64,
        ban_key: Option<TokenId>,
        sub: Option<Arc<str>>,
    ) -> Claim {
        let token = self.begin(peer, socket, seq.saturating_add(1), ban_key, sub);
        Claim {
            peer,
            token,
            previous: None,
        }
    }

    /// A new log for `peer`, speaking through `socket`, numbering from `next`; returns its first
    /// token. A peer's own first socket is attached at once; an adopted peer's after its replay.
    fn begin(
        &self,
        peer: Sid,
        socket: Sid,
        next: u64,
        ban_key: Option<TokenId>,
        sub: Option<Arc<str>>,
    ) -> String {
        let (token, hash) = self.new_token(peer);
        let log = Log {
            socket: Some(socket),
            attached: socket == peer,
            ban_key,
            sub,
            next,
            held: VecDeque::new(),
            held_bytes: 0,
            keep: self.0.keep,
            generation: 0,
            token: hash,
        };
        let mut maps = self.write();
        self.put_record(peer, &log);
        if maps.peers.insert(peer, Arc::new(Mutex::new(log))).is_none() {
            self.0.count.fetch_add(1, Ordering::SeqCst);
        }
        maps.tokens.insert(hash, peer);
        if socket != peer {
            maps.sockets.insert(socket, peer);
        }
        token
    }

    /// `peer`'s log, if it is resumable.
    pub fn log(&self, peer: Sid) -> Option<Arc<Mutex<Log>>> {
        if self.0.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.read().peers.get(&peer).cloned()
    }

    /// The peer `socket` speaks for: itself, unless it resumed another.
    pub fn peer_of(&self, socket: Sid) -> Sid {
        if self.0.count.load(Ordering::Relaxed) == 0 {
            return socket;
        }
        self.read().sockets.get(&socket).copied().unwrap_or(socket)
    }

    /// `socket`, which spoke for `peer`, dropped: `peer` is away now, unless another socket
    /// took over. Returns the generation its grace period must still find.
    pub fn dropped(&self, peer: Sid, socket: Sid) -> Option<u64> {
        let log = self.log(peer)?;
        let mut log = lock(&log);
        if log.socket != Some(socket) {
            return None;
        }
        log.socket = None;
        log.attached = false;
        log.generation += 1;
        Some(log.generation)
    }

    /// `peer`'s grace period (started at `generation`) ended: forgets it and returns `true` if
    /// it is still away since then, so the caller takes it out of its rooms.
    pub fn expired(&self, peer: Sid, generation: u64) -> bool {
        let Some(log) = self.log(peer) else {
            return false;
        };
        let away = {
            let log = lock(&log);
            log.socket.is_none() && log.generation == generation
        };
        if away {
            self.forget(peer);
        }
        away
    }

    /// `peer` left for good (an explicit disconnect, an eviction, an expiry): forgets it.
    pub fn forget(&self, peer: Sid) {
        let mut maps = self.write();
        let Some(log) = maps.peers.remove(&peer) else {
            return;
        };
        self.0.count.fetch_sub(1, Ordering::SeqCst);
        let token = lock(&log).token;
        maps.tokens.remove(&token);
        maps.sockets.retain(|_, p| *p != peer);
        if let Some(records) = self.0.records.get() {
            records.remove(peer);
        }
    }

    /// A client whose join token has subject `sub` presents `token`, having received events up
    /// to `seq`, on `socket`: the peer it resumes, with its next token, or why not. The peer
    /// stays away (its events held) until [`Log::attach`]; the token cannot be used again. A
    /// peer that missed too much is forgotten and returned with the refusal, for the caller to
    /// take out of its rooms. A token presented under another subject is refused as unknown
    /// (and still works for its own).
    pub fn claim(
        &self,
        token: &str,
        seq: u64,
        socket: Sid,
        sub: Option<&str>,
    ) -> Result<Claim, (ResumeFailureCode, Option<Sid>)> {
        let unknown = (ResumeFailureCode::Unknown, None);
        let hash = digest(token);
        let mut maps = self.write();
        let peer = *maps.tokens.get(&hash).ok_or(unknown)?;
        let log = maps.peers.get(&peer).cloned().ok_or(unknown)?;
        let mut log = lock(&log);
        if log.sub.as_deref() != sub {
            return Err(unknown);
        }
        maps.tokens.remove(&hash);
        if !log.continues_from(seq) {
            drop(log);
            drop(maps);
            self.forget(peer);
            return Err((ResumeFailureCode::TooFarBehind, Some(peer)));
        }
        let (token, hash) = self.new_token(peer);
        log.token = hash;
        self.put_record(peer, &log);
        maps.tokens.insert(hash, peer);
        maps.sockets.insert(socket, peer);
        let previous = log.socket.replace(socket);
        if let Some(previous) = previous {
            maps.sockets.remove(&previous);
        }
        log.attached = false;
        log.generation += 1;
        Ok(Claim {
            peer,
            token,
            previous,
        })
    }

    /// A new token for `peer` (32 random bytes, base64url, after the issuer, the peer and dots
    /// in a cluster) and its SHA-256.
    fn new_token(&self, peer: Sid) -> (String, [u8; 32]) {
        let bytes: [u8; 32] = rand::random();
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let token = match &self.0.issuer {
            Some(issuer) => format!("{issuer}.{peer}.{random}"),
            None => random,
        };
        let hash = digest(&token);
        (token, hash)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.0.logs.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.0.logs.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Log {
    /// Numbers `event` (a Socket.IO event array), keeps it, and returns it numbered with the
    /// socket to send it to now, if the peer is connected. Call with the log locked, and send
    /// before unlocking.
    pub fn sequence(&mut self, event: &str) -> (Option<Sid>, &str) {
        let seq = self.next;
        self.next += 1;
        let numbered = with_seq(event, seq);
        self.held_bytes += numbered.len();
        self.held.push_back((seq, numbered));
        while self.held.len() > self.keep || (self.held_bytes > HELD_BYTES && self.held.len() > 1) {
            if let Some((_, dropped)) = self.held.pop_front() {
                self.held_bytes -= dropped.len();
            }
        }
        let newest = self.held.back().map_or("", |(_, text)| text.as_str());
        (self.socket.filter(|_| self.attached), newest)
    }

    /// Whether every event after `seq` is still held (or there is none), so a client that
    /// received up to `seq` can go on without a gap.
    fn continues_from(&self, seq: u64) -> bool {
        if seq >= self.next {
            return false; // A number never sent: not this log's.
        }
        match self.held.front() {
            Some((first, _)) => *first <= seq + 1,
            None => true,
        }
    }

    /// The claimed peer's socket takes over: returns the held events after `seq`, in order, to
    /// send it before anything else. Call with the log locked, and send before unlocking.
    pub fn attach(&mut self, seq: u64) -> impl Iterator<Item = &str> {
        self.attached = self.socket.is_some();
        self.held
            .iter()
            .filter(move |(n, _)| *n > seq)
            .map(|(_, text)| text.as_str())
    }

    /// Its socket now, if it has one.
    pub fn socket(&self) -> Option<Sid> {
        self.socket
    }

    /// Its join token, for a ban.
    pub fn ban_key(&self) -> Option<&TokenId> {
        self.ban_key.as_ref()
    }
}

/// Locks a peer's log (a poisoned lock is still consistent: every update is a few fields).
pub fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// The instance that issued `token`, if it names one (base64url has no dot).
pub fn issuer_of(token: &str) -> Option<&str> {
    token.split_once('.').map(|(issuer, _)| issuer)
}

/// The peer a cluster's `token` resumes, as it names it (a claim, until the token's digest is
/// checked).
pub fn peer_named(token: &str) -> Option<Sid> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(peer), Some(_), None) => peer.parse().ok(),
        _ => None,
    }
}

/// What identifies a token without keeping it: its SHA-256.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resumes(keep: usize) -> Resumes {
        Resumes::new(Duration::from_secs(30), keep, None).unwrap()
    }

    fn send(resumes: &Resumes, peer: Sid, text: &str) -> (Option<Sid>, String) {
        let log = resumes.log(peer).unwrap();
        let mut log = lock(&log);
        let (socket, numbered) = log.sequence(&format!(r#"["message","r","{text}"]"#));
        (socket, numbered.to_owned())
    }

    #[test]
    fn off_with_no_grace() {
        assert!(Resumes::new(Duration::ZERO, 10, None).is_none());
    }

    #[test]
    fn events_are_numbered_from_one_and_go_to_the_socket_while_it_is_up() {
        let resumes = resumes(10);
        let peer = Sid::new();
        resumes.enable(peer, None, None);
        let (socket, first) = send(&resumes, peer, "a");
        assert_eq!(socket, Some(peer));
        assert_eq!(first, r#"["message","r","a",{"seq":1}]"#);
        assert!(send(&resumes, peer, "b").1.ends_with(r#"{"seq":2}]"#));
        assert!(resumes.log(Sid::new()).is_none());
    }

    #[test]
    fn a_dropped_peer_resumes_once_with_what_it_missed() {
        let resumes = resumes(10);
        let peer = Sid::new();
        let token = resumes.enable(peer, None, None);
        send(&resumes, peer, "a"); // 1, received
        let generation = resumes.dropped(peer, peer).unwrap();
        assert_eq!(send(&resumes, peer, "b").0, None); // 2, held
        assert_eq!(send(&resumes, peer, "c").0, None); // 3, held

        let socket = Sid::new();
        let claim = resumes.claim(&token, 1, socket, None).ok().unwrap();
        assert_eq!((claim.peer, claim.previous), (peer, None));
        assert_ne!(claim.token, token);
        assert_eq!(resumes.peer_of(socket), peer);
        // Still away until attached: events are held.
        assert_eq!(send(&resumes, peer, "d").0, None); // 4
        let log = resumes.log(peer).unwrap();
        let replay: Vec<String> = lock(&log).attach(1).map(str::to_owned).collect();
        assert_eq!(replay.len(), 3);
        assert!(replay[0].contains(r#""b",{"seq":2}"#) && replay[2].contains(r#""d",{"seq":4}"#));
        assert_eq!(send(&resumes, peer, "e").0, Some(socket));
        // The old grace period no longer applies; the token was used.
        assert!(!resumes.expired(peer, generation));
        assert_eq!(
            resumes.claim(&token, 1, Sid::new(), None).err(),
            Some((ResumeFailureCode::Unknown, None))
        );
        // The new one works, once.
        resumes.dropped(peer, socket).unwrap();
        assert!(resumes.claim(&claim.token, 5, Sid::new(), None).is_ok());
    }

    #[test]
    fn a_grace_period_that_ends_away_forgets_the_peer() {
        let resumes = resumes(10);
        let peer = Sid::new();
        let token = resumes.enable(peer, None, None);
        let generation = resumes.dropped(peer, peer).unwrap();
        assert!(resumes.expired(peer, generation));
        assert!(resumes.log(peer).is_none());
        let unknown = Some((ResumeFailureCode::Unknown, None));
        assert_eq!(resumes.claim(&token, 0, Sid::new(), None).err(), unknown);
        assert_eq!(resumes.claim("forged", 0, Sid::new(), None).err(), unknown);
    }

    #[test]
    fn missing_more_than_is_kept_cannot_resume() {
        let resumes = resumes(3);
        let peer = Sid::new();
        let token = resumes.enable(peer, None, None);
        send(&resumes, peer, "a"); // 1, received
        resumes.dropped(peer, peer);
        for text in ["b", "c", "d", "e"] {
            send(&resumes, peer, text); // 2..=5; 2 falls out
        }
        assert_eq!(
            resumes.claim(&token, 1, Sid::new(), None).err(),
            Some((ResumeFailureCode::TooFarBehind, Some(peer)))
        );
        assert!(resumes.log(peer).is_none(), "forgotten");
        // A number never sent is no position either.
        let other = Sid::new();
        let token = resumes.enable(other, None, None);
        assert_eq!(
            resumes.claim(&token, 9, Sid::new(), None).err(),
            Some((ResumeFailureCode::TooFarBehind, Some(other)))
        );
    }

    #[test]
    fn a_token_works_only_for_its_own_subject() {
        let resumes = resumes(10);
        let peer = Sid::new();
        let token = resumes.enable(peer, None, Some("user-1".into()));
        let stranger = resumes.claim(&token, 0, Sid::new(), Some("user-2"));
        assert_eq!(stranger.err(), Some((ResumeFailureCode::Unknown, None)));
        assert_eq!(
            resumes.claim(&token, 0, Sid::new(), None).err(),
            Some((ResumeFailureCode::Unknown, None))
        );
        // Still its owner's.
        assert_eq!(
            resumes
                .claim(&token, 0, Sid::new(), Some("user-1"))
                .ok()
                .map(|c| c.peer),
            Some(peer)
        );
    }

    #[test]
    fn in_a_cluster_tokens_name_their_issuer() {
        let resumes = Resumes::new(Duration::from_secs(30), 10, Some("00ab".into())).unwrap();
        let peer = Sid::new();
        let token = resumes.enable(peer, None, None);
        assert_eq!(issuer_of(&token), Some("00ab"));
        assert_eq!(peer_named(&token), Some(peer));
        let claim = resumes.claim(&token, 0, Sid::new(), None).ok().unwrap();
        assert_eq!(issuer_of(&claim.token), Some("00ab"));
        assert_eq!(peer_named(&claim.token), Some(peer));
        assert_eq!(peer_named("00ab.not-a-peer.x"), None);
        assert_eq!(peer_named("00ab.x"), None);
        // A single instance's tokens name none.
        assert_eq!(issuer_of(&resumes_token(None)), None);
    }

    fn resumes_token(issuer: Option<String>) -> String {
        let resumes = Resumes::new(Duration::from_secs(30), 10, issuer).unwrap();
        resumes.enable(Sid::new(), None, None)
    }

    #[test]
    fn held_bytes_are_bounded_too() {
        let resumes = resumes(100_000);
        let peer = Sid::new();
        resumes.enable(peer, None, None);
        let big = "x".repeat(100_000);
        for _ in 0..50 {
            send(&resumes, peer, &big);
        }
        let log = resumes.log(peer).unwrap();
        let log = lock(&log);
        assert!(log.held_bytes <= HELD_BYTES);
        assert_eq!(log.held.len(), HELD_BYTES / 100_020);
    }

    #[test]
    fn a_drop_noticed_after_a_resume_changes_nothing() {
        let resumes = resumes(10);
        let peer = Sid::new();
        let token = resumes.enable(peer, None, None);
        // The old socket is still up when the client resumes on a new one.
        let socket = Sid::new();
        let claim = resumes.claim(&token, 0, socket, None).ok().unwrap();
        assert_eq!(claim.previous, Some(peer));
        let log = resumes.log(peer).unwrap();
        let _ = lock(&log).attach(0).count();
        assert_eq!(resumes.dropped(peer, peer), None);
        assert_eq!(send(&resumes, peer, "a").0, Some(socket));
        resumes.forget(peer);
        assert_eq!(resumes.peer_of(socket), socket);
    }

    /// Records what reaches it, as `put digest-prefix` / `remove`.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<(Sid, Option<[u8; 32]>)>>);

    impl Records for Recorded {
        fn put(&self, peer: Sid, _: Duration, digest: &[u8; 32], _: Option<&str>) {
            self.0.lock().unwrap().push((peer, Some(*digest)));
        }
        fn remove(&self, peer: Sid) {
            self.0.lock().unwrap().push((peer, None));
        }
    }

    #[test]
    fn records_follow_each_token_and_go_with_the_peer() {
        let resumes = resumes(10);
        let recorded = Arc::new(Recorded::default());
        resumes.mirror(recorded.clone());
        let peer = Sid::new();
        let token = resumes.enable(peer, None, None);
        resumes.dropped(peer, peer);
        let claim = resumes.claim(&token, 0, Sid::new(), None).ok().unwrap();
        resumes.forget(peer);
        let records = recorded.0.lock().unwrap().clone();
        assert_eq!(
            records,
            vec![
                (peer, Some(digest(&token))),
                (peer, Some(digest(&claim.token))),
                (peer, None)
            ]
        );
    }

    #[test]
    fn an_adopted_peer_numbers_on_and_is_held_until_attached() {
        let resumes = Resumes::new(Duration::from_secs(30), 10, Some("00ab".into())).unwrap();
        let (peer, socket) = (Sid::new(), Sid::new());
        let claim = resumes.adopt(peer, socket, 7, None, Some("user".into()));
        assert_eq!((claim.peer, claim.previous), (peer, None));
        assert_eq!(peer_named(&claim.token), Some(peer));
        assert_eq!(resumes.peer_of(socket), peer);
        let (to, numbered) = send(&resumes, peer, "a");
        assert_eq!(to, None, "held until attached");
        assert!(numbered.ends_with(r#"{"seq":8}]"#));
        let log = resumes.log(peer).unwrap();
        assert_eq!(lock(&log).attach(7).count(), 1);
        assert_eq!(send(&resumes, peer, "b").0, Some(socket));
        // Its token resumes it here from now on, for its own subject only.
        resumes.dropped(peer, socket);
        let unknown = Some((ResumeFailureCode::Unknown, None));
        assert_eq!(
            resumes.claim(&claim.token, 9, Sid::new(), None).err(),
            unknown
        );
        assert!(resumes
            .claim(&claim.token, 9, Sid::new(), Some("user"))
            .is_ok());
    }
}
