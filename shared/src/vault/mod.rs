//! Encryption of sellers' WB tokens at rest: AES-256-GCM with a random 96-bit nonce, the
//! key id stored beside each ciphertext (so keys rotate without downtime), and associated
//! data binding a ciphertext to its tenant and credential row: a ciphertext copied to
//! another row or tenant does not decrypt.

pub mod rotate;

use crate::Secret;
use crate::config::CredentialKeys;
use crate::ids::CredentialId;
use crate::ids::TenantId;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const AAD_PREFIX: &[u8] = b"stock-tracker/wb-credential/v1";

/// A ciphertext as stored: which key, which nonce, and the sealed bytes (tag included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("credential was encrypted with key {0}, which is not in CREDENTIALS_KEYS")]
    UnknownKey(String),
    #[error("credential does not decrypt (wrong key, tampered, or moved to another row)")]
    Undecryptable,
}

#[derive(Clone)]
pub struct Vault {
    keys: CredentialKeys,
}

fn aad(tenant: TenantId, credential: CredentialId) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(tenant.0.as_bytes());
    aad.extend_from_slice(credential.0.as_bytes());
    aad
}

impl Vault {
    pub fn new(keys: CredentialKeys) -> Self {
        Self { keys }
    }

    /// The id of the key new ciphertexts use.
    pub fn active_key_id(&self) -> &str {
        &self.keys.active().id
    }

    pub fn seal(
        &self,
        tenant: TenantId,
        credential: CredentialId,
        plaintext: &Secret<String>,
    ) -> Sealed {
        let key = self.keys.active();
        let cipher = Aes256Gcm::new(key.key.expose().into());
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.expose().as_bytes(),
                    aad: &aad(tenant, credential),
                },
            )
            // AES-GCM encryption only fails for messages beyond 64 GiB.
            .unwrap_or_default();
        Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    pub fn open(
        &self,
        tenant: TenantId,
        credential: CredentialId,
        sealed: &Sealed,
    ) -> Result<Secret<String>, VaultError> {
        let key = self
            .keys
            .by_id(&sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Undecryptable)?;
        let cipher = Aes256Gcm::new(key.key.expose().into());
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad(tenant, credential),
                },
            )
            .map_err(|_| VaultError::Undecryptable)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| VaultError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    fn vault(spec: &str) -> Vault {
        Vault::new(CredentialKeys::parse(spec).unwrap())
    }

    #[test]
    fn round_trips_with_fresh_nonces() {
        let v = vault(&format!("k1:{K1}"));
        let (t, c) = (TenantId::new(), CredentialId::new());
        let token = Secret::new("eyJhbGciOiJFUzI1NiJ9.payload.sig".to_string());
        let a = v.seal(t, c, &token);
        let b = v.seal(t, c, &token);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!String::from_utf8_lossy(&a.ciphertext).contains("payload"));
        assert_eq!(v.open(t, c, &a).unwrap().expose(), token.expose());
    }

    #[test]
    fn ciphertext_is_bound_to_its_tenant_and_row() {
        let v = vault(&format!("k1:{K1}"));
        let (t, c) = (TenantId::new(), CredentialId::new());
        let sealed = v.seal(t, c, &Secret::new("secret".into()));
        assert_eq!(
            v.open(TenantId::new(), c, &sealed),
            Err(VaultError::Undecryptable)
        );
        assert_eq!(
            v.open(t, CredentialId::new(), &sealed),
            Err(VaultError::Undecryptable)
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(v.open(t, c, &tampered), Err(VaultError::Undecryptable));
    }

    #[test]
    fn old_keys_still_decrypt_after_rotation_and_removed_keys_are_named() {
        let old = vault(&format!("k1:{K1}"));
        let (t, c) = (TenantId::new(), CredentialId::new());
        let sealed = old.seal(t, c, &Secret::new("secret".into()));
        let rotated = vault(&format!("k2:{K2},k1:{K1}"));
        assert_eq!(rotated.active_key_id(), "k2");
        assert_eq!(rotated.open(t, c, &sealed).unwrap().expose(), "secret");
        assert_eq!(rotated.seal(t, c, &Secret::new("x".into())).key_id, "k2");
        let only_new = vault(&format!("k2:{K2}"));
        assert_eq!(
            only_new.open(t, c, &sealed),
            Err(VaultError::UnknownKey("k1".into()))
        );
    }
}
