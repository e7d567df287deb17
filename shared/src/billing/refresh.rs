//! Re-reading a tenant's subscription from Stripe. Webhooks, the subscription page's
//! refresh, plan changes and the daily reconciliation all end here, so whatever order
//! Stripe's events arrive in, the stored state is Stripe's state when it was last read.
//!
//! No database connection is held while Stripe answers: the row is read and the
//! transaction committed, Stripe is called, and the answer is applied in a short second
//! transaction. Answers can then finish out of order; the row keeps the one whose read
//! began last (see `subscriptions::apply`), which saw every change made before it began.

use super::subscriptions::{self, SubscriptionStatus, TenantSubscription};
use crate::ids::TenantId;
use crate::tenancy::{self, Scope, Tx};
use sqlx::PgPool;
use stock_tracker_stripe::stripe::{StripeApi, StripeApiError, Subscription};

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error(transparent)]
    Stripe(#[from] StripeApiError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// Stripe's subscription was copied in (or an answer read later already was).
    Applied,
    /// The tenant has no subscription at Stripe (still on the card-less trial).
    NothingAtStripe,
    /// The event named another subscription that has ended while the tenant's own one
    /// runs on: a late event about the past.
    Ignored,
    /// Stripe's subscription belongs to another customer than the tenant's: a signed but
    /// inconsistent event. Nothing is stored; it is logged as an error (an alert).
    Refused,
}

/// What Stripe said, and the row it was read for.
pub struct Fetched {
    before: TenantSubscription,
    sub: Option<Subscription>,
}

/// Reads the tenant's row (committing at once), then asks Stripe about `named`, else the
/// stored subscription, else the customer's newest one.
pub async fn fetch(
    db: &PgPool,
    tenant: TenantId,
    stripe: &StripeApi,
    named: Option<&str>,
) -> Result<Fetched, BillingError> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let before = subscriptions::current(&mut tx).await?;
    tx.commit().await?;
    let sub = match (named, before.stripe_subscription_id.as_deref()) {
        (Some(id), _) | (None, Some(id)) => Some(stripe.subscription(id).await?),
        (None, None) => match before.stripe_customer_id.as_deref() {
            Some(customer) => stripe.latest_subscription(customer).await?,
            None => None,
        },
    };
    Ok(Fetched { before, sub })
}

/// Applies what [`fetch`] read, in the caller's transaction (which takes the row lock).
pub async fn apply_fetched(
    tx: &mut Tx,
    stripe: &StripeApi,
    fetched: &Fetched,
) -> Result<Refreshed, BillingError> {
    let Some(sub) = &fetched.sub else {
        return Ok(Refreshed::NothingAtStripe);
    };
    let now = subscriptions::lock(tx).await?;
    if let Some(customer) = now.stripe_customer_id.as_deref()
        && sub.customer != customer
    {
        tracing::error!(
            subscription = %sub.id,
            subscription_customer = %sub.customer,
            tenant_customer = %customer,
            "Stripe's subscription belongs to another customer than the tenant's; refused"
        );
        return Ok(Refreshed::Refused);
    }
    if !adopts(&now, &sub.id, sub.status.parse().ok()) {
        return Ok(Refreshed::Ignored);
    }
    let plan = sub
        .price_id()
        .and_then(|p| stripe.config().plan_for_price(p));
    if plan.is_none() {
        tracing::warn!(
            subscription = %sub.id,
            "subscription's price sells none of our plans; the plan is left as it was"
        );
    }
    if !subscriptions::apply(tx, &now, sub, plan, Some(fetched.before.read_at)).await? {
        tracing::debug!(subscription = %sub.id, "a later read of the subscription is stored already");
    }
    Ok(Refreshed::Applied)
}

/// Reads the tenant's subscription from Stripe and stores it.
pub async fn refresh(
    db: &PgPool,
    tenant: TenantId,
    stripe: &StripeApi,
    named: Option<&str>,
) -> Result<Refreshed, BillingError> {
    let fetched = fetch(db, tenant, stripe, named).await?;
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let done = apply_fetched(&mut tx, stripe, &fetched).await?;
    tx.commit().await?;
    Ok(done)
}

/// A tenant follows one subscription. Another one replaces it only if the current one has
/// ended or the other is alive.
fn adopts(before: &TenantSubscription, id: &str, status: Option<SubscriptionStatus>) -> bool {
    match before.stripe_subscription_id.as_deref() {
        None => true,
        Some(current) if current == id => true,
        Some(_) => before.status.is_terminal() || status.is_some_and(|s| !s.is_terminal()),
    }
}
