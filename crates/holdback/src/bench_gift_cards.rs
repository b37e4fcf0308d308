//! `holdback bench gift-cards`: N gift cards issued, sold (activated by a retailer) and redeemed
//! into one buyer's balance through the application, K at a time, on a scratch database. Prints
//! the rate of each stage and, for redemption, the rate of each tenth of the run: a code is
//! found by its keyed hash through a unique index, so the last tenth (with N cards stored) must
//! run about as fast as the first. Then the books are verified: the buyer's balance holds every
//! card's value, the gift-card liability nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use holdback_app::{App, Principal, Role, gift_cards};
use holdback_domain::party::{PartyInput, PartyKind};
use holdback_domain::{AccountId, Currency, Money};
use holdback_store::testing::TestDb;

#[derive(clap::Args)]
pub struct GiftCardBenchArgs {
    /// Cards to issue, sell and redeem.
    #[arg(long, default_value_t = 100_000)]
    cards: usize,
    /// Concurrent callers for activation and redemption.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Also run against a scratch database on this PostgreSQL server.
    #[arg(long, env = "HOLDBACK_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
}

/// Each card's value (USD 10.00).
const VALUE: i64 = 1000;

#[allow(clippy::disallowed_methods)] // a benchmark reads the monotonic clock
fn now() -> Instant {
    Instant::now()
}

pub async fn run(args: GiftCardBenchArgs) -> anyhow::Result<bool> {
    let mut clean = backend(&TestDb::sqlite(), &args).await?;
    match &args.postgres {
        Some(url) => clean &= backend(&TestDb::postgres_at(url).await?, &args).await?,
        None => println!("postgres: skipped (give --postgres URL or HOLDBACK_BENCH_POSTGRES_URL)"),
    }
    Ok(clean)
}

fn principal(role: Role) -> Principal {
    Principal {
        key_id: "bench".into(),
        role,
        livemode: false,
    }
}

fn line(backend: &str, stage: &str, n: usize, taken: Duration) {
    println!(
        "{backend:<9} {stage:<28} {n:>9} {:>8.2} s {:>10.0} /s",
        taken.as_secs_f64(),
        n as f64 / taken.as_secs_f64().max(1e-9)
    );
}

/// Runs `each` over `codes`, `clients` at a time; returns how long each tenth took.
async fn stage<F, Fut>(
    codes: &Arc<Vec<String>>,
    clients: usize,
    each: F,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), holdback_app::AppError>> + Send,
{
    let tenth = codes.len().div_ceil(10).max(1);
    let mut times = Vec::new();
    for chunk in codes.chunks(tenth) {
        let chunk = Arc::new(chunk.to_vec());
        let start = now();
        let mut tasks = Vec::new();
        for c in 0..clients.max(1) {
            let (chunk, each) = (chunk.clone(), each.clone());
            tasks.push(tokio::spawn(async move {
                for code in chunk.iter().skip(c).step_by(clients.max(1)) {
                    each(code.clone())
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                Ok::<_, anyhow::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        times.push(start.elapsed());
    }
    Ok(times)
}

async fn backend(db: &TestDb, args: &GiftCardBenchArgs) -> anyhow::Result<bool> {
    let store = db.store().await?;
    let b = store.backend();
    let app: App = crate::serve::app(store.clone(), holdback_app::Policy::default());
    let input = PartyInput {
        id: "buy_bench".into(),
        country: "DE".into(),
        ..PartyInput::default()
    };
    holdback_app::parties::ensure(&app, PartyKind::Buyer, input, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let usd = Currency::parse("USD")?;
    let value = Money::from_minor(VALUE, usd)?;

    let start = now();
    let mut codes = Vec::with_capacity(args.cards);
    let platform = principal(Role::Platform);
    while codes.len() < args.cards {
        let count = (args.cards - codes.len()).min(gift_cards::MAX_BATCH as usize) as u32;
        let batch = gift_cards::issue(&app, &platform, count, value, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for card in batch["cards"].as_array().into_iter().flatten() {
            codes.push(card["code"].as_str().unwrap_or_default().to_string());
        }
    }
    line(b, "issued (batches of 1000)", codes.len(), start.elapsed());
    let codes = Arc::new(codes);

    let shop = app.clone();
    let sold = stage(&codes, args.clients, move |code| {
        let app = shop.clone();
        async move {
            let retailer = principal(Role::Retailer("ret_bench".into()));
            gift_cards::activate(&app, &retailer, &code, value, "till", None)
                .await
                .map(|_| ())
        }
    })
    .await?;
    line(b, "activated by a retailer", codes.len(), sold.iter().sum());

    let buyer = app.clone();
    let redeemed = stage(&codes, args.clients, move |code| {
        let app = buyer.clone();
        async move {
            let me = principal(Role::Buyer("buy_bench".into()));
            gift_cards::redeem(&app, &me, &code, "buy_bench", None)
                .await
                .map(|_| ())
        }
    })
    .await?;
    line(
        b,
        "redeemed into a balance",
        codes.len(),
        redeemed.iter().sum(),
    );
    let tenth = codes.len().div_ceil(10).max(1);
    let rates: Vec<String> = redeemed
        .iter()
        .map(|t| format!("{:.0}", tenth as f64 / t.as_secs_f64().max(1e-9)))
        .collect();
    println!("{b:<9} redemptions/s by tenth: {}", rates.join(" "));

    let balance = store
        .account(&AccountId::parse("test:customer_balance:buy_bench:USD")?)
        .await?
        .map_or(0, |a| a.posted_balance());
    let liability = store
        .account(&AccountId::parse("test:gift_card_liability:USD")?)
        .await?
        .map_or(0, |a| a.posted_balance());
    let report = store.audit().await?;
    let business = store.business_audit().await?;
    let expected = i128::from(VALUE) * codes.len() as i128;
    println!(
        "{b:<9} balance {balance} (expected {expected}), liability {liability}; ledger verify: {}; {} business breach(es)",
        report.summary(),
        business.len()
    );
    Ok(balance == expected && liability == 0 && report.is_clean() && business.is_empty())
}
