//! WB-shaped API tokens: ES256 JWTs whose payload carries the seller, token type and
//! category bitmask exactly as the WB portal documents them.
//!
//! The signing key is fixed (a throwaway test key) rather than generated at start-up so that
//! `wb-sandbox mint-token`, the demo script and a running server in another process all agree.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::prng::hash;

/// `kid` of the sandbox signing key; shaped like the date-versioned ids WB uses.
pub const KEY_ID: &str = "20250403v1-sandbox";

// A P-256 key generated for the sandbox only. It protects nothing: tokens it signs are
// accepted by nobody but this simulator.
const PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqa73q6Gfkb2gl+CE
pYz1hr1an3hn6nN+/xyciePY/fKhRANCAASzZ1Vl7IH0PBewPSSNIKZ8Y72iE/Eo
eSUDn6+11ayGJa9/Hr8MB+8GfLXFaWSNypGd0lopobhHhXHBnV1fTrCB
-----END PRIVATE KEY-----
";
const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEs2dVZeyB9DwXsD0kjSCmfGO9ohPx
KHklA5+vtdWshiWvfx6/DAfvBny1xWlkjcqRndJaKaG4R4VxwZ1dX06wgQ==
-----END PUBLIC KEY-----
";

static ENCODING_KEY: LazyLock<EncodingKey> = LazyLock::new(|| {
    EncodingKey::from_ec_pem(PRIVATE_KEY_PEM.as_bytes()).expect("built-in sandbox key is valid")
});
static DECODING_KEY: LazyLock<DecodingKey> = LazyLock::new(|| {
    DecodingKey::from_ec_pem(PUBLIC_KEY_PEM.as_bytes()).expect("built-in sandbox key is valid")
});

/// The `acc` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Base = 1,
    Test = 2,
    Personal = 3,
    Service = 4,
}

impl TokenType {
    pub fn acc(self) -> u8 {
        self as u8
    }

    pub fn from_acc(acc: i64) -> Option<Self> {
        Some(match acc {
            1 => Self::Base,
            2 => Self::Test,
            3 => Self::Personal,
            4 => Self::Service,
            _ => return None,
        })
    }
}

impl std::str::FromStr for TokenType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "base" | "basic" | "1" => Ok(Self::Base),
            "test" | "2" => Ok(Self::Test),
            "personal" | "3" => Ok(Self::Personal),
            "service" | "4" => Ok(Self::Service),
            other => Err(format!(
                "unknown token type {other:?} (base, test, personal, service)"
            )),
        }
    }
}

/// API categories a token may cover; the discriminant is the bit number in the `s` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Content = 1,
    Analytics = 2,
    Prices = 3,
    Marketplace = 4,
    Statistics = 5,
    Promotion = 6,
    Feedbacks = 7,
    Chat = 9,
    Supplies = 10,
    Returns = 11,
    Documents = 12,
    Finance = 13,
    Users = 16,
}

/// Bit 30 of `s`: the token may only call read methods.
pub const READ_ONLY_BIT: u32 = 30;

impl Category {
    pub const ALL: [Category; 13] = [
        Self::Content,
        Self::Analytics,
        Self::Prices,
        Self::Marketplace,
        Self::Statistics,
        Self::Promotion,
        Self::Feedbacks,
        Self::Chat,
        Self::Supplies,
        Self::Returns,
        Self::Documents,
        Self::Finance,
        Self::Users,
    ];

    pub fn bit(self) -> u32 {
        self as u32
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Content => "content",
            Self::Analytics => "analytics",
            Self::Prices => "prices",
            Self::Marketplace => "marketplace",
            Self::Statistics => "statistics",
            Self::Promotion => "promotion",
            Self::Feedbacks => "feedbacks",
            Self::Chat => "chat",
            Self::Supplies => "supplies",
            Self::Returns => "returns",
            Self::Documents => "documents",
            Self::Finance => "finance",
            Self::Users => "users",
        }
    }
}

impl std::str::FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        if let Ok(bit) = s.parse::<u32>() {
            return Self::ALL
                .into_iter()
                .find(|c| c.bit() == bit)
                .ok_or_else(|| format!("no category has bit {bit}"));
        }
        let alias = match s.as_str() {
            "discounts" | "prices-and-discounts" => "prices",
            "questions" | "feedbacks-and-questions" => "feedbacks",
            "buyers-chat" => "chat",
            "buyers-returns" => "returns",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|c| c.name() == alias)
            .ok_or_else(|| format!("unknown category {s:?}"))
    }
}

