-- Totals the short list endpoints read (issue 13: no read may depend on the tenant's size).
--
-- GET /warehouses (stock per warehouse) and GET /sizes (the catalog's sizes with their stock)
-- aggregated every stock row of the tenant on each uncached read: ~0.3-0.9 s at 100,000 rows,
-- and worse without statistics. A sync that changed cards or stock recomputes these totals
-- in its own transaction (shared/src/stock/totals.rs), so they change exactly when the rows
-- they sum do, and a read is an index walk over a few dozen rows.
alter table warehouses
    add column stock_rows bigint not null default 0,
    add column quantity   bigint not null default 0;

create table size_totals (
    tenant_id  uuid not null references tenants (id) on delete cascade,
    tech_size  text not null,
    -- Products that come in this size, size variants (chrtIDs) with it, their stock.
    products   bigint not null,
    variants   bigint not null,
    quantity   bigint not null,
    primary key (tenant_id, tech_size)
);
alter table size_totals enable row level security;
alter table size_totals force row level security;
create policy size_totals_isolation on size_totals
    using (tenant_id = app_current_tenant()) with check (tenant_id = app_current_tenant());

-- The totals of data synced before this migration (the migration runs as the owner, which
-- reads every tenant).
update warehouses w
   set stock_rows = t.stock_rows, quantity = t.quantity
  from (select tenant_id, kind, warehouse_id, count(*) as stock_rows,
               coalesce(sum(quantity), 0)::bigint as quantity
          from stocks group by tenant_id, kind, warehouse_id) t
 where w.tenant_id = t.tenant_id and w.kind = t.kind and w.warehouse_id = t.warehouse_id;

insert into size_totals (tenant_id, tech_size, products, variants, quantity)
select z.tenant_id, z.tech_size, count(distinct z.nm_id), count(*),
       coalesce(sum(q.quantity), 0)::bigint
  from sizes z
  left join (select tenant_id, chrt_id, sum(quantity) as quantity
               from stocks group by tenant_id, chrt_id) q using (tenant_id, chrt_id)
 group by z.tenant_id, z.tech_size;
