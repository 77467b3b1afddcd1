//! "Test connectivity": for each STUN and TURN URL the server hands out, the browser gathers ICE
//! candidates through that server alone and says plainly what works and what it means for
//! calls. STUN works when it yields a server-reflexive candidate (the address the world sees),
//! or when gathering ends at once without one: browsers drop a reflexive candidate that adds
//! nothing to their own addresses (no NAT in between), and a STUN server that does not answer
//! keeps gathering going for many seconds. TURN works when, relay-only, it yields a relay
//! candidate, which needs the credentials to be accepted; a TURN server that answers 401
//! refused them.
//!
//! Nothing is sent to anyone: the connections gather candidates and are closed.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::{
    RtcConfiguration, RtcIceGatheringState, RtcIceTransportPolicy, RtcPeerConnection,
    RtcPeerConnectionIceErrorEvent, RtcPeerConnectionIceEvent,
};

use super::peer::{ice_server_list, set_local_description};
use crate::browser::sleep;
use crate::protocol::IceServer;

/// How long one server is given to answer.
const WAIT_MS: i32 = 5000;
/// How often gathering is looked at meanwhile.
const LOOK_EVERY_MS: i32 = 100;

/// What one server did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// STUN answered; the address the world sees, unless it was this machine's own.
    Reachable(Option<String>),
    /// TURN accepted the credentials; the relay address it gave.
    Relayed(String),
    /// TURN refused the credentials (401).
    Refused,
    /// No useful answer in time; what the browser reported, if anything.
    NoAnswer(Option<String>),
}

/// One URL's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub url: String,
    pub outcome: Outcome,
}

impl Check {
    /// One line for people.
    pub fn describe(&self) -> String {
        let what = match &self.outcome {
            Outcome::Reachable(Some(addr)) => format!("reachable: the world sees you as {addr}"),
            Outcome::Reachable(None) => {
                "reachable: it sees this machine's own address (no NAT in between)".to_owned()
            }
            Outcome::Relayed(addr) => format!("credentials accepted: it relays through {addr}"),
            Outcome::Refused => "credentials refused (401): the TURN server's secret is not \
                                 signalroom's --turn-secret"
                .to_owned(),
            Outcome::NoAnswer(None) => format!("no answer within {} s", WAIT_MS / 1000),
            Outcome::NoAnswer(Some(why)) => format!("no answer: {why}"),
        };
        format!("{}: {what}", self.url)
    }
}

/// Whether `url` names a TURN server (checked relay-only), not a STUN one.
fn is_turn(url: &str) -> bool {
    url.starts_with("turn:") || url.starts_with("turns:")
}

/// What calls can count on, from every check.
pub fn verdict(checks: &[Check]) -> &'static str {
    let any = |f: fn(&Outcome) -> bool| checks.iter().any(|c| f(&c.outcome));
    if checks.is_empty() {
        "No STUN or TURN servers are configured: calls connect only between people who reach \
         each other directly (the same machine or network)."
    } else if any(|o| matches!(o, Outcome::Relayed(_))) {
        "TURN works: calls can connect from any network, relayed where a direct path fails."
    } else if any(|o| matches!(o, Outcome::Reachable(_))) {
        "STUN works but no TURN server accepted you: calls connect across most networks, but \
         not when both sides are behind strict NATs or firewalls."
    } else {
        "Neither STUN nor TURN works from here: calls connect only within the same network."
    }
}

/// What the check found: a line per URL, and what it means for calls.
pub struct Report {
    pub lines: Vec<String>,
    pub verdict: &'static str,
}

/// Checks every URL of `servers`. In a WASM file of its own (`cargo leptos build --split`),
/// loaded the first time someone asks: the page's bundle stays small for everyone else.
#[leptos::lazy]
pub async fn report(servers: Vec<IceServer>) -> Report {
    let checks = check_all(&servers).await;
    Report {
        lines: checks.iter().map(Check::describe).collect(),
        verdict: verdict(&checks),
    }
}

