//! Opaque bearer secrets (refresh and invitation tokens).
//!
//! A token names its tenant (`<prefix>_<tenant>_<secret>`) so that it can be looked up
//! inside that tenant's RLS scope without any cross-tenant query. Only the SHA-256 digest
//! of the whole token is stored; a forged tenant part just finds nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use stock_tracker_shared::ids::TenantId;
use uuid::Uuid;

pub const REFRESH: &str = "strt";
pub const INVITATION: &str = "stinv";
/// API keys for sellers' own systems.
pub const API_KEY: &str = "stk";

pub struct Opaque {
    pub token: String,
    pub hash: Vec<u8>,
}

pub fn generate(prefix: &str, tenant: TenantId) -> Opaque {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!(
        "{prefix}_{}_{}",
        tenant.0.simple(),
        URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = digest(&token);
    Opaque { token, hash }
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The tenant a token claims to belong to, if it is shaped like one of ours.
pub fn tenant_of(prefix: &str, token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('_')?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() != 43 || tenant.len() != 32 {
        return None;
    }
    Uuid::try_parse(tenant).ok().map(TenantId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_tenant_and_rejects_other_prefixes() {
        let t = TenantId::new();
        let o = generate(REFRESH, t);
        assert_eq!(tenant_of(REFRESH, &o.token), Some(t));
        assert_eq!(tenant_of(INVITATION, &o.token), None);
        assert_eq!(tenant_of(REFRESH, "strt_nonsense"), None);
        assert_eq!(o.hash, digest(&o.token));
        assert_ne!(generate(REFRESH, t).token, o.token);
    }
}
