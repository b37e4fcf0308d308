//! The product catalog: sellers' items at a price. A buyer checks out catalog products, so the
//! prices a buyer pays come from here, not from the buyer's request.

use holdback_domain::ErrorCode;
use holdback_domain::party::PartyKind;
use holdback_domain::{AccountId, Currency, Money};
use holdback_store::{Conflict, ProductRow};
use serde_json::{Value, json};

use crate::orders::Idem;
use crate::{App, AppError, Principal, Role};

pub fn view(p: &ProductRow) -> Value {
    json!({
        "id": p.id,
        "object": "product",
        "created": p.created_at / 1000,
        "livemode": p.livemode,
        "metadata": {},
        "seller": p.seller,
        "name": p.name,
        "unit_amount": p.price.minor(),
        "currency": p.price.currency().code().to_ascii_lowercase(),
        "category": p.category,
    })
}

/// Adds a product: the platform for any seller, a seller for itself. With an idempotency key, the
/// response is stored with the product, so a retry replays it.
pub async fn create(
    app: &App,
    principal: &Principal,
    seller: Option<&str>,
    name: &str,
    price: Money,
    category: Option<&str>,
    idem: Option<&Idem>,
) -> Result<Value, AppError> {
    let seller = match (&principal.role, seller) {
        (Role::Platform, Some(s)) => s.to_string(),
        (Role::Platform, None) => {
            return Err(AppError::param(
                ErrorCode::ParameterMissing,
                "seller",
                "the platform names the seller",
            ));
        }
        (Role::Seller(me), None) => me.clone(),
        (Role::Seller(me), Some(s)) if s == me => me.clone(),
        (Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_), _) => {
            return Err(AppError::rejected(
                ErrorCode::NotPermitted,
                "only the platform or a seller adds products",
            ));
        }
        _ => {
            return Err(AppError::rejected(
                ErrorCode::NotPermitted,
                "a seller adds only its own products",
            ));
        }
    };
    AccountId::parse(&seller)?;
    crate::parties::existing(
        app,
        PartyKind::Seller,
        principal.livemode,
        &seller,
        "seller",
    )
    .await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::param(
            ErrorCode::ParameterInvalid,
            "name",
            "a name of 1 to 200 characters",
        ));
    }
    if price.is_zero() {
        return Err(AppError::param(
            ErrorCode::ParameterInvalid,
            "unit_amount",
            "a positive price",
        ));
    }
    let product = ProductRow {
        id: app.ids.next("prod"),
        seller,
        name: name.to_string(),
        price,
        livemode: principal.livemode,
        created_at: app.clock.now_ms(),
        category: category.map(str::to_string),
    };
    let body = view(&product);
    let record = idem.map(|i| i.record(201, &body, product.created_at));
    if !app.store.create_product(&product, record.as_ref()).await? {
        return Err(AppError::Conflict(Conflict::KeyUsed));
    }
    Ok(body)
}

/// A page of products of the caller's mode, optionally one seller's; a mediator's is empty.
pub async fn list(
    app: &App,
    principal: &Principal,
    seller: Option<&str>,
    after: &str,
    limit: u32,
) -> Result<(Vec<Value>, bool), AppError> {
    if let Role::Mediator(_) | Role::Retailer(_) | Role::Carrier(_) = principal.role {
        return Ok((Vec::new(), false));
    }
    let limit = limit.clamp(1, 100);
    let mut rows = app
        .store
        .list_products(seller, principal.livemode, after, limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows.iter().map(view).collect(), has_more))
}

/// A catalog product of the caller's mode, in `currency`.
pub async fn priced(
    app: &App,
    principal: &Principal,
    id: &str,
    currency: Currency,
) -> Result<ProductRow, AppError> {
    match app.store.product(id).await? {
        Some(p) if p.livemode == principal.livemode => {
            if p.price.currency() != currency {
                return Err(AppError::param(
                    ErrorCode::CurrencyMismatch,
                    "items",
                    format!("product {id} is priced in {}", p.price.currency()),
                ));
            }
            Ok(p)
        }
        _ => Err(AppError::param(
            ErrorCode::UnknownProduct,
            "items",
            format!("no product {id}"),
        )),
    }
}
