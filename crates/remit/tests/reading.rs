//! Reading real-shaped files: encodings, separators, spreadsheet damage, refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixture, profile, read_all};
use holdback_remit::date::{DAY_MS, days_from_civil};
use holdback_remit::{DeductionKind, FileError, Profile, Warning, validate};

const HOUR: i64 = 3_600_000;

#[test]
fn gulf_express_windows_1256_round_trips_arabic_and_repairs_tracking() {
    let p = profile("gulf_express_sa");
    let lines = read_all(&p, fixture("gulf_express_sa.csv")).unwrap();
    assert_eq!(lines.len(), 12);

    let first = &lines[0];
    assert_eq!(first.row, 4, "two preamble lines and the header come first");
    assert_eq!(first.tracking_raw, "1234567890");
    assert_eq!(first.tracking, "001234567890");
    assert_eq!(first.warnings, vec![Warning::LeadingZeroLost]);
    assert_eq!(first.consignee.as_deref(), Some("محمد العتيبي"));
    assert_eq!(first.status.as_deref(), Some("تم التحصيل"));
    assert!(first.paid && !first.rto);
    assert_eq!(first.collected, 48700);
    assert_eq!(
        first.deductions,
        vec![
            (DeductionKind::Freight, 1500),
            (DeductionKind::CodFee, 1218),
            (DeductionKind::RtoCharge, 0),
            (DeductionKind::TaxOnFees, 408),
        ]
    );
    assert_eq!(first.net, 45574);
    // 04/03/2026 in Riyadh (+03:00) is 3 March 21:00 UTC
    assert_eq!(
        first.date_ms,
        Some(days_from_civil(2026, 3, 4) * DAY_MS - 3 * HOUR)
    );
    assert_eq!(first.batch.as_deref(), Some("GE-2026-0008"));
    assert_eq!(first.bank_reference.as_deref(), Some("600612345678"));

    let exp = &lines[1];
    assert_eq!(exp.tracking_raw, "1.23457E+11");
    assert_eq!(exp.warnings, vec![Warning::AwbMangled]);
    assert_eq!(exp.order_ref.as_deref(), Some("ORD-1002"));

    let dot_zero = &lines[2];
    assert_eq!(dot_zero.tracking, "123456789013");
    assert_eq!(dot_zero.warnings, vec![Warning::AwbMangled]);

    let rto = &lines[6];
    assert_eq!(rto.status.as_deref(), Some("مرتجع"));
    assert!(rto.rto && !rto.paid);
    assert_eq!(rto.net, -2500);

    let unknown = &lines[9];
    assert_eq!(
        unknown.collected, 125000,
        "\"1,250.00\" with a thousands comma"
    );
    assert_eq!(unknown.consignee.as_deref(), Some("زائر مجهول"));

    let total = &lines[11];
    assert!(total.summary);
    assert_eq!(total.collected, 334400);
    assert_eq!(total.net, 305522);
}

#[test]
fn eurocod_windows_1252_semicolons_decimal_comma_nbsp_thousands() {
    let p = profile("eurocod_de");
    let lines = read_all(&p, fixture("eurocod_de.csv")).unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0].consignee.as_deref(), Some("Zoë Müller – café"));
    assert_eq!(lines[1].consignee.as_deref(), Some("Åsa Øberg"));
    assert_eq!(lines[2].consignee.as_deref(), Some("François Dupré"));
    // net regime: the amount column is the payout, collected = payout + itemised deductions
    assert_eq!(lines[0].net, 121064);
    assert_eq!(lines[0].collected, 123456);
    assert_eq!(
        lines[0].deductions,
        vec![(DeductionKind::Freight, 490), (DeductionKind::CodFee, 1902)]
    );
    // "1 234,56" with a no-break space
    assert_eq!(lines[1].net, 123456);
    assert_eq!(lines[1].collected, 123456);
    assert_eq!(
        lines[0].date_ms,
        Some(days_from_civil(2026, 3, 2) * DAY_MS - HOUR)
    );
    assert!(lines[2].rto);
    assert_eq!(lines[2].net, -390);
    assert_eq!(lines[2].collected, 0);
    assert!(lines[3].summary);
    assert_eq!(lines[3].net, 244130);
}

#[test]
fn utf8_bom_does_not_hide_the_first_header() {
    let p = Profile::from_toml(
        r#"
carrier = "bom_test"
currency = "sar"
format = "csv"
paid_statuses = ["Delivered"]
[columns]
tracking = "AWB"
order_ref = "Order"
cod_amount = "COD Amount"
net = "Net Payable"
status = "Status"
"#,
    )
    .unwrap();
    let bytes = fixture("utf8_bom.csv");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let lines = read_all(&p, bytes).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].tracking, "HB0000000001");
    assert_eq!(lines[0].collected, 10000);
    assert_eq!(lines[0].net, 8000);
}

