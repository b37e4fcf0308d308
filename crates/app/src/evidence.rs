//! Evidence files of disputes: a party adds a file to a dispute ([`add`]) and the dispute's
//! parties read it ([`open`], [`list`]).
//!
//! Adding is *check, store the bytes, record*: who may touch the dispute, then the content's
//! kind (sniffed from its bytes; the name and the declared type are not trusted), the size of
//! one file of that kind, the dispute's count and total (all refused by name before anything is
//! stored); then the bytes go to the [`crate::files::FileStore`] by hash, and the record is
//! inserted with the dispute's limits checked again inside the insert's transaction, so that
//! uploads racing past the first check still cannot pass the limits together (see
//! `holdback_store::evidence`). The loser of such a race leaves its bytes in the file store
//! with no record naming them (content-addressed, so never served).
//!
//! Who may see a dispute is the dispute's rule, not this module's: it comes in as a
//! [`DisputeAccess`]. Whoever it does not name gets the same answer as for a dispute or file
//! that does not exist.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use holdback_domain::evidence::{self, EvidenceError, EvidenceRole};
use holdback_store::{EvidenceInsert, EvidenceRow};
use serde_json::{Value, json};

use crate::{App, AppError, Principal, Role};

impl From<EvidenceError> for AppError {
    fn from(e: EvidenceError) -> Self {
        AppError::param(e.code(), "file", e.to_string())
    }
}

/// What the caller wants to do with a dispute's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    View,
    Add,
}

/// How a caller takes part in a dispute: the role and id its files are recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub role: EvidenceRole,
    pub id: String,
}

/// The dispute's rule of who may see and add its evidence.
pub trait DisputeAccess: Send + Sync {
    /// How `principal` takes part in dispute `dispute_id` of its own mode: `Ok(None)` when there
    /// is no such dispute or the principal is not its buyer, seller, mediator or the platform
    /// (answered as missing). For [`Purpose::Add`] it may refuse by name (a decided dispute
    /// takes no more evidence).
    fn standing<'a>(
        &'a self,
        app: &'a App,
        principal: &'a Principal,
        dispute_id: &'a str,
        purpose: Purpose,
    ) -> impl Future<Output = Result<Option<Standing>, AppError>> + Send + 'a;
}

/// Who takes part in one dispute, and the rule over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeParties {
    pub livemode: bool,
    pub buyer: String,
    pub seller: String,
    pub mediator: Option<String>,
}

impl DisputeParties {
    /// The dispute's buyer, its seller, its mediator (when it has one) and the platform of its
    /// mode; anyone else, and every key of the other mode, has none.
    pub fn standing(&self, principal: &Principal) -> Option<Standing> {
        if principal.livemode != self.livemode {
            return None;
        }
        let (role, id) = match &principal.role {
            Role::Platform => (EvidenceRole::Platform, "platform"),
            Role::Buyer(me) if *me == self.buyer => (EvidenceRole::Buyer, me.as_str()),
            Role::Seller(me) if *me == self.seller => (EvidenceRole::Seller, me.as_str()),
            Role::Mediator(me) if self.mediator.as_ref() == Some(me) => {
                (EvidenceRole::Mediator, me.as_str())
            }
            Role::Buyer(_)
            | Role::Seller(_)
            | Role::Mediator(_)
            | Role::Retailer(_)
            | Role::Carrier(_) => {
                return None;
            }
        };
        Some(Standing {
            role,
            id: id.to_string(),
        })
    }
}

/// Disputes known by id, with their parties: an access rule for tests and for wiring before the
/// disputes are stored.
#[derive(Debug, Clone, Default)]
pub struct KnownDisputes(pub Arc<HashMap<String, DisputeParties>>);

impl DisputeAccess for KnownDisputes {
    async fn standing<'a>(
        &'a self,
        _app: &'a App,
        principal: &'a Principal,
        dispute_id: &'a str,
        _purpose: Purpose,
    ) -> Result<Option<Standing>, AppError> {
        Ok(self
            .0
            .get(dispute_id)
            .and_then(|parties| parties.standing(principal)))
    }
}

/// A file added (`created`) or found as added before by the same uploader with the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub file: EvidenceRow,
    pub created: bool,
}

/// A file's content as it is served.
#[derive(Debug, Clone)]
pub struct Opened {
    pub file: EvidenceRow,
    pub bytes: Vec<u8>,
}

