//! Billing settings. Stripe is optional: without `STRIPE_SECRET_KEY` the system runs, trials
//! work, and what needs Stripe answers `billing_not_configured`.

use crate::plans::Plan;
use std::collections::BTreeMap;
use stock_tracker_infra::Secret;
use stock_tracker_infra::env::{ConfigError, Env};

#[derive(Clone, Debug)]
pub struct StripeConfig {
    pub secret_key: Secret<String>,
    /// Stripe's API root; tests point it at a local fake.
    pub api_base: String,
    /// Every secret that may have signed a webhook: more than one while rotating.
    pub webhook_secrets: Vec<Secret<String>>,
    /// The recurring monthly price that sells each plan.
    pub prices: BTreeMap<Plan, String>,
}

impl StripeConfig {
    pub fn price(&self, plan: Plan) -> &str {
        &self.prices[&plan]
    }

    /// The plan a Stripe price sells, if it is one of ours.
    pub fn plan_for_price(&self, price_id: &str) -> Option<Plan> {
        self.prices
            .iter()
            .find(|(_, id)| id.as_str() == price_id)
            .map(|(plan, _)| *plan)
    }
}

#[derive(Clone, Debug)]
pub struct BillingConfig {
    pub stripe: Option<StripeConfig>,
    /// Where Checkout sends the seller back to (Stripe fills in `{CHECKOUT_SESSION_ID}`).
    pub success_url: String,
    pub cancel_url: String,
    /// Where the customer portal's "return" link goes.
    pub portal_return_url: String,
}

const PRICE_VARS: [(Plan, &str); 3] = [
    (Plan::Starter, "STRIPE_PRICE_STARTER"),
    (Plan::Pro, "STRIPE_PRICE_PRO"),
    (Plan::Enterprise, "STRIPE_PRICE_ENTERPRISE"),
];

impl BillingConfig {
    /// `public_base_url` is where sellers use the product; the return addresses default to
    /// pages under it.
    pub fn from_env(env: &Env, public_base_url: &str) -> Result<Self, ConfigError> {
        let base = public_base_url.trim_end_matches('/');
        let url = |name: &'static str, default: String| -> Result<String, ConfigError> {
            let value = env.optional(name).unwrap_or(default);
            if value.starts_with("http://") || value.starts_with("https://") {
                Ok(value)
            } else {
                Err(ConfigError::malformed(name, "expected an http(s):// URL"))
            }
        };
        Ok(Self {
            stripe: StripeConfig::from_env(env)?,
            success_url: url(
                "BILLING_SUCCESS_URL",
                format!("{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}"),
            )?,
            cancel_url: url("BILLING_CANCEL_URL", format!("{base}/billing"))?,
            portal_return_url: url("BILLING_PORTAL_RETURN_URL", format!("{base}/billing"))?,
        })
    }
}

impl StripeConfig {
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(secret_key) = env.optional("STRIPE_SECRET_KEY") else {
            return Ok(None);
        };
        let mut api_base = env
            .optional("STRIPE_API_BASE")
            .unwrap_or_else(|| "https://api.stripe.com/".to_string());
        if !(api_base.starts_with("http://") || api_base.starts_with("https://")) {
            return Err(ConfigError::malformed(
                "STRIPE_API_BASE",
                "expected an http(s):// URL",
            ));
        }
        if !api_base.ends_with('/') {
            api_base.push('/');
        }
        // Only the api verifies webhooks (`require_webhook_secrets`); the worker reconciles
        // without them, so it is not given them.
        let webhook_secrets: Vec<Secret<String>> = env.secret_list("STRIPE_WEBHOOK_SECRETS");
        let mut prices = BTreeMap::new();
        for (plan, var) in PRICE_VARS {
            let price = env.required(var)?;
            if !price.starts_with("price_") {
                return Err(ConfigError::malformed(
                    var,
                    "expected a Stripe price id (price_...)",
                ));
            }
            prices.insert(plan, price);
        }
        Ok(Some(Self {
            secret_key: Secret::new(secret_key),
            api_base,
            webhook_secrets,
            prices,
        }))
    }
}

impl StripeConfig {
    /// For the binary that receives Stripe's webhooks: at least one signing secret.
    pub fn require_webhook_secrets(&self) -> Result<(), ConfigError> {
        if self.webhook_secrets.is_empty() {
            return Err(ConfigError::Missing("STRIPE_WEBHOOK_SECRETS"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe_env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_new, whsec_old"),
            ("STRIPE_PRICE_STARTER", "price_s"),
            ("STRIPE_PRICE_PRO", "price_p"),
            ("STRIPE_PRICE_ENTERPRISE", "price_e"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn stripe_is_optional() {
        let config = BillingConfig::from_env(&Env::default(), "https://app.example").unwrap();
        assert!(config.stripe.is_none());
        assert_eq!(config.cancel_url, "https://app.example/billing");
    }

    #[test]
    fn several_webhook_secrets_and_prices_by_plan() {
        let stripe = StripeConfig::from_env(&stripe_env(&[])).unwrap().unwrap();
        assert_eq!(stripe.webhook_secrets.len(), 2);
        assert_eq!(stripe.api_base, "https://api.stripe.com/");
        assert_eq!(stripe.plan_for_price("price_p"), Some(Plan::Pro));
        assert_eq!(stripe.plan_for_price("price_other"), None);
    }

    #[test]
    fn a_key_without_prices_or_secrets_is_refused_by_name() {
        let env = Env::from_pairs([("STRIPE_SECRET_KEY", "sk_test_x")]);
        assert_eq!(
            StripeConfig::from_env(&env).unwrap_err(),
            ConfigError::Missing("STRIPE_PRICE_STARTER")
        );
        let no_secrets = Env::from_pairs([
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("STRIPE_WEBHOOK_SECRETS", " , "),
            ("STRIPE_PRICE_STARTER", "price_s"),
            ("STRIPE_PRICE_PRO", "price_p"),
            ("STRIPE_PRICE_ENTERPRISE", "price_e"),
        ]);
        let stripe = StripeConfig::from_env(&no_secrets).unwrap().unwrap();
        assert_eq!(
            stripe.require_webhook_secrets().unwrap_err(),
            ConfigError::Missing("STRIPE_WEBHOOK_SECRETS")
        );
        let env = stripe_env(&[("STRIPE_PRICE_PRO", "29.90")]);
        assert!(matches!(
            StripeConfig::from_env(&env).unwrap_err(),
            ConfigError::Malformed {
                name: "STRIPE_PRICE_PRO",
                ..
            }
        ));
    }
}
