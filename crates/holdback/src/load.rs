//! A load generator for crash tests: concurrent writers committing transfers and two-phase holds
//! through the group-commit ledger, each acknowledged transaction printed as it is answered.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use holdback_domain::ledger::{AccountKind, AccountSpec, TransactionRequest, TransferRequest};
use holdback_domain::{AccountId, Currency, HoldId, Money, TxId};
use holdback_store::clock::SystemClock;
use holdback_store::{Ledger, Store};

#[derive(clap::Args)]
pub struct LoadArgs {
    /// Concurrent writers.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// A name that makes this run's transaction ids unique.
    #[arg(long)]
    run: String,
    /// Stop by itself after this many seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

pub async fn run(store: Store, args: LoadArgs) -> anyhow::Result<()> {
    store.migrate().await?;
    let ledger = Ledger::start(store, Arc::new(SystemClock));
    let usd = Currency::parse("USD")?;
    let account = |kind: AccountKind, id: String, bounded| -> anyhow::Result<AccountSpec> {
        Ok(AccountSpec {
            id: AccountId::parse(&id)?,
            kind,
            currency: usd,
            bounded,
        })
    };
    ledger
        .open_account(account(
            AccountKind::BuyerPaymentClearing,
            "load_clearing".into(),
            false,
        )?)
        .await?;
    let mut writers = Vec::new();
    for w in 0..args.writers {
        let escrow = account(AccountKind::Escrow, format!("load_escrow_{w}"), true)?;
        let seller = account(AccountKind::SellerPayable, format!("load_seller_{w}"), true)?;
        ledger.open_account(escrow.clone()).await?;
        ledger.open_account(seller.clone()).await?;
        let ledger = ledger.clone();
        let run = args.run.clone();
        writers.push(tokio::spawn(async move {
            let clearing = AccountId::parse("load_clearing")?;
            for i in 0u64.. {
                let id = TxId::parse(&format!("{run}_{w}_{i}"))?;
                let hold = |n: u64| HoldId::parse(&format!("{run}_{w}_{n}"));
                let amount = Money::from_minor(100 + (i % 7) as i64, usd)?;
                let transfer = match i % 3 {
                    0 => TransferRequest::Posted {
                        debit: clearing.clone(),
                        credit: escrow.id.clone(),
                        amount,
                    },
                    1 => TransferRequest::Pending {
                        hold: hold(i)?,
                        debit: escrow.id.clone(),
                        credit: seller.id.clone(),
                        amount: Money::from_minor(50, usd)?,
                    },
                    _ if i % 2 == 0 => TransferRequest::PostPending {
                        hold: hold(i - 1)?,
                        amount: Some(Money::from_minor(20, usd)?),
                    },
                    _ => TransferRequest::VoidPending { hold: hold(i - 1)? },
                };
                let request = TransactionRequest {
                    id: id.clone(),
                    transfers: vec![transfer],
                };
                let outcome = ledger.transact(request).await?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "ack {id} {}", outcome.receipt().seq)?;
                out.flush()?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    for w in writers {
        w.abort();
    }
    Ok(())
}
