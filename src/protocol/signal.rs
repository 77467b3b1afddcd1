//! WebRTC signaling payloads: what one peer sends another through the server, and the ICE
//! servers the server hands out. Typed, so a malformed payload is refused at the server
//! instead of breaking the receiving peer's negotiation.

use serde::{Deserialize, Serialize};

/// One signaling message for one peer: `{"type": "offer", "sdp": "..."}` and so on. An offer
/// on a connection already set up is a renegotiation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Signal {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    /// A trickled ICE candidate; `null` marks the end of candidates.
    Candidate {
        candidate: Option<IceCandidate>,
    },
    /// The sender has left the call with this peer.
    Hangup,
}

/// `RTCIceCandidateInit`, as browsers produce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// `RTCIceServer`: STUN or TURN URLs, with credentials for TURN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_read_as_browsers_write_them() {
        let offer: Signal = serde_json::from_value(json!({"type": "offer", "sdp": "v=0"})).unwrap();
        assert_eq!(offer, Signal::Offer { sdp: "v=0".into() });
        let candidate: Signal = serde_json::from_value(json!({
            "type": "candidate",
            "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                          "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": null}
        }))
        .unwrap();
        let Signal::Candidate { candidate: Some(c) } = &candidate else {
            panic!("{candidate:?}");
        };
        assert_eq!(
            (c.sdp_mid.as_deref(), c.sdp_m_line_index),
            (Some("0"), Some(0))
        );
        let end: Signal =
            serde_json::from_value(json!({"type": "candidate", "candidate": null})).unwrap();
        assert_eq!(end, Signal::Candidate { candidate: None });
        assert_eq!(
            serde_json::to_value(Signal::Hangup).unwrap(),
            json!({"type": "hangup"})
        );
    }

    #[test]
    fn malformed_payloads_do_not_read() {
        for bad in [
            json!({"type": "offer"}),
            json!({"type": "offer", "sdp": 1}),
            json!({"type": "bogus"}),
            json!({"sdp": "v=0"}),
            json!({"type": "candidate", "candidate": {"sdpMid": "0"}}),
            json!({"type": "answer", "sdp": "v=0", "extra": true}),
            json!("offer"),
        ] {
            assert!(
                serde_json::from_value::<Signal>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
