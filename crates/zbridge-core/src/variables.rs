//! Variables and the `[name]` expansion of connection fields.
//!
//! A connection field may contain references such as `https://[host]/` or `[zuora_secret]`. They
//! are expanded when the connection is *used*, not when it is saved, so one saved connection can
//! serve several projects. The rules:
//!
//! - `[name]` is replaced by the value of variable `name` (names are case-insensitive);
//! - a *project* variable wins over a *global* variable of the same name;
//! - `[[` writes a literal `[` (a lone `]` is always literal);
//! - any other `[` is an error, so a typo never silently reaches Zuora;
//! - values are inserted verbatim and never expanded again, so variables cannot recurse;
//! - a reference to an undefined variable is a warning when saving and an error, naming the
//!   field, when the connection is used.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{ValidationError, Warning};
use crate::names::{ProjectName, VariableName};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text copied as is (with `[[` already turned into `[`).
    Literal(String),
    /// A `[name]` reference.
    Reference(VariableName),
}

/// Splits a field value into literal text and variable references.
///
/// `field` names the field in the error, which also gives the 1-based character position.
pub fn parse_template(field: &str, input: &str) -> Result<Vec<Segment>, ValidationError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = input.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c != '[' {
            literal.push(c);
            continue;
        }
        if chars.peek().map(|&(_, next)| next) == Some('[') {
            chars.next();
            literal.push('[');
            continue;
        }
        let rest = &input[offset + 1..];
        let position = input[..offset].chars().count() + 1;
        let Some(end) = rest.find(']') else {
            return Err(ValidationError::new(
                field,
                format!("'[' at position {position} is not closed; write [[ for a literal '['"),
            ));
        };
        let name = &rest[..end];
        if !VariableName::is_valid(name) {
            return Err(ValidationError::new(
                field,
                format!(
                    "'[{name}]' at position {position} is not a valid variable reference; write [[ for a literal '['"
                ),
            ));
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(std::mem::take(&mut literal)));
        }
        segments.push(Segment::Reference(VariableName::parse(name)?));
        for _ in 0..name.chars().count() + 1 {
            chars.next();
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

/// The variable names a field refers to, in order of appearance (duplicates kept once).
pub fn references(field: &str, input: &str) -> Result<Vec<VariableName>, ValidationError> {
    let mut names: Vec<VariableName> = Vec::new();
    for segment in parse_template(field, input)? {
        if let Segment::Reference(name) = segment
            && !names.iter().any(|n| n.key() == name.key())
        {
            names.push(name);
        }
    }
    Ok(names)
}

/// Where a variable is defined.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Visible to every connection.
    Global,
    /// Visible to the connections of one project; wins over a global variable of the same name.
    Project(ProjectName),
}

/// A named value that connection fields can refer to.
#[derive(Debug, Clone)]
pub struct Variable {
    /// The variable's name.
    pub name: VariableName,
    /// Where it is defined.
    pub scope: Scope,
    /// Its value. Kept as a secret in memory whether or not it is marked secret, so it never
    /// reaches a log by accident.
    pub value: SecretString,
    /// A secret variable is sealed at rest and never shown.
    pub secret: bool,
}

/// The variables visible from one connection: its project's and the global ones.
#[derive(Debug, Default, Clone)]
pub struct VariableScope {
    project: HashMap<String, Variable>,
    global: HashMap<String, Variable>,
}

impl VariableScope {
    /// Builds the scope from variables of any scope; project variables must belong to the
    /// connection's project (the caller selects them).
    pub fn new(variables: impl IntoIterator<Item = Variable>) -> Self {
        let mut scope = VariableScope::default();
        for variable in variables {
            let key = variable.name.key();
            match variable.scope {
                Scope::Global => scope.global.insert(key, variable),
                Scope::Project(_) => scope.project.insert(key, variable),
            };
        }
        scope
    }

    /// Looks a variable up: the project's first, then the global one.
    pub fn lookup(&self, name: &VariableName) -> Option<&Variable> {
        let key = name.key();
        self.project.get(&key).or_else(|| self.global.get(&key))
    }
}

/// The result of expanding a field.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// The expanded text.
    pub value: SecretString,
    /// Whether any secret variable contributed to the value.
    pub uses_secret: bool,
}

impl Expanded {
    /// The value of a field that is not secret. Callers must not log it when
    /// [`Expanded::uses_secret`] is set.
    pub fn into_plain(self) -> String {
        self.value.expose_secret().to_string()
    }
}

/// Expands every reference in `input`; an undefined variable is an error naming `field`.
pub fn expand(
    field: &str,
    input: &str,
    scope: &VariableScope,
) -> Result<Expanded, ValidationError> {
    let mut out = String::with_capacity(input.len());
    let mut uses_secret = false;
    for segment in parse_template(field, input)? {
        match segment {
            Segment::Literal(text) => out.push_str(&text),
            Segment::Reference(name) => {
                let variable = scope.lookup(&name).ok_or_else(|| undefined(field, &name))?;
                uses_secret |= variable.secret;
                out.push_str(variable.value.expose_secret());
            }
        }
    }
    Ok(Expanded {
        value: SecretString::from(out),
        uses_secret,
    })
}

