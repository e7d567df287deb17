//! Stripe's webhooks, once verified (`stock_tracker_stripe::webhook`): each event processed
//! once, its id recorded in the same transaction as its effects.

use super::refresh::{self, BillingError, Refreshed};
use crate::ids::TenantId;
use crate::tenancy::{self, Scope};
use sqlx::PgPool;
use stock_tracker_stripe::stripe::{StripeApi, StripeApiError};
pub use stock_tracker_stripe::webhook::{Event, Rejected, verify};

/// The events we act on: the ones to enable on the webhook endpoint in Stripe's dashboard
/// (docs/OPERATIONS.md lists them). Anything else is acknowledged and recorded as ignored.
pub const HANDLED: [&str; 7] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    /// Delivered before: nothing done again.
    Duplicate,
    /// Not an event we act on, or about a customer that is not ours.
    Ignored,
    /// Signed, but it named a subscription of another customer: nothing stored, an error
    /// logged (an alert).
    Refused,
    /// It named a subscription Stripe no longer knows (404 on the re-read): recorded and
    /// acknowledged, since retrying cannot change Stripe's answer; the daily reconciliation
    /// reads the customer's subscriptions afresh.
    UnknownSubscription,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Refused => "refused",
            Outcome::UnknownSubscription => "unknown_subscription",
        }
    }
}

/// Applies a verified event. An error means nothing was recorded: Stripe retries later.
/// Stripe is read before the transaction that records the event and applies it, so no
/// connection waits on Stripe (see `refresh`).
pub async fn process(
    db: &PgPool,
    stripe: &StripeApi,
    event: &Event,
) -> Result<Outcome, BillingError> {
    let tenant = match event.customer() {
        Some(customer) if HANDLED.contains(&event.kind.as_str()) => {
            sqlx::query_scalar!(
                r#"select billing_tenant_for_customer($1) as "tenant_id: TenantId""#,
                customer
            )
            .fetch_one(db)
            .await?
        }
        _ => None,
    };
    let Some(tenant) = tenant else {
        return record_only(db, event, Outcome::Ignored).await;
    };
    if already_recorded(db, tenant, event).await? {
        return Ok(Outcome::Duplicate);
    }
    let fetched = match refresh::fetch(db, tenant, stripe, event.subscription()).await {
        Err(BillingError::Stripe(StripeApiError::Refused { status: 404, .. })) => {
            tracing::warn!(
                event = %event.id,
                subscription = event.subscription().unwrap_or_default(),
                %tenant,
                "Stripe no longer knows the event's subscription; recorded, not applied"
            );
            return record_only(db, event, Outcome::UnknownSubscription).await;
        }
        fetched => fetched?,
    };
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    // A second delivery waits here for the first to commit, then finds its id taken.
    if !record(&mut tx, event, Outcome::Processed).await? {
        return Ok(Outcome::Duplicate);
    }
    let outcome = match refresh::apply_fetched(&mut tx, stripe, &fetched).await? {
        Refreshed::Applied | Refreshed::NothingAtStripe => Outcome::Processed,
        // A late event about a subscription the tenant has replaced: it may not end the
        // current one's access, nor tell the seller it ended.
        Refreshed::Ignored => Outcome::Ignored,
        Refreshed::Refused => Outcome::Refused,
    };
    if outcome != Outcome::Processed {
        tracing::info!(event = %event.id, outcome = outcome.as_str(), "Stripe event not applied");
        sqlx::query!(
            "update stripe_events set outcome = $2 where id = $1",
            event.id,
            outcome.as_str()
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(outcome);
    }
    if let Some(kind) = tenant_event_kind(&event.kind) {
        sqlx::query!(
            "insert into tenant_events (id, tenant_id, kind, dedupe_key, payload)
             values ($1, $2, $3, $4, jsonb_build_object('stripe_event', $4::text))
             on conflict do nothing",
            uuid::Uuid::now_v7(),
            tenant as TenantId,
            kind,
            event.id,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Outcome::Processed)
}

/// Whether the event was processed before (checked before asking Stripe anything).
async fn already_recorded(db: &PgPool, tenant: TenantId, event: &Event) -> sqlx::Result<bool> {
    let mut tx = tenancy::begin(db, Scope::tenant(tenant)).await?;
    let seen = sqlx::query_scalar!(
        r#"select exists(select 1 from stripe_events where id = $1) as "seen!""#,
        event.id
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(seen)
}

/// Events the seller is told about (delivered by the notifications work).
fn tenant_event_kind(stripe_type: &str) -> Option<&'static str> {
    match stripe_type {
        "customer.subscription.trial_will_end" => Some("trial_will_end"),
        "invoice.payment_failed" => Some("payment_failed"),
        "customer.subscription.deleted" => Some("subscription_ended"),
        _ => None,
    }
}

async fn record(tx: &mut tenancy::Tx, event: &Event, outcome: Outcome) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "insert into stripe_events (id, type, outcome) values ($1, $2, $3)
         on conflict (id) do nothing",
        event.id,
        event.kind,
        outcome.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn record_only(
    db: &PgPool,
    event: &Event,
    outcome: Outcome,
) -> Result<Outcome, BillingError> {
    let mut tx = tenancy::begin(db, Scope::default()).await?;
    let fresh = record(&mut tx, event, outcome).await?;
    tx.commit().await?;
    Ok(if fresh { outcome } else { Outcome::Duplicate })
}
