//! Classifying lines against holdback's collections, batch identity, rounding rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Db, fixture, profile, read_all};
use holdback_remit::date::{DAY_MS, days_from_civil};
use holdback_remit::{
    Collection, CollectionClass, CollectionState, IdentityCheck, LineClass, LineResult, Profile,
    Reconciler, Warning, unremitted, write_csv,
};

fn gulf_db() -> Db {
    let mut db = Db::default();
    db.add(
        "p1001",
        "001234567890",
        "ORD-1001",
        48700,
        CollectionState::Collected,
    );
    db.add(
        "p1002",
        "123456789011",
        "ORD-1002",
        25000,
        CollectionState::Collected,
    );
    db.add(
        "p1003",
        "123456789013",
        "ORD-1003",
        10000,
        CollectionState::Collected,
    );
    db.add(
        "p1004",
        "123456789014",
        "ORD-1004",
        30000,
        CollectionState::Collected,
    );
    db.add(
        "p1005",
        "123456789015",
        "ORD-1005",
        15000,
        CollectionState::Collected,
    );
    db.add("p1006", "123456789016", "ORD-1006", 0, CollectionState::Rto);
    db.add(
        "p1007",
        "123456789017",
        "ORD-1007",
        15000,
        CollectionState::Rto,
    );
    let settled = CollectionState::Settled {
        batch: "GE-2026-0007".into(),
    };
    db.add("p1008", "123456789018", "ORD-1008", 12000, settled);
    db.add(
        "p1009",
        "123456789019",
        "ORD-1009",
        9000,
        CollectionState::Collected,
    );
    db
}

fn run(p: &Profile, file: &str, db: &mut Db) -> (Reconciler, Vec<LineResult>) {
    let mut rec = Reconciler::new(p);
    let results = read_all(p, fixture(file))
        .unwrap()
        .into_iter()
        .map(|l| rec.line(l, db))
        .collect();
    (rec, results)
}

