//! Each tenant's subscription row: reading what it entitles, and copying Stripe's view of
//! the subscription into it.

use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::str::FromStr;
use stock_tracker_stripe::plans::{Limits, Plan};
use stock_tracker_stripe::stripe::Subscription as StripeSubscription;

/// What the subscription allows right now (decided by SQL `subscription_access`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Access {
    /// Trialing or paid: the plan's limits.
    Full,
    /// Payment failed less than 7 days ago: the plan's limits while the seller fixes it.
    Grace,
    /// Data kept and readable; no syncs, no writes.
    ReadOnly,
}

impl Access {
    pub fn can_sync(self) -> bool {
        self != Access::ReadOnly
    }
}

/// Stripe's subscription statuses (and `trialing` for the card-less trial), stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Paused,
    Incomplete,
    IncompleteExpired,
    Canceled,
}

impl SubscriptionStatus {
    /// After these a Stripe subscription never becomes active again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

impl FromStr for SubscriptionStatus {
    type Err = String;

    /// Stripe's wire names; an unknown one is refused rather than stored.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "unpaid" => Self::Unpaid,
            "paused" => Self::Paused,
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "canceled" => Self::Canceled,
            other => return Err(format!("unknown Stripe subscription status {other:?}")),
        })
    }
}

/// A tenant's subscription as the product sees it.
#[derive(Clone, Debug)]
pub struct TenantSubscription {
    /// The plan whose limits apply now.
    pub plan: Plan,
    /// The plan Stripe bills (differs from `plan` while a downgrade waits for period end).
    pub billed_plan: Plan,
    pub status: SubscriptionStatus,
    pub access: Access,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub current_period_start: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub past_due_since: Option<DateTime<Utc>>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub downgrade_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Changes with every write: tells a writer whether the row moved since it read it.
    pub updated_at: DateTime<Utc>,
    /// While past due: when access turns read-only (decided by SQL, as access is).
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// When this was read (the database's clock): a Stripe call made after reading it
    /// passes this to [`apply`].
    pub read_at: DateTime<Utc>,
}

impl TenantSubscription {
    pub fn limits(&self) -> Limits {
        self.plan.limits()
    }

    /// The billing period API calls are counted in: Stripe's current period, or for a
    /// card-less trial the trial itself.
    pub fn period(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        match (self.current_period_start, self.current_period_end) {
            (Some(start), Some(end)) => (start, end),
            _ => (
                self.created_at,
                self.trial_ends_at
                    .unwrap_or(self.created_at + chrono::Duration::days(30)),
            ),
        }
    }

    /// Whether the tenant has a Stripe subscription that still runs (not ended).
    pub fn has_live_stripe_subscription(&self) -> bool {
        self.stripe_subscription_id.is_some() && !self.status.is_terminal()
    }
}

// `current` and `lock` read the same columns (a checked macro takes a literal, so the list
// is written out in both).

/// The scope's tenant's subscription.
pub async fn current(tx: &mut Tx) -> sqlx::Result<TenantSubscription> {
    sqlx::query_as!(
        TenantSubscription,
        r#"select subscription_plan(plan, downgrade_from, downgrade_at, now()) as "plan!: Plan",
                  plan as "billed_plan: Plan", status as "status: SubscriptionStatus",
                  subscription_access(status, trial_ends_at, past_due_since, now())
                      as "access!: Access",
                  trial_ends_at, current_period_start, current_period_end, cancel_at_period_end,
                  past_due_since, stripe_customer_id, stripe_subscription_id,
                  case when downgrade_from is not null then downgrade_at end as downgrade_at,
                  created_at, updated_at,
                  subscription_grace_ends_at(status, past_due_since, now()) as grace_ends_at,
                  clock_timestamp() as "read_at!"
             from subscriptions"#
    )
    .fetch_one(&mut **tx)
    .await
}

