//! Salesforce record ids: the 15 → 18 character checksum (salesforce-api.md §5) and the
//! simulator's id generator.
//!
//! This is the simulator's own implementation, written from the reference; it deliberately does
//! not share code with the client crates.

use std::fmt;

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An 18-character Salesforce id, stored inline so that a million of them stay cheap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SfId([u8; 18]);

impl SfId {
    /// Builds the 18-character id from a case-exact 15-character id.
    pub fn from_15(id15: &[u8; 15]) -> SfId {
        let mut out = [0u8; 18];
        out[..15].copy_from_slice(id15);
        for chunk in 0..3 {
            let mut n = 0usize;
            for j in 0..5 {
                if id15[chunk * 5 + j].is_ascii_uppercase() {
                    n |= 1 << j;
                }
            }
            out[15 + chunk] = SUFFIX_ALPHABET[n];
        }
        SfId(out)
    }

    /// Parses a 15- or 18-character id. An 18-character id is accepted in any letter case when
    /// its suffix restores the case (Salesforce treats 18-character ids case-insensitively).
    pub fn parse(s: &str) -> Option<SfId> {
        let b = s.as_bytes();
        if !b.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        match b.len() {
            15 => {
                let mut id15 = [0u8; 15];
                id15.copy_from_slice(b);
                Some(SfId::from_15(&id15))
            }
            18 => restore_case(b),
            _ => None,
        }
    }

    /// The id as a string slice (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The case-sensitive 15-character form.
    pub fn id15(&self) -> &str {
        &self.as_str()[..15]
    }

    /// The 3-character key prefix that names the object type.
    pub fn key_prefix(&self) -> &str {
        &self.as_str()[..3]
    }
}

fn restore_case(b: &[u8]) -> Option<SfId> {
    let mut id15 = [0u8; 15];
    for chunk in 0..3 {
        let suffix = b[15 + chunk].to_ascii_uppercase();
        let n = SUFFIX_ALPHABET.iter().position(|&c| c == suffix)?;
        for j in 0..5 {
            let c = b[chunk * 5 + j];
            id15[chunk * 5 + j] = if n & (1 << j) != 0 {
                if !c.is_ascii_alphabetic() {
                    return None;
                }
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
        }
    }
    Some(SfId::from_15(&id15))
}

impl fmt::Display for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SfId({})", self.as_str())
    }
}

/// Builds an id from a key prefix, a two-character instance code and a counter, the way real
/// ids are laid out (prefix, pod, reserved digit, 9-character sequence).
pub fn make_id(prefix: &str, pod: &str, counter: u64) -> SfId {
    let mut id15 = [b'0'; 15];
    id15[..3].copy_from_slice(&prefix.as_bytes()[..3]);
    id15[3..5].copy_from_slice(&pod.as_bytes()[..2]);
    let mut n = counter;
    for slot in id15[6..15].iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    SfId::from_15(&id15)
}

/// Encodes a number in base 62 with a fixed width (used for key prefixes and tokens).
pub fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Random base-62 text of the given length from a caller-supplied RNG.
pub fn random_base62(rng: &mut impl rand::Rng, len: usize) -> String {
    (0..len)
        .map(|_| BASE62[rng.random_range(0..62)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_checksums() {
        // Worked by hand from the algorithm in salesforce-api.md §5.2.
        assert_eq!(
            SfId::parse("001000000000000").unwrap().as_str(),
            "001000000000000AAA"
        );
        assert_eq!(
            SfId::parse("ABCDEabcde01234").unwrap().as_str(),
            "ABCDEabcde012345AA"
        );
        assert_eq!(
            SfId::parse("aAaAaBbBbB00000").unwrap().as_str(),
            "aAaAaBbBbB00000KVA"
        );
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(SfId::parse("00100000000000").is_none());
        assert!(SfId::parse("00100000000000!").is_none());
        assert!(SfId::parse("001000000000000AA9").is_none());
        // Suffix says the first character is upper case but it is a digit.
        assert!(SfId::parse("001000000000000BAA").is_none());
    }

    #[test]
    fn make_id_has_prefix_and_valid_suffix() {
        let id = make_id("001", "8a", 12345);
        assert_eq!(id.key_prefix(), "001");
        assert_eq!(SfId::parse(id.as_str()), Some(id));
        assert_eq!(SfId::parse(id.id15()), Some(id));
    }

    proptest! {
        #[test]
        fn restore_after_lowercasing(s in "[a-zA-Z0-9]{15}") {
            let id = SfId::parse(&s).unwrap();
            let lowered = id.as_str().to_ascii_lowercase();
            prop_assert_eq!(SfId::parse(&lowered), Some(id));
            prop_assert_eq!(id.id15(), s.as_str());
        }
    }
}
