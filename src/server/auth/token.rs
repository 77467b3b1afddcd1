//! Join tokens: JWTs signed HS256 with `--auth-secret`, checked by `jsonwebtoken` (whose HMAC
//! comparison is ring's, in constant time), and minted for `signalroom token`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::grant::{Grant, Role, RoomGrant, TokenId};
use crate::protocol::{DisplayName, RoomName, MAX_REQUESTED_CAPACITY};

/// A join token's claims, as the README's claim table documents them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Expiry (seconds since the epoch): required. (Defaulted only so that jsonwebtoken, which
    /// checks for it in the raw claims, can say it is missing.)
    #[serde(default)]
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<usize>,
}

/// Why a token was refused: the `connect_error` message the client gets. None says anything
/// about the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("a join token is required (auth {{token}}, or a token query parameter)")]
    Missing,
    #[error("the join token is not a well-formed JWT")]
    Malformed,
    #[error("the join token must be signed with HS256, not {0}")]
    Algorithm(String),
    #[error("the join token's signature is not valid")]
    BadSignature,
    #[error("the join token has no exp claim")]
    NoExpiry,
    #[error("the join token has expired")]
    Expired,
    #[error("the join token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the join token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("the join token's claims are invalid: {0}")]
    Claims(String),
}

/// The longest token accepted, in bytes: far above any real token, and it bounds the work.
const MAX_TOKEN_BYTES: usize = 8192;

/// Checks and mints tokens with one secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    leeway: u64,
}

