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
