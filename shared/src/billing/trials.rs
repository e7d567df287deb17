//! One free trial per WB seller account. A tenant on its card-less trial may connect a
//! seller account only if no other tenant has had that account's trial; a tenant with a
//! subscription at Stripe may connect any. The record lives in SQL (`claim_seller_trial`,
//! migration 20261129000410) because it spans tenants.

use super::TenantSubscription;
use crate::tenancy::Tx;

/// Whether the scope's tenant may connect `seller_id` under `subscription`, claiming the
/// seller account's trial if the tenant is on its free trial. In the transaction that saves
/// the token, so a refused or failed save claims nothing.
pub async fn may_connect(
    tx: &mut Tx,
    subscription: &TenantSubscription,
    seller_id: &str,
) -> sqlx::Result<bool> {
    if subscription.has_live_stripe_subscription() {
        return Ok(true);
    }
    sqlx::query_scalar!(r#"select claim_seller_trial($1) as "claimed!""#, seller_id)
        .fetch_one(&mut **tx)
        .await
}
