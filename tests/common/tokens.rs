//! Join tokens for the tests, made by hand (HMAC-SHA256 over base64url JSON) so the server's
//! token code is checked against an independent signer.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::Mac;
use serde_json::{json, Value};

/// The secret the tests' servers check tokens with.
pub const SECRET: &str = "test secret: thirty-two bytes or more";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A JWT with this header and these claims, signed HS256 with `secret`.
pub fn jwt_signed(header: &Value, claims: &Value, secret: &str) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let message = format!("{}.{}", b64(header), b64(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    let signature =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{message}.{signature}")
}

/// A valid token with these claims besides an `exp` an hour away, signed with [`SECRET`].
pub fn jwt(claims: Value) -> String {
    let mut claims = claims;
    claims["exp"] = json!(now() + 3600);
    jwt_signed(&json!({"alg": "HS256", "typ": "JWT"}), &claims, SECRET)
}
