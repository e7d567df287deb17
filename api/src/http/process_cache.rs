//! The api process's own layer in front of Redis: answers to cached reads and members'
//! roles this process has already seen, so a repeated question costs no round trip at all.
//!
//! # Why it never serves what Redis would not
//!
//! Everything that drops a Redis entry early also publishes on one channel
//! ([`stock_tracker_shared::cache::invalidations_channel`]): a completed sync (`cache
//! <tenant>`) and a member's removal (`role <tenant> <user>`). Each api process listens
//! ([`super::invalidations`]) and drops the tenant's entries here. The layer is used only
//! while that subscription is live; when it drops, everything here is forgotten and the
//! layer stays dark until the listener has subscribed again (messages sent meanwhile are
//! lost, so nothing from before may survive).
//!
//! A request may be answered from Redis or PostgreSQL just before an invalidation and keep
//! that answer here just after it. To refuse such late writes, a request takes a
//! [`Ticket`] (the subscription's epoch and the tenant's generation) *before* it looks
//! anywhere; an invalidation bumps the tenant's generation, and a keep whose ticket is
//! older is dropped. Both happen under one lock, so there is no interleaving in which a
//! stale answer is kept after the invalidation was handled. What remains is the delivery
//! delay of the message itself (sub-millisecond on one Redis), the same staleness the
//! Redis layer has between a sync's commit and its version bump.
//!
//! # Bounds
//!
//! Answers are bounded in bytes (`CACHE_PROCESS_MAX_BYTES`), roles in entries; entries also
//! expire with the time their Redis entry had left, so this layer never outlives Redis.

use axum::http::HeaderValue;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use stock_tracker_shared::accounts::Role;
use stock_tracker_shared::ids::{TenantId, UserId};

/// Per-entry bookkeeping counted against the byte bound besides the body and the name.
const ENTRY_OVERHEAD: usize = 128;
/// Roles kept at most; past it the map is cleared (each costs one Redis read to refill).
const MAX_ROLES: usize = 100_000;

/// An answer as it is sent: the serialised body and its `X-Data-Synced-At`.
#[derive(Clone, Debug)]
pub struct Answer {
    pub body: Bytes,
    pub synced_at: Option<HeaderValue>,
}

/// Taken before a lookup; a keep with an outdated ticket is refused.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    epoch: u64,
    generation: u64,
}

struct Kept<T> {
    value: T,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    /// Nonzero while the invalidation subscription is live; a new value per subscription.
    epoch: u64,
    epochs: u64,
    generations: HashMap<TenantId, u64>,
    answers: HashMap<TenantId, HashMap<String, Kept<Answer>>>,
    roles: HashMap<(TenantId, UserId), Kept<Role>>,
    bytes: usize,
}

pub struct ProcessCache {
    max_bytes: usize,
    /// Answers kept per tenant at most, as in Redis (`CACHE_MAX_ENTRIES_PER_TENANT`), so
    /// one tenant's stream of distinct questions cannot push the others out.
    max_per_tenant: usize,
    inner: Mutex<Inner>,
}

fn size_of(name: &str, answer: &Answer) -> usize {
    ENTRY_OVERHEAD + name.len() + answer.body.len()
}

