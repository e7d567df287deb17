//! Re-encrypting every stored WB token under the active key.
//!
//! Runs while the service keeps running: CREDENTIALS_KEYS lists the new key first and the
//! old one after it, so every process decrypts both while rows move over. Each row is
//! updated on its own, only if it still holds the ciphertext that was read.

use super::Vault;
use crate::credentials;
use sqlx::PgConnection;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: u64,
    /// Rows replaced by a seller between read and write (already under the new key).
    pub skipped: u64,
    /// Rows under a key that is no longer configured: they cannot be read by anyone.
    pub unreadable: u64,
}

/// Needs a connection that sees every tenant (the owner role).
pub async fn rotate(conn: &mut PgConnection, vault: &Vault) -> anyhow::Result<Rotation> {
    let mut report = Rotation::default();
    let active = vault.active_key_id().to_string();
    let mut unreadable_ids = Vec::new();
    loop {
        let batch = credentials::sealed_under_other_keys(conn, &active, 100).await?;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|(id, _, _)| !unreadable_ids.contains(id))
            .collect();
        if fresh.is_empty() {
            return Ok(report);
        }
        for (id, tenant, old) in fresh {
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
                    report.unreadable += 1;
                    unreadable_ids.push(id);
                }
            }
        }
    }
}
