//! Resuming a dropped connection as the same peer: what a client asks for in its handshake,
//! what the server answers, and the position every event carries for such a client.
//!
//! A client opts in at connect (`auth: {resume: true}`, or the query `resume=1` for socket.io
//! 2.x, which has no handshake auth) and gets `resumable({id, token, grace})`. From then on
//! every event the server sends it ends with one more argument, `{"seq": N}`, numbered from 1
//! without gaps. After a drop it connects again with `auth: {resume: {token, seq}}` (or the
//! query `resume_token=…&resume_seq=…`), `seq` being the last it received, and gets
//! `resumed({id, token, grace, rooms})` followed by every event after `seq`, in order, then the
//! live ones; or `resume_failed({code, message})` and a fresh session. Clients that do not opt in
//! see none of this.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a client asked for at connect, read from its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeAsk {
    /// A fresh session that can be resumed later.
    Enable,
    /// The session `token` was given, whose last event received was `seq` (0: none).
    Resume { token: String, seq: u64 },
}

impl ResumeAsk {
    /// The handshake's `auth` entry that asks for this (the server also reads it from the
    /// query, for socket.io 2.x clients).
    pub fn to_auth(&self) -> Value {
        match self {
            Self::Enable => Value::Bool(true),
            Self::Resume { token, seq } => serde_json::json!({ "token": token, "seq": seq }),
        }
    }

    /// Reads the handshake's `auth.resume` entry; `None` if absent or malformed.
    pub fn from_auth(entry: &Value) -> Option<Self> {
        match entry {
            Value::Bool(true) => Some(Self::Enable),
            Value::Object(ask) => Some(Self::Resume {
                token: ask.get("token")?.as_str()?.to_owned(),
                seq: ask.get("seq").map_or(Some(0), Value::as_u64)?,
            }),
            _ => None,
        }
    }
}

/// The argument of `resumable` (a fresh session) and `resumed` (a resumed one, with its rooms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeGrant {
    /// The peer id: the one the rooms know, kept across resumes.
    pub id: String,
    /// Presents this to resume; each works once (`resumed` brings the next).
    pub token: String,
    /// Seconds a dropped connection keeps its seats.
    pub grace: u64,
    /// The rooms it is in (for `resumed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// `true` (in `resumed`) when the instance that held the session died and another adopted
    /// it: events sent around the death may be missing, so a `roster` of each room follows.
    /// Absent otherwise: nothing was missed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gap: bool,
}

/// The argument of `resume_failed`: the client starts fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeFailure {
    pub code: ResumeFailureCode,
    /// For people; the code is for programs.
    pub message: String,
}

impl ResumeFailure {
    pub fn new(code: ResumeFailureCode) -> Self {
        Self {
            message: code.describe().to_owned(),
            code,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeFailureCode {
    /// No session has this token: it was never issued, was used already, or its grace ended
    /// (then the rooms were told `bye`).
    Unknown,
    /// More events were held for it than the server keeps, or the position given is not one
    /// the server can continue from: it missed too much to resume.
    TooFarBehind,
}

impl ResumeFailureCode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unknown => {
                "no session has this resume token: it was used already, its grace period ended, \
                 or it was never issued; starting a new session"
            }
            Self::TooFarBehind => {
                "the connection missed more events than the server holds; starting a new session"
            }
        }
    }
}

/// `event` (a Socket.IO event array, `["name", arg, ...]`) with the position `seq` as one more
/// argument, as a resumable client gets every event.
pub fn with_seq(event: &str, seq: u64) -> String {
    match event.strip_suffix(']') {
        // An event has at least its name, so the array is never empty.
        Some(open) => format!("{open},{{\"seq\":{seq}}}]"),
        None => event.to_owned(),
    }
}

/// Takes the position off the end of a resumable client's event arguments.
pub fn take_seq(args: &mut Vec<Value>) -> Option<u64> {
    let seq = args.last()?.as_object()?.get("seq")?.as_u64()?;
    args.pop();
    Some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_auth_entry_reads_back() {
        for ask in [
            ResumeAsk::Enable,
            ResumeAsk::Resume {
                token: "t".into(),
                seq: 7,
            },
        ] {
            assert_eq!(ResumeAsk::from_auth(&ask.to_auth()), Some(ask));
        }
        let ask = |entry: Value| ResumeAsk::from_auth(&entry);
        assert_eq!(
            ask(json!({"token": "t"})),
            Some(ResumeAsk::Resume {
                token: "t".into(),
                seq: 0
            })
        );
        assert_eq!(ask(json!({"seq": 1})), None);
        assert_eq!(ask(json!({"token": "t", "seq": -1})), None);
        assert_eq!(ask(json!(false)), None);
    }

    #[test]
    fn the_position_is_one_more_argument_and_comes_off_again() {
        let event = with_seq(r#"["message","r","a",{"seq":1}]"#, 42);
        assert_eq!(event, r#"["message","r","a",{"seq":1},{"seq":42}]"#);
        let mut args: Vec<Value> = serde_json::from_str(&event).unwrap();
        args.remove(0);
        assert_eq!(take_seq(&mut args), Some(42));
        // The message's own data, which happens to look the same, stays.
        assert_eq!(args, vec![json!("r"), json!("a"), json!({"seq": 1})]);
        let mut plain = vec![json!("r"), json!("a")];
        assert_eq!(take_seq(&mut plain), None);
        assert_eq!(plain.len(), 2);
    }
}
