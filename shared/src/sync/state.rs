//! What a tenant's earlier syncs leave for the next one, so that it asks WB only for what
//! can have changed: the card cursor of the last complete listing and when each kind of
//! stock was last read. [`plan`] turns that into the requests a sync makes.

use super::snapshot::{CardsListing, CardsResume, SizeRow, Snapshot, StockSource, WarehouseKind};
use crate::ids::SyncRunId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How eagerly a sync asks WB again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Stock read from a WB report less than this long ago is kept instead of asked for
    /// again. WB refreshes its stock reports every 30 minutes, so asking sooner returns the
    /// same rows and costs a request. Zero asks every time.
    pub stock_reuse: Duration,
    /// A full card listing (which catches deleted cards) at least this often; in between,
    /// only changed cards are listed.
    pub full_listing_every: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            stock_reuse: Duration::from_secs(30 * 60),
            full_listing_every: Duration::from_secs(24 * 3600),
        }
    }
}

/// The card listing's saved position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardsState {
    pub resume: CardsResume,
    pub full_listing_at: DateTime<Utc>,
    /// The plan's product limit the last full listing applied.
    pub product_limit: Option<i64>,
    /// The catalog reached that limit.
    pub products_truncated: bool,
}

/// When a kind of stock was last read, and from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockFetch {
    pub kind: WarehouseKind,
    pub source: StockSource,
    pub fetched_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    pub cards: Option<CardsState>,
    pub stock: Vec<StockFetch>,
}

pub async fn load(tx: &mut Tx) -> sqlx::Result<SyncState> {
    let cards = sqlx::query!(
        "select cursor_updated_at, cursor_nm_id, full_listing_at, product_limit,
                products_truncated
           from sync_cards_state"
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| CardsState {
        resume: CardsResume {
            updated_at: r.cursor_updated_at,
            nm_id: r.cursor_nm_id,
        },
        full_listing_at: r.full_listing_at,
        product_limit: r.product_limit,
        products_truncated: r.products_truncated,
    });
    let stock = sqlx::query!(
        r#"select kind as "kind: WarehouseKind", source, fetched_at from sync_stock_fetches"#
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(StockFetch {
            kind: r.kind,
            source: StockSource::parse(&r.source)?,
            fetched_at: r.fetched_at,
        })
    })
    .collect();
    Ok(SyncState { cards, stock })
}

/// Every stored size: what answers keyed by barcode or size (`warehouse_remains`, the
/// per-warehouse stock calls) are mapped with when a sync lists only changed cards.
pub async fn stored_sizes(tx: &mut Tx) -> sqlx::Result<Vec<SizeRow>> {
    sqlx::query_as!(
        SizeRow,
        "select chrt_id, nm_id, tech_size, wb_size, barcodes from sizes"
    )
    .fetch_all(&mut **tx)
    .await
}

/// What one sync asks WB for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// `None`: list every card; otherwise only cards changed after this cursor.
    pub cards_since: Option<CardsResume>,
    /// Kinds of stock to read; the others keep their stored stock.
    pub stock: Vec<WarehouseKind>,
    /// The oldest read among the kinds kept, if any is kept.
    pub stock_reused_from: Option<DateTime<Utc>>,
}

impl Plan {
    pub fn listing(&self) -> CardsListing {
        if self.cards_since.is_some() {
            CardsListing::Incremental
        } else {
            CardsListing::Full
        }
    }
}

/// `product_limit` is the plan's limit now: when it differs from the one the last full
/// listing applied, the catalog is listed in full again.
pub fn plan(
    state: &SyncState,
    policy: &Policy,
    product_limit: Option<i64>,
    now: DateTime<Utc>,
) -> Plan {
    let within =
        |at: DateTime<Utc>, window: Duration| (now - at).to_std().is_ok_and(|age| age < window);
    let cards_since = state
        .cards
        .as_ref()
        .filter(|c| {
            within(c.full_listing_at, policy.full_listing_every) && c.product_limit == product_limit
        })
        .map(|c| c.resume.clone());
    let mut stock = Vec::new();
    let mut reused_from: Option<DateTime<Utc>> = None;
    for kind in [WarehouseKind::Wb, WarehouseKind::Seller] {
        let kept = state.stock.iter().find(|f| {
            f.kind == kind && f.source.is_report() && within(f.fetched_at, policy.stock_reuse)
        });
        match kept {
            Some(f) => {
                reused_from = Some(reused_from.map_or(f.fetched_at, |r| r.min(f.fetched_at)));
            }
            None => stock.push(kind),
        }
    }
    Plan {
        cards_since,
        stock,
        stock_reused_from: reused_from,
    }
}

