//! The ICE servers handed to clients, with TURN credentials in the scheme coturn checks with
//! `use-auth-secret`: username `expiry:user`, password base64(HMAC-SHA1(secret, username)).
//! The TURN server needs only the shared secret, never a list of users.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::Config;
use crate::protocol::IceServer;

/// STUN and TURN settings, from [`Config`].
#[derive(Debug, Clone, Default)]
pub struct IceConfig {
    stun_urls: Vec<String>,
    turn_urls: Vec<String>,
    turn_secret: Option<String>,
    ttl: Duration,
}

impl IceConfig {
    pub fn new(config: &Config) -> Self {
        let nonempty = |urls: &[String]| -> Vec<String> {
            urls.iter()
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect()
        };
        Self {
            stun_urls: nonempty(&config.stun_urls),
            turn_urls: nonempty(&config.turn_urls),
            turn_secret: config.turn_secret.clone().filter(|s| !s.is_empty()),
            ttl: Duration::from_secs(config.turn_ttl),
        }
    }

    /// TURN URLs are configured but cannot be used: there is no secret to sign credentials.
    pub fn turn_without_secret(&self) -> bool {
        !self.turn_urls.is_empty() && self.turn_secret.is_none()
    }

    /// The servers for `user` (a socket id), with TURN credentials valid for the TTL from `now`.
    pub fn servers_for(&self, user: &str, now: SystemTime) -> Vec<IceServer> {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let expiry = now.duration_since(UNIX_EPOCH).unwrap_or_default() + self.ttl;
            let (username, credential) = turn_credential(secret, expiry.as_secs(), user);
            servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// coturn's REST-API credential: `(username, password)` for `user` until `expiry` (Unix time).
pub fn turn_credential(secret: &str, expiry: u64, user: &str) -> (String, String) {
    let username = format!("{expiry}:{user}");
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked examples computed independently of this code, with
    /// `printf '1700003600:alice' | openssl dgst -sha1 -hmac north -binary | base64`
    /// and Python's `hmac` module.
    #[test]
    fn credentials_match_coturns_scheme() {
        assert_eq!(
            turn_credential("north", 1_700_003_600, "alice"),
            (
                "1700003600:alice".into(),
                "wjwSXO2ch1B6VaLTLMy2Avn5O9o=".into()
            )
        );
        assert_eq!(
            turn_credential("coturn-shared-secret", 1_234_567_890, "peer").1,
            "XCPgdEkM57ybFT6t8sc62NwvLKw="
        );
    }

    #[test]
    fn servers_list_stun_then_turn_with_credentials_that_expire_after_the_ttl() {
        let config = Config {
            stun_urls: vec!["stun:stun.example.com".into(), " ".into()],
            turn_urls: vec!["turn:turn.example.com:3478".into()],
            turn_secret: Some("north".into()),
            turn_ttl: 3600,
            ..Config::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let servers = IceConfig::new(&config).servers_for("alice", now);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, vec!["stun:stun.example.com".to_owned()]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].username.as_deref(), Some("1700003600:alice"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("wjwSXO2ch1B6VaLTLMy2Avn5O9o=")
        );
    }

    #[test]
    fn turn_is_left_out_without_a_secret_and_nothing_is_the_default() {
        let no_secret = IceConfig::new(&Config {
            turn_urls: vec!["turn:turn.example.com".into()],
            ..Config::default()
        });
        assert!(no_secret.turn_without_secret());
        assert!(no_secret.servers_for("a", SystemTime::now()).is_empty());
        assert!(IceConfig::new(&Config::default())
            .servers_for("a", SystemTime::now())
            .is_empty());
    }
}
