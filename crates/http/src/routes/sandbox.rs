//! The sandbox wallets' pages, served by `serve` itself under `/sandbox/`: what a wallet shows
//! the buyer it sends there. The buyer approves, declines or cancels; the sandbox wallet then
//! sends its signed callback, as the real one would, and sends the browser back to the
//! marketplace's return URL. Test mode only; not part of the API (no key, not in the OpenAPI).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use holdback_app::wallets::{self, Choice};
use holdback_app::{AppError, views};

use crate::{Ctx, Shared};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/sandbox/{wallet}/pay/{payment}", get(page).post(choose))
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:sans-serif;max-width:30em;margin:3em auto\">\
         <p style=\"color:#a60\">Sandbox wallet: test mode, no real money.</p>{body}</body></html>",
        escape(title)
    );
    let mut response = (status, Html(page)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
        ),
    );
    response
}

fn missing() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "No such payment",
        "<h1>No such payment</h1>",
    )
}

/// The wallet's page for one payment.
async fn page(State(s): Ctx, Path((wallet, payment)): Path<(String, String)>) -> Response {
    let Some(method) = wallets::parse(&wallet) else {
        return missing();
    };
    let Ok(Some((p, _))) = s.app.store.payment(&payment).await else {
        return missing();
    };
    if p.livemode || p.tenders.first().is_none_or(|t| t.method != method) {
        return missing();
    }
    // what the wallet takes: the payment less what the buyer's balance pays
    let Ok(amount) = holdback_domain::Money::from_minor(p.provider_amount(), p.amount.currency())
    else {
        return missing();
    };
    let body = format!(
        "<h1>Pay with {wallet}</h1><p>Payment <code>{id}</code>: <strong id=\"amount\">{amount}</strong> \
         <span id=\"currency\">{currency}</span></p><p>Status: <span id=\"status\">{status}</span></p>\
         <form method=\"post\">\
         <button name=\"choice\" value=\"approve\" id=\"approve\">Approve</button> \
         <button name=\"choice\" value=\"decline\" id=\"decline\">Decline</button> \
         <button name=\"choice\" value=\"cancel\" id=\"cancel\">Cancel</button></form>",
        wallet = escape(method.code()),
        id = escape(&p.id),
        amount = escape(&amount.to_string()),
        currency = escape(&views::currency(amount.currency())),
        status = escape(p.state.code()),
    );
    html(StatusCode::OK, "Sandbox wallet", &body)
}

/// The buyer's choice: the wallet's callback is sent, then the browser goes back.
async fn choose(
    State(s): Ctx,
    Path((wallet, payment)): Path<(String, String)>,
    form: Bytes,
) -> Response {
    // the page's form: `choice=approve|decline|cancel` (application/x-www-form-urlencoded)
    let form = String::from_utf8_lossy(&form);
    let choice = form
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "choice")
        .and_then(|(_, v)| Choice::parse(v));
    let (Some(method), Some(choice)) = (wallets::parse(&wallet), choice) else {
        return missing();
    };
    let (answer, return_url) = match wallets::sandbox_choice(&s.app, method, &payment, choice).await
    {
        Ok(done) => done,
        Err(AppError::NotFound) => return missing(),
        Err(e) => {
            let body = format!(
                "<h1>Refused</h1><p id=\"error\">{}</p>",
                escape(&e.to_string())
            );
            return html(StatusCode::CONFLICT, "Refused", &body);
        }
    };
    let status = match s.app.store.payment(&payment).await {
        Ok(Some((p, _))) => p.state.code().to_string(),
        _ => "unknown".to_string(),
    };
    match return_url {
        Some(url) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            let to = format!("{url}{sep}payment={payment}&status={status}");
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = header::HeaderValue::from_str(&to) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        None => {
            let body = format!(
                "<h1>Done</h1><p>Payment <code>{}</code>: <span id=\"status\">{}</span> ({})</p>",
                escape(&payment),
                escape(&status),
                escape(answer["outcome"].as_str().unwrap_or_default())
            );
            html(StatusCode::OK, "Done", &body)
        }
    }
}
