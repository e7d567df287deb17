-- Issue 13: stock_history is range-partitioned by recorded_at, so that retention drops whole
-- partitions instead of deleting rows (with autovacuum off, deleted rows are never vacuumed:
-- a row-wise purge of a year-old day leaves that day's pages behind as bloat, and costs a
-- write per row).
--
-- The scheme (follow it for every time-series table, e.g. the orders and sales tables the
-- analytics issue adds):
--
-- * One partition per calendar month in UTC, named <table>_pYYYY_MM, covering
--   [first of the month 00:00 UTC, first of the next month). A month, not a day: retention
--   is 365 days by default, so daily partitions would be ~370 of them, and every read that
--   cannot prune by time (a product's whole history) would plan, open and lock each one and
--   its indexes — ~740 locks per query, enough to exhaust the shared lock table
--   (max_locks_per_transaction 64 × max_connections) with a handful of concurrent readers.
--   Monthly partitions are ~14 for a year. The price: a month is dropped only once its last
--   day is past the cutoff (below).
-- * A DEFAULT partition (<table>_default), so an insert outside the prepared range (a clock
--   far off, the maintenance job down for months) never fails. When the month's partition is
--   created later, its rows are moved out of the default into it.
-- * Partitions are created ahead by a definer function the worker's hourly retention job
--   calls (create_stock_history_partitions: this month and the next two), and once here.
-- * Retention (purge_old_data) drops every partition whose whole month is older than the
--   cutoff. Rows of the month that straddles the cutoff are kept until that month ages out
--   entirely: history is kept for at least the retention and at most a month longer, and the
--   hourly job never deletes rows of a live partition. Rows past the cutoff in the default
--   partition are deleted row-wise (it holds only stray rows).
-- * Row-level security: ENABLE + FORCE + the tenant policy on the parent, and the same on
--   every partition. A policy on the parent does not apply to a partition read directly, so
--   the application roles get no privilege on partitions at all (`migrate` revokes what its
--   blanket grant gave, shared/src/tenancy/migrate.rs; partitions created later by the
--   owner start with none); the partitions' own policies are the second line.
--
-- Converting the existing table keeps every row: partitions are created for the months from
-- the oldest row's (at most 24 months back; older rows go to the default partition, where
-- retention deletes them once past the cutoff) to two months ahead, the rows are copied in,
-- the old table dropped and the new one renamed. It runs in the migration's transaction
-- with stock_history locked: syncs that write history wait for it (stop the workers first
-- on a large installation; it copies at roughly bulk-load speed).

-- The month's partition of stock_history, created empty (or filled with the rows of that
-- month the default partition holds), with the parent's indexes and its own RLS. Owner-only
-- (no grant): called by the migration and by create_stock_history_partitions. Returns false
-- when it already exists.
create function stock_history_add_partition(p_month date)
returns boolean
language plpgsql volatile security definer
set search_path = public, pg_temp
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
as $$
declare
    lo timestamptz := p_month::timestamp at time zone 'UTC';
    hi timestamptz := (p_month + interval '1 month')::timestamp at time zone 'UTC';
    part text := 'stock_history_p' || to_char(p_month, 'YYYY_MM');
begin
    if date_trunc('month', p_month) <> p_month then
        raise exception 'stock_history partitions start on the first of a month, not %', p_month;
    end if;
    if to_regclass(part) is not null then
        return false;
    end if;
    execute format('create table %I (like stock_history including defaults including constraints)', part);
    -- ATTACH refuses while the default partition holds rows of the range: move them first.
    execute format(
        'with moved as (delete from stock_history_default
                         where recorded_at >= $1 and recorded_at < $2 returning *)
         insert into %I select * from moved', part)
        using lo, hi;
    -- Creates the parent's indexes on it too.
    execute format('alter table stock_history attach partition %I for values from (%L) to (%L)',
                   part, lo, hi);
    execute format('alter table %I enable row level security', part);
    execute format('alter table %I force row level security', part);
    execute format(
        'create policy %I on %I using (tenant_id = app_current_tenant())
                                with check (tenant_id = app_current_tenant())',
        part || '_isolation', part);
    return true;
end
$$;
revoke all on function stock_history_add_partition(date) from public;

-- The new table, its default partition and the months the existing rows need.
alter table stock_history rename to stock_history_unpartitioned;
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
) partition by range (recorded_at);
create table stock_history_default partition of stock_history default;

do $$
declare
    this_month date := date_trunc('month', now() at time zone 'UTC')::date;
    m date;
