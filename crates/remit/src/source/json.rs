//! JSON documents: an array of objects, or an object holding the array under `lines_key`.
//!
//! Number values are taken from their literal text in the document (serde_json's raw values),
//! never through a binary float. The first row handed out is a made-up header listing the
//! profile's column names, so JSON lines go through the same column mapping as CSV.

use std::collections::{HashMap, HashSet};

use serde_json::value::RawValue;

use super::{Cell, CellKind};
use crate::FileError;
use crate::profile::{Field, Profile};

fn value_cell(raw: &RawValue) -> Result<Cell, FileError> {
    let t = raw.get().trim();
    let bad = |e: serde_json::Error| FileError::Json(e.to_string());
    Ok(match t.as_bytes().first() {
        Some(b'"') => Cell::text(serde_json::from_str::<String>(t).map_err(bad)?),
        Some(b'n') => Cell::text(""),
        Some(b't' | b'f') => Cell::text(t),
        Some(b'{' | b'[') => Cell::text(t),
        _ => Cell {
            text: t.to_string(),
            kind: CellKind::Number {
                integer: !t.contains(['.', 'e', 'E']),
            },
        },
    })
}

/// Reads the document; returns the header row (row 0) followed by one row per object.
pub(crate) fn read_rows(text: &str, profile: &Profile) -> Result<Vec<(u64, Vec<Cell>)>, FileError> {
    let bad = |e: serde_json::Error| FileError::Json(e.to_string());
    let lines: Vec<HashMap<String, Box<RawValue>>> = match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map_err(bad)?,
        Some(b'{') => {
            let key = profile.lines_key.as_deref().ok_or_else(|| {
                FileError::Json("document is an object and the profile has no lines_key".into())
            })?;
            let mut top: HashMap<String, Box<RawValue>> =
                serde_json::from_str(text).map_err(bad)?;
            let inner = top
                .remove(key)
                .ok_or_else(|| FileError::Json(format!("document has no key {key:?}")))?;
            serde_json::from_str(inner.get()).map_err(bad)?
        }
        _ => return Err(FileError::Json("document is not an array or object".into())),
    };
    let wanted: Vec<(Field, String)> = Field::ALL
        .iter()
        .filter_map(|f| {
            profile
                .columns
                .get(*f)
                .map(|n| (*f, n.trim().to_lowercase()))
        })
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut rows = Vec::with_capacity(lines.len() + 1);
    rows.push((
        0,
        wanted.iter().map(|(_, n)| Cell::text(n.clone())).collect(),
    ));
    for (i, obj) in lines.iter().enumerate() {
        let folded: HashMap<String, &RawValue> = obj
            .iter()
            .map(|(k, v)| (k.trim().to_lowercase(), v.as_ref()))
            .collect();
        let mut cells = Vec::with_capacity(wanted.len());
        for (_, name) in &wanted {
            match folded.get(name) {
                Some(v) => {
                    seen.insert(name.clone());
                    cells.push(value_cell(v)?);
                }
                None => cells.push(Cell::text("")),
            }
        }
        rows.push((i as u64 + 1, cells));
    }
    if !lines.is_empty() {
        for (field, name) in &wanted {
            if !seen.contains(name) && matches!(field, Field::Tracking | Field::CodAmount) {
                return Err(FileError::MissingColumn {
                    name: profile.columns.get(*field).unwrap_or_default().to_string(),
                });
            }
        }
    }
    Ok(rows)
}
