-- Refresh-token families get an absolute lifetime besides the idle one: every token of a
-- family carries when the family (the sign-in) began, and a successor never outlives
-- family_started_at + REFRESH_FAMILY_MAX_AGE_SECS, however often it is refreshed.
alter table refresh_tokens add column family_started_at timestamptz;

-- Families signed in before this migration began with their oldest token.
update refresh_tokens r
   set family_started_at = f.started_at
  from (select tenant_id, family_id, min(created_at) as started_at
          from refresh_tokens group by tenant_id, family_id) f
 where r.tenant_id = f.tenant_id and r.family_id = f.family_id;

alter table refresh_tokens alter column family_started_at set not null;
alter table refresh_tokens alter column family_started_at set default now();
