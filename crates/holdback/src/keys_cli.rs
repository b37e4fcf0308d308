//! `holdback keys revoke` and `holdback keys list`.

use std::process::ExitCode;

use holdback_store::Revocation;

use crate::{connect, serve};

/// The key id of `text`: a bare id, or a whole key `sk_test_<id>_<secret>`.
fn key_id(text: &str) -> &str {
    let rest = text
        .strip_prefix("sk_test_")
        .or_else(|| text.strip_prefix("sk_live_"));
    match rest {
        Some(rest) => rest.split_once('_').map_or(rest, |(id, _)| id),
        None => text,
    }
}

pub async fn revoke(database: &str, text: &str) -> anyhow::Result<ExitCode> {
    let store = connect(database).await?;
    store.migrate().await?;
    let app = serve::app(store, holdback_app::Policy::default());
    let id = key_id(text.trim());
    match holdback_app::keys::revoke(&app, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        Revocation::Revoked => {
            println!("revoked key {id}");
            Ok(ExitCode::SUCCESS)
        }
        Revocation::AlreadyRevoked(at) => {
            println!("key {id} was already revoked (at {at} ms); nothing changed");
            Ok(ExitCode::SUCCESS)
        }
        Revocation::Unknown => {
            eprintln!("holdback: no API key {id}");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn list(database: &str) -> anyhow::Result<ExitCode> {
    let store = connect(database).await?;
    store.migrate().await?;
    let app = serve::app(store, holdback_app::Policy::default());
    let keys = holdback_app::keys::list(&app)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for k in &keys {
        let role = match &k.party_id {
            Some(p) => format!("{}:{p}", k.principal_kind),
            None => k.principal_kind.clone(),
        };
        let mode = if k.livemode { "live" } else { "test" };
        let state = match k.revoked_at {
            Some(at) => format!("revoked at {at}"),
            None => "active".to_string(),
        };
        println!("{}  {mode}  {role:<40} {state}", k.id);
    }
    println!("{} key(s)", keys.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::key_id;

    #[test]
    fn a_key_id_is_taken_from_a_whole_key_or_given_bare() {
        assert_eq!(
            key_id("sk_test_0123456789abcdef_secret"),
            "0123456789abcdef"
        );
        assert_eq!(key_id("sk_live_0123456789abcdef_s_t"), "0123456789abcdef");
        assert_eq!(key_id("0123456789abcdef"), "0123456789abcdef");
    }
}
