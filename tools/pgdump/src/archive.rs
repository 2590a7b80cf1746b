//! Opening an archive (format detection, header, TOC) and reaching each entry's data.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::decode::{Container, Decoder, Source};
use crate::error::{Error, ErrorKind, ErrorSlot, Part};
use crate::header::{Algorithm, Format, Header, MAGIC, read_header};
use crate::read::{Fault, Primitives};
use crate::rows::RowCount;
use crate::stream::{AnySource, ChunkReader, Context, DataReader, FileReader, FileSource, Stream};
use crate::toc::{DataLocation, DumpId, Entry, read_toc};

/// Block types of the custom format.
pub(crate) const BLK_DATA: u8 = 1;
pub(crate) const BLK_BLOBS: u8 = 3;

/// Buffer of the reader under each data block.
const FILE_BUFFER: usize = 128 * 1024;

/// An archive opened for reading: its header and table of contents are in memory, the data
/// stays in the file(s) and is read on demand.
///
/// `Archive` is `Sync`: many threads may read entries' data at once, each through its own
/// file handle.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    header: Header,
    entries: Vec<Entry>,
    by_id: HashMap<DumpId, usize>,
    layout: Layout,
}

#[derive(Debug)]
enum Layout {
    Custom {
        file_len: u64,
        /// The first byte after the TOC: where the data blocks begin.
        data_start: u64,
        index: Mutex<BlockIndex>,
    },
    Directory,
}

/// Where the blocks are, as far as the file has been walked (custom format).
#[derive(Debug, Default)]
pub(crate) struct BlockIndex {
    pub(crate) positions: HashMap<DumpId, u64>,
    /// The next block header not yet walked.
    pub(crate) next: u64,
    /// The walk has reached the end of the file.
    pub(crate) complete: bool,
    /// A second block for a dump id already seen: (id, where).
    pub(crate) duplicate: Option<(DumpId, u64)>,
}

/// What a file or directory holds, judged from its first bytes.
fn sniff(prefix: &[u8]) -> Result<(), ErrorKind> {
    if prefix.is_empty() {
        return Err(ErrorKind::Empty);
    }
    if prefix.starts_with(MAGIC) {
        return Ok(());
    }
    if prefix.starts_with(b"--\n-- PostgreSQL database dump")
        || prefix.starts_with(b"--\n-- PostgreSQL database cluster dump")
    {
        return Err(ErrorKind::PlainSql);
    }
    if is_tar_header(prefix) {
        return Err(ErrorKind::TarFormat);
    }
    let magic: String = prefix
        .iter()
        .take(MAGIC.len())
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    Err(ErrorKind::NotAnArchive { magic })
}

