//! Salesforce record ids: the 15-character case-sensitive form and the 18-character form whose
//! 3-character suffix encodes the case of the first 15 characters (salesforce-api.md §5).
//!
//! Policy, the same for the client, the emulator and the UI:
//! - [`SalesforceId::parse`] accepts a 15-character id as typed, or an 18-character id whose
//!   suffix matches its first 15 characters **exactly as typed** (the suffix itself is compared
//!   case-insensitively, as Salesforce does). An 18-character id whose case was damaged (for
//!   example lower-cased by a spreadsheet) fails the checksum rule: user input is verified, never
//!   silently rewritten.
//! - [`SalesforceId::restore`] is the explicit repair for ids read from case-insensitive stores:
//!   the suffix tells the case of every letter, so the canonical id can be rebuilt.
//! - The stored and displayed form is always the canonical 18-character id.
//!
//! Worked example (by hand, from the algorithm): `001A0000006Vm9r` splits into `001A0`,
//! `00000` and `6Vm9r`. Their uppercase masks, leftmost character = bit 0, are 8 (`A` at
//! position 3), 0 and 2 (`V` at position 1), which index `I`, `A` and `C` in
//! `ABCDEFGHIJKLMNOPQRSTUVWXYZ012345`: the 18-character id is `001A0000006Vm9rIAC`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The 32 characters a suffix character is drawn from: index n is the 5-bit case mask n.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Why a string is not a valid Salesforce id. Each message names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SalesforceIdError {
    /// Rule "length": 15 or 18 characters.
    #[error("Salesforce ID must be 15 or 18 characters long, got {0}")]
    Length(usize),
    /// Rule "characters": ASCII letters and digits only.
    #[error(
        "Salesforce ID may contain only ASCII letters and digits, found {found:?} at position {position}"
    )]
    Characters {
        /// 1-based position of the first offending character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Rule "checksum": the 3-character suffix of an 18-character id must match its first 15.
    #[error(
        "Salesforce ID checksum does not match: suffix {found} but the first 15 characters give {expected} (was the ID's letter case changed?)"
    )]
    Checksum {
        /// The suffix computed from the first 15 characters.
        expected: String,
        /// The suffix that was given.
        found: String,
    },
    /// Rule "restore": a case-damaged id can be repaired only if its suffix is consistent.
    #[error("Salesforce ID cannot be restored: {0}")]
    Restore(&'static str),
    /// Rule "prefix": the key prefix names the wrong object type.
    #[error("Salesforce ID has key prefix {found}, expected {expected} ({object})")]
    Prefix {
        /// The 3-character prefix that was found.
        found: String,
        /// The expected prefix.
        expected: &'static str,
        /// What the expected prefix stands for.
        object: &'static str,
    },
}

/// A 3-character key prefix that names an object type (salesforce-api.md §5.4).
/// Prefixes are case-sensitive (`00e` is Profile, `00E` is UserRole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPrefix {
    /// The three characters.
    pub prefix: &'static str,
    /// The object the prefix stands for, used in error messages.
    pub object: &'static str,
}

impl KeyPrefix {
    /// `00D`: an Organization (Org ID).
    pub const ORGANIZATION: KeyPrefix = KeyPrefix {
        prefix: "00D",
        object: "Organization",
    };
    /// `005`: a User.
    pub const USER: KeyPrefix = KeyPrefix {
        prefix: "005",
        object: "User",
    };
    /// `001`: an Account.
    pub const ACCOUNT: KeyPrefix = KeyPrefix {
        prefix: "001",
        object: "Account",
    };
    /// `003`: a Contact.
    pub const CONTACT: KeyPrefix = KeyPrefix {
        prefix: "003",
        object: "Contact",
    };
}

/// A verified Salesforce id, stored in its canonical 18-character form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SalesforceId([u8; 18]);

