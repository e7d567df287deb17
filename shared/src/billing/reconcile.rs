//! The daily reconciliation: every tenant linked to Stripe has its subscription re-read,
//! repairing whatever missed or failed webhooks left behind.

use super::refresh::{self, Refreshed};
use super::stripe::StripeApi;
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

const JOB: &str = "billing_reconcile";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub checked: usize,
    pub failed: usize,
}

/// Runs the reconciliation if it has not run in the last 24 hours (the scheduler calls
/// this every tick; the claim is atomic, so one replica does it). None if not due.
pub async fn run_if_due(
    db: &PgPool,
    stripe: &StripeApi,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Reconciled>> {
    let claimed = sqlx::query(
        "insert into periodic_runs (name, last_run_at) values ($1, $2)
         on conflict (name) do update set last_run_at = excluded.last_run_at
          where periodic_runs.last_run_at <= excluded.last_run_at - interval '24 hours'",
    )
    .bind(JOB)
    .bind(now)
    .execute(db)
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(Some(reconcile_all(db, stripe).await?))
}

/// Re-reads every linked tenant's subscription; one tenant's failure does not stop the rest.
pub async fn reconcile_all(db: &PgPool, stripe: &StripeApi) -> anyhow::Result<Reconciled> {
    let tenants: Vec<TenantId> =
        sqlx::query_scalar("select tenant_id from billing_linked_tenants()")
            .fetch_all(db)
            .await?;
    let mut done = Reconciled::default();
    for tenant in tenants {
        done.checked += 1;
        match refresh::refresh(db, tenant, stripe, None).await {
            Ok(Refreshed::Applied | Refreshed::NothingAtStripe | Refreshed::Ignored) => {}
            Err(e) => {
                done.failed += 1;
                tracing::warn!(%tenant, error = %e, "could not reconcile the subscription");
            }
        }
    }
    Ok(done)
}
