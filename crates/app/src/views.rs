//! The JSON objects the API returns and events carry (HOUSE-STYLE.md §8): `id`, `object`,
//! `created` (Unix seconds), `livemode`, `metadata`, amounts in minor units with a lower-case
//! ISO currency.

use holdback_domain::order::Order;
use holdback_store::{PaymentRow, StoredEvent};
use serde_json::{Value, json};

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

pub fn currency(order_or_payment: holdback_domain::Currency) -> String {
    order_or_payment.code().to_ascii_lowercase()
}

pub fn order(o: &Order) -> Value {
    json!({
        "id": o.id,
        "object": "order",
        "created": secs(o.paid_at),
        "livemode": o.livemode,
        "metadata": {},
        "status": o.status.code(),
        "buyer": o.buyer,
        "seller": o.seller,
        "payment": o.payment,
        "amount": o.captured.minor(),
        "currency": currency(o.captured.currency()),
        "amount_refunded": o.refunded,
        "amount_held": o.held(),
        "release": o.released.map(|(to_seller, commission)| json!({
            "amount_to_seller": to_seller,
            "commission": commission,
        })),
        "ship_by": secs(o.ship_by),
        "shipping_method": o.shipping_method,
        "shipment": o.shipment.as_ref().map(|s| json!({
            "carrier": s.carrier,
            "tracking_number": s.tracking,
            "shipped": secs(s.shipped_at),
        })),
        "delivered": o.delivered_at.map(secs),
        "protection_ends": o.protection_ends.map(secs),
        "cancel_requested": o.cancel_requested_at.map(secs),
        "buyer_extension_used": o.buyer_extended,
        "extension_requested_days": o.extension_requested.map(|ms| ms / 86_400_000),
    })
}

pub fn payment(p: &PaymentRow, orders: &[Order]) -> Value {
    json!({
        "id": p.id,
        "object": "payment",
        "created": secs(p.created_at),
        "livemode": p.livemode,
        "metadata": {},
        "status": "succeeded",
        "buyer": p.buyer,
        "amount": p.amount.minor(),
        "currency": currency(p.amount.currency()),
        "method": p.method,
        "card": p.card.as_ref().map(|c| json!({
            "brand": c.brand.code(),
            "last4": c.last4,
            "exp_month": c.exp_month,
            "exp_year": c.exp_year,
        })),
        "orders": orders.iter().map(order).collect::<Vec<_>>(),
    })
}

/// An event as stored in the outbox: its payload is already the whole event object.
pub fn event(e: &StoredEvent) -> Value {
    serde_json::from_str(&e.event.payload)
        .unwrap_or_else(|_| json!({"id": e.event.id, "object": "event", "type": e.event.kind}))
}

/// A new event object wrapping `object`.
pub fn new_event(id: &str, kind: &str, created_ms: i64, livemode: bool, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": secs(created_ms),
        "livemode": livemode,
        "data": { "object": object },
    })
}
