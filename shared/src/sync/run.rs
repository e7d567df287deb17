//! One sync job, start to finish: claim the run, decrypt the token, plan what to ask WB
//! (see [`state::plan`]), fetch, write, record.

use super::runs::{self, WbCounts};
use super::snapshot::WarehouseKind;
use super::state::{self, Policy};
use super::{Failure, fetch, pause, planner, store};
use crate::billing::subscriptions;
use crate::cache::TenantCache;
use crate::credentials::{self, CredentialStatus};
use crate::jobs::SyncJob;
use crate::tenancy::{self, Scope};
use crate::vault::Vault;
use sqlx::PgPool;
use stock_tracker_wb::{WbClient, WbError, token};

#[derive(Clone)]
pub struct Syncer {
    pub db: PgPool,
    pub vault: Vault,
    pub wb: WbClient,
    pub cache: TenantCache,
    pub worker: String,
    /// Attempts after which a run is dead-lettered instead of tried again. Counted in the
    /// run row when an attempt starts, so attempts a crashed worker never finished count.
    pub max_attempts: i32,
    /// How eagerly syncs ask WB again (stock report reuse, full listings).
    pub policy: Policy,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        stock_rows: usize,
        /// Requests sent to WB, retries included.
        wb_requests: u64,
    },
    /// The run failed for a reason recorded on it (WB down, token refused, ...).
    Failed { code: String, wb_requests: u64 },
    /// The run was already finished: a redelivered job.
    AlreadyDone,
    /// Past the maximum attempts: recorded as failed with `dead_lettered`, not retried.
    DeadLettered,
}

impl Syncer {
    /// Errors are infrastructure failures (PostgreSQL unreachable, ...): the job is
    /// retried. Everything the seller should see ends up on the run instead.
    pub async fn run(&self, job: SyncJob) -> anyhow::Result<Outcome> {
        let scope = Scope::tenant(job.tenant_id);
        let mut tx = tenancy::begin(&self.db, scope.clone()).await?;
        let Some(attempt) = runs::start(&mut tx, job.run_id, &self.worker).await? else {
            return Ok(Outcome::AlreadyDone);
        };
        if attempt > self.max_attempts {
            let last = runs::get(&mut tx, job.run_id)
                .await?
                .and_then(|r| r.error_code);
            let failure = Failure::dead_lettered(self.max_attempts, last.as_deref());
            runs::fail(&mut tx, job.run_id, &failure, &WbCounts::default()).await?;
            tx.commit().await?;
            tracing::error!(tenant_id = %job.tenant_id, run_id = %job.run_id, attempt, "sync dead-lettered");
            return Ok(Outcome::DeadLettered);
        }
        let subscription = subscriptions::current(&mut tx).await?;
        let stored = credentials::sealed(&mut tx).await?;
        let sync_state = state::load(&mut tx).await?;
        let plan = state::plan(
            &sync_state,
            &self.policy,
            Some(subscription.limits().products),
            chrono::Utc::now(),
        );
        // Answers keyed by barcode or size (the fallbacks) need every size, and an
        // incremental listing brings only the changed cards' ones.
        let stored_sizes = if plan.cards_since.is_some() && !plan.stock.is_empty() {
            state::stored_sizes(&mut tx).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;

        if !subscription.access.can_sync() {
            return self
                .fail(job, WbCounts::default(), Failure::subscription_inactive())
                .await;
        }
        let product_limit = subscription.limits().products;
        let max_products = Some(usize::try_from(product_limit).unwrap_or(0));

        let Some(stored) = stored else {
            return self
                .fail(job, WbCounts::default(), Failure::credential_required())
                .await;
        };
        if stored.status != CredentialStatus::Active {
            return self
                .fail(job, WbCounts::default(), Failure::credential_invalid())
                .await;
        }
        // WB wants our service balance topped up: no request until an operator resumes.
        if pause::current(&self.db).await?.is_some() {
            return self
                .fail(
                    job,
                    WbCounts::default(),
                    Failure::wb(&WbError::ServiceUnpaid),
                )
                .await;
        }
        let token = match self.vault.open(job.tenant_id, stored.id, &stored.sealed) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(tenant_id = %job.tenant_id, error = %e, "stored WB token does not decrypt");
                return self
                    .fail(
                        job,
                        WbCounts::default(),
                        Failure::credential_undecryptable(),
                    )
                    .await;
            }
        };
        // A token that does not decode is not one WB would accept; the session's limit row
        // (which methods it may call) comes from the same claims.
        let decodes = token::decode(token.expose()).is_ok();
        let session = self.wb.session(token);
        let fetch_started = std::time::Instant::now();
        let fetched = if decodes {
            fetch::fetch(&session, &plan, max_products, &stored_sizes).await
        } else {
            Err(WbError::Unauthorized)
        };
        let counts = WbCounts::of(&session);
        let snapshot = match fetched {
            Ok(s) => s,
            Err(e) => {
                // Only a 401 WB blames on the token marks it invalid: a refused service
                // secret or an unpaid service balance is ours to fix, never the seller's.
                if e == WbError::ServiceUnpaid && pause::record_unpaid(&self.db).await? {
                    tracing::error!(
                        tenant_id = %job.tenant_id, run_id = %job.run_id,
                        "Wildberries answered 402 Payment Required: our service balance is \
                         empty. Syncing is paused for every tenant until an operator tops it \
                         up and runs `stock-tracker-api wb-billing resume`"
                    );
                }
                if e == WbError::Unauthorized {
                    let mut tx = tenancy::begin(&self.db, scope).await?;
                    credentials::mark_invalid(&mut tx, stored.id, e.code(), e.human()).await?;
                    tx.commit().await?;
                }
                tracing::warn!(tenant_id = %job.tenant_id, run_id = %job.run_id, error = %e, "WB request failed");
                return self.fail(job, counts, Failure::wb(&e)).await;
            }
        };

