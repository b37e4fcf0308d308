"""schemathesis hooks for .ci/fuzz (loaded through SCHEMATHESIS_HOOKS).

Two things the schema cannot say, because they are about the server's state rather than about
one request:

1. An Idempotency-Key names one request. The same key sent again with a different request is
   refused by name (`idempotency_key_reused`, 422), which is the rule, not a fault. A fuzzer
   draws keys at random and reuses the short ones ("0", "A") across different requests, so
   `before_call` makes each valid key it sends unique, across runs against one server too (it
   stays valid: the suffix is visible ASCII and the result at most 255 characters). Invalid
   keys are sent as drawn. Replay itself is tested by the API tests
   (crates/http/tests/idempotency.rs).

2. Some rules depend on what exists (an unknown product, a seller's shipping methods, a
   refund larger than what is held), on the card network (the Luhn digit, the brand's number
   ranges), or on sums across fields (a cart over the largest amount): a schema-valid request
   can still be refused with 400 or 402 for them. .ci/schemathesis.toml lets a valid request get
   400 and 402 for that reason only, and the check `refusal_names_a_rule_of_state` below holds
   it to that: a valid request refused with a code that is about the request's own shape fails
   the run, as it would without the allowance.
"""

import itertools
import os
import re

import schemathesis

VALID_KEY = re.compile(r"[!-~]{1,255}")
_sequence = itertools.count()


TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def _stateful(case):
    phase = getattr(getattr(case, "meta", None), "phase", None)
    return "stateful" in str(getattr(phase, "name", phase)).lower()


@schemathesis.hook
def before_call(context, case, kwargs):
    # In the stateful phase every checkout pays with the test card that succeeds, so that the
    # scenarios reach orders to ship, deliver and complete: a random card number rarely passes
    # the Luhn check and the brand's ranges, and a bank transfer or a wallet leaves the orders
    # waiting for their money, and a drawn gift card or balance part is refused; the cart is a
    # demo product. The other phases keep what they drew, every way to pay.
    body = case.body
    if (
        _stateful(case)
        and case.method.upper() == "POST"
        and case.path == "/v1/checkouts"
        and isinstance(body, dict)
    ):
        body.pop("bank_transfer", None)
        body.pop("wallet", None)
        # (a drawn gift card code is no card's, and wrong codes lock the key out for a while)
        body.pop("gift_card", None)
        body.pop("balance", None)
        # (and drawn coupon codes name none, or ones the other phases made unusable)
        body.pop("coupons", None)
        body["card"] = dict(TEST_CARD)
        # and buys something that exists: drawn sellers and products rarely do, and a cart
        # naming one that does not is refused whole
        body["buyer"] = "buy_alice"
        body["currency"] = "usd"
        body["items"] = [{"product": "prod_demo_teapot", "quantity": 1}]
        body.pop("shipping_methods", None)
    for headers in (case.headers, kwargs.get("headers")):
        for name in list(headers or {}):
            key = headers[name]
            if name.lower() == "idempotency-key" and isinstance(key, str) and VALID_KEY.fullmatch(key):
                # (the process id too: a second run against the same server starts its count
                # again, and must not reuse the first run's keys)
                headers[name] = f"{key[:220]}.{os.getpid()}.{next(_sequence)}"


# Codes that say the request itself is malformed: a request the schema calls valid must never
# get one of them (the schema would be missing a rule).
SHAPE_CODES = {
    "invalid_json",
    "unknown_parameter",
    "parameter_missing",
    "parameter_invalid",
    "invalid_id",
    "unknown_currency",
    "malformed_amount",
    "excess_precision",
    "empty_cart",
    "too_many_items",
    "invalid_item",
    "invalid_party_id",
    "invalid_country",
    "invalid_region",
    "invalid_metadata",
    "ship_by_days_out_of_range",
    "invalid_commission",
    "invalid_expiry",
    "invalid_cvc",
    "zero_amount",
    "row_refused",
    "request_too_large",
}


@schemathesis.check
def refusal_names_a_rule_of_state(ctx, response, case):
    """A schema-valid request refused with 400 or 402 must be refused for a rule of state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 402):
        return None
    try:
        code = response.json()["error"]["code"]
    except Exception:
        raise AssertionError(f"a {response.status_code} without the error body")
    # The platform names the product's seller; a seller's key need not (the schema, shared by
    # both, marks it optional and says so).
    if (case.method, case.path, code) == ("POST", "/v1/products", "parameter_missing"):
        return None
    if code in SHAPE_CODES:
        raise AssertionError(
            f"a schema-valid request was refused as malformed ({code}): the schema misses a rule"
        )
    return None
