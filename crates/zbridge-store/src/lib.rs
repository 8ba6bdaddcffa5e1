//! Persistence for zbridge.
