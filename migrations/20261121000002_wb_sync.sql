-- Wildberries sync: credentials, catalog, warehouses, stock, history and sync runs.
-- Every table is tenant-owned, with forced RLS and fail-closed policies like the rest.

-- One WB token per tenant, sealed with AES-256-GCM (see shared/src/vault). The decoded,
-- non-secret facts are kept beside it so they can be shown without decrypting.
create table wb_credentials (
    id               uuid primary key,
    tenant_id        uuid not null unique references tenants (id) on delete cascade,
    key_id           text not null,
    nonce            bytea not null,
    ciphertext       bytea not null,
    token_mask       text not null,
    seller_id        text not null,
    token_type       text not null,
    categories       text[] not null,
    read_only        boolean not null,
    test_token       boolean not null,
    expires_at       timestamptz not null,
    status           text not null default 'active' check (status in ('active', 'invalid')),
    last_verified_at timestamptz,
    last_error_code  text,
    last_error       text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);

create table products (
    tenant_id     uuid not null references tenants (id) on delete cascade,
    nm_id         bigint not null,
    imt_id        bigint,
    vendor_code   text not null,
    brand         text not null,
    title         text not null,
    subject_name  text not null,
    wb_updated_at text,
    updated_at    timestamptz not null default now(),
    primary key (tenant_id, nm_id)
);
-- Search by vendor code, title and brand (case-insensitive substring).
create index products_search_idx on products
    using btree (tenant_id, lower(vendor_code));

create table sizes (
    tenant_id  uuid not null references tenants (id) on delete cascade,
    chrt_id    bigint not null,
    nm_id      bigint not null,
    tech_size  text not null,
    wb_size    text not null,
    barcodes   text[] not null default '{}',
    primary key (tenant_id, chrt_id)
);
create index sizes_nm_idx on sizes (tenant_id, nm_id);
create index sizes_barcodes_idx on sizes using gin (barcodes);

-- `kind` separates WB's own warehouses from the seller's (FBS/DBS): their ids are
-- different namespaces. WB reports its Russian warehouses as one aggregate, id -999999.
create table warehouses (
    tenant_id     uuid not null references tenants (id) on delete cascade,
    kind          text not null check (kind in ('wb', 'seller')),
    warehouse_id  bigint not null,
    name          text not null,
    region        text,
    is_aggregate  boolean not null default false,
    updated_at    timestamptz not null default now(),
    primary key (tenant_id, kind, warehouse_id)
);

-- Current stock: one row per size per warehouse.
--
-- sizes, stocks and stock_history carry no foreign keys to their parents on purpose: a
-- sync writes parents and children together in one transaction and removes vanished rows
-- itself (shared/src/sync/store.rs), while a foreign key would add a trigger query per row
-- to every bulk write of a 100,000-row seller.
create table stocks (
    tenant_id          uuid not null,
    kind               text not null,
    warehouse_id       bigint not null,
    chrt_id            bigint not null,
    nm_id              bigint not null,
    quantity           bigint not null,
    in_way_to_client   bigint not null default 0,
    in_way_from_client bigint not null default 0,
    updated_at         timestamptz not null default now(),
    primary key (tenant_id, kind, warehouse_id, chrt_id)
);
-- The two orders GET /stocks pages in (by product, by quantity) are index scans.
create index stocks_product_order_idx on stocks (tenant_id, nm_id, chrt_id, kind, warehouse_id);
create index stocks_quantity_order_idx on stocks (tenant_id, quantity, nm_id, chrt_id, kind, warehouse_id);

-- A row whenever a quantity changes (including appearing, and dropping to 0 on removal).
create table stock_history (
    tenant_id    uuid not null,
    kind         text not null,
    warehouse_id bigint not null,
    chrt_id      bigint not null,
    nm_id        bigint not null,
    quantity     bigint not null,
    previous     bigint,
    recorded_at  timestamptz not null,
    sync_run_id  uuid not null
);
-- An append-only log read per product and time range; a narrow index keeps the bulk
-- inserts of a large first sync cheap.
create index stock_history_product_idx on stock_history (tenant_id, nm_id, recorded_at);

create table sync_runs (
    id               uuid primary key,
    tenant_id        uuid not null references tenants (id) on delete cascade,
    trigger          text not null check (trigger in ('manual', 'schedule')),
    status           text not null check (status in ('queued', 'running', 'succeeded', 'failed')),
    attempts         integer not null default 0,
    queued_at        timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    duration_ms      bigint,
    products         integer,
    sizes            integer,
    warehouses       integer,
    stock_rows       integer,
    stock_changes    integer,
    history_rows     integer,
    wb_requests      integer not null default 0,
    wb_rate_limited  integer not null default 0,
    stock_source     text,
    error_code       text,
    error_message    text,
    worker           text
);
create index sync_runs_tenant_idx on sync_runs (tenant_id, queued_at desc, id desc);
-- At most one queued or running sync per tenant: what makes POST /sync answer 409.
create unique index sync_runs_one_active on sync_runs (tenant_id) where status in ('queued', 'running');

do $$
declare t text;
begin
    foreach t in array array['wb_credentials', 'products', 'sizes', 'warehouses', 'stocks',
                             'stock_history', 'sync_runs'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I using (tenant_id = app_current_tenant()) with check (tenant_id = app_current_tenant())',
            t || '_isolation', t);
    end loop;
end $$;
