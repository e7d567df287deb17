//! Many tenants at once, written directly as the owner: for scheduler tests and benchmarks
//! where going through sign-up (and Argon2) for each would only add time.

use sqlx::PgPool;
use uuid::Uuid;

/// Creates `n` tenants, each with an active WB credential (placeholder ciphertext: the
/// scheduler only reads the status), and returns their ids.
pub async fn with_active_credentials(owner: &PgPool, n: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "insert into tenants (id, name) select id, 'Tenant ' || id from unnest($1::uuid[]) as id",
    )
    .bind(&ids)
    .execute(owner)
    .await
    .unwrap();
    sqlx::query(
        "insert into wb_credentials (id, tenant_id, key_id, nonce, ciphertext, token_mask, seller_id,
                                     token_type, categories, read_only, test_token, expires_at)
         select gen_random_uuid(), id, 'test1', '\\x00', '\\x00', '…', 'seller', 'personal',
                '{content,analytics,marketplace,statistics}', true, false, now() + interval '90 days'
           from unnest($1::uuid[]) as id",
    )
    .bind(&ids)
    .execute(owner)
    .await
    .unwrap();
    ids
}
