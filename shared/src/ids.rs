//! Typed ids: a `TenantId` cannot be passed where a `UserId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7 keeps b-tree inserts local).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

typed_id!(
    /// A seller's account; every tenant-owned row carries one.
    TenantId
);
typed_id!(
    /// A person who can sign in; belongs to tenants through memberships.
    UserId
);
typed_id!(
    /// A pending invitation to join a tenant.
    InvitationId
);
typed_id!(
    /// One sync of a tenant's WB data, from queued to finished.
    SyncRunId
);
typed_id!(
    /// A stored (encrypted) WB token; also the associated data its ciphertext is bound to.
    CredentialId
);
typed_id!(
    /// An API key for a seller's own systems.
    ApiKeyId
);
typed_id!(
    /// A chain of refresh tokens from one sign-in; reusing a spent one ends the chain.
    SessionFamilyId
);

/// A WB article (nmID): a positive number. Anything else names no product.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(try_from = "i64", into = "i64")]
#[sqlx(transparent)]
pub struct NmId(pub i64);

impl TryFrom<i64> for NmId {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        if n > 0 {
            Ok(Self(n))
        } else {
            Err(format!("{n} is not a WB article number"))
        }
    }
}

impl From<NmId> for i64 {
    fn from(id: NmId) -> i64 {
        id.0
    }
}

impl fmt::Display for NmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
