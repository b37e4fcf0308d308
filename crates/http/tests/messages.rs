//! An order's message record over the real server, on SQLite and (when
//! `HOLDBACK_TEST_POSTGRES_URL` is set) PostgreSQL: the buyer, the seller and the platform write
//! one hash chain; anyone else gets 404 and changes nothing; bad bodies are refused by name and
//! change nothing; concurrent appends all land, in one unbroken chain.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use holdback_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Answer, Server, VISA, cart};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Server {
    /// A new checkout by the platform; Bob's order id.
    async fn bobs_order(&self) -> String {
        let a = self.post("/v1/checkouts", &self.platform, cart(VISA)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let orders = a.body["orders"].as_array().unwrap();
        let bob = orders.iter().find(|o| o["seller"] == "sel_bob").unwrap();
        bob["id"].as_str().unwrap().to_string()
    }

    async fn message(&self, order: &str, key: &str, body: Value) -> Answer {
        self.post(&format!("/v1/orders/{order}/messages"), key, body)
            .await
    }

    /// Everything the messages of `order` and the event log show, read by the platform: what a
    /// refused request must leave as it was.
    async fn state(&self, order: &str) -> (Value, Value) {
        let list = self
            .get(
                &format!("/v1/orders/{order}/messages?limit=100"),
                &self.platform,
            )
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let events = self.get("/v1/events?limit=100", &self.platform).await;
        (list.body["data"].clone(), events.body["data"].clone())
    }
}

#[tokio::test]
async fn buyer_seller_and_platform_write_one_chain_that_both_parties_read() {
    for db in TestDb::all("messages_golden_path").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let order = s.bobs_order().await;
        let first = s
            .message(
                &order,
                &s.alice,
                json!({"body": "Where is my parcel?\n\tThanks"}),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{b}: {}", first.body);
        let m = &first.body;
        assert_eq!(m["object"], "message");
        assert_eq!(m["order"], order.as_str());
        assert_eq!(m["seq"], 1);
        assert_eq!(m["author"], json!({"role": "buyer", "id": "buy_alice"}));
        assert_eq!(m["body"], "Where is my parcel?\n\tThanks");
        assert_eq!(m["files"], json!([]));
        assert_eq!(m["prev_hash"], GENESIS);
        assert_eq!(m["livemode"], false);
        assert!(m["id"].as_str().unwrap().starts_with("msg_"), "{b}");
        let answer = json!({"body": "Shipping today", "files": []}).to_string();
        let path = format!("/v1/orders/{order}/messages");
        let (s_ref, path_ref, answer_ref) = (&s, &path, &answer);
        let keyed = || async move {
            s_ref
                .send(
                    "POST",
                    path_ref,
                    &s_ref.bob,
                    Some("answer-1"),
                    Some(answer_ref),
                )
                .await
        };
        let second = keyed().await;
        assert_eq!(second.status, StatusCode::CREATED, "{b}: {}", second.body);
        assert_eq!(second.body["seq"], 2);
        assert_eq!(second.body["prev_hash"], m["hash"]);
        assert_eq!(second.body["author"]["role"], "seller");
        assert_eq!(second.body["files"], json!([]));
        // the same key and body replay the message; nothing new is written
        let replay = keyed().await;
        assert!(replay.replayed, "{b}");
        assert_eq!(replay.body, second.body, "{b}");
        let third = s
            .message(&order, &s.platform, json!({"body": "Noted."}))
            .await;
        assert_eq!(third.body["seq"], 3, "{b}: {}", third.body);
        assert_eq!(
            third.body["author"],
            json!({"role": "platform", "id": "platform"})
        );

        // both parties read the same chain, oldest first
        let path = format!("/v1/orders/{order}/messages");
        let by_alice = s.get(&path, &s.alice).await;
        let by_bob = s.get(&path, &s.bob).await;
        assert_eq!(by_alice.status, StatusCode::OK, "{b}: {}", by_alice.body);
        assert_eq!(by_alice.body, by_bob.body, "{b}");
        let data = by_alice.body["data"].as_array().unwrap();
        let seqs: Vec<i64> = data.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3], "{b}");
        assert_eq!(data[1], second.body, "{b}");
        assert_eq!(by_alice.body["url"], path.as_str());

        // pages: two, then the rest after the second
        let page = s.get(&format!("{path}?limit=2"), &s.alice).await.body;
        assert_eq!(page["has_more"], true, "{b}");
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        let after = page["data"][1]["id"].as_str().unwrap();
        let rest = s
            .get(&format!("{path}?limit=2&starting_after={after}"), &s.alice)
            .await
            .body;
        assert_eq!(rest["has_more"], false, "{b}");
        assert_eq!(rest["data"][0]["seq"], 3, "{b}");
        let unknown = s
            .get(&format!("{path}?starting_after=msg_nope"), &s.alice)
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{b}");
        assert_eq!(unknown.body["error"]["param"], "starting_after");

        // the export: every message with its hashes, and the head
        let export = s.get(&format!("{path}/export"), &s.bob).await;
        assert_eq!(export.status, StatusCode::OK, "{b}: {}", export.body);
        let e = &export.body;
        assert_eq!(e["object"], "message_export");
        assert_eq!(e["order"], order.as_str());
        assert_eq!(e["count"], 3);
        assert_eq!(e["intact"], true, "{b}: {e}");
        assert_eq!(e["genesis_hash"], GENESIS);
        assert_eq!(e["head_hash"], third.body["hash"], "{b}");
        assert_eq!(e["messages"][0]["hash"], m["hash"]);
        assert_eq!(e["messages"][0]["created_ms"], common::T0);

        // one message.created event per message
        let events = s.get("/v1/events?limit=100", &s.platform).await.body;
        let created: Vec<&Value> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "message.created")
            .collect();
        assert_eq!(created.len(), 3, "{b}");
        assert_eq!(created[1]["data"]["object"], second.body, "{b}");

        // a cancelled order still takes messages: the record is evidence
        s.post(
            &format!("/v1/orders/{order}/request_cancel"),
            &s.alice,
            json!({}),
        )
        .await;
        let cancelled = s
            .post(
                &format!("/v1/orders/{order}/answer_cancel"),
                &s.bob,
                json!({"accept": true}),
            )
            .await;
        assert_eq!(
            cancelled.body["status"], "cancelled",
            "{b}: {}",
            cancelled.body
        );
        let late = s
            .message(&order, &s.alice, json!({"body": "Refund seen."}))
            .await;
        assert_eq!(late.status, StatusCode::CREATED, "{b}: {}", late.body);
        assert_eq!(late.body["seq"], 4);
    }
}

