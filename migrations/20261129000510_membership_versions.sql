-- Versions for the role cache (api/src/auth/role_cache.rs, issue 11, item 5). Every
-- membership row carries a version drawn from one sequence: a new one on insert and on
-- every update. A sequence only grows, so a version taken later is larger: removing a member
-- takes one after the delete (`returning nextval(...)`) and writes it to the cache as a
-- tombstone, which no role read before the removal (and so carrying an older version) can
-- overwrite.
create sequence membership_versions as bigint;
alter table memberships
    add column version bigint not null default nextval('membership_versions');
alter sequence membership_versions owned by memberships.version;

-- Set by the database, not by whoever writes the row.
create function memberships_next_version() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    new.version := nextval('membership_versions');
    return new;
end
$$;

create trigger memberships_version before insert or update on memberships
    for each row execute function memberships_next_version();