/// A ustar header block whose checksum is right (pg_backup_tar.c isValidTarHeader).
fn is_tar_header(block: &[u8]) -> bool {
    let Some(block) = block.get(..512) else {
        return false;
    };
    let magic_ok = block.get(257..263) == Some(b"ustar\0")
        || block.get(257..265) == Some(b"ustar  \0")
        || block.get(257..265) == Some(b"ustar00\0");
    if !magic_ok {
        return false;
    }
    let Some(field) = block.get(148..156) else {
        return false;
    };
    let digits: String = field
        .iter()
        .map(|&b| char::from(b))
        .filter(char::is_ascii_digit)
        .collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == stored
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> ErrorKind {
    let action = action.into();
    move |error| ErrorKind::Io { action, error }
}

/// Reads the first bytes of a file, as many as there are up to `len`.
fn read_prefix(file: &mut File, len: usize) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(len);
    file.by_ref().take(len as u64).read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// What a path is when it is neither a regular file nor a directory (a FIFO, a device, a
/// socket): nothing an archive can be read from, since reading one seeks.
pub fn not_a_file(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = meta.file_type();
    if kind.is_file() || kind.is_dir() {
        None
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("a special file")
    }
}

impl Archive {
    /// Opens a custom-format file or a directory-format directory, reading the header and
    /// the table of contents only.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        Self::open_inner(path).map_err(|kind| Error::new(path, kind))
    }

    fn open_inner(path: &Path) -> Result<Self, ErrorKind> {
        // stat, not open: opening a FIFO waits for a writer, without end if none comes.
        let meta = std::fs::metadata(path).map_err(io_error("cannot open it"))?;
        if meta.is_dir() {
            Self::open_directory(path)
        } else if let Some(what) = not_a_file(&meta) {
            Err(ErrorKind::NotAFile { what })
        } else {
            Self::open_custom(path)
        }
    }

    fn open_custom(path: &Path) -> Result<Self, ErrorKind> {
        let mut file = File::open(path).map_err(io_error("cannot open it"))?;
        let file_len = file
            .metadata()
            .map_err(io_error("cannot read its size"))?
            .len();
        let prefix = read_prefix(&mut file, 512).map_err(io_error("cannot read it"))?;
        sniff(&prefix)?;
        file.seek(SeekFrom::Start(0))
            .map_err(io_error("cannot read it"))?;
        let mut reader = Primitives::new(BufReader::new(file), 0, Some(file_len));
        let mut magic = [0u8; 5];
        reader
            .read_exact(&mut magic)
            .map_err(|f| toc_fault(f, Part::Header))?;
        let header = read_header(&mut reader, Format::Custom)?;
        let entries = read_toc(&mut reader, &header)?;
        let data_start = reader.pos();
        let index = Mutex::new(BlockIndex {
            next: data_start,
            ..BlockIndex::default()
        });
        Ok(Self::new(
            path,
            header,
            entries,
            Layout::Custom {
                file_len,
                data_start,
                index,
            },
        ))
    }

    fn open_directory(path: &Path) -> Result<Self, ErrorKind> {
        let (toc_path, algorithm) = ["", ".gz", ".lz4", ".zst"]
            .into_iter()
            .zip([
                Algorithm::None,
                Algorithm::Gzip,
                Algorithm::Lz4,
                Algorithm::Zstd,
            ])
            .map(|(suffix, algorithm)| (path.join(format!("toc.dat{suffix}")), algorithm))
            .find(|(candidate, _)| candidate.is_file())
            .ok_or(ErrorKind::NoTocFile)?;
        let action = format!("cannot read '{}'", toc_path.display());
        let file = File::open(&toc_path).map_err(io_error(action.clone()))?;
        let file_len = file.metadata().map_err(io_error(action.clone()))?.len();
        let slot = ErrorSlot::default();
        let context = Context {
            subject: "the table of contents".into(),
            dump_id: 0,
            algorithm,
        };
        let source = FileSource::new(file, &toc_path, slot.clone(), context.clone());
        let decoder =
            Decoder::new(algorithm, Container::File, source).map_err(|e| ErrorKind::Io {
                action,
                error: e.unwrap_or_else(|| io::Error::other("unknown compression")),
            })?;
        let end = (algorithm == Algorithm::None).then_some(file_len);
        let mut reader = Primitives::new(
            BufReader::new(Checked {
                stream: Stream::new(decoder, slot, context),
            }),
            0,
            end,
        );
        let mut magic = [0u8; 5];
        let got = reader
            .read_some(&mut magic)
            .map_err(|f| toc_fault(f, Part::Header))?;
        let rest = magic.get_mut(got..).unwrap_or_default();
        if !rest.is_empty() {
            // A short first read is possible through a decompressor; take the rest.
            reader
                .read_exact(rest)
                .map_err(|f| toc_fault(f, Part::Header))?;
        }
        sniff(&magic)?;
        let header = read_header(&mut reader, Format::Directory)?;
        let entries = read_toc(&mut reader, &header)?;
        Ok(Self::new(path, header, entries, Layout::Directory))
    }

    fn new(path: &Path, header: Header, entries: Vec<Entry>, layout: Layout) -> Self {
        let by_id = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.dump_id, i))
            .collect();
        Self {
            path: path.to_owned(),
            header,
            entries,
            by_id,
            layout,
        }
    }

    /// The file or directory this archive was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn format(&self) -> Format {
        self.header.format
    }

    /// Every entry of the table of contents, in archive order (the order pg_restore lists).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entry(&self, dump_id: DumpId) -> Option<&Entry> {
        self.by_id.get(&dump_id).and_then(|&i| self.entries.get(i))
    }

    /// The TABLE DATA entries that have data in the archive.
    pub fn table_data(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.is_table_data() && e.has_data())
    }

    /// Custom format: whether every entry with data has its block's offset in the TOC (false
    /// for a dump written to a pipe). Directory archives need no offsets: true.
    pub fn has_data_offsets(&self) -> bool {
        self.entries
            .iter()
            .all(|e| e.data != DataLocation::OffsetNotSet)
    }

    /// Custom format: the byte where the data blocks begin, right after the TOC.
    pub fn data_start(&self) -> Option<u64> {
        match &self.layout {
            Layout::Custom { data_start, .. } => Some(*data_start),
            Layout::Directory => None,
        }
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::new(&self.path, kind)
    }

    fn context(&self, entry: &Entry) -> Context {
        Context {
            subject: entry.subject(),
            dump_id: entry.dump_id.0,
            algorithm: self.header.compression.algorithm,
        }
    }

    /// The decompressed data of an entry (a table's COPY text; not a BLOBS entry's large
    /// objects), as a stream.
    pub fn open_data(&self, entry: &Entry) -> Result<DataReader, Error> {
        let stream = self
            .open_source(entry)
            .and_then(Opened::into_stream)
            .map_err(|k| self.error(k))?;
        Ok(DataReader {
            stream,
            path: self.path.clone(),
        })
    }

    /// Checks that the entry can have a data stream.
    fn check_readable(&self, entry: &Entry) -> Result<(), ErrorKind> {
        let context = self.context(entry);
        if entry.desc == "BLOBS" {
            return Err(ErrorKind::NotCountable {
                subject: context.subject,
                dump_id: context.dump_id,
                reason: "it holds large objects, which this reader does not stream".into(),
            });
        }
        if !entry.has_data() {
            return Err(ErrorKind::NoData {
                subject: context.subject,
                dump_id: context.dump_id,
            });
        }
        Ok(())
    }

    fn open_source(&self, entry: &Entry) -> Result<Opened<AnySource>, ErrorKind> {
        self.check_readable(entry)?;
        let slot = ErrorSlot::default();
        match &self.layout {
            Layout::Custom { .. } => {
                let context = self.context(entry);
                let pos = self.locate(entry)?;
                let mut src = self.open_at(pos, &context)?;
                check_own_block_header(&mut src, entry, &context)?;
                let chunks = ChunkReader::new(src, slot.clone(), context.clone());
                Ok(Opened {
                    source: AnySource::Block(chunks),
                    container: Container::Block,
                    slot,
                    context,
                })
            }
            Layout::Directory => {
                let (file, path, algorithm) = self.open_data_file(entry)?;
                let mut context = self.context(entry);
                context.algorithm = algorithm;
                let source = FileSource::new(file, &path, slot.clone(), context.clone());
                Ok(Opened {
                    source: AnySource::File(source),
                    container: Container::File,
                    slot,
                    context,
                })
            }
        }
    }

    /// Directory format: the entry's data file, found as pg_restore finds it (the stored name,
    /// then with `.gz`, `.lz4`, `.zst`), and the algorithm its suffix names.
    fn open_data_file(&self, entry: &Entry) -> Result<(File, PathBuf, Algorithm), ErrorKind> {
        let context = self.context(entry);
        let DataLocation::File(name) = &entry.data else {
            return Err(ErrorKind::NoData {
                subject: context.subject,
                dump_id: context.dump_id,
            });
        };
        let plain = name
            .to_str()
            .filter(|n| !n.is_empty() && *n != "." && *n != ".." && !n.contains(['/', '\\', '\0']))
            .ok_or_else(|| ErrorKind::DataFile {
                subject: context.subject.clone(),
                dump_id: context.dump_id,
                detail: format!(
                    "the TOC names the data file '{name}', which is not a plain file name"
                ),
            })?;
        for (suffix, algorithm) in [
            ("", Algorithm::None),
            (".gz", Algorithm::Gzip),
            (".lz4", Algorithm::Lz4),
            (".zst", Algorithm::Zstd),
        ] {
            let path = self.path.join(format!("{plain}{suffix}"));
            // A FIFO in the directory would hold the open without end.
            if let Some(what) = std::fs::metadata(&path).ok().as_ref().and_then(not_a_file) {
                return Err(ErrorKind::DataFile {
                    subject: context.subject,
                    dump_id: context.dump_id,
                    detail: format!("'{}' is {what}, not a file", path.display()),
                });
            }
            match File::open(&path) {
                Ok(file) => return Ok((file, path, algorithm)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ErrorKind::Io {
                        action: format!("cannot open '{}'", path.display()),
                        error: source,
                    });
                }
            }
        }
        Err(ErrorKind::DataFile {
            subject: context.subject,
            dump_id: context.dump_id,
            detail: format!(
                "'{plain}' is missing from the directory (also with .gz, .lz4 or .zst)"
            ),
        })
    }

    /// Custom format: the file's length (0 for a directory).
    pub(crate) fn file_len(&self) -> u64 {
        match &self.layout {
            Layout::Custom { file_len, .. } => *file_len,
            Layout::Directory => 0,
        }
    }

    /// A reader of the custom file at `pos`.
    fn open_at(&self, pos: u64, context: &Context) -> Result<FileReader, ErrorKind> {
        let file = File::open(&self.path).map_err(io_error(format!(
            "cannot open it again to read {}",
            context.subject
        )))?;
        let mut src = Primitives::new(
            BufReader::with_capacity(FILE_BUFFER, file),
            0,
            Some(self.file_len()),
        );
        src.set_sizes(self.header.int_size, self.header.offset_size);
        src.seek_to(pos).map_err(|f| context.block_fault(f))?;
        Ok(src)
    }

    /// Custom format: the byte where an entry's data block starts, from the TOC, or, for a
    /// dump written to a pipe, found by walking the blocks (block headers and chunk lengths
    /// only; what one walk learns serves every later call).
    pub fn block_offset(&self, entry: &Entry) -> Result<u64, Error> {
        self.locate(entry).map_err(|k| self.error(k))
    }

    /// Custom format: where the entry's block starts, walking the blocks if the TOC has no
    /// offset for it (a dump written to a pipe).
    fn locate(&self, entry: &Entry) -> Result<u64, ErrorKind> {
        match &entry.data {
            DataLocation::Offset(pos) => Ok(*pos),
            DataLocation::OffsetNotSet => self.find_block(entry),
            DataLocation::None | DataLocation::File(_) => {
                let context = self.context(entry);
                Err(ErrorKind::NoData {
                    subject: context.subject,
                    dump_id: context.dump_id,
                })
            }
        }
    }

    fn find_block(&self, entry: &Entry) -> Result<u64, ErrorKind> {
        let Layout::Custom { index, .. } = &self.layout else {
            return Err(ErrorKind::NoData {
                subject: entry.subject(),
                dump_id: entry.dump_id.0,
            });
        };
        let mut index = index.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&pos) = index.positions.get(&entry.dump_id) {
            return Ok(pos);
        }
        if !index.complete {
            let context = self.context(entry);
            let mut src = self.open_at(index.next, &context)?;
            while let Some((pos, id)) = self.walk_one(&mut src, &mut index)? {
                if id == entry.dump_id {
                    return Ok(pos);
                }
            }
        }
        Err(ErrorKind::BlockNotFound {
            subject: entry.subject(),
            dump_id: entry.dump_id.0,
        })
    }

    /// Walks over the next block (at `index.next`), recording it; `None` at the end of the file.
    fn walk_one(
        &self,
        src: &mut FileReader,
        index: &mut BlockIndex,
    ) -> Result<Option<(u64, DumpId)>, ErrorKind> {
        let pos = src.pos();
        if pos >= self.file_len() {
            index.complete = true;
            return Ok(None);
        }
        let (kind, id) = read_block_header(src).map_err(|f| data_area_fault(f, pos))?;
        let context = match self.entry(id) {
            Some(owner) => self.context(owner),
            None => Context {
                subject: format!("an unknown entry at byte {pos}"),
                dump_id: id.0,
                algorithm: Algorithm::None,
            },
        };
        skip_block(src, kind).map_err(|f| context.block_fault(f))?;
        match index.positions.entry(id) {
            Slot::Occupied(_) => {
                index.duplicate.get_or_insert((id, pos));
            }
            Slot::Vacant(slot) => {
                slot.insert(pos);
            }
        }
        index.next = src.pos();
        Ok(Some((pos, id)))
    }

    /// Custom format: walks every block once, so that every entry's block is known.
    pub(crate) fn index_all_blocks(&self) -> Result<(), Error> {
        let Layout::Custom { index, .. } = &self.layout else {
            return Ok(());
        };
        let mut index = index.lock().unwrap_or_else(PoisonError::into_inner);
        if index.complete {
            return Ok(());
        }
        let context = Context {
            subject: "the data area".into(),
            dump_id: 0,
            algorithm: Algorithm::None,
        };
        let mut src = self
            .open_at(index.next, &context)
            .map_err(|k| self.error(k))?;
        while self
            .walk_one(&mut src, &mut index)
            .map_err(|k| self.error(k))?
            .is_some()
        {}
        Ok(())
    }

    /// Checks the layout of all the data without decompressing it: custom format, every block
    /// is walked (headers and chunk lengths), every entry with data has its block where the
    /// TOC says, every block belongs to an entry, and the file ends right after the last
    /// block; directory format, every data file is there. A truncated file is found here even
    /// when what is cut is no table's data (large objects, say).
    pub fn verify_layout(&self) -> Result<(), Error> {
        let Layout::Custom { index, .. } = &self.layout else {
            for entry in self
                .entries
                .iter()
                .filter(|e| e.has_data() && e.desc != "BLOBS")
            {
                self.open_data_file(entry).map_err(|k| self.error(k))?;
            }
            return Ok(());
        };
        self.index_all_blocks()?;
        let index = index.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in self.entries.iter().filter(|e| e.has_data()) {
            let found = index.positions.get(&entry.dump_id).copied();
            let detail = match (&entry.data, found) {
                (_, None) => "the file has no block for it".to_owned(),
                (DataLocation::Offset(pos), Some(found)) if *pos != found => {
                    format!("the TOC puts its block at byte {pos}, the block is at byte {found}")
                }
                _ => continue,
            };
            return Err(self.error(ErrorKind::BlockCorrupt {
                subject: entry.subject(),
                dump_id: entry.dump_id.0,
                offset: found.unwrap_or(self.file_len()),
                detail,
            }));
        }
        if let Some((id, pos)) = index.duplicate {
            return Err(self.error(ErrorKind::Corrupt {
                part: Part::DataArea,
                offset: pos,
                detail: format!("a second data block for dump id {id}"),
            }));
        }
        if let Some((id, pos)) = index
            .positions
            .iter()
            .find(|(id, _)| self.entry(**id).is_none_or(|e| !e.has_data()))
        {
            return Err(self.error(ErrorKind::Corrupt {
                part: Part::DataArea,
                offset: *pos,
                detail: format!("a data block for dump id {id}, which has no data in the TOC"),
            }));
        }
        Ok(())
    }

    /// The block position of each entry with data, as far as known (custom format).
    pub(crate) fn known_position(&self, entry: &Entry) -> Option<u64> {
        match (&entry.data, &self.layout) {
            (DataLocation::Offset(pos), _) => Some(*pos),
            (DataLocation::OffsetNotSet, Layout::Custom { index, .. }) => index
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .positions
                .get(&entry.dump_id)
                .copied(),
            _ => None,
        }
    }

    /// Directory format: the size of an entry's data file on disk (for scheduling).
    pub(crate) fn data_file_len(&self, entry: &Entry) -> Option<u64> {
        let DataLocation::File(name) = &entry.data else {
            return None;
        };
        let name = name.to_str()?;
        ["", ".gz", ".lz4", ".zst"]
            .iter()
            .find_map(|suffix| std::fs::metadata(self.path.join(format!("{name}{suffix}"))).ok())
            .map(|m| m.len())
    }

    pub(crate) fn is_custom(&self) -> bool {
        matches!(self.layout, Layout::Custom { .. })
    }

    /// Counts the rows of a TABLE DATA entry's COPY text, exactly; fails on any damage.
    pub fn count_rows(&self, entry: &Entry) -> Result<RowCount, Error> {
        self.count_rows_inner(entry).map_err(|k| self.error(k))
    }

    pub(crate) fn count_rows_inner(&self, entry: &Entry) -> Result<RowCount, ErrorKind> {
        self.check_countable(entry)?;
        self.open_source(entry)?.into_stream()?.count_rows()
    }

    /// The size of an entry's data once decompressed (reads it all).
    pub fn data_size(&self, entry: &Entry) -> Result<u64, Error> {
        self.open_source(entry)
            .and_then(Opened::into_stream)
            .and_then(|mut s| s.count_bytes())
            .map_err(|k| self.error(k))
    }

    pub(crate) fn check_countable(&self, entry: &Entry) -> Result<(), ErrorKind> {
        let context = self.context(entry);
        if !entry.is_table_data() {
            return Err(ErrorKind::NotCountable {
                subject: context.subject,
                dump_id: context.dump_id,
                reason: format!("a {} entry, not TABLE DATA", entry.desc),
            });
        }
        if entry.copy_stmt.is_none() {
            return Err(ErrorKind::NotCountable {
                subject: context.subject,
                dump_id: context.dump_id,
                reason: "the data was dumped as INSERT statements (pg_dump --inserts), not COPY"
                    .into(),
            });
        }
        self.check_readable(entry)
    }

    /// One pass over the custom file's blocks in file order, counting the rows of `entries`
    /// as their blocks come by: reads the file once, without seeking back, whether or not the
    /// TOC has offsets. Results are in the order of `entries`.
    pub(crate) fn count_sequential(&self, entries: &[&Entry]) -> Vec<Result<RowCount, Error>> {
        let mut results: Vec<Option<Result<RowCount, Error>>> =
            entries.iter().map(|_| None).collect();
        let mut wanted: HashMap<DumpId, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.dump_id, i))
            .collect();
        let context = Context {
            subject: "the data area".into(),
            dump_id: 0,
            algorithm: Algorithm::None,
        };
        let walk = self.data_start().map(|start| self.open_at(start, &context));
        if let Some(Ok(mut src)) = walk {
            while !wanted.is_empty() && src.pos() < self.file_len() {
                let Ok((kind, id)) = read_block_header(&mut src) else {
                    break;
                };
                // Each wanted block is read once, even if a damaged file repeats it.
                let owner = if kind == BLK_DATA {
                    wanted.remove(&id)
                } else {
                    None
                };
                match owner.and_then(|i| entries.get(i).map(|e| (i, *e))) {
                    Some((i, entry)) => {
                        let slot = ErrorSlot::default();
                        let context = self.context(entry);
                        let chunks = ChunkReader::new(&mut src, slot.clone(), context.clone());
                        let opened = Opened {
                            source: chunks,
                            container: Container::Block,
                            slot,
                            context,
                        };
                        let result = self
                            .check_countable(entry)
                            .and_then(|()| opened.into_stream())
                            .and_then(|mut stream| stream.count_rows());
                        let failed = result.is_err();
                        if let Some(r) = results.get_mut(i) {
                            *r = Some(result.map_err(|k| self.error(k)));
                        }
                        if failed {
                            // After a damaged block, where the next one starts is unknown.
                            break;
                        }
                    }
                    _ => {
                        if skip_block(&mut src, kind).is_err() {
                            break;
                        }
                    }
                }
            }
        }
        // What the walk did not reach, each on its own: a damaged archive gets each entry's
        // own error.
        entries
            .iter()
            .zip(results)
            .map(|(entry, result)| result.unwrap_or_else(|| self.count_rows(entry)))
            .collect()
    }
}

