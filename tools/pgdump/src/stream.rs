//! The byte sources under the decompressors: a custom-format block's chunks, or a
//! directory-format data file; and the checked stream of decompressed bytes on top.
//!
//! A custom-format data block (pg_backup_custom.c) is: a type byte (1 = table data,
//! 3 = large objects), the dump id as an int, then chunks, each an int length > 0 and that
//! many bytes, ended by an int 0. Chunk boundaries mean nothing: the joined payload is one
//! compressed stream.

use std::borrow::BorrowMut;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::decode::{Decoder, Source};
use crate::error::{Error, ErrorKind, ErrorSlot};
use crate::header::Algorithm;
use crate::read::{Fault, Primitives};
use crate::rows::{CopyCounter, RowCount};

/// A reader of the data file, positioned anywhere.
pub(crate) type FileReader = Primitives<BufReader<File>>;

/// Which entry a stream belongs to, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) subject: String,
    pub(crate) dump_id: u32,
    pub(crate) algorithm: Algorithm,
}

impl Context {
    pub(crate) fn block_fault(&self, fault: Fault) -> ErrorKind {
        match fault {
            Fault::Eof { offset } => ErrorKind::BlockTruncated {
                subject: self.subject.clone(),
                dump_id: self.dump_id,
                offset,
            },
            Fault::Invalid { offset, detail } => ErrorKind::BlockCorrupt {
                subject: self.subject.clone(),
                dump_id: self.dump_id,
                offset,
                detail,
            },
            Fault::Io(source) => ErrorKind::Io {
                action: format!("reading the data of {}", self.subject),
                error: source,
            },
        }
    }
}

/// The payload of one block's chunks, read through `B` (owned or borrowed).
pub(crate) struct ChunkReader<B> {
    src: B,
    /// Bytes left in the current chunk.
    remaining: u64,
    /// The closing int 0 has been read.
    done: bool,
    slot: ErrorSlot,
    context: Context,
}

impl<B: BorrowMut<FileReader>> ChunkReader<B> {
    /// A reader of the chunks that follow a block header `src` has just read.
    pub(crate) fn new(src: B, slot: ErrorSlot, context: Context) -> Self {
        Self {
            src,
            remaining: 0,
            done: false,
            slot,
            context,
        }
    }

    fn fail(&self, fault: Fault) -> io::Error {
        self.slot.put(self.context.block_fault(fault))
    }
}

impl<B: BorrowMut<FileReader>> Read for ChunkReader<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && !self.done {
            if self.remaining == 0 {
                let src = self.src.borrow_mut();
                let at = src.pos();
                let len = src.read_int().map_err(|f| self.fail(f))?;
                let src = self.src.borrow_mut();
                match u64::try_from(len) {
                    Ok(0) => self.done = true,
                    Ok(len) => {
                        if let Some(end) = src.end() {
                            if src.pos().saturating_add(len) > end {
                                return Err(self.fail(Fault::Eof { offset: end }));
                            }
                        }
                        self.remaining = len;
                    }
                    Err(_) => {
                        return Err(
                            self.fail(Fault::invalid(at, format!("negative chunk length {len}")))
                        );
                    }
                }
                continue;
            }
            let room = buf.len() - filled;
            let want = usize::try_from(self.remaining).map_or(room, |r| r.min(room));
            let Some(dst) = buf.get_mut(filled..filled + want) else {
                break;
            };
            let n = self
                .src
                .borrow_mut()
                .read_some(dst)
                .map_err(|f| self.fail(f))?;
            if n == 0 {
                let offset = self.src.borrow_mut().pos();
                return Err(self.fail(Fault::Eof { offset }));
            }
            filled += n;
            self.remaining -= n as u64;
        }
        Ok(filled)
    }
}

impl<B: BorrowMut<FileReader>> Source for ChunkReader<B> {
    fn finish(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        if self.read(&mut probe)? == 0 {
            return Ok(());
        }
        let offset = self.src.borrow_mut().pos();
        Err(self.slot.put(ErrorKind::BlockCorrupt {
            subject: self.context.subject.clone(),
            dump_id: self.context.dump_id,
            offset,
            detail: "bytes after the end of the compressed stream".into(),
        }))
    }
}

/// A directory-format data file.
pub(crate) struct FileSource {
    file: File,
    path: PathBuf,
    slot: ErrorSlot,
    context: Context,
}

impl FileSource {
    pub(crate) fn new(file: File, path: &Path, slot: ErrorSlot, context: Context) -> Self {
        Self {
            file,
            path: path.to_owned(),
            slot,
            context,
        }
    }
}

