//! `GET /v1/receipts`: incident review. Filters: subject, surface, action,
//! target, decision, gate, since, until (RFC 3339), break_glass; `limit`
//! (at most [`MAX_QUERY_LIMIT`]) and an opaque `cursor` from the previous
//! page. The field filters' indexes are intersected (a leapfrog join; one
//! filter is one index scan); without field filters break-glass, else the
//! whole log in index order, gives the candidates; every candidate is then
//! read and checked against all filters (times and break-glass included).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::timestamp::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Query, blocking};
use crate::store::{Field, Store, StoreError};

/// Most hits one page returns.
pub const MAX_QUERY_LIMIT: usize = 1000;
/// Longest filter value (receipt names are at most this long).
pub const MAX_FILTER_BYTES: usize = cairn_api::receipt::MAX_NAME_BYTES;
/// Default page size.
pub const DEFAULT_QUERY_LIMIT: usize = 100;
/// Most candidates one page examines before returning what it has.
pub const MAX_SCANNED_PER_PAGE: usize = 20_000;

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    subject: Option<String>,
    surface: Option<String>,
    action: Option<String>,
    target: Option<String>,
    decision: Option<String>,
    gate: Option<String>,
    since: Option<String>,
    until: Option<String>,
    break_glass: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

struct Filters {
    fields: Vec<(Field, String)>,
    since: u64,
    until: u64,
    break_glass: Option<bool>,
}

fn time(name: &str, v: &Option<String>, default: u64) -> Result<u64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => Timestamp::parse_rfc3339(s)
            .map(Timestamp::millis)
            .map_err(|e| ApiError::bad_param(format!("{name}: {e}"))),
    }
}

fn matches(f: &Filters, entry: &Entry) -> Option<serde_json::Value> {
    if entry.kind() != EntryKind::Receipt {
        return None;
    }
    let signed = entry.receipt().ok()?;
    let r = signed.unverified();
    let p = r.parts();
    let value = |field: Field| match field {
        Field::Subject => p.request.subject.id.as_str(),
        Field::Surface => p.request.resource.kind.as_str(),
        Field::Action => p.request.action.name.as_str(),
        Field::Target => p.request.resource.id.as_str(),
        Field::Decision => p.decision.as_str(),
        _ => p.gate.as_str(),
    };
    let ok = f.fields.iter().all(|(field, want)| value(*field) == want)
        && (f.since..f.until).contains(&p.decided_at.millis())
        && f.break_glass.is_none_or(|b| b == p.break_glass.is_some());
    ok.then(|| r.to_json())
}

/// The handler.
pub async fn get_receipts(State(s): State<AppState>, Query(q): Query<ReceiptQuery>) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_QUERY_LIMIT);
    let max = s.limits.page.min(MAX_QUERY_LIMIT);
    if limit == 0 || limit > max {
        return Err(ApiError::bad_param(format!("limit must be 1 to {max}")));
    }
    let after: Option<u64> = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.parse()
                .map_err(|_| ApiError::bad_param("cursor is not one this ledger gave"))?,
        ),
    };
    if let Some(d) = &q.decision
        && !["PERMIT", "DENY", "SILENCE"].contains(&d.as_str())
    {
        return Err(ApiError::bad_param("decision must be PERMIT, DENY or SILENCE"));
    }
    for (name, v) in [
        ("subject", &q.subject),
        ("surface", &q.surface),
        ("action", &q.action),
        ("target", &q.target),
        ("gate", &q.gate),
    ] {
        if let Some(v) = v
            && (v.is_empty() || v.len() > MAX_FILTER_BYTES)
        {
            return Err(ApiError::bad_param(format!(
                "{name} must be 1 to {MAX_FILTER_BYTES} bytes"
            )));
        }
    }
    let mut fields = Vec::new();
    for (f, v) in [
        (Field::Subject, &q.subject),
        (Field::Surface, &q.surface),
        (Field::Action, &q.action),
        (Field::Target, &q.target),
        (Field::Decision, &q.decision),
        (Field::Gate, &q.gate),
    ] {
        if let Some(v) = v {
            fields.push((f, v.clone()));
        }
    }
    let filters = Filters {
        fields,
        since: time("since", &q.since, 0)?,
        until: time("until", &q.until, u64::MAX)?,
        break_glass: q.break_glass,
    };
    if filters.since >= filters.until {
        return Err(ApiError::bad_param("since must be before until"));
    }
    let store = s.store.clone();
    let (hits, next) = blocking(move || page(store.as_ref(), &filters, after, limit)).await?;
    Ok(axum::Json(json!({ "receipts": hits, "next_cursor": next.map(|c| c.to_string()) })).into_response())
}

