//! Per-warehouse and per-size totals of a tenant's stock, kept by the sync so that the list
//! endpoints that show them read a few dozen rows instead of aggregating the whole tenant
//! (migration `…000700_list_totals`).

use crate::tenancy::Tx;

/// Recomputes the tenant's totals from its current stock, sizes and warehouses. Runs in the
/// sync's transaction, after its writes, so the totals commit with the rows they sum.
///
/// The statement is written so that its plan cannot go wrong on a tenant without
/// statistics (its first sync): each aggregate is one pass over one table, and the size of
/// each stocked variant is a scalar subquery, which PostgreSQL never turns into a join, so
/// it stays one primary-key lookup per variant.
pub async fn refresh(tx: &mut Tx) -> sqlx::Result<()> {
    sqlx::query!(
        r#"with per_warehouse as (
                select kind, warehouse_id, count(*) as stock_rows,
                       coalesce(sum(quantity), 0)::bigint as quantity
                  from stocks where tenant_id = app_current_tenant()
                 group by kind, warehouse_id),
            warehouse_totals as (
                update warehouses w
                   set stock_rows = coalesce(t.stock_rows, 0), quantity = coalesce(t.quantity, 0)
                  from warehouses w0
                  left join per_warehouse t using (kind, warehouse_id)
                 where w0.tenant_id = app_current_tenant()
                   and (w.tenant_id, w.kind, w.warehouse_id) = (w0.tenant_id, w0.kind, w0.warehouse_id)
                   and (w.stock_rows, w.quantity)
                       is distinct from (coalesce(t.stock_rows, 0), coalesce(t.quantity, 0))
                returning 1),
            stocked as (
                select (select z.tech_size from sizes z
                         where z.tenant_id = app_current_tenant() and z.chrt_id = s.chrt_id)
                           as tech_size,
                       sum(s.quantity)::bigint as quantity
                  from stocks s where s.tenant_id = app_current_tenant()
                 group by s.chrt_id),
            stocked_sizes as (
                select tech_size, sum(quantity)::bigint as quantity
                  from stocked where tech_size is not null group by tech_size),
            catalog_sizes as (
                select tech_size, count(distinct nm_id) as products, count(*) as variants
                  from sizes where tenant_id = app_current_tenant() group by tech_size),
            upserted as (
                insert into size_totals (tenant_id, tech_size, products, variants, quantity)
                select app_current_tenant(), c.tech_size, c.products, c.variants,
                       coalesce(q.quantity, 0)
                  from catalog_sizes c left join stocked_sizes q using (tech_size)
                on conflict (tenant_id, tech_size) do update
                   set products = excluded.products, variants = excluded.variants,
                       quantity = excluded.quantity
                returning tech_size),
            removed as (
                delete from size_totals t
                 where t.tenant_id = app_current_tenant()
                   and not exists (select 1 from catalog_sizes c where c.tech_size = t.tech_size)
                returning 1)
           select (select count(*) from warehouse_totals) as "warehouses!",
                  (select count(*) from upserted) as "sizes!",
                  (select count(*) from removed) as "removed!""#
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}
