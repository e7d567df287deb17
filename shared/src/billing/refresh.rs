//! Re-reading a tenant's subscription from Stripe. Webhooks, the subscription page's
//! refresh, plan changes and the daily reconciliation all end here, so whatever order
//! Stripe's events arrive in, the stored state is Stripe's state when it was last read.

use super::stripe::{StripeApi, StripeApiError};
use super::subscriptions::{self, TenantSubscription, is_terminal};
use crate::tenancy::Tx;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error(transparent)]
    Stripe(#[from] StripeApiError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// Stripe's subscription was copied in.
    Applied,
    /// The tenant has no subscription at Stripe (still on the card-less trial).
    NothingAtStripe,
    /// The event named another subscription that has ended while the tenant's own one
    /// runs on: a late event about the past.
    Ignored,
}

/// Reads and stores the tenant's subscription. `named` is the subscription an event is
/// about; without one, the stored subscription, or else the customer's newest one. Takes
/// the row lock first, so concurrent refreshes of one tenant run one after another.
pub async fn refresh(
    tx: &mut Tx,
    stripe: &StripeApi,
    named: Option<&str>,
) -> Result<Refreshed, BillingError> {
    let before = subscriptions::lock(tx).await?;
    let sub = match (named, before.stripe_subscription_id.as_deref()) {
        (Some(id), _) => stripe.subscription(id).await?,
        (None, Some(id)) => stripe.subscription(id).await?,
        (None, None) => match before.stripe_customer_id.as_deref() {
            Some(customer) => match stripe.latest_subscription(customer).await? {
                Some(sub) => sub,
                None => return Ok(Refreshed::NothingAtStripe),
            },
            None => return Ok(Refreshed::NothingAtStripe),
        },
    };
    if !adopts(&before, &sub.id, &sub.status) {
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
    subscriptions::apply(tx, &before, &sub, plan).await?;
    Ok(Refreshed::Applied)
}

/// A tenant follows one subscription. Another one replaces it only if the current one has
/// ended or the other is alive.
fn adopts(before: &TenantSubscription, id: &str, status: &str) -> bool {
    match before.stripe_subscription_id.as_deref() {
        None => true,
        Some(current) if current == id => true,
        Some(_) => is_terminal(&before.status) || !is_terminal(status),
    }
}
