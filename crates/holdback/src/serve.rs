//! `holdback serve`: the HTTP API, the timer scheduler, and (with `--demo`) a demo marketplace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use holdback_app::ids::UuidIds;
use holdback_app::sandbox::SandboxCards;
use holdback_app::{App, Policy, Role, SellerPolicy, refunds, scheduler};
use holdback_domain::order::CommissionRule;
use holdback_domain::party::{PartyInput, PartyKind};
use holdback_store::clock::{Clock, OffsetClock, SystemClock};
use holdback_store::{ApiKeyRow, Store};
use sha2::{Digest, Sha256};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed a demo marketplace (fixed test-mode keys, two sellers, two buyers) and print
    /// ready-to-paste curl commands.
    #[arg(long)]
    demo: bool,
    /// A policy file (TOML): order timings and commission, per seller. See policy.example.toml.
    #[arg(long)]
    policy: Option<std::path::PathBuf>,
    /// The sandbox payment provider's own state file (charges, refunds, its statement): test
    /// mode pays through it, and several nodes share one file. The default is the SQLite
    /// database's file with `-sandbox` added (`holdback-sandbox.db` beside `holdback.db`), or
    /// `holdback-sandbox.db` in the current folder on PostgreSQL.
    #[arg(long, env = "HOLDBACK_SANDBOX")]
    sandbox: Option<std::path::PathBuf>,
    /// The folder where dispute evidence files are kept (by their SHA-256). The default is a
    /// folder beside the SQLite database's file with `-evidence` added (`holdback-evidence`
    /// beside `holdback.db`), or `holdback-evidence` in the current folder on PostgreSQL.
    #[arg(long, env = "HOLDBACK_EVIDENCE_DIR")]
    evidence_dir: Option<std::path::PathBuf>,
    /// The secret the (sandbox) bank signs test-mode notifications with; without one, and
    /// without --demo (which uses the demo's), test-mode bank notifications are refused.
    #[arg(long, env = "HOLDBACK_BANK_TEST_SECRET")]
    bank_test_secret: Option<String>,
    /// The secret the bank signs live-mode notifications with.
    #[arg(long, env = "HOLDBACK_BANK_LIVE_SECRET")]
    bank_live_secret: Option<String>,
    /// The secret the sandbox wallets sign their test-mode callbacks with (the demo's without
    /// one); without it the sandbox wallets cannot confirm payments.
    #[arg(long, env = "HOLDBACK_WALLET_TEST_SECRET")]
    wallet_test_secret: Option<String>,
    /// The key live-mode gift-card codes are hashed under (keep it secret, and never change
    /// it: a card is found by its code's hash). Without one, live gift cards are refused.
    #[arg(long, env = "HOLDBACK_GIFT_CARD_LIVE_KEY")]
    gift_card_live_key: Option<String>,
    /// Where this server is reached from outside (the wallets' pages are under it); by
    /// default http:// and the listen address.
    #[arg(long, env = "HOLDBACK_PUBLIC_URL")]
    public_url: Option<String>,
    /// Run this node's clock ahead by this many milliseconds (a test clock: see timers fire
    /// without waiting). Never in production.
    #[arg(long, hide = true, default_value_t = 0)]
    clock_offset_ms: i64,
    /// Override the policy's provider timeout (ms): a provider call not answered within it has
    /// an unknown outcome, and a refund's lease is twice it plus 5 s. For tests.
    #[arg(long, hide = true)]
    provider_timeout_ms: Option<u64>,
    /// Override the policy's settle time (ms): a payment still processing this long is settled
    /// by asking the provider. For tests.
    #[arg(long, hide = true)]
    settle_after_ms: Option<i64>,
}

/// The application on a store, with the real clock, time-ordered ids and the sandbox cards.
pub fn app(store: Store, policy: Policy) -> App {
    app_with_clock(store, policy, Arc::new(SystemClock))
}

/// The application on a store with `clock`, time-ordered ids and the stateless sandbox cards.
pub fn app_with_clock(store: Store, policy: Policy, clock: Arc<dyn Clock>) -> App {
    let cards = App::stateless_cards(clock.clone());
    App::new(store, clock, Arc::new(UuidIds), policy, cards)
}