/// Save-time checks of one field: syntax errors are errors; undefined variables are warnings,
/// and so is a secret variable used in a field that is not secret (its value could be shown).
pub fn check_field(
    field: &str,
    input: &str,
    field_is_secret: bool,
    scope: &VariableScope,
) -> Result<Vec<Warning>, ValidationError> {
    let mut warnings = Vec::new();
    for name in references(field, input)? {
        match scope.lookup(&name) {
            None => warnings.push(Warning {
                field: field.to_string(),
                message: format!(
                    "variable [{name}] is not defined yet; define it before the connection is used"
                ),
            }),
            Some(variable) if variable.secret && !field_is_secret => warnings.push(Warning {
                field: field.to_string(),
                message: format!(
                    "secret variable [{name}] is used in a field that is not secret; its value may be shown"
                ),
            }),
            Some(_) => {}
        }
    }
    Ok(warnings)
}

fn undefined(field: &str, name: &VariableName) -> ValidationError {
    ValidationError::new(
        field,
        format!(
            "variable [{name}] is not defined; define it with 'zbridge variable set {name} VALUE'"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str, scope: Scope, secret: bool) -> Variable {
        Variable {
            name: VariableName::parse(name).unwrap(),
            scope,
            value: SecretString::from(value.to_string()),
            secret,
        }
    }

    fn project() -> Scope {
        Scope::Project(ProjectName::parse("Billing").unwrap())
    }

    fn scope() -> VariableScope {
        VariableScope::new([
            var("host", "global.example", Scope::Global, false),
            var("host", "project.example", project(), false),
            var("region", "eu", Scope::Global, false),
            var("secret", "s3cr3t", Scope::Global, true),
            var("empty", "", Scope::Global, false),
        ])
    }

    /// Table-driven expansion cases: (input, expected output or error text).
    #[test]
    fn expansion_rules() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("plain text", Ok("plain text")),
            ("", Ok("")),
            ("[region]", Ok("eu")),
            ("[REGION]", Ok("eu")),
            ("https://[host]/v1", Ok("https://project.example/v1")),
            ("[region]-[region]", Ok("eu-eu")),
            ("[empty]x", Ok("x")),
            ("[[region]", Ok("[region]")),
            ("a[[b", Ok("a[b")),
            ("[[[region]", Ok("[eu")),
            ("closing ] alone", Ok("closing ] alone")),
            ("[secret]", Ok("s3cr3t")),
            (
                "[missing]",
                Err(
                    "URL: variable [missing] is not defined; define it with 'zbridge variable set missing VALUE'",
                ),
            ),
            (
                "x[",
                Err("URL: '[' at position 2 is not closed; write [[ for a literal '['"),
            ),
            (
                "[not valid]",
                Err(
                    "URL: '[not valid]' at position 1 is not a valid variable reference; write [[ for a literal '['",
                ),
            ),
            (
                "[]",
                Err(
                    "URL: '[]' at position 1 is not a valid variable reference; write [[ for a literal '['",
                ),
            ),
        ];
        let scope = scope();
        for (input, expected) in cases {
            let got = expand("URL", input, &scope)
                .map(|e| e.into_plain())
                .map_err(|e| e.to_string());
            assert_eq!(
                got,
                expected.map(str::to_string).map_err(str::to_string),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn project_variables_win_over_global_ones() {
        let only_global = VariableScope::new([var("host", "global.example", Scope::Global, false)]);
        assert_eq!(
            expand("URL", "[host]", &only_global).unwrap().into_plain(),
            "global.example"
        );
        assert_eq!(
            expand("URL", "[host]", &scope()).unwrap().into_plain(),
            "project.example"
        );
    }

    #[test]
    fn values_are_not_expanded_twice() {
        let scope = VariableScope::new([
            var("a", "[b]", Scope::Global, false),
            var("b", "boom", Scope::Global, false),
        ]);
        assert_eq!(expand("f", "[a]", &scope).unwrap().into_plain(), "[b]");
    }

    #[test]
    fn secret_use_is_tracked() {
        let scope = scope();
        assert!(expand("f", "x[secret]", &scope).unwrap().uses_secret);
        assert!(!expand("f", "[region]", &scope).unwrap().uses_secret);
    }

    #[test]
    fn save_time_checks_warn_instead_of_failing() {
        let scope = scope();
        let warnings = check_field("OAuth Client Id", "[missing]-[secret]", false, &scope).unwrap();
        let texts: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "OAuth Client Id: variable [missing] is not defined yet; define it before the connection is used",
                "OAuth Client Id: secret variable [secret] is used in a field that is not secret; its value may be shown",
            ]
        );
        assert!(
            check_field("OAuth Client Secret", "[secret]", true, &scope)
                .unwrap()
                .is_empty()
        );
        assert!(check_field("URL", "[oops", false, &scope).is_err());
    }

    #[test]
    fn references_are_listed_once_in_order() {
        let names = references("f", "[b][a][B][[c]").unwrap();
        let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
    }
}
