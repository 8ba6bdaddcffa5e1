//! Printing results for people (tables) and for scripts (`--json`).

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A table with a header row, sized to the terminal.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    table
}

/// Prints warnings on stderr, one per line.
pub fn warnings(warnings: &[zbridge_core::Warning]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// "set" or "not set", the only way a secret is ever shown.
pub fn set_or_not(is_set: bool) -> &'static str {
    if is_set { "set" } else { "not set" }
}

/// Refuses a file to be written (`--output`, `--state`) whose folder does not exist, or that
/// is itself a folder, so the command stops before anything is sent (exit code 2).
pub fn check_writable_path(
    flag: &str,
    path: Option<&std::path::Path>,
) -> Result<(), crate::exit::UsageError> {
    let Some(path) = path else {
        return Ok(());
    };
    if path.is_dir() {
        return Err(crate::exit::UsageError(format!(
            "{flag}: {} is a folder; give a file name",
            path.display()
        )));
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    if folder.is_dir() {
        return Ok(());
    }
    let problem = if folder.exists() {
        "is not a folder"
    } else {
        "does not exist"
    };
    Err(crate::exit::UsageError(format!(
        "{flag}: the folder {} {problem}",
        folder.display()
    )))
}