/// Most index seeks one page makes before returning what it has (with a
/// cursor), however sparse the intersection of its field filters.
pub const MAX_SEEKS_PER_PAGE: usize = 200_000;

/// Candidates in ascending index order after `after`, at most `n`, and how
/// far the search got (the cursor to resume from when the seek budget ran
/// out before `n` were found).
fn candidates(
    store: &dyn Store,
    f: &Filters,
    after: Option<u64>,
    n: usize,
    seeks: &mut usize,
) -> Result<(Vec<u64>, Option<u64>), StoreError> {
    match f.fields.as_slice() {
        [] => {}
        [(field, v)] => {
            *seeks += 1;
            return Ok((store.scan(*field, v, after, n)?, None));
        }
        several => return intersect(store, several, after, n, seeks),
    }
    if f.break_glass == Some(true) {
        return Ok((store.scan_break_glass(after, n)?, None));
    }
    let start = after.map_or(0, |a| a + 1);
    let size = store.state()?.frontier.size();
    Ok(((start..size).take(n).collect(), None))
}

/// The indexes in every one of the field indexes (a leapfrog join): each
/// index is asked for its first entry at or after the current candidate;
/// a candidate all of them hold is a hit, a larger answer becomes the next
/// candidate. Only hits are read and decoded.
fn intersect(
    store: &dyn Store,
    fields: &[(Field, String)],
    after: Option<u64>,
    n: usize,
    seeks: &mut usize,
) -> Result<(Vec<u64>, Option<u64>), StoreError> {
    let mut out = Vec::new();
    let mut candidate = after.map_or(0, |a| a.saturating_add(1));
    let mut agreed = 0;
    for (field, value) in fields.iter().cycle() {
        if out.len() == n {
            break;
        }
        if *seeks >= MAX_SEEKS_PER_PAGE {
            return Ok((out, candidate.checked_sub(1)));
        }
        *seeks += 1;
        let Some(&next) = store.scan(*field, value, candidate.checked_sub(1), 1)?.first() else {
            break;
        };
        if next == candidate {
            agreed += 1;
            if agreed == fields.len() {
                out.push(candidate);
                candidate = candidate.saturating_add(1);
                agreed = 0;
            }
        } else {
            candidate = next;
            agreed = 1;
        }
    }
    Ok((out, None))
}

type Page = (Vec<serde_json::Value>, Option<u64>);

fn page(store: &dyn Store, f: &Filters, mut after: Option<u64>, limit: usize) -> Result<Page, StoreError> {
    let mut hits = Vec::new();
    let (mut scanned, mut seeks) = (0, 0);
    loop {
        let (batch, stopped_at) = candidates(store, f, after, 256, &mut seeks)?;
        if batch.is_empty() {
            // Out of seeks: resume from where the search stopped.
            return Ok((hits, stopped_at));
        }
        for index in batch {
            after = Some(index);
            scanned += 1;
            let Some(bytes) = store.entry(index)? else { continue };
            let Ok(entry) = Entry::from_cbor(&bytes) else { continue };
            if let Some(receipt) = matches(f, &entry) {
                hits.push(json!({ "index": index, "receipt": receipt }));
                if hits.len() == limit {
                    return Ok((hits, after));
                }
            }
            if scanned >= MAX_SCANNED_PER_PAGE {
                return Ok((hits, after));
            }
        }
    }
}
