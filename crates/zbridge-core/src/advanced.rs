//! Advanced configuration properties: the connector's ordered key-value table.
//!
//! Keys are case-insensitive and must be one of [`KNOWN_KEYS`]; an unknown key is an error that
//! names the closest known key, so a typo never becomes a silently ignored setting. Values may
//! contain `[variable]` references; a literal value is checked when it is saved, and every value
//! again after expansion, when the connection is used.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ValidationError, closest};
use crate::variables;

/// How a known key's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Any text.
    Text,
    /// An absolute `http://` or `https://` URL.
    Url,
    /// A whole number in a range.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A number of seconds in a range.
    Seconds {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// One of a fixed list, compared case-insensitively.
    Choice(&'static [&'static str]),
    /// A comma-separated list of entity UUIDs.
    EntityIds,
    /// A file path.
    Path,
}

/// A documented advanced property.
#[derive(Debug, Clone, Copy)]
pub struct KnownKey {
    /// The canonical spelling.
    pub name: &'static str,
    /// How the value is checked.
    pub kind: ValueKind,
    /// Whether the value is a secret (sealed at rest, never shown).
    pub secret: bool,
    /// The value used when the key is absent, if any.
    pub default: Option<&'static str>,
    /// What the key does, for `--help` and the UI.
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    kind: ValueKind,
    default: Option<&'static str>,
    doc: &'static str,
) -> KnownKey {
    KnownKey {
        name,
        kind,
        secret: false,
        default,
        doc,
    }
}

/// Every advanced property zbridge understands.
pub const KNOWN_KEYS: &[KnownKey] = &[
    key(
        "URL",
        ValueKind::Url,
        None,
        "REST base URL; overrides Tenant (APAC, Production Copy, a simulator)",
    ),
    key(
        "Region",
        ValueKind::Choice(&["US", "EU"]),
        None,
        "data-center region when URL is set; decides the zone of AQuA incrementalTime (US/Pacific or UTC)",
    ),
    key(
        "Zuora-Version",
        ValueKind::Text,
        None,
        "minor API version sent as the Zuora-Version header (e.g. 2025-08-12 or 341.0)",
    ),
    key(
        "Zuora-Entity-Ids",
        ValueKind::EntityIds,
        None,
        "entity UUID sent as Zuora-Entity-Ids, for multi-entity tenants",
    ),
    key(
        "Zuora-Org-Ids",
        ValueKind::Text,
        None,
        "comma-separated org ids sent as Zuora-Org-Ids (Multi-Org tenants)",
    ),
    key(
        "InitiateOAuth",
        ValueKind::Choice(&["OFF", "REFRESH", "GETANDREFRESH"]),
        Some("REFRESH"),
        "OFF uses OAuthAccessToken as given until it expires; REFRESH (or GETANDREFRESH) obtains and renews tokens",
    ),
    KnownKey {
        name: "OAuthAccessToken",
        kind: ValueKind::Text,
        secret: true,
        default: None,
        doc: "access token used as given when InitiateOAuth=OFF",
    },
    key(
        "OAuthSettingsLocation",
        ValueKind::Path,
        None,
        "file that caches this connection's OAuth token (mode 0600); by default the token is sealed in the store",
    ),
    key(
        "ConnectTimeout",
        ValueKind::Seconds { min: 1, max: 600 },
        Some("30"),
        "seconds to wait for a TCP and TLS connection",
    ),
    key(
        "ReadTimeout",
        ValueKind::Seconds { min: 1, max: 3600 },
        Some("130"),
        "seconds to wait for a response (Zuora times requests out at 120 s)",
    ),
    key(
        "DownloadIdleTimeout",
        ValueKind::Seconds { min: 1, max: 3600 },
        Some("300"),
        "seconds a result download may stall before it is retried",
    ),
    key(
        "MaxRetries",
        ValueKind::Integer { min: 0, max: 20 },
        Some("5"),
        "attempts after the first for 429, 5xx and network errors",
    ),
    key(
        "RetryMaxElapsed",
        ValueKind::Seconds {
            min: 1,
            max: 86_400,
        },
        Some("900"),
        "total seconds spent retrying one request",
    ),
    key(
        "PollInterval",
        ValueKind::Seconds { min: 1, max: 600 },
        Some("2"),
        "longest wait between job status polls during a job's first minute (polls start at 0.25 s and double)",
    ),
    key(
        "MaxPollInterval",
        ValueKind::Seconds { min: 1, max: 3600 },
        Some("60"),
        "longest wait between job status polls after the first minute",
    ),
    key(
        "JobTimeout",
        ValueKind::Seconds {
            min: 10,
            max: 172_800,
        },
        Some("14400"),
        "seconds a Data Query or AQuA job may run before it is cancelled",
    ),
    key(
        "MaxConcurrentJobs",
        ValueKind::Integer { min: 1, max: 50 },
        Some("5"),
        "jobs this tenant may run at once across zbridge (AQuA allows 50 for every integration together)",
    ),
    key(
        "SourceData",
        ValueKind::Choice(&["LIVE", "WAREHOUSE"]),
        Some("LIVE"),
        "Data Query source: LIVE, or WAREHOUSE where the tenant has it",
    ),
    key(
        "DataQueryOutputCap",
        ValueKind::Integer {
            min: 1,
            max: 50_000_000,
        },
        Some("500000"),
        "largest Data Query result; bigger exports are split so no job passes it",
    ),
    key(
        "AQuAMaxRowsPerJob",
        ValueKind::Integer {
            min: 1000,
            max: 100_000_000,
        },
        Some("5000000"),
        "rows one AQuA job should return at most before the window is split",
    ),
    key(
        "AQuAPartner",
        ValueKind::Text,
        None,
        "partner id from Zuora Support; with AQuAProject enables stateful AQuA (opt-in, for delete capture)",
    ),
    key(
        "AQuAProject",
        ValueKind::Text,
        None,
        "project name for stateful AQuA; changing it forces a full export",
    ),
    key(
        "NullReplacement",
        ValueKind::Text,
        None,
        "text AQuA writes for nulls, so that null and empty text can be told apart",
    ),
    key(
        "DescribeCacheTTL",
        ValueKind::Seconds {
            min: 0,
            max: 604_800,
        },
        Some("3600"),
        "seconds table lists and describes are cached",
    ),
    key(
        "DescribeConcurrency",
        ValueKind::Integer { min: 1, max: 16 },
        Some("4"),
        "describe calls run at once during discovery",
    ),
];

