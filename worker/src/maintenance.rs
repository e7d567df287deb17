//! The maintenance job consumer: periodic, cross-tenant work the scheduler queues once per
//! period (billing reconciliation, retention, token-expiry warnings). Same discipline as
//! sync jobs: the attempt is counted in the job's own row (`maintenance_runs`) before the
//! work starts, a job past the limit is dead-lettered instead of run again, a redelivered
//! job that already finished does nothing, and a broken attempt is retried after a back-off.

use apalis::prelude::*;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use stock_tracker_shared::billing::reconcile;
use stock_tracker_shared::jobs::{MaintenanceJob, housekeeping, maintenance, queue};
use stock_tracker_shared::metrics::MaintenanceMetrics;
use stock_tracker_stripe::stripe::StripeApi;
use tracing::Instrument;

/// What a maintenance handler needs; shared by every job of the queue.
#[derive(Clone)]
pub struct Maintenance {
    pub db: PgPool,
    /// None without Stripe settings: reconciliation then records that it skipped.
    pub stripe: Option<StripeApi>,
    pub max_attempts: i32,
    pub retry_base: Duration,
    pub metrics: MaintenanceMetrics,
}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded(serde_json::Value),
    AlreadyDone,
    DeadLettered,
}

impl Maintenance {
    /// Runs one attempt of `job`. Errors are broken attempts (PostgreSQL or Stripe
    /// unreachable): noted on the job's row and retried.
    pub async fn run(&self, job: MaintenanceJob) -> anyhow::Result<Outcome> {
        let key = job.key();
        let Some(attempt) = maintenance::start(&self.db, &key).await? else {
            return Ok(Outcome::AlreadyDone);
        };
        if attempt > self.max_attempts {
            let message = format!("Gave up after {} attempts", self.max_attempts);
            maintenance::fail(&self.db, &key, "dead_lettered", &message).await?;
            tracing::error!(%key, attempt, "maintenance job dead-lettered");
            return Ok(Outcome::DeadLettered);
        }
        let result = self.perform(job).await;
        match result {
            Ok(outcome) => {
                maintenance::succeed(&self.db, &key, outcome.clone()).await?;
                tracing::info!(%key, %outcome, "maintenance job done");
                Ok(Outcome::Succeeded(outcome))
            }
            Err(e) => {
                if let Err(note) =
                    maintenance::note_attempt_error(&self.db, &key, &format!("{e:#}")).await
                {
                    tracing::warn!(%key, error = %note, "could not record the failed attempt");
                }
                Err(e)
            }
        }
    }

    async fn perform(&self, job: MaintenanceJob) -> anyhow::Result<serde_json::Value> {
        // The period names the job; the work itself is measured from the time it runs, so a
        // retried job does not act on a stale clock.
        let now = chrono::Utc::now();
        match job {
            MaintenanceJob::Reconcile { .. } => {
                let Some(stripe) = &self.stripe else {
                    return Ok(json!({"skipped": "billing_not_configured"}));
                };
                match reconcile::reconcile_all(&self.db, stripe).await {
                    Ok(done) => {
                        self.metrics
                            .reconciliation(if done.failed == 0 { "ok" } else { "error" });
                        Ok(json!({"checked": done.checked, "failed": done.failed}))
                    }
                    Err(e) => {
                        self.metrics.reconciliation("error");
                        Err(e)
                    }
                }
            }
            MaintenanceJob::Retention { retention, .. } => {
                // Partitions ahead first: they matter more than dropping old ones.
                let partitions = housekeeping::prepare_history_partitions(&self.db, now).await?;
                let (runs, history) =
                    housekeeping::purge(&self.db, now, retention.run_days, retention.history_days)
                        .await?;
                Ok(json!({"runs": runs, "history": history, "partitions_created": partitions}))
            }
            MaintenanceJob::TokenExpiry { .. } => {
                let events = housekeeping::warn_expiring_tokens(&self.db, now).await?;
                Ok(json!({"events": events}))
            }
        }
    }
}

/// The apalis handler of the maintenance queue.
pub async fn handle(
    job: MaintenanceJob,
    maintenance: Data<Maintenance>,
    task: TaskId,
) -> Result<(), BoxDynError> {
    let span = tracing::info_span!("maintenance_job", job_id = %task, key = %job.key());
    handle_in_span(job, maintenance, task)
        .instrument(span)
        .await
}

async fn handle_in_span(
    job: MaintenanceJob,
    maintenance: Data<Maintenance>,
    task: TaskId,
) -> Result<(), BoxDynError> {
    let result = maintenance.run(job).await;
    let outcome = match &result {
        Ok(Outcome::Succeeded(_)) => "succeeded",
        Ok(Outcome::AlreadyDone) => "already_done",
        Ok(Outcome::DeadLettered) => "dead_lettered",
        Err(_) => "error",
    };
    maintenance.metrics.job(job.kind(), outcome);
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let key = job.key();
            tracing::error!(%key, error = %e, "maintenance attempt failed; it will be retried");
            let attempt = maintenance::get(&maintenance.db, &key)
                .await
                .ok()
                .flatten()
                .map_or(1, |r| r.attempts);
            let delay = queue::backoff(maintenance.retry_base, attempt);
            if let Err(e) = queue::retry_after(&maintenance.db, &task.to_string(), delay).await {
                tracing::warn!(error = %e, "could not space the retry out; it runs at the next poll");
            }
            Err(e.into())
        }
    }
}
