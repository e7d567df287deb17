//! What people type when they sign up, invite or name things, parsed once into types that
//! can only hold acceptable values (parse, don't validate): an [`Email`] is normalised, a
//! [`NewPassword`] has an allowed length, a [`CompanyName`] or [`KeyName`] is trimmed, in
//! NFC, within its length and free of control and bidirectional-override characters.

use crate::Secret;
use serde::Deserialize;
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Why an input was refused: a stable code and a sentence for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub detail: String,
}

impl Invalid {
    fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// A plausibly deliverable email address, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Deliberately simple: one `@`, a dotted domain, no spaces, at most 254 characters
    /// (RFC 5321).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = Self::normalise(raw);
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
            Ok(Self(email))
        } else {
            Err(Invalid::new(
                "invalid_email",
                "Enter a valid email address.",
            ))
        }
    }

    /// The form every stored email has; sign-in looks up what was typed in this form
    /// without judging it (an unknown address answers like a wrong password).
    pub fn normalise(raw: &str) -> String {
        raw.trim().to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: any string, never printed (`Debug` shows `[redacted]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "String")]
pub struct Password(Secret<String>);

impl From<String> for Password {
    fn from(raw: String) -> Self {
        Self(Secret::new(raw))
    }
}

impl Password {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A password acceptable for a new account: 8 to 128 characters, no composition rules
/// (NIST 800-63B).
#[derive(Clone, Debug)]
pub struct NewPassword(Password);

impl NewPassword {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 128;

    pub fn parse(password: Password) -> Result<Self, Invalid> {
        let detail = || {
            format!(
                "Passwords are {} to {} characters long.",
                Self::MIN_LEN,
                Self::MAX_LEN
            )
        };
        match password.expose().chars().count() {
            n if n < Self::MIN_LEN => Err(Invalid::new("password_too_short", detail())),
            n if n > Self::MAX_LEN => Err(Invalid::new("password_too_long", detail())),
            _ => Ok(Self(password)),
        }
    }

    pub fn into_password(self) -> Password {
        self.0
    }
}

/// What a name shown to other people may not contain, anywhere: control, format
/// (zero-width, bidi override, byte-order mark) and line/paragraph separator characters,
/// which let a name spoof another or break the page it is shown on.
fn refused_in_names(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

/// The same rule for the OpenAPI document (JSON Schema `pattern`, ECMA syntax): no refused
/// character, and at least one that is not white space. Kept beside [`refused_in_names`];
/// a test checks that they agree.
pub const NAME_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*[^\s\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB][^\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]*$";

/// 1 to `max` characters as typed (so the document's `maxLength` means what it says),
/// none refused, not only white space; stored trimmed and in NFC.
fn display_name(raw: &str, max: usize) -> Result<String, Invalid> {
    let len = raw.chars().count();
    if !(1..=max).contains(&len) || raw.trim().is_empty() {
        Err(Invalid::new(
            "invalid_name",
            format!("Names are 1 to {max} characters."),
        ))
    } else if raw.chars().any(refused_in_names) {
        Err(Invalid::new(
            "invalid_name",
            "Names may not contain control, invisible or text-direction characters.",
        ))
    } else {
        Ok(raw.trim().nfc().collect())
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                display_name(raw, Self::MAX_LEN).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A seller's company (the tenant's name).
    CompanyName,
    200
);
name_type!(
    /// What an API key is for ("ERP export").
    KeyName,
    100
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_once_and_checked() {
        assert_eq!(
            Email::parse(" Seller@Shop.RU ").unwrap().as_str(),
            "seller@shop.ru"
        );
        for bad in [
            "", "no-at", "a@b", "a@.b.c", "a@b..c", "a b@c.d", "@c.d", "a@b@c.d",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                "invalid_email",
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_never_print_and_count_characters() {
        let p = Password::from("hunter2-hunter2".to_string());
        assert!(!format!("{p:?}").contains("hunter2"));
        let new = |s: String| NewPassword::parse(Password::from(s)).map(|_| ());
        assert_eq!(
            new("1234567".into()).unwrap_err().code,
            "password_too_short"
        );
        assert!(new("12345678".into()).is_ok());
        assert!(new("я".repeat(128)).is_ok());
        assert_eq!(new("x".repeat(129)).unwrap_err().code, "password_too_long");
    }

    #[test]
    fn names_are_trimmed_nfc_and_refuse_spoofing_characters() {
        assert_eq!(
            CompanyName::parse("  ООО Ромашка ").unwrap().as_str(),
            "ООО Ромашка"
        );
        // "é" typed as e + combining acute is stored composed.
        assert_eq!(CompanyName::parse("Cafe\u{301}").unwrap().as_str(), "Café");
        assert!(CompanyName::parse("   ").is_err());
        assert!(CompanyName::parse(&"x".repeat(201)).is_err());
        assert!(KeyName::parse(&"x".repeat(101)).is_err());
        for c in [
            '\u{0}', '\u{202E}', '\u{200B}', '\u{FEFF}', '\u{2028}', '\t',
        ] {
            assert!(CompanyName::parse(&format!("a{c}b")).is_err(), "{c:?}");
            assert!(CompanyName::parse(&format!("ab{c}")).is_err(), "{c:?}");
        }
    }

    #[test]
    fn the_documented_pattern_agrees_with_the_rule() {
        // JSON Schema's \u escapes and \s read the same in the regex crate for these.
        let pattern = regex::Regex::new(NAME_PATTERN).unwrap();
        let samples = [
            "ООО Ромашка",
            " a ",
            "a",
            "   ",
            "",
            "a\tb",
            "a\u{202E}b",
            "\u{FEFF}a",
            "a\u{2028}",
            "\u{00A0}x\u{3000}",
            "x\u{85}",
            "\u{200B}",
            "Café",
        ];
        for s in samples {
            assert_eq!(pattern.is_match(s), CompanyName::parse(s).is_ok(), "{s:?}");
        }
        for c in (0..0x3100u32).filter_map(char::from_u32) {
            let s = format!("x{c}");
            assert_eq!(
                pattern.is_match(&s),
                CompanyName::parse(&s).is_ok(),
                "{c:?}"
            );
        }
    }
}
