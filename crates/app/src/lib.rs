//! The holdback shell.
