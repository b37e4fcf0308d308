//! A deterministic sample remittance file of any length, for benchmarks and the streaming test.
//!
//! Line `i` (counting from 1) is built by [`sample_line`], so a caller can answer lookups for
//! it without keeping the file: tracking `HB` + the counter padded to ten digits; every 100th
//! line is a return to origin charged the contract's RTO fee; every 97th (that is not a return)
//! has status `Pending`; the others are delivered, collected between 10.00 and 2,509.99 SAR,
//! and carry exactly the rate card's deductions of [`sample_profile`].

use std::io::{self, Write};

use crate::profile::Profile;

/// The profile the sample file is written for (CSV, UTF-8, SAR, gross regime).
pub const SAMPLE_PROFILE: &str = r#"
carrier = "sample_cod"
currency = "sar"
format = "csv"
encoding = "utf-8"
header_row = 2
date_formats = ["%Y-%m-%d"]
timezone = "+03:00"
paid_statuses = ["Delivered"]
rto_statuses = ["RTO"]
regime = "gross"

[columns]
tracking = "AWB"
order_ref = "Order"
cod_amount = "COD Amount"
freight = "Freight"
cod_fee = "COD Fee"
rto_charge = "RTO Charge"
tax_on_fees = "VAT"
net = "Net Payable"
status = "Status"
date = "Delivered On"
batch = "Remittance ID"

[summary_row]
first_column_matches = ["Total"]

[contract]
freight = 1500
cod_fee_rate = "2"
cod_fee_min = 500
tax_on_fees_rate = "15"
rto_charge = 2000
rounding = "half_up"
"#;

/// The parsed [`SAMPLE_PROFILE`].
pub fn sample_profile() -> Result<Profile, crate::ProfileError> {
    Profile::from_toml(SAMPLE_PROFILE)
}

/// What line `i` of the sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleStatus {
    Delivered,
    Rto,
    Pending,
}

/// Line `i` of the sample file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleLine {
    pub tracking: String,
    pub collected: i64,
    pub status: SampleStatus,
}

/// Describes line `i` (from 1).
pub fn sample_line(i: u64) -> SampleLine {
    let status = if i.is_multiple_of(100) {
        SampleStatus::Rto
    } else if i.is_multiple_of(97) {
        SampleStatus::Pending
    } else {
        SampleStatus::Delivered
    };
    let collected = match status {
        SampleStatus::Delivered => {
            1000 + i64::try_from(i.wrapping_mul(7919) % 250_000).unwrap_or(0)
        }
        _ => 0,
    };
    SampleLine {
        tracking: format!("HB{i:010}"),
        collected,
        status,
    }
}

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// Writes a sample file of `lines` parcel lines and a total row; `order_ref(i)` names the order
/// of line `i`. Returns the total net written.
pub fn write_sample_csv(
    out: impl Write,
    lines: u64,
    mut order_ref: impl FnMut(u64) -> String,
) -> io::Result<i64> {
    let profile = sample_profile().map_err(|e| io::Error::other(e.to_string()))?;
    let contract = &profile.contract;
    let mut w = io::BufWriter::new(out);
    writeln!(w, "Sample COD remittance,batch SMP-0001")?;
    writeln!(
        w,
        "AWB,Order,COD Amount,Freight,COD Fee,RTO Charge,VAT,Net Payable,Status,Delivered On,Remittance ID"
    )?;
    let (mut gross, mut net_total) = (0i64, 0i64);
    for i in 1..=lines {
        let s = sample_line(i);
        let rto = s.status == SampleStatus::Rto;
        let e = contract.expected(s.collected, rto);
        let (label, e) = match s.status {
            SampleStatus::Delivered => ("Delivered", e),
            SampleStatus::Rto => ("RTO", e),
            SampleStatus::Pending => ("Pending", crate::Expected::default()),
        };
        gross += s.collected;
        net_total += e.net;
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},2026-03-{:02},SMP-0001",
            s.tracking,
            order_ref(i),
            money(s.collected),
            money(e.freight),
            money(e.cod_fee),
            money(e.rto_charge),
            money(e.tax_on_fees),
            money(e.net),
            label,
            1 + i % 14
        )?;
    }
    writeln!(w, "Total,,{},,,,,{},,,", money(gross), money(net_total))?;
    w.flush()?;
    Ok(net_total)
}
