//! Background jobs on the PostgreSQL queue (apalis). Payloads carry ids only, never
//! secrets: they are stored in the database and shown by operator tools.
//!
//! [`queue`] is the only code that creates jobs or touches the queue's tables; the rest of
//! this module is the jobs' payloads and what the operator and housekeeping do.

pub mod admin;
pub mod housekeeping;
pub mod maintenance;
pub mod queue;

use crate::ids::{SyncRunId, TenantId};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// The queue sync jobs are pushed to and workers consume.
pub const SYNC_QUEUE: &str = "stock-tracker-sync";
/// The queue of periodic, cross-tenant work ([`MaintenanceJob`]).
pub const MAINTENANCE_QUEUE: &str = "stock-tracker-maintenance";

/// Sync one tenant's WB data; `run_id` names the `sync_runs` row that records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub run_id: SyncRunId,
    pub tenant_id: TenantId,
}

/// How long finished runs and stock history are kept (scheduler settings, carried by the
/// retention job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub run_days: i32,
    pub history_days: i32,
}

/// Periodic work, queued by the scheduler's tick once per period and run by a worker. The
/// key (kind and period) makes it happen once per period however many replicas tick; the
/// `maintenance_runs` row with that key records its attempts and outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MaintenanceJob {
    /// Re-read every Stripe-linked tenant's subscription, once a day.
    Reconcile { day: NaiveDate },
    /// Delete finished runs and stock history past their retention, once an hour.
    Retention {
        hour: DateTime<Utc>,
        retention: Retention,
    },
    /// Record warnings for WB tokens about to expire, once an hour.
    TokenExpiry { hour: DateTime<Utc> },
}

impl MaintenanceJob {
    /// The jobs due in the period that contains `now`.
    pub fn due(now: DateTime<Utc>, retention: Retention) -> [MaintenanceJob; 3] {
        let hour = now
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        [
            MaintenanceJob::Reconcile {
                day: now.date_naive(),
            },
            MaintenanceJob::Retention { hour, retention },
            MaintenanceJob::TokenExpiry { hour },
        ]
    }

    pub fn kind(&self) -> &'static str {
        match self {
            MaintenanceJob::Reconcile { .. } => "reconcile",
            MaintenanceJob::Retention { .. } => "retention",
            MaintenanceJob::TokenExpiry { .. } => "token_expiry",
        }
    }

    /// Kind and period, e.g. `reconcile:2026-11-29`, `retention:2026-11-29T18`.
    pub fn key(&self) -> String {
        let period = match self {
            MaintenanceJob::Reconcile { day } => day.format("%Y-%m-%d").to_string(),
            MaintenanceJob::Retention { hour, .. } | MaintenanceJob::TokenExpiry { hour } => {
                hour.format("%Y-%m-%dT%H").to_string()
            }
        };
        format!("{}:{period}", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_keys_name_the_kind_and_the_period() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T18:42:07Z")
            .unwrap()
            .to_utc();
        let retention = Retention {
            run_days: 90,
            history_days: 365,
        };
        let keys: Vec<String> = MaintenanceJob::due(now, retention)
            .iter()
            .map(MaintenanceJob::key)
            .collect();
        assert_eq!(
            keys,
            [
                "reconcile:2026-11-29",
                "retention:2026-11-29T18",
                "token_expiry:2026-11-29T18"
            ]
        );
        // Every tick of the same hour asks for the same jobs; the next hour for new ones.
        let later = now + chrono::Duration::minutes(17);
        assert_eq!(
            MaintenanceJob::due(later, retention),
            MaintenanceJob::due(now, retention)
        );
        let next = now + chrono::Duration::minutes(18);
        assert_ne!(
            MaintenanceJob::due(next, retention)[1],
            MaintenanceJob::due(now, retention)[1]
        );
        let job = MaintenanceJob::due(now, retention)[1];
        let json = serde_json::to_value(job).unwrap();
        assert_eq!(json["kind"], "retention");
        assert_eq!(serde_json::from_value::<MaintenanceJob>(json).unwrap(), job);
    }
}
