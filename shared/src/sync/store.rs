//! Writes a snapshot in one transaction: readers see the previous sync or this one, never
//! half of it. Every write compares before it changes, so applying the same snapshot twice
//! changes nothing and records no history.
//!
//! Stock goes through `COPY` into a temporary table and set-based statements, because a
//! large seller has hundreds of thousands of rows and row-by-row upserts would dominate
//! the sync's time.

use super::snapshot::{Snapshot, StockRow};
use crate::ids::SyncRunId;
use crate::tenancy::Tx;
use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub products: usize,
    pub sizes: usize,
    pub warehouses: usize,
    pub stock_rows: usize,
    /// Stock rows inserted, changed or removed.
    pub stock_changes: u64,
    pub history_rows: u64,
}

pub async fn apply(
    tx: &mut Tx,
    run_id: SyncRunId,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> sqlx::Result<Applied> {
    write_products(tx, snapshot, now).await?;
    write_sizes(tx, snapshot).await?;
    write_warehouses(tx, snapshot, now).await?;
    let (stock_changes, history_rows) = write_stocks(tx, run_id, &snapshot.stocks, now).await?;
    remove_vanished_warehouses(tx, snapshot).await?;
    Ok(Applied {
        products: snapshot.products.len(),
        sizes: snapshot.sizes.len(),
        warehouses: snapshot.warehouses.len(),
        stock_rows: snapshot.stocks.len(),
        stock_changes,
        history_rows,
    })
}

async fn write_products(tx: &mut Tx, s: &Snapshot, now: DateTime<Utc>) -> sqlx::Result<()> {
    let p = &s.products;
    let nm_ids: Vec<i64> = p.iter().map(|r| r.nm_id).collect();
    sqlx::query!(
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
    .await?;
    // Cards gone from WB go too (their sizes by cascade); their stock rows, if WB still
    // reports any, stay until WB stops reporting them.
    sqlx::query!("delete from products where not (nm_id = any($1))", &nm_ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Barcode lists travel as one string per size, split in SQL, because PostgreSQL arrays
/// must be rectangular and sizes have different numbers of barcodes.
const BARCODE_SEPARATOR: char = '\u{1f}';

async fn write_sizes(tx: &mut Tx, s: &Snapshot) -> sqlx::Result<()> {
    let z = &s.sizes;
    let barcodes: Vec<String> = z
        .iter()
        .map(|r| r.barcodes.join(&BARCODE_SEPARATOR.to_string()))
        .collect();
    let chrt_ids: Vec<i64> = z.iter().map(|r| r.chrt_id).collect();
    sqlx::query!(
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
    .await?;
    sqlx::query!("delete from sizes where not (chrt_id = any($1))", &chrt_ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn write_warehouses(tx: &mut Tx, s: &Snapshot, now: DateTime<Utc>) -> sqlx::Result<()> {
    let w = &s.warehouses;
    sqlx::query!(
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
    .await?;
    Ok(())
}

async fn remove_vanished_warehouses(tx: &mut Tx, s: &Snapshot) -> sqlx::Result<()> {
    let w = &s.warehouses;
    sqlx::query!(
        "delete from warehouses w
          where not exists (select 1 from unnest($1::text[], $2::bigint[]) as u(kind, id)
                             where u.kind = w.kind and u.id = w.warehouse_id)",
        &w.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>() as &[&str],
        &w.iter().map(|r| r.warehouse_id).collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Returns (stock rows inserted/changed/removed, history rows written).
///
/// These statements stay unchecked (`sqlx::query`, literal text, bound values): they read
/// the transaction's temporary tables, which do not exist in the database the macros check
/// against.
async fn write_stocks(
    tx: &mut Tx,
    run_id: SyncRunId,
    rows: &[StockRow],
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
    let dropped_to_zero = sqlx::query(
        "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                    previous, recorded_at, sync_run_id)
         select s.tenant_id, s.kind, s.warehouse_id, s.chrt_id, s.nm_id, 0, s.quantity, $1, $2
           from stocks s
          where s.quantity <> 0
            and not exists (select 1 from incoming_stocks i
                             where i.kind = s.kind and i.warehouse_id = s.warehouse_id
                               and i.chrt_id = s.chrt_id)",
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
        "delete from stocks s
          where not exists (select 1 from incoming_stocks i
                             where i.kind = s.kind and i.warehouse_id = s.warehouse_id
                               and i.chrt_id = s.chrt_id)",
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
