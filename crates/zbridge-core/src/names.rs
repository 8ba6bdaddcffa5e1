//! Names users give to things: connections, projects and variables.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Longest connection or project name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Defines a display name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no `/`, `:` or
/// control characters, compared case-insensitively through `key()`.
macro_rules! display_name {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The label of this field on screen and in errors.
            pub const FIELD: &'static str = $field;

            /// Validates and normalises a user-supplied name.
            pub fn parse(input: &str) -> Result<Self, ValidationError> {
                parse_display_name(Self::FIELD, input, &['/', ':']).map($name)
            }

            /// The name as the user wrote it (trimmed).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The case-insensitive identity of the name, used for uniqueness.
            pub fn key(&self) -> String {
                self.0.to_lowercase()
            }
        }
    };
}

display_name!(
    /// The name of a connection, as the connector screen requires it.
    ///
    /// Rules: trimmed of surrounding white space; 1 to 100 characters; no `/` and no `:`; no
    /// control characters. Names are unique per kind of connection *case-insensitively*: compare
    /// [`ConnectionName::key`], never the display form.
    ConnectionName,
    "Connection Name"
);

display_name!(
    /// The name of a project: a named group of connections that shares project variables.
    /// The same rules as a connection name apply.
    ProjectName,
    "Project"
);

/// The name of a variable, as written between brackets: `[zuora_client_id]`.
///
/// Rules: 1 to 64 characters from `A-Z a-z 0-9 _ . -`, starting with a letter or `_`.
/// Variable names are case-insensitive: `[Region]` and `[region]` are the same variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VariableName(String);

impl VariableName {
    /// The label of this field on screen and in errors.
    pub const FIELD: &'static str = "Variable Name";
    /// Longest variable name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Validates a variable name (without brackets).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(ValidationError::new(Self::FIELD, "must not be empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                Self::FIELD,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if !Self::is_valid(name) {
            return Err(ValidationError::new(
                Self::FIELD,
                "must start with a letter or '_' and use only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(VariableName(name.to_string()))
    }

    /// Whether `name` is a well-formed variable name; used by the `[name]` scanner.
    pub(crate) fn is_valid(name: &str) -> bool {
        let mut chars = name.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        (first.is_ascii_alphabetic() || first == '_')
            && name.len() <= Self::MAX_CHARS
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the name.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn parse_display_name(
    field: &str,
    input: &str,
    forbidden: &[char],
) -> Result<String, ValidationError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.contains(forbidden) {
        let listed: Vec<String> = forbidden.iter().map(|c| format!("'{c}'")).collect();
        return Err(ValidationError::new(
            field,
            format!("must not contain {}", listed.join(" or ")),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

macro_rules! string_newtype_impls {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                <$t>::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl std::str::FromStr for $t {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }
    };
}

string_newtype_impls!(ConnectionName);
string_newtype_impls!(ProjectName);
string_newtype_impls!(VariableName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_names_follow_the_connector_rules() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("Zuora prod", Ok("Zuora prod")),
            ("  padded  ", Ok("padded")),
            ("", Err("Connection Name: must not be empty")),
            ("   ", Err("Connection Name: must not be empty")),
            ("a/b", Err("Connection Name: must not contain '/' or ':'")),
            ("a:b", Err("Connection Name: must not contain '/' or ':'")),
            (
                "tab\there",
                Err("Connection Name: must not contain control characters"),
            ),
        ];
        for (input, expected) in cases {
            let got = ConnectionName::parse(input).map_err(|e| e.to_string());
            match expected {
                Ok(name) => assert_eq!(got.as_ref().map(|n| n.as_str()), Ok(*name), "{input:?}"),
                Err(msg) => assert_eq!(
                    got.as_ref().map(|n| n.as_str()),
                    Err(&msg.to_string()),
                    "{input:?}"
                ),
            }
        }
    }

    #[test]
    fn connection_name_length_counts_characters_not_bytes() {
        let hundred = "é".repeat(100);
        assert!(ConnectionName::parse(&hundred).is_ok());
        let err = ConnectionName::parse(&"é".repeat(101)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Connection Name: must be at most 100 characters"
        );
    }

    #[test]
    fn name_keys_ignore_case() {
        let a = ConnectionName::parse("Zuora Prod").unwrap();
        let b = ConnectionName::parse("ZUORA prod").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn variable_names_are_identifiers() {
        for ok in ["a", "_x", "zuora.client-id", "Region2"] {
            assert!(VariableName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "has space", "semi;colon", "[x]"] {
            assert!(VariableName::parse(bad).is_err(), "{bad}");
        }
        assert!(VariableName::parse(&"a".repeat(65)).is_err());
    }
}
