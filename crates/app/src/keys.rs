//! API keys: `sk_test_<id>_<secret>` or `sk_live_<id>_<secret>`. Only the SHA-256 of the secret
//! is stored; a presented key is looked up by its id and its secret compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use holdback_domain::AccountId;
use holdback_domain::party::PartyKind;
use holdback_store::{ApiKeyRow, KeyListing, Revocation};

use crate::ids::random_hex;
use crate::{App, AppError, Principal, Role};

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a key for a role (`platform`, `buyer`/`seller` with the id of a party that exists in
/// the mode, or `mediator` with a mediator's id: no party, so nothing to find, but shaped like a
/// party's id). Returns the whole key: it is shown once and cannot be recovered.
pub async fn create(app: &App, role: &Role, livemode: bool) -> Result<String, AppError> {
    let (kind, party) = match role {
        Role::Platform => ("platform", None),
        Role::Buyer(p) => ("buyer", Some(p)),
        Role::Seller(p) => ("seller", Some(p)),
        Role::Mediator(m) => ("mediator", Some(m)),
        Role::Retailer(r) => ("retailer", Some(r)),
        Role::Carrier(c) => ("carrier", Some(c)),
    };
    if let Some(p) = party {
        AccountId::parse(p)?;
    }
    match role {
        Role::Platform => {}
        Role::Buyer(p) => {
            crate::parties::existing(app, PartyKind::Buyer, livemode, p, "party").await?;
        }
        Role::Seller(p) => {
            crate::parties::existing(app, PartyKind::Seller, livemode, p, "party").await?;
        }
        // no party to find, but the id has a party id's shape
        Role::Mediator(m) | Role::Retailer(m) | Role::Carrier(m) => {
            holdback_domain::party::check_id(m)?;
        }
    }
    let id = random_hex()[..16].to_string();
    let secret = random_hex();
    app.store
        .insert_api_key(&ApiKeyRow {
            id: id.clone(),
            secret_sha256: sha256_hex(&secret),
            principal_kind: kind.to_string(),
            party_id: party.cloned(),
            livemode,
            created_at: app.clock.now_ms(),
        })
        .await?;
    let mode = if livemode { "live" } else { "test" };
    Ok(format!("sk_{mode}_{id}_{secret}"))
}

/// Who holds this key.
pub async fn authenticate(app: &App, key: &str) -> Result<Principal, AppError> {
    let (livemode, rest) = if let Some(rest) = key.strip_prefix("sk_test_") {
        (false, rest)
    } else if let Some(rest) = key.strip_prefix("sk_live_") {
        (true, rest)
    } else {
        return Err(AppError::Unauthenticated);
    };
    let (id, secret) = rest.split_once('_').ok_or(AppError::Unauthenticated)?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::Unauthenticated);
    }
    let row = app
        .store
        .active_api_key(id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let presented = sha256_hex(secret);
    let same: bool = presented
        .as_bytes()
        .ct_eq(row.secret_sha256.as_bytes())
        .into();
    if !same || row.livemode != livemode {
        return Err(AppError::Unauthenticated);
    }
    let role = match (row.principal_kind.as_str(), row.party_id) {
        ("platform", _) => Role::Platform,
        ("buyer", Some(p)) => Role::Buyer(p),
        ("seller", Some(p)) => Role::Seller(p),
        ("mediator", Some(m)) => Role::Mediator(m),
        ("retailer", Some(r)) => Role::Retailer(r),
        ("carrier", Some(c)) => Role::Carrier(c),
        _ => return Err(AppError::Unauthenticated),
    };
    Ok(Principal {
        key_id: row.id,
        role,
        livemode,
    })
}

/// Revokes a key by its id (the part after `sk_test_`/`sk_live_`): from now on it is refused as
/// unknown. Revoking a revoked key changes nothing and says when it was revoked.
pub async fn revoke(app: &App, id: &str) -> Result<Revocation, AppError> {
    Ok(app.store.revoke_api_key(id, app.clock.now_ms()).await?)
}

/// Every key, oldest first, without secrets.
pub async fn list(app: &App) -> Result<Vec<KeyListing>, AppError> {
    Ok(app.store.list_api_keys().await?)
}
