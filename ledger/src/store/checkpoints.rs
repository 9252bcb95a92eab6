//! Stored checkpoints walked in size order, a page at a time.

use super::{Store, StoreError};

/// Stored checkpoint sizes from a starting size on, read a page at a time,
/// so a walk over every checkpoint holds one page in memory, not the list.
pub struct CheckpointCursor<'a> {
    store: &'a dyn Store,
    page: std::collections::VecDeque<u64>,
    next_from: u64,
    exhausted: bool,
}

impl std::fmt::Debug for CheckpointCursor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointCursor")
            .field("next_from", &self.next_from)
            .finish_non_exhaustive()
    }
}

/// Checkpoint sizes read per page by [`CheckpointCursor`].
const CHECKPOINT_PAGE: usize = 1024;

impl<'a> CheckpointCursor<'a> {
    /// Sizes `>= from`.
    pub fn new(store: &'a dyn Store, from: u64) -> Self {
        CheckpointCursor {
            store,
            page: Default::default(),
            next_from: from,
            exhausted: false,
        }
    }

    /// The next size, without consuming it.
    pub fn peek(&mut self) -> Result<Option<u64>, StoreError> {
        if self.page.is_empty() && !self.exhausted {
            let page = self.store.checkpoint_sizes(self.next_from, u64::MAX, CHECKPOINT_PAGE)?;
            self.exhausted = page.len() < CHECKPOINT_PAGE;
            if let Some(last) = page.last() {
                self.next_from = last.saturating_add(1);
            }
            self.page.extend(page);
        }
        Ok(self.page.front().copied())
    }

    /// Consume the size `peek` returned.
    pub fn advance(&mut self) {
        self.page.pop_front();
    }
}
