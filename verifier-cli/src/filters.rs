//! Receipt filters shared by `replay` and `query`: the wire contract's one
//! list ([`cairn_api::wire::ReceiptFilters`]), given on the command line
//! with the same names as the ledger's query API, and checked locally on
//! verified receipts (a server's answer to a query is never taken as proof
//! that a receipt matches).

use cairn_api::receipt::ReceiptParts;
use cairn_api::wire::{ReceiptFilters, ReceiptQuery};

/// `--subject`, `--surface`, ... as given on the command line.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only receipts whose subject id is this (e.g. agent:devops-helper).
    #[arg(long)]
    pub subject: Option<String>,
    /// Only receipts whose resource kind (surface) is this (e.g. eks).
    #[arg(long)]
    pub surface: Option<String>,
    /// Only receipts whose action is this.
    #[arg(long)]
    pub action: Option<String>,
    /// Only receipts whose resource id (target) is this.
    #[arg(long)]
    pub target: Option<String>,
    /// Only receipts with this decision: PERMIT, DENY or SILENCE.
    #[arg(long, value_parser = ["PERMIT", "DENY", "SILENCE"])]
    pub decision: Option<String>,
    /// Only receipts signed by this gate (its key name).
    #[arg(long)]
    pub gate: Option<String>,
    /// Only receipts decided at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only receipts decided before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Only break-glass receipts (true) or only the others (false).
    #[arg(long)]
    pub break_glass: Option<bool>,
}

/// Parsed filters; the default selects every receipt.
#[derive(Debug, Clone, Default)]
pub struct Filters(ReceiptFilters);

impl Filters {
    /// Parse and check the filters; `Err` names the bad one.
    pub fn new(args: FilterArgs) -> Result<Self, String> {
        let mut f = ReceiptFilters::default();
        let b = args.break_glass.map(|b| b.to_string());
        for (name, v) in [
            ("subject", &args.subject),
            ("surface", &args.surface),
            ("action", &args.action),
            ("target", &args.target),
            ("decision", &args.decision),
            ("gate", &args.gate),
            ("since", &args.since),
            ("until", &args.until),
            ("break_glass", &b),
        ] {
            if let Some(v) = v {
                f.set(name, v)
                    .map_err(|e| format!("--{}: {e}", name.replace('_', "-")))?;
            }
        }
        f.time_range()
            .map_err(|_| "--since must be before --until".to_owned())?;
        Ok(Filters(f))
    }

    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        self.0.any()
    }

    /// Whether the receipt passes every filter.
    pub fn matches(&self, p: &ReceiptParts) -> bool {
        self.0.matches(p)
    }

    /// The ledger query for these filters, a page of `limit` from `cursor`.
    pub fn query(&self, limit: usize, cursor: Option<String>) -> ReceiptQuery {
        ReceiptQuery {
            filters: self.0.clone(),
            limit: Some(limit),
            cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;

    #[test]
    fn filters_match_and_encode() {
        let p = examples::receipt_parts(4);
        assert!(!Filters::new(FilterArgs::default()).unwrap().any());
        assert!(!Filters::default().any() && Filters::default().matches(&p));
        let f = Filters::new(FilterArgs {
            subject: Some(p.request.subject.id.clone()),
            decision: Some(p.decision.as_str().to_owned()),
            gate: Some(p.gate.clone()),
            since: Some("2000-01-01T00:00:00Z".into()),
            ..FilterArgs::default()
        })
        .unwrap();
        assert!(f.any() && f.matches(&p));
        let qs = f.query(10, None).to_query_string();
        assert!(
            qs.contains("since=2000-01-01T00%3A00%3A00.000Z") && qs.contains("gate="),
            "{qs}"
        );
        for other in [
            FilterArgs {
                subject: Some("agent:nobody".into()),
                ..FilterArgs::default()
            },
            FilterArgs {
                gate: Some("another-gate".into()),
                ..FilterArgs::default()
            },
            FilterArgs {
                until: Some("2000-01-01T00:00:00Z".into()),
                ..FilterArgs::default()
            },
        ] {
            assert!(!Filters::new(other).unwrap().matches(&p));
        }
        assert!(
            Filters::new(FilterArgs {
                since: Some("yesterday".into()),
                ..FilterArgs::default()
            })
            .is_err()
        );
    }
}
