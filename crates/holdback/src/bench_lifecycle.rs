//! `holdback bench lifecycle`: N full order lifecycles over HTTP on loopback with K concurrent
//! clients, beside the same run's floor (a trivial axum POST through the same client).
//!
//! The server pays through a sandbox provider file in the temp folder (as `serve` does), with
//! its refund worker running; with `--refund-every N` one order in N is refunded in full by the
//! seller instead of being shipped, and the run waits for the worker to perform every refund at
//! the provider, then reconciles the provider's statement with the ledger. With `--disputes F`
//! a fraction F of the orders is disputed after delivery instead of confirmed: the buyer opens a
//! dispute and escalates it, and a mediator decides a 30 % partial refund (the dispute timings
//! are shortened to zero so that no clock has to move). With `--tender balance+card` every
//! checkout is a split tender: part from the buyer's balance, the rest by card.

use std::sync::Arc;
use std::time::{Duration, Instant};

use holdback_app::{Role, keys};
use holdback_domain::party::{PartyInput, PartyKind};
use holdback_store::testing::TestDb;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct LifecycleArgs {
    /// Order lifecycles to complete.
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Also run against a scratch database on this PostgreSQL server.
    #[arg(long, env = "HOLDBACK_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Refund one order in N in full (by the seller, right after checkout) instead of shipping
    /// it; 0 refunds none.
    #[arg(long, default_value_t = 0)]
    refund_every: usize,
    /// Pay with the stateless in-process test cards instead of a sandbox provider file (the
    /// benchmark as it was before the sandbox provider; refunds then cannot be reconciled).
    #[arg(long, conflicts_with = "refund_every")]
    stateless_cards: bool,
    /// Dispute this fraction of the orders (0 to 1) after delivery: opened and escalated by
    /// the buyer, decided by a mediator as a 30 % partial refund.
    #[arg(long, default_value_t = 0.0)]
    disputes: f64,
    /// How each checkout pays: `card`, or `balance+card` (a split tender: 3.00 from the
    /// buyer's balance, credited before the run, the rest by card).
    #[arg(long, default_value = "card", value_parser = ["card", "balance+card"])]
    tender: String,
}

/// What a split-tender checkout of the run pays from the balance (minor units).
const FROM_BALANCE: i64 = 300;

/// Whether order `n` of the run is disputed, for a fraction `f` of all orders: spread evenly.
fn disputed(n: usize, f: f64) -> bool {
    let f = f.clamp(0.0, 1.0);
    ((n + 1) as f64 * f).floor() > (n as f64 * f).floor()
}

/// How long the run waits, after the load, for the refund worker to perform every refund.
const REFUND_PATIENCE: Duration = Duration::from_secs(300);

/// A sandbox provider file for one run, removed (with its WAL) when dropped.
struct SandboxFile(std::path::PathBuf);

impl SandboxFile {
    fn new(backend: &str) -> SandboxFile {
        SandboxFile(std::env::temp_dir().join(format!(
            "holdback_bench_{}_{backend}.sandbox.db",
            std::process::id()
        )))
    }
}

impl Drop for SandboxFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// How many test-mode refunds have `status`.
async fn count_refunds(store: &holdback_store::Store, status: &str) -> anyhow::Result<usize> {
    let (mut after, mut n) = (String::new(), 0);
    loop {
        let page = store.list_refunds(false, status, &after, 1000).await?;
        n += page.len();
        match page.last() {
            Some(r) if page.len() == 1000 => after = r.id.clone(),
            _ => return Ok(n),
        }
    }
}

