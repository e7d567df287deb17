-- When the current tenant's last successful sync finished: every read answer carries this time
-- (X-Data-Synced-At), and the list queries read it in their own statement as
-- `(select app_last_synced_at())`, evaluated once per statement, instead of a round trip of its
-- own (issue 13). Security invoker: row-level security confines it to the tenant in scope.
-- max() over sync_runs_success_idx (tenant_id, finished_at desc) where status = 'succeeded'.
create function app_last_synced_at() returns timestamptz
    language sql stable
    set search_path = public, pg_temp
as $$
    select max(r.finished_at) from sync_runs r
     where r.tenant_id = app_current_tenant() and r.status = 'succeeded'
$$;
