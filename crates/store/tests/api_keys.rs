//! API key rows survive the store, on SQLite and (when `HOLDBACK_TEST_POSTGRES_URL` is set)
//! PostgreSQL: a mediator's key (migration 0014 widened the kinds), and the keys written before
//! that migration rebuilt or altered the table.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_store::testing::TestDb;
use holdback_store::{ApiKeyRow, KeyListing, Revocation, Store};

fn key(id: &str, kind: &str, party: Option<&str>, created_at: i64) -> ApiKeyRow {
    ApiKeyRow {
        id: id.to_string(),
        secret_sha256: format!("{id:0>64}"),
        principal_kind: kind.to_string(),
        party_id: party.map(str::to_string),
        livemode: false,
        created_at,
    }
}

fn listed(k: &ApiKeyRow, revoked_at: Option<i64>) -> KeyListing {
    KeyListing {
        id: k.id.clone(),
        principal_kind: k.principal_kind.clone(),
        party_id: k.party_id.clone(),
        livemode: k.livemode,
        created_at: k.created_at,
        revoked_at,
    }
}

#[tokio::test]
async fn a_mediator_key_round_trips_and_an_unknown_kind_is_refused() {
    for db in TestDb::all("a_mediator_key_round_trips_and_an_unknown_kind_is_refused").await {
        let b = db.backend();
        let store = db.store().await.unwrap();
        let mut erin = key("me00000000000001", "mediator", Some("med_erin"), 1_000);
        erin.livemode = true;
        store.insert_api_key(&erin).await.unwrap();
        assert_eq!(
            store.api_key(&erin.id).await.unwrap().as_ref(),
            Some(&erin),
            "{b}"
        );
        assert_eq!(
            store.active_api_key(&erin.id).await.unwrap().as_ref(),
            Some(&erin),
            "{b}"
        );
        assert_eq!(
            store.list_api_keys().await.unwrap(),
            vec![listed(&erin, None)],
            "{b}"
        );
        assert_eq!(
            store.revoke_api_key(&erin.id, 2_000).await.unwrap(),
            Revocation::Revoked,
            "{b}"
        );
        assert_eq!(store.active_api_key(&erin.id).await.unwrap(), None, "{b}");
        assert_eq!(
            store.list_api_keys().await.unwrap(),
            vec![listed(&erin, Some(2_000))],
            "{b}"
        );
        // the database itself still knows only these kinds
        let stranger = key("me00000000000002", "stranger", Some("x_1"), 1_000);
        assert!(store.insert_api_key(&stranger).await.is_err(), "{b}");
        assert_eq!(store.api_key(&stranger.id).await.unwrap(), None, "{b}");
    }
}

#[tokio::test]
async fn keys_written_before_the_mediator_migration_survive_it() {
    for db in TestDb::all("keys_written_before_the_mediator_migration_survive_it").await {
        let b = db.backend();
        let store = Store::connect(&db.url).await.unwrap();
        store.migrate_to(12).await.unwrap();
        let platform = key("ke00000000000001", "platform", None, 1_000);
        let alice = key("ke00000000000002", "buyer", Some("buy_alice"), 2_000);
        let bob = key("ke00000000000003", "seller", Some("sel_bob"), 3_000);
        for k in [&platform, &alice, &bob] {
            store.insert_api_key(k).await.unwrap();
        }
        store.revoke_api_key(&alice.id, 2_500).await.unwrap();
        // before the migration the database refuses a mediator's key
        let erin = key("ke00000000000004", "mediator", Some("med_erin"), 4_000);
        assert!(store.insert_api_key(&erin).await.is_err(), "{b}");

        let applied = store.migrate().await.unwrap();
        assert!(applied.contains(&"0014_mediator_keys"), "{b}: {applied:?}");
        assert_eq!(
            store.list_api_keys().await.unwrap(),
            vec![
                listed(&platform, None),
                listed(&alice, Some(2_500)),
                listed(&bob, None)
            ],
            "{b}"
        );
        for k in [&platform, &alice, &bob] {
            assert_eq!(store.api_key(&k.id).await.unwrap().as_ref(), Some(k), "{b}");
        }
        assert_eq!(store.active_api_key(&alice.id).await.unwrap(), None, "{b}");
        assert_eq!(
            store.revoke_api_key(&alice.id, 9_000).await.unwrap(),
            Revocation::AlreadyRevoked(2_500),
            "{b}"
        );
        store.insert_api_key(&erin).await.unwrap();
        assert_eq!(
            store.active_api_key(&erin.id).await.unwrap().as_ref(),
            Some(&erin),
            "{b}"
        );
        // a key id is still the primary key
        assert!(store.insert_api_key(&erin).await.is_err(), "{b}");
    }
}
