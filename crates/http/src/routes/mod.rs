//! The API by resource: each module holds its request types, its handlers and a `router()`
//! that `lib.rs` merges into the documented API.

pub(crate) mod balance;
pub(crate) mod bank;
pub(crate) mod catalog;
pub(crate) mod checkouts;
pub(crate) mod cod;
pub(crate) mod coupons;
pub(crate) mod disputes;
pub(crate) mod events;
pub(crate) mod evidence;
pub(crate) mod gift_cards;
pub(crate) mod messages;
pub(crate) mod orders;
pub(crate) mod parties;
pub(crate) mod payments;
pub(crate) mod sandbox;
pub(crate) mod webhooks;