/// Reads the block header at the reader's position and checks that it is the entry's.
fn check_own_block_header(
    src: &mut FileReader,
    entry: &Entry,
    context: &Context,
) -> Result<(), ErrorKind> {
    let at = src.pos();
    let (kind, id) = read_block_header(src).map_err(|f| context.block_fault(f))?;
    if id != entry.dump_id {
        return Err(ErrorKind::BlockCorrupt {
            subject: context.subject.clone(),
            dump_id: context.dump_id,
            offset: at,
            detail: format!("the block there belongs to dump id {id}"),
        });
    }
    if kind != BLK_DATA {
        return Err(ErrorKind::BlockCorrupt {
            subject: context.subject.clone(),
            dump_id: context.dump_id,
            offset: at,
            detail: format!("block type {kind}, not a data block"),
        });
    }
    Ok(())
}

fn toc_fault(fault: Fault, part: Part) -> ErrorKind {
    match fault {
        Fault::Eof { offset } => ErrorKind::Truncated { part, offset },
        Fault::Invalid { offset, detail } => ErrorKind::Corrupt {
            part,
            offset,
            detail,
        },
        Fault::Io(source) => ErrorKind::Io {
            action: format!("reading the {part}"),
            error: source,
        },
    }
}

fn data_area_fault(fault: Fault, pos: u64) -> ErrorKind {
    match fault {
        Fault::Eof { offset } => ErrorKind::Truncated {
            part: Part::DataArea,
            offset,
        },
        Fault::Invalid { offset, detail } => ErrorKind::Corrupt {
            part: Part::DataArea,
            offset,
            detail,
        },
        Fault::Io(source) => ErrorKind::Io {
            action: format!("reading the block at byte {pos}"),
            error: source,
        },
    }
}

