//! The Stripe calls billing makes, through async-stripe's client and request builders.
//! Responses are read into small types holding only the fields we use, so Stripe adding
//! fields, or a fake leaving out ones we ignore, never breaks a call.

use crate::config::StripeConfig;
use crate::plans::Plan;
use chrono::{DateTime, Utc};
use miniserde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;
use stripe::{Client, ClientBuilder, RequestStrategy, StripeError};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
    UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_client_core::{RequestBuilder, StripeRequest};
use stripe_core::customer::CreateCustomer;
use stripe_shared::CheckoutSessionMode;

#[derive(Debug, thiserror::Error)]
pub enum StripeApiError {
    /// Stripe answered with an error (4xx): our request was wrong or refers to something
    /// that no longer exists.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Stripe could not be reached, or answered 5xx/429 after retries.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
}

impl From<StripeError> for StripeApiError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(err, status) if (400..500).contains(&status) && status != 429 => {
                Self::Refused {
                    status,
                    message: err.message.clone().unwrap_or_default(),
                }
            }
            // Never the request itself: it carries the secret key in a header only, but an
            // error's Debug output is not ours to vouch for.
            other => Self::Unavailable(match other {
                StripeError::Stripe(_, status) => format!("status {status}"),
                StripeError::JSONDeserialize(m) => format!("unreadable response: {m}"),
                StripeError::ClientError(m) => m,
                StripeError::ConfigError(m) => m,
                StripeError::Timeout => "timed out".to_string(),
            }),
        }
    }
}

/// The parts of a Stripe subscription that decide a tenant's access.
#[derive(Clone, Debug, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: String,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<i64>,
    pub items: ItemList,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ItemList {
    pub data: Vec<Item>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Item {
    pub id: String,
    pub price: Price,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Price {
    pub id: String,
}

impl Subscription {
    /// Our subscriptions have one item: the plan's price.
    pub fn item(&self) -> Option<&Item> {
        self.items.data.first()
    }

    pub fn price_id(&self) -> Option<&str> {
        self.item().map(|i| i.price.id.as_str())
    }

    pub fn period(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let at = |t: Option<i64>| t.and_then(|t| DateTime::from_timestamp(t, 0));
        match self.item() {
            Some(item) => (at(item.current_period_start), at(item.current_period_end)),
            None => (None, None),
        }
    }

    pub fn trial_end(&self) -> Option<DateTime<Utc>> {
        self.trial_end.and_then(|t| DateTime::from_timestamp(t, 0))
    }
}

#[derive(Debug, Deserialize)]
struct SubscriptionList {
    data: Vec<Subscription>,
}

/// A hosted page to send the seller to.
#[derive(Debug, Deserialize)]
pub struct HostedSession {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Clone)]
pub struct StripeApi {
    client: Client,
    config: StripeConfig,
}

impl StripeApi {
    pub fn new(config: StripeConfig) -> anyhow::Result<Self> {
        let client = ClientBuilder::new(config.secret_key.expose().clone())
            .url(config.api_base.clone())
            // Every attempt carries the same idempotency key, so a retried create never
            // creates twice.
            .request_strategy(RequestStrategy::ExponentialBackoff(3))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| anyhow::anyhow!("Stripe client: {e}"))?;
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    async fn send<T: Deserialize>(&self, req: RequestBuilder) -> Result<T, StripeApiError> {
        Ok(req.customize::<T>().send(&self.client).await?)
    }

    /// A customer for the tenant, tagged with its id so Stripe's dashboard leads back to it.
    pub async fn create_customer(
        &self,
        tenant_id: &str,
        email: &str,
        name: &str,
    ) -> Result<String, StripeApiError> {
        let req = CreateCustomer::new()
            .email(email)
            .name(name)
            .metadata(tenant_metadata(tenant_id));
        let created: Created = self.send(req.build()).await?;
        Ok(created.id)
    }

    pub async fn create_checkout_session(
        &self,
        tenant_id: &str,
        customer: &str,
        plan: Plan,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<HostedSession, StripeApiError> {
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price = Some(self.config.price(plan).to_string());
        line.quantity = Some(1);
        let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
        subscription_data.metadata = Some(tenant_metadata(tenant_id));
        let req = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(tenant_id)
            .metadata(tenant_metadata(tenant_id))
            .subscription_data(subscription_data)
            .line_items(vec![line])
            .success_url(success_url)
            .cancel_url(cancel_url);
        self.send(req.build()).await
    }

    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<HostedSession, StripeApiError> {
        let req = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url);
        self.send(req.build()).await
    }

    pub async fn subscription(&self, id: &str) -> Result<Subscription, StripeApiError> {
        self.send(RetrieveSubscription::new(id).build()).await
    }

    /// The customer's newest subscription in any status: what a seller has right after
    /// Checkout, before its webhook arrives.
    pub async fn latest_subscription(
        &self,
        customer: &str,
    ) -> Result<Option<Subscription>, StripeApiError> {
        let req = ListSubscription::new()
            .customer(customer)
            .status(ListSubscriptionStatus::All)
            .limit(1);
        let list: SubscriptionList = self.send(req.build()).await?;
        Ok(list.data.into_iter().next())
    }

    /// Moves the subscription's one item to another plan's price. Upgrades are invoiced
    /// now with proration; downgrades bill the lower price from the next period, with no
    /// credit for the rest of this one.
    pub async fn change_price(
        &self,
        subscription: &Subscription,
        plan: Plan,
        upgrade: bool,
    ) -> Result<Subscription, StripeApiError> {
        let item_id = subscription.item().map(|i| i.id.clone());
        let mut item = UpdateSubscriptionItems::new();
        item.id = item_id;
        item.price = Some(self.config.price(plan).to_string());
        let proration = if upgrade {
            UpdateSubscriptionProrationBehavior::AlwaysInvoice
        } else {
            UpdateSubscriptionProrationBehavior::None
        };
        let req = UpdateSubscription::new(subscription.id.as_str())
            .items(vec![item])
            .proration_behavior(proration);
        self.send(req.build()).await
    }

    pub async fn set_cancel_at_period_end(
        &self,
        subscription_id: &str,
        cancel: bool,
    ) -> Result<Subscription, StripeApiError> {
        let req = UpdateSubscription::new(subscription_id).cancel_at_period_end(cancel);
        self.send(req.build()).await
    }

    pub async fn cancel_now(&self, subscription_id: &str) -> Result<Subscription, StripeApiError> {
        self.send(CancelSubscription::new(subscription_id).build())
            .await
    }
}

fn tenant_metadata(tenant_id: &str) -> HashMap<String, String> {
    HashMap::from([("tenant_id".to_string(), tenant_id.to_string())])
}
