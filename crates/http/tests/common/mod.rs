//! The harness the integration tests share: an app on a test database with a clock the tests
//! move, the API served on 127.0.0.1 port 0, keys for the usual parties, and request helpers.
//! Each test binary compiles this module on its own and uses only part of it.

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::sync::Arc;

use holdback_app::cards::CardConnector;
use holdback_app::ids::UuidIds;
use holdback_app::{App, Policy, Role, keys, parties};
use holdback_domain::party::{PartyInput, PartyKind};
use holdback_store::Store;
use holdback_store::clock::ManualClock;
use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const T0: i64 = 1_795_219_200_000; // 2026-11-21
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;
pub const VISA: &str = "4242424242424242";
/// The secret the tests' bank signs test-mode notifications with.
pub const BANK_SECRET: &str = "bank_test_secret_for_tests";
/// The secret the tests' sandbox wallets sign their callbacks with.
pub const WALLET_SECRET: &str = "wallet_test_secret_for_tests";

/// An app on `store` whose clock is `clock`, test mode paying through `cards` (the stateless
/// sandbox when `None`).
pub fn app_on(
    store: Store,
    clock: &ManualClock,
    policy: Policy,
    cards: Option<Arc<dyn CardConnector>>,
) -> App {
    App::new(
        store,
        Arc::new(clock.clone()),
        Arc::new(UuidIds),
        policy,
        cards.unwrap_or_else(|| App::stateless_cards(Arc::new(clock.clone()))),
    )
}

/// A test-mode buyer or seller `id` (in Germany), created unless it exists.
pub async fn ensure_party(app: &App, kind: PartyKind, id: &str) {
    let input = PartyInput {
        id: id.to_string(),
        country: "DE".to_string(),
        ..PartyInput::default()
    };
    parties::ensure(app, kind, input, false).await.unwrap();
}

/// The test-mode buyers and sellers every server starts with (a key or an order names only
/// parties that exist).
pub const PARTIES: &[(PartyKind, &str)] = &[
    (PartyKind::Buyer, "buy_alice"),
    (PartyKind::Buyer, "buy_dave"),
    (PartyKind::Seller, "sel_bob"),
    (PartyKind::Seller, "sel_carol"),
];

/// Alice buys from Bob (2 × 25.00) and Carol (19.99) with the given card.
pub fn cart(card: &str) -> Value {
    json!({
        "buyer": "buy_alice",
        "currency": "usd",
        "items": [
            {"seller": "sel_bob", "description": "tea set", "unit_amount": 2500, "quantity": 2},
            {"seller": "sel_carol", "description": "scarf", "unit_amount": 1999, "quantity": 1}
        ],
        "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    })
}

/// The API served on port 0 for an app, until dropped.
pub struct Node {
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn serve(app: &App) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(holdback_http::serve(listener, app.clone(), async {
        let _ = stopped.await;
    }));
    Node { base, _stop: stop }
}

/// The server of one test: its app, its clock, and a key for each of the usual parties.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub app: App,
    /// Test-mode keys: the platform, buyers alice and dave, sellers bob and carol.
    pub platform: String,
    pub alice: String,
    pub dave: String,
    pub bob: String,
    pub carol: String,
    /// A live-mode platform key.
    pub live_platform: String,
    /// Empty for a key the builder was told not to create (see [`Builder::keys`]).
    pub backend: &'static str,
    _node: Node,
}

/// The keys a [`Server`] can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Platform,
    Alice,
    Dave,
    Bob,
    Carol,
    LivePlatform,
}

/// Every key, the default.
pub const ALL_KEYS: [Key; 6] = [
    Key::Platform,
    Key::Alice,
    Key::Dave,
    Key::Bob,
    Key::Carol,
    Key::LivePlatform,
];

type CardsFor<'a> = Box<dyn FnOnce(&ManualClock) -> Arc<dyn CardConnector> + 'a>;

/// How to start a [`Server`]: by default the stateless sandbox in test mode and no live
/// provider.
pub struct Builder<'a> {
    db: &'a TestDb,
    cards: Option<CardsFor<'a>>,
    live: Option<Arc<dyn CardConnector>>,
    keys: &'a [Key],
    parties: bool,
}

impl<'a> Builder<'a> {
    /// No buyers or sellers at the start (for a test that creates its own); only keys that
    /// name no party can then be asked for.
    pub fn no_parties(mut self) -> Self {
        self.parties = false;
        self
    }