/// Checks every URL of `servers`, one after another.
async fn check_all(servers: &[IceServer]) -> Vec<Check> {
    let mut checks = Vec::new();
    for server in servers {
        for url in &server.urls {
            let one = IceServer {
                urls: vec![url.clone()],
                username: server.username.clone(),
                credential: server.credential.clone(),
            };
            let outcome = probe(&one, is_turn(url))
                .await
                .unwrap_or_else(|err| Outcome::NoAnswer(Some(describe(err))));
            checks.push(Check {
                url: url.clone(),
                outcome,
            });
        }
    }
    checks
}

/// Where gathering is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gathering {
    Going,
    /// The browser finished.
    Complete,
    /// [`WAIT_MS`] passed first.
    TimedOut,
}

/// What gathering found.
#[derive(Default)]
struct Findings {
    /// `(type, address:port)` of each candidate.
    candidates: Vec<(String, String)>,
    /// `(errorCode, errorText)` of each error.
    errors: Vec<(u16, String)>,
}

async fn probe(server: &IceServer, turn: bool) -> Result<Outcome, JsValue> {
    let config = RtcConfiguration::new();
    config.set_ice_servers(&ice_server_list(std::slice::from_ref(server)));
    if turn {
        config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
    }
    let pc = RtcPeerConnection::new_with_configuration(&config)?;
    let found = Rc::new(RefCell::new(Findings::default()));
    let on_candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new({
        let found = found.clone();
        move |event: RtcPeerConnectionIceEvent| {
            if let Some(parsed) = event.candidate().and_then(|c| parse(&c.candidate())) {
                found.borrow_mut().candidates.push(parsed);
            }
        }
    });
    let on_error = Closure::<dyn FnMut(RtcPeerConnectionIceErrorEvent)>::new({
        let found = found.clone();
        move |event: RtcPeerConnectionIceErrorEvent| {
            found
                .borrow_mut()
                .errors
                .push((event.error_code(), event.error_text()));
        }
    });
    pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    pc.add_event_listener_with_callback("icecandidateerror", on_error.as_ref().unchecked_ref())?;
    // A data channel gives the offer something to gather candidates for.
    let _channel = pc.create_data_channel("connectivity-check");
    wasm_bindgen_futures::JsFuture::from(set_local_description(&pc)).await?;
    let wanted = if turn { "relay" } else { "srflx" };
    let mut waited = 0;
    let outcome = loop {
        let gathering = if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
            Gathering::Complete
        } else if waited >= WAIT_MS {
            Gathering::TimedOut
        } else {
            Gathering::Going
        };
        if let Some(outcome) = judge(&found.borrow(), wanted, gathering) {
            break outcome;
        }
        sleep(LOOK_EVERY_MS).await;
        waited += LOOK_EVERY_MS;
    };
    pc.set_onicecandidate(None);
    let _ = pc.remove_event_listener_with_callback(
        "icecandidateerror",
        on_error.as_ref().unchecked_ref(),
    );
    pc.close();
    Ok(outcome)
}

/// The outcome `found` shows, looking for `wanted` candidates, or `None` while `gathering` goes
/// on without a conclusive one (the candidate, or a 401).
fn judge(found: &Findings, wanted: &str, gathering: Gathering) -> Option<Outcome> {
    if let Some((_, addr)) = found.candidates.iter().find(|(kind, _)| kind == wanted) {
        return Some(if wanted == "relay" {
            Outcome::Relayed(addr.clone())
        } else {
            Outcome::Reachable(Some(addr.clone()))
        });
    }
    if found.errors.iter().any(|(code, _)| *code == 401) {
        return Some(Outcome::Refused);
    }
    let why = found
        .errors
        .first()
        .map(|(code, text)| format!("{text} ({code})"));
    match gathering {
        Gathering::Going => None,
        // Done at once with no error: the STUN server answered with an address the browser
        // already had (a host candidate is the proof it gathered at all).
        Gathering::Complete
            if wanted == "srflx"
                && why.is_none()
                && found.candidates.iter().any(|(kind, _)| kind == "host") =>
        {
            Some(Outcome::Reachable(None))
        }
        Gathering::Complete | Gathering::TimedOut => Some(Outcome::NoAnswer(why)),
    }
}

