//! The plans sellers can buy and what each allows. Limits live here, in code, because every
//! binary enforces them; which Stripe price sells each plan comes from the environment.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Plan {
    Starter,
    Pro,
    Enterprise,
}

/// What a plan allows. A tenant on a read-only subscription gets none of it but reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Products a sync keeps; the rest of the seller's catalogue is skipped and counted.
    pub products: i64,
    /// The shortest interval between scheduled syncs.
    pub sync_interval_minutes: i32,
    /// Calls made with API keys per billing period.
    pub api_calls_per_period: i64,
    /// Syncs a seller may start by hand in any 24 hours.
    pub manual_syncs_per_day: i64,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Starter, Plan::Pro, Plan::Enterprise];
    /// What a new tenant's trial gets.
    pub const TRIAL: Plan = Plan::Pro;

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// Monthly price in US cents.
    pub fn price_cents(self) -> i64 {
        match self {
            Plan::Starter => 990,
            Plan::Pro => 2990,
            Plan::Enterprise => 9990,
        }
    }

    pub fn limits(self) -> Limits {
        match self {
            Plan::Starter => Limits {
                products: 100,
                sync_interval_minutes: 120,
                api_calls_per_period: 1_000,
                manual_syncs_per_day: 4,
            },
            Plan::Pro => Limits {
                products: 1_000,
                sync_interval_minutes: 30,
                api_calls_per_period: 10_000,
                manual_syncs_per_day: 24,
            },
            Plan::Enterprise => Limits {
                products: 10_000,
                sync_interval_minutes: 10,
                api_calls_per_period: 100_000,
                manual_syncs_per_day: 96,
            },
        }
    }

    /// The scheduler's plan-to-interval map, as `queue_due_syncs` takes it.
    pub fn intervals_json() -> serde_json::Value {
        Plan::ALL
            .iter()
            .map(|p| {
                (
                    p.as_str().to_string(),
                    p.limits().sync_interval_minutes.into(),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown plan {s:?} (expected starter, pro or enterprise)"))
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    #[test]
    fn plans_grow_in_every_limit() {
        for pair in Plan::ALL.windows(2) {
            let (small, big) = (pair[0].limits(), pair[1].limits());
            assert!(small.products < big.products);
            assert!(small.sync_interval_minutes > big.sync_interval_minutes);
            assert!(small.api_calls_per_period < big.api_calls_per_period);
            assert!(small.manual_syncs_per_day < big.manual_syncs_per_day);
            assert!(pair[0].price_cents() < pair[1].price_cents());
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>(), Ok(plan));
        }
        assert!("gold".parse::<Plan>().is_err());
        assert_eq!(Plan::intervals_json()["starter"], 120);
    }
}
