//! The archive's primitive encodings (pg_backup_archiver.c ReadInt/ReadStr/ReadOffset), read
//! from any byte stream with the position kept for error messages.
//!
//! - int: a sign byte (non-zero = negative), then `int_size` bytes of magnitude, least
//!   significant first.
//! - string: an int length, then that many bytes; length -1 is NULL.
//! - offset: a flag byte, then `offset_size` bytes, least significant first.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// The longest string this reader accepts. PostgreSQL cannot build a larger one (MaxAllocSize),
/// so a longer length is corruption, and allocating it would only exhaust memory.
pub(crate) const MAX_STRING_LEN: u64 = 1 << 30;

/// Why a primitive could not be read; the caller adds what was being read.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The bytes ran out; `offset` is where they ended.
    Eof { offset: u64 },
    /// The bytes are there but cannot be right.
    Invalid { offset: u64, detail: String },
    /// The operating system could not read.
    Io(io::Error),
}

impl Fault {
    pub(crate) fn invalid(offset: u64, detail: impl Into<String>) -> Self {
        Self::Invalid {
            offset,
            detail: detail.into(),
        }
    }
}

pub(crate) type FaultResult<T> = Result<T, Fault>;

/// Offset flags of the custom format (pg_backup_archiver.h).
pub(crate) const K_OFFSET_POS_NOT_SET: u8 = 1;
pub(crate) const K_OFFSET_POS_SET: u8 = 2;
pub(crate) const K_OFFSET_NO_DATA: u8 = 3;

/// A reader of primitives that knows its position and, when it can, where the bytes end.
pub(crate) struct Primitives<R> {
    inner: R,
    pos: u64,
    /// The total length, when known (a plain file): lengths beyond it are truncation.
    end: Option<u64>,
    int_size: u8,
    offset_size: u8,
}

impl<R: Read> Primitives<R> {
    pub(crate) fn new(inner: R, pos: u64, end: Option<u64>) -> Self {
        Self {
            inner,
            pos,
            end,
            int_size: 4,
            offset_size: 8,
        }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn end(&self) -> Option<u64> {
        self.end
    }

    pub(crate) fn set_sizes(&mut self, int_size: u8, offset_size: u8) {
        self.int_size = int_size;
        self.offset_size = offset_size;
    }

    /// Reads up to `buf.len()` bytes; 0 only at the end of the stream.
    pub(crate) fn read_some(&mut self, buf: &mut [u8]) -> FaultResult<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.pos = self.pos.saturating_add(n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fault::Io(e)),
            }
        }
    }

    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> FaultResult<()> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            let n = self.read_some(rest)?;
            if n == 0 {
                return Err(Fault::Eof { offset: self.pos });
            }
            filled += n;
        }
        Ok(())
    }

    pub(crate) fn read_byte(&mut self) -> FaultResult<u8> {
        let mut byte = [0u8; 1];
        self.read_exact(&mut byte)?;
        Ok(byte[0])
    }

    /// An int as pg_dump writes a C int: any value that does not fit 32 bits is corruption.
    pub(crate) fn read_int(&mut self) -> FaultResult<i32> {
        let start = self.pos;
        let negative = self.read_byte()? != 0;
        let mut magnitude: u64 = 0;
        for i in 0..self.int_size {
            let byte = self.read_byte()?;
            if byte == 0 {
                continue;
            }
            let shift = u32::from(i) * 8;
            if shift >= 32 {
                return Err(Fault::invalid(start, "integer wider than 32 bits"));
            }
            magnitude |= u64::from(byte) << shift;
        }
        let magnitude =
            i64::try_from(magnitude).map_err(|_| Fault::invalid(start, "integer out of range"))?;
        let value = if negative { -magnitude } else { magnitude };
        i32::try_from(value)
            .map_err(|_| Fault::invalid(start, format!("integer {value} out of range")))
    }

    /// A string; `None` is SQL NULL (length -1).
    pub(crate) fn read_string(&mut self) -> FaultResult<Option<Vec<u8>>> {
        let start = self.pos;
        let len = self.read_int()?;
        if len == -1 {
            return Ok(None);
        }
        let len = u64::try_from(len)
            .map_err(|_| Fault::invalid(start, format!("negative string length {len}")))?;
        if len > MAX_STRING_LEN {
            return Err(Fault::invalid(
                start,
                format!("string length {len} is beyond any real string"),
            ));
        }
        if let Some(end) = self.end {
            if self.pos.saturating_add(len) > end {
                return Err(Fault::Eof { offset: end });
            }
        }
        // No allocation from the length alone: the vector grows as bytes really arrive.
        let mut bytes = Vec::with_capacity(usize::try_from(len.min(64 * 1024)).unwrap_or(0));
        let mut remaining = len;
        let mut chunk = [0u8; 8192];
        while remaining > 0 {
            let want = usize::try_from(remaining.min(chunk.len() as u64)).unwrap_or(chunk.len());
            let part = chunk.get_mut(..want).unwrap_or_default();
            let n = self.read_some(part)?;
            if n == 0 {
                return Err(Fault::Eof { offset: self.pos });
            }
            bytes.extend_from_slice(part.get(..n).unwrap_or_default());
            remaining -= n as u64;
        }
        Ok(Some(bytes))
    }

    /// A custom-format data offset: (flag, position).
    pub(crate) fn read_offset(&mut self) -> FaultResult<(u8, u64)> {
        let start = self.pos;
        let flag = self.read_byte()?;
        let mut value: u64 = 0;
        for i in 0..self.offset_size {
            let byte = self.read_byte()?;
            if byte == 0 {
                continue;
            }
            if i >= 8 {
                return Err(Fault::invalid(
                    start,
                    "file offset in dump file is too large",
                ));
            }
            value |= u64::from(byte) << (u32::from(i) * 8);
        }
        match flag {
            K_OFFSET_POS_NOT_SET | K_OFFSET_POS_SET | K_OFFSET_NO_DATA => Ok((flag, value)),
            other => Err(Fault::invalid(
                start,
                format!("unexpected data offset flag {other}"),
            )),
        }
    }
}

