//! The cluster's Lua scripts (`scripts/*.lua`): each is the key layout's prelude
//! ([`super::keys::Keys::lua_prelude`]), the shared helpers of `lib.lua`, and its own body.
//!
//! Every change to the rooms is one script, so Redis applies it atomically and numbers and
//! announces it in the same step. Scripts are called by their SHA-1 (`EVALSHA`); when Redis
//! answers `NOSCRIPT` (its script cache was emptied), the same call is sent again with the whole
//! script (`EVAL`), which loads it.

use redis::{Cmd, Value};

use super::keys::Keys;

const LIB: &str = include_str!("scripts/lib.lua");

/// One script, ready to call.
#[derive(Debug, Clone)]
pub struct Script {
    code: String,
    hash: String,
}

impl Script {
    fn new(keys: &Keys, body: &str) -> Self {
        let code = format!("{}\n{LIB}\n{body}", keys.lua_prelude());
        let hash = redis::Script::new(&code).get_hash().to_owned();
        Self { code, hash }
    }

    /// `EVALSHA` with these arguments (the scripts take no keys: they name their own from the
    /// layout, which is why a single Redis, not Redis Cluster, must hold them).
    pub fn call<I, T>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = T>,
        T: redis::ToRedisArgs,
    {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.hash).arg(0);
        for arg in args {
            cmd.arg(arg);
        }
        cmd
    }

    /// The same call as `cmd` (made by [`Script::call`]) with the whole script, for when Redis
    /// did not know its hash.
    pub fn with_code(&self, cmd: &Cmd) -> Cmd {
        let mut eval = redis::cmd("EVAL");
        eval.arg(&self.code);
        // Past `EVALSHA` and the hash: the key count and the arguments.
        for arg in cmd.args_iter().skip(2) {
            if let redis::Arg::Simple(bytes) = arg {
                eval.arg(bytes);
            }
        }
        eval
    }

    /// `SCRIPT LOAD`, so later calls by hash find it.
    pub fn load(&self) -> Cmd {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(&self.code);
        cmd
    }
}

/// Whether `reply` is Redis saying it does not know a script's hash.
pub fn is_noscript(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(err) if err.code() == "NOSCRIPT")
}

/// All the scripts, under one prefix.
#[derive(Debug, Clone)]
pub struct Scripts {
    pub join: Script,
    pub leave: Script,
    pub heartbeat: Script,
    pub sync: Script,
    pub snapshot: Script,
    pub depart: Script,
    pub lock: Script,
    pub ban: Script,
    pub rooms: Script,
    pub room: Script,
    pub adopt: Script,
}

impl Scripts {
    pub fn new(keys: &Keys) -> Self {
        let script = |body| Script::new(keys, body);
        Self {
            join: script(include_str!("scripts/join.lua")),
            leave: script(include_str!("scripts/leave.lua")),
            heartbeat: script(include_str!("scripts/heartbeat.lua")),
            sync: script(include_str!("scripts/sync.lua")),
            snapshot: script(include_str!("scripts/snapshot.lua")),
            depart: script(include_str!("scripts/depart.lua")),
            lock: script(include_str!("scripts/lock.lua")),
            ban: script(include_str!("scripts/ban.lua")),
            rooms: script(include_str!("scripts/rooms.lua")),
            room: script(include_str!("scripts/room.lua")),
            adopt: script(include_str!("scripts/adopt.lua")),
        }
    }

    pub fn all(&self) -> [&Script; 11] {
        [
            &self.adopt,
            &self.rooms,
            &self.room,
            &self.lock,
            &self.ban,
            &self.join,
            &self.leave,
            &self.heartbeat,
            &self.sync,
            &self.snapshot,
            &self.depart,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_resent_with_its_code_keeps_its_arguments() {
        let scripts = Scripts::new(&Keys::new("p"));
        let call = scripts.leave.call(["node", "sid", "left", "room"]);
        let eval = scripts.leave.with_code(&call);
        let args: Vec<Vec<u8>> = eval
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(b) => b.to_vec(),
                _ => vec![],
            })
            .collect();
        assert_eq!(args[0], b"EVAL");
        assert!(args[1].starts_with(b"local K = {}\n"));
        assert_eq!(&args[2..], [&b"0"[..], b"node", b"sid", b"left", b"room"]);
    }
}