impl Read for FileSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(self.slot.put(ErrorKind::Io {
                        action: format!(
                            "reading '{}', the data of {}",
                            self.path.display(),
                            self.context.subject
                        ),
                        error: source,
                    }));
                }
                Ok(n) => return Ok(n),
            }
        }
    }
}

impl Source for FileSource {
    fn finish(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        if self.read(&mut probe)? == 0 {
            return Ok(());
        }
        Err(self.slot.put(ErrorKind::DataFile {
            subject: self.context.subject.clone(),
            dump_id: self.context.dump_id,
            detail: format!(
                "'{}' has bytes after the end of the compressed stream",
                self.path.display()
            ),
        }))
    }
}

/// Decompressed bytes of one entry, every failure classified.
pub(crate) struct Stream<S: Source> {
    decoder: Decoder<S>,
    slot: ErrorSlot,
    context: Context,
    finished: bool,
}

impl<S: Source> Stream<S> {
    pub(crate) fn new(decoder: Decoder<S>, slot: ErrorSlot, context: Context) -> Self {
        Self {
            decoder,
            slot,
            context,
            finished: false,
        }
    }

    fn classify(&self, error: &io::Error) -> ErrorKind {
        self.slot.take().unwrap_or_else(|| ErrorKind::Decompress {
            algorithm: self.context.algorithm,
            subject: self.context.subject.clone(),
            dump_id: self.context.dump_id,
            detail: error.to_string(),
        })
    }

    /// Like `Read::read`; 0 only at the verified end of the stream.
    pub(crate) fn read_checked(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.decoder.read(buf) {
                Ok(0) => {
                    self.finished = true;
                    self.decoder.finish().map_err(|e| self.classify(&e))?;
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.classify(&e)),
            }
        }
    }

    /// Counts the COPY rows to the end of the stream.
    pub(crate) fn count_rows(&mut self) -> Result<RowCount, ErrorKind> {
        let mut counter = CopyCounter::default();
        let mut buf = vec![0u8; COUNT_BUFFER];
        loop {
            let n = self.read_checked(&mut buf)?;
            if n == 0 {
                break;
            }
            counter
                .feed(buf.get(..n).unwrap_or_default())
                .map_err(|detail| self.copy_error(detail))?;
        }
        counter.finish().map_err(|detail| self.copy_error(detail))
    }

    /// Reads to the end, counting bytes.
    pub(crate) fn count_bytes(&mut self) -> Result<u64, ErrorKind> {
        let mut buf = vec![0u8; COUNT_BUFFER];
        let mut total: u64 = 0;
        loop {
            let n = self.read_checked(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total = total.saturating_add(n as u64);
        }
    }

    fn copy_error(&self, detail: String) -> ErrorKind {
        ErrorKind::CopyData {
            subject: self.context.subject.clone(),
            dump_id: self.context.dump_id,
            detail,
        }
    }
}

/// How much decompressed data is counted at a time.
const COUNT_BUFFER: usize = 256 * 1024;

/// The sources a [`DataReader`] can stand on.
pub(crate) enum AnySource {
    Block(ChunkReader<FileReader>),
    File(FileSource),
}

impl Read for AnySource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Block(source) => source.read(buf),
            Self::File(source) => source.read(buf),
        }
    }
}

impl Source for AnySource {
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Self::Block(source) => source.finish(),
            Self::File(source) => source.finish(),
        }
    }
}

/// The decompressed data of one entry, e.g. a table's COPY text. Memory stays the same
/// whatever the size of the data.
///
/// A failure comes out of `read` as an `io::Error` whose inner error is a [`crate::Error`]
/// (`error.get_ref()` and downcast), naming the entry and the byte where the data is damaged.
/// The stream ends (`Ok(0)`) only after its end has been checked: a truncated stream is an
/// error, never a short read.
pub struct DataReader {
    pub(crate) stream: Stream<AnySource>,
    pub(crate) path: PathBuf,
}

impl DataReader {
    /// Counts the COPY rows from here to the end of the stream.
    pub fn count_rows(mut self) -> Result<RowCount, Error> {
        self.stream
            .count_rows()
            .map_err(|kind| Error::new(&self.path, kind))
    }
}

impl Read for DataReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read_checked(buf).map_err(|kind| {
            let io_kind = match &kind {
                ErrorKind::Io { error, .. } => error.kind(),
                ErrorKind::BlockTruncated { .. } => io::ErrorKind::UnexpectedEof,
                _ => io::ErrorKind::InvalidData,
            };
            io::Error::new(io_kind, Error::new(&self.path, kind))
        })
    }
}

impl std::fmt::Debug for DataReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataReader")
            .field("path", &self.path)
            .field("subject", &self.stream.context.subject)
            .finish()
    }
}