/// The application paying through the sandbox provider whose state is in `sandbox`.
pub fn app_on_sandbox(
    store: Store,
    policy: Policy,
    clock: Arc<dyn Clock>,
    sandbox: &std::path::Path,
) -> anyhow::Result<App> {
    let cards = SandboxCards::open(sandbox, clock.clone()).map_err(anyhow::Error::msg)?;
    // the same sandbox file keeps the bank's payouts (test-mode bank transfers paid back)
    let bank = holdback_app::bank::SandboxBank {
        sandbox: cards.sandbox.clone(),
        clock: clock.clone(),
    };
    let mut app = App::new(store, clock, Arc::new(UuidIds), policy, Arc::new(cards));
    app.cards.bank_test = Arc::new(bank);
    Ok(app)
}

pub fn parse_role(text: &str) -> anyhow::Result<Role> {
    Ok(match text.split_once(':') {
        None if text == "platform" => Role::Platform,
        Some(("buyer", id)) if !id.is_empty() => Role::Buyer(id.to_string()),
        Some(("seller", id)) if !id.is_empty() => Role::Seller(id.to_string()),
        Some(("mediator", id)) if !id.is_empty() => Role::Mediator(id.to_string()),
        Some(("retailer", id)) if !id.is_empty() => Role::Retailer(id.to_string()),
        Some(("carrier", id)) if !id.is_empty() => Role::Carrier(id.to_string()),
        _ => anyhow::bail!(
            "a role is platform, buyer:ID, seller:ID, mediator:ID, retailer:ID or carrier:ID"
        ),
    })
}

/// The demo's fixed test-mode keys: (key id, secret, kind, party or mediator id).
const DEMO_KEYS: &[(&str, &str, &str, Option<&str>)] = &[
    ("de00000000000001", "platform", "platform", None),
    ("de00000000000002", "alice", "buyer", Some("buy_alice")),
    ("de00000000000003", "bob", "seller", Some("sel_bob")),
    ("de00000000000004", "carol", "seller", Some("sel_carol")),
    ("de00000000000005", "dave", "buyer", Some("buy_dave")),
    ("de00000000000006", "erin", "mediator", Some("med_erin")),
    ("de00000000000007", "frank", "retailer", Some("ret_frank")),
    ("de00000000000008", "gulf", "carrier", Some("gulf_express")),
];

fn demo_key(id: &str, secret: &str) -> String {
    format!("sk_test_{id}_{secret}")
}

/// The secret the demo's sandbox bank signs its test-mode notifications with.
pub const DEMO_BANK_SECRET: &str = "bank_test_demo_secret";
/// The secret the demo's sandbox wallets sign their test-mode callbacks with.
pub const DEMO_WALLET_SECRET: &str = "wallet_test_demo_secret";

/// The demo catalog: (id, seller, name, price in USD cents).
const DEMO_PRODUCTS: &[(&str, &str, &str, i64)] = &[
    ("prod_demo_tea_set", "sel_bob", "Porcelain tea set", 2500),
    ("prod_demo_teapot", "sel_bob", "Cast-iron teapot", 4200),
    ("prod_demo_scarf", "sel_carol", "Silk scarf", 1999),
];

/// The demo parties (test mode): (kind, id, country).
const DEMO_PARTIES: &[(PartyKind, &str, &str)] = &[
    (PartyKind::Buyer, "buy_alice", "DE"),
    (PartyKind::Buyer, "buy_dave", "US"),
    (PartyKind::Seller, "sel_bob", "CN"),
    (PartyKind::Seller, "sel_carol", "TR"),
];

