//! `POST /v1/connectors/bank/notifications`: the bank tells the platform that money came. No
//! API key: the bank signs the raw body (`Holdback-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`) with the connector's secret of the mode. A refused notification (a missing,
//! stale or wrong signature) changes nothing but its own record and the metrics' counter.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use holdback_app::{AppError, bank};
use holdback_domain::ErrorCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::errors::ApiError;
use crate::reply::Reply;
use crate::{Ctx, Shared};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(bank_notification))
        .routes(routes!(wallet_notification))
}

/// The header the bank signs with.
pub(crate) const SIGNATURE: &str = "holdback-signature";

#[allow(dead_code)] // documents the header
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
struct SignatureHeader {
    /// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under the bank connector's
    /// secret; `t` within 5 minutes of now.
    #[param(rename = "Holdback-Signature")]
    signature: String,
}

/// Money the bank received for a payment reference.
#[allow(dead_code)] // documents the body
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BankNotice {
    /// The bank's own id of this notification: a redelivery carries the same.
    #[schema(min_length = 1, max_length = 64)]
    id: String,
    /// The payment reference the buyer wrote on the transfer (the payment's id).
    reference: String,
    /// What came, in minor units.
    #[schema(minimum = 1)]
    amount: i64,
    currency: String,
    /// The account the money came from (an IBAN, say): what is paid back goes there.
    #[schema(min_length = 1, max_length = 64)]
    payer_account: Option<String>,
}

/// What came of a notification.
#[allow(dead_code)] // documents JSON
#[derive(ToSchema)]
pub(crate) struct BankNotificationAnswer {
    /// Always "bank_notification".
    object: String,
    id: String,
    /// applied (to the payment named), or unmatched (no payment has the reference: kept for an
    /// operator, `holdback connectors unmatched`).
    outcome: String,
    payment: Option<String>,
    reason: Option<String>,
    /// The same notification was taken before: nothing changed.
    duplicate: bool,
}

/// The bank reports money received. An exact amount confirms the payment (its orders are
/// paid), less leaves it waiting for the rest, more confirms it and refunds the excess; money
/// after the payment expired or was complete is refunded. A redelivery changes nothing.
#[utoipa::path(post, path = "/v1/connectors/bank/notifications", tag = "payments",
    request_body = BankNotice,
    params(SignatureHeader),
    responses(
        (status = 200, description = "Taken (or taken before)", body = BankNotificationAnswer),
        crate::schema::NotificationRefusals,
    ))]
async fn bank_notification(
    State(s): Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Reply, ApiError> {
    let signature = headers.get(SIGNATURE).and_then(|v| v.to_str().ok());
    counted(&s, bank::notify(&s.app, signature, &body).await)
}

/// The answer to a connector, counting a refused signature in the metrics.
fn counted(s: &Shared, taken: Result<serde_json::Value, AppError>) -> Result<Reply, ApiError> {
    match taken {
        Ok(answer) => Ok(Reply::ok(answer)),
        Err(e) => {
            if matches!(&e, AppError::Rejected { code, .. } if *code == ErrorCode::SignatureInvalid)
            {
                s.metrics.bad_signatures.fetch_add(1, Ordering::Relaxed);
            }
            Err(e.into())
        }
    }
}

/// A wallet's callback: what the buyer did at the wallet.
#[allow(dead_code)] // documents the body
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WalletCallback {
    /// The wallet's own id of this callback: a redelivery carries the same.
    #[schema(min_length = 1, max_length = 64)]
    id: String,
    /// The payment the wallet was asked for.
    payment: String,
    /// approved, declined or cancelled.
    outcome: String,
    #[schema(minimum = 1)]
    amount: i64,
    currency: String,
}

/// A wallet (alipay, paypal, wechat_pay, webmoney) tells the platform what the buyer did:
/// approved (the payment is confirmed and its orders paid; after the expiry the money is
/// refunded), declined (failed) or cancelled; orders of a failed or cancelled payment are
/// cancelled unpaid. Signed and checked as the bank's notifications; it may come before or
/// after the buyer's return, and a redelivery changes nothing.
#[utoipa::path(post, path = "/v1/connectors/{wallet}/notifications", tag = "payments",
    request_body = WalletCallback,
    params(("wallet" = String, Path, description = "alipay, paypal, wechat_pay or webmoney"),
        SignatureHeader),
    responses(
        (status = 200, description = "Taken (or taken before)", body = BankNotificationAnswer),
        crate::schema::NotificationRefusals,
        (status = 404, description = "No such wallet", body = crate::schema::ErrorBody),
    ))]
async fn wallet_notification(
    State(s): Ctx,
    Path(wallet): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Reply, ApiError> {
    let Some(wallet) = holdback_app::wallets::parse(&wallet) else {
        return Err(AppError::NotFound.into());
    };
    let signature = headers.get(SIGNATURE).and_then(|v| v.to_str().ok());
    counted(
        &s,
        holdback_app::wallets::notify(&s.app, wallet, signature, &body).await,
    )
}
