//! What the document says beyond what the routes' annotations give: the links between
//! operations, and the bodies that may be left out.

use utoipa::openapi::{RefOr, Required};

/// Completes the generated document: [`add_links`] and [`optional_empty_bodies`].
pub(crate) fn finish(doc: &mut utoipa::openapi::OpenApi) {
    add_links(doc);
    optional_empty_bodies(doc);
    closed_variants(doc);
    one_way_to_pay(doc);
    required_query(doc);
}

/// Query parameters a handler cannot do without (their derive states them optional when they
/// carry a schema of their own).
fn required_query(doc: &mut utoipa::openapi::OpenApi) {
    const REQUIRED: &[(&str, &[&str])] = &[(
        "/v1/cod/eligibility",
        &["buyer", "seller", "amount", "currency"],
    )];
    for (path, names) in REQUIRED {
        let Some(op) = doc.paths.paths.get_mut(*path).and_then(|i| i.get.as_mut()) else {
            continue;
        };
        for p in op.parameters.iter_mut().flatten() {
            if let RefOr::T(p) = p
                && names.contains(&p.name.as_str())
            {
                p.required = Required::True;
            }
        }
    }
}

/// A checkout pays one way: `card`, `bank_transfer`, `wallet` or `cash_on_delivery`, exactly
/// one of them (the rule the handler applies), each but the last perhaps with part from the
/// balance; or from the balance alone
/// (`balance`, with or without `gift_card`), or with a gift card alone. Stated as one object
/// per way to pay, each requiring its own field and without the others' (a shape a generator
/// of requests can follow, as it cannot an `allOf`).
fn one_way_to_pay(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{OneOfBuilder, Schema};

    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(checkout))) = components.schemas.get("CheckoutDto").cloned()
    else {
        return;
    };
    const WAYS: [&str; 4] = ["card", "bank_transfer", "wallet", "cash_on_delivery"];
    let mut one_of = OneOfBuilder::new();
    for way in WAYS {
        let mut variant = checkout.clone();
        for other in WAYS.iter().filter(|w| **w != way) {
            variant.properties.remove(*other);
        }
        // cash at the door is paid whole there: nothing from the balance with it
        if way == "cash_on_delivery" {
            variant.properties.remove("balance");
            variant.properties.remove("gift_card");
        }
        // its own field given, as an object (`null` would be as good as absent)
        if let Some(RefOr::T(Schema::OneOf(given))) = variant.properties.get(way).cloned()
            && let Some(object) = given.items.into_iter().find(|i| matches!(i, RefOr::Ref(_)))
        {
            variant.properties.insert(way.to_string(), object);
        }
        variant.required.push(way.to_string());
        variant.title = Some(format!("pay by {way}"));
        one_of = one_of.item(variant);
    }
    // from the balance alone: with `balance` (and perhaps a gift card), or a gift card alone
    for (way, without) in [("balance", None), ("gift_card", Some("balance"))] {
        let mut variant = checkout.clone();
        for other in WAYS.iter().chain(without.iter()) {
            variant.properties.remove(*other);
        }
        variant.required.push(way.to_string());
        variant.title = Some(format!("pay by {way} alone"));
        one_of = one_of.item(variant);
    }
    components.schemas.insert(
        "CheckoutDto".to_string(),
        RefOr::T(Schema::OneOf(one_of.build())),
    );
}

