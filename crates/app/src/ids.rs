//! Identifiers: `prefix_` + a time-ordered UUIDv7 (so that new rows append to their indexes),
//! and random secrets. The only place that makes UUIDs.

use std::sync::atomic::{AtomicU64, Ordering};

pub trait IdGen: Send + Sync {
    /// A new id such as `ord_0190a0f3c2b37c4e9d5e1f2a3b4c5d6e`.
    fn next(&self, prefix: &str) -> String;
}

/// Time-ordered random ids.
#[derive(Debug, Default)]
pub struct UuidIds;

impl IdGen for UuidIds {
    #[allow(clippy::disallowed_methods)]
    fn next(&self, prefix: &str) -> String {
        format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
    }
}

/// Deterministic ids for tests: `prefix_000001`, `prefix_000002`, …
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl IdGen for SequentialIds {
    fn next(&self, prefix: &str) -> String {
        format!("{prefix}_{:06}", self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// 122 random bits as 32 lower-case hex digits, from the operating system's generator.
#[allow(clippy::disallowed_methods)]
pub fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