impl SalesforceId {
    /// Parses a 15-character id, or an 18-character id whose checksum matches (strict: see the
    /// module documentation for why case-damaged ids are rejected here).
    pub fn parse(input: &str) -> Result<Self, SalesforceIdError> {
        let bytes = check_shape(input)?;
        let mut id = [0u8; 18];
        id[..15].copy_from_slice(&bytes[..15]);
        id[15..].copy_from_slice(&suffix_of(&bytes[..15]));
        if bytes.len() == 18 {
            let found = bytes[15..].to_ascii_uppercase();
            if found != id[15..] {
                return Err(SalesforceIdError::Checksum {
                    expected: ascii(&id[15..]),
                    found: ascii(&bytes[15..]),
                });
            }
        }
        Ok(SalesforceId(id))
    }

    /// Repairs an 18-character id whose letter case was lost, using the suffix as the record
    /// of each letter's case. Correct ids come back unchanged.
    pub fn restore(input: &str) -> Result<Self, SalesforceIdError> {
        let bytes = check_shape(input)?;
        if bytes.len() != 18 {
            return Err(SalesforceIdError::Restore(
                "only an 18-character ID carries its case",
            ));
        }
        let mut id = [0u8; 18];
        for chunk in 0..3 {
            let suffix_char = bytes[15 + chunk].to_ascii_uppercase();
            let Some(mask) = SUFFIX_ALPHABET.iter().position(|&c| c == suffix_char) else {
                return Err(SalesforceIdError::Restore(
                    "suffix characters must be letters or the digits 0-5",
                ));
            };
            for j in 0..5 {
                let c = bytes[chunk * 5 + j];
                id[chunk * 5 + j] = if mask & (1 << j) != 0 {
                    if !c.is_ascii_alphabetic() {
                        return Err(SalesforceIdError::Restore(
                            "the suffix marks a digit as an uppercase letter",
                        ));
                    }
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
            }
            id[15 + chunk] = suffix_char;
        }
        Ok(SalesforceId(id))
    }

    /// The canonical 18-character form.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII alphanumerics by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The canonical 18-character form (the storage and display form).
    pub fn to18(&self) -> &str {
        self.as_str()
    }

    /// The case-sensitive 15-character form. Safe because the case has been verified.
    pub fn to15(&self) -> &str {
        &self.as_str()[..15]
    }

    /// The 3-character key prefix naming the object type.
    pub fn key_prefix(&self) -> &str {
        &self.as_str()[..3]
    }

    /// Checks that the id belongs to the expected object type.
    pub fn expect_prefix(&self, expected: KeyPrefix) -> Result<(), SalesforceIdError> {
        if self.key_prefix() == expected.prefix {
            Ok(())
        } else {
            Err(SalesforceIdError::Prefix {
                found: self.key_prefix().to_owned(),
                expected: expected.prefix,
                object: expected.object,
            })
        }
    }

    /// Parses an id and checks its key prefix in one step (Org ID, User ID fields).
    pub fn parse_with_prefix(input: &str, expected: KeyPrefix) -> Result<Self, SalesforceIdError> {
        let id = Self::parse(input)?;
        id.expect_prefix(expected)?;
        Ok(id)
    }
}

/// The canonical 18-character form of an id given in either form (an 18-character id is
/// verified as by [`SalesforceId::parse`]).
pub fn to18(input: &str) -> Result<String, SalesforceIdError> {
    SalesforceId::parse(input).map(|id| id.as_str().to_owned())
}

fn check_shape(input: &str) -> Result<&[u8], SalesforceIdError> {
    let count = input.chars().count();
    if count != 15 && count != 18 {
        return Err(SalesforceIdError::Length(count));
    }
    if let Some((position, found)) = input
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
    {
        return Err(SalesforceIdError::Characters {
            position: position + 1,
            found,
        });
    }
    Ok(input.as_bytes())
}

/// The checksum suffix of 15 id characters (salesforce-api.md §5.2): the leftmost character
/// of each 5-character chunk is the least-significant bit of that chunk's case mask.
fn suffix_of(id15: &[u8]) -> [u8; 3] {
    let mut suffix = [0u8; 3];
    for (chunk, out) in suffix.iter_mut().enumerate() {
        let mask = id15[chunk * 5..chunk * 5 + 5]
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |mask, (j, _)| mask | (1 << j));
        *out = SUFFIX_ALPHABET[mask];
    }
    suffix
}

fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SalesforceId {
    type Err = SalesforceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for SalesforceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SalesforceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Suffixes computed by hand from salesforce-api.md §5.2 (leftmost character of a chunk is
    // bit 0, alphabet ABCDEFGHIJKLMNOPQRSTUVWXYZ012345):
    //   001A0 00000 6Vm9r : A@3 -> 8 'I' ; none -> 'A' ; V@1 -> 2 'C'          => IAC
    //   00D5g 00000 ABCDE : D@2 -> 4 'E' ; none -> 'A' ; all -> 31 '5'         => EA5
    //   005xx 00000 1Sv6e : none 'A' ; none 'A' ; S@1 -> 2 'C'                   => AAC
    //   ABcde 12345 xYz9Q : A@0,B@1 -> 3 'D' ; digits 'A' ; Y@1,Q@4 -> 18 'S'    => DAS
    //   aBcDE ...         : B@1,D@3,E@4 -> 2+8+16 = 26 -> '0' (first digit of the alphabet)
    //   0000A 0000B 0000C : bit 4 each -> 16 'Q'                                 => QQQ
    const FIXTURES: &[(&str, &str)] = &[
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("00D5g00000ABCDE", "00D5g00000ABCDEEA5"),
        ("005xx000001Sv6e", "005xx000001Sv6eAAC"),
        ("ABcde12345xYz9Q", "ABcde12345xYz9QDAS"),
        ("aBcDE00000aBcDE", "aBcDE00000aBcDE0A0"),
        ("0000A0000B0000C", "0000A0000B0000CQQQ"),
        ("aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA"),
        ("AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAA555"),
    ];

    #[test]
    fn hand_computed_suffixes() {
        for (id15, id18) in FIXTURES {
            assert_eq!(to18(id15).unwrap(), *id18, "suffix of {id15}");
            assert_eq!(SalesforceId::parse(id15).unwrap().as_str(), *id18);
            assert_eq!(SalesforceId::parse(id18).unwrap().to15(), *id15);
        }
    }

    #[test]
    fn suffix_is_case_insensitive() {
        let id = SalesforceId::parse("ABcde12345xYz9Qdas").unwrap();
        assert_eq!(id.as_str(), "ABcde12345xYz9QDAS");
    }

    #[test]
    fn errors_name_the_rule() {
        let err = SalesforceId::parse("001A0000006Vm9").unwrap_err();
        assert_eq!(err, SalesforceIdError::Length(14));
        assert!(err.to_string().contains("15 or 18 characters"));

        let err = SalesforceId::parse("001A0000006Vm9-").unwrap_err();
        assert_eq!(
            err,
            SalesforceIdError::Characters {
                position: 15,
                found: '-'
            }
        );
        assert!(err.to_string().contains("letters and digits"));

        let err = SalesforceId::parse("001a0000006vm9rIAC").unwrap_err();
        assert!(matches!(err, SalesforceIdError::Checksum { .. }));
        assert!(err.to_string().contains("checksum"), "{err}");

        let err = SalesforceId::parse("001A0000006Vm9rIAD").unwrap_err();
        assert_eq!(
            err,
            SalesforceIdError::Checksum {
                expected: "IAC".into(),
                found: "IAD".into()
            }
        );

        let err = SalesforceId::parse("00éA0000006Vm9r").unwrap_err();
        assert!(matches!(
            err,
            SalesforceIdError::Characters { position: 3, .. }
        ));
    }

    #[test]
    fn prefix_checks() {
        let org = SalesforceId::parse("00D5g00000ABCDE").unwrap();
        assert_eq!(org.key_prefix(), "00D");
        assert!(org.expect_prefix(KeyPrefix::ORGANIZATION).is_ok());
        let err = org.expect_prefix(KeyPrefix::USER).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Salesforce ID has key prefix 00D, expected 005 (User)"
        );
        assert!(SalesforceId::parse_with_prefix("005xx000001Sv6e", KeyPrefix::USER).is_ok());
        assert!(SalesforceId::parse_with_prefix("001A0000006Vm9r", KeyPrefix::ACCOUNT).is_ok());
        // Prefixes are case-sensitive: 00d is not 00D.
        let lower = SalesforceId::parse("00d5g00000ABCDE").unwrap();
        assert!(lower.expect_prefix(KeyPrefix::ORGANIZATION).is_err());
    }

    #[test]
    fn restore_repairs_case_damage() {
        let id = SalesforceId::restore("001a0000006vm9riac").unwrap();
        assert_eq!(id.as_str(), "001A0000006Vm9rIAC");
        assert_eq!(SalesforceId::restore("001A0000006VM9RIAC").unwrap(), id);
        assert!(matches!(
            SalesforceId::restore("001A0000006Vm9r"),
            Err(SalesforceIdError::Restore(_))
        ));
        // '5' = mask 31 claims all five characters are letters, but chunk 1 holds digits.
        assert!(matches!(
            SalesforceId::restore("001a0000006vm9r5AC"),
            Err(SalesforceIdError::Restore(_))
        ));
        // '9' is not in the suffix alphabet.
        assert!(matches!(
            SalesforceId::restore("001a0000006vm9r9AC"),
            Err(SalesforceIdError::Restore(_))
        ));
    }

    #[test]
    fn serde_uses_the_canonical_form() {
        let id = SalesforceId::parse("001A0000006Vm9r").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"001A0000006Vm9rIAC\"");
        let back: SalesforceId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<SalesforceId>("\"001a0000006vm9rIAC\"").is_err());
        assert_eq!(id.to_string(), "001A0000006Vm9rIAC");
    }

    fn id15() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]{15}"
    }

    proptest! {
        #[test]
        fn round_trip_15_18_15(s in id15()) {
            let id = SalesforceId::parse(&s).unwrap();
            prop_assert_eq!(id.to15(), s.as_str());
            let again = SalesforceId::parse(id.to18()).unwrap();
            prop_assert_eq!(again, id);
        }

        #[test]
        fn suffix_case_does_not_matter(s in id15()) {
            let canonical = to18(&s).unwrap();
            let lowered_suffix = format!("{}{}", &s, canonical[15..].to_ascii_lowercase());
            let parsed = SalesforceId::parse(&lowered_suffix).unwrap();
            prop_assert_eq!(parsed.as_str(), canonical.as_str());
        }

        #[test]
        fn restore_of_lowercased_is_canonical(s in id15()) {
            let canonical = to18(&s).unwrap();
            let restored = SalesforceId::restore(&canonical.to_ascii_lowercase()).unwrap();
            prop_assert_eq!(restored.as_str(), canonical.as_str());
            let restored = SalesforceId::restore(&canonical.to_ascii_uppercase()).unwrap();
            prop_assert_eq!(restored.as_str(), canonical.as_str());
        }

        #[test]
        fn wrong_suffix_is_rejected(s in id15(), wrong in "[A-Z0-5]{3}") {
            let canonical = to18(&s).unwrap();
            prop_assume!(wrong != canonical[15..]);
            let err = SalesforceId::parse(&format!("{s}{wrong}")).unwrap_err();
            prop_assert!(
                matches!(err, SalesforceIdError::Checksum { .. }),
                "unexpected error {:?}", err
            );
        }

        #[test]
        fn case_damage_is_rejected_by_parse(s in id15()) {
            let canonical = to18(&s).unwrap();
            let flipped: String = canonical[..15]
                .chars()
                .map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() })
                .collect();
            prop_assume!(flipped != canonical[..15]);
            let damaged = format!("{flipped}{}", &canonical[15..]);
            prop_assert!(SalesforceId::parse(&damaged).is_err());
        }
    }
}
