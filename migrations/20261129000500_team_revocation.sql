-- A removed admin keeps no way back in (issue 11, item 4): pending invitations can be
-- listed and revoked, and removing a member revokes the invitations and API keys they
-- created. A revoked invitation is kept (who invited whom stays on record) but can no
-- longer be accepted.
alter table invitations add column revoked_at timestamptz;

-- The pending list, oldest first, walks this index with the page's limit.
create index invitations_pending_idx on invitations (tenant_id, created_at, id)
    where accepted_at is null and revoked_at is null;
-- Removing a member finds what they created through these.
create index invitations_invited_by_idx on invitations (tenant_id, invited_by)
    where accepted_at is null and revoked_at is null;
create index api_keys_created_by_idx on api_keys (tenant_id, created_by)
    where revoked_at is null;
