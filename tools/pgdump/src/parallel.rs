//! Counting the rows of many tables at once, across cores.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::archive::Archive;
use crate::error::Error;
use crate::rows::RowCount;
use crate::toc::Entry;

/// The rows of one table.
#[derive(Debug)]
pub struct TableRows<'a> {
    pub entry: &'a Entry,
    pub result: Result<RowCount, Error>,
}

impl Archive {
    /// Counts the rows of every TABLE DATA entry that has data, on all cores.
    pub fn count_all_rows(&self) -> Vec<TableRows<'_>> {
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let entries: Vec<&Entry> = self.table_data().collect();
        let results = self.count_rows_parallel(&entries, threads);
        entries
            .into_iter()
            .zip(results)
            .map(|(entry, result)| TableRows { entry, result })
            .collect()
    }

    /// Counts the rows of `entries` with up to `threads` threads, each reading through its own
    /// file handle; results come in the order of `entries`, one failure never stops the others.
    ///
    /// Custom format: with one thread, one sequential pass over the file. With more, a dump
    /// without offsets (written to a pipe) is first walked once, block headers and chunk
    /// lengths only, to learn where each block starts; then the blocks are read in parallel,
    /// largest first.
    pub fn count_rows_parallel(
        &self,
        entries: &[&Entry],
        threads: usize,
    ) -> Vec<Result<RowCount, Error>> {
        let threads = threads.clamp(1, entries.len().max(1));
        if self.is_custom() {
            if threads == 1 {
                return self.count_sequential(entries);
            }
            if entries.iter().any(|e| self.known_position(e).is_none()) {
                // A failure here shows again, per entry, when each is read.
                let _ = self.index_all_blocks();
            }
        }
        let order = self.largest_first(entries);
        let next = AtomicUsize::new(0);
        let mut results: Vec<Option<Result<RowCount, Error>>> =
            entries.iter().map(|_| None).collect();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                            if let Some(entry) = entries.get(i) {
                                done.push((i, self.count_rows(entry)));
                            }
                        }
                        done
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(done) => {
                        for (i, result) in done {
                            if let Some(slot) = results.get_mut(i) {
                                *slot = Some(result);
                            }
                        }
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        entries
            .iter()
            .zip(results)
            .map(|(entry, result)| result.unwrap_or_else(|| self.count_rows(entry)))
            .collect()
    }

    /// Indexes into `entries`, the biggest data first (by stored size), so that one large
    /// table does not start last.
    fn largest_first(&self, entries: &[&Entry]) -> Vec<usize> {
        let mut starts: Vec<u64> = self
            .entries()
            .iter()
            .filter_map(|e| self.known_position(e))
            .collect();
        starts.sort_unstable();
        let end = self.file_len();
        let size = |entry: &Entry| -> u64 {
            if let Some(pos) = self.known_position(entry) {
                let next = starts.iter().find(|&&s| s > pos).copied().unwrap_or(end);
                next.saturating_sub(pos)
            } else {
                self.data_file_len(entry).unwrap_or(0)
            }
        };
        let mut sized: Vec<(u64, usize)> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (size(e), i))
            .collect();
        sized.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        sized.into_iter().map(|(_, i)| i).collect()
    }
}
