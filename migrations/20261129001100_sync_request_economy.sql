-- Request economy (issue 12): a sync asks WB only for what can have changed.
--
-- sync_cards_state: where the incremental card listing continues (WB's cursor of the last
-- complete listing, kept exactly as WB wrote it), when the last full listing finished (a
-- full listing once a day catches deleted cards), the plan's product limit it applied (another
-- limit lists everything again) and whether the catalog reached it (the stock of untracked
-- products is then left out).
create table sync_cards_state (
    tenant_id           uuid primary key references tenants (id) on delete cascade,
    cursor_updated_at   text not null,
    cursor_nm_id        bigint not null,
    full_listing_at     timestamptz not null,
    product_limit       bigint,
    products_truncated  boolean not null default false,
    updated_at          timestamptz not null default now()
);

-- When each kind of stock (`wb`, `seller`) was last read from WB, from which source, by which
-- run. WB refreshes its stock reports every 30 minutes: a sync inside that window keeps the
-- stored stock instead of asking again.
create table sync_stock_fetches (
    tenant_id   uuid not null references tenants (id) on delete cascade,
    kind        text not null check (kind in ('wb', 'seller')),
    source      text not null,
    fetched_at  timestamptz not null,
    run_id      uuid not null,
    primary key (tenant_id, kind)
);

do $$
declare t text;
begin
    foreach t in array array['sync_cards_state', 'sync_stock_fetches'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I using (tenant_id = app_current_tenant()) with check (tenant_id = app_current_tenant())',
            t || '_isolation', t);
    end loop;
end $$;

-- What each run cost at WB, by method ({"cards_list": 2, ...}); whether it listed every card
-- or only the changed ones; and, when it kept stored stock, when that stock was read.
alter table sync_runs
    add column wb_requests_by_method jsonb not null default '{}',
    add column cards_listing text check (cards_listing in ('full', 'incremental')),
    add column stock_reused_from timestamptz;

-- WB requests per tenant, UTC day and method, for pricing plans (docs/OPERATIONS.md).
-- Security invoker: the owner sees every tenant, a tenant's scope only its own runs.
create view wb_requests_daily with (security_invoker = true) as
select r.tenant_id,
       (r.queued_at at time zone 'UTC')::date as day,
       m.key as method,
       sum(m.value::bigint) as requests,
       count(*) as runs
  from sync_runs r
 cross join lateral jsonb_each_text(r.wb_requests_by_method) m
 group by r.tenant_id, (r.queued_at at time zone 'UTC')::date, m.key;