/// Finds a known key by any capitalisation.
pub fn known_key(name: &str) -> Option<&'static KnownKey> {
    KNOWN_KEYS
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(name.trim()))
}

/// Resolves `name` to a known key, or explains which known key was probably meant.
pub fn lookup_key(name: &str) -> Result<&'static KnownKey, ValidationError> {
    known_key(name).ok_or_else(|| {
        let suggestion = closest(name.trim(), KNOWN_KEYS.iter().map(|k| k.name))
            .map(|c| format!("; did you mean {c}?"))
            .unwrap_or_default();
        ValidationError::new(
            FIELD,
            format!(
                "unknown key '{}'{suggestion} (see 'zbridge connection keys' for the list)",
                name.trim()
            ),
        )
    })
}

/// The label of the table on screen and in errors.
pub const FIELD: &str = "Advanced Configurations";

/// One row of the table. The value of a secret key is kept out of this type (see
/// [`crate::connection`]): here it is only a marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// The canonical spelling of the key.
    pub key: String,
    /// The raw value, possibly with `[variable]` references; empty for a secret key.
    pub value: String,
}

/// The ordered key-value table. Each key appears at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AdvancedProperties {
    rows: Vec<Property>,
}

impl AdvancedProperties {
    /// The rows in order.
    pub fn rows(&self) -> &[Property] {
        &self.rows
    }

    /// The raw value of a key, by any capitalisation.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.rows[i].value.as_str())
    }

    /// Adds a row at the end; the key must be known and not present yet.
    pub fn add(&mut self, name: &str, value: &str) -> Result<(), ValidationError> {
        let known = lookup_key(name)?;
        if self.position(known.name).is_some() {
            return Err(ValidationError::new(
                field_of(known.name),
                "is already in the table; edit that row instead",
            ));
        }
        check_raw_value(known, value)?;
        self.rows.push(Property {
            key: known.name.to_string(),
            value: value.to_string(),
        });
        Ok(())
    }

    /// Changes the value of an existing row, keeping its place.
    pub fn edit(&mut self, name: &str, value: &str) -> Result<(), ValidationError> {
        let known = lookup_key(name)?;
        let index = self.position(known.name).ok_or_else(|| {
            ValidationError::new(field_of(known.name), "is not in the table; add it first")
        })?;
        check_raw_value(known, value)?;
        self.rows[index].value = value.to_string();
        Ok(())
    }

    /// Adds the row, or edits it when the key is present.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ValidationError> {
        let known = lookup_key(name)?;
        if self.position(known.name).is_some() {
            self.edit(known.name, value)
        } else {
            self.add(known.name, value)
        }
    }

    /// Deletes one row.
    pub fn delete(&mut self, name: &str) -> Result<(), ValidationError> {
        let known = lookup_key(name)?;
        let index = self
            .position(known.name)
            .ok_or_else(|| ValidationError::new(field_of(known.name), "is not in the table"))?;
        self.rows.remove(index);
        Ok(())
    }

    /// Deletes every row ("Clear All").
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Re-checks every row, e.g. after loading from a file.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_distinct_keys(self.rows.iter().map(|r| r.key.as_str()))?;
        for row in &self.rows {
            check_raw_value(lookup_key(&row.key)?, &row.value)?;
        }
        Ok(())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.key.eq_ignore_ascii_case(name.trim()))
    }
}

