-- Issue 13: a completed sync leaves the planner informed.
--
-- Autovacuum is off on the project's machines (and reacts late on others): right after a
-- tenant's first sync PostgreSQL had no statistics for the new rows, planned nested loops
-- over all of them and took 86 s for one page of 25,000 stock rows. After a sync that wrote
-- many rows the worker asks for fresh statistics through this function
-- (shared/src/sync/planner.rs decides when, after the sync's transaction has committed).
--
-- The application roles do not own the tables, so they cannot ANALYZE them; this function
-- runs as the owner and does that and nothing else. It takes no argument, touches no row and
-- is granted to the worker's role only (shared/src/tenancy/migrate.rs,
-- JOBS_DEFINER_FUNCTIONS): the internet-facing api cannot make the database do this work.
--
-- ANALYZE takes SHARE UPDATE EXCLUSIVE on each table, which conflicts with itself: a second
-- worker finishing a large sync at the same moment would wait behind the first, holding a
-- connection, to compute nearly the same statistics. It skips instead and answers false
-- (the advisory lock is the transaction's, released when the call returns). Each ANALYZE
-- samples at most 300 × default_statistics_target rows, so the cost is bounded whatever
-- the tables' size.
create function analyze_synced_tables()
returns boolean
language plpgsql volatile security definer
set search_path = public, pg_temp
as $$
begin
    -- 'STANALYZ' as a bigint: the key is this function's alone.
    if not pg_try_advisory_xact_lock(6004496007550490970) then
        return false;
    end if;
    analyze products;
    analyze sizes;
    analyze warehouses;
    analyze stocks;
    analyze stock_history;
    return true;
end
$$;
revoke all on function analyze_synced_tables() from public;
