use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A member's role in a tenant, from most to least powerful.
/// Stored as `text` (`owner`, `admin`, `member`, `viewer`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// Viewers read; everyone else may change the tenant's data.
    pub fn can_write(self) -> bool {
        self >= Role::Member
    }

    /// Team and billing changes.
    pub fn can_manage(self) -> bool {
        self >= Role::Admin
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("unknown role {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn ordering_drives_permissions() {
        assert!(!Role::Viewer.can_write());
        assert!(Role::Member.can_write() && !Role::Member.can_manage());
        assert!(Role::Admin.can_manage() && Role::Owner.can_manage());
        for r in [Role::Owner, Role::Admin, Role::Member, Role::Viewer] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
    }
}
