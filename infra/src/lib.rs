//! What every crate of the workspace builds on, and nothing of the domain: reading the
//! environment once ([`env`]), values that must never be printed ([`Secret`]) and the Redis
//! connection ([`kv`]). The WB client and the Stripe client depend on this, not on `shared`.

pub mod env;
pub mod kv;
pub mod secret;

pub use secret::Secret;
