//! Re-encrypting every stored WB token under the active key.
//!
//! Runs while the service keeps running: CREDENTIALS_KEYS lists the new key first and the
//! old one after it, so every process decrypts both while rows move over. Each row is
//! updated on its own, only if it still holds the ciphertext that was read.

use super::Vault;
use crate::credentials;
use crate::ids::CredentialId;
use sqlx::PgConnection;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: u64,
    /// Rows replaced by a seller between read and write (already under the new key).
    pub skipped: u64,
    /// Rows under a key that is no longer configured: they cannot be read by anyone. The
    /// operator reports them to their tenants (who connect the token again).
    pub unreadable: Vec<CredentialId>,
}

/// Rows read per query.
const BATCH: i64 = 100;

/// Needs a connection that sees every tenant (the owner role).
pub async fn rotate(conn: &mut PgConnection, vault: &Vault) -> anyhow::Result<Rotation> {
    rotate_in_batches(conn, vault, BATCH).await
}

/// [`rotate`], reading `batch` rows at a time. Every row not under the active key is visited
/// once, in id order, whatever the ones before it were.
pub async fn rotate_in_batches(
    conn: &mut PgConnection,
    vault: &Vault,
    batch: i64,
) -> anyhow::Result<Rotation> {
    let mut report = Rotation::default();
    let active = vault.active_key_id().to_string();
    let mut after = None;
    loop {
        let rows = credentials::sealed_under_other_keys(conn, &active, after, batch).await?;
        let Some(&(last, _, _)) = rows.last() else {
            return Ok(report);
        };
        after = Some(last);
        for (id, tenant, old) in rows {
            match vault.open(tenant, id, &old) {
                Ok(token) => {
                    let new = vault.seal(tenant, id, &token);
                    if credentials::reseal(conn, id, &old, &new).await? {
                        report.resealed += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(credential_id = %id, error = %e, "credential cannot be re-encrypted");
                    report.unreadable.push(id);
                }
            }
        }
    }
}