impl ProcessCache {
    /// A layer of at most `max_bytes` of answers, `max_per_tenant` per tenant; zero bytes
    /// turns it off.
    pub fn new(max_bytes: usize, max_per_tenant: usize) -> Self {
        Self {
            max_bytes,
            max_per_tenant,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent, so a panic elsewhere while
        // holding the lock leaves nothing half-done to fear.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A ticket for a lookup of `tenant`'s entries; `None` while the layer is dark.
    pub fn ticket(&self, tenant: TenantId) -> Option<Ticket> {
        let inner = self.lock();
        (inner.epoch != 0 && self.max_bytes > 0).then(|| Ticket {
            epoch: inner.epoch,
            generation: inner.generations.get(&tenant).copied().unwrap_or(0),
        })
    }

    fn current(inner: &Inner, tenant: TenantId, ticket: Ticket) -> bool {
        inner.epoch == ticket.epoch
            && inner.generations.get(&tenant).copied().unwrap_or(0) == ticket.generation
    }

    /// A kept answer with the time it has left.
    pub fn answer(
        &self,
        ticket: Ticket,
        tenant: TenantId,
        name: &str,
    ) -> Option<(Answer, Duration)> {
        let inner = self.lock();
        if !Self::current(&inner, tenant, ticket) {
            return None;
        }
        let kept = inner.answers.get(&tenant)?.get(name)?;
        let left = kept.expires.checked_duration_since(Instant::now())?;
        Some((kept.value.clone(), left))
    }

    /// Keeps an answer for `ttl`, unless the ticket is outdated or the answer alone is
    /// larger than the bound. Makes room by dropping expired entries, then others.
    pub fn keep_answer(
        &self,
        ticket: Ticket,
        tenant: TenantId,
        name: &str,
        answer: Answer,
        ttl: Duration,
    ) {
        let size = size_of(name, &answer);
        if ttl.is_zero() || size > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        if !Self::current(&inner, tenant, ticket) {
            return;
        }
        if let Some(answers) = inner.answers.get(&tenant)
            && answers.len() >= self.max_per_tenant
            && !answers.contains_key(name)
        {
            return;
        }
        let now = Instant::now();
        if inner.bytes + size > self.max_bytes {
            Self::evict(&mut inner, now, self.max_bytes - size);
        }
        let kept = Kept {
            value: answer,
            expires: now + ttl,
        };
        let replaced = inner
            .answers
            .entry(tenant)
            .or_default()
            .insert(name.to_string(), kept);
        inner.bytes += size;
        if let Some(old) = replaced {
            inner.bytes -= size_of(name, &old.value);
        }
    }

    /// Drops expired answers, then any others, until at most `target` bytes remain.
    fn evict(inner: &mut Inner, now: Instant, target: usize) {
        let mut freed = 0;
        for answers in inner.answers.values_mut() {
            answers.retain(|name, kept| {
                let keep = kept.expires > now;
                if !keep {
                    freed += size_of(name, &kept.value);
                }
                keep
            });
        }
        inner.bytes -= freed;
        while inner.bytes > target {
            let Some(tenant) = inner.answers.keys().next().copied() else {
                break;
            };
            if let Some(answers) = inner.answers.remove(&tenant) {
                let size: usize = answers.iter().map(|(n, k)| size_of(n, &k.value)).sum();
                inner.bytes -= size;
            }
        }
        inner.answers.retain(|_, answers| !answers.is_empty());
    }

    /// A kept role of a member.
    pub fn role(&self, ticket: Ticket, tenant: TenantId, user: UserId) -> Option<Role> {
        let inner = self.lock();
        if !Self::current(&inner, tenant, ticket) {
            return None;
        }
        let kept = inner.roles.get(&(tenant, user))?;
        (kept.expires > Instant::now()).then_some(kept.value)
    }

    /// Keeps a member's role for `ttl` (what its Redis entry has left).
    pub fn keep_role(
        &self,
        ticket: Ticket,
        tenant: TenantId,
        user: UserId,
        role: Role,
        ttl: Duration,
    ) {
        if ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if !Self::current(&inner, tenant, ticket) {
            return;
        }
        if inner.roles.len() >= MAX_ROLES {
            inner.roles.clear();
        }
        let expires = Instant::now() + ttl;
        inner.roles.insert(
            (tenant, user),
            Kept {
                value: role,
                expires,
            },
        );
    }

    /// The tenant's data changed (a sync, a removal): its answers and roles go, and keeps
    /// from lookups that started before now are refused.
    pub fn invalidate(&self, tenant: TenantId) {
        let mut inner = self.lock();
        *inner.generations.entry(tenant).or_default() += 1;
        if let Some(answers) = inner.answers.remove(&tenant) {
            let size: usize = answers.iter().map(|(n, k)| size_of(n, &k.value)).sum();
            inner.bytes -= size;
        }
        inner.roles.retain(|(t, _), _| *t != tenant);
    }

    /// The invalidation subscription is (again) live: the layer may be used from now on.
    pub fn go_live(&self) {
        let mut inner = self.lock();
        inner.epochs += 1;
        inner.epoch = inner.epochs;
    }

    /// The subscription dropped: invalidations may be missed from now on, so everything
    /// kept is forgotten and nothing is used or kept until [`Self::go_live`].
    pub fn go_dark(&self) {
        let mut inner = self.lock();
        inner.epoch = 0;
        inner.answers.clear();
        inner.roles.clear();
        inner.bytes = 0;
    }

    pub fn is_live(&self) -> bool {
        self.lock().epoch != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            body: Bytes::from(body.to_string()),
            synced_at: None,
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn nothing_is_used_or_kept_while_dark() {
        let cache = ProcessCache::new(1 << 20, 100);
        let t = TenantId::new();
        assert!(cache.ticket(t).is_none());
        cache.go_live();
        let ticket = cache.ticket(t).unwrap();
        cache.keep_answer(ticket, t, "q", answer("a"), MINUTE);
        assert_eq!(cache.answer(ticket, t, "q").unwrap().0.body, "a");
        cache.go_dark();
        assert!(cache.ticket(t).is_none());
        assert!(cache.answer(ticket, t, "q").is_none());
        // A lookup begun before the drop keeps nothing after it, nor after the next
        // subscription: its ticket names the old epoch.
        cache.keep_answer(ticket, t, "q", answer("a"), MINUTE);
        cache.go_live();
        let fresh = cache.ticket(t).unwrap();
        cache.keep_answer(ticket, t, "q", answer("stale"), MINUTE);
        assert!(cache.answer(fresh, t, "q").is_none());
    }

    #[test]
    fn an_invalidation_drops_the_tenants_entries_and_refuses_keeps_begun_before_it() {
        let cache = ProcessCache::new(1 << 20, 100);
        cache.go_live();
        let (t, other, u) = (TenantId::new(), TenantId::new(), UserId::new());
        let before = cache.ticket(t).unwrap();
        let other_ticket = cache.ticket(other).unwrap();
        cache.keep_answer(before, t, "q", answer("old"), MINUTE);
        cache.keep_role(before, t, u, Role::Admin, MINUTE);
        cache.keep_answer(other_ticket, other, "q", answer("theirs"), MINUTE);
        cache.invalidate(t);
        let after = cache.ticket(t).unwrap();
        assert!(cache.answer(after, t, "q").is_none());
        assert!(cache.role(after, t, u).is_none());
        // The late keep of a lookup that started before the invalidation is refused.
        cache.keep_answer(before, t, "q", answer("old"), MINUTE);
        cache.keep_role(before, t, u, Role::Admin, MINUTE);
        assert!(cache.answer(after, t, "q").is_none());
        assert!(cache.role(after, t, u).is_none());
        // Other tenants keep theirs.
        assert_eq!(
            cache.answer(other_ticket, other, "q").unwrap().0.body,
            "theirs"
        );
        cache.keep_answer(after, t, "q", answer("new"), MINUTE);
        assert_eq!(cache.answer(after, t, "q").unwrap().0.body, "new");
    }

    #[test]
    fn one_tenant_keeps_at_most_its_share_of_answers() {
        let cache = ProcessCache::new(1 << 20, 3);
        cache.go_live();
        let (t, other) = (TenantId::new(), TenantId::new());
        let ticket = cache.ticket(t).unwrap();
        for i in 0..10 {
            cache.keep_answer(ticket, t, &format!("q{i}"), answer("a"), MINUTE);
        }
        let kept = (0..10)
            .filter(|i| cache.answer(ticket, t, &format!("q{i}")).is_some())
            .count();
        assert_eq!(kept, 3);
        // A kept question is refreshed; another tenant still keeps its own.
        cache.keep_answer(ticket, t, "q0", answer("b"), MINUTE);
        assert_eq!(cache.answer(ticket, t, "q0").unwrap().0.body, "b");
        let theirs = cache.ticket(other).unwrap();
        cache.keep_answer(theirs, other, "q0", answer("c"), MINUTE);
        assert!(cache.answer(theirs, other, "q0").is_some());
    }

    #[test]
    fn answers_stay_within_the_byte_bound_and_expire() {
        let body = "x".repeat(1_000);
        let bound = 10 * (1_000 + ENTRY_OVERHEAD + 8);
        let cache = ProcessCache::new(bound, 100);
        cache.go_live();
        for i in 0..100 {
            let t = TenantId::new();
            let ticket = cache.ticket(t).unwrap();
            cache.keep_answer(ticket, t, &format!("q{i:05}"), answer(&body), MINUTE);
            assert!(cache.lock().bytes <= bound);
        }
        let kept: usize = cache.lock().answers.values().map(HashMap::len).sum();
        assert!((1..=10).contains(&kept), "{kept}");
        // Larger than the whole bound: not kept at all.
        let t = TenantId::new();
        let ticket = cache.ticket(t).unwrap();
        cache.keep_answer(ticket, t, "big", answer(&"y".repeat(bound)), MINUTE);
        assert!(cache.answer(ticket, t, "big").is_none());
        // Expired entries are not served.
        cache.keep_answer(ticket, t, "short", answer("a"), Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.answer(ticket, t, "short").is_none());
    }
}
