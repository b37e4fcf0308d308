//! The order's message record: body and file checks, the hash chain, and what `verify` finds.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use holdback_domain::ErrorCode;
use holdback_domain::message::{
    Author, AuthorRole, Break, Draft, GENESIS_HASH, MAX_BODY_CHARS, Message, MessageError,
    check_body, check_files, hash_of, verify,
};

fn draft(n: usize, role: AuthorRole, body: &str) -> Draft {
    let id = match role {
        AuthorRole::Buyer => "buy_alice",
        AuthorRole::Seller => "sel_bob",
        _ => "platform",
    };
    Draft::new(
        format!("msg_{n}"),
        "ord_1".into(),
        Author {
            role,
            id: id.into(),
        },
        body.into(),
        vec![],
        false,
    )
    .unwrap()
}

fn chain(n: usize) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for i in 0..n {
        let role = if i % 2 == 0 {
            AuthorRole::Buyer
        } else {
            AuthorRole::Seller
        };
        let head = out.last().map(|m| (m.seq, m.hash.as_str()));
        let m = draft(i, role, &format!("message {i}")).append(head, 1_000 + i as i64);
        out.push(m);
    }
    out
}

#[test]
fn bodies_are_checked_by_name() {
    assert!(check_body("hello\n\tworld").is_ok());
    assert!(check_body(&"é".repeat(MAX_BODY_CHARS)).is_ok());
    let cases: &[(&str, ErrorCode)] = &[
        ("", ErrorCode::MessageBodyEmpty),
        (" \n\t ", ErrorCode::MessageBodyEmpty),
        ("a\rb", ErrorCode::MessageBodyInvalidCharacter),
        ("a\u{0}b", ErrorCode::MessageBodyInvalidCharacter),
        ("a\u{85}b", ErrorCode::MessageBodyInvalidCharacter),
    ];
    for (body, code) in cases {
        assert_eq!(check_body(body).unwrap_err().code(), *code, "{body:?}");
    }
    let long = "x".repeat(MAX_BODY_CHARS + 1);
    assert_eq!(
        check_body(&long).unwrap_err(),
        MessageError::BodyTooLong(MAX_BODY_CHARS + 1)
    );
}

#[test]
fn files_are_at_most_ten_distinct_file_ids() {
    let ids = |n: usize| (0..n).map(|i| format!("file_{i:03}")).collect::<Vec<_>>();
    assert!(check_files(&ids(10)).is_ok());
    assert!(check_files(&[]).is_ok());
    for bad in [
        ids(11),
        vec!["file_".into()],
        vec!["fil_1".into()],
        vec!["file_a-b".into()],
        vec![format!("file_{}", "a".repeat(65))],
        vec!["file_1".into(), "file_1".into()],
    ] {
        let e = check_files(&bad).unwrap_err();
        assert_eq!(
            (e.code(), e.param()),
            (ErrorCode::MessageFilesInvalid, "files")
        );
    }
}

#[test]
fn each_message_links_to_the_one_before() {
    let c = chain(3);
    assert_eq!(c[0].seq, 1);
    assert_eq!(c[0].prev_hash, GENESIS_HASH);
    assert_eq!(c[1].prev_hash, c[0].hash);
    assert_eq!(c[2].seq, 3);
    assert_eq!(c[2].hash.len(), 64);
    assert_eq!(verify(&c), vec![]);
}

#[test]
fn the_hash_covers_every_field_unambiguously() {
    let m = chain(1).remove(0);
    let base = hash_of(&m);
    let mut variants = Vec::new();
    let mut v = m.clone();
    v.order = "ord_2".into();
    variants.push(v);
    let mut v = m.clone();
    v.seq = 2;
    variants.push(v);
    let mut v = m.clone();
    v.author.role = AuthorRole::Platform;
    variants.push(v);
    let mut v = m.clone();
    v.author.id = "buy_alicf".into();
    variants.push(v);
    let mut v = m.clone();
    v.body.push(' ');
    variants.push(v);
    let mut v = m.clone();
    v.files = vec!["file_1".into()];
    variants.push(v);
    let mut v = m.clone();
    v.created += 1;
    variants.push(v);
    let mut v = m.clone();
    v.prev_hash = "1".repeat(64);
    variants.push(v);
    for v in &variants {
        assert_ne!(hash_of(v), base, "{v:?}");
    }
    // length prefixes: moving a character from the author id into the body changes the hash
    let mut a = m.clone();
    a.author.id = "ab".into();
    a.body = "c".into();
    let mut b = m.clone();
    b.author.id = "a".into();
    b.body = "bc".into();
    assert_ne!(hash_of(&a), hash_of(&b));
    // and the same fields give the same hash
    assert_eq!(hash_of(&m.clone()), base);
}

#[test]
fn verify_names_each_break_by_seq() {
    let mut edited = chain(4);
    edited[1].body = "I never said that".into();
    assert_eq!(verify(&edited), vec![Break::WrongHash { seq: 2 }]);

    // an edit with its hash recomputed breaks the next link instead
    let mut rehashed = chain(4);
    rehashed[1].body = "I never said that".into();
    rehashed[1].hash = hash_of(&rehashed[1]);
    assert_eq!(verify(&rehashed), vec![Break::WrongPrevHash { seq: 3 }]);

    let mut deleted = chain(4);
    deleted.remove(2);
    assert_eq!(
        verify(&deleted),
        vec![
            Break::Gap {
                seq: 4,
                expected: 3
            },
            Break::WrongPrevHash { seq: 4 }
        ]
    );
    assert_eq!(
        Break::Gap {
            seq: 4,
            expected: 3
        }
        .to_string(),
        "seq 4: a gap in the sequence (expected seq 3)"
    );
}
