//! Names users give to things: connections, projects, variables, sync profiles and saved
//! queries.
//!
//! Every display name follows one rule ([`clean_name`]): trimmed, NFC-normalised (a composed
//! and a decomposed `Café` are the same name), bounded in length, not `.` or `..` (path
//! segments), and free of control characters and of characters that show as nothing or as a
//! plain space (zero-width characters, bidi controls, the BOM, the soft hyphen, unusual
//! spaces), so two names that look the same are the same name. Look names up with
//! [`lookup_key`], which is the `key()` of the parsed name.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::error::ValidationError;

/// Longest connection or project name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Defines a display name: the rules of [`clean_name`] with at most [`MAX_NAME_CHARS`]
/// characters and no `/` or `:`, compared case-insensitively through `key()`.
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
                clean_name(Self::FIELD, input, MAX_NAME_CHARS, &['/', ':']).map($name)
            }

            /// Rebuilds a name read back from the store as it was saved: a name saved before a
            /// rule was added stays readable (and can be renamed). Only emptiness is refused.
            pub fn from_stored(stored: &str) -> Result<Self, ValidationError> {
                let name = stored.trim();
                if name.is_empty() {
                    return Err(ValidationError::new(Self::FIELD, "must not be empty"));
                }
                Ok($name(name.to_string()))
            }

            /// The name as the user wrote it (trimmed, NFC).
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
    /// Rules: those of [`clean_name`] (trimmed, NFC, 1 to 100 characters, not `.` or `..`, no
    /// control, invisible or look-alike characters) and no `/` or `:`. Names are unique per
    /// kind of connection *case-insensitively*: compare [`ConnectionName::key`], never the
    /// display form.
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

/// The identity of a user-typed name as the store compares it: trimmed, NFC-normalised and in
/// lower case. For a valid name it equals the parsed name's `key()`, so lookups find a name
/// whichever Unicode form or capitalisation the user typed.
pub fn lookup_key(input: &str) -> String {
    input.trim().nfc().collect::<String>().to_lowercase()
}

/// Checks and normalises a display name for `field`: trimmed, NFC, 1 to `max_chars`
/// characters, not `.` or `..`, none of `forbidden`, no control characters and no invisible
/// or look-alike characters ([`invisible`]). Returns the normalised name.
pub fn clean_name(
    field: &str,
    input: &str,
    max_chars: usize,
    forbidden: &[char],
) -> Result<String, ValidationError> {
    let name: String = input.trim().nfc().collect();
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if name == "." || name == ".." {
        return Err(ValidationError::new(
            field,
            "must not be '.' or '..' (they name folders in paths)",
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
    check_visible(field, &name)
}

fn check_visible(field: &str, name: &str) -> Result<String, ValidationError> {
    match name
        .chars()
        .enumerate()
        .find_map(|(i, c)| invisible(c).map(|what| (i + 1, c, what)))
    {
        Some((position, c, what)) => Err(ValidationError::new(
            field,
            format!(
                "must not contain invisible or look-alike characters: U+{:04X} ({what}) at character {position}",
                u32::from(c)
            ),
        )),
        None => Ok(name.to_string()),
    }
}

/// What a character is, when it shows as nothing or as a plain space and so makes two
/// different names look the same; `None` for an ordinary character.
pub fn invisible(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00AD}' => "soft hyphen",
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{2060}' => "word joiner",
        '\u{FEFF}' => "byte order mark",
        '\u{200E}' | '\u{200F}' | '\u{061C}' => "bidirectional mark",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "bidirectional control",
        '\u{2061}'..='\u{2064}' | '\u{206A}'..='\u{206F}' => "invisible format character",
        '\u{034F}' => "combining grapheme joiner",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => "Hangul filler",
        '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' => "invisible letter or selector",
        '\u{2800}' => "blank Braille pattern",
        '\u{FFF9}'..='\u{FFFB}' => "interlinear annotation",
        '\u{1D173}'..='\u{1D17A}' => "musical format character",
        '\u{E0000}'..='\u{E007F}' => "tag character",
        c if c.is_whitespace() && c != ' ' => "a space other than the plain space",
        _ => return None,
    })
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
    fn invisible_and_look_alike_characters_are_refused() {
        let cases = [
            (
                "Zuora\u{200B}prod",
                "U+200B (zero-width space) at character 6",
            ),
            ("Zuora\u{200C}prod", "U+200C (zero-width non-joiner)"),
            ("Zuora\u{200D}prod", "U+200D (zero-width joiner)"),
            ("Zuora\u{2060}prod", "U+2060 (word joiner)"),
            ("\u{FEFF}Zuora", "U+FEFF (byte order mark) at character 1"),
            ("Zu\u{00AD}ora", "U+00AD (soft hyphen)"),
            ("Zuora\u{200E}", "U+200E (bidirectional mark)"),
            ("Zuora\u{200F}x", "U+200F (bidirectional mark)"),
            ("a\u{202A}b", "U+202A (bidirectional control)"),
            ("a\u{202E}b", "U+202E (bidirectional control)"),
            ("a\u{2066}b", "U+2066 (bidirectional control)"),
            ("a\u{2069}b", "U+2069 (bidirectional control)"),
            (
                "Zuora\u{00A0}prod",
                "U+00A0 (a space other than the plain space)",
            ),
        ];
        for (input, detail) in cases {
            let err = ConnectionName::parse(input).unwrap_err().to_string();
            let rule = "Connection Name: must not contain invisible or look-alike characters: ";
            assert!(err.starts_with(rule), "{input:?}: {err}");
            assert!(err.contains(detail), "{input:?}: {err}");
            assert!(ProjectName::parse(input).is_err(), "{input:?}");
        }
        for control in ["a\u{0000}b", "a\u{001B}b", "a\u{007F}b", "a\u{0085}b"] {
            let err = ConnectionName::parse(control).unwrap_err().to_string();
            assert_eq!(err, "Connection Name: must not contain control characters");
        }
    }

    #[test]
    fn dot_names_are_refused_as_path_segments() {
        for dots in [".", "..", " .. "] {
            let err = ConnectionName::parse(dots).unwrap_err().to_string();
            assert_eq!(
                err,
                "Connection Name: must not be '.' or '..' (they name folders in paths)"
            );
        }
        assert!(ConnectionName::parse("...").is_ok());
        assert!(ConnectionName::parse(".hidden").is_ok());
    }

    #[test]
    fn composed_and_decomposed_names_are_the_same_name() {
        let composed = ConnectionName::parse("Caf\u{00E9}").unwrap();
        let decomposed = ConnectionName::parse("Cafe\u{0301}").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.as_str(), "Caf\u{00E9}");
        assert_eq!(composed.key(), lookup_key("CAFE\u{0301}"));
        assert_eq!(lookup_key("  Caf\u{00E9} "), composed.key());
    }

    #[test]
    fn stored_names_are_read_back_as_saved() {
        let legacy = ConnectionName::from_stored("old\u{200B}name").unwrap();
        assert_eq!(legacy.as_str(), "old\u{200B}name");
        assert!(ConnectionName::from_stored("  ").is_err());
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