/// The sandbox's own id in a pretend Business Solutions Catalog: service tokens are minted
/// `for: "asid:<this>"` unless told another service, and a Stock Tracker pointed at the
/// sandbox sets `WB_SERVICE_ID` to it.
pub const SANDBOX_SERVICE_ID: &str = "7c0e7a52-5a3f-4d6b-9f1e-5b70c7d5a001";

/// What to put into a minted token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenOptions {
    pub seller_id: i64,
    pub token_type: TokenType,
    pub categories: Vec<Category>,
    pub read_only: bool,
    pub expires_at: DateTime<Utc>,
    /// The `t` claim. WB sets it only on test tokens; the sandbox accepts it on any type.
    pub test: bool,
    /// For service tokens: the service they are created for (`for: "asid:<id>"`); `None`
    /// means [`SANDBOX_SERVICE_ID`].
    pub service_id: Option<String>,
}

impl TokenOptions {
    /// A personal, read-only token with everything the Stock Tracker needs, valid 180 days
    /// like a freshly created WB token.
    pub fn demo(seller_id: i64) -> Self {
        Self {
            seller_id,
            token_type: TokenType::Personal,
            categories: vec![
                Category::Content,
                Category::Analytics,
                Category::Marketplace,
                Category::Statistics,
            ],
            read_only: true,
            expires_at: Utc::now() + Duration::days(180),
            test: false,
            service_id: None,
        }
    }

    /// The demo token as another type: `Base` (acc 1, no `for`), `Service` (acc 4, `for`
    /// the sandbox's service), `Personal` (acc 3, `for: "self"`), `Test` (acc 2, `t`).
    pub fn of_type(seller_id: i64, token_type: TokenType) -> Self {
        Self {
            token_type,
            test: token_type == TokenType::Test,
            ..Self::demo(seller_id)
        }
    }

    pub fn scope_bits(&self) -> u64 {
        let mut s = self
            .categories
            .iter()
            .fold(0u64, |acc, c| acc | (1u64 << c.bit()));
        if self.read_only {
            s |= 1 << READ_ONLY_BIT;
        }
        s
    }
}

/// The JWT payload. Field names and order follow real WB tokens; `oid` (the seller's
/// numeric id) is where the sandbox keeps the seller id, `sid` is the seller UUID that WB
/// documents, derived from the seller id (see [`seller_uuid`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub acc: i64,
    #[serde(default)]
    pub ent: i64,
    pub exp: i64,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub iid: i64,
    #[serde(default)]
    pub oid: Option<i64>,
    #[serde(default)]
    pub s: u64,
    #[serde(default)]
    pub sid: serde_json::Value,
    #[serde(default)]
    pub t: bool,
    #[serde(default)]
    pub uid: i64,
}

/// The seller UUID placed in `sid`: UUIDv4-shaped, stable per seller, with the seller id in
/// the last 12 hex digits when it fits in 48 bits (so a human can read it back).
pub fn seller_uuid(seller_id: i64) -> Uuid {
    let h1 = hash(&[seller_id as u64, 0x5e11]);
    let h2 = hash(&[seller_id as u64, 0x5e12]);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&h1.to_be_bytes());
    bytes[8..10].copy_from_slice(&h2.to_be_bytes()[..2]);
    bytes[10..].copy_from_slice(&(seller_id as u64).to_be_bytes()[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// Builds and signs a token.
pub fn mint_token(opts: &TokenOptions) -> String {
    let user_id = 10_000_000 + (hash(&[opts.seller_id as u64, 0x05e]) % 90_000_000) as i64;
    let claims = Claims {
        acc: i64::from(opts.token_type.acc()),
        ent: 1,
        exp: opts.expires_at.timestamp(),
        for_: match opts.token_type {
            TokenType::Personal => Some("self".into()),
            TokenType::Service => Some(format!(
                "asid:{}",
                opts.service_id.as_deref().unwrap_or(SANDBOX_SERVICE_ID)
            )),
            TokenType::Base | TokenType::Test => None,
        },
        id: Uuid::new_v4().to_string(),
        iid: user_id,
        oid: Some(opts.seller_id),
        s: opts.scope_bits(),
        sid: serde_json::Value::String(seller_uuid(opts.seller_id).to_string()),
        t: opts.test,
        uid: user_id,
    };
    let header = serde_json::json!({"alg": "ES256", "kid": KEY_ID, "typ": "JWT"});
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serialises")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise")),
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &ENCODING_KEY, Algorithm::ES256)
        .expect("ES256 signing with the built-in key cannot fail");
    format!("{message}.{signature}")
}

