-- One free trial per WB seller account (the token's `sid`), however many tenants connect it.
-- The first tenant to connect a seller account while on its free trial claims that account's
-- trial; another tenant still on its free trial cannot connect the same seller account (a
-- paying tenant can connect any). Rows outlive their tenant, or deleting a tenant and signing
-- up again would reset the trial.
create table seller_trials (
    seller_id  text primary key,
    tenant_id  uuid references tenants (id) on delete set null,
    claimed_at timestamptz not null default now()
);
-- Across tenants by nature, so no tenant reads or writes it directly: the policy admits no
-- row to the application roles, and only the function below (run as the owner) touches it.
alter table seller_trials enable row level security;
alter table seller_trials force row level security;
create policy seller_trials_only_through_claim on seller_trials using (false) with check (false);

-- Seller accounts already connected had their trial with the tenant that connected them first.
insert into seller_trials (seller_id, tenant_id, claimed_at)
select distinct on (seller_id) seller_id, tenant_id, created_at
  from wb_credentials
 order by seller_id, created_at
on conflict (seller_id) do nothing;

-- Claims the seller account's trial for the current tenant (app_current_tenant()): true when
-- it was free or is this tenant's already, false when another tenant (even a deleted one) had
-- it. Concurrent claims are decided by the primary key: one wins, the others see its row.
create function claim_seller_trial(p_seller_id text)
returns boolean
language plpgsql volatile security definer
set search_path = public, pg_temp
as $$
declare
    holder uuid;
begin
    insert into seller_trials (seller_id, tenant_id)
    values (p_seller_id, app_current_tenant())
    on conflict (seller_id) do nothing;
    select tenant_id into holder from seller_trials where seller_id = p_seller_id;
    return holder is not distinct from app_current_tenant();
end
$$;
revoke all on function claim_seller_trial(text) from public;
