-- Housekeeping the scheduler does: retention of old runs and history, and warnings before
-- a WB token expires, recorded as tenant events (delivered by the notifications work).

create table tenant_events (
    id          uuid primary key,
    tenant_id   uuid not null references tenants (id) on delete cascade,
    kind        text not null,
    -- Makes an event happen once: e.g. the 7-day warning for one token.
    dedupe_key  text not null,
    payload     jsonb not null default '{}',
    created_at  timestamptz not null default now(),
    delivered_at timestamptz,
    unique (tenant_id, kind, dedupe_key)
);
alter table tenant_events enable row level security;
alter table tenant_events force row level security;
create policy tenant_events_isolation on tenant_events
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());

-- Records a warning 14, 7 and 1 days before each active token expires, once per token and
-- threshold. Cross-tenant like queue_due_syncs, returning only how many were recorded.
create function record_token_expiry_warnings(p_now timestamptz)
returns integer
language sql volatile security definer
set search_path = public, pg_temp
as $$
    with inserted as (
        insert into tenant_events (id, tenant_id, kind, dedupe_key, payload)
        select gen_random_uuid(), c.tenant_id, 'wb_token_expiring',
               c.id::text || ':' || d.days,
               jsonb_build_object('days_left', d.days, 'expires_at', c.expires_at,
                                  'token_mask', c.token_mask)
          from wb_credentials c
          cross join (values (14), (7), (1)) as d(days)
         where c.status = 'active'
           and c.expires_at > p_now
           and c.expires_at <= p_now + make_interval(days => d.days)
        on conflict (tenant_id, kind, dedupe_key) do nothing
        returning 1
    )
    select count(*)::integer from inserted
$$;

-- Deletes finished sync runs and stock history older than the given ages.
create function purge_old_data(p_now timestamptz, p_run_days integer, p_history_days integer)
returns table (runs bigint, history bigint)
language sql volatile security definer
set search_path = public, pg_temp
as $$
    with r as (
        delete from sync_runs
         where status in ('succeeded', 'failed')
           and finished_at < p_now - make_interval(days => p_run_days)
        returning 1
    ), h as (
        delete from stock_history
         where recorded_at < p_now - make_interval(days => p_history_days)
        returning 1
    )
    select (select count(*) from r), (select count(*) from h)
$$;

revoke all on function record_token_expiry_warnings(timestamptz) from public;
revoke all on function purge_old_data(timestamptz, integer, integer) from public;
create index stock_history_recorded_idx on stock_history (recorded_at);
create index sync_runs_finished_idx on sync_runs (finished_at) where status in ('succeeded', 'failed');