async fn seed_demo(app: &App) -> anyhow::Result<()> {
    let usd = holdback_domain::Currency::parse("USD")?;
    for (kind, id, country) in DEMO_PARTIES {
        let input = PartyInput {
            id: id.to_string(),
            country: country.to_string(),
            // sel_carol's own commission, as the demo policy has it: 8 % + 0.30
            commission: (*id == "sel_carol").then_some((800, Some((30, usd)))),
            ..PartyInput::default()
        };
        holdback_app::parties::ensure(app, *kind, input, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // cash on delivery: a buyer in Riyadh (phone not yet verified) and a seller in Jeddah who
    // accepts it; the carrier gulf_express collects in Saudi Arabia
    for (kind, input) in [
        (
            PartyKind::Buyer,
            PartyInput {
                id: "buy_sara".into(),
                country: "SA".into(),
                region: Some("Riyadh".into()),
                ..PartyInput::default()
            },
        ),
        (
            PartyKind::Seller,
            PartyInput {
                id: "sel_jeddah".into(),
                country: "SA".into(),
                cash_on_delivery: true,
                ..PartyInput::default()
            },
        ),
    ] {
        holdback_app::parties::ensure(app, kind, input, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for (id, seller, name, cents) in DEMO_PRODUCTS {
        if app.store.product(id).await?.is_none() {
            app.store
                .create_product(
                    &holdback_store::ProductRow {
                        id: id.to_string(),
                        seller: seller.to_string(),
                        name: name.to_string(),
                        price: holdback_domain::Money::from_minor(*cents, usd)?,
                        livemode: false,
                        created_at: app.clock.now_ms(),
                        category: None,
                    },
                    None,
                )
                .await?;
        }
    }
    for (id, secret, kind, party) in DEMO_KEYS {
        if app.store.api_key(id).await?.is_some() {
            continue;
        }
        let hash: String = Sha256::digest(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        app.store
            .insert_api_key(&ApiKeyRow {
                id: id.to_string(),
                secret_sha256: hash,
                principal_kind: kind.to_string(),
                party_id: party.map(str::to_string),
                livemode: false,
                created_at: app.clock.now_ms(),
            })
            .await?;
    }
    Ok(())
}

fn print_demo(addr: SocketAddr) {
    let key = |i: usize| demo_key(DEMO_KEYS[i].0, DEMO_KEYS[i].1);
    println!("demo marketplace (test mode):");
    println!("  platform        {}", key(0));
    println!("  buyer buy_alice {}", key(1));
    println!("  seller sel_bob  {}", key(2));
    println!("  seller sel_carol {} (commission 8% + 0.30)", key(3));
    println!("  buyer buy_dave  {}", key(4));
    println!(
        "  mediator med_erin {} (sees disputes that went to mediation)",
        key(5)
    );
    println!(
        "  retailer ret_frank {} (sells gift cards for cash)",
        key(6)
    );
    println!(
        "  carrier gulf_express {} (reports its cash-on-delivery parcels, remits the cash)",
        key(7)
    );
    println!(
        "  cash on delivery: buyer buy_sara (Riyadh, SA), seller sel_jeddah (SA); no keys of \
         their own"
    );
    println!("bank notifications (test mode) are signed with: {DEMO_BANK_SECRET}");
    println!("sandbox wallets (test mode) sign their callbacks with: {DEMO_WALLET_SECRET}");
    println!(
        "products: {}",
        DEMO_PRODUCTS
            .iter()
            .map(|p| p.0)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("shipping methods: economy (60 days), standard (30), express (10)");
    println!();
    println!("try:");
    println!(
        "  curl -s http://{addr}/v1/checkouts -H 'Authorization: Bearer {}' -H 'Idempotency-Key: demo-1' \\\n    --json '{{\"buyer\":\"buy_alice\",\"currency\":\"usd\",\"items\":[{{\"seller\":\"sel_bob\",\"description\":\"tea set\",\"unit_amount\":2500,\"quantity\":2}},{{\"seller\":\"sel_carol\",\"description\":\"scarf\",\"unit_amount\":1999,\"quantity\":1}}],\"card\":{{\"number\":\"4242424242424242\",\"exp_month\":12,\"exp_year\":2030,\"cvc\":\"123\"}}}}'",
        key(0)
    );
    println!(
        "  curl -s http://{addr}/v1/orders -H 'Authorization: Bearer {}'",
        key(1)
    );
    println!(
        "  curl -s http://{addr}/v1/events -H 'Authorization: Bearer {}'",
        key(0)
    );
    println!(
        "a bank transfer, then the bank's signed notification of it (pay_... from the first):"
    );
    println!(
        "  curl -s http://{addr}/v1/checkouts -H 'Authorization: Bearer {}' \\\n    --json '{{\"buyer\":\"buy_alice\",\"currency\":\"usd\",\"items\":[{{\"product\":\"prod_demo_teapot\",\"quantity\":1}}],\"bank_transfer\":{{}}}}'",
        key(0)
    );
    println!(
        "  REF=pay_...; BODY=\"{{\\\"id\\\":\\\"bn_1\\\",\\\"reference\\\":\\\"$REF\\\",\\\"amount\\\":4200,\\\"currency\\\":\\\"usd\\\"}}\"; T=$(date +%s)\n  \
         SIG=$(printf '%s' \"$T.$BODY\" | openssl dgst -sha256 -hmac {DEMO_BANK_SECRET} | awk '{{print $NF}}')\n  \
         curl -s http://{addr}/v1/connectors/bank/notifications -H \"Holdback-Signature: t=$T,v1=$SIG\" --json \"$BODY\""
    );
}

/// Where the sandbox provider keeps its state when no file is named: beside a SQLite database
/// (`X.db` → `X-sandbox.db`), else `holdback-sandbox.db` in the current folder.
pub fn default_sandbox(database: &str) -> std::path::PathBuf {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return "holdback-sandbox.db".into();
    }
    let path = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
        .unwrap_or(database);
    match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}-sandbox.db").into(),
        None => format!("{path}-sandbox.db").into(),
    }
}

/// Where evidence files go when no folder is named: beside a SQLite database (`X.db` →
/// `X-evidence`), else `holdback-evidence` in the current folder.
pub fn default_evidence_dir(database: &str) -> std::path::PathBuf {
    let sandbox = default_sandbox(database);
    match sandbox.to_str().and_then(|s| s.strip_suffix("-sandbox.db")) {
        Some(stem) => format!("{stem}-evidence").into(),
        None => holdback_app::files::DEFAULT_FOLDER.into(),
    }
}

pub async fn run(store: Store, database: &str, args: ServeArgs) -> anyhow::Result<()> {
    let mut policy = match &args.policy {
        Some(path) => crate::policy::parse(&std::fs::read_to_string(path)?)?,
        None => Policy::default(),
    };
    if args.demo && !policy.sellers.contains_key("sel_carol") {
        // The demo sellers: sel_bob pays the default 5 %, sel_carol 8 % + USD 0.30.
        let usd = holdback_domain::Currency::parse("USD")?;
        policy.sellers.insert(
            "sel_carol".into(),
            SellerPolicy {
                commission: Some(CommissionRule {
                    basis_points: 800,
                    fixed: vec![holdback_domain::Money::from_minor(30, usd)?],
                }),
                ship_by_days: None,
            },
        );
    }
    if let Some(ms) = args.provider_timeout_ms {
        policy.provider_timeout_ms = ms;
    }
    policy.bank.test_secret = args
        .bank_test_secret
        .clone()
        .or_else(|| args.demo.then(|| DEMO_BANK_SECRET.to_string()));
    policy.bank.live_secret = args.bank_live_secret.clone();
    policy.gift_cards.live_key = args.gift_card_live_key.clone();
    policy.wallets.test_secret = args
        .wallet_test_secret
        .clone()
        .or_else(|| args.demo.then(|| DEMO_WALLET_SECRET.to_string()));

    if let Some(ms) = args.settle_after_ms {
        policy.settle_after_ms = ms;
    }
    store.migrate().await?;
    // bound first: the wallets' pages are reached at the address actually bound
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    policy.wallets.public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let clock: Arc<dyn Clock> = match args.clock_offset_ms {
        0 => Arc::new(SystemClock),
        offset => Arc::new(OffsetClock(offset)),
    };
    let sandbox = args
        .sandbox
        .clone()
        .unwrap_or_else(|| default_sandbox(database));
    let mut app = app_on_sandbox(store, policy, clock, &sandbox)?;
    let evidence_dir = args
        .evidence_dir
        .clone()
        .unwrap_or_else(|| default_evidence_dir(database));
    app.files = Arc::new(holdback_app::files::LocalFiles::new(evidence_dir));
    if args.demo {
        seed_demo(&app).await?;
    }
    println!(
        "holdback: listening on http://{addr} ({})",
        app.store.backend()
    );
    if args.demo {
        print_demo(addr);
    }
    let scheduler = scheduler::spawn(app.clone(), Duration::from_secs(1));
    let deliveries = holdback_app::webhooks::spawn(app.clone(), Default::default());
    let refunds = refunds::spawn(app.clone(), Duration::from_secs(1));
    holdback_http::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    scheduler.abort();
    deliveries.abort();
    refunds.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{default_evidence_dir, default_sandbox};

    #[test]
    fn the_sandbox_file_sits_beside_the_database() {
        for (database, sandbox) in [
            ("sqlite:holdback.db", "holdback-sandbox.db"),
            ("sqlite:///tmp/x/shop.db", "/tmp/x/shop-sandbox.db"),
            (
                "/var/lib/holdback/main",
                "/var/lib/holdback/main-sandbox.db",
            ),
            ("postgres://root@127.0.0.1/test", "holdback-sandbox.db"),
        ] {
            assert_eq!(
                default_sandbox(database).to_str(),
                Some(sandbox),
                "{database}"
            );
        }
    }

    #[test]
    fn the_evidence_folder_sits_beside_the_database() {
        for (database, folder) in [
            ("sqlite:holdback.db", "holdback-evidence"),
            ("sqlite:///tmp/x/shop.db", "/tmp/x/shop-evidence"),
            ("/var/lib/holdback/main", "/var/lib/holdback/main-evidence"),
            ("postgres://root@127.0.0.1/test", "holdback-evidence"),
        ] {
            assert_eq!(
                default_evidence_dir(database).to_str(),
                Some(folder),
                "{database}"
            );
        }
    }
}
