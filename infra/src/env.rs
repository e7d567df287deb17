//! Configuration from environment variables, parsed once at start-up.
//!
//! Every binary builds its settings through [`Env`], so a missing or malformed variable is
//! reported the same way everywhere: one line naming the variable, exit code 2. Values are
//! never echoed back, because most of them are secrets or contain one.

use crate::Secret;
use std::collections::HashMap;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
}

impl ConfigError {
    pub fn malformed(name: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            name,
            reason: reason.into(),
        }
    }
}

/// A snapshot of the environment. Tests build one from pairs instead of mutating the
/// process environment, which is shared between test threads.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The value, with an empty string treated as unset.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn secret(&self, name: &'static str) -> Result<Secret<String>, ConfigError> {
        self.required(name).map(Secret::new)
    }

    /// A comma-separated list of secrets (rotation: current first), blanks skipped.
    pub fn secret_list(&self, name: &str) -> Vec<Secret<String>> {
        self.optional(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Secret::new(s.to_string()))
            .collect()
    }

    pub fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e: T::Err| ConfigError::malformed(name, e.to_string())),
        }
    }
}

/// Prints the error as one line and exits with code 2, the convention for bad configuration.
pub fn exit_on_error<T>(result: Result<T, ConfigError>) -> T {
    result.unwrap_or_else(|e| {
        eprintln!("configuration error: {e}");
        std::process::exit(2)
    })
}