#[tokio::test]
async fn a_non_party_gets_404_and_changes_nothing() {
    for db in TestDb::all("messages_non_party").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let order = s.bobs_order().await;
        s.message(&order, &s.alice, json!({"body": "hello"})).await;
        let before = s.state(&order).await;
        // another buyer, the seller of another order, a live key, and no valid key at all
        for key in [&s.dave, &s.carol, &s.live_platform] {
            let post = s.message(&order, key, json!({"body": "let me in"})).await;
            assert_eq!(post.status, StatusCode::NOT_FOUND, "{b}: {}", post.body);
            assert_eq!(post.body["error"]["code"], "resource_missing");
            for path in ["messages", "messages/export"] {
                let get = s.get(&format!("/v1/orders/{order}/{path}"), key).await;
                assert_eq!(get.status, StatusCode::NOT_FOUND, "{b}: {path}");
                assert_eq!(get.body["error"]["code"], "resource_missing");
            }
        }
        let missing = s
            .message("ord_missing", &s.platform, json!({"body": "x"}))
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{b}");
        let anonymous = s
            .message(&order, "sk_test_nope", json!({"body": "x"}))
            .await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{b}");
        assert_eq!(s.state(&order).await, before, "{b}");
    }
}

#[tokio::test]
async fn bad_bodies_are_refused_by_name_and_change_nothing() {
    for db in TestDb::all("messages_bad_bodies").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let order = s.bobs_order().await;
        s.message(&order, &s.bob, json!({"body": "first"})).await;
        let before = s.state(&order).await;
        let eleven: Vec<String> = (0..11).map(|i| format!("file_{i}")).collect();
        let cases = [
            (json!({"body": ""}), "message_body_empty", "body"),
            (json!({"body": " \n\t "}), "message_body_empty", "body"),
            (
                json!({"body": "x".repeat(5_001)}),
                "message_body_too_long",
                "body",
            ),
            (
                json!({"body": "a\u{0}b"}),
                "message_body_invalid_character",
                "body",
            ),
            (
                json!({"body": "line\r\nbreak"}),
                "message_body_invalid_character",
                "body",
            ),
            (
                json!({"body": "bell\u{7}"}),
                "message_body_invalid_character",
                "body",
            ),
            (
                json!({"body": "ok", "files": eleven}),
                "message_files_invalid",
                "files",
            ),
            (
                json!({"body": "ok", "files": ["doc_1"]}),
                "message_files_invalid",
                "files",
            ),
            (
                json!({"body": "ok", "files": ["file_1", "file_1"]}),
                "message_files_invalid",
                "files",
            ),
            (
                json!({"body": "ok", "extra": 1}),
                "unknown_parameter",
                "extra",
            ),
            (json!({"files": []}), "parameter_missing", "body"),
        ];
        for (body, code, param) in cases {
            let a = s.message(&order, &s.alice, body.clone()).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{b}: {body}: {}", a.body);
            assert_eq!(a.body["error"]["code"], code, "{b}: {body}");
            assert_eq!(a.body["error"]["param"], param, "{b}: {body}");
        }
        let wrong_type = s.message(&order, &s.alice, json!({"body": 5})).await;
        assert_eq!(wrong_type.body["error"]["code"], "parameter_invalid", "{b}");
        // ten well-formed file ids that are not evidence of this order's disputes
        let ten: Vec<String> = (0..10).map(|i| format!("file_{i}")).collect();
        let unknown = s
            .message(&order, &s.alice, json!({"body": "see", "files": ten}))
            .await;
        assert_eq!(
            unknown.body["error"]["code"], "message_files_invalid",
            "{b}: {}",
            unknown.body
        );
        assert_eq!(s.state(&order).await, before, "{b}");
        // the longest body passes (messages naming evidence: tests/disputes.rs)
        let longest = s
            .message(&order, &s.alice, json!({"body": "é".repeat(5_000)}))
            .await;
        assert_eq!(longest.status, StatusCode::CREATED, "{b}: {}", longest.body);
    }
}

