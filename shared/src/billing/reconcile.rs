//! The daily reconciliation: every tenant linked to Stripe has its subscription re-read,
//! repairing whatever missed or failed webhooks left behind. It runs as a maintenance job
//! (`jobs::MaintenanceJob::Reconcile`), queued once a day by the scheduler.

use super::refresh::{self, Refreshed};
use crate::ids::TenantId;
use sqlx::PgPool;
use stock_tracker_stripe::stripe::StripeApi;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub checked: usize,
    pub failed: usize,
}

/// Re-reads every linked tenant's subscription; one tenant's failure does not stop the rest.
pub async fn reconcile_all(db: &PgPool, stripe: &StripeApi) -> anyhow::Result<Reconciled> {
    let tenants = sqlx::query_scalar!(
        r#"select tenant_id as "tenant_id!: TenantId" from billing_linked_tenants()"#
    )
    .fetch_all(db)
    .await?;
    let mut done = Reconciled::default();
    for tenant in tenants {
        done.checked += 1;
        match refresh::refresh(db, tenant, stripe, None).await {
            Ok(Refreshed::Applied | Refreshed::NothingAtStripe | Refreshed::Ignored) => {}
            // Logged as an error where it was found; counted so the run reports it.
            Ok(Refreshed::Refused) => done.failed += 1,
            Err(e) => {
                done.failed += 1;
                tracing::warn!(%tenant, error = %e, "could not reconcile the subscription");
            }
        }
    }
    Ok(done)
}
