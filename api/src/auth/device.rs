//! Device tokens: the account owner's way in while someone else guesses their password.
//!
//! The login slowdown counts failures per account, so guesses from anywhere would also slow
//! down the account's owner. The chosen remedy (OWASP's "device cookies"): every successful
//! sign-in returns a device token, a JWT bound to the email, signed with the api's secret and
//! valid a year. A login that presents a valid device token for the same email is counted
//! against that device alone, so guesses without it never delay the owner's device; guesses
//! made with a stolen device token slow down only that token. No CAPTCHA, nothing stored.
//!
//! The token has its own audience, so it is never accepted as an access token (and an access
//! token is never accepted here).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const AUDIENCE: &str = "stock-tracker-login-device";
const TTL_SECS: i64 = 365 * 24 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct DeviceClaims {
    /// SHA-256 of the normalised email: the token works for that account only.
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// The device: its own failure counter.
    jti: Uuid,
}

pub struct DeviceTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl DeviceTokens {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for this device, after a successful sign-in as `email` (normalised).
    pub fn issue(&self, email: &str) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = DeviceClaims {
            sub: subject(email),
            aud: AUDIENCE.to_string(),
            iat: now,
            exp: now.saturating_add(TTL_SECS),
            jti: Uuid::new_v4(),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The device a valid token for `email` names; `None` for anything else.
    pub fn verify(&self, token: &str, email: &str) -> Option<Uuid> {
        let data = decode::<DeviceClaims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.sub == subject(email)).then_some(data.claims.jti)
    }
}

fn subject(email: &str) -> String {
    hex::encode(Sha256::digest(email.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_token_is_bound_to_its_email_and_secret() {
        let tokens = DeviceTokens::new(b"0123456789abcdefghij");
        let t = tokens.issue("a@shop.ru").unwrap();
        assert!(tokens.verify(&t, "a@shop.ru").is_some());
        assert_eq!(tokens.verify(&t, "b@shop.ru"), None);
        assert_eq!(
            DeviceTokens::new(b"another secret, long").verify(&t, "a@shop.ru"),
            None
        );
        assert_eq!(tokens.verify("garbage", "a@shop.ru"), None);
    }
}