#[tokio::test]
async fn twenty_concurrent_appends_all_land_in_one_unbroken_chain() {
    const N: usize = 20;
    for db in TestDb::all("messages_concurrent").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let order = s.bobs_order().await;
        let path = format!("/v1/orders/{order}/messages");
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let key = if i % 2 == 0 { &s.alice } else { &s.bob };
                let (http, base, key, path) =
                    (s.http.clone(), s.base.clone(), key.clone(), path.clone());
                let body = json!({"body": format!("message {i}")}).to_string();
                tokio::spawn(async move {
                    common::send(&http, &base, "POST", &path, &key, None, Some(&body)).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        for a in &answers {
            assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.body);
        }
        let mut seqs: Vec<i64> = answers
            .iter()
            .map(|a| a.body["seq"].as_i64().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=N as i64).collect::<Vec<_>>(), "{b}");
        let export = s
            .get(&format!("/v1/orders/{order}/messages/export"), &s.alice)
            .await
            .body;
        assert_eq!(export["count"], N, "{b}");
        assert_eq!(export["intact"], true, "{b}: {}", export["breaks"]);
        let messages = export["messages"].as_array().unwrap();
        for pair in messages.windows(2) {
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "{b}");
        }
    }
}

#[tokio::test]
async fn the_writer_refuses_a_message_decided_against_a_moved_head() {
    use holdback_domain::message::{Author, AuthorRole, Draft};
    use holdback_store::{Conflict, Unit, WriteError};
    for db in TestDb::all("messages_moved_head").await {
        let s = Server::start(&db).await;
        let b = s.backend;
        let order = s.bobs_order().await;
        let first = s
            .message(&order, &s.alice, json!({"body": "one"}))
            .await
            .body;
        let draft = |n: &str| {
            Draft::new(
                format!("msg_{n}"),
                order.clone(),
                Author {
                    role: AuthorRole::Seller,
                    id: "sel_bob".into(),
                },
                "late".into(),
                vec![],
                false,
            )
            .unwrap()
        };
        let commit = |m| {
            s.app.ledger.commit(Unit {
                messages: vec![m],
                ..Unit::default()
            })
        };
        let stale = draft("stale").append(None, common::T0);
        let wrong_prev = draft("wrong_prev").append(Some((1, &"1".repeat(64))), common::T0);
        for m in [stale, wrong_prev] {
            let e = commit(m).await.unwrap_err();
            assert!(
                matches!(e, WriteError::Conflict(Conflict::ChainMoved)),
                "{b}: {e}"
            );
        }
        let head = first["hash"].as_str().unwrap();
        commit(draft("right").append(Some((1, head)), common::T0))
            .await
            .unwrap();
        let export = s
            .get(&format!("/v1/orders/{order}/messages/export"), &s.bob)
            .await
            .body;
        assert_eq!(
            (export["count"].clone(), export["intact"].clone()),
            (json!(2), json!(true)),
            "{b}"
        );
    }
}