fn tiny_profile(encoding: &str, extra: &str) -> Profile {
    Profile::from_toml(&format!(
        r#"
carrier = "tiny"
currency = "sar"
format = "csv"
encoding = "{encoding}"
{extra}
[columns]
tracking = "AWB"
order_ref = "Order"
cod_amount = "COD Amount"
"#
    ))
    .unwrap()
}

#[test]
fn utf8_mislabelled_as_windows_1252_is_refused_at_the_undefined_byte() {
    let p = tiny_profile("windows-1252", "");
    let text = "AWB,Order,COD Amount\r\nX1,Ángel Ruiz,10.00\r\n";
    let bytes = text.as_bytes().to_vec();
    // "Á" is C3 81 in UTF-8; 0x81 is undefined in windows-1252.
    let offset = bytes.iter().position(|b| *b == 0x81).unwrap() as u64;
    let err = read_all(&p, bytes).unwrap_err();
    assert_eq!(err, FileError::Encoding { offset });
    assert_eq!(err.code(), "file_encoding_invalid");

    // 0x8D and 0x90 likewise ("ō" is C5 8D, "Ð" is C3 90)
    let bytes = "AWB,Order,COD Amount\r\nX1,Dōra,1.00\r\n"
        .as_bytes()
        .to_vec();
    let offset = bytes.iter().position(|b| *b == 0x8D).unwrap() as u64;
    assert_eq!(
        read_all(&p, bytes).unwrap_err(),
        FileError::Encoding { offset }
    );
    let bytes = "AWB,Order,COD Amount\r\nX1,Ðan,1.00\r\n"
        .as_bytes()
        .to_vec();
    let offset = bytes.iter().position(|b| *b == 0x90).unwrap() as u64;
    assert_eq!(
        read_all(&p, bytes).unwrap_err(),
        FileError::Encoding { offset }
    );
}

#[test]
fn invalid_utf8_late_in_a_big_file_is_caught_by_the_validation_pass() {
    let p = tiny_profile("utf-8", "");
    let mut bytes = b"AWB,Order,COD Amount\r\n".to_vec();
    for i in 0..5000 {
        bytes.extend_from_slice(format!("T{i:08},ord_{i},12.50\r\n").as_bytes());
    }
    let offset = bytes.len() as u64 + 6;
    bytes.extend_from_slice(b"T99,ab\xFFc,1.00\r\n");
    let err = validate(&p, std::io::Cursor::new(bytes.clone())).unwrap_err();
    assert_eq!(err, FileError::Encoding { offset });
    // Reading directly yields the earlier lines, then the refusal, then nothing.
    let mut it = holdback_remit::open(&p, std::io::Cursor::new(bytes)).unwrap();
    let good = it.by_ref().take_while(Result::is_ok).count();
    assert!(good > 4000, "{good} lines before the refusal");
    assert!(it.next().is_none());
}

#[test]
fn bank_reference_in_exponent_form_refuses_the_file() {
    let p = Profile::from_toml(
        r#"
carrier = "tiny"
currency = "sar"
format = "csv"
[columns]
tracking = "AWB"
cod_amount = "COD Amount"
bank_reference = "Bank Ref"
"#,
    )
    .unwrap();
    let csv = "AWB,COD Amount,Bank Ref\nA1,10.00,600612345678\nA2,10.00,6.00612E+11\nA3,1.00,1\n";
    let err = read_all(&p, csv.as_bytes().to_vec()).unwrap_err();
    assert_eq!(
        err,
        FileError::ExponentReference {
            row: 3,
            column: "bank_reference".to_string(),
            value: "6.00612E+11".to_string()
        }
    );
    assert_eq!(err.code(), "reference_in_exponent_form");
}

#[test]
fn ambiguous_dates_are_refused_and_unambiguous_ones_read() {
    let p = tiny_profile(
        "utf-8",
        "date_formats = [\"%d/%m/%Y\", \"%m/%d/%Y\"]\ntimezone = \"+03:00\"",
    );
    let mut p2 = p.clone();
    p2.columns.date = Some("Date".into());
    let ok = "AWB,Order,COD Amount,Date\nA1,o1,1.00,13/04/2026\nA2,o2,1.00,04/04/2026\n";
    let lines = read_all(&p2, ok.as_bytes().to_vec()).unwrap();
    assert_eq!(
        lines[0].date_ms,
        Some(days_from_civil(2026, 4, 13) * DAY_MS - 3 * HOUR)
    );
    assert_eq!(
        lines[1].date_ms,
        Some(days_from_civil(2026, 4, 4) * DAY_MS - 3 * HOUR)
    );
    let bad = "AWB,Order,COD Amount,Date\nA1,o1,1.00,13/04/2026\nA2,o2,1.00,03/04/2026\n";
    let err = read_all(&p2, bad.as_bytes().to_vec()).unwrap_err();
    assert_eq!(
        err,
        FileError::AmbiguousDate {
            row: 3,
            value: "03/04/2026".into()
        }
    );
    assert_eq!(err.code(), "date_ambiguous");
}