/// A body that is one of several shapes (a tagged enum: the seller's answer, a mediator's
/// outcome) takes no field its shape does not name, as every other body: each shape of a
/// `oneOf` says `additionalProperties: false`.
fn closed_variants(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{AdditionalProperties, Schema};

    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::OneOf(one_of)) = schema else {
            continue;
        };
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(object)) = item {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// An action whose body has no fields (`Empty`) may be sent without a body: the server reads
/// a missing body as `{}`. Every other body is required.
fn optional_empty_bodies(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let Some(RefOr::T(body)) = item.post.as_mut().and_then(|o| o.request_body.as_mut()) else {
            continue;
        };
        let empty = body.content.values().all(|c| {
            matches!(c, RefOr::T(c) if matches!(&c.schema,
                Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Empty")))
        });
        if empty {
            body.required = Some(Required::False);
        }
    }
}

/// The links between operations: where the id an operation needs comes from in another's
/// answer. A client (or a fuzzer's stateful phase) follows them from a checkout to its orders
/// and payment, and from each order action to the next one in an order's life: ship, then
/// mark delivered, then confirm receipt, extend protection or ask for an extension.
fn add_links(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::link::LinkBuilder;

    // (from method, from path, status, link name, to operation, id taken from the answer)
    const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "post",
            "/v1/checkouts",
            "201",
            "GetPayment",
            "get_payment",
            "/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "GetOrder",
            "get_order",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "Ship",
            "ship",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "Refund",
            "refund",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "RequestCancel",
            "request_cancel",
            "/orders/0/id",
        ),
        (
            "post",
            "/v1/disputes",
            "201",
            "GetDispute",
            "get_dispute",
            "/id",
        ),
        ("post", "/v1/disputes", "201", "Respond", "respond", "/id"),
        ("post", "/v1/disputes", "201", "Escalate", "escalate", "/id"),
        (
            "get",
            "/v1/disputes",
            "200",
            "GetDispute",
            "get_dispute",
            "/data/0/id",
        ),
        (
            "post",
            "/v1/disputes/{id}/respond",
            "200",
            "AcceptCounter",
            "accept_counter",
            "/id",
        ),
        (
            "post",
            "/v1/disputes/{id}/escalate",
            "200",
            "Decide",
            "decide",
            "/id",
        ),
        (
            "post",
            "/v1/disputes/{id}/decide",
            "200",
            "ShipReturn",
            "ship_return",
            "/id",
        ),
        (
            "post",
            "/v1/disputes/{id}/return",
            "200",
            "ReturnReceived",
            "return_received",
            "/id",
        ),
        (
            "get",
            "/v1/orders",
            "200",
            "GetOrder",
            "get_order",
            "/data/0/id",
        ),
        ("get", "/v1/orders", "200", "Ship", "ship", "/data/0/id"),
        (
            "post",
            "/v1/orders/{id}/ship",
            "200",
            "MarkDelivered",
            "mark_delivered",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/ship",
            "200",
            "GetOrder",
            "get_order",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "ConfirmReceipt",
            "confirm_receipt",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "ExtendProtection",
            "extend_protection",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "RequestExtension",
            "request_extension",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/mark_delivered",
            "200",
            "Refund",
            "refund",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/request_extension",
            "200",
            "AnswerExtension",
            "answer_extension",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/request_cancel",
            "200",
            "AnswerCancel",
            "answer_cancel",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/confirm_receipt",
            "200",
            "GetPayment",
            "get_payment",
            "/payment",
        ),
        (
            "get",
            "/v1/payments",
            "200",
            "GetPayment",
            "get_payment",
            "/data/0/id",
        ),
        (
            "get",
            "/v1/payments/{id}",
            "200",
            "GetRefund",
            "get_refund",
            "/refunds/0/id",
        ),
        (
            "get",
            "/v1/refunds",
            "200",
            "GetRefund",
            "get_refund",
            "/data/0/id",
        ),
        (
            "get",
            "/v1/events",
            "200",
            "GetEvent",
            "get_event",
            "/data/0/id",
        ),
        (
            "post",
            "/v1/checkouts",
            "201",
            "PostMessage",
            "post_message",
            "/orders/0/id",
        ),
        (
            "get",
            "/v1/orders/{id}",
            "200",
            "ListMessages",
            "list_messages",
            "/id",
        ),
        (
            "post",
            "/v1/orders/{id}/messages",
            "201",
            "ListMessages",
            "list_messages",
            "/order",
        ),
        (
            "post",
            "/v1/orders/{id}/messages",
            "201",
            "ExportMessages",
            "export_messages",
            "/order",
        ),
        ("post", "/v1/buyers", "201", "GetBuyer", "get_buyer", "/id"),
        (
            "post",
            "/v1/sellers",
            "201",
            "GetSeller",
            "get_seller",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "GetEndpoint",
            "get_endpoint",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "DisableEndpoint",
            "disable_endpoint",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "EnableEndpoint",
            "enable_endpoint",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "Deliveries",
            "list_deliveries",
            "/id",
        ),
        (
            "post",
            "/v1/webhook_endpoints",
            "201",
            "DeleteEndpoint",
            "delete_endpoint",
            "/id",
        ),
        (
            "get",
            "/v1/webhook_endpoints",
            "200",
            "GetEndpoint",
            "get_endpoint",
            "/data/0/id",
        ),
    ];
    for (method, path, status, name, to, pointer) in LINKS {
        let Some(item) = doc.paths.paths.get_mut(*path) else {
            continue;
        };
        let operation = match *method {
            "get" => item.get.as_mut(),
            _ => item.post.as_mut(),
        };
        let Some(RefOr::T(response)) =
            operation.and_then(|o| o.responses.responses.get_mut(*status))
        else {
            continue;
        };
        let link = LinkBuilder::new()
            .operation_id(*to)
            .parameter("id", format!("$response.body#{pointer}"))
            .build();
        response.links.insert((*name).to_string(), RefOr::T(link));
    }
}
