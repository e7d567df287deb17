-- Foundation: tenants, users, memberships, refresh tokens, invitations.
--
-- Tenant isolation is enforced here, not in application code: every tenant table has
-- FORCE ROW LEVEL SECURITY and policies that compare against settings the data layer sets
-- per transaction. An unset setting yields NULL, and NULL = x is never true, so a query
-- without a tenant context sees and writes nothing (fail closed).

create function app_current_tenant() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- The signed-in user, set after authentication; lets a user see their own memberships
-- across tenants (tenant picker at login) without a tenant context.
create function app_current_user() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;

-- The email being logged in with: the only way to find a user row before we know who it is.
create function app_login_email() returns text
    language sql stable
    as $$ select nullif(current_setting('app.login_email', true), '') $$;

create table tenants (
    id          uuid primary key,
    name        text not null check (char_length(name) between 1 and 200),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenants_isolation on tenants
    using (id = app_current_tenant())
    with check (id = app_current_tenant());

create table users (
    id             uuid primary key,
    email          text not null check (char_length(email) between 3 and 254),
    password_hash  text not null,
    created_at     timestamptz not null default now()
);
-- Emails are globally unique (one login identity, several tenants). The unique index is
-- enforced regardless of RLS, which is how registration detects a taken address.
create unique index users_email_key on users (lower(email));

create table memberships (
    tenant_id   uuid not null references tenants (id) on delete cascade,
    user_id     uuid not null references users (id) on delete cascade,
    role        text not null check (role in ('owner', 'admin', 'member', 'viewer')),
    created_at  timestamptz not null default now(),
    primary key (tenant_id, user_id)
);
create index memberships_user_idx on memberships (user_id);
alter table memberships enable row level security;
alter table memberships force row level security;
create policy memberships_isolation on memberships
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());
create policy memberships_own_read on memberships for select
    using (user_id = app_current_user());

-- A user row is visible to itself, to the tenants it belongs to, and to the login lookup.
alter table users enable row level security;
alter table users force row level security;
create policy users_visible on users for select
    using (
        id = app_current_user()
        or lower(email) = lower(app_login_email())
        or exists (
            select 1 from memberships m
            where m.user_id = users.id and m.tenant_id = app_current_tenant()
        )
    );
create policy users_insert_self on users for insert
    with check (id = app_current_user());
create policy users_update_self on users for update
    using (id = app_current_user())
    with check (id = app_current_user());

-- Opaque refresh tokens, stored as SHA-256 digests. Tokens rotate on every use; a family
-- links a login's successive tokens so that presenting a used one revokes them all.
create table refresh_tokens (
    id          uuid primary key,
    tenant_id   uuid not null references tenants (id) on delete cascade,
    user_id     uuid not null,
    family_id   uuid not null,
    token_hash  bytea not null,
    expires_at  timestamptz not null,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz not null default now(),
    unique (tenant_id, token_hash),
    foreign key (tenant_id, user_id) references memberships (tenant_id, user_id) on delete cascade
);
create index refresh_tokens_family_idx on refresh_tokens (tenant_id, family_id);
alter table refresh_tokens enable row level security;
alter table refresh_tokens force row level security;
create policy refresh_tokens_isolation on refresh_tokens
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());

create table invitations (
    id           uuid primary key,
    tenant_id    uuid not null references tenants (id) on delete cascade,
    email        text not null check (char_length(email) between 3 and 254),
    role         text not null check (role in ('admin', 'member', 'viewer')),
    token_hash   bytea not null,
    invited_by   uuid not null references users (id) on delete cascade,
    expires_at   timestamptz not null,
    accepted_at  timestamptz,
    created_at   timestamptz not null default now(),
    unique (tenant_id, token_hash)
);
alter table invitations enable row level security;
alter table invitations force row level security;
create policy invitations_isolation on invitations
    using (tenant_id = app_current_tenant())
    with check (tenant_id = app_current_tenant());
