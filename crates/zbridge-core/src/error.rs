//! The validation error shared by every rule in this crate.

use std::fmt;

/// A rule that user input broke: names the field (as the user sees it) and the rule.
///
/// Its `Display` is one line, for example
/// `Connection Name: must not contain '/' or ':'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The field as the user knows it (a screen label such as `Connection Name`).
    pub field: String,
    /// The rule that failed, phrased so the user knows what to do.
    pub rule: String,
}

impl ValidationError {
    /// Builds an error for `field` that broke `rule`.
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// A non-fatal finding made while validating input that was saved anyway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// The field the warning is about.
    pub field: String,
    /// What the user may want to do about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Edit distance between two strings, compared case-insensitively; used to suggest the closest
/// known spelling when a user mistypes a key or a value.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `input` by edit distance (ties: the first in `candidates`); used to
/// suggest the spelling a user probably meant.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .min_by_key(|c| edit_distance(input, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("URL", "url"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("PollInterval", "PolInterval"), 1);
    }

    #[test]
    fn closest_picks_the_nearest_candidate() {
        let keys = ["ReadTimeout", "ConnectTimeout", "PollInterval"];
        assert_eq!(closest("ReadTimout", keys), Some("ReadTimeout"));
        assert_eq!(closest("pollinterval", keys), Some("PollInterval"));
    }

    #[test]
    fn display_is_one_line_with_field_and_rule() {
        let e = ValidationError::new("Connection Name", "must not be empty");
        assert_eq!(e.to_string(), "Connection Name: must not be empty");
    }
}
