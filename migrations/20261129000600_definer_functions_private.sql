-- SECURITY DEFINER functions run as the owner, across tenants (queue_due_syncs,
-- purge_old_data, ...). PostgreSQL lets PUBLIC execute every new function unless told
-- otherwise: from now on, functions this role creates are executable by their owner only,
-- and `stock-tracker-api migrate` grants each one to the role whose code calls it
-- (shared/src/tenancy/migrate.rs). Functions that run with the caller's rights (row-level
-- security applies) are granted to both application roles there too.
alter default privileges revoke execute on functions from public;

-- The one definer function an earlier migration left to PUBLIC. A trigger function (it
-- starts a new tenant's trial) cannot be called directly, and firing a trigger needs no
-- EXECUTE privilege: taken back for consistency.
revoke all on function start_trial() from public;
