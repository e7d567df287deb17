-- Billing: each tenant's subscription and what it entitles, Stripe's webhook log, API keys
-- for sellers' own systems, and the API-call usage those keys are counted against.

-- One row per tenant. A new tenant starts here on a 14-day trial with pro limits (the
-- trigger below), and Stripe's view of its subscription is copied in by the webhook, the
-- subscription page's refresh and the daily reconciliation.
create table subscriptions (
    tenant_id              uuid primary key references tenants (id) on delete cascade,
    plan                   text not null check (plan in ('starter', 'pro', 'enterprise')),
    -- Stripe's subscription status, or 'trialing' for the card-less trial.
    status                 text not null,
    trial_ends_at          timestamptz,
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean not null default false,
    -- When the subscription turned past_due: the 7-day grace period counts from here.
    past_due_since         timestamptz,
    stripe_customer_id     text unique,
    stripe_subscription_id text unique,
    stripe_price_id        text,
    -- A downgrade takes effect at the end of the paid period: until downgrade_at the tenant
    -- keeps downgrade_from's limits although Stripe already bills the lower price next.
    downgrade_from         text check (downgrade_from in ('starter', 'pro', 'enterprise')),
    downgrade_at           timestamptz,
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now()
);
alter table subscriptions enable row level security;
alter table subscriptions force row level security;
create policy subscriptions_isolation on subscriptions
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());

-- The one definition of what a subscription state allows: 'full' (the plan's limits),
-- 'grace' (past_due for under 7 days: still the plan's limits) or 'read_only' (data kept,
-- no syncs, no writes). Unknown statuses fall through to read_only.
create function subscription_access(
    p_status text, p_trial_ends_at timestamptz, p_past_due_since timestamptz, p_now timestamptz)
returns text
language sql immutable
as $$
    select case
        when p_status = 'trialing' and (p_trial_ends_at is null or p_trial_ends_at > p_now) then 'full'
        when p_status = 'active' then 'full'
        when p_status = 'past_due'
             and coalesce(p_past_due_since, p_now) > p_now - interval '7 days' then 'grace'
        else 'read_only'
    end
$$;

-- The plan whose limits apply now (a scheduled downgrade keeps the old plan until its date).
create function subscription_plan(
    p_plan text, p_downgrade_from text, p_downgrade_at timestamptz, p_now timestamptz)
returns text
language sql immutable
as $$
    select case when p_downgrade_at > p_now and p_downgrade_from is not null
                then p_downgrade_from else p_plan end
$$;

-- Every tenant gets its trial row when it is created; existing tenants get one now.
create function start_trial() returns trigger
language plpgsql security definer
set search_path = public, pg_temp
as $$
begin
    insert into subscriptions (tenant_id, plan, status, trial_ends_at)
    values (new.id, 'pro', 'trialing', new.created_at + interval '14 days');
    return new;
end
$$;
create trigger tenants_start_trial after insert on tenants
    for each row execute function start_trial();
insert into subscriptions (tenant_id, plan, status, trial_ends_at)
select id, 'pro', 'trialing', created_at + interval '14 days' from tenants
on conflict do nothing;

-- Webhooks name a Stripe customer; this finds whose it is before any tenant scope exists.
create function billing_tenant_for_customer(p_customer text)
returns uuid
language sql stable security definer
set search_path = public, pg_temp
as $$
    select tenant_id from subscriptions where stripe_customer_id = p_customer
$$;
revoke all on function billing_tenant_for_customer(text) from public;

-- The daily reconciliation's work list: every tenant linked to a Stripe customer.
create function billing_linked_tenants()
returns table (tenant_id uuid)
language sql stable security definer
set search_path = public, pg_temp
as $$
    select tenant_id from subscriptions where stripe_customer_id is not null order by tenant_id
$$;
revoke all on function billing_linked_tenants() from public;

-- Stripe's events, each processed once: the row is written in the same transaction as the
-- event's effects. Not tenant data (an event may belong to no tenant of ours), so no RLS.
create table stripe_events (
    id          text primary key,
    type        text not null,
    outcome     text not null,
    received_at timestamptz not null default now()
);

-- Once-a-day jobs remember their last run here (the scheduler ticks every minute).
create table periodic_runs (
    name        text primary key,
    last_run_at timestamptz not null
);

-- A sync keeps at most the plan's product count and says so in its run.
alter table sync_runs
    add column product_limit integer,
    add column product_limit_reached boolean not null default false;

-- The tenant's own interval becomes a preference: null means as often as the plan allows,
-- and the plan's interval is the floor either way.
alter table tenants alter column sync_interval_minutes drop not null;
alter table tenants alter column sync_interval_minutes drop default;
update tenants set sync_interval_minutes = null where sync_interval_minutes = 60;

-- API keys for sellers' own systems. A key names its tenant (like refresh tokens), so it
-- is looked up inside that tenant's scope; only its SHA-256 is kept, and the last four
-- characters to tell keys apart in a list.
create table api_keys (
    id           uuid primary key,
    tenant_id    uuid not null references tenants (id) on delete cascade,
    name         text not null check (length(name) between 1 and 100),
    scope        text not null check (scope in ('read', 'read_write')),
    key_hash     bytea not null unique,
    hint         text not null,
    created_by   uuid references users (id) on delete set null,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
create index api_keys_tenant_idx on api_keys (tenant_id, created_at);
alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy api_keys_isolation on api_keys
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());

-- API-key calls per tenant and billing period. Counted in Redis, written through here so a
-- lost Redis does not reset anyone's quota; reported_calls is what the Stripe meter has seen.
create table api_usage (
    tenant_id      uuid not null references tenants (id) on delete cascade,
    period_start   timestamptz not null,
    calls          bigint not null default 0,
    reported_calls bigint not null default 0,
    updated_at     timestamptz not null default now(),
    primary key (tenant_id, period_start)
);
alter table api_usage enable row level security;
alter table api_usage force row level security;
create policy api_usage_isolation on api_usage
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());

