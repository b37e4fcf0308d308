//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;

use holdback_remit::{Collection, CollectionState, Collections, FileError, Profile, RawLine};

pub fn crate_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn profile(name: &str) -> Profile {
    let text = std::fs::read_to_string(crate_path(&format!("profiles/{name}.toml"))).unwrap();
    Profile::from_toml(&text).unwrap()
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(crate_path(&format!("tests/files/{name}"))).unwrap()
}

/// Reads every line, or the error that refused the file (from opening or from a line).
pub fn read_all(profile: &Profile, bytes: Vec<u8>) -> Result<Vec<RawLine>, FileError> {
    holdback_remit::open(profile, std::io::Cursor::new(bytes))?.collect()
}

/// An in-memory stand-in for the app's collections table.
#[derive(Default)]
pub struct Db {
    by_tracking: HashMap<String, Collection>,
    by_ref: HashMap<String, Collection>,
}

impl Db {
    pub fn add(
        &mut self,
        parcel: &str,
        tracking: &str,
        order_ref: &str,
        collected: i64,
        state: CollectionState,
    ) {
        let c = Collection {
            parcel: parcel.to_string(),
            tracking: tracking.to_string(),
            order_ref: order_ref.to_string(),
            collected,
            state,
            collected_at: None,
        };
        self.by_tracking.insert(tracking.to_string(), c.clone());
        self.by_ref.insert(order_ref.to_string(), c);
    }
}

impl Collections for Db {
    fn by_tracking(&mut self, tracking: &str) -> Option<Collection> {
        self.by_tracking.get(tracking).cloned()
    }
    fn by_order_ref(&mut self, order_ref: &str) -> Option<Collection> {
        self.by_ref.get(order_ref).cloned()
    }
}
