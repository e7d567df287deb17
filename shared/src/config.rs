//! The settings every binary shares (database, Redis, credential keys, logs), read through
//! [`Env`] (from `stock-tracker-infra`), so a missing or malformed variable is reported the
//! same way everywhere: one line naming the variable, exit code 2.

use crate::Secret;
use base64::Engine;
use std::str::FromStr;
pub use stock_tracker_infra::env::{ConfigError, Env, exit_on_error};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err("expected json or pretty".into()),
        }
    }
}

/// One AES-256 key for WB credentials, with the id stored next to every ciphertext.
#[derive(Clone, Debug)]
pub struct CredentialKey {
    pub id: String,
    pub key: Secret<[u8; 32]>,
}

/// `CREDENTIALS_KEYS=id1:base64key,id2:base64key`. The first key encrypts; all of them
/// decrypt, so a key is rotated by putting a new one first and re-encrypting.
#[derive(Clone, Debug)]
pub struct CredentialKeys(Vec<CredentialKey>);

impl CredentialKeys {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys: Vec<CredentialKey> = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry
                .split_once(':')
                .ok_or("each entry must be id:base64key")?;
            let valid_id = !id.is_empty()
                && id.len() <= 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_id {
                return Err("key ids are 1-32 characters of A-Z, a-z, 0-9, - and _".into());
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("key id {id} appears twice"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| format!("key {id} is not valid base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("key {id} must decode to 32 bytes"))?;
            keys.push(CredentialKey {
                id: id.to_string(),
                key: Secret::new(key),
            });
        }
        if keys.is_empty() {
            return Err("at least one key is required".into());
        }
        Ok(Self(keys))
    }

    /// `CREDENTIALS_KEYS`, for the binaries that seal or open WB tokens (the api, the worker
    /// and the key rotation); the scheduler never sees them.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Self::parse(&env.required("CREDENTIALS_KEYS")?)
            .map_err(|reason| ConfigError::malformed("CREDENTIALS_KEYS", reason))
    }

    /// The key new ciphertexts are written with.
    pub fn active(&self) -> &CredentialKey {
        &self.0[0]
    }

    pub fn by_id(&self, id: &str) -> Option<&CredentialKey> {
        self.0.iter().find(|k| k.id == id)
    }
}

/// Settings every binary needs.
#[derive(Clone, Debug)]
pub struct CommonConfig {
    pub database_url: Secret<String>,
    pub database_max_connections: u32,
    /// Per-session timeouts; background defaults here, the api sets its own.
    pub database_session: crate::tenancy::pool::SessionLimits,
    pub redis_url: Secret<String>,
    pub log_format: LogFormat,
    pub sentry_dsn: Option<Secret<String>>,
    /// Prefix of every Redis key, so environments can share one Redis.
    pub redis_key_prefix: String,
}

impl CommonConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let database_url = env.secret("DATABASE_URL")?;
        if !database_url.expose().starts_with("postgres") {
            return Err(ConfigError::malformed(
                "DATABASE_URL",
                "expected a postgres:// URL",
            ));
        }
        let redis_url = env.secret("REDIS_URL")?;
        if !redis_url.expose().starts_with("redis") {
            return Err(ConfigError::malformed(
                "REDIS_URL",
                "expected a redis:// URL",
            ));
        }
        Ok(Self {
            database_url,
            database_max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 10)?,
            database_session: crate::tenancy::pool::SessionLimits::from_env(
                env,
                crate::tenancy::pool::SessionLimits::BACKGROUND,
            )?,
            redis_url,
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Pretty)?,
            redis_key_prefix: env
                .optional("REDIS_KEY_PREFIX")
                .unwrap_or_else(|| "st:".to_string()),
            sentry_dsn: env
                .optional("SENTRY_DSN")
                .map(|dsn| {
                    dsn.parse::<sentry::types::Dsn>()
                        .map(|_| Secret::new(dsn))
                        .map_err(|_| ConfigError::malformed("SENTRY_DSN", "not a Sentry DSN"))
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn base<'a>() -> Vec<(&'a str, &'a str)> {
        vec![
            ("DATABASE_URL", "postgres://app:pw@localhost/db"),
            ("REDIS_URL", "redis://localhost"),
            (
                "CREDENTIALS_KEYS",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ]
    }

    #[test]
    fn names_the_missing_variable() {
        let env = Env::from_pairs(base().into_iter().filter(|(k, _)| *k != "REDIS_URL"));
        let err = CommonConfig::from_env(&env).unwrap_err();
        assert_eq!(err.to_string(), "REDIS_URL is not set");
    }

    #[test]
    fn malformed_values_name_the_variable_without_echoing_it() {
        let mut pairs = base();
        pairs.push(("LOG_FORMAT", "xml-secret"));
        let err = CommonConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.to_string().starts_with("LOG_FORMAT is malformed"));
        assert!(!err.to_string().contains("xml-secret"));
    }

    #[test]
    fn credential_keys_first_is_active_and_lengths_are_checked() {
        let keys = CredentialKeys::parse(&format!("new:{KEY}, old:{KEY}")).unwrap();
        assert_eq!(keys.active().id, "new");
        assert!(keys.by_id("old").is_some());
        assert!(
            CredentialKeys::parse("k:AAAA")
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(CredentialKeys::parse(&format!("a:{KEY},a:{KEY}")).is_err());
        assert!(CredentialKeys::parse("").is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let cfg = CommonConfig::from_env(&Env::from_pairs(base())).unwrap();
        let printed = format!("{cfg:?}");
        assert!(!printed.contains("pw@"), "{printed}");
        assert!(!printed.contains("AAAA"), "{printed}");
    }
}