/// A token that passed [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub seller_id: i64,
    /// The `id` claim; with the seller it keys the rate-limit buckets.
    pub token_id: String,
    pub token_type: TokenType,
    pub scope: u64,
    pub test: bool,
    pub expires_at: i64,
}

impl VerifiedToken {
    pub fn has(&self, category: Category) -> bool {
        self.scope & (1 << category.bit()) != 0
    }

    pub fn read_only(&self) -> bool {
        self.scope & (1 << READ_ONLY_BIT) != 0
    }
}

/// Why a token was refused; the text goes into the 401 `detail` in WB's (golang-jwt) wording.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenError {
    #[error("empty Authorization header")]
    Missing,
    #[error("token problem; token is malformed: {0}")]
    Malformed(String),
    #[error("token problem; token signature is invalid: {0}")]
    BadSignature(String),
    #[error("token problem; token has invalid claims: token is expired")]
    Expired,
}

/// Extracts the token from an `Authorization` value: WB takes it raw, `Bearer ` is tolerated.
pub fn from_header(value: Option<&str>) -> Result<&str, TokenError> {
    let raw = value.map(str::trim).unwrap_or_default();
    let raw = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(raw)
        .trim();
    if raw.is_empty() {
        Err(TokenError::Missing)
    } else {
        Ok(raw)
    }
}

fn b64(part: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| TokenError::Malformed(format!("could not base64 decode {what}: {e}")))
}

/// Decodes the payload without checking the signature, the way a WB client (which cannot
/// verify WB's signatures) reads a token.
pub fn decode_claims_unverified(token: &str) -> Result<Claims, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenError::Malformed(
            "token contains an invalid number of segments".into(),
        ));
    }
    let payload = b64(parts[1], "claim")?;
    serde_json::from_slice(&payload)
        .map_err(|e| TokenError::Malformed(format!("could not JSON decode claim: {e}")))
}

/// Seller id carried by the claims: `oid`, else a numeric `sid`, else the low 48 bits of a
/// UUID `sid` as written by [`seller_uuid`].
pub fn seller_id_of(claims: &Claims) -> Option<i64> {
    if let Some(oid) = claims.oid {
        return Some(oid);
    }
    match &claims.sid {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse::<i64>().ok().or_else(|| {
            Uuid::parse_str(s)
                .ok()
                .map(|u| (u.as_u128() & 0xFFFF_FFFF_FFFF) as i64)
        }),
        _ => None,
    }
}