/// An id as ids are written (1 to 64 of `A-Za-z0-9_-.:`); any other text names nothing.
fn plausible_id(id: &str) -> bool {
    holdback_domain::TxId::parse(id).is_ok()
}

/// Adds `bytes`, named `file_name` by the client, to dispute `dispute_id`. See the module's
/// notes for the order of the checks.
pub async fn add(
    app: &App,
    access: &impl DisputeAccess,
    principal: &Principal,
    dispute_id: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<Added, AppError> {
    if !plausible_id(dispute_id) {
        return Err(AppError::NotFound);
    }
    let standing = access
        .standing(app, principal, dispute_id, Purpose::Add)
        .await?
        .ok_or(AppError::NotFound)?;
    let kind = evidence::sniff(&bytes)?;
    let size = bytes.len() as u64;
    let limits = app.policy.evidence;
    limits.check_file(kind, size)?;
    let sha256 = crate::files::sha256_hex(&bytes);
    let usage = app.store.evidence_usage(dispute_id).await?;
    if let Err(e) = limits.check_dispute(usage, size) {
        // a retry of an upload that was stored is answered with it, even at the limit
        let before = app
            .store
            .list_evidence(principal.livemode, dispute_id)
            .await?;
        return match before.into_iter().find(|f| {
            f.sha256 == sha256 && f.uploader_role == standing.role && f.uploader_id == standing.id
        }) {
            Some(file) => Ok(Added {
                file,
                created: false,
            }),
            None => Err(e.into()),
        };
    }
    let stored = app.files.put(Arc::from(bytes)).await?;
    if stored != sha256 {
        return Err(AppError::Internal(format!(
            "file store named {stored} content hashed {sha256}"
        )));
    }
    let row = EvidenceRow {
        id: app.ids.next("file"),
        livemode: principal.livemode,
        dispute_id: dispute_id.to_string(),
        uploader_role: standing.role,
        uploader_id: standing.id,
        sha256,
        kind,
        size,
        file_name: evidence::file_name(file_name, kind),
        created_at: app.clock.now_ms(),
    };
    match app.store.insert_evidence(&row, &limits).await? {
        EvidenceInsert::Created => Ok(Added {
            file: row,
            created: true,
        }),
        EvidenceInsert::Exists(file) => Ok(Added {
            file,
            created: false,
        }),
        EvidenceInsert::LimitReached(now) => Err(EvidenceError::LimitReached {
            files: now.files,
            bytes: now.bytes,
            size,
            max_files: limits.max_dispute_files,
            max_bytes: limits.max_dispute_bytes,
        }
        .into()),
    }
}

/// The content of file `file_id`, for the parties of its dispute; anyone else finds nothing.
pub async fn open(
    app: &App,
    access: &impl DisputeAccess,
    principal: &Principal,
    file_id: &str,
) -> Result<Opened, AppError> {
    if !plausible_id(file_id) {
        return Err(AppError::NotFound);
    }
    let file = app
        .store
        .evidence_file(principal.livemode, file_id)
        .await?
        .ok_or(AppError::NotFound)?;
    access
        .standing(app, principal, &file.dispute_id, Purpose::View)
        .await?
        .ok_or(AppError::NotFound)?;
    let bytes =
        app.files.read(&file.sha256).await?.ok_or_else(|| {
            AppError::Internal(format!("evidence {} names missing content", file.id))
        })?;
    Ok(Opened { file, bytes })
}

/// A dispute's files, in the order they came, for the parties of the dispute.
pub async fn list(
    app: &App,
    access: &impl DisputeAccess,
    principal: &Principal,
    dispute_id: &str,
) -> Result<Vec<EvidenceRow>, AppError> {
    if !plausible_id(dispute_id) {
        return Err(AppError::NotFound);
    }
    access
        .standing(app, principal, dispute_id, Purpose::View)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(app
        .store
        .list_evidence(principal.livemode, dispute_id)
        .await?)
}

/// The API object of a file (never its content).
pub fn view(f: &EvidenceRow) -> Value {
    json!({
        "id": f.id,
        "object": "file",
        "purpose": "dispute_evidence",
        "dispute": f.dispute_id,
        "kind": f.kind.code(),
        "type": f.kind.content_type(),
        "size": f.size,
        "filename": f.file_name,
        "sha256": f.sha256,
        "uploaded_by": {"role": f.uploader_role.code(), "id": f.uploader_id},
        "url": format!("/v1/files/{}", f.id),
        "created": f.created_at / 1000,
        "livemode": f.livemode,
    })
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
