//! Reconciliation: comparing what a payment provider says happened with what holdback's ledger
//! says happened at that provider.
//!
//! Both sides are lists of operations (a charge or a refund, its reference, its amount). The
//! reference is the key: holdback hands it to the provider with every call, and the provider
//! deduplicates by it, so each reference should appear exactly once on each side, with the same
//! amount. [`reconcile`] names every way in which that fails. It is a pure function: loading the
//! provider's statement and holdback's records is the caller's business.

use std::collections::BTreeMap;
use std::fmt;

use crate::Money;

/// What moved money at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    Charge,
    Refund,
}

impl OpKind {
    pub fn code(self) -> &'static str {
        match self {
            OpKind::Charge => "charge",
            OpKind::Refund => "refund",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One operation on the provider's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOp {
    pub kind: OpKind,
    pub reference: String,
    pub amount: Money,
}

/// One operation that holdback's ledger says was performed at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOp {
    pub kind: OpKind,
    pub reference: String,
    pub amount: Money,
}

/// Which side of the comparison a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Provider,
    Ledger,
}

impl Side {
    pub fn code(self) -> &'static str {
        match self {
            Side::Provider => "provider",
            Side::Ledger => "ledger",
        }
    }
}

/// One disagreement between the provider and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    /// The ledger records an operation the provider never performed.
    MissingAtProvider {
        kind: OpKind,
        reference: String,
        amount: Money,
    },
    /// The provider performed an operation the ledger does not record.
    MissingInLedger {
        kind: OpKind,
        reference: String,
        amount: Money,
    },
    /// One side holds the same reference more than once.
    Duplicated {
        kind: OpKind,
        reference: String,
        count: usize,
        side: Side,
    },
    /// Both sides hold the reference, with different amounts (or currencies).
    Mismatched {
        kind: OpKind,
        reference: String,
        provider: Money,
        ledger: Money,
    },
}

impl Discrepancy {
    pub fn code(&self) -> &'static str {
        match self {
            Discrepancy::MissingAtProvider { .. } => "missing_at_provider",
            Discrepancy::MissingInLedger { .. } => "missing_in_ledger",
            Discrepancy::Duplicated { .. } => "duplicated",
            Discrepancy::Mismatched { .. } => "mismatched",
        }
    }

    pub fn kind(&self) -> OpKind {
        match self {
            Discrepancy::MissingAtProvider { kind, .. }
            | Discrepancy::MissingInLedger { kind, .. }
            | Discrepancy::Duplicated { kind, .. }
            | Discrepancy::Mismatched { kind, .. } => *kind,
        }
    }

    pub fn reference(&self) -> &str {
        match self {
            Discrepancy::MissingAtProvider { reference, .. }
            | Discrepancy::MissingInLedger { reference, .. }
            | Discrepancy::Duplicated { reference, .. }
            | Discrepancy::Mismatched { reference, .. } => reference,
        }
    }
}

impl fmt::Display for Discrepancy {
    /// One line for a terminal: the code, the operation, then what differs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discrepancy::MissingAtProvider {
                kind,
                reference,
                amount,
            } => write!(
                f,
                "missing_at_provider {kind} {reference}: the ledger records {amount}, the provider has nothing"
            ),
            Discrepancy::MissingInLedger {
                kind,
                reference,
                amount,
            } => write!(
                f,
                "missing_in_ledger {kind} {reference}: the provider moved {amount}, the ledger has nothing"
            ),
            Discrepancy::Duplicated {
                kind,
                reference,
                count,
                side,
            } => write!(
                f,
                "duplicated {kind} {reference}: the {} holds it {count} times",
                side.code()
            ),
            Discrepancy::Mismatched {
                kind,
                reference,
                provider,
                ledger,
            } => write!(
                f,
                "mismatched {kind} {reference}: the provider moved {provider}, the ledger records {ledger}"
            ),
        }
    }
}

