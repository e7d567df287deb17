//! Reading a Wildberries API token's claims.
//!
//! WB tokens are ES256 JWTs signed by WB; we do not have (and do not need) WB's key, so the
//! signature is not verified. The claims are only used to tell the seller early what is wrong
//! with a token (expired, missing categories, test token) before WB answers 401. WB itself
//! remains the authority on whether a token works.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `acc` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Base,
    Test,
    Personal,
    Service,
}

impl TokenType {
    fn from_acc(acc: u64) -> Option<Self> {
        Some(match acc {
            1 => Self::Base,
            2 => Self::Test,
            3 => Self::Personal,
            4 => Self::Service,
            _ => return None,
        })
    }

    /// The type named as [`TokenType::name`] spells it (as stored with a credential).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Base, Self::Test, Self::Personal, Self::Service]
            .into_iter()
            .find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Test => "test",
            Self::Personal => "personal",
            Self::Service => "service",
        }
    }
}

/// An API category a token may grant, with its bit in the `s` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Content,
    Analytics,
    Prices,
    Marketplace,
    Statistics,
    Promotion,
    Feedbacks,
    Chat,
    Supplies,
    Returns,
    Documents,
    Finance,
    Users,
}

/// Bit 30 of `s`: the token can only read.
const READ_ONLY_BIT: u32 = 30;

impl Category {
    pub const ALL: [Category; 13] = [
        Category::Content,
        Category::Analytics,
        Category::Prices,
        Category::Marketplace,
        Category::Statistics,
        Category::Promotion,
        Category::Feedbacks,
        Category::Chat,
        Category::Supplies,
        Category::Returns,
        Category::Documents,
        Category::Finance,
        Category::Users,
    ];

    /// What the stock sync calls: cards, stock reports, seller warehouses, orders and sales.
    pub const REQUIRED: [Category; 4] = [
        Category::Content,
        Category::Analytics,
        Category::Marketplace,
        Category::Statistics,
    ];

    pub fn bit(self) -> u32 {
        match self {
            Self::Content => 1,
            Self::Analytics => 2,
            Self::Prices => 3,
            Self::Marketplace => 4,
            Self::Statistics => 5,
            Self::Promotion => 6,
            Self::Feedbacks => 7,
            Self::Chat => 9,
            Self::Supplies => 10,
            Self::Returns => 11,
            Self::Documents => 12,
            Self::Finance => 13,
            Self::Users => 16,
        }
    }

    /// The category named as [`Category::name`] spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
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

/// What a token's payload says about it. Holds nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenFacts {
    /// The `sid` claim: WB documents it as a UUID; kept as WB wrote it.
    pub seller_id: String,
    pub token_type: TokenType,
    pub categories: Vec<Category>,
    pub read_only: bool,
    pub test: bool,
    pub expires_at: DateTime<Utc>,
    /// The `for` claim: `self` on personal tokens, `asid:<service id>` on service tokens
    /// (the service the seller created it for), absent on base and test tokens.
    pub issued_for: Option<String>,
}

impl TokenFacts {
    /// The service a service token was created for: its `for` claim without `asid:`.
    pub fn service_id(&self) -> Option<&str> {
        self.issued_for.as_deref()?.strip_prefix("asid:")
    }

    /// The required categories this token lacks, in [`Category::REQUIRED`] order.
    pub fn missing_categories(&self) -> Vec<Category> {
        Category::REQUIRED
            .into_iter()
            .filter(|c| !self.categories.contains(c))
            .collect()
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    pub fn has_write_access(&self) -> bool {
        !self.read_only
    }
}

/// Deliberately one undifferentiated variant: the details of a malformed token are of no use
/// to the seller, and echoing them risks echoing the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the value is not a Wildberries API token")]
    NotJwt,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJwt => "not_jwt",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    exp: i64,
    sid: SellerId,
    acc: u64,
    #[serde(default)]
    t: Option<bool>,
    s: u64,
    #[serde(rename = "for", default)]
    issued_for: Option<String>,
}

/// `sid` is a UUID string in every token we have seen; a number is accepted too so an older
/// token shape does not lock a seller out.
#[derive(Deserialize)]
#[serde(untagged)]
enum SellerId {
    Text(String),
    Number(i64),
}

/// Reads the claims of a WB token without checking its signature.
pub fn decode(raw: &str) -> Result<TokenFacts, TokenError> {
    let mut parts = raw.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::NotJwt);
    };
    let _header = base64url(header)?;
    let _signature = base64url(signature)?;
    let claims: Claims =
        serde_json::from_slice(&base64url(payload)?).map_err(|_| TokenError::NotJwt)?;

    let token_type = TokenType::from_acc(claims.acc).ok_or(TokenError::NotJwt)?;
    let seller_id = match claims.sid {
        SellerId::Text(s) if !s.trim().is_empty() => s,
        SellerId::Number(n) => n.to_string(),
        SellerId::Text(_) => return Err(TokenError::NotJwt),
    };
    let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(TokenError::NotJwt)?;
    let categories = Category::ALL
        .into_iter()
        .filter(|c| claims.s & (1u64 << c.bit()) != 0)
        .collect();
    Ok(TokenFacts {
        seller_id,
        token_type,
        categories,
        read_only: claims.s & (1u64 << READ_ONLY_BIT) != 0,
        // WB sets `t` on test tokens; `acc = 2` says the same, so either one is enough.
        test: claims.t.unwrap_or(false) || token_type == TokenType::Test,
        expires_at,
        issued_for: claims.issued_for.filter(|f| !f.trim().is_empty()),
    })
}