/// The same, locking the row until the transaction ends: every change to a tenant's
/// subscription goes through this, so concurrent webhooks apply one after another and the
/// last to commit wrote the newest state it read from Stripe.
pub async fn lock(tx: &mut Tx) -> sqlx::Result<TenantSubscription> {
    sqlx::query_as!(
        TenantSubscription,
        r#"select subscription_plan(plan, downgrade_from, downgrade_at, now()) as "plan!: Plan",
                  plan as "billed_plan: Plan", status as "status: SubscriptionStatus",
                  subscription_access(status, trial_ends_at, past_due_since, now())
                      as "access!: Access",
                  trial_ends_at, current_period_start, current_period_end, cancel_at_period_end,
                  past_due_since, stripe_customer_id, stripe_subscription_id,
                  case when downgrade_from is not null then downgrade_at end as downgrade_at,
                  created_at, updated_at,
                  subscription_grace_ends_at(status, past_due_since, now()) as grace_ends_at,
                  clock_timestamp() as "read_at!"
             from subscriptions for update"#
    )
    .fetch_one(&mut **tx)
    .await
}

/// Links the tenant to a Stripe customer unless it already has one; returns the customer
/// the tenant is linked to afterwards (another request's, if it won the race).
pub async fn set_customer(tx: &mut Tx, customer: &str) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"update subscriptions
              set stripe_customer_id = coalesce(stripe_customer_id, $1), updated_at = now()
           returning stripe_customer_id as "stripe_customer_id!""#,
        customer
    )
    .fetch_one(&mut **tx)
    .await
}

/// Keeps `from`'s limits until `at` although the lower plan is billed from then on.
pub async fn schedule_downgrade(tx: &mut Tx, from: Plan, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "update subscriptions set downgrade_from = $1, downgrade_at = $2, updated_at = now()",
        from as Plan,
        at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Drops a scheduled downgrade that Stripe did not make (it refused the plan change).
pub async fn cancel_downgrade(tx: &mut Tx, from: Plan) -> sqlx::Result<()> {
    sqlx::query!(
        "update subscriptions set downgrade_from = null, downgrade_at = null, updated_at = now()
          where downgrade_from = $1 and plan = $1",
        from as Plan,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Copies Stripe's subscription into the (locked) row, unless what the row holds was read
/// from Stripe later than `stripe_read_at` (then false: the newer answer stays). For the
/// answer to a change we asked Stripe for, pass None: it is Stripe's state after the change,
/// as of now (the database clock when it is stored). `plan` is
/// the plan its price sells, or None for a price that is not ours (the plan then stays as
/// it was). A pending downgrade is dropped once the billed plan is at least the one it
/// protects.
pub async fn apply(
    tx: &mut Tx,
    before: &TenantSubscription,
    sub: &StripeSubscription,
    plan: Option<Plan>,
    stripe_read_at: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let status: SubscriptionStatus = sub
        .status
        .parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))?;
    let (period_start, period_end) = sub.period();
    let new_plan = plan.unwrap_or(before.billed_plan);
    let keep_downgrade = before.downgrade_at.is_some() && new_plan < before.plan;
    let done = sqlx::query!(
        "update subscriptions set
            status = $1, plan = $2, stripe_subscription_id = $3, stripe_price_id = $4,
            stripe_customer_id = coalesce(stripe_customer_id, $5),
            trial_ends_at = coalesce($6, trial_ends_at),
            current_period_start = $7, current_period_end = $8, cancel_at_period_end = $9,
            past_due_since = case when $1 = 'past_due' then coalesce(past_due_since, now()) end,
            downgrade_from = case when $10 then downgrade_from end,
            downgrade_at = case when $10 then downgrade_at end,
            stripe_read_at = coalesce($11, clock_timestamp()), updated_at = now()
          where stripe_read_at is null or stripe_read_at < coalesce($11, clock_timestamp())",
        status as SubscriptionStatus,
        new_plan as Plan,
        sub.id,
        sub.price_id(),
        sub.customer,
        sub.trial_end(),
        period_start,
        period_end,
        sub.cancel_at_period_end,
        keep_downgrade,
        stripe_read_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
