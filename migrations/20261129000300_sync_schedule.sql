-- When a tenant is synced on schedule, defined once. The scheduler queues what is due now
-- (queue_due_syncs); the api shows the same function's answer as next_due_at; both take the
-- plans' intervals as data (p_plan_intervals, {"starter": 120, ...}) from the application.

-- The interval the scheduler uses: the tenant's preference, never more often than the plan.
create function tenant_sync_interval(p_preference integer, p_plan text, p_plan_intervals jsonb)
returns integer
language sql immutable
as $$
    select greatest(coalesce(p_preference, 0), (p_plan_intervals ->> p_plan)::integer)
$$;

-- Every tenant synced on schedule (an active WB token, a subscription that is not
-- read-only), with its interval, and when it is due: once an interval has passed since its
-- last success, in a time slot (spread by tenant) that has no scheduled run yet, and never
-- while a run is queued or running (due_at is null then). Security invoker: the scheduler
-- (through queue_due_syncs, as the owner) sees every tenant; the api, in a tenant's scope,
-- sees that tenant only.
create function sync_schedule(p_now timestamptz, p_plan_intervals jsonb)
returns table (tenant_id uuid, interval_minutes integer, slot timestamptz, due_at timestamptz)
language sql stable
set search_path = public, pg_temp
as $$
    with candidates as (
        select t.id,
               tenant_sync_interval(t.sync_interval_minutes,
                                    subscription_plan(s.plan, s.downgrade_from, s.downgrade_at, p_now),
                                    p_plan_intervals) as interval_minutes
          from tenants t
          join subscriptions s on s.tenant_id = t.id
          join wb_credentials c on c.tenant_id = t.id and c.status = 'active'
         where subscription_access(s.status, s.trial_ends_at, s.past_due_since, p_now) <> 'read_only'
    ), earliest as (
        select d.id, d.interval_minutes,
               greatest(p_now,
                        coalesce((select max(r.finished_at) from sync_runs r
                                   where r.tenant_id = d.id and r.status = 'succeeded')
                                 + make_interval(mins => d.interval_minutes), p_now)) as at
          from candidates d
         where d.interval_minutes is not null
           and not exists (
                   select 1 from sync_runs r
                    where r.tenant_id = d.id and r.status in ('queued', 'running'))
    ), slotted as (
        select e.id, e.interval_minutes, e.at,
               sync_slot_start(e.id, e.interval_minutes, e.at) as slot
          from earliest e
    )
    select s.id, s.interval_minutes,
           case when taken.used then s.slot + make_interval(mins => s.interval_minutes) else s.slot end,
           case when taken.used then s.slot + make_interval(mins => s.interval_minutes) else s.at end
      from slotted s
     cross join lateral (
           select exists (select 1 from sync_runs r
                           where r.tenant_id = s.id and r.due_slot = s.slot) as used) taken
$$;

-- The scheduler's query: everything sync_schedule says is due now, queued once per
-- (tenant, slot) however many replicas tick.
create or replace function queue_due_syncs(p_now timestamptz, p_limit integer, p_plan_intervals jsonb)
returns table (run_id uuid, tenant_id uuid)
language sql volatile security definer
set search_path = public, pg_temp
as $$
    insert into sync_runs (id, tenant_id, trigger, status, due_slot)
    select gen_random_uuid(), d.tenant_id, 'schedule', 'queued', d.slot
      from sync_schedule(p_now, p_plan_intervals) d
     where d.due_at <= p_now
     order by d.tenant_id
     limit p_limit
    on conflict do nothing
    returning id, tenant_id
$$;
revoke all on function queue_due_syncs(timestamptz, integer, jsonb) from public;