#[test]
fn amounts_that_are_not_amounts_refuse_the_file() {
    let p = tiny_profile("utf-8", "");
    let err = read_all(&p, b"AWB,Order,COD Amount\nA1,o,SAR 12\n".to_vec()).unwrap_err();
    assert_eq!(
        err,
        FileError::BadAmount {
            row: 2,
            column: "cod_amount".into(),
            value: "SAR 12".into()
        }
    );
    let err = read_all(&p, b"AWB,Order\nA1,o\n".to_vec()).unwrap_err();
    assert_eq!(err.code(), "column_missing");
    // parentheses are negative; extra zero digits are not excess precision
    let lines = read_all(
        &p,
        b"AWB,Order,COD Amount\nA1,o,(12.50)\nA2,o,3.500\nA3,o,3.505\n".to_vec(),
    )
    .unwrap();
    assert_eq!(lines[0].collected, -1250);
    assert_eq!(
        (lines[1].collected, lines[1].warnings.clone()),
        (350, vec![])
    );
    assert_eq!(
        (lines[2].collected, lines[2].warnings.clone()),
        (351, vec![Warning::ExcessPrecision])
    );
}

#[test]
fn xlsx_numeric_waybills_come_back_as_exact_digits() {
    let p = profile("falcon_parcel_ae");
    let lines = read_all(&p, fixture("falcon_parcel_ae.xlsx")).unwrap();
    assert_eq!(lines.len(), 5);
    let first = &lines[0];
    assert_eq!(first.row, 3);
    assert_eq!(first.tracking, "123456789012");
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    assert_eq!(first.collected, 35000);
    assert_eq!(first.net, 32637);
    assert_eq!(
        first.date_ms,
        Some(days_from_civil(2026, 3, 5) * DAY_MS + 10 * HOUR + HOUR / 2)
    );
    assert_eq!(lines[1].tracking, "5000123-1");
    assert_eq!(lines[2].tracking, "5000123-2");
    // 12345678901234567890 is beyond 2^53: the stored double lost digits
    assert_eq!(lines[3].warnings, vec![Warning::AwbMangled]);
    assert_eq!(lines[3].order_ref.as_deref(), Some("FP-1003"));
    assert!(lines[4].summary);
    assert_eq!(lines[4].collected, 64900);
}

#[test]
fn json_numbers_are_read_from_their_literal_text() {
    let p = profile("swiftcod_in");
    let lines = read_all(&p, fixture("swiftcod_in.json")).unwrap();
    assert_eq!(lines.len(), 3);
    let l = &lines[0];
    assert_eq!(l.tracking, "123456789012345");
    assert_eq!(l.collected, 149950);
    assert_eq!(
        l.deductions,
        vec![
            (DeductionKind::Freight, 4500),
            (DeductionKind::CodFee, 3500),
            (DeductionKind::EarlyCodFee, 0),
            (DeductionKind::TaxOnFees, 1440),
            (DeductionKind::WithholdingTax, 80),
        ]
    );
    assert_eq!(l.net, 140430);
    assert_eq!(l.bank_reference.as_deref(), Some("UTR260305000123"));
    // 18:45 in India (+05:30) is 13:15 UTC
    assert_eq!(
        l.date_ms,
        Some(days_from_civil(2026, 3, 2) * DAY_MS + 13 * HOUR + HOUR / 4)
    );
    assert_eq!(
        lines[1].collected, 100000,
        "999.999 rounds half up to 1000.00"
    );
    assert_eq!(lines[1].warnings, vec![Warning::ExcessPrecision]);
    assert_eq!(lines[2].collected, -50000);
}

#[test]
fn every_shipped_profile_parses() {
    // (Gulf Express is the carrier of holdback's default cash-on-delivery policy)
    for (name, carrier) in [
        ("gulf_express_sa", "gulf_express"),
        ("eurocod_de", "eurocod_de"),
        ("falcon_parcel_ae", "falcon_parcel_ae"),
        ("swiftcod_in", "swiftcod_in"),
    ] {
        let p = profile(name);
        assert_eq!(p.carrier, carrier);
    }
    let err = Profile::from_toml("carrier = \"x\"\ncurrency = \"sar\"\nformat = \"csv\"\n[columns]\ntracking = \"a\"\ncod_amount = \"b\"\n[contract]\ncod_fee_rate = 2.5\n").unwrap_err();
    assert_eq!(
        err.code(),
        "profile_unreadable",
        "a float rate is refused: {err}"
    );
    let err = Profile::from_toml("carrier = \"x\"\ncurrency = \"xyz\"\nformat = \"csv\"\n[columns]\ntracking = \"a\"\ncod_amount = \"b\"\n").unwrap_err();
    assert_eq!(err.code(), "profile_currency_unknown");
}
