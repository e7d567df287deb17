-- WB answers 402 Payment Required when our balance as a Business Solutions Catalog service
-- is empty: every request for every tenant fails until someone tops it up, and it is not
-- the sellers' fault. The first 402 writes this one row; while it exists the scheduler
-- queues no sync, the api refuses manual syncs and a queued run fails with
-- wb_service_unpaid without calling WB. Only an operator removes it, after topping up
-- (`stock-tracker-api wb-billing resume`). Not tenant data: no RLS.
create table wb_service_pause (
    -- One row at most.
    singleton    boolean primary key default true check (singleton),
    reason       text not null check (reason in ('wb_service_unpaid')),
    paused_at    timestamptz not null default now(),
    -- The latest 402 seen (a run already past the check may still meet one).
    last_seen_at timestamptz not null default now()
);