fn base64url(part: &str) -> Result<Vec<u8>, TokenError> {
    if part.is_empty() {
        return Err(TokenError::NotJwt);
    }
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::NotJwt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    fn token(payload: serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"20250403v1","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let signature = URL_SAFE_NO_PAD.encode([7u8; 64]);
        format!("{header}.{payload}.{signature}")
    }

    fn bits(categories: &[Category], read_only: bool) -> u64 {
        let mut s = categories.iter().fold(0u64, |s, c| s | 1 << c.bit());
        if read_only {
            s |= 1 << READ_ONLY_BIT;
        }
        s
    }

    const SID: &str = "8f6a3c7e-1d2b-4c5a-9e8f-00000000002a";

    #[test]
    fn personal_read_only_token_with_required_categories() {
        let exp = Utc::now() + Duration::days(180);
        let raw = token(json!({
            "acc": 3, "for": "self", "t": false, "sid": SID, "id": "x", "oid": 42,
            "exp": exp.timestamp(),
            "s": bits(&Category::REQUIRED, true),
        }));
        let facts = decode(&raw).unwrap();
        assert_eq!(facts.seller_id, SID);
        assert_eq!(facts.token_type, TokenType::Personal);
        assert_eq!(facts.token_type.name(), "personal");
        assert!(facts.missing_categories().is_empty());
        assert!(facts.read_only);
        assert!(!facts.has_write_access());
        assert!(!facts.test);
        assert!(!facts.is_expired(Utc::now()));
        assert_eq!(facts.expires_at.timestamp(), exp.timestamp());
        assert_eq!(facts.categories, Category::REQUIRED.to_vec());
        assert_eq!(facts.issued_for.as_deref(), Some("self"));
        assert_eq!(facts.service_id(), None);
    }

    #[test]
    fn names_missing_categories() {
        let raw = token(json!({
            "acc": 1, "t": false, "sid": SID, "exp": 4_000_000_000i64,
            "s": bits(&[Category::Content, Category::Prices, Category::Users], false),
        }));
        let facts = decode(&raw).unwrap();
        assert_eq!(facts.token_type, TokenType::Base);
        assert_eq!(
            facts.missing_categories(),
            vec![
                Category::Analytics,
                Category::Marketplace,
                Category::Statistics
            ]
        );
        let names: Vec<_> = facts
            .missing_categories()
            .iter()
            .map(|c| c.name())
            .collect();
        assert_eq!(names, ["analytics", "marketplace", "statistics"]);
        assert!(facts.has_write_access());
        assert_eq!(
            facts.categories,
            vec![Category::Content, Category::Prices, Category::Users]
        );
    }

    #[test]
    fn expired_token() {
        let raw = token(json!({
            "acc": 4, "for": "asid:1", "t": false, "sid": SID,
            "exp": (Utc::now() - Duration::seconds(5)).timestamp(),
            "s": bits(&Category::REQUIRED, true),
        }));
        let facts = decode(&raw).unwrap();
        assert_eq!(facts.token_type, TokenType::Service);
        assert_eq!(facts.service_id(), Some("1"));
        assert!(facts.is_expired(Utc::now()));
        assert!(!facts.is_expired(Utc::now() - Duration::minutes(1)));
    }

    #[test]
    fn test_token_flag() {
        let raw = token(json!({
            "acc": 2, "t": true, "sid": SID, "exp": 4_000_000_000i64, "s": 2,
        }));
        let facts = decode(&raw).unwrap();
        assert!(facts.test);
        assert_eq!(facts.token_type, TokenType::Test);
        assert_eq!(facts.categories, vec![Category::Content]);
    }

    #[test]
    fn padded_parts_and_numeric_sid_are_accepted() {
        let payload = base64::engine::general_purpose::URL_SAFE
            .encode(json!({"acc":3,"sid":42,"exp":4_000_000_000i64,"s":0}).to_string());
        let raw = format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln");
        assert_eq!(decode(&raw).unwrap().seller_id, "42");
    }

    #[test]
    fn rejects_what_is_not_a_wb_jwt() {
        let good = json!({"acc":3,"sid":SID,"exp":4_000_000_000i64,"s":2});
        let valid = token(good.clone());
        assert!(decode(&valid).is_ok());

        let (head, rest) = valid.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let not_json = URL_SAFE_NO_PAD.encode("not json");
        let cases = [
            String::new(),
            "garbage".to_string(),
            format!("{head}.{rest}.extra"),
            format!("{head}.{sig}"),
            format!("{head}.{not_json}.{sig}"),
            format!("{head}.!!!.{sig}"),
            format!("{head}..{sig}"),
            token(json!({"acc":3,"sid":SID,"s":2})),
            token(json!({"acc":3,"sid":SID,"exp":"soon","s":2})),
            token(json!({"acc":9,"sid":SID,"exp":4_000_000_000i64,"s":2})),
            token(json!({"acc":3,"exp":4_000_000_000i64,"s":2})),
            token(json!({"acc":3,"sid":"","exp":4_000_000_000i64,"s":2})),
            token(json!({"acc":3,"sid":SID,"exp":4_000_000_000i64,"s":-1})),
            token(json!([1, 2, 3])),
        ];
        for raw in cases {
            let err = decode(&raw).unwrap_err();
            assert_eq!(err, TokenError::NotJwt, "{raw}");
            assert_eq!(err.code(), "not_jwt");
        }
    }
}
