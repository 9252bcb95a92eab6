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
use cairn_api::wire::{QueryHit, QueryPage, ReceiptFilters, ReceiptQuery};

use super::{ApiError, AppState, Query, blocking};
use crate::store::{Field, Store, StoreError};

/// Most hits one page returns.
pub const MAX_QUERY_LIMIT: usize = 1000;
/// Default page size.
pub const DEFAULT_QUERY_LIMIT: usize = 100;
/// Most candidates one page examines before returning what it has.
pub const MAX_SCANNED_PER_PAGE: usize = 20_000;

/// The handler. The query string is read as decoded (name, value) pairs
/// into the wire contract's [`ReceiptQuery`], which refuses unknown and
/// repeated parameters.
pub async fn get_receipts(
    State(s): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = ReceiptQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| ApiError::bad_param(e.to_string()))?;
    let limit = q.limit.unwrap_or(DEFAULT_QUERY_LIMIT);
    let max = s.limits.page.min(MAX_QUERY_LIMIT);
    if limit == 0 || limit > max {
        return Err(ApiError::bad_param(format!("limit must be 1 to {max}")));
    }
    let after: Option<u64> = match &q.cursor {
        None => None,
        Some(c) => {
            Some(super::error::index(c).ok_or_else(|| ApiError::bad_param("cursor is not one this ledger gave"))?)
        }
    };
    let filters = q.filters;
    let store = s.store.clone();
    let (receipts, next) = blocking(move || page(store.as_ref(), &filters, after, limit)).await?;
    Ok(axum::Json(QueryPage {
        receipts,
        next_cursor: next.map(|c| c.to_string()),
    })
    .into_response())
}

/// Most index seeks one page makes before returning what it has (with a
/// cursor), however sparse the intersection of its field filters.
pub const MAX_SEEKS_PER_PAGE: usize = 200_000;

/// Candidates in ascending index order after `after`, at most `n`, and how
/// far the search got (the cursor to resume from when the seek budget ran
/// out before `n` were found).
fn candidates(
    store: &dyn Store,
    f: &ReceiptFilters,
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

type Page = (Vec<QueryHit>, Option<u64>);

/// The receipt's JSON view, if the entry is a receipt passing every filter.
fn matches(f: &ReceiptFilters, entry: &Entry) -> Option<serde_json::Value> {
    if entry.kind() != EntryKind::Receipt {
        return None;
    }
    let signed = entry.receipt().ok()?;
    let r = signed.unverified();
    f.matches(r.parts()).then(|| r.to_json())
}

fn page(store: &dyn Store, f: &ReceiptFilters, mut after: Option<u64>, limit: usize) -> Result<Page, StoreError> {
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
                hits.push(QueryHit { index, receipt });
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