/// Refuses one input (a command's `--set` flags, a file's `[advanced]` table, a form's rows)
/// that gives a key twice, in any capitalisation: keys are case-insensitive, so the later row
/// would silently replace the earlier one. The error names both spellings.
pub fn check_distinct_keys<'a>(
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<(), ValidationError> {
    let mut seen: Vec<&str> = Vec::new();
    for key in keys.into_iter().map(str::trim) {
        if let Some(first) = seen.iter().find(|s| s.eq_ignore_ascii_case(key)) {
            let name = known_key(key).map_or(key, |k| k.name);
            return Err(ValidationError::new(
                field_of(name),
                format!(
                    "is given twice, as '{first}' and '{key}' (keys ignore case); give it once"
                ),
            ));
        }
        seen.push(key);
    }
    Ok(())
}

/// The field name of one row, for errors: `Advanced Configurations: ReadTimeout`.
pub fn field_of(key: &str) -> String {
    format!("{FIELD}: {key}")
}

/// Save-time check: a value with variable references is checked for syntax only; a literal
/// value must satisfy the key's rule.
fn check_raw_value(known: &KnownKey, value: &str) -> Result<(), ValidationError> {
    let field = field_of(known.name);
    if variables::references(&field, value)?.is_empty() {
        check_value(known, value)?;
    }
    Ok(())
}

