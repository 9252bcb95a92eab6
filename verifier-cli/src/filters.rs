//! Receipt filters shared by `replay` and `query`: the same names as the
//! ledger's query API, checked locally on verified receipts (a server's
//! answer to a query is never taken as proof that a receipt matches).

use cairn_api::receipt::ReceiptParts;
use cairn_api::timestamp::Timestamp;

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
#[derive(Debug, Clone)]
pub struct Filters {
    args: FilterArgs,
    since: u64,
    until: u64,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            args: FilterArgs::default(),
            since: 0,
            until: u64::MAX,
        }
    }
}

impl Filters {
    /// Parse the times; `Err` names the bad one.
    pub fn new(args: FilterArgs) -> Result<Self, String> {
        let time = |name: &str, v: &Option<String>, default: u64| match v {
            None => Ok(default),
            Some(s) => Timestamp::parse_rfc3339(s)
                .map(Timestamp::millis)
                .map_err(|e| format!("--{name} {s}: {e}")),
        };
        let since = time("since", &args.since, 0)?;
        let until = time("until", &args.until, u64::MAX)?;
        if since >= until {
            return Err("--since must be before --until".into());
        }
        Ok(Filters { args, since, until })
    }

    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        let a = &self.args;
        a.subject.is_some()
            || a.surface.is_some()
            || a.action.is_some()
            || a.target.is_some()
            || a.decision.is_some()
            || a.break_glass.is_some()
            || self.since > 0
            || self.until < u64::MAX
    }

    /// Whether the receipt passes every filter.
    pub fn matches(&self, p: &ReceiptParts) -> bool {
        let a = &self.args;
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&a.subject, &p.request.subject.id)
            && eq(&a.surface, &p.request.resource.kind)
            && eq(&a.action, &p.request.action.name)
            && eq(&a.target, &p.request.resource.id)
            && eq(&a.decision, p.decision.as_str())
            && (self.since..self.until).contains(&p.decided_at.millis())
            && a.break_glass.is_none_or(|b| b == p.break_glass.is_some())
    }

    /// The ledger query string for these filters (without limit/cursor).
    pub fn query_string(&self) -> String {
        let a = &self.args;
        let mut q = Vec::new();
        for (k, v) in [
            ("subject", &a.subject),
            ("surface", &a.surface),
            ("action", &a.action),
            ("target", &a.target),
            ("decision", &a.decision),
            ("since", &a.since),
            ("until", &a.until),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", encode(v)));
            }
        }
        if let Some(b) = a.break_glass {
            q.push(format!("break_glass={b}"));
        }
        q.join("&")
    }
}

/// Percent-encode a query value (RFC 3986 unreserved characters kept).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
            since: Some("2000-01-01T00:00:00Z".into()),
            ..FilterArgs::default()
        })
        .unwrap();
        assert!(f.any() && f.matches(&p));
        assert!(f.query_string().contains("since=2000-01-01T00%3A00%3A00Z"));
        let other = Filters::new(FilterArgs {
            subject: Some("agent:nobody".into()),
            ..FilterArgs::default()
        })
        .unwrap();
        assert!(!other.matches(&p));
        let late = Filters::new(FilterArgs {
            until: Some("2000-01-01T00:00:00Z".into()),
            ..FilterArgs::default()
        })
        .unwrap();
        assert!(!late.matches(&p));
        assert!(
            Filters::new(FilterArgs {
                since: Some("yesterday".into()),
                ..FilterArgs::default()
            })
            .is_err()
        );
    }
}
