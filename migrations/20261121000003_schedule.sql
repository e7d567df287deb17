-- Scheduled syncs: each tenant's interval, one scheduled run per (tenant, due slot), and
-- the function the scheduler uses to queue every due tenant in one statement.

alter table tenants
    add column sync_interval_minutes integer not null default 60
        check (sync_interval_minutes between 5 and 1440);

alter table sync_runs add column due_slot timestamptz;
-- However many scheduler replicas tick, a tenant's slot is queued once.
create unique index sync_runs_one_per_slot on sync_runs (tenant_id, due_slot)
    where due_slot is not null;

-- Each tenant's slots are offset by a stable fraction of its interval, derived from its
-- id, so that 10,000 tenants on the same interval start spread across it instead of all
-- in the same minute.
create function sync_slot_start(p_tenant uuid, p_interval_minutes integer, p_now timestamptz)
returns timestamptz
language sql immutable
as $$
    select to_timestamp(
        floor((extract(epoch from p_now) - off) / (p_interval_minutes * 60.0))
            * (p_interval_minutes * 60.0) + off)
      from (select ((hashtextextended(p_tenant::text, 0) & 2147483647) % (p_interval_minutes * 60))::float8 as off) o
$$;

-- Queues a scheduled run for every tenant that is due at p_now: an active WB token, no run
-- queued or running, no scheduled run for its current slot yet, and no successful sync in
-- the last interval. Runs as its owner so that it can see every tenant (the application
-- role cannot); it returns only ids, and it writes nothing but sync_runs rows.
create function queue_due_syncs(p_now timestamptz, p_limit integer)
returns table (run_id uuid, tenant_id uuid)
language sql volatile security definer
set search_path = public, pg_temp
as $$
    insert into sync_runs (id, tenant_id, trigger, status, due_slot)
    select gen_random_uuid(), t.id, 'schedule', 'queued',
           sync_slot_start(t.id, t.sync_interval_minutes, p_now)
      from tenants t
      join wb_credentials c on c.tenant_id = t.id and c.status = 'active'
     where not exists (
               select 1 from sync_runs r
                where r.tenant_id = t.id and r.status in ('queued', 'running'))
       and not exists (
               select 1 from sync_runs r
                where r.tenant_id = t.id
                  and r.due_slot = sync_slot_start(t.id, t.sync_interval_minutes, p_now))
       and not exists (
               select 1 from sync_runs r
                where r.tenant_id = t.id and r.status = 'succeeded'
                  and r.finished_at > p_now - make_interval(mins => t.sync_interval_minutes))
     order by t.id
     limit p_limit
    on conflict do nothing
    returning id, tenant_id
$$;
revoke all on function queue_due_syncs(timestamptz, integer) from public;

create index sync_runs_success_idx on sync_runs (tenant_id, finished_at desc)
    where status = 'succeeded';
