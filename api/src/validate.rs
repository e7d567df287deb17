//! Field checks shared by handlers. Each failure is a 422 problem naming the field.

use crate::error::ApiError;

/// A trimmed, lower-cased email that is plausibly deliverable. Deliberately simple: one
/// `@`, a dotted domain, no spaces, at most 254 characters (RFC 5321).
pub fn email(field: &str, raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(ApiError::invalid(
            "invalid_email",
            field,
            "Enter a valid email address.",
        ))
    }
}

pub fn password(field: &str, raw: &str) -> Result<(), ApiError> {
    crate::auth::password::check_length(raw).map_err(|code| {
        ApiError::invalid(
            code,
            field,
            format!(
                "Passwords are {} to {} characters long.",
                crate::auth::password::MIN_LEN,
                crate::auth::password::MAX_LEN
            ),
        )
    })
}

/// A display name: trimmed, 1 to 200 characters, no control characters.
pub fn name(field: &str, raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let len = name.chars().count();
    if (1..=200).contains(&len) && !name.chars().any(char::is_control) {
        Ok(name.to_string())
    } else {
        Err(ApiError::invalid(
            "invalid_name",
            field,
            format!("{field} must be 1 to 200 characters."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Seller@Shop.RU ").unwrap(),
            "seller@shop.ru"
        );
        for bad in [
            "", "no-at", "a@b", "a@.b.c", "a@b..c", "a b@c.d", "@c.d", "a@b@c.d",
        ] {
            assert_eq!(
                email("email", bad).unwrap_err().code(),
                "invalid_email",
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("name", "  ООО Ромашка ").unwrap(), "ООО Ромашка");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(201)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
    }
}