#[test]
fn gulf_express_batch_gets_every_class_right() {
    let p = profile("gulf_express_sa");
    let (mut rec, r) = run(&p, "gulf_express_sa.csv", &mut gulf_db());
    let classes: Vec<_> = r.iter().map(|x| x.class).collect();
    assert_eq!(
        classes,
        vec![
            LineClass::Matched,
            LineClass::Matched,
            LineClass::Matched,
            LineClass::ShortPaid,
            LineClass::OverPaid,
            LineClass::Duplicate,
            LineClass::Matched,
            LineClass::RemittedButRto,
            LineClass::Duplicate,
            LineClass::UnknownParcel,
            LineClass::NotPaid,
            LineClass::SummaryRow,
        ]
    );
    // leading zeros restored, matched by tracking
    assert_eq!(r[0].parcel.as_deref(), Some("p1001"));
    assert_eq!((r[0].expected_net, r[0].delta), (Some(45574), 0));
    assert_eq!(r[0].warnings, vec![Warning::LeadingZeroLost]);
    // exponent-form AWB matched through the order reference
    assert_eq!(r[1].parcel.as_deref(), Some("p1002"));
    assert_eq!(r[1].warnings, vec![Warning::AwbMangled]);
    assert_eq!(r[2].parcel.as_deref(), Some("p1003"));
    // freight 20.00 against a 15.00 card: short by 5.75 (5.00 freight + 0.75 more VAT)
    assert_eq!(r[3].expected_net, Some(27412));
    assert_eq!(r[3].reported_net, 26837);
    assert_eq!(r[3].delta, -575);
    assert_eq!(r[3].warnings, vec![Warning::DeductionAboveRateCard]);
    // the carrier paid on 200.00 collected, holdback recorded 150.00
    assert_eq!(r[4].delta, 5000);
    assert_eq!(r[4].class.code(), "over_paid");
    assert_eq!(r[5].warnings, vec![Warning::DuplicateInFile]);
    assert_eq!(r[5].parcel.as_deref(), Some("p1001"));
    // a returned parcel charged only the RTO fee
    assert_eq!((r[6].expected_net, r[6].reported_net), (Some(-2500), -2500));
    assert_eq!(r[8].warnings, vec![Warning::DuplicateAcrossBatches]);
    assert_eq!(r[8].collection, Some(CollectionClass::AlreadySettled));
    assert_eq!(r[9].parcel, None);
    assert_eq!(
        rec.collections()
            .iter()
            .map(|(k, v)| (k.code(), v.parcels))
            .collect::<Vec<_>>(),
        vec![("already_settled", 1)]
    );

    let t = rec.totals().clone();
    assert_eq!(t.lines, 11);
    assert_eq!(t.gross, 334400);
    assert_eq!(t.net, 305522);
    assert_eq!(t.deductions, 334400 - 305522);
    assert_eq!(
        t.stated.map(|s| (s.gross, s.net)),
        Some((Some(334400), 305522))
    );
    assert_eq!(t.check_identity(), Ok(()));

    rec.set_bank_credit(305000);
    let err = rec.totals().check_identity().unwrap_err();
    assert_eq!(err.code(), "batch_identity_broken");
    assert_eq!(err.differences.len(), 1);
    assert_eq!(err.differences[0].check, IdentityCheck::BankCredit);
    assert_eq!(err.differences[0].delta, -522);

    let report = rec.report(r.clone());
    assert_eq!(report.classes["matched"].lines, 4);
    assert_eq!(report.classes["duplicate"].lines, 2);
    assert!(!report.identity.ok);
    assert_eq!(report.batch.as_deref(), Some("GE-2026-0008"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["lines"][3]["class"], "short_paid");
    assert_eq!(json["identity"]["differences"][0]["check"], "bank_credit");
    assert_eq!(json["currency"], "SAR");

    let mut out = Vec::new();
    write_csv(&r, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some(
            "row,tracking,parcel,class,expected_net,reported_net,delta,freight,cod_fee,early_cod_fee,\
             rto_charge,weight_discrepancy,tax_on_fees,withholding_tax,warnings"
        )
    );
    assert_eq!(
        rows.nth(3),
        Some(
            "7,123456789014,p1004,short_paid,27412,26837,-575,2000,750,,0,,413,,deduction_above_rate_card"
        )
    );
}

#[test]
fn identity_failure_names_the_difference() {
    let p = profile("gulf_express_sa");
    let mut text = String::from(
        "a,b\nc,d\nAWB No,Order No,Consignee,COD Amount,Freight,COD Charges,RTO Charges,VAT,Net Amount,Status,Delivery Date,Remittance No,Bank Ref\n",
    );
    text.push_str(
        "123456789014,ORD-1004,x,300.00,15.00,7.50,,3.38,274.12,Delivered,04/03/2026,B1,R1\n",
    );
    // the net column is 1.00 short of its own gross less deductions
    text.push_str(
        "123456789015,ORD-1005,x,200.00,15.00,5.00,,3.00,176.00,Delivered,04/03/2026,B1,R1\n",
    );
    text.push_str("Total,,,500.00,,,,,451.12,,,,\n");
    let mut rec = Reconciler::new(&p);
    let mut db = gulf_db();
    for l in read_all(&p, text.into_bytes()).unwrap() {
        rec.line(l, &mut db);
    }
    let err = rec.totals().check_identity().unwrap_err();
    let d: Vec<_> = err
        .differences
        .iter()
        .map(|d| (d.check.code(), d.expected, d.found, d.delta))
        .collect();
    assert_eq!(
        d,
        vec![
            ("line_net", 45112, 45012, -100),
            ("stated_net", 45012, 45112, 100)
        ]
    );
}

#[test]
fn a_batch_of_returns_has_a_negative_net_and_still_adds_up() {
    let p = profile("gulf_express_sa");
    let text = "x\ny\nAWB No,Order No,Consignee,COD Amount,Freight,COD Charges,RTO Charges,VAT,Net Amount,Status,Delivery Date,Remittance No,Bank Ref\n\
        123456789016,ORD-1006,x,0.00,0.00,0.00,25.00,0.00,-25.00,RTO,04/03/2026,B2,R2\n\
        123456789020,ORD-1010,x,0.00,0.00,0.00,25.00,0.00,-25.00,RTO,04/03/2026,B2,R2\n";
    let mut db = gulf_db();
    db.add("p1010", "123456789020", "ORD-1010", 0, CollectionState::Rto);
    let mut rec = Reconciler::new(&p);
    let r: Vec<_> = read_all(&p, text.as_bytes().to_vec())
        .unwrap()
        .into_iter()
        .map(|l| rec.line(l, &mut db))
        .collect();
    assert!(r.iter().all(|x| x.class == LineClass::Matched));
    assert_eq!(rec.totals().net, -5000);
    assert_eq!(rec.totals().deductions, 5000);
    rec.set_bank_credit(-5000);
    assert_eq!(rec.totals().check_identity(), Ok(()));
}

#[test]
fn multi_piece_total_repeated_on_every_piece_is_counted_once() {
    let p = profile("falcon_parcel_ae");
    let mut db = Db::default();
    db.add(
        "f1",
        "123456789012",
        "FP-1001",
        35000,
        CollectionState::Collected,
    );
    db.add(
        "f2",
        "5000123",
        "FP-1002",
        20000,
        CollectionState::Collected,
    );
    db.add("f3", "98765", "FP-1003", 9900, CollectionState::Collected);
    let (rec, r) = run(&p, "falcon_parcel_ae.xlsx", &mut db);
    let classes: Vec<_> = r.iter().map(|x| (x.class, x.parcel.clone())).collect();
    assert_eq!(
        classes,
        vec![
            (LineClass::Matched, Some("f1".into())),
            (LineClass::Matched, Some("f2".into())),
            (LineClass::Piece, Some("f2".into())),
            (LineClass::Matched, Some("f3".into())),
            (LineClass::SummaryRow, None),
        ]
    );
    assert!(r[2].warnings.is_empty(), "a piece is not a duplicate");
    assert_eq!(rec.totals().lines, 3);
    assert_eq!(rec.totals().gross, 64900);
    assert_eq!(rec.totals().check_identity(), Ok(()));
}

#[test]
fn net_regime_and_json_classes() {
    let p = profile("eurocod_de");
    let mut db = Db::default();
    db.add(
        "e1",
        "EC100000001DE",
        "B-5001",
        123456,
        CollectionState::Collected,
    );
    db.add(
        "e2",
        "EC100000002DE",
        "B-5002",
        130000,
        CollectionState::Collected,
    );
    db.add("e3", "EC100000003DE", "B-5003", 0, CollectionState::Rto);
    let (rec, r) = run(&p, "eurocod_de.csv", &mut db);
    assert_eq!(r[0].class, LineClass::Matched);
    assert_eq!(r[1].class, LineClass::ShortPaid);
    assert_eq!(r[2].class, LineClass::Matched);
    assert_eq!(r[2].expected_net, Some(-390));
    assert_eq!(r[3].class, LineClass::SummaryRow);
    assert_eq!(rec.totals().check_identity(), Ok(()));

    let p = profile("swiftcod_in");
    let mut db = Db::default();
    db.add(
        "s1",
        "123456789012345",
        "SO-77001",
        149950,
        CollectionState::Collected,
    );
    db.add(
        "s2",
        "SC998877665IN",
        "SO-77002",
        100000,
        CollectionState::Collected,
    );
    let settled = CollectionState::Settled {
        batch: "CRF-88000".into(),
    };
    db.add("s3", "SC998877666IN", "SO-77003", 50000, settled);
    let (_, r) = run(&p, "swiftcod_in.json", &mut db);
    let classes: Vec<_> = r.iter().map(|x| x.class).collect();
    assert_eq!(
        classes,
        vec![LineClass::Matched, LineClass::Matched, LineClass::Reversal]
    );
    assert_eq!(r[1].warnings, vec![Warning::ExcessPrecision]);
    // the reversal takes back the gross 500.00 where the earlier batch paid 404.80 net of fees
    // (fees 80.00, GST 14.40, TDS 0.80): it is expected to take back the net only
    assert_eq!(r[2].expected_net, Some(-40480));
    assert_eq!(r[2].delta, -9520);
    assert_eq!(r[2].collection, None);
    assert_eq!(r[2].warnings, vec![Warning::ReversalAmountMismatch]);
    assert_eq!(r[0].collection, None);
    // the same reversal of a parcel no batch paid takes back nothing
    let mut db = Db::default();
    db.add(
        "s3",
        "SC998877666IN",
        "SO-77003",
        50000,
        CollectionState::Collected,
    );
    let (_, r) = run(&p, "swiftcod_in.json", &mut db);
    assert_eq!(r[2].class, LineClass::Reversal);
    assert_eq!(r[2].warnings, vec![Warning::NothingToReverse]);
    assert_eq!((r[2].expected_net, r[2].collection), (None, None));
}

fn rate_card(rounding: &str) -> Profile {
    Profile::from_toml(&format!(
        r#"
carrier = "r"
currency = "sar"
format = "csv"
[columns]
tracking = "a"
cod_amount = "b"
[contract]
freight = 1000
cod_fee_rate = "2"
tax_on_fees_rate = "15"
rounding = "{rounding}"
"#
    ))
    .unwrap()
}

#[test]
fn a_tax_landing_on_a_half_rounds_by_the_named_rule() {
    // COD fee 2% of 315.00 = 6.30; fees 16.30; VAT 15% = 2.445 → a half of a minor unit
    let up = rate_card("half_up").contract.expected(31500, false);
    let even = rate_card("half_even").contract.expected(31500, false);
    assert_eq!(
        (up.cod_fee, up.tax_on_fees, up.net),
        (630, 245, 31500 - 1630 - 245)
    );
    assert_eq!(
        (even.cod_fee, even.tax_on_fees, even.net),
        (630, 244, 31500 - 1630 - 244)
    );
    // 2.5% of 48.70 = 1.2175 → 1.22 under both rules (not a half)
    let gulf = profile("gulf_express_sa").contract;
    assert_eq!(
        gulf.expected(4870, false).cod_fee,
        500,
        "raised to the minimum"
    );
    let no_min = Profile::from_toml(
        "carrier=\"r\"\ncurrency=\"sar\"\nformat=\"csv\"\n[columns]\ntracking=\"a\"\ncod_amount=\"b\"\n[contract]\ncod_fee_rate=\"2.5\"\n",
    )
    .unwrap();
    assert_eq!(no_min.contract.expected(4870, false).cod_fee, 122);
    assert_eq!(gulf.expected(99999, true).net, -2500);
}

#[test]
fn unremitted_collections_are_late_after_the_cycle() {
    let mut c = Collection {
        parcel: "p".into(),
        tracking: "t".into(),
        order_ref: "o".into(),
        collected: 100,
        state: CollectionState::Collected,
        collected_at: Some(days_from_civil(2026, 2, 20) * DAY_MS),
    };
    let batch = days_from_civil(2026, 3, 8) * DAY_MS;
    assert_eq!(unremitted(&c, batch, 7), CollectionClass::MissingFromFile);
    assert_eq!(unremitted(&c, batch, 20), CollectionClass::PendingNextCycle);
    c.collected_at = Some(days_from_civil(2026, 3, 1) * DAY_MS);
    assert_eq!(unremitted(&c, batch, 7), CollectionClass::PendingNextCycle);
    c.state = CollectionState::Reversed;
    assert_eq!(unremitted(&c, batch, 7).code(), "reversed");
    c.state = CollectionState::Settled { batch: "b".into() };
    assert_eq!(unremitted(&c, batch, 7).code(), "already_settled");
}
