//! Incident review: `GET /v1/receipts?subject=...&decision=DENY&...`.
//!
//! [`ReceiptFilters`] is the one list of receipt filters: the ledger's query
//! API parses it, the verifier's `replay` and `query` take the same names
//! on the command line and check them locally on verified receipts (a
//! server's answer is never taken as proof that a receipt matches).

use serde::{Deserialize, Serialize};

use crate::receipt::{Decision, MAX_NAME_BYTES, ReceiptParts};
use crate::timestamp::Timestamp;

/// Longest filter value (receipt names are at most this long).
pub const MAX_FILTER_BYTES: usize = MAX_NAME_BYTES;
/// Most query parameters one request may carry.
pub const MAX_QUERY_PARAMETERS: usize = 16;

/// A receipt field a filter compares for equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum FilterField {
    /// `request.subject.id`.
    Subject = 0,
    /// `request.resource.type`: the surface.
    Surface = 1,
    /// `request.action.name`.
    Action = 2,
    /// `request.resource.id`: the target.
    Target = 3,
    /// `decision`.
    Decision = 4,
    /// `gate`: the gate's key name.
    Gate = 5,
}

impl FilterField {
    /// Every field, in index order.
    pub const ALL: [FilterField; 6] = [
        FilterField::Subject,
        FilterField::Surface,
        FilterField::Action,
        FilterField::Target,
        FilterField::Decision,
        FilterField::Gate,
    ];

    /// A stable number for the field, never reused: stores key their index
    /// rows by it.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// The parameter name.
    pub fn name(self) -> &'static str {
        match self {
            FilterField::Subject => "subject",
            FilterField::Surface => "surface",
            FilterField::Action => "action",
            FilterField::Target => "target",
            FilterField::Decision => "decision",
            FilterField::Gate => "gate",
        }
    }

    /// The receipt's value of this field.
    pub fn of(self, p: &ReceiptParts) -> &str {
        match self {
            FilterField::Subject => &p.request.subject.id,
            FilterField::Surface => &p.request.resource.kind,
            FilterField::Action => &p.request.action.name,
            FilterField::Target => &p.request.resource.id,
            FilterField::Decision => p.decision.as_str(),
            FilterField::Gate => &p.gate,
        }
    }
}

/// A query could not be read. The client's fault; the message names the
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A parameter this API does not know.
    #[error("unknown parameter {0:?}")]
    Unknown(String),
    /// A parameter given twice.
    #[error("parameter {0} given twice")]
    Repeated(&'static str),
    /// More parameters than [`MAX_QUERY_PARAMETERS`].
    #[error("more than {MAX_QUERY_PARAMETERS} parameters")]
    TooMany,
    /// A value out of its range or of the wrong form.
    #[error("{name}: {detail}")]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
}

fn invalid(name: &'static str, detail: impl Into<String>) -> QueryError {
    QueryError::Invalid {
        name,
        detail: detail.into(),
    }
}

/// Receipt filters; the default selects every receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptFilters {
    /// Field equalities (at most one per field).
    pub fields: Vec<(FilterField, String)>,
    /// Decided at or after.
    pub since: Option<Timestamp>,
    /// Decided before.
    pub until: Option<Timestamp>,
    /// Only break-glass receipts (true) or only the others (false).
    pub break_glass: Option<bool>,
}

impl ReceiptFilters {
    /// The parameter names of the filters.
    pub const PARAMETERS: [&'static str; 9] = [
        "subject",
        "surface",
        "action",
        "target",
        "decision",
        "gate",
        "since",
        "until",
        "break_glass",
    ];

    /// Set one filter from its parameter text; `Ok(false)` when `name` is
    /// not a filter.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, QueryError> {
        if let Some(field) = FilterField::ALL.into_iter().find(|f| f.name() == name) {
            if self.value(field).is_some() {
                return Err(QueryError::Repeated(field.name()));
            }
            if value.is_empty() || value.len() > MAX_FILTER_BYTES {
                return Err(invalid(field.name(), format!("must be 1 to {MAX_FILTER_BYTES} bytes")));
            }
            if field == FilterField::Decision
                && ![Decision::Permit, Decision::Deny, Decision::Silence]
                    .iter()
                    .any(|d| d.as_str() == value)
            {
                return Err(invalid("decision", "must be PERMIT, DENY or SILENCE"));
            }
            self.fields.push((field, value.to_owned()));
            self.fields.sort_by_key(|(f, _)| *f);
            return Ok(true);
        }
        let time = |name: &'static str| Timestamp::parse_rfc3339(value).map_err(|e| invalid(name, e.to_string()));
        match name {
            "since" if self.since.is_some() => Err(QueryError::Repeated("since")),
            "until" if self.until.is_some() => Err(QueryError::Repeated("until")),
            "break_glass" if self.break_glass.is_some() => Err(QueryError::Repeated("break_glass")),
            "since" => Ok(self.since.replace(time("since")?).is_none()),
            "until" => Ok(self.until.replace(time("until")?).is_none()),
            "break_glass" => {
                let b = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("break_glass", "must be true or false")),
                };
                Ok(self.break_glass.replace(b).is_none())
            }
            _ => Ok(false),
        }
    }

    /// The value of a field filter.
    pub fn value(&self, field: FilterField) -> Option<&str> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, v)| v.as_str())
    }

    /// `since` and `until` in milliseconds, `[since, until)`; an error when
    /// the range is empty.
    pub fn time_range(&self) -> Result<(u64, u64), QueryError> {
        let since = self.since.map_or(0, Timestamp::millis);
        let until = self.until.map_or(u64::MAX, Timestamp::millis);
        if since >= until {
            return Err(invalid("since", "must be before until"));
        }
        Ok((since, until))
    }

    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        !self.fields.is_empty() || self.since.is_some() || self.until.is_some() || self.break_glass.is_some()
    }

    /// Whether a receipt passes every filter.
    pub fn matches(&self, p: &ReceiptParts) -> bool {
        let (since, until) = self.time_range().unwrap_or((0, 0));
        self.fields.iter().all(|(f, want)| f.of(p) == want)
            && (since..until).contains(&p.decided_at.millis())
            && self.break_glass.is_none_or(|b| b == p.break_glass.is_some())
    }

    /// The filters as (name, value) query parameters.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = self.fields.iter().map(|(f, v)| (f.name(), v.clone())).collect();
        if let Some(t) = self.since {
            out.push(("since", t.to_rfc3339()));
        }
        if let Some(t) = self.until {
            out.push(("until", t.to_rfc3339()));
        }
        if let Some(b) = self.break_glass {
            out.push(("break_glass", b.to_string()));
        }
        out
    }
}