impl Primitives<BufReader<File>> {
    /// Skips `len` bytes without reading them (within the buffer when it can).
    pub(crate) fn skip(&mut self, len: u64) -> FaultResult<()> {
        let target = self
            .pos
            .checked_add(len)
            .ok_or_else(|| Fault::invalid(self.pos, "length out of range"))?;
        if let Some(end) = self.end {
            if target > end {
                return Err(Fault::Eof { offset: end });
            }
        }
        let delta =
            i64::try_from(len).map_err(|_| Fault::invalid(self.pos, "length out of range"))?;
        self.inner.seek_relative(delta).map_err(Fault::Io)?;
        self.pos = target;
        Ok(())
    }

    /// Moves to an absolute position.
    pub(crate) fn seek_to(&mut self, pos: u64) -> FaultResult<()> {
        if let Some(end) = self.end {
            if pos > end {
                return Err(Fault::Eof { offset: end });
            }
        }
        self.inner.seek(SeekFrom::Start(pos)).map_err(Fault::Io)?;
        self.pos = pos;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> Primitives<&[u8]> {
        Primitives::new(bytes, 0, Some(bytes.len() as u64))
    }

    #[test]
    fn ints_are_sign_and_magnitude_little_endian() {
        assert_eq!(reader(&[0, 0x26, 0, 0, 0]).read_int().unwrap(), 38);
        assert_eq!(reader(&[1, 1, 0, 0, 0]).read_int().unwrap(), -1);
        assert_eq!(
            reader(&[7, 1, 0, 0, 0]).read_int().unwrap(),
            -1,
            "any non-zero sign byte is negative"
        );
        assert_eq!(reader(&[0, 0x43, 0x0a, 0, 0]).read_int().unwrap(), 2627);
        assert!(matches!(
            reader(&[0, 0, 0, 0, 0x80]).read_int(),
            Err(Fault::Invalid { .. })
        ));
        assert!(matches!(
            reader(&[0, 1, 2]).read_int(),
            Err(Fault::Eof { offset: 3 })
        ));
    }

    #[test]
    fn strings_have_null_and_bounded_lengths() {
        assert_eq!(reader(&[1, 1, 0, 0, 0]).read_string().unwrap(), None);
        assert_eq!(
            reader(&[0, 0, 0, 0, 0]).read_string().unwrap(),
            Some(vec![])
        );
        assert_eq!(
            reader(&[0, 2, 0, 0, 0, b'h', b'i']).read_string().unwrap(),
            Some(b"hi".to_vec())
        );
        assert!(matches!(
            reader(&[1, 2, 0, 0, 0]).read_string(),
            Err(Fault::Invalid { .. })
        ));
        // A length far beyond the file is truncation, found without allocating it.
        assert!(matches!(
            reader(&[0, 0xff, 0xff, 0xff, 0x7f, b'x']).read_string(),
            Err(Fault::Invalid { .. })
        ));
        assert!(matches!(
            reader(&[0, 0xff, 0xff, 0xff, 0x0f, b'x']).read_string(),
            Err(Fault::Eof { offset: 6 })
        ));
    }

    #[test]
    fn offsets_check_their_flag_and_width() {
        let mut bytes = vec![2u8, 0x10, 0x27, 0, 0, 0, 0, 0, 0];
        assert_eq!(reader(&bytes).read_offset().unwrap(), (2, 10_000));
        bytes[0] = 9;
        assert!(matches!(
            reader(&bytes).read_offset(),
            Err(Fault::Invalid { .. })
        ));
        let mut wide = Primitives::new(&[2u8, 1, 0, 0, 0, 0, 0, 0, 0, 5][..], 0, None);
        wide.set_sizes(4, 10);
        assert!(matches!(wide.read_offset(), Err(Fault::Invalid { .. })));
    }
}
