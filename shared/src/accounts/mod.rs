//! Tenants, users, memberships, sessions and invitations: who may act for which seller.
//!
//! Every function takes a transaction opened by [`crate::tenancy::begin`], so row-level
//! security decides what it can see; none of them filters by tenant in SQL alone.

pub mod api_keys;
pub mod inputs;
pub mod invitations;
pub mod memberships;
pub mod sessions;
pub mod tenants;
pub mod users;

mod role;
pub use inputs::{CompanyName, Email, Invalid, KeyName, NewPassword, Password};
pub use role::Role;

/// True when the error is a unique-key violation on the named constraint or index.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}