-- The scheduler's query, now by plan: a tenant is due only while its subscription allows
-- syncing, at the greater of its own preference and its plan's interval. p_plan_intervals
-- maps plan name to minutes ({"starter": 120, ...}); plans live in the application's
-- configuration, not here.
drop function queue_due_syncs(timestamptz, integer);
create function queue_due_syncs(p_now timestamptz, p_limit integer, p_plan_intervals jsonb)
returns table (run_id uuid, tenant_id uuid)
language sql volatile security definer
set search_path = public, pg_temp
as $$
    with candidates as (
        select t.id,
               greatest(coalesce(t.sync_interval_minutes, 0),
                        (p_plan_intervals ->> subscription_plan(s.plan, s.downgrade_from,
                                                                s.downgrade_at, p_now))::integer)
                   as interval_minutes
          from tenants t
          join subscriptions s on s.tenant_id = t.id
          join wb_credentials c on c.tenant_id = t.id and c.status = 'active'
         where subscription_access(s.status, s.trial_ends_at, s.past_due_since, p_now) <> 'read_only'
    ), slotted as (
        select id, interval_minutes, sync_slot_start(id, interval_minutes, p_now) as slot
          from candidates
         where interval_minutes is not null
    )
    insert into sync_runs (id, tenant_id, trigger, status, due_slot)
    select gen_random_uuid(), d.id, 'schedule', 'queued', d.slot
      from slotted d
     where not exists (
               select 1 from sync_runs r
                where r.tenant_id = d.id and r.status in ('queued', 'running'))
       and not exists (
               select 1 from sync_runs r
                where r.tenant_id = d.id and r.due_slot = d.slot)
       and not exists (
               select 1 from sync_runs r
                where r.tenant_id = d.id and r.status = 'succeeded'
                  and r.finished_at > p_now - make_interval(mins => d.interval_minutes))
     order by d.id
     limit p_limit
    on conflict do nothing
    returning id, tenant_id
$$;
revoke all on function queue_due_syncs(timestamptz, integer, jsonb) from public;

-- Tenants whose syncs run on schedule now: the scheduler's tenants_active gauge.
create function count_active_tenants(p_now timestamptz)
returns bigint
language sql stable security definer
set search_path = public, pg_temp
as $$
    select count(*)
      from subscriptions s
      join wb_credentials c on c.tenant_id = s.tenant_id and c.status = 'active'
     where subscription_access(s.status, s.trial_ends_at, s.past_due_since, p_now) <> 'read_only'
$$;
revoke all on function count_active_tenants(timestamptz) from public;