/// Every disagreement between the provider's operations and holdback's records, ordered by kind
/// (charges first), then reference. Within one reference: duplicates on the provider's side,
/// then on the ledger's, then a missing or mismatched amount (comparing the first occurrence on
/// each side). An empty result means the two agree.
pub fn reconcile(provider: &[ProviderOp], recorded: &[RecordedOp]) -> Vec<Discrepancy> {
    #[derive(Default)]
    struct Sides {
        provider: Vec<Money>,
        ledger: Vec<Money>,
    }
    let mut by_key: BTreeMap<(OpKind, &str), Sides> = BTreeMap::new();
    for op in provider {
        let sides = by_key.entry((op.kind, op.reference.as_str())).or_default();
        sides.provider.push(op.amount);
    }
    for op in recorded {
        let sides = by_key.entry((op.kind, op.reference.as_str())).or_default();
        sides.ledger.push(op.amount);
    }

    let mut found = Vec::new();
    for ((kind, reference), sides) in by_key {
        for (side, amounts) in [
            (Side::Provider, &sides.provider),
            (Side::Ledger, &sides.ledger),
        ] {
            if amounts.len() > 1 {
                found.push(Discrepancy::Duplicated {
                    kind,
                    reference: reference.to_string(),
                    count: amounts.len(),
                    side,
                });
            }
        }
        match (sides.provider.first(), sides.ledger.first()) {
            (Some(&provider), Some(&ledger)) if provider != ledger => {
                found.push(Discrepancy::Mismatched {
                    kind,
                    reference: reference.to_string(),
                    provider,
                    ledger,
                });
            }
            (Some(&amount), None) => found.push(Discrepancy::MissingInLedger {
                kind,
                reference: reference.to_string(),
                amount,
            }),
            (None, Some(&amount)) => found.push(Discrepancy::MissingAtProvider {
                kind,
                reference: reference.to_string(),
                amount,
            }),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("USD").unwrap()).unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn p(kind: OpKind, reference: &str, amount: Money) -> ProviderOp {
        ProviderOp {
            kind,
            reference: reference.to_string(),
            amount,
        }
    }

    fn r(kind: OpKind, reference: &str, amount: Money) -> RecordedOp {
        RecordedOp {
            kind,
            reference: reference.to_string(),
            amount,
        }
    }

    use OpKind::{Charge, Refund};

    #[test]
    fn each_disagreement_is_named() {
        struct Case {
            name: &'static str,
            provider: Vec<ProviderOp>,
            recorded: Vec<RecordedOp>,
            want: Vec<&'static str>,
        }
        let cases = [
            Case {
                name: "agreeing",
                provider: vec![
                    p(Charge, "pay_1", usd(1000)),
                    p(Refund, "ref_1", usd(400)),
                    p(Charge, "pay_2", eur(50)),
                ],
                recorded: vec![
                    r(Refund, "ref_1", usd(400)),
                    r(Charge, "pay_2", eur(50)),
                    r(Charge, "pay_1", usd(1000)),
                ],
                want: vec![],
            },
            Case {
                name: "both empty",
                provider: vec![],
                recorded: vec![],
                want: vec![],
            },
            Case {
                name: "recorded but never performed",
                provider: vec![],
                recorded: vec![r(Refund, "ref_1", usd(400))],
                want: vec!["missing_at_provider refund ref_1"],
            },
            Case {
                name: "performed but never recorded",
                provider: vec![p(Charge, "pay_1", usd(1000))],
                recorded: vec![],
                want: vec!["missing_in_ledger charge pay_1"],
            },
            Case {
                name: "same reference, other kind",
                provider: vec![p(Charge, "x", usd(1))],
                recorded: vec![r(Refund, "x", usd(1))],
                want: vec!["missing_in_ledger charge x", "missing_at_provider refund x"],
            },
            Case {
                name: "amounts differ",
                provider: vec![p(Charge, "pay_1", usd(1000))],
                recorded: vec![r(Charge, "pay_1", usd(999))],
                want: vec!["mismatched charge pay_1"],
            },
            Case {
                name: "currencies differ",
                provider: vec![p(Charge, "pay_1", usd(1000))],
                recorded: vec![r(Charge, "pay_1", eur(1000))],
                want: vec!["mismatched charge pay_1"],
            },
            Case {
                name: "recorded twice",
                provider: vec![p(Refund, "ref_1", usd(400))],
                recorded: vec![r(Refund, "ref_1", usd(400)), r(Refund, "ref_1", usd(400))],
                want: vec!["duplicated refund ref_1 ledger 2"],
            },
            Case {
                name: "performed three times",
                provider: vec![
                    p(Charge, "pay_1", usd(5)),
                    p(Charge, "pay_1", usd(5)),
                    p(Charge, "pay_1", usd(5)),
                ],
                recorded: vec![r(Charge, "pay_1", usd(5))],
                want: vec!["duplicated charge pay_1 provider 3"],
            },
            Case {
                name: "duplicated and missing on the other side",
                provider: vec![p(Charge, "pay_1", usd(5)), p(Charge, "pay_1", usd(5))],
                recorded: vec![],
                want: vec![
                    "duplicated charge pay_1 provider 2",
                    "missing_in_ledger charge pay_1",
                ],
            },
            Case {
                name: "sorted by kind, then reference",
                provider: vec![
                    p(Refund, "b", usd(1)),
                    p(Charge, "b", usd(1)),
                    p(Charge, "a", usd(1)),
                ],
                recorded: vec![r(Refund, "a", usd(1))],
                want: vec![
                    "missing_in_ledger charge a",
                    "missing_in_ledger charge b",
                    "missing_at_provider refund a",
                    "missing_in_ledger refund b",
                ],
            },
        ];
        for case in cases {
            let got: Vec<String> = reconcile(&case.provider, &case.recorded)
                .iter()
                .map(|d| match d {
                    Discrepancy::Duplicated {
                        kind,
                        reference,
                        count,
                        side,
                    } => format!("duplicated {kind} {reference} {} {count}", side.code()),
                    other => format!("{} {} {}", other.code(), other.kind(), other.reference()),
                })
                .collect();
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn findings_carry_the_amounts() {
        let found = reconcile(
            &[p(Charge, "pay_1", usd(1000)), p(Refund, "ref_9", usd(7))],
            &[r(Charge, "pay_1", usd(999)), r(Refund, "ref_2", usd(3))],
        );
        assert_eq!(
            found,
            vec![
                Discrepancy::Mismatched {
                    kind: Charge,
                    reference: "pay_1".to_string(),
                    provider: usd(1000),
                    ledger: usd(999),
                },
                Discrepancy::MissingAtProvider {
                    kind: Refund,
                    reference: "ref_2".to_string(),
                    amount: usd(3),
                },
                Discrepancy::MissingInLedger {
                    kind: Refund,
                    reference: "ref_9".to_string(),
                    amount: usd(7),
                },
            ]
        );
    }

    #[test]
    fn lines_read_well() {
        let lines: Vec<String> = reconcile(
            &[p(Charge, "pay_1", usd(1000)), p(Charge, "pay_3", usd(1))],
            &[
                r(Charge, "pay_1", usd(999)),
                r(Refund, "ref_2", usd(350)),
                r(Charge, "pay_3", usd(1)),
                r(Charge, "pay_3", usd(1)),
            ],
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            lines,
            vec![
                "mismatched charge pay_1: the provider moved 10.00 USD, the ledger records 9.99 USD",
                "duplicated charge pay_3: the ledger holds it 2 times",
                "missing_at_provider refund ref_2: the ledger records 3.50 USD, the provider has nothing",
            ]
        );
    }

    #[test]
    fn codes_are_unique() {
        let m = usd(1);
        let all = [
            Discrepancy::MissingAtProvider {
                kind: Charge,
                reference: String::new(),
                amount: m,
            },
            Discrepancy::MissingInLedger {
                kind: Charge,
                reference: String::new(),
                amount: m,
            },
            Discrepancy::Duplicated {
                kind: Charge,
                reference: String::new(),
                count: 2,
                side: Side::Ledger,
            },
            Discrepancy::Mismatched {
                kind: Charge,
                reference: String::new(),
                provider: m,
                ledger: m,
            },
        ];
        let mut codes: Vec<&str> = all.iter().map(Discrepancy::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