/// A block header: its type and dump id.
fn read_block_header(src: &mut FileReader) -> Result<(u8, DumpId), Fault> {
    let at = src.pos();
    let kind = src.read_byte()?;
    if kind != BLK_DATA && kind != BLK_BLOBS {
        return Err(Fault::invalid(at, format!("unknown block type {kind}")));
    }
    let id = src.read_int()?;
    match u32::try_from(id) {
        Ok(id) if id > 0 => Ok((kind, DumpId(id))),
        _ => Err(Fault::invalid(
            at,
            format!("block dump id {id} out of range"),
        )),
    }
}

/// Skips the chunks of one stream, up to and including its int 0.
fn skip_chunks(src: &mut FileReader) -> Result<(), Fault> {
    loop {
        let at = src.pos();
        let len = src.read_int()?;
        match u64::try_from(len) {
            Ok(0) => return Ok(()),
            Ok(len) => src.skip(len)?,
            Err(_) => return Err(Fault::invalid(at, format!("negative chunk length {len}"))),
        }
    }
}

/// Skips a block's body (after its header).
fn skip_block(src: &mut FileReader, kind: u8) -> Result<(), Fault> {
    if kind == BLK_DATA {
        return skip_chunks(src);
    }
    // Large objects: [int OID, chunks...] repeated, then int 0.
    while src.read_int()? != 0 {
        skip_chunks(src)?;
    }
    Ok(())
}

/// A data source ready for its decompressor.
struct Opened<S: Source> {
    source: S,
    container: Container,
    slot: ErrorSlot,
    context: Context,
}

impl<S: Source> Opened<S> {
    fn into_stream(self) -> Result<Stream<S>, ErrorKind> {
        let Self {
            source,
            container,
            slot,
            context,
        } = self;
        let decoder = Decoder::new(context.algorithm, container, source).map_err(|e| match e {
            None => ErrorKind::UnsupportedCompression {
                algorithm: context.algorithm,
                subject: context.subject.clone(),
                dump_id: context.dump_id,
            },
            Some(source) => ErrorKind::Io {
                action: "starting the zstd decompressor".into(),
                error: source,
            },
        })?;
        Ok(Stream::new(decoder, slot, context))
    }
}

/// Adapts a checked stream to `Read` for the TOC parser (a compressed toc.dat).
struct Checked<S: Source> {
    stream: Stream<S>,
}

impl<S: Source> Read for Checked<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream
            .read_checked(buf)
            .map_err(|kind| io::Error::other(kind.to_string()))
    }
}
