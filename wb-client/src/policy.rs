//! Which WB tokens a cloud service may take, and what each one lets the sync read.
//!
//! WB's rules (authorization page, news of 2025-09-25): a *personal* token is for the
//! seller's own software and must not be handed to a cloud service; a cloud service works
//! with a *base* token or, when it is listed in WB's Business Solutions Catalog, a *service*
//! token whose `for` claim is `asid:<that service's id>`. Test tokens are a sandbox matter
//! (`WB_SANDBOX`) and are judged before this policy.

use crate::limits::{LimitRow, Method};
use crate::token::{Category, TokenFacts, TokenType};
use serde::Serialize;
use stock_tracker_infra::env::{ConfigError, Env};

/// `WB_ACCEPTED_TOKEN_TYPES` and `WB_SERVICE_ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    accepted: Vec<TokenType>,
    /// Our id in WB's Business Solutions Catalog; without it no service token is ours.
    service_id: Option<String>,
}

impl Default for TokenPolicy {
    /// What a cloud service may take: base and service tokens.
    fn default() -> Self {
        Self {
            accepted: vec![TokenType::Base, TokenType::Service],
            service_id: None,
        }
    }
}

/// Why a token is refused by the policy: a stable code and what the seller should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    TypeNotAccepted(TokenType),
    ForOtherService,
}

impl TokenPolicy {
    pub fn new(accepted: Vec<TokenType>, service_id: Option<String>) -> Self {
        Self {
            accepted,
            service_id,
        }
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        const NAME: &str = "WB_ACCEPTED_TOKEN_TYPES";
        let mut policy = Self::default();
        if let Some(raw) = env.optional(NAME) {
            let mut accepted = Vec::new();
            for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let t = match item.to_ascii_lowercase().as_str() {
                    "base" => TokenType::Base,
                    "service" => TokenType::Service,
                    "personal" => TokenType::Personal,
                    _ => {
                        return Err(ConfigError::malformed(
                            NAME,
                            "expected a comma-separated list of base, service, personal \
                             (test tokens follow WB_SANDBOX)",
                        ));
                    }
                };
                if !accepted.contains(&t) {
                    accepted.push(t);
                }
            }
            if accepted.is_empty() {
                return Err(ConfigError::malformed(NAME, "names no token type"));
            }
            policy.accepted = accepted;
        }
        policy.service_id = env.optional("WB_SERVICE_ID");
        if let Some(id) = &policy.service_id
            && id.starts_with("asid:")
        {
            return Err(ConfigError::malformed(
                "WB_SERVICE_ID",
                "expected the id alone, without the asid: prefix",
            ));
        }
        Ok(policy)
    }

    /// Types a seller may connect now. Service tokens only once we know our service id.
    pub fn accepted(&self) -> Vec<TokenType> {
        self.accepted
            .iter()
            .copied()
            .filter(|t| *t != TokenType::Service || self.service_id.is_some())
            .collect()
    }

    /// Whether a token of this type may be connected (stored ones of other types keep
    /// working and carry a warning).
    pub fn accepts_type(&self, token_type: TokenType) -> bool {
        token_type == TokenType::Test || self.accepted().contains(&token_type)
    }

    /// The policy's verdict on a token a seller is connecting.
    pub fn check(&self, facts: &TokenFacts) -> Result<(), Refusal> {
        if !self.accepts_type(facts.token_type) {
            return Err(Refusal::TypeNotAccepted(facts.token_type));
        }
        if facts.token_type == TokenType::Service
            && facts.service_id() != self.service_id.as_deref()
        {
            return Err(Refusal::ForOtherService);
        }
        Ok(())
    }

    /// What to create instead, in the seller's words: the types this installation takes.
    pub fn guidance(&self) -> String {
        let accepted = self.accepted();
        let mut ways = Vec::new();
        if accepted.contains(&TokenType::Service) {
            ways.push(
                "a service token for Stock Tracker: in the seller portal open Settings → API \
                 integrations, click “Create token”, choose the Business solutions tab and pick \
                 Stock Tracker from WB's Business Solutions Catalog; its settings are filled in \
                 for you",
            );
        }
        if accepted.contains(&TokenType::Base) {
            ways.push(
                "a base token: in the seller portal open Settings → API integrations, click \
                 “Create token”, choose the Manual integration tab and the Base type, tick \
                 Content, Analytics, Marketplace and Statistics with Read only access",
            );
        }
        if accepted.contains(&TokenType::Personal) {
            ways.push(
                "a personal token with Content, Analytics, Marketplace and Statistics, read only",
            );
        }
        format!("Create {} and paste it here.", ways.join("; or "))
    }
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TypeNotAccepted(_) => "token_type_not_accepted",
            Refusal::ForOtherService => "token_for_other_service",
        }
    }

    /// The seller-facing message: what is wrong, and which token to create and how.
    pub fn message(&self, policy: &TokenPolicy) -> String {
        let why = match self {
            Refusal::TypeNotAccepted(TokenType::Personal) => {
                "This is a personal token. Wildberries does not allow personal tokens to be \
                 given to cloud services such as Stock Tracker."
                    .to_string()
            }
            Refusal::TypeNotAccepted(other) => {
                format!("Stock Tracker does not take {} tokens.", other.name())
            }
            Refusal::ForOtherService => "This service token was created for another service \
                                         in WB's catalog, and works only there."
                .to_string(),
        };
        format!("{why} {}", policy.guidance())
    }
}