/// A candidate line's type and address: `candidate:1 1 udp 1677 203.0.113.5 40000 typ srflx …`
/// gives `("srflx", "203.0.113.5:40000")`.
fn parse(candidate: &str) -> Option<(String, String)> {
    let fields: Vec<&str> = candidate.split_whitespace().collect();
    let at = fields.iter().position(|f| *f == "typ")?;
    let (address, port) = (fields.get(4)?, fields.get(5)?);
    let kind = fields.get(at + 1)?;
    Some(((*kind).to_owned(), format!("{address}:{port}")))
}

fn describe(err: JsValue) -> String {
    err.as_string().unwrap_or_else(|| format!("{err:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outcome: Outcome) -> Check {
        Check {
            url: "x".into(),
            outcome,
        }
    }

    #[test]
    fn candidate_lines_give_their_type_and_address() {
        let line = "candidate:1183711583 1 udp 1677729535 203.0.113.5 59896 typ srflx raddr 0.0.0.0 rport 0 generation 0";
        assert_eq!(
            parse(line),
            Some(("srflx".into(), "203.0.113.5:59896".into()))
        );
        assert_eq!(parse("candidate:1 1 udp"), None);
    }

    #[test]
    fn a_relay_or_a_401_is_conclusive_and_silence_only_at_the_end() {
        use Gathering::*;
        let mut found = Findings::default();
        assert_eq!(judge(&found, "relay", Going), None);
        assert_eq!(
            judge(&found, "relay", Complete),
            Some(Outcome::NoAnswer(None))
        );
        assert_eq!(
            judge(&found, "relay", TimedOut),
            Some(Outcome::NoAnswer(None))
        );
        let lookup = "STUN host lookup received error.";
        found.errors.push((701, lookup.into()));
        assert_eq!(judge(&found, "relay", Going), None);
        assert_eq!(
            judge(&found, "relay", TimedOut),
            Some(Outcome::NoAnswer(Some(format!("{lookup} (701)"))))
        );
        found.errors.push((401, "Unauthorized".into()));
        assert_eq!(judge(&found, "relay", Going), Some(Outcome::Refused));
        let relay = "198.51.100.1:49160";
        found.candidates.push(("relay".into(), relay.into()));
        assert_eq!(
            judge(&found, "relay", Going),
            Some(Outcome::Relayed(relay.into()))
        );
    }

    #[test]
    fn stun_answers_with_a_reflexive_candidate_or_by_gathering_ending_at_once() {
        use Gathering::*;
        let mut stun = Findings::default();
        stun.candidates
            .push(("host".into(), "192.0.2.2:5000".into()));
        // A host candidate alone says nothing while gathering goes on, nor when it times out.
        assert_eq!(judge(&stun, "srflx", Going), None);
        assert_eq!(
            judge(&stun, "srflx", TimedOut),
            Some(Outcome::NoAnswer(None))
        );
        // Done without a reflexive candidate: the server answered with the host's address.
        assert_eq!(
            judge(&stun, "srflx", Complete),
            Some(Outcome::Reachable(None))
        );
        let reflexive = "203.0.113.5:6000";
        stun.candidates.push(("srflx".into(), reflexive.into()));
        assert_eq!(
            judge(&stun, "srflx", Going),
            Some(Outcome::Reachable(Some(reflexive.into())))
        );
        // Nothing gathered at all (no network) is no answer.
        let nothing = Findings::default();
        assert_eq!(
            judge(&nothing, "srflx", Complete),
            Some(Outcome::NoAnswer(None))
        );
    }

    #[test]
    fn the_verdict_is_the_best_that_works() {
        assert!(verdict(&[]).starts_with("No STUN or TURN"));
        let reachable = check(Outcome::Reachable(Some("a".into())));
        let relayed = check(Outcome::Relayed("b".into()));
        let refused = check(Outcome::Refused);
        assert!(verdict(&[reachable.clone(), refused.clone()]).starts_with("STUN works but"));
        assert!(verdict(&[reachable, refused.clone(), relayed]).starts_with("TURN works"));
        assert!(verdict(&[refused, check(Outcome::NoAnswer(None))]).starts_with("Neither"));
    }
}
