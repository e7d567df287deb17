//! When the scheduler will sync the scope's tenant, as the scheduler itself decides it: the
//! SQL function `sync_schedule` is what `queue_due_syncs` queues from.

use crate::billing::Plan;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

/// When the tenant becomes due (the scheduler queues it at its next tick, every minute by
/// default); None while it is not synced on schedule: no usable token, a read-only
/// subscription, or a run already queued or running.
pub async fn next_due_at(tx: &mut Tx) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "select due_at from sync_schedule(now(), $1)",
        Plan::intervals_json()
    )
    .fetch_optional(&mut **tx)
    .await
    .map(Option::flatten)
}