/// One kind of data the sync reads, and whether (and how) this token can get it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Capability {
    /// `catalog`, `stock_wb_warehouses`, `stock_seller_warehouses`, `orders`, `sales`.
    pub data: &'static str,
    pub available: bool,
    /// The WB operation the sync uses for it with this token (a method name such as
    /// `stocks_report_wb_warehouses` or `warehouse_remains_create`); null when unavailable.
    pub via: Option<&'static str>,
    /// WB's limit row that applies (`personal`, `service`, `base-with-secret`, `base`).
    pub limit_row: &'static str,
    /// Why it is unavailable or slower, when it is.
    pub note: Option<&'static str>,
}

/// What this token can sync, by WB's category bits (`s`) and its type's rights on each
/// operation (`x-token-types`, see [`Method::token_types`]); `with_secret` is whether our
/// requests carry the service secret, which moves base tokens to the service row.
pub fn capabilities(
    token_type: TokenType,
    categories: &[Category],
    with_secret: bool,
) -> Vec<Capability> {
    let row = LimitRow::of(token_type, with_secret);
    let has = |c: Category| categories.contains(&c);
    // `methods` in the sync's order of preference; `fallback` says what using a later one
    // costs.
    let entry = |data, category: Category, methods: &[Method], fallback: &'static str| {
        if !has(category) {
            return Capability {
                data,
                available: false,
                via: None,
                limit_row: row.name(),
                note: Some("the token lacks the category"),
            };
        }
        match methods.iter().find(|m| m.allows(row)) {
            Some(m) => Capability {
                data,
                available: true,
                via: Some(m.name()),
                limit_row: row.name(),
                note: (m != &methods[0]).then_some(fallback),
            },
            None => Capability {
                data,
                available: false,
                via: None,
                limit_row: row.name(),
                note: Some("WB does not allow this token type to read it"),
            },
        }
    };
    let mut out = vec![
        entry("catalog", Category::Content, &[Method::CardsList], ""),
        entry(
            "stock_wb_warehouses",
            Category::Analytics,
            &[
                Method::StocksReportWbWarehouses,
                Method::WarehouseRemainsCreate,
            ],
            "this token type may not use the direct report; the slower asynchronous report \
             is used",
        ),
        // The one-request report (category Analytics) for personal and service tokens, else
        // a request per warehouse (Marketplace); a connected token holds both categories
        // (`Category::REQUIRED`).
        entry(
            "stock_seller_warehouses",
            Category::Marketplace,
            &[Method::StocksReportSellerWarehouses, Method::SellerStocks],
            "this token type may not use the one-request report; each warehouse is asked \
             separately",
        ),
        entry(
            "orders",
            Category::Statistics,
            &[Method::SupplierOrders],
            "",
        ),
        entry("sales", Category::Statistics, &[Method::SupplierSales], ""),
    ];
    if row == LimitRow::Base {
        for c in out
            .iter_mut()
            .filter(|c| c.data == "orders" || c.data == "sales")
        {
            c.note
                .get_or_insert("base tokens are limited to one request every few hours");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn facts(token_type: TokenType, issued_for: Option<&str>) -> TokenFacts {
        TokenFacts {
            seller_id: "s".into(),
            token_type,
            categories: Category::REQUIRED.to_vec(),
            read_only: true,
            test: false,
            expires_at: Utc::now(),
            issued_for: issued_for.map(str::to_string),
        }
    }

    #[test]
    fn token_policy_default_refuses_personal_and_foreign_service_tokens() {
        let policy = TokenPolicy::from_env(&Env::from_pairs([("WB_SERVICE_ID", "abc")])).unwrap();
        assert_eq!(policy.check(&facts(TokenType::Base, None)), Ok(()));
        assert_eq!(
            policy.check(&facts(TokenType::Service, Some("asid:abc"))),
            Ok(())
        );
        let personal = policy
            .check(&facts(TokenType::Personal, Some("self")))
            .unwrap_err();
        assert_eq!(personal.code(), "token_type_not_accepted");
        let text = personal.message(&policy);
        assert!(
            text.contains("base token") && text.contains("service token"),
            "{text}"
        );
        let other = policy
            .check(&facts(TokenType::Service, Some("asid:xyz")))
            .unwrap_err();
        assert_eq!(other.code(), "token_for_other_service");
    }

    #[test]
    fn token_policy_without_service_id_takes_no_service_token() {
        let policy = TokenPolicy::default();
        assert_eq!(
            policy.check(&facts(TokenType::Service, Some("asid:abc"))),
            Err(Refusal::TypeNotAccepted(TokenType::Service))
        );
        assert!(!policy.guidance().contains("service token"));
    }

    #[test]
    fn token_policy_reads_the_accepted_types() {
        let env = Env::from_pairs([("WB_ACCEPTED_TOKEN_TYPES", "base, service,personal")]);
        let policy = TokenPolicy::from_env(&env).unwrap();
        assert_eq!(
            policy.check(&facts(TokenType::Personal, Some("self"))),
            Ok(())
        );
        for bad in ["test", "base,nope", " , "] {
            let err = TokenPolicy::from_env(&Env::from_pairs([("WB_ACCEPTED_TOKEN_TYPES", bad)]))
                .unwrap_err();
            assert!(
                err.to_string().starts_with("WB_ACCEPTED_TOKEN_TYPES"),
                "{err}"
            );
        }
        assert!(TokenPolicy::from_env(&Env::from_pairs([("WB_SERVICE_ID", "asid:1")])).is_err());
    }

    #[test]
    fn capabilities_follow_type_secret_and_categories() {
        let via = |f: &TokenFacts, secret: bool, data: &str| {
            capabilities(f.token_type, &f.categories, secret)
                .into_iter()
                .find(|c| c.data == data)
                .unwrap()
        };
        let base = facts(TokenType::Base, None);
        let stock = via(&base, false, "stock_wb_warehouses");
        assert_eq!(stock.via, Some("warehouse_remains_create"));
        assert_eq!(stock.limit_row, "base");
        assert!(stock.note.is_some());
        let stock = via(&base, true, "stock_wb_warehouses");
        assert_eq!(stock.via, Some("stocks_report_wb_warehouses"));
        assert_eq!(stock.limit_row, "base-with-secret");
        let service = facts(TokenType::Service, Some("asid:1"));
        assert_eq!(
            via(&service, false, "stock_wb_warehouses").via,
            Some("stocks_report_wb_warehouses")
        );
        // Seller warehouses: the one-request report for service tokens; base tokens, even
        // with our secret, ask each warehouse.
        let seller = via(&service, true, "stock_seller_warehouses");
        assert_eq!(seller.via, Some("stocks_report_seller_warehouses"));
        assert_eq!(seller.note, None);
        let seller = via(&base, true, "stock_seller_warehouses");
        assert_eq!(seller.via, Some("seller_stocks"));
        assert!(seller.note.is_some());
        let mut no_stats = facts(TokenType::Service, Some("asid:1"));
        no_stats.categories.retain(|c| *c != Category::Statistics);
        let orders = via(&no_stats, true, "orders");
        assert!(!orders.available);
        assert_eq!(orders.via, None);
    }
}