        let fetch_ms = fetch_started.elapsed().as_millis();
        let write_started = std::time::Instant::now();
        let mut tx = tenancy::begin(&self.db, scope).await?;
        let truncated_before = sync_state
            .cards
            .as_ref()
            .is_some_and(|c| c.products_truncated);
        let applied = store::apply(
            &mut tx,
            job.run_id,
            &snapshot,
            max_products,
            truncated_before,
            chrono::Utc::now(),
        )
        .await?;
        // The list endpoints' totals follow the rows they sum; a sync that changed neither
        // cards nor stock leaves them as they are (and costs nothing here).
        if applied.stock_changes > 0 || applied.cards_listed > 0 {
            crate::stock::totals::refresh(&mut tx).await?;
        }
        let mut notes = Vec::new();
        if applied.truncated {
            notes.push(format!(
                "The catalog has more products than the {} plan tracks ({product_limit}); the rest were skipped.",
                subscription.plan
            ));
        }
        if let Some(at) = plan.stock_reused_from {
            notes.push(format!(
                "Stock is WB's report as read at {} UTC: WB refreshes it every 30 minutes, so it was not asked for again.",
                at.format("%H:%M")
            ));
        }
        let note = (!notes.is_empty()).then(|| notes.join(" "));
        // The source of the WB-warehouse stock shown: read now, or kept from an earlier run.
        let source = snapshot.source(WarehouseKind::Wb).or_else(|| {
            sync_state
                .stock
                .iter()
                .find(|f| f.kind == WarehouseKind::Wb)
                .map(|f| f.source)
        });
        runs::note_product_limit(&mut tx, job.run_id, product_limit, applied.truncated).await?;
        runs::succeed(
            &mut tx,
            job.run_id,
            &applied,
            &counts,
            runs::Economy {
                stock_source: source.map(|s| s.as_str()),
                cards_listing: snapshot.listing.as_str(),
                stock_reused_from: plan.stock_reused_from,
            },
            note.as_deref(),
        )
        .await?;
        credentials::mark_verified(&mut tx, stored.id).await?;
        tx.commit().await?;
        let write_ms = write_started.elapsed().as_millis();
        self.cache.invalidate(job.tenant_id).await;
        // Committed, and no connection held: only now may the statistics be brought up to
        // date (inside the transaction ANALYZE would not see the new rows; holding it would
        // keep the sync's locks and connection for the analyse's duration).
        if planner::worth_analysing(&applied) {
            self.analyze(&job, planner::rows_written(&applied)).await;
        }
        tracing::info!(
            tenant_id = %job.tenant_id, run_id = %job.run_id,
            stock_rows = applied.stock_rows, changes = applied.stock_changes,
            cards_listing = snapshot.listing.as_str(), cards_listed = applied.cards_listed,
            stock_reused = plan.stock_reused_from.is_some(),
            wb_requests = counts.requests, fetch_ms, write_ms, "sync succeeded"
        );
        Ok(Outcome::Succeeded {
            stock_rows: applied.stock_rows,
            wb_requests: counts.requests,
        })
    }

    /// Brings the planner's statistics up to date after a large sync. A failure is logged
    /// and never fails the run: the seller's data is stored and readable either way.
    async fn analyze(&self, job: &SyncJob, rows: u64) {
        let started = std::time::Instant::now();
        match planner::analyze_synced_tables(&self.db).await {
            Ok(analysed) => tracing::info!(
                tenant_id = %job.tenant_id, run_id = %job.run_id, rows, analysed,
                analyze_ms = started.elapsed().as_millis(),
                "synced tables analysed after a large sync (analysed = false: another session was at it)"
            ),
            Err(e) => tracing::warn!(
                tenant_id = %job.tenant_id, run_id = %job.run_id, rows, error = %e,
                "could not analyse the synced tables after a large sync; the run stands"
            ),
        }
    }

    async fn fail(&self, job: SyncJob, counts: WbCounts, f: Failure) -> anyhow::Result<Outcome> {
        let mut tx = tenancy::begin(&self.db, Scope::tenant(job.tenant_id)).await?;
        runs::fail(&mut tx, job.run_id, &f, &counts).await?;
        tx.commit().await?;
        tracing::warn!(tenant_id = %job.tenant_id, run_id = %job.run_id, code = f.code(), "sync failed");
        Ok(Outcome::Failed {
            code: f.code().to_string(),
            wb_requests: counts.requests,
        })
    }
}
