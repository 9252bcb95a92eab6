//! `GET /v1/receipts`: incident review. Filters: subject, surface, action,
//! target, decision, gate, since, until (RFC 3339), break_glass; `limit`
//! (at most [`MAX_QUERY_LIMIT`]) and an opaque `cursor` from the previous
//! page. The field filters' indexes are intersected (a leapfrog join; one
//! filter is one index scan); without field filters break-glass, else the
//! whole log in index order, gives the candidates; every candidate is then
//! read and checked against all filters (times and break-glass included).
//!
//! The indexes are the query index's ([`crate::query_index`]), which is
//! written after the acknowledgement and may be behind the log: below its
//! cursor the candidates come from it, past it every entry is a candidate,
//! so a page is complete whatever the lag. The page says how far the index
//! reached (`indexed_size`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::wire::{QueryHit, QueryPage, ReceiptFilters, ReceiptQuery};

use super::{ApiError, AppState, Query, blocking};
use crate::query_index::QueryIndex;
use crate::store::{Field, Store, StoreError};

use std::sync::Arc;

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
    let src = Sources {
        store: s.store.clone(),
        indexed: s.index.indexed(),
        index: s.index.clone(),
    };
    let indexed_size = src.indexed;
    let (receipts, next) = blocking(move || page(&src, &filters, after, limit)).await?;
    Ok(axum::Json(QueryPage {
        receipts,
        next_cursor: next.map(|c| c.to_string()),
        indexed_size,
    })
    .into_response())
}

/// Most index seeks one page makes before returning what it has (with a
/// cursor), however sparse the intersection of its field filters.
pub const MAX_SEEKS_PER_PAGE: usize = 200_000;

/// Where a page's candidates come from: the query index below the cursor
/// it had when the page started, the log past it.
struct Sources {
    store: Arc<dyn Store>,
    index: Arc<QueryIndex>,
    /// The index's cursor when the page started (it only moves on).
    indexed: u64,
}

/// Candidates in ascending index order after `after`, at most `n`, and how
/// far the search got (the cursor to resume from when the seek budget ran
/// out before `n` were found). None and no cursor: the search is over.
fn candidates(
    src: &Sources,
    f: &ReceiptFilters,
    after: Option<u64>,
    n: usize,
    seeks: &mut usize,
) -> Result<(Vec<u64>, Option<u64>), StoreError> {
    let mut start = after.map_or(0, |a| a.saturating_add(1));
    if !f.fields.is_empty() || f.break_glass == Some(true) {
        if start < src.indexed {
            let below = |v: Vec<u64>| v.into_iter().take_while(|&i| i < src.indexed).collect::<Vec<_>>();
            let (found, stopped) = match f.fields.as_slice() {
                [] => (below(src.index.scan_break_glass(after, n)?), None),
                [(field, v)] => {
                    *seeks += 1;
                    (below(src.index.scan(*field, v, after, n)?), None)
                }
                several => intersect(src, several, after, n, seeks)?,
            };
            if !found.is_empty() || stopped.is_some() {
                return Ok((found, stopped));
            }
        }
        // Nothing more below the index's cursor: past it, every entry.
        start = start.max(src.indexed);
    }
    let size = src.store.size()?;
    Ok(((start..size).take(n).collect(), None))
}

/// The indexes in every one of the field indexes (a leapfrog join): each
/// index is asked for its first entry at or after the current candidate;
/// a candidate all of them hold is a hit, a larger answer becomes the next
/// candidate. Only hits are read and decoded. Only entries below the
/// index's cursor are looked for.
fn intersect(
    src: &Sources,
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
        let Some(&next) = src.index.scan(*field, value, candidate.checked_sub(1), 1)?.first() else {
            break;
        };
        if next >= src.indexed {
            break;
        }
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

fn page(src: &Sources, f: &ReceiptFilters, mut after: Option<u64>, limit: usize) -> Result<Page, StoreError> {
    let store = src.store.as_ref();
    let mut hits = Vec::new();
    let (mut scanned, mut seeks) = (0, 0);
    loop {
        let (batch, stopped_at) = candidates(src, f, after, 256, &mut seeks)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query_index::follower::rows_of;
    use crate::store::MemoryStore;
    use crate::store::tests::{batch, key_entry, receipt_entry};

    /// Every page of a search, followed to its end: (index, surface) hits.
    fn search(src: &Sources, f: &ReceiptFilters, limit: usize) -> Vec<u64> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let (hits, next) = page(src, f, after, limit).unwrap();
            all.extend(hits.iter().map(|h| h.index));
            match next {
                Some(n) => after = Some(n),
                None => return all,
            }
        }
    }

    #[test]
    fn a_query_index_behind_the_log_gives_the_same_answers() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut entries = vec![key_entry()];
        entries.extend((0..40).map(receipt_entry));
        for chunk in entries.chunks(7) {
            store.commit(&batch(&store.state().unwrap(), chunk)).unwrap();
        }
        let (rows, _) = rows_of(store.as_ref(), 0, 41).unwrap();
        let tip = |n: usize| {
            use cairn_api::merkle::MerkleHasher as _;
            cairn_api::merkle::Sha256::hash_leaf(&store.entry(n as u64 - 1).unwrap().unwrap())
        };
        let filters = |fields: &[(Field, &str)], break_glass| ReceiptFilters {
            fields: fields.iter().map(|(f, v)| (*f, (*v).to_owned())).collect(),
            break_glass,
            ..ReceiptFilters::default()
        };
        let cases = [
            filters(&[], None),
            filters(&[(Field::Surface, "eks")], None),
            filters(&[(Field::Decision, "SILENCE")], None),
            filters(&[(Field::Surface, "eks"), (Field::Decision, "PERMIT")], None),
            filters(&[(Field::Surface, "github")], Some(true)),
            filters(&[], Some(true)),
            filters(&[], Some(false)),
            filters(&[(Field::Surface, "nowhere")], None),
        ];
        let answers = |covered: usize, limit| {
            let index = Arc::new(QueryIndex::in_memory().unwrap());
            if covered > 0 {
                index.apply(0, &rows[..covered], &tip(covered), false).unwrap();
            }
            let src = Sources {
                store: store.clone(),
                indexed: index.indexed(),
                index,
            };
            cases.iter().map(|f| search(&src, f, limit)).collect::<Vec<_>>()
        };
        let caught_up = answers(41, 100);
        // The answers are the receipts that match, whatever the index.
        assert_eq!(caught_up[1], vec![1, 5, 9, 13, 17, 21, 25, 29, 33, 37]);
        assert_eq!(caught_up[5], vec![10, 20, 30, 40]);
        assert_eq!(caught_up[0].len(), 40, "every receipt, not the key statement");
        assert!(caught_up[7].is_empty());
        for covered in [0, 1, 12, 29, 40] {
            for limit in [1, 3, 100] {
                assert_eq!(
                    answers(covered, limit),
                    caught_up,
                    "index covering {covered}, pages of {limit}"
                );
            }
        }
    }
}