    /// The test-mode card connector, made on the server's clock.
    pub fn cards(
        mut self,
        cards: impl FnOnce(&ManualClock) -> Arc<dyn CardConnector> + 'a,
    ) -> Self {
        self.cards = Some(Box::new(cards));
        self
    }

    /// The live-mode card connector.
    pub fn live(mut self, live: Arc<dyn CardConnector>) -> Self {
        self.live = Some(live);
        self
    }

    /// Only these keys are created (for a test that counts them); the others stay empty.
    pub fn keys(mut self, keys: &'a [Key]) -> Self {
        self.keys = keys;
        self
    }

    pub async fn start(self) -> Server {
        let store = self.db.store().await.unwrap();
        let clock = ManualClock::new(T0);
        let cards = self.cards.map(|make| make(&clock));
        let mut policy = Policy::default();
        policy.bank.test_secret = Some(BANK_SECRET.to_string());
        policy.wallets.test_secret = Some(WALLET_SECRET.to_string());
        let mut app = app_on(store, &clock, policy, cards);
        app.cards.live = self.live;
        for (kind, id) in PARTIES.iter().filter(|_| self.parties) {
            ensure_party(&app, *kind, id).await;
        }
        let wanted = self.keys;
        let key = |which: Key, role, live| {
            let app = app.clone();
            async move {
                if wanted.contains(&which) {
                    keys::create(&app, &role, live).await.unwrap()
                } else {
                    String::new()
                }
            }
        };
        let platform = key(Key::Platform, Role::Platform, false).await;
        let alice = key(Key::Alice, Role::Buyer("buy_alice".into()), false).await;
        let dave = key(Key::Dave, Role::Buyer("buy_dave".into()), false).await;
        let bob = key(Key::Bob, Role::Seller("sel_bob".into()), false).await;
        let carol = key(Key::Carol, Role::Seller("sel_carol".into()), false).await;
        let live_platform = key(Key::LivePlatform, Role::Platform, true).await;
        let node = serve(&app).await;
        Server {
            base: node.base.clone(),
            http: holdback_app::webhooks::http_client(),
            clock,
            app,
            platform,
            alice,
            dave,
            bob,
            carol,
            live_platform,
            backend: self.db.backend(),
            _node: node,
        }
    }
}

/// What the API answered.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// Whether the answer carries `Idempotent-Replayed`.
    pub replayed: bool,
    pub request_id: Option<String>,
}

impl Answer {
    pub async fn of(res: reqwest::Response) -> Answer {
        let status = res.status();
        let replayed = res.headers().get("idempotent-replayed").is_some();
        let request_id = res
            .headers()
            .get("request-id")
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            replayed,
            request_id,
        }
    }
}

/// One request to `base`: `method` on `path` with the Bearer `key`, an Idempotency-Key and a
/// JSON body when given.
pub async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    idem: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http
        .request(method, format!("{base}{path}"))
        .header("authorization", format!("Bearer {key}"));
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    Answer::of(req.send().await.unwrap()).await
}

impl Server {
    pub fn builder(db: &TestDb) -> Builder<'_> {
        Builder {
            db,
            cards: None,
            live: None,
            keys: &ALL_KEYS,
            parties: true,
        }
    }

    /// The default server: the stateless sandbox, no live provider.
    pub async fn start(db: &TestDb) -> Server {
        Server::builder(db).start().await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: &str,
        idem: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        send(&self.http, &self.base, method, path, key, idem, body).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.send("GET", path, key, None, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        key: &str,
        body: impl std::borrow::Borrow<Value>,
    ) -> Answer {
        self.send("POST", path, key, None, Some(&body.borrow().to_string()))
            .await
    }

    /// An account's posted balance (0 for one not opened yet).
    pub async fn balance_of(&self, account: &str) -> i64 {
        let id = holdback_domain::AccountId::parse(account).unwrap();
        self.app
            .store
            .account(&id)
            .await
            .unwrap()
            .map_or(0, |a| i64::try_from(a.posted_balance()).unwrap())
    }

    /// The ledger audit and the business audit both clean.
    pub async fn audit_clean(&self) {
        let report = self.app.store.audit().await.unwrap();
        assert!(report.is_clean(), "{}: {:?}", self.backend, report.breaches);
        let business = self.app.store.business_audit().await.unwrap();
        assert!(business.is_empty(), "{}: {business:?}", self.backend);
    }
}