#[allow(clippy::disallowed_methods)] // a benchmark reads the monotonic clock
fn now() -> Instant {
    Instant::now()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Run {
    done: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Run {
    fn print(&mut self, backend: &str, label: &str, unit: &str) {
        self.latencies.sort_unstable();
        println!(
            "{backend:<9} {label:<28} {:>7} {unit:<8} {:>7.2} s {:>9.0} {unit}/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
            self.done,
            self.seconds,
            self.done as f64 / self.seconds.max(1e-9),
            percentile(&self.latencies, 0.50),
            percentile(&self.latencies, 0.99),
        );
    }
}

pub async fn run(args: LifecycleArgs) -> anyhow::Result<bool> {
    let http = holdback_app::webhooks::http_client_builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let mut floor = floor(&http, &args).await?;
    floor.print("axum", "trivial POST (floor)", "requests");
    let mut clean = lifecycle(&http, &TestDb::sqlite(), &args).await?;
    if let Some(url) = &args.postgres {
        clean &= lifecycle(&http, &TestDb::postgres_at(url).await?, &args).await?;
    } else {
        println!("postgres: skipped (give --postgres URL or HOLDBACK_BENCH_POSTGRES_URL)");
    }
    Ok(clean)
}

/// The same client load against a handler that does nothing.
async fn floor(http: &reqwest::Client, args: &LifecycleArgs) -> anyhow::Result<Run> {
    let router = axum::Router::new().route(
        "/ping",
        axum::routing::post(|| async { axum::Json(json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/ping", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let requests = args.orders * 4;
    let per = requests / args.clients.max(1);
    let start = now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = now();
                http.post(&url)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await?
                    .bytes()
                    .await?;
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    server.abort();
    Ok(Run {
        done: per * args.clients,
        seconds,
        latencies,
    })
}

async fn lifecycle(
    http: &reqwest::Client,
    db: &TestDb,
    args: &LifecycleArgs,
) -> anyhow::Result<bool> {
    let store = db.store().await?;
    let backend = store.backend();
    let sandbox = SandboxFile::new(backend);
    let mut policy = holdback_app::Policy::default();
    // disputes open and escalate at once: the benchmark does not move a clock
    policy.disputes.opens_after_shipment = 0;
    policy.disputes.escalate_after = 0;
    let app = if args.stateless_cards {
        crate::serve::app(store.clone(), policy)
    } else {
        crate::serve::app_on_sandbox(
            store.clone(),
            policy,
            Arc::new(holdback_store::clock::SystemClock),
            &sandbox.0,
        )?
    };
    for (kind, id) in [
        (PartyKind::Buyer, "buy_bench"),
        (PartyKind::Seller, "sel_bench"),
    ] {
        let input = PartyInput {
            id: id.to_string(),
            country: "DE".to_string(),
            ..PartyInput::default()
        };
        holdback_app::parties::ensure(&app, kind, input, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let split = args.tender == "balance+card";
    if split {
        // enough balance for every order's part, credited once by the platform
        let platform = holdback_app::Principal {
            key_id: "bench".into(),
            role: Role::Platform,
            livemode: false,
        };
        let usd = holdback_domain::Currency::parse("USD")?;
        let credit = holdback_domain::Money::from_minor(FROM_BALANCE * args.orders as i64, usd)?;
        holdback_app::balance::adjust(&app, &platform, "buy_bench", true, credit, "bench", None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let key = |role| {
        let app = app.clone();
        async move {
            keys::create(&app, &role, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    let keys = Arc::new([
        key(Role::Platform).await?,
        key(Role::Buyer("buy_bench".into())).await?,
        key(Role::Seller("sel_bench".into())).await?,
        key(Role::Mediator("med_bench".into())).await?,
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(holdback_http::serve(listener, app.clone(), async {
        let _ = stopped.await;
    }));
    // as in `serve`: the refund worker (which also settles payments left processing)
    let worker = holdback_app::refunds::spawn(app.clone(), Duration::from_secs(1));

    let per = args.orders / args.clients.max(1);
    let every = args.refund_every;
    let fraction = args.disputes;
    let start = now();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (http, base, keys) = (http.clone(), base.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per * 4);
            let mut call = async |path: String, key: &str, idem: Option<String>, body: Value| {
                let t = now();
                let mut req = http
                    .post(format!("{base}{path}"))
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(body.to_string());
                if let Some(k) = idem {
                    req = req.header("idempotency-key", k);
                }
                let res = req.send().await?;
                let status = res.status();
                let body: Value = res.json().await?;
                lat.push(t.elapsed());
                anyhow::ensure!(status.is_success(), "{path}: {status} {body}");
                Ok::<Value, anyhow::Error>(body)
            };
            for i in 0..per {
                let mut cart = json!({
                    "buyer": "buy_bench", "currency": "usd",
                    "items": [{"seller": "sel_bench", "description": "item", "unit_amount": 1000 + i as i64, "quantity": 1}],
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
                });
                if split {
                    cart["balance"] = json!(FROM_BALANCE);
                }
                let paid = call(
                    "/v1/checkouts".into(),
                    &keys[0],
                    Some(format!("bench-{c}-{i}")),
                    cart,
                )
                .await?;
                let order = paid["orders"][0]["id"].as_str().unwrap_or_default().to_string();
                if every > 0 && (c * per + i) % every == every - 1 {
                    call(format!("/v1/orders/{order}/refund"), &keys[2], None, json!({"amount": 1000 + i as i64, "currency": "usd"})).await?;
                    continue;
                }
                call(format!("/v1/orders/{order}/ship"), &keys[2], None, json!({"carrier": "dhl", "tracking_number": format!("T{c}-{i}")})).await?;
                call(format!("/v1/orders/{order}/mark_delivered"), &keys[0], None, json!({})).await?;
                if disputed(c * per + i, fraction) {
                    let opened = call("/v1/disputes".into(), &keys[1], None, json!({
                        "order": order, "reason": "damaged", "requested": {"type": "full_refund"}
                    })).await?;
                    let id = opened["id"].as_str().unwrap_or_default().to_string();
                    call(format!("/v1/disputes/{id}/escalate"), &keys[1], None, json!({})).await?;
                    let refund = (1000 + i as i64) * 3 / 10;
                    let decided = call(format!("/v1/disputes/{id}/decide"), &keys[3], None, json!({
                        "outcome": {"type": "partial_refund", "amount": refund}, "reason": "damaged in transit"
                    })).await?;
                    anyhow::ensure!(decided["status"] == "closed", "not closed: {decided}");
                    continue;
                }
                let done = call(format!("/v1/orders/{order}/confirm_receipt"), &keys[1], None, json!({})).await?;
                anyhow::ensure!(done["status"] == "completed", "not completed: {done}");
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut run = Run {
        done: per * args.clients,
        seconds,
        latencies,
    };
    let label = if every > 0 {
        format!("order lifecycles, 1 in {every} refunded")
    } else if fraction > 0.0 {
        format!("order lifecycles, {:.0} % disputed", fraction * 100.0)
    } else if split {
        "lifecycles, balance+card".to_string()
    } else {
        "order lifecycles (4 requests)".to_string()
    };
    run.print(backend, &label, "orders");
    let refunds = (0..run.done)
        .filter(|n| {
            if every > 0 && n % every == every - 1 {
                return true;
            }
            disputed(*n, fraction)
        })
        .count();
    let drain = now();
    let mut succeeded = count_refunds(&store, "succeeded").await?;
    while succeeded < refunds && drain.elapsed() < REFUND_PATIENCE {
        tokio::time::sleep(Duration::from_millis(100)).await;
        succeeded = count_refunds(&store, "succeeded").await?;
    }
    if refunds > 0 {
        println!(
            "{backend:<9} refunds: {succeeded} of {refunds} succeeded at the provider ({} pending, {} failed), {:.1} s after the load",
            count_refunds(&store, "pending").await?,
            count_refunds(&store, "failed").await?,
            drain.elapsed().as_secs_f64()
        );
    }
    worker.abort();
    let _ = stop.send(());
    let _ = server.await;
    let mut clean = succeeded == refunds;
    if !args.stateless_cards {
        let (at_provider, recorded, found) =
            holdback_app::reconcile::provider(&app, app.cards.test.as_ref(), false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "{backend:<9} reconcile provider: {at_provider} operation(s) at the provider, {recorded} recorded, {} discrepancies",
            found.len()
        );
        clean &= found.is_empty();
    }
    let report = store.audit().await?;
    let business = store.business_audit().await?;
    println!(
        "{backend:<9} ledger verify: {}; {} business breach(es)",
        report.summary(),
        business.len()
    );
    Ok(clean && report.is_clean() && business.is_empty())
}

#[cfg(test)]
mod tests {
    use super::disputed;

    #[test]
    fn a_fraction_of_the_orders_is_disputed_evenly() {
        let count = |n: usize, f: f64| (0..n).filter(|i| disputed(*i, f)).count();
        assert_eq!(count(1000, 0.1), 100);
        assert_eq!(count(1000, 0.0), 0);
        assert_eq!(count(1000, 1.0), 1000);
        assert_eq!(count(7, 0.5), 3);
        // spread: no two of ten in a row at 10 %
        let first: Vec<usize> = (0..30).filter(|i| disputed(*i, 0.1)).collect();
        assert_eq!(first, vec![9, 19, 29]);
    }
}
