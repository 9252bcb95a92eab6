//! The C2SP tlog-tiles read path: `GET /checkpoint` (the newest checkpoint
//! with a quorum of witness cosignatures when the ledger is witnessed,
//! else the newest signed one; not cached) and `GET /tile/<L>/<N>[.p/<W>]`,
//! `GET /tile/entries/<N>[.p/<W>]` (immutable: a tile's bytes never
//! change once its width exists, so every tile, partial ones too, may be
//! cached for a year). A path that is not C2SP's one spelling of a tile, or
//! a tile the tree does not have yet, is a `not-found` problem.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_api::tiles::TileId;

use super::read::latest_size;
use super::{ApiError, AppState, blocking};
use crate::store::tiles::read_tile;

/// `Cache-Control` of the mutable checkpoint.
pub const CHECKPOINT_CACHE: &str = "no-cache";
/// `Cache-Control` of a tile.
pub const TILE_CACHE: &str = "public, max-age=31536000, immutable";

pub(super) async fn get_checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    match super::read::served_checkpoint(&s, None).await?.1 {
        Some(note) => Ok((
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, CHECKPOINT_CACHE),
            ],
            note,
        )
            .into_response()),
        None => Err(ApiError::not_found("the log is empty: no checkpoint yet")),
    }
}

pub(super) async fn get_tile(State(s): State<AppState>, Path(rest): Path<String>) -> Result<Response, ApiError> {
    let tile = TileId::parse(&format!("tile/{rest}")).map_err(|e| ApiError::not_found(e.to_string()))?;
    let (size, _) = latest_size(&s.store).await?;
    if !tile.exists_in(size) {
        return Err(ApiError::not_found(format!("{tile} is not in the tree of size {size}")));
    }
    let st = s.store.clone();
    let bytes = blocking(move || read_tile(st.as_ref(), tile)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, TILE_CACHE),
        ],
        bytes,
    )
        .into_response())
}
