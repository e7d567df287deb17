//! Writes a snapshot in one transaction: readers see the previous sync or this one, never
//! half of it. Every write compares before it changes, so applying the same snapshot twice
//! changes nothing and records no history.
//!
//! A full card listing replaces the catalog (cards gone from WB go); an incremental one
//! merges the changed cards into it and removes nothing. Stock is replaced per kind, and only
//! for the kinds the sync read; the others keep what an earlier sync stored.
//!
//! Stock goes through `COPY` into a temporary table and set-based statements, because a
//! large seller has hundreds of thousands of rows and row-by-row upserts would dominate
//! the sync's time.

use super::snapshot::{CardsListing, ProductRow, SizeRow, Snapshot, StockRow};
use super::state;
use crate::ids::SyncRunId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// What the tenant has after a sync (products, sizes, warehouses, stock rows: totals, not
/// just what this sync touched) and what the sync changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub products: usize,
    pub sizes: usize,
    pub warehouses: usize,
    pub stock_rows: usize,
    /// Products, sizes and warehouses inserted, changed or removed.
    pub catalog_changes: u64,
    /// Stock rows inserted, changed or removed.
    pub stock_changes: u64,
    pub history_rows: u64,
    /// Cards the sync listed (all of them, or the changed ones).
    pub cards_listed: usize,
    /// The catalog has more products than the plan tracks; the rest are not synced.
    pub truncated: bool,
}

