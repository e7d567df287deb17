use std::time::Duration;

/// Shape of the simulated world. Every generated value is a pure function of
/// (seller id, this config, simulation tick), so tests can recompute expected data.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// Product cards per seller.
    pub products: u32,
    /// Sizes (chrtIDs) per card.
    pub sizes_per_product: u32,
    /// WB warehouses with stock rows; the first is always the aggregate "Склад WB"
    /// (`warehouseId = -999999`), the rest are named ones. At most [`MAX_WB_WAREHOUSES`].
    pub wb_warehouses: u32,
    /// The seller's own (FBS) warehouses.
    pub seller_warehouses: u32,
    /// 1.0 = WB's published limits; 0.0 = limits off; 10.0 = ten times more permissive.
    pub rate_limit_scale: f64,
    /// Simulated orders happen this often; `Duration::ZERO` stops automatic ticks so only
    /// `POST /__sandbox/advance` moves the simulation.
    pub drain_every: Duration,
}

pub const MAX_WB_WAREHOUSES: u32 = crate::catalog::WB_WAREHOUSES.len() as u32;

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            products: 50,
            sizes_per_product: 3,
            wb_warehouses: 4,
            seller_warehouses: 1,
            rate_limit_scale: 1.0,
            drain_every: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{var}: cannot parse {value:?}: {reason}")]
    Malformed {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{var}: {reason}")]
    OutOfRange { var: &'static str, reason: String },
}

impl SandboxConfig {
    /// Reads `WB_SANDBOX_PRODUCTS`, `WB_SANDBOX_SIZES`, `WB_SANDBOX_WB_WAREHOUSES`,
    /// `WB_SANDBOX_SELLER_WAREHOUSES`, `WB_SANDBOX_RATE_SCALE`, `WB_SANDBOX_DRAIN_SECS`;
    /// unset variables keep their defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Same as [`SandboxConfig::from_env`] with an injectable lookup, so it can be tested
    /// without mutating the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let cfg = Self {
            products: parse_var(&get, "WB_SANDBOX_PRODUCTS", d.products)?,
            sizes_per_product: parse_var(&get, "WB_SANDBOX_SIZES", d.sizes_per_product)?,
            wb_warehouses: parse_var(&get, "WB_SANDBOX_WB_WAREHOUSES", d.wb_warehouses)?,
            seller_warehouses: parse_var(
                &get,
                "WB_SANDBOX_SELLER_WAREHOUSES",
                d.seller_warehouses,
            )?,
            rate_limit_scale: parse_var(&get, "WB_SANDBOX_RATE_SCALE", d.rate_limit_scale)?,
            drain_every: drain_secs(parse_var(
                &get,
                "WB_SANDBOX_DRAIN_SECS",
                d.drain_every.as_secs_f64(),
            )?)?,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |var, reason: String| Err(ConfigError::OutOfRange { var, reason });
        if !(1..=20).contains(&self.sizes_per_product) {
            return bad("WB_SANDBOX_SIZES", "must be between 1 and 20".into());
        }
        if !(1..=MAX_WB_WAREHOUSES).contains(&self.wb_warehouses) {
            return bad(
                "WB_SANDBOX_WB_WAREHOUSES",
                format!("must be between 1 and {MAX_WB_WAREHOUSES}"),
            );
        }
        if self.seller_warehouses > 50 {
            return bad("WB_SANDBOX_SELLER_WAREHOUSES", "must be at most 50".into());
        }
        if self.products > 2_000_000 {
            return bad("WB_SANDBOX_PRODUCTS", "must be at most 2000000".into());
        }
        if !self.rate_limit_scale.is_finite() || self.rate_limit_scale < 0.0 {
            return bad(
                "WB_SANDBOX_RATE_SCALE",
                "must be a finite number >= 0".into(),
            );
        }
        Ok(())
    }

    /// Total stock rows on WB warehouses, i.e. what `stocks-report/wb-warehouses` returns
    /// unfiltered.
    pub fn wb_stock_rows(&self) -> u64 {
        u64::from(self.products) * u64::from(self.sizes_per_product) * u64::from(self.wb_warehouses)
    }
}

fn drain_secs(secs: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(secs).map_err(|_| ConfigError::OutOfRange {
        var: "WB_SANDBOX_DRAIN_SECS",
        reason: "must be a finite number of seconds >= 0".into(),
    })
}

fn parse_var<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(var) {
        None => Ok(default),
        Some(raw) if raw.trim().is_empty() => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Malformed {
                var,
                value: raw.clone(),
                reason: e.to_string(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_when_unset() {
        assert_eq!(
            SandboxConfig::from_lookup(lookup(&[])).unwrap(),
            SandboxConfig::default()
        );
    }

    #[test]
    fn reads_every_variable() {
        let cfg = SandboxConfig::from_lookup(lookup(&[
            ("WB_SANDBOX_PRODUCTS", "7"),
            ("WB_SANDBOX_SIZES", "2"),
            ("WB_SANDBOX_WB_WAREHOUSES", "3"),
            ("WB_SANDBOX_SELLER_WAREHOUSES", "2"),
            ("WB_SANDBOX_RATE_SCALE", "0"),
            ("WB_SANDBOX_DRAIN_SECS", "1.5"),
        ]))
        .unwrap();
        assert_eq!(cfg.products, 7);
        assert_eq!(cfg.sizes_per_product, 2);
        assert_eq!(cfg.wb_warehouses, 3);
        assert_eq!(cfg.seller_warehouses, 2);
        assert_eq!(cfg.rate_limit_scale, 0.0);
        assert_eq!(cfg.drain_every, Duration::from_millis(1500));
    }

    #[test]
    fn malformed_value_names_the_variable() {
        let err = SandboxConfig::from_lookup(lookup(&[("WB_SANDBOX_SIZES", "three")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("WB_SANDBOX_SIZES"), "{err}");
        let err = SandboxConfig::from_lookup(lookup(&[("WB_SANDBOX_DRAIN_SECS", "-1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("WB_SANDBOX_DRAIN_SECS"), "{err}");
    }
}
