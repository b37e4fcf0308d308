//! `holdback messages …`: the orders' message records.

use std::process::ExitCode;

use holdback_domain::message;
use holdback_store::Store;

#[derive(clap::Subcommand)]
pub enum MessagesCommand {
    /// Walk every order's message chain and print each break by order and seq (a wrong
    /// prev_hash, a hash that does not match the message, a gap in seq), with a count of the
    /// orders and messages checked. Exits 0 only when every chain is intact, 1 otherwise.
    Verify,
}

/// Orders read per query while walking the chains.
const PAGE: u32 = 500;

pub async fn run(store: Store, command: MessagesCommand) -> anyhow::Result<ExitCode> {
    match command {
        MessagesCommand::Verify => verify(&store).await,
    }
}

async fn verify(store: &Store) -> anyhow::Result<ExitCode> {
    let (mut orders, mut messages, mut breaks) = (0_u64, 0_u64, 0_u64);
    let mut after = String::new();
    loop {
        let ids = store.orders_with_messages(&after, PAGE).await?;
        for order in &ids {
            let chain = store.all_messages(order).await?;
            for b in message::verify(&chain) {
                println!("break: order {order} {b}");
                breaks += 1;
            }
            orders += 1;
            messages += chain.len() as u64;
        }
        match ids.last() {
            Some(last) if ids.len() == PAGE as usize => after = last.clone(),
            _ => break,
        }
    }
    println!(
        "messages verify: {orders} order(s), {messages} message(s) checked, {breaks} break(s)"
    );
    Ok(if breaks == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
