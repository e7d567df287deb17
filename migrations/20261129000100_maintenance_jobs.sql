-- Periodic work (billing reconciliation, retention, token-expiry warnings) runs as queued
-- jobs on the `stock-tracker-maintenance` queue. Each job has a row here, created in the
-- same transaction as the job: its key (kind and period, e.g. `reconcile:2026-11-29`)
-- makes the job happen once per period however many scheduler replicas tick, and the row
-- counts the worker's attempts so that a job past its limit is dead-lettered (apalis's own
-- count is not reliable after a crash). Not tenant data: no RLS.

create table maintenance_runs (
    key           text primary key,
    kind          text not null,
    status        text not null default 'queued'
                  check (status in ('queued', 'running', 'succeeded', 'failed')),
    attempts      integer not null default 0,
    queued_at     timestamptz not null default now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    -- What the job did (counts), or why it failed.
    outcome       jsonb,
    error_code    text,
    error_message text
);
create index maintenance_runs_finished_idx on maintenance_runs (finished_at)
    where status in ('succeeded', 'failed');

-- The daily claim the scheduler used before reconciliation became a queued job.
drop table periodic_runs;
