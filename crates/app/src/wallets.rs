//! Wallets (Alipay, PayPal, WeChat Pay, WebMoney): redirect, approve, return, and the wallet's
//! signed callback.
//!
//! A checkout paid by a wallet writes the payment `requires_action` with its orders placed
//! awaiting it (30 minutes by default), and answers `next_action: redirect_to_url`: the wallet's
//! page, which in test mode is the sandbox page `serve` itself serves under `/sandbox/`. There
//! the buyer approves, declines or cancels, as on the real wallet; the wallet then sends its
//! signed callback (`POST /v1/connectors/{wallet}/notifications`, the same checks as the bank's)
//! and sends the browser back to the marketplace's `return_url`. The callback decides; the
//! return only tells the browser where it is, so the two may come in either order. Approval
//! after the expiry is refunded, never revives the orders.

use holdback_domain::payment::{Method, Payment};
use holdback_domain::{Currency, ErrorCode};
use serde_json::{Value, json};

use crate::bank::{self, Notice, Report};
use crate::{App, AppError};

/// How wallets work for this platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletPolicy {
    /// How long a payment waits for the buyer's approval (30 minutes).
    pub expiry_ms: i64,
    /// The secrets the wallets sign their callbacks with, per mode (the sandbox wallets use the
    /// test one).
    pub test_secret: Option<String>,
    pub live_secret: Option<String>,
    /// Where this server is reached from outside (the sandbox pages' address).
    pub public_url: String,
}

impl Default for WalletPolicy {
    fn default() -> Self {
        WalletPolicy {
            expiry_ms: 30 * 60_000,
            test_secret: None,
            live_secret: None,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// The wallet a path names (`alipay`, `paypal`, `wechat_pay`, `webmoney`).
pub fn parse(code: &str) -> Option<Method> {
    Method::parse(code).filter(|m| m.is_wallet())
}

/// Refuses, by name, a currency the wallet does not settle or a return URL that is not an
/// absolute http(s) address.
pub fn check(method: Method, currency: Currency, return_url: &str) -> Result<(), AppError> {
    if let Some(settles) = method.settles()
        && !settles.contains(&currency.code())
    {
        return Err(AppError::param(
            ErrorCode::CurrencyNotSupported,
            "currency",
            format!("{} settles {}", method.code(), settles.join(", ")),
        ));
    }
    let web = ["http://", "https://"]
        .iter()
        .any(|s| return_url.len() > s.len() && return_url.starts_with(s));
    if !web || return_url.len() > 2048 || return_url.chars().any(char::is_whitespace) {
        return Err(AppError::param(
            ErrorCode::ParameterInvalid,
            "return_url",
            "return_url is an http or https address of at most 2048 characters",
        ));
    }
    Ok(())
}

/// Where to send the buyer: the wallet's page for this payment.
pub fn redirect(app: &App, p: &Payment, method: Method) -> Value {
    let base = app.policy.wallets.public_url.trim_end_matches('/');
    json!({
        "type": "redirect_to_url",
        "redirect_url": format!("{base}/sandbox/{}/pay/{}", method.code(), p.id),
        "wallet": method.code(),
    })
}

/// A wallet callback's body: `{id, payment, outcome, amount, currency}`, outcome one of
/// `approved`, `declined`, `cancelled`.
fn wallet_notice(v: &Value) -> Option<Notice> {
    let o = v.as_object().filter(|o| o.len() == 5)?;
    let report = match o.get("outcome")?.as_str()? {
        "approved" => Report::Received,
        "declined" => Report::Declined,
        "cancelled" => Report::Cancelled,
        _ => return None,
    };
    Some(Notice {
        id: o.get("id")?.as_str()?.to_string(),
        reference: o.get("payment")?.as_str()?.to_string(),
        amount: o.get("amount")?.as_i64()?,
        currency: o.get("currency")?.as_str()?.to_string(),
        report,
        payer: None,
    })
}

/// Takes one signed callback from `wallet` (see [`bank::take`]: the same checks, log and
/// exactly-once application).
pub async fn notify(
    app: &App,
    wallet: Method,
    signature: Option<&str>,
    raw: &[u8],
) -> Result<Value, AppError> {
    let w = &app.policy.wallets;
    let secrets = [(false, &w.test_secret), (true, &w.live_secret)];
    bank::take(app, wallet.code(), secrets, signature, raw, wallet_notice).await
}

/// What the buyer chose on the sandbox wallet's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Decline,
    Cancel,
}

impl Choice {
    pub fn parse(code: &str) -> Option<Choice> {
        match code {
            "approve" => Some(Choice::Approve),
            "decline" => Some(Choice::Decline),
            "cancel" => Some(Choice::Cancel),
            _ => None,
        }
    }
}

/// The sandbox wallet's side of the buyer's choice: the callback the wallet sends (signed with
/// the test secret, taken as any callback is), and where it then sends the browser back to.
pub async fn sandbox_choice(
    app: &App,
    wallet: Method,
    payment: &str,
    choice: Choice,
) -> Result<(Value, Option<String>), AppError> {
    let Some((p, _)) = app.store.payment(payment).await? else {
        return Err(AppError::NotFound);
    };
    let by_this_wallet = p.tenders.first().is_some_and(|t| t.method == wallet);
    if p.livemode || !by_this_wallet {
        return Err(AppError::NotFound);
    }
    let Some(secret) = app.policy.wallets.test_secret.clone() else {
        return Err(AppError::rejected(
            ErrorCode::SignatureInvalid,
            "the sandbox wallets have no secret to sign with",
        ));
    };
    let outcome = match choice {
        Choice::Approve => "approved",
        Choice::Decline => "declined",
        Choice::Cancel => "cancelled",
    };
    let body = json!({
        "id": format!("cb_{}_{outcome}", p.id),
        "payment": p.id,
        "outcome": outcome,
        "amount": p.provider_amount(),
        "currency": crate::views::currency(p.amount.currency()),
    })
    .to_string();
    let t = app.clock.now_ms().div_euclid(1000);
    let signature = crate::webhooks::signature(&secret, t, &body);
    let answer = notify(app, wallet, Some(&signature), body.as_bytes()).await?;
    let return_url = match &p.state {
        holdback_domain::payment::PaymentState::RequiresAction { return_url, .. } => {
            return_url.clone()
        }
        _ => None,
    };
    Ok((answer, return_url))
}