/// Checks a literal (or expanded) value against the key's rule.
pub fn check_value(known: &KnownKey, value: &str) -> Result<(), ValidationError> {
    let field = field_of(known.name);
    let value = value.trim();
    if known.secret {
        return Ok(());
    }
    match known.kind {
        ValueKind::Text | ValueKind::Path => {
            if value.is_empty() {
                return Err(ValidationError::new(
                    field,
                    "must not be empty; delete the row instead",
                ));
            }
        }
        ValueKind::Url => check_url(&field, value)?,
        ValueKind::Integer { min, max } => {
            let n: i64 = value.parse().map_err(|_| {
                ValidationError::new(
                    &field,
                    format!("must be a whole number from {min} to {max}"),
                )
            })?;
            if !(min..=max).contains(&n) {
                return Err(ValidationError::new(
                    field,
                    format!("must be from {min} to {max}"),
                ));
            }
        }
        ValueKind::Seconds { min, max } => {
            let n: u64 = value.parse().map_err(|_| {
                ValidationError::new(
                    &field,
                    format!("must be a whole number of seconds from {min} to {max}"),
                )
            })?;
            if !(min..=max).contains(&n) {
                return Err(ValidationError::new(
                    field,
                    format!("must be from {min} to {max} seconds"),
                ));
            }
        }
        ValueKind::Choice(choices) => {
            if !choices.iter().any(|c| c.eq_ignore_ascii_case(value)) {
                return Err(ValidationError::new(
                    field,
                    format!("must be one of {}", choices.join(", ")),
                ));
            }
        }
        ValueKind::EntityIds => {
            for id in value.split(',') {
                if !is_uuid(id.trim()) {
                    return Err(ValidationError::new(
                        field,
                        "must be entity UUIDs (36 characters with hyphens), separated by commas",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks that `value` is an absolute http(s) URL with a host.
pub fn check_url(field: &str, value: &str) -> Result<(), ValidationError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| ValidationError::new(field, "must start with https:// or http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(ValidationError::new(
            field,
            "must name a host, as in https://rest.zuora.com",
        ));
    }
    Ok(())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Parses a seconds value that has already passed [`check_value`].
pub fn seconds(value: &str) -> Option<Duration> {
    value.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_stored_canonically() {
        let mut props = AdvancedProperties::default();
        props.add("readtimeout", "60").unwrap();
        assert_eq!(props.rows()[0].key, "ReadTimeout");
        assert_eq!(props.get("READTIMEOUT"), Some("60"));
        let err = props.add("ReadTimeout", "61").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Advanced Configurations: ReadTimeout: is already in the table; edit that row instead"
        );
    }

    #[test]
    fn a_key_given_twice_in_any_case_is_refused_naming_both_spellings() {
        let err = check_distinct_keys(["PollInterval", "URL", " pollinterval"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Advanced Configurations: PollInterval: is given twice, as 'PollInterval' and 'pollinterval' (keys ignore case); give it once"
        );
        assert!(check_distinct_keys(["PollInterval", "ReadTimeout"]).is_ok());
        let err = check_distinct_keys(["Nope", "NOPE"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("as 'Nope' and 'NOPE'"), "{err}");
        let stored: AdvancedProperties = serde_json::from_value(serde_json::json!([
            {"key": "PollInterval", "value": "5"},
            {"key": "pollinterval", "value": "6"}
        ]))
        .unwrap();
        let err = stored.validate().unwrap_err().to_string();
        assert!(
            err.contains("as 'PollInterval' and 'pollinterval'"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_name_the_closest_known_key() {
        let mut props = AdvancedProperties::default();
        let err = props.add("PolInterval", "5").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Advanced Configurations: unknown key 'PolInterval'; did you mean PollInterval? (see 'zbridge connection keys' for the list)"
        );
        let err = props.add("zuora-versoin", "1").unwrap_err().to_string();
        assert!(err.contains("did you mean Zuora-Version?"), "{err}");
    }

    #[test]
    fn add_edit_delete_and_clear_keep_order() {
        let mut props = AdvancedProperties::default();
        props.add("URL", "http://127.0.0.1:9000").unwrap();
        props.add("PollInterval", "1").unwrap();
        props.add("MaxRetries", "2").unwrap();
        props.edit("pollinterval", "3").unwrap();
        let keys: Vec<&str> = props.rows().iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["URL", "PollInterval", "MaxRetries"]);
        assert_eq!(props.get("PollInterval"), Some("3"));
        props.delete("URL").unwrap();
        assert!(props.edit("URL", "http://x").is_err());
        assert!(props.delete("URL").is_err());
        props.clear();
        assert!(props.rows().is_empty());
    }

    #[test]
    fn literal_values_are_checked_and_variables_are_deferred() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "ReadTimeout",
                "abc",
                Some(
                    "Advanced Configurations: ReadTimeout: must be a whole number of seconds from 1 to 3600",
                ),
            ),
            (
                "ReadTimeout",
                "0",
                Some("Advanced Configurations: ReadTimeout: must be from 1 to 3600 seconds"),
            ),
            ("ReadTimeout", "[timeout]", None),
            ("InitiateOAuth", "off", None),
            (
                "InitiateOAuth",
                "ALWAYS",
                Some(
                    "Advanced Configurations: InitiateOAuth: must be one of OFF, REFRESH, GETANDREFRESH",
                ),
            ),
            (
                "URL",
                "rest.zuora.com",
                Some("Advanced Configurations: URL: must start with https:// or http://"),
            ),
            ("URL", "https://[host]", None),
            (
                "URL",
                "https://[host",
                Some(
                    "Advanced Configurations: URL: '[' at position 9 is not closed; write [[ for a literal '['",
                ),
            ),
            (
                "Zuora-Entity-Ids",
                "1a2b7a37-3e7d-4cb3-b0e2-883de9e766cc",
                None,
            ),
            (
                "Zuora-Entity-Ids",
                "entity-1",
                Some(
                    "Advanced Configurations: Zuora-Entity-Ids: must be entity UUIDs (36 characters with hyphens), separated by commas",
                ),
            ),
            (
                "MaxConcurrentJobs",
                "51",
                Some("Advanced Configurations: MaxConcurrentJobs: must be from 1 to 50"),
            ),
        ];
        for (key, value, expected) in cases {
            let mut props = AdvancedProperties::default();
            let got = props.add(key, value).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), *expected, "{key}={value}");
        }
    }

    #[test]
    fn every_default_satisfies_its_own_rule() {
        for known in KNOWN_KEYS {
            if let Some(default) = known.default {
                check_value(known, default).unwrap();
            }
        }
    }
}