impl Tokens {
    /// `leeway`: seconds of clock skew forgiven on `exp`, `nbf` and `iat`.
    pub fn new(secret: &[u8], leeway: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = leeway;
        validation.validate_nbf = true;
        // An audience is the application's business; signalroom does not ask for one.
        validation.validate_aud = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            leeway,
        }
    }

    /// What `token` grants, or why it grants nothing.
    pub fn verify(&self, token: &str) -> Result<Grant, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        // The header's algorithm first, to say "none" or "RS256" plainly: jsonwebtoken cannot
        // even parse a header naming an algorithm it does not know.
        match header_algorithm(token)?.as_str() {
            "HS256" => {}
            other => return Err(TokenError::Algorithm(other.to_owned())),
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm("another algorithm".into()),
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::MissingRequiredClaim(_) => TokenError::NoExpiry,
                // The signature held, so the payload is the secret holder's: its claims are
                // of the wrong types.
                ErrorKind::Json(err) => TokenError::Claims(err.to_string()),
                _ => TokenError::Malformed,
            })?;
        let claims = data.claims;
        if claims.iat.is_some_and(|iat| iat > now() + self.leeway) {
            return Err(TokenError::IssuedInFuture);
        }
        grant(claims, TokenId::of(token))
    }

    /// A token for `claims`, signed HS256.
    pub fn mint(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 claims always encode")
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `alg` of a JWT's header.
fn header_algorithm(token: &str) -> Result<String, TokenError> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let (header, rest) = token.split_once('.').ok_or(TokenError::Malformed)?;
    if rest.split('.').count() != 2 {
        return Err(TokenError::Malformed);
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    Ok(header.alg.chars().take(16).collect())
}

/// The grant of a token whose signature and times were checked.
fn grant(claims: Claims, token: TokenId) -> Result<Grant, TokenError> {
    let invalid = |what: &str| TokenError::Claims(what.to_owned());
    let name = claims
        .name
        .map(|name| {
            DisplayName::parse(&name).map_err(|_| invalid("name is not a valid display name"))
        })
        .transpose()?;
    let rooms = claims
        .rooms
        .map(|rooms| {
            rooms
                .iter()
                .map(|entry| {
                    // A prefix may be empty (`*`: every room); an exact name must be a room name.
                    let grant = RoomGrant::parse(entry);
                    match &grant {
                        RoomGrant::Exact(name) if RoomName::parse(name).is_err() => {
                            Err(invalid("rooms holds an invalid room name"))
                        }
                        _ => Ok(grant),
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if claims
        .capacity
        .is_some_and(|c| !(1..=MAX_REQUESTED_CAPACITY).contains(&c))
    {
        return Err(invalid("capacity must be 1 to 10000"));
    }
    if claims
        .sub
        .as_ref()
        .is_some_and(|sub| sub.len() > 256 || sub.chars().any(char::is_control))
    {
        return Err(invalid(
            "sub must be at most 256 bytes without control characters",
        ));
    }
    Ok(Grant {
        rooms,
        role: claims.role.unwrap_or_default(),
        name,
        sub: claims.sub.map(Arc::from),
        capacity: claims.capacity,
        token: Some(token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of at least thirty-two bytes!";

    fn tokens() -> Tokens {
        Tokens::new(SECRET, 5)
    }

    fn claims() -> Claims {
        Claims {
            exp: now() + 60,
            ..Claims::default()
        }
    }

    /// A JWT with this header and payload, signed (HS256) with `secret`.
    fn handmade(header: &str, payload: &str, secret: &[u8]) -> String {
        use hmac::Mac;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let message = format!("{}.{}", b64(header), b64(payload));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(message.as_bytes());
        let signature =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{message}.{signature}")
    }

    #[test]
    fn a_minted_token_verifies_with_its_claims() {
        let mut c = claims();
        c.sub = Some("user-1".into());
        c.name = Some("Ada".into());
        c.rooms = Some(vec!["lobby".into(), "team-*".into()]);
        c.role = Some(Role::Moderator);
        c.capacity = Some(2);
        let token = tokens().mint(&c);
        let grant = tokens().verify(&token).unwrap();
        assert_eq!(grant.sub.as_deref(), Some("user-1"));
        assert_eq!(grant.name.unwrap().as_str(), "Ada");
        assert_eq!(grant.role, Role::Moderator);
        assert_eq!(grant.capacity, Some(2));
        assert_eq!(grant.token, Some(TokenId::of(&token)));
        assert_eq!(
            grant.rooms,
            Some(vec![
                RoomGrant::Exact("lobby".into()),
                RoomGrant::Prefix("team-".into())
            ])
        );
    }

    #[test]
    fn each_bad_token_says_what_is_wrong() {
        let t = tokens();
        let good = t.mint(&claims());
        assert_eq!(t.verify("garbage").unwrap_err(), TokenError::Malformed);
        assert_eq!(t.verify("a.b.c").unwrap_err(), TokenError::Malformed);
        assert_eq!(t.verify("").unwrap_err(), TokenError::Malformed);
        let other = Tokens::new(b"another secret, also long enough....", 5).mint(&claims());
        assert_eq!(t.verify(&other).unwrap_err(), TokenError::BadSignature);
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(t.verify(&tampered).unwrap_err(), TokenError::BadSignature);
        let payload = serde_json::to_string(&claims()).unwrap();
        let none = handmade(r#"{"alg":"none","typ":"JWT"}"#, &payload, SECRET);
        let unsigned = format!("{}.", none.rsplit_once('.').unwrap().0);
        assert_eq!(
            t.verify(&unsigned).unwrap_err(),
            TokenError::Algorithm("none".into())
        );
        let hs512 = handmade(r#"{"alg":"HS512"}"#, &payload, SECRET);
        assert_eq!(
            t.verify(&hs512).unwrap_err(),
            TokenError::Algorithm("HS512".into())
        );
        let rs256 = handmade(r#"{"alg":"RS256"}"#, &payload, SECRET);
        assert_eq!(
            t.verify(&rs256).unwrap_err(),
            TokenError::Algorithm("RS256".into())
        );
        let no_exp = handmade(r#"{"alg":"HS256"}"#, r#"{"sub":"x"}"#, SECRET);
        assert_eq!(t.verify(&no_exp).unwrap_err(), TokenError::NoExpiry);
        let wrong_type = handmade(r#"{"alg":"HS256"}"#, r#"{"exp":"soon"}"#, SECRET);
        assert!(matches!(t.verify(&wrong_type), Err(TokenError::Claims(_))));
        assert_eq!(
            t.verify(&"x".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(),
            TokenError::Malformed
        );
    }

    #[test]
    fn times_are_honoured_with_the_leeway() {
        let t = tokens();
        let at = |exp: u64, nbf: Option<u64>, iat: Option<u64>| {
            t.verify(&t.mint(&Claims {
                exp,
                nbf,
                iat,
                ..Claims::default()
            }))
        };
        let now = now();
        assert_eq!(at(now - 60, None, None).unwrap_err(), TokenError::Expired);
        assert!(at(now - 2, None, None).is_ok(), "within the leeway");
        assert_eq!(
            at(now + 60, Some(now + 30), None).unwrap_err(),
            TokenError::NotYetValid
        );
        assert!(at(now + 60, Some(now + 2), None).is_ok());
        assert_eq!(
            at(now + 60, None, Some(now + 30)).unwrap_err(),
            TokenError::IssuedInFuture
        );
        assert!(at(now + 60, Some(now - 10), Some(now - 10)).is_ok());
    }

    #[test]
    fn invalid_claims_are_refused() {
        let t = tokens();
        let with = |f: fn(&mut Claims)| {
            let mut c = claims();
            f(&mut c);
            t.verify(&t.mint(&c))
        };
        assert!(matches!(
            with(|c| c.name = Some(String::new())),
            Err(TokenError::Claims(_))
        ));
        assert!(matches!(
            with(|c| c.rooms = Some(vec![String::new()])),
            Err(TokenError::Claims(_))
        ));
        assert!(matches!(
            with(|c| c.capacity = Some(0)),
            Err(TokenError::Claims(_))
        ));
        assert!(matches!(
            with(|c| c.sub = Some("a\nb".into())),
            Err(TokenError::Claims(_))
        ));
        assert!(with(|c| c.rooms = Some(vec!["*".into()])).is_ok());
    }
}