/// Records what this sync read, in the transaction that writes it: the card cursor (and,
/// after a full listing, its time), and the time of each kind of stock read.
pub async fn save(
    tx: &mut Tx,
    run_id: SyncRunId,
    snapshot: &Snapshot,
    product_limit: Option<i64>,
    products_truncated: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if let Some(resume) = &snapshot.resume {
        let full = snapshot.listing == CardsListing::Full;
        sqlx::query!(
            "insert into sync_cards_state (tenant_id, cursor_updated_at, cursor_nm_id,
                                           full_listing_at, product_limit, products_truncated,
                                           updated_at)
             values (app_current_tenant(), $1, $2, $3, $6, $4, $3)
             on conflict (tenant_id) do update set
                 cursor_updated_at = excluded.cursor_updated_at,
                 cursor_nm_id = excluded.cursor_nm_id,
                 full_listing_at = case when $5 then excluded.full_listing_at
                                        else sync_cards_state.full_listing_at end,
                 product_limit = excluded.product_limit,
                 products_truncated = excluded.products_truncated,
                 updated_at = excluded.updated_at",
            resume.updated_at,
            resume.nm_id,
            now,
            products_truncated,
            full,
            product_limit,
        )
        .execute(&mut **tx)
        .await?;
    }
    for (kind, source) in &snapshot.fresh {
        sqlx::query!(
            "insert into sync_stock_fetches (tenant_id, kind, source, fetched_at, run_id)
             values (app_current_tenant(), $1, $2, $3, $4)
             on conflict (tenant_id, kind) do update set
                 source = excluded.source, fetched_at = excluded.fetched_at,
                 run_id = excluded.run_id",
            kind.as_str(),
            source.as_str(),
            now,
            run_id as SyncRunId,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes_ago: i64) -> DateTime<Utc> {
        Utc::now() - chrono::Duration::minutes(minutes_ago)
    }

    fn state(full_minutes_ago: i64, stock: &[(WarehouseKind, StockSource, i64)]) -> SyncState {
        SyncState {
            cards: Some(CardsState {
                resume: CardsResume {
                    updated_at: "2026-07-01T00:00:00Z".into(),
                    nm_id: 7,
                },
                full_listing_at: at(full_minutes_ago),
                product_limit: Some(1000),
                products_truncated: false,
            }),
            stock: stock
                .iter()
                .map(|(kind, source, ago)| StockFetch {
                    kind: *kind,
                    source: *source,
                    fetched_at: at(*ago),
                })
                .collect(),
        }
    }

    #[test]
    fn first_sync_lists_everything_and_reads_all_stock() {
        let p = plan(
            &SyncState::default(),
            &Policy::default(),
            Some(1000),
            Utc::now(),
        );
        assert_eq!(p.listing(), CardsListing::Full);
        assert_eq!(p.stock, [WarehouseKind::Wb, WarehouseKind::Seller]);
        assert_eq!(p.stock_reused_from, None);
    }

    #[test]
    fn changes_only_within_a_day_and_a_full_listing_after() {
        let policy = Policy::default();
        let p = plan(&state(60, &[]), &policy, Some(1000), Utc::now());
        assert_eq!(p.listing(), CardsListing::Incremental);
        assert_eq!(p.cards_since.unwrap().nm_id, 7);
        let p = plan(&state(25 * 60, &[]), &policy, Some(1000), Utc::now());
        assert_eq!(p.listing(), CardsListing::Full);
        let p = plan(&state(60, &[]), &policy, Some(100), Utc::now());
        assert_eq!(p.listing(), CardsListing::Full, "another plan limit");
    }

    #[test]
    fn reports_are_reused_inside_their_window_live_stock_never() {
        use StockSource::*;
        use WarehouseKind::*;
        let policy = Policy::default();
        let s = state(
            60,
            &[(Wb, StocksReport, 10), (Seller, SellerWarehousesReport, 40)],
        );
        let p = plan(&s, &policy, Some(1000), Utc::now());
        assert_eq!(p.stock, [Seller]);
        assert!(p.stock_reused_from.is_some());
        let s = state(
            60,
            &[(Wb, WarehouseRemains, 5), (Seller, MarketplaceStocks, 5)],
        );
        assert_eq!(plan(&s, &policy, Some(1000), Utc::now()).stock, [Seller]);
        let off = Policy {
            stock_reuse: Duration::ZERO,
            ..policy
        };
        assert_eq!(plan(&s, &off, Some(1000), Utc::now()).stock, [Wb, Seller]);
    }
}
