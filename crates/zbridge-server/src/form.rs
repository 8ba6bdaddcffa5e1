//! URL-encoded form bodies with repeated fields (the advanced-configuration rows), which
//! `axum::Form` cannot express.

/// The fields of a submitted form, in order.
#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Self {
        FormData(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or an empty string.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_their_order() {
        let form = FormData::parse(
            b"adv_key=URL&adv_value=http%3A%2F%2Fx&adv_key=PollInterval&adv_value=5&on=1",
        );
        assert_eq!(form.all("adv_key"), ["URL", "PollInterval"]);
        assert_eq!(form.all("adv_value"), ["http://x", "5"]);
        assert!(form.checked("on"));
        assert!(!form.checked("off"));
        assert_eq!(form.text("missing"), "");
    }
}
