//! `holdback keys revoke`, `holdback keys list` and `holdback parties create`.

use std::process::ExitCode;

use holdback_domain::party::{PartyInput, PartyKind};
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

#[derive(clap::Subcommand)]
pub enum PartiesCommand {
    /// Create a buyer or a seller and print it; an API key for it can be made after
    /// (`keys create --role buyer:ID`).
    Create {
        /// `buyer:ID` or `seller:ID` (1 to 32 characters of A-Z a-z 0-9 _ -).
        #[arg(long)]
        role: String,
        /// ISO 3166 country code, e.g. DE.
        #[arg(long)]
        country: String,
        /// In live mode instead of test mode.
        #[arg(long)]
        live: bool,
    },
}

pub async fn parties(database: &str, command: PartiesCommand) -> anyhow::Result<ExitCode> {
    let PartiesCommand::Create {
        role,
        country,
        live,
    } = command;
    let (kind, id) = match serve::parse_role(&role)? {
        holdback_app::Role::Buyer(id) => (PartyKind::Buyer, id),
        holdback_app::Role::Seller(id) => (PartyKind::Seller, id),
        holdback_app::Role::Platform
        | holdback_app::Role::Mediator(_)
        | holdback_app::Role::Retailer(_)
        | holdback_app::Role::Carrier(_) => {
            anyhow::bail!("a party is buyer:ID or seller:ID")
        }
    };
    let store = connect(database).await?;
    store.migrate().await?;
    let app = serve::app(store, holdback_app::Policy::default());
    let operator = holdback_app::Principal {
        key_id: "cli".to_string(),
        role: holdback_app::Role::Platform,
        livemode: live,
    };
    let input = PartyInput {
        id,
        country,
        ..PartyInput::default()
    };
    match holdback_app::parties::create(&app, &operator, kind, input, None).await {
        Ok(party) => {
            println!("{party}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("holdback: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