/// `max_products` is the plan's limit, `truncated_before` whether the last full listing
/// reached it (an incremental listing adds new cards only while there is room).
pub async fn apply(
    tx: &mut Tx,
    run_id: SyncRunId,
    snapshot: &Snapshot,
    max_products: Option<usize>,
    truncated_before: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<Applied> {
    let full = snapshot.listing == CardsListing::Full;
    let mut catalog_changes = 0;
    let truncated = if full {
        catalog_changes += write_products(tx, &snapshot.products, true, now).await?;
        catalog_changes += write_sizes(tx, &snapshot.sizes, None).await?;
        snapshot.truncated
    } else {
        let (products, sizes, skipped) = within_limit(tx, snapshot, max_products).await?;
        catalog_changes += write_products(tx, &products, false, now).await?;
        let nm_ids: Vec<i64> = products.iter().map(|p| p.nm_id).collect();
        catalog_changes += write_sizes(tx, &sizes, Some(&nm_ids)).await?;
        truncated_before || skipped
    };
    let (mut stock_changes, mut history_rows) = (0, 0);
    if !snapshot.fresh.is_empty() {
        let kinds: Vec<&str> = snapshot.fresh.iter().map(|(k, _)| k.as_str()).collect();
        catalog_changes += write_warehouses(tx, snapshot, now).await?;
        (stock_changes, history_rows) =
            write_stocks(tx, run_id, &snapshot.stocks, &kinds, truncated, now).await?;
        catalog_changes += remove_vanished_warehouses(tx, snapshot, &kinds).await?;
    }
    let limit = max_products.and_then(|m| i64::try_from(m).ok());
    state::save(tx, run_id, snapshot, limit, truncated, now).await?;
    let totals = sqlx::query!(
        r#"select (select count(*) from products) as "products!",
                  (select count(*) from sizes) as "sizes!",
                  (select count(*) from warehouses) as "warehouses!",
                  (select count(*) from stocks) as "stocks!""#
    )
    .fetch_one(&mut **tx)
    .await?;
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    Ok(Applied {
        products: n(totals.products),
        sizes: n(totals.sizes),
        warehouses: n(totals.warehouses),
        stock_rows: n(totals.stocks),
        catalog_changes,
        stock_changes,
        history_rows,
        cards_listed: snapshot.products.len(),
        truncated,
    })
}

/// The changed cards an incremental listing may write: every card already tracked, and new
/// ones while the plan has room (in listing order). Returns them, their sizes, and whether
/// any new card was left out.
async fn within_limit(
    tx: &mut Tx,
    s: &Snapshot,
    max_products: Option<usize>,
) -> sqlx::Result<(Vec<ProductRow>, Vec<SizeRow>, bool)> {
    let Some(max) = max_products else {
        return Ok((s.products.clone(), s.sizes.clone(), false));
    };
    let nm_ids: Vec<i64> = s.products.iter().map(|p| p.nm_id).collect();
    let known: HashSet<i64> =
        sqlx::query_scalar!("select nm_id from products where nm_id = any($1)", &nm_ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    let stored = sqlx::query_scalar!(r#"select count(*) as "n!" from products"#)
        .fetch_one(&mut **tx)
        .await?;
    let mut room = max.saturating_sub(usize::try_from(stored).unwrap_or(usize::MAX));
    let mut skipped = false;
    let products: Vec<ProductRow> = s
        .products
        .iter()
        .filter(|p| {
            if known.contains(&p.nm_id) {
                return true;
            }
            if room > 0 {
                room -= 1;
                return true;
            }
            skipped = true;
            false
        })
        .cloned()
        .collect();
    let kept: HashSet<i64> = products.iter().map(|p| p.nm_id).collect();
    let sizes = s
        .sizes
        .iter()
        .filter(|z| kept.contains(&z.nm_id))
        .cloned()
        .collect();
    Ok((products, sizes, skipped))
}

/// Upserts `p`; with `replace`, products not in `p` are removed (a full listing). Returns
/// the rows inserted, changed or removed.
async fn write_products(
    tx: &mut Tx,
    p: &[ProductRow],
    replace: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let nm_ids: Vec<i64> = p.iter().map(|r| r.nm_id).collect();
    let mut changed = sqlx::query!(
        "insert into products (tenant_id, nm_id, imt_id, vendor_code, brand, title, subject_name,
                               wb_updated_at, updated_at)
         select app_current_tenant(), u.nm_id, u.imt_id, u.vendor_code, u.brand, u.title,
                u.subject_name, u.wb_updated_at, $8
           from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                       $6::text[], $7::text[])
                as u(nm_id, imt_id, vendor_code, brand, title, subject_name, wb_updated_at)
         on conflict (tenant_id, nm_id) do update set
             imt_id = excluded.imt_id, vendor_code = excluded.vendor_code, brand = excluded.brand,
             title = excluded.title, subject_name = excluded.subject_name,
             wb_updated_at = excluded.wb_updated_at, updated_at = excluded.updated_at
         where (products.imt_id, products.vendor_code, products.brand, products.title,
                products.subject_name, products.wb_updated_at)
               is distinct from
               (excluded.imt_id, excluded.vendor_code, excluded.brand, excluded.title,
                excluded.subject_name, excluded.wb_updated_at)",
        &nm_ids,
        &p.iter().map(|r| r.imt_id).collect::<Vec<_>>() as &[Option<i64>],
        &p.iter().map(|r| r.vendor_code.as_str()).collect::<Vec<_>>() as &[&str],
        &p.iter().map(|r| r.brand.as_str()).collect::<Vec<_>>() as &[&str],
        &p.iter().map(|r| r.title.as_str()).collect::<Vec<_>>() as &[&str],
        &p.iter()
            .map(|r| r.subject_name.as_str())
            .collect::<Vec<_>>() as &[&str],
        &p.iter()
            .map(|r| r.wb_updated_at.as_deref())
            .collect::<Vec<_>>() as &[Option<&str>],
        now,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // Cards gone from WB go too (their sizes by cascade); their stock rows, if WB still
    // reports any, stay until WB stops reporting them. Only a full listing knows what is gone.
    if replace {
        changed += sqlx::query!("delete from products where not (nm_id = any($1))", &nm_ids)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(changed)
}

/// Barcode lists travel as one string per size, split in SQL, because PostgreSQL arrays
/// must be rectangular and sizes have different numbers of barcodes.
const BARCODE_SEPARATOR: char = '\u{1f}';

/// Upserts `z`. Sizes not in `z` are removed: all of them after a full listing
/// (`of_products` is `None`), else only those of the listed products (a card lost a size).
/// Returns the rows inserted, changed or removed.
async fn write_sizes(tx: &mut Tx, z: &[SizeRow], of_products: Option<&[i64]>) -> sqlx::Result<u64> {
    let barcodes: Vec<String> = z
        .iter()
        .map(|r| r.barcodes.join(&BARCODE_SEPARATOR.to_string()))
        .collect();
    let chrt_ids: Vec<i64> = z.iter().map(|r| r.chrt_id).collect();
    let upserted = sqlx::query!(
        "insert into sizes (tenant_id, chrt_id, nm_id, tech_size, wb_size, barcodes)
         select app_current_tenant(), u.chrt_id, u.nm_id, u.tech_size, u.wb_size,
                string_to_array(u.barcodes, chr(31))
           from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
                as u(chrt_id, nm_id, tech_size, wb_size, barcodes)
         on conflict (tenant_id, chrt_id) do update set
             nm_id = excluded.nm_id, tech_size = excluded.tech_size, wb_size = excluded.wb_size,
             barcodes = excluded.barcodes
         where (sizes.nm_id, sizes.tech_size, sizes.wb_size, sizes.barcodes)
               is distinct from
               (excluded.nm_id, excluded.tech_size, excluded.wb_size, excluded.barcodes)",
        &chrt_ids,
        &z.iter().map(|r| r.nm_id).collect::<Vec<_>>(),
        &z.iter().map(|r| r.tech_size.as_str()).collect::<Vec<_>>() as &[&str],
        &z.iter().map(|r| r.wb_size.as_str()).collect::<Vec<_>>() as &[&str],
        &barcodes,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let removed = match of_products {
        None => sqlx::query!("delete from sizes where not (chrt_id = any($1))", &chrt_ids)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        Some(nm_ids) => sqlx::query!(
            "delete from sizes where nm_id = any($1) and not (chrt_id = any($2))",
            nm_ids,
            &chrt_ids
        )
        .execute(&mut **tx)
        .await?
        .rows_affected(),
    };
    Ok(upserted + removed)
}

/// Upserts the snapshot's warehouses; returns the rows inserted or changed.
async fn write_warehouses(tx: &mut Tx, s: &Snapshot, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let w = &s.warehouses;
    let changed = sqlx::query!(
        "insert into warehouses (tenant_id, kind, warehouse_id, name, region, is_aggregate, updated_at)
         select app_current_tenant(), u.kind, u.id, u.name, u.region, u.id = -999999, $5
           from unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) as u(kind, id, name, region)
         on conflict (tenant_id, kind, warehouse_id) do update set
             name = excluded.name, region = excluded.region, updated_at = excluded.updated_at
         where (warehouses.name, warehouses.region) is distinct from (excluded.name, excluded.region)",
        &w.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>() as &[&str],
        &w.iter().map(|r| r.warehouse_id).collect::<Vec<_>>(),
        &w.iter().map(|r| r.name.as_str()).collect::<Vec<_>>() as &[&str],
        &w.iter().map(|r| r.region.as_deref()).collect::<Vec<_>>() as &[Option<&str>],
        now,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed)
}

/// Warehouses of the `kinds` read that no longer appear; returns how many were removed.
async fn remove_vanished_warehouses(
    tx: &mut Tx,
    s: &Snapshot,
    kinds: &[&str],
) -> sqlx::Result<u64> {
    let w = &s.warehouses;
    let removed = sqlx::query!(
        "delete from warehouses w
          where w.kind = any($3)
            and not exists (select 1 from unnest($1::text[], $2::bigint[]) as u(kind, id)
                             where u.kind = w.kind and u.id = w.warehouse_id)",
        &w.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>() as &[&str],
        &w.iter().map(|r| r.warehouse_id).collect::<Vec<_>>(),
        kinds as &[&str],
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(removed)
}

/// Replaces the stock of `kinds` with `rows`; with `tracked_only`, rows of products the
/// catalog does not hold (past the plan's limit) are left out. Returns (stock rows
/// inserted/changed/removed, history rows written).
///
/// These statements stay unchecked (`sqlx::query`, literal text, bound values): they read
/// the transaction's temporary tables, which do not exist in the database the macros check
/// against.
async fn write_stocks(
    tx: &mut Tx,
    run_id: SyncRunId,
    rows: &[StockRow],
    kinds: &[&str],
    tracked_only: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<(u64, u64)> {
    sqlx::query(
        "create temp table incoming_stocks (
             kind text not null, warehouse_id bigint not null, chrt_id bigint not null,
             nm_id bigint not null, quantity bigint not null, in_way_to_client bigint not null,
             in_way_from_client bigint not null
         ) on commit drop",
    )
    .execute(&mut **tx)
    .await?;
    let mut copy = tx.copy_in_raw("copy incoming_stocks from stdin").await?;
    copy.send(encode_copy(rows)).await?;
    copy.finish().await?;
    if tracked_only {
        sqlx::query(
            "delete from incoming_stocks i
              where not exists (select 1 from products p where p.nm_id = i.nm_id)",
        )
        .execute(&mut **tx)
        .await?;
    }
    // A tenant's first stock of these kinds (its first sync): every row is new, none can
    // conflict and none is gone, so the rows go straight in, without the diff against the
    // stored state and the upsert's conflict checks (most of a first sync's time).
    let stored: bool =
        sqlx::query_scalar("select exists (select 1 from stocks where kind = any($1))")
            .bind(kinds)
            .fetch_one(&mut **tx)
            .await?;
    if !stored {
        let history = sqlx::query(
            "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                        previous, recorded_at, sync_run_id)
             select app_current_tenant(), kind, warehouse_id, chrt_id, nm_id, quantity, null,
                    $1, $2
               from incoming_stocks",
        )
        .bind(now)
        .bind(run_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let inserted = sqlx::query(
            "insert into stocks (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                 in_way_to_client, in_way_from_client, updated_at)
             select app_current_tenant(), kind, warehouse_id, chrt_id, nm_id, quantity,
                    in_way_to_client, in_way_from_client, $1
               from incoming_stocks",
        )
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        return Ok((inserted, history));
    }
    // A temp table has no statistics; without them the planner guesses nested loops.
    sqlx::query("analyze incoming_stocks")
        .execute(&mut **tx)
        .await?;

    // What differs from the stored state, computed once: it feeds both the history and the
    // upsert, so an unchanged sync touches no stock row at all.
    sqlx::query(
        "create temp table changed_stocks on commit drop as
         select i.kind, i.warehouse_id, i.chrt_id, i.nm_id, i.quantity, i.in_way_to_client,
                i.in_way_from_client, s.quantity as previous
           from incoming_stocks i
           left join stocks s on s.kind = i.kind and s.warehouse_id = i.warehouse_id
                             and s.chrt_id = i.chrt_id
          where (s.nm_id, s.quantity, s.in_way_to_client, s.in_way_from_client)
                is distinct from
                (i.nm_id, i.quantity, i.in_way_to_client, i.in_way_from_client)",
    )
    .execute(&mut **tx)
    .await?;
    let changed_or_new = sqlx::query(
        "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                    previous, recorded_at, sync_run_id)
         select app_current_tenant(), c.kind, c.warehouse_id, c.chrt_id, c.nm_id, c.quantity,
                c.previous, $1, $2
           from changed_stocks c
          where c.previous is distinct from c.quantity",
    )
    .bind(now)
    .bind(run_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // The stored rows of the kinds read that WB no longer reports. EXCEPT hashes or sorts
    // whatever the estimates: an anti-join with the kind filter is planned as a nested loop
    // over the not yet analyzed `stocks` of a first sync, which takes minutes.
    sqlx::query(
        "create temp table gone_stocks on commit drop as
         select kind, warehouse_id, chrt_id from stocks where kind = any($1)
         except
         select kind, warehouse_id, chrt_id from incoming_stocks",
    )
    .bind(kinds)
    .execute(&mut **tx)
    .await?;
    sqlx::query("analyze gone_stocks")
        .execute(&mut **tx)
        .await?;
    let dropped_to_zero = sqlx::query(
        "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                    previous, recorded_at, sync_run_id)
         select s.tenant_id, s.kind, s.warehouse_id, s.chrt_id, s.nm_id, 0, s.quantity, $1, $2
           from gone_stocks g
           join stocks s on s.kind = g.kind and s.warehouse_id = g.warehouse_id
                        and s.chrt_id = g.chrt_id
          where s.quantity <> 0",
    )
    .bind(now)
    .bind(run_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let upserted = sqlx::query(
        "insert into stocks (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                             in_way_to_client, in_way_from_client, updated_at)
         select app_current_tenant(), c.kind, c.warehouse_id, c.chrt_id, c.nm_id, c.quantity,
                c.in_way_to_client, c.in_way_from_client, $1
           from changed_stocks c
         on conflict (tenant_id, kind, warehouse_id, chrt_id) do update set
             nm_id = excluded.nm_id, quantity = excluded.quantity,
             in_way_to_client = excluded.in_way_to_client,
             in_way_from_client = excluded.in_way_from_client, updated_at = excluded.updated_at",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let removed = sqlx::query(
        "delete from stocks s using gone_stocks g
          where s.kind = g.kind and s.warehouse_id = g.warehouse_id and s.chrt_id = g.chrt_id",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((upserted + removed, changed_or_new + dropped_to_zero))
}

/// Rows in COPY's text format. Every field is numeric or a fixed keyword, so no escaping
/// is needed.
fn encode_copy(rows: &[StockRow]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(rows.len() * 48);
    for r in rows {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.kind.as_str(),
            r.warehouse_id,
            r.chrt_id,
            r.nm_id,
            r.quantity,
            r.in_way_to_client,
            r.in_way_from_client
        );
    }
    out
}
