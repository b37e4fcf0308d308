//! A generated 200,000-line file read through the streaming CSV path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use holdback_remit::{
    Collection, CollectionState, Collections, LineClass, Reconciler, SampleStatus, open_path,
    sample_line, sample_profile, validate, write_sample_csv,
};

/// Answers lookups for the sample file without storing it: line `i` is parcel `p{i}`; every
/// 1000th line (offset 501) is unknown to holdback; on every 250th (offset 3) holdback recorded
/// 1.00 more cash than the carrier reports.
struct SampleDb;

fn db_collection(i: u64) -> Option<Collection> {
    if i % 1000 == 501 {
        return None;
    }
    let s = sample_line(i);
    let (state, collected) = match s.status {
        SampleStatus::Rto => (CollectionState::Rto, 0),
        _ if i % 250 == 3 => (CollectionState::Collected, s.collected + 100),
        _ => (CollectionState::Collected, s.collected),
    };
    Some(Collection {
        parcel: format!("p{i}"),
        tracking: s.tracking,
        order_ref: format!("ord_{i}"),
        collected,
        state,
        collected_at: None,
    })
}

impl Collections for SampleDb {
    fn by_tracking(&mut self, tracking: &str) -> Option<Collection> {
        db_collection(tracking.strip_prefix("HB")?.parse().ok()?)
    }
    fn by_order_ref(&mut self, _: &str) -> Option<Collection> {
        None
    }
}

#[test]
fn two_hundred_thousand_lines_stream_with_the_right_class_counts() {
    const N: u64 = 200_000;
    let profile = sample_profile().unwrap();
    let path = std::env::temp_dir().join(format!(
        "holdback-remit-stream-{}-{N}.csv",
        std::process::id()
    ));
    let file = std::fs::File::create(&path).unwrap();
    let stated_net = write_sample_csv(file, N, |i| format!("ord_{i}")).unwrap();

    let check = validate(&profile, std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(check.lines, N + 1);
    assert_eq!(check.summary_rows, 1);

    let mut rec = Reconciler::new(&profile);
    let mut db = SampleDb;
    for line in open_path(&profile, &path).unwrap() {
        rec.line(line.unwrap(), &mut db);
    }
    std::fs::remove_file(&path).unwrap();

    let mut want: BTreeMap<LineClass, u64> = BTreeMap::new();
    for i in 1..=N {
        let class = match sample_line(i).status {
            SampleStatus::Pending => LineClass::NotPaid,
            _ if i % 1000 == 501 => LineClass::UnknownParcel,
            SampleStatus::Rto => LineClass::Matched,
            _ if i % 250 == 3 => LineClass::ShortPaid,
            _ => LineClass::Matched,
        };
        *want.entry(class).or_default() += 1;
    }
    want.insert(LineClass::SummaryRow, 1);
    let got: BTreeMap<LineClass, u64> = rec.classes().iter().map(|(k, v)| (*k, v.lines)).collect();
    assert_eq!(got, want);
    // the same counts written out: 2,041 pending (multiples of 97 that are not returns), 198
    // unknown (two of the 200 are pending), 791 short, the rest (2,000 returns among them) matched
    let literal: BTreeMap<LineClass, u64> = [
        (LineClass::Matched, 196_970),
        (LineClass::ShortPaid, 791),
        (LineClass::UnknownParcel, 198),
        (LineClass::SummaryRow, 1),
        (LineClass::NotPaid, 2_041),
    ]
    .into();
    assert_eq!(got, literal);
    assert_eq!(rec.totals().lines, N);
    assert_eq!(rec.totals().net, stated_net);
    assert_eq!(rec.totals().check_identity(), Ok(()));
}
