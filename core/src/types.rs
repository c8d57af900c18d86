//! Newtypes that validate on construction: once you hold one, it is valid.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

use serde::{Deserialize, Serialize};

/// A field that failed validation: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error, reported under another field name (e.g. `emails[3]`).
    pub fn at(self, field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            ..self
        }
    }
}

/// Implements `Display`, `AsRef<str>`, `TryFrom<String>` and `Into<String>`
/// for a string newtype with a `parse` constructor, so serde validates too.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidField;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// An e-mail address: trimmed, and stored lower-cased so that comparison is
/// case-insensitive. Deliberately loose (one `@`, a dot in the domain, no
/// spaces): the mail service is the real judge of deliverability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Characters that show nothing, or reorder what is shown: zero-width
/// spaces and joiners, the word joiner, the byte-order mark, the soft hyphen
/// and the bidirectional controls. In an e-mail or a name they only make two
/// spellings of one thing, or hide one.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

impl Email {
    pub const MAX_LEN: usize = 254;

    /// Trimmed, Unicode NFC and lower case: one address, one spelling.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let mut email = String::with_capacity(raw.len());
        Self::normalise_into(raw, &mut email)?;
        Ok(Self(email))
    }

    /// What [`parse`](Self::parse) would hold, written into `email` (cleared
    /// first), so that a caller checking many addresses reuses one buffer.
    pub fn normalise_into(raw: &str, email: &mut String) -> Result<(), InvalidField> {
        let invalid = |why: &str| InvalidField::new("email", why);
        email.clear();
        let trimmed = raw.trim();
        let ascii = trimmed.is_ascii();
        if ascii {
            // NFC and Unicode lower case change nothing more in ASCII.
            email.push_str(trimmed);
            email.make_ascii_lowercase();
        } else {
            // `str::to_lowercase`, not per char: a final sigma lowers to ς.
            email.push_str(&trimmed.nfc().collect::<String>().to_lowercase());
        }
        if email.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if email.len() > Self::MAX_LEN {
            return Err(invalid("must be at most 254 characters"));
        }
        // In ASCII, white space and controls are the bytes up to the space,
        // and DEL; no invisible character is ASCII.
        let spaced = if ascii {
            email.bytes().any(|b| b <= b' ' || b == 0x7f)
        } else {
            email.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if spaced {
            return Err(invalid("must not contain spaces"));
        }
        if !ascii && email.chars().any(is_invisible) {
            return Err(invalid("must not contain invisible characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("must contain an @"));
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || !domain_ok {
            return Err(invalid("is not an e-mail address"));
        }
        Ok(())
    }
}
string_newtype!(Email);

// Lets a map keyed by addresses be asked with a normalised `&str`: the
// derived `Hash` and `Eq` are those of the inner string.
impl std::borrow::Borrow<str> for Email {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The name of a licence type, e.g. `standard`: 1-64 of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LicenceType(String);

impl LicenceType {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        parse_token(raw, 64)
            .map(Self)
            .map_err(|e| e.at("licence_type"))
    }
}
string_newtype!(LicenceType);

/// An id we generate or accept from a path: 1-64 of `[A-Za-z0-9_-]`, so it is
/// safe inside a store key (no `#`).
fn parse_token(raw: &str, max: usize) -> Result<String, InvalidField> {
    let value = raw.trim();
    if value.is_empty() || value.len() > max {
        return Err(InvalidField::new(
            "id",
            format!("must be 1 to {max} characters"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(InvalidField::new(
            "id",
            "may hold only letters, digits, '-' and '_'",
        ));
    }
    Ok(value.to_string())
}

macro_rules! id_newtype {
    ($name:ident, $field:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidField> {
                parse_token(raw, 64).map(Self).map_err(|e| e.at($field))
            }
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().simple().to_string())
            }
        }
        string_newtype!($name);
    };
}

id_newtype!(CompanyId, "company_id");
id_newtype!(PartnerId, "partner_id");
id_newtype!(OrderId, "order_id");
id_newtype!(ImportId, "import_id");

/// A number of seats in an order: at least 1, at most 1 000 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 1_000_000;

    pub fn new(value: u32) -> Result<Self, InvalidField> {
        if value == 0 || value > Self::MAX {
            return Err(InvalidField::new(
                "quantity",
                format!("must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = InvalidField;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for u32 {
    fn from(value: Quantity) -> u32 {
        value.0
    }
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let code = raw.trim();
        if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Self(code.to_string()))
        } else {
            Err(InvalidField::new(
                "currency",
                "must be an ISO 4217 code such as GBP",
            ))
        }
    }
}
string_newtype!(Currency);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ascii_space_or_control_is_refused_as_unicode_defines_them() {
        for c in (0u8..0x80).map(char::from) {
            let refused = Email::parse(&format!("a{c}b@x.io"))
                .err()
                .is_some_and(|e| e.reason == "must not contain spaces");
            assert_eq!(refused, c.is_whitespace() || c.is_control(), "{c:?}");
        }
    }

    #[test]
    fn email_is_one_spelling_and_shows_all_it_holds() {
        // "é" composed, and "e" then a combining acute: one address.
        let composed = Email::parse("ren\u{e9}@acme.io").unwrap();
        let decomposed = Email::parse("rene\u{301}@acme.io").unwrap();
        assert_eq!(composed, decomposed);
        for hidden in [
            "a\u{200B}b@acme.io",
            "\u{FEFF}ab@acme.io",
            "ab\u{202E}@acme.io",
        ] {
            assert!(Email::parse(hidden).is_err(), "{hidden:?}");
        }
    }

    #[test]
    fn email_is_trimmed_and_case_insensitive() {
        let a = Email::parse("  Ann.Lee@Example.COM ").unwrap();
        let b = Email::parse("ann.lee@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "ann.lee@example.com");
    }

    #[test]
    fn bad_emails_are_refused_with_a_reason() {
        for raw in [
            "",
            "  ",
            "ann",
            "ann@",
            "@x.com",
            "a b@x.com",
            "a@x",
            "a@@x.com",
            "a@x..com",
        ] {
            let err = Email::parse(raw).unwrap_err();
            assert_eq!(err.field, "email", "{raw:?}");
            assert!(!err.reason.is_empty());
        }
    }

    #[test]
    fn quantity_is_at_least_one() {
        assert!(Quantity::new(0).is_err());
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert!(Quantity::new(Quantity::MAX + 1).is_err());
    }

    #[test]
    fn currency_is_three_capitals() {
        assert_eq!(Currency::parse("GBP").unwrap().as_str(), "GBP");
        for raw in ["gbp", "GB", "GBPX", "G1P"] {
            assert!(Currency::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn ids_and_licence_types_refuse_key_separators() {
        assert!(CompanyId::parse("acme-1").is_ok());
        assert_eq!(CompanyId::parse("a#b").unwrap_err().field, "company_id");
        assert_eq!(LicenceType::parse("").unwrap_err().field, "licence_type");
        assert!(LicenceType::parse("standard").is_ok());
        let a = OrderId::generate();
        let b = OrderId::generate();
        assert!(a < b, "generated ids sort by time");
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        let e: Email = serde_json::from_str("\" X@Y.io \"").unwrap();
        assert_eq!(e.as_str(), "x@y.io");
    }
}