/// Full check of a token the sandbox issued: structure, ES256 signature, payload, expiry.
pub fn verify(token: &str) -> Result<VerifiedToken, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenError::Malformed(
            "token contains an invalid number of segments".into(),
        ));
    }
    let header: serde_json::Value = serde_json::from_slice(&b64(parts[0], "header")?)
        .map_err(|e| TokenError::Malformed(format!("could not JSON decode header: {e}")))?;
    let claims = decode_claims_unverified(token)?;
    let signature = b64(parts[2], "signature")?;
    let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
    if alg != "ES256" {
        return Err(TokenError::BadSignature(format!(
            "signing method {alg} is invalid"
        )));
    }
    if signature.len() != 64 {
        return Err(TokenError::BadSignature(
            "crypto/ecdsa: verification error".into(),
        ));
    }
    let message_len = parts[0].len() + 1 + parts[1].len();
    let ok = jsonwebtoken::crypto::verify(
        parts[2],
        &token.as_bytes()[..message_len],
        &DECODING_KEY,
        Algorithm::ES256,
    )
    .unwrap_or(false);
    if !ok {
        return Err(TokenError::BadSignature(
            "crypto/ecdsa: verification error".into(),
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    let token_type = TokenType::from_acc(claims.acc)
        .ok_or_else(|| TokenError::Malformed(format!("unknown acc {}", claims.acc)))?;
    let seller_id = seller_id_of(&claims)
        .ok_or_else(|| TokenError::Malformed("no seller id in sid/oid".into()))?;
    Ok(VerifiedToken {
        seller_id,
        token_id: claims.id.clone(),
        token_type,
        scope: claims.s,
        test: claims.t || token_type == TokenType::Test,
        expires_at: claims.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_token_round_trips() {
        let token = mint_token(&TokenOptions::demo(4242));
        assert_eq!(token.split('.').count(), 3);
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], KEY_ID);

        let v = verify(&token).unwrap();
        assert_eq!(v.seller_id, 4242);
        assert_eq!(v.token_type, TokenType::Personal);
        assert!(v.read_only());
        for c in [
            Category::Content,
            Category::Analytics,
            Category::Marketplace,
            Category::Statistics,
        ] {
            assert!(v.has(c), "{c:?}");
        }
        assert!(!v.has(Category::Prices));

        let claims = decode_claims_unverified(&token).unwrap();
        assert_eq!(claims.acc, 3);
        assert_eq!(claims.for_.as_deref(), Some("self"));
        assert!(!claims.t);
        assert_eq!(
            claims.s,
            (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 30)
        );
        let sid = Uuid::parse_str(claims.sid.as_str().unwrap()).unwrap();
        assert_eq!(sid.get_version_num(), 4);
        assert_eq!(sid, seller_uuid(4242));
    }

    #[test]
    fn all_four_token_types_carry_wbs_claims() {
        for (tt, acc, issued_for) in [
            (TokenType::Base, 1, None),
            (TokenType::Test, 2, None),
            (TokenType::Personal, 3, Some("self".to_string())),
            (
                TokenType::Service,
                4,
                Some(format!("asid:{SANDBOX_SERVICE_ID}")),
            ),
        ] {
            let token = mint_token(&TokenOptions::of_type(9, tt));
            let c = decode_claims_unverified(&token).unwrap();
            assert_eq!((c.acc, c.for_.clone(), c.t), (acc, issued_for, acc == 2));
            assert!(c.exp > Utc::now().timestamp() && c.s & (1 << 30) != 0);
            assert_eq!(verify(&token).unwrap().token_type, tt);
        }
        let other = TokenOptions {
            service_id: Some("other".into()),
            ..TokenOptions::of_type(9, TokenType::Service)
        };
        let c = decode_claims_unverified(&mint_token(&other)).unwrap();
        assert_eq!(c.for_.as_deref(), Some("asid:other"));
    }

    #[test]
    fn seller_id_survives_without_oid() {
        let mut claims = decode_claims_unverified(&mint_token(&TokenOptions::demo(77))).unwrap();
        claims.oid = None;
        assert_eq!(seller_id_of(&claims), Some(77));
    }

    #[test]
    fn base_and_test_tokens_have_no_for_claim() {
        for (tt, acc) in [(TokenType::Base, 1), (TokenType::Test, 2)] {
            let opts = TokenOptions {
                token_type: tt,
                test: tt == TokenType::Test,
                ..TokenOptions::demo(1)
            };
            let c = decode_claims_unverified(&mint_token(&opts)).unwrap();
            assert_eq!(c.acc, acc);
            assert_eq!(c.for_, None);
            assert_eq!(c.t, tt == TokenType::Test);
        }
    }

    #[test]
    fn rejects_tampering_and_expiry() {
        let token = mint_token(&TokenOptions::demo(5));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // Re-encode the payload for another seller but keep the old signature.
        let mut claims = decode_claims_unverified(&token).unwrap();
        claims.oid = Some(6);
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(matches!(
            verify(&parts.join(".")),
            Err(TokenError::BadSignature(_))
        ));

        assert!(matches!(verify("abc.def"), Err(TokenError::Malformed(_))));
        assert!(matches!(
            verify(&format!("{}.{}.!!!", parts[0], parts[1])),
            Err(TokenError::Malformed(_))
        ));

        let expired = TokenOptions {
            expires_at: Utc::now() - Duration::seconds(1),
            ..TokenOptions::demo(5)
        };
        assert_eq!(verify(&mint_token(&expired)), Err(TokenError::Expired));
    }

    #[test]
    fn header_prefixes() {
        assert_eq!(from_header(Some("Bearer abc")), Ok("abc"));
        assert_eq!(from_header(Some("abc")), Ok("abc"));
        assert_eq!(from_header(Some("  ")), Err(TokenError::Missing));
        assert_eq!(from_header(None), Err(TokenError::Missing));
    }
}