/// A whole query: filters, page size and cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptQuery {
    /// The filters.
    pub filters: ReceiptFilters,
    /// Most hits in the page.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ReceiptQuery {
    /// Read decoded (name, value) pairs. Unknown and repeated parameters
    /// are refused; the time range must not be empty.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, QueryError> {
        let mut q = ReceiptQuery::default();
        for (n, (name, value)) in pairs.into_iter().enumerate() {
            if n >= MAX_QUERY_PARAMETERS {
                return Err(QueryError::TooMany);
            }
            match name {
                "limit" if q.limit.is_some() => return Err(QueryError::Repeated("limit")),
                "cursor" if q.cursor.is_some() => return Err(QueryError::Repeated("cursor")),
                "limit" => {
                    q.limit = Some(
                        value
                            .parse()
                            .map_err(|_| invalid("limit", "must be a positive integer"))?,
                    );
                }
                "cursor" => q.cursor = Some(value.to_owned()),
                other => {
                    if !q.filters.set(other, value)? {
                        return Err(QueryError::Unknown(other.chars().take(64).collect()));
                    }
                }
            }
        }
        q.filters.time_range()?;
        Ok(q)
    }

    /// The percent-encoded query string (without `?`).
    pub fn to_query_string(&self) -> String {
        let mut pairs = self.filters.to_pairs();
        if let Some(l) = self.limit {
            pairs.push(("limit", l.to_string()));
        }
        if let Some(c) = &self.cursor {
            pairs.push(("cursor", c.clone()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encode a query value (RFC 3986 unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One hit: the receipt's index and its JSON view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryHit {
    /// The entry's index.
    pub index: u64,
    /// The receipt's JSON view (docs/spec.md section 8.8).
    pub receipt: serde_json::Value,
}

/// A page of hits; `next_cursor` continues it (a page may hold fewer than
/// `limit` hits and still carry a cursor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryPage {
    /// The hits, in index order.
    pub receipts: Vec<QueryHit>,
    /// Where the next page starts, if the search is not over.
    pub next_cursor: Option<String>,
    /// How many entries the ledger's query index covered when the page was
    /// read. The index is derived after each acknowledgement and may lag
    /// the log; the entries past it were read one by one, so the page is
    /// complete either way (only slower).
    #[serde(default)]
    pub indexed_size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;

    #[test]
    fn filters_parse_match_and_round_trip() {
        let p = examples::receipt_parts(4);
        assert!(!ReceiptFilters::default().any() && ReceiptFilters::default().matches(&p));
        let q = ReceiptQuery::from_pairs([
            ("subject", p.request.subject.id.as_str()),
            ("decision", p.decision.as_str()),
            ("gate", p.gate.as_str()),
            ("since", "2000-01-01T00:00:00Z"),
            ("limit", "5"),
        ])
        .unwrap();
        assert!(q.filters.any() && q.filters.matches(&p));
        let text = q.to_query_string();
        assert!(text.contains("since=2000-01-01T00%3A00%3A00.000Z"), "{text}");
        let mut other = q.filters.clone();
        other.fields.retain(|(f, _)| *f != FilterField::Gate);
        other.set("gate", "another-gate").unwrap();
        assert!(!other.matches(&p));
        for (name, value) in [
            ("decision", "MAYBE"),
            ("subject", ""),
            ("since", "yesterday"),
            ("break_glass", "yes"),
            ("limit", "-1"),
        ] {
            assert!(
                matches!(
                    ReceiptQuery::from_pairs([(name, value)]),
                    Err(QueryError::Invalid { .. })
                ),
                "{name}={value}"
            );
        }
        assert!(matches!(
            ReceiptQuery::from_pairs([("colour", "red")]),
            Err(QueryError::Unknown(_))
        ));
        assert!(matches!(
            ReceiptQuery::from_pairs([("gate", "a"), ("gate", "b")]),
            Err(QueryError::Repeated("gate"))
        ));
        assert!(matches!(
            ReceiptQuery::from_pairs([("since", "2001-01-01T00:00:00Z"), ("until", "2000-01-01T00:00:00Z")]),
            Err(QueryError::Invalid { name: "since", .. })
        ));
    }
}
