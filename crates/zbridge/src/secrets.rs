//! Reading secrets from where the user keeps them: an environment variable, stdin, a prompt or
//! a file. A secret given as a plain argument works too, with a warning, because other users can
//! see it in the process list and it stays in shell history.

use std::cell::Cell;
use std::io::{BufRead, IsTerminal};

use secrecy::SecretString;

use crate::exit::UsageError;

/// Where a secret comes from, as written after `--…-from`: `env:NAME`, `stdin`, `prompt` or
/// `file:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// The first line of standard input.
    Stdin,
    /// A prompt on the terminal, without echo.
    Prompt,
    /// A file's contents, trailing newline removed.
    File(String),
}

impl std::str::FromStr for SecretSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdin" | "-" => Ok(SecretSource::Stdin),
            "prompt" => Ok(SecretSource::Prompt),
            _ => match s.split_once(':') {
                Some(("env", name)) if !name.is_empty() => Ok(SecretSource::Env(name.to_string())),
                Some(("file", path)) if !path.is_empty() => {
                    Ok(SecretSource::File(path.to_string()))
                }
                _ => Err(format!(
                    "'{s}' is not a secret source; use env:NAME, stdin, prompt or file:PATH"
                )),
            },
        }
    }
}

/// Reads secrets, allowing standard input to be consumed only once per command.
#[derive(Default)]
pub struct SecretReader {
    stdin_used: Cell<bool>,
}

impl SecretReader {
    /// Reads the secret for `flag` (used in messages) from `source`.
    pub fn read(&self, flag: &str, source: &SecretSource) -> anyhow::Result<SecretString> {
        let value = match source {
            SecretSource::Env(name) => std::env::var(name).map_err(|_| {
                UsageError(format!("{flag}: environment variable {name} is not set"))
            })?,
            SecretSource::Stdin => {
                if self.stdin_used.replace(true) {
                    return Err(UsageError(format!(
                        "{flag}: standard input was already read for another secret"
                    ))
                    .into());
                }
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
            SecretSource::Prompt => {
                if !std::io::stdin().is_terminal() {
                    return Err(UsageError(format!(
                        "{flag}: cannot prompt without a terminal; use env:NAME or stdin instead"
                    ))
                    .into());
                }
                rpassword::prompt_password(format!("{flag}: "))?
            }
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("{flag}: cannot read {path}: {e}")))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        };
        Ok(SecretString::from(value))
    }

    /// A secret given directly on the command line: accepted, with a warning.
    pub fn plain(&self, flag: &str, value: &str) -> SecretString {
        eprintln!(
            "warning: {flag} on the command line is visible in the process list and shell history; prefer {flag}-from env:NAME, stdin or prompt"
        );
        SecretString::from(value.to_string())
    }

    /// The secret from whichever of the two flags was given.
    pub fn either(
        &self,
        flag: &str,
        plain: Option<&str>,
        from: Option<&SecretSource>,
    ) -> anyhow::Result<Option<SecretString>> {
        match (plain, from) {
            (Some(_), Some(_)) => {
                Err(UsageError(format!("give {flag} or {flag}-from, not both")).into())
            }
            (Some(value), None) => Ok(Some(self.plain(flag, value))),
            (None, Some(source)) => self.read(flag, source).map(Some),
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!("env:X".parse(), Ok(SecretSource::Env("X".into())));
        assert_eq!("stdin".parse(), Ok(SecretSource::Stdin));
        assert_eq!("prompt".parse(), Ok(SecretSource::Prompt));
        assert_eq!(
            "file:/tmp/s".parse(),
            Ok(SecretSource::File("/tmp/s".into()))
        );
        assert!("env:".parse::<SecretSource>().is_err());
        assert!("vault:x".parse::<SecretSource>().is_err());
    }
}
