//! Counting the rows of COPY text (pg_dump.c dumpTableData_copy, copyto.c).
//!
//! pg_dump stores the server's `COPY ... TO stdout` output verbatim, one row per line, then
//! writes the end-of-data marker `\.` and two empty lines into the same stream (all versions
//! 12 to 18, in custom blocks and directory files alike). In COPY text a newline inside a
//! value is written as `\n` and a backslash as `\\`, so every raw newline ends a row and no
//! row can be the line `\.`. Empty lines are rows (a table without columns, or one empty
//! text column).
//!
//! rows = the lines before the line `\.`; after it only empty lines may follow; a stream
//! without the marker was cut short.

use memchr::memchr_iter;

/// The rows of one table's data, and the size of that data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCount {
    pub rows: u64,
    /// Uncompressed bytes of the COPY stream, including the end-of-data marker.
    pub data_bytes: u64,
}

/// Counts rows as the bytes stream through.
#[derive(Debug, Default)]
pub(crate) struct CopyCounter {
    rows: u64,
    bytes: u64,
    /// Length of the unfinished line so far, and its first two bytes.
    line_len: u64,
    prefix: [u8; 2],
    /// The `\.` line has been seen; only newlines may follow.
    ended: bool,
}

impl CopyCounter {
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        let before = self.bytes;
        self.bytes = self.bytes.saturating_add(data.len() as u64);
        if self.ended {
            return check_trailer(data, before);
        }
        let mut start = 0;
        for newline in memchr_iter(b'\n', data) {
            let line = data.get(start..newline).unwrap_or_default();
            let len = self.line_len + line.len() as u64;
            if len == 2 && self.is_marker(line) {
                self.ended = true;
                let rest_at = newline + 1;
                return check_trailer(
                    data.get(rest_at..).unwrap_or_default(),
                    before + rest_at as u64,
                );
            }
            self.rows += 1;
            self.line_len = 0;
            start = newline + 1;
        }
        let tail = data.get(start..).unwrap_or_default();
        for &byte in tail.iter().take(2) {
            if let Some(slot) = usize::try_from(self.line_len)
                .ok()
                .and_then(|i| self.prefix.get_mut(i))
            {
                *slot = byte;
            }
            self.line_len += 1;
        }
        self.line_len += tail.len().saturating_sub(2) as u64;
        Ok(())
    }

    /// Whether the two-byte line made of the carried prefix and `line` is `\.`.
    fn is_marker(&self, line: &[u8]) -> bool {
        let mut bytes = [0u8; 2];
        let carried = usize::try_from(self.line_len).unwrap_or(2).min(2);
        bytes
            .get_mut(..carried)
            .unwrap_or_default()
            .copy_from_slice(self.prefix.get(..carried).unwrap_or_default());
        for (slot, &byte) in bytes.iter_mut().skip(carried).zip(line) {
            *slot = byte;
        }
        bytes == *b"\\."
    }

    pub(crate) fn finish(self) -> Result<RowCount, String> {
        if self.ended {
            Ok(RowCount {
                rows: self.rows,
                data_bytes: self.bytes,
            })
        } else if self.line_len > 0 {
            Err(format!(
                "ends inside a row, without the end-of-data marker \\. (after {} complete rows, {} bytes): the data is truncated or corrupt",
                self.rows, self.bytes
            ))
        } else {
            Err(format!(
                "ends without the end-of-data marker \\. (after {} rows, {} bytes): the data is truncated or corrupt",
                self.rows, self.bytes
            ))
        }
    }
}

fn check_trailer(data: &[u8], offset: u64) -> Result<(), String> {
    match data.iter().position(|&b| b != b'\n') {
        None => Ok(()),
        Some(at) => Err(format!(
            "has data after the end-of-data marker \\. (at byte {} of the stream)",
            offset + at as u64
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in_pieces(data: &[u8], piece: usize) -> Result<RowCount, String> {
        let mut counter = CopyCounter::default();
        for chunk in data.chunks(piece.max(1)) {
            counter.feed(chunk)?;
        }
        counter.finish()
    }

    fn rows(data: &[u8]) -> Result<u64, String> {
        let whole = count_in_pieces(data, data.len()).map(|c| c.rows);
        for piece in 1..6 {
            assert_eq!(
                count_in_pieces(data, piece).map(|c| c.rows),
                whole,
                "split every {piece} bytes: {data:?}"
            );
        }
        whole
    }

    #[test]
    fn rows_end_at_the_marker() {
        assert_eq!(rows(b"\\.\n\n\n"), Ok(0), "an empty table");
        assert_eq!(rows(b"1\ta\n2\tb\n\\.\n\n\n"), Ok(2));
        assert_eq!(
            rows(b"\n\n\n\\.\n\n\n"),
            Ok(3),
            "a table without columns has empty lines"
        );
        assert_eq!(
            rows(b"x\\\\.\n\\\\.\n\\.\n\n\n"),
            Ok(2),
            "the value \\. is written \\\\."
        );
        assert_eq!(
            rows(b"a\\nb\n\\.\n"),
            Ok(1),
            "an escaped newline is inside the row"
        );
        assert_eq!(
            rows(b"\\.x\n\\.\n"),
            Ok(1),
            "a longer line starting with \\. is a row"
        );
        assert_eq!(rows(b"1\n\\.\n"), Ok(1));
        assert_eq!(count_in_pieces(b"1\n\\.\n\n\n", 3).unwrap().data_bytes, 7);
    }

    #[test]
    fn a_stream_without_the_marker_is_an_error() {
        assert!(rows(b"").is_err());
        assert!(rows(b"1\n2\n").is_err());
        assert!(rows(b"1\n2").is_err());
        assert!(
            rows(b"1\n\\.").is_err(),
            "the marker line needs its newline"
        );
        assert!(rows(b"1\n\\.\nmore\n").is_err());
        assert!(rows(b"1\n\\.\n\n\nx").is_err());
    }
}
