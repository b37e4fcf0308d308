//! `holdback bench lifecycle`: N full order lifecycles over HTTP on loopback with K concurrent
//! clients, beside the same run's floor (a trivial axum POST through the same client).

use std::sync::Arc;
use std::time::{Duration, Instant};

use holdback_app::{Role, keys};
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
                http.post(&url).body("{}").send().await?.bytes().await?;
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
    let app = crate::serve::app(store.clone(), holdback_app::Policy::default());
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
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(holdback_http::serve(listener, app.clone(), async {
        let _ = stopped.await;
    }));

    let per = args.orders / args.clients.max(1);
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
                let paid = call(
                    "/v1/checkouts".into(),
                    &keys[0],
                    Some(format!("bench-{c}-{i}")),
                    json!({
                        "buyer": "buy_bench", "currency": "usd",
                        "items": [{"seller": "sel_bench", "description": "item", "unit_amount": 1000 + i as i64, "quantity": 1}],
                        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
                    }),
                )
                .await?;
                let order = paid["orders"][0]["id"].as_str().unwrap_or_default().to_string();
                call(format!("/v1/orders/{order}/ship"), &keys[2], None, json!({"carrier": "dhl", "tracking_number": format!("T{c}-{i}")})).await?;
                call(format!("/v1/orders/{order}/mark_delivered"), &keys[0], None, json!({})).await?;
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
    run.print(backend, "order lifecycles (4 requests)", "orders");
    let _ = stop.send(());
    let _ = server.await;
    let report = store.audit().await?;
    println!("{backend:<9} ledger verify: {}", report.summary());
    Ok(report.is_clean())
}