begin
    select date_trunc('month', min(recorded_at) at time zone 'UTC')::date
      into m from stock_history_unpartitioned;
    m := greatest(coalesce(m, this_month), (this_month - interval '24 months')::date);
    while m <= this_month + interval '2 months' loop
        perform stock_history_add_partition(m);
        m := (m + interval '1 month')::date;
    end loop;
end $$;

insert into stock_history select * from stock_history_unpartitioned;
drop table stock_history_unpartitioned;

-- The same index as before, on every partition (built after the copy: faster than
-- maintaining it row by row). stock_history_recorded_idx served only the row-wise purge;
-- retention now drops partitions, so it is not recreated.
create index stock_history_product_idx on stock_history (tenant_id, nm_id, recorded_at);

do $$
declare t text;
begin
    foreach t in array array['stock_history', 'stock_history_default'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I using (tenant_id = app_current_tenant()) with check (tenant_id = app_current_tenant())',
            t || '_isolation', t);
    end loop;
end $$;

-- Partitions for this month and the next p_months_ahead; returns how many it created. The
-- worker's retention job calls it every hour, so the partitions always exist months before
-- any row needs them.
create function create_stock_history_partitions(p_now timestamptz, p_months_ahead integer)
returns integer
language plpgsql volatile security definer
set search_path = public, pg_temp
set lock_timeout = '10s'
as $$
declare
    this_month date := date_trunc('month', p_now at time zone 'UTC')::date;
    created integer := 0;
begin
    if p_months_ahead < 0 or p_months_ahead > 24 then
        raise exception 'p_months_ahead must be 0 to 24, not %', p_months_ahead;
    end if;
    for i in 0 .. p_months_ahead loop
        if stock_history_add_partition((this_month + make_interval(months => i))::date) then
            created := created + 1;
        end if;
    end loop;
    return created;
end
$$;
revoke all on function create_stock_history_partitions(timestamptz, integer) from public;

-- Retention: finished sync runs row-wise as before; stock history by dropping every monthly
-- partition whose whole month is older than the cutoff (their rows counted first), plus the
-- default partition's rows older than it. The month that straddles the cutoff keeps its rows
-- until it ages out. lock_timeout: dropping a partition needs an exclusive lock on the
-- parent for a moment; rather than queue behind a long read (and block every sync behind
-- itself), the attempt fails and the job retries later.
create or replace function purge_old_data(p_now timestamptz, p_run_days integer, p_history_days integer)
returns table (runs bigint, history bigint)
language plpgsql volatile security definer
set search_path = public, pg_temp
set lock_timeout = '10s'
as $$
declare
    cutoff timestamptz := p_now - make_interval(days => p_history_days);
    part record;
    n bigint;
begin
    delete from sync_runs
     where status in ('succeeded', 'failed')
       and finished_at < p_now - make_interval(days => p_run_days);
    get diagnostics runs = row_count;
    history := 0;
    for part in
        select c.relname,
               (to_date(substr(c.relname, 16), 'YYYY_MM') + interval '1 month')::timestamp
                   at time zone 'UTC' as ends
          from pg_inherits i
          join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'stock_history'::regclass
           and c.relname ~ '^stock_history_p[0-9]{4}_[0-9]{2}$'
         order by c.relname
    loop
        if part.ends <= cutoff then
            execute format('select count(*) from %I', part.relname) into n;
            execute format('drop table %I', part.relname);
            history := history + n;
        end if;
    end loop;
    delete from stock_history_default where recorded_at < cutoff;
    get diagnostics n = row_count;
    history := history + n;
    return next;
end
$$;

-- Statistics after a large sync: the history a sync writes lands in the current month's
-- partition (recorded_at is the sync's time), so that one is analysed rather than every
-- month (ANALYZE on the partitioned parent would sample each partition). Reads of history
-- go through one partition's statistics after pruning.
create or replace function analyze_synced_tables()
returns boolean
language plpgsql volatile security definer
set search_path = public, pg_temp
as $$
declare
    part text := 'stock_history_p' || to_char(now() at time zone 'UTC', 'YYYY_MM');
begin
    if not pg_try_advisory_xact_lock(6004496007550490970) then
        return false;
    end if;
    analyze products;
    analyze sizes;
    analyze warehouses;
    analyze stocks;
    if to_regclass(part) is not null then
        execute format('analyze %I', part);
    else
        analyze stock_history_default;
    end if;
    return true;
end
$$;
