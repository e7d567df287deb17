-- The 7-day grace of a past-due subscription is defined once: when it ends. Access and the
-- subscription's `grace_ends_at` (shown to the seller) both read it from here.
create function subscription_grace_ends_at(p_status text, p_past_due_since timestamptz, p_now timestamptz)
returns timestamptz
language sql immutable
as $$
    select case when p_status = 'past_due'
                then coalesce(p_past_due_since, p_now) + interval '7 days' end
$$;

create or replace function subscription_access(
    p_status text, p_trial_ends_at timestamptz, p_past_due_since timestamptz, p_now timestamptz)
returns text
language sql immutable
as $$
    select case
        when p_status = 'trialing' and (p_trial_ends_at is null or p_trial_ends_at > p_now) then 'full'
        when p_status = 'active' then 'full'
        when subscription_grace_ends_at(p_status, p_past_due_since, p_now) > p_now then 'grace'
        else 'read_only'
    end
$$;

-- When the Stripe state stored in the row was read (the start of that read). Stripe is
-- called with no transaction open, so answers can arrive out of order: a write stores its
-- answer only if its read began after the stored one's, and the row always holds the
-- newest read. A read begun after Stripe's last change sees that change, so the row
-- converges on Stripe's state whatever order events and refreshes finish in.
alter table subscriptions add column stripe_read_at timestamptz;
