//! Decompression of one data stream (compress_gzip.c, compress_lz4.c, compress_zstd.c).
//!
//! - custom format: a block's chunks, concatenated, are one zlib stream (not gzip), one LZ4
//!   frame or one zstd frame;
//! - directory format: `.gz` files are gzip, `.lz4` files LZ4 frames, `.zst` files zstd.
//!
//! Every decoder here fails on a stream that ends early: a truncated stream must never read
//! as a shorter one.

use std::io::{self, BufReader, Read};

use crate::header::Algorithm;

/// Input buffer size for the decompressors.
const INPUT_BUFFER: usize = 128 * 1024;

/// What holds the compressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// A custom-format data block (its chunks already joined).
    Block,
    /// A directory-format data file.
    File,
}

/// A byte source under a decoder that can tell whether anything is left after the end of
/// the compressed stream.
pub(crate) trait Source: Read {
    /// Called once the decoder has reached the end of its stream: fails if the source still
    /// holds bytes (or cannot be read to its end).
    fn finish(&mut self) -> io::Result<()>;
}

impl Source for &[u8] {
    fn finish(&mut self) -> io::Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(trailing())
        }
    }
}

fn trailing() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "bytes after the end of the compressed stream",
    )
}

/// A decompressor over a source, chosen by the algorithm and the container.
pub(crate) enum Decoder<S: Source> {
    None(S),
    Zlib(flate2::bufread::ZlibDecoder<BufReader<S>>),
    Gzip(flate2::bufread::GzDecoder<BufReader<S>>),
    Lz4(Lz4Reader<S>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<S>>),
}

impl<S: Source> Decoder<S> {
    /// `Err(None)` means the algorithm cannot be read.
    pub(crate) fn new(
        algorithm: Algorithm,
        container: Container,
        raw: S,
    ) -> Result<Self, Option<io::Error>> {
        Ok(match (algorithm, container) {
            (Algorithm::None, _) => Self::None(raw),
            (Algorithm::Gzip, Container::Block) => Self::Zlib(flate2::bufread::ZlibDecoder::new(
                BufReader::with_capacity(INPUT_BUFFER, raw),
            )),
            (Algorithm::Gzip, Container::File) => Self::Gzip(flate2::bufread::GzDecoder::new(
                BufReader::with_capacity(INPUT_BUFFER, raw),
            )),
            (Algorithm::Lz4, _) => Self::Lz4(Lz4Reader::new(raw)),
            (Algorithm::Zstd, _) => Self::Zstd(
                zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
                    INPUT_BUFFER,
                    raw,
                ))
                .map_err(Some)?,
            ),
            (Algorithm::Unknown(_), _) => return Err(None),
        })
    }

    /// After the decoder returned end of stream: nothing may be left, neither in the decoder's
    /// input buffer nor in the source.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        let buffered = match self {
            Self::None(source) => return source.finish(),
            Self::Zlib(decoder) => decoder.get_mut(),
            Self::Gzip(decoder) => decoder.get_mut(),
            Self::Lz4(reader) => &mut reader.decoder.get_mut().inner,
            Self::Zstd(decoder) => decoder.get_mut(),
        };
        if !buffered.buffer().is_empty() {
            return Err(trailing());
        }
        buffered.get_mut().finish()
    }
}

impl<S: Source> Read for Decoder<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::None(source) => source.read(buf),
            Self::Zlib(decoder) => decoder.read(buf),
            Self::Gzip(decoder) => decoder.read(buf),
            Self::Lz4(reader) => reader.read(buf),
            Self::Zstd(decoder) => decoder.read(buf),
        }
    }
}

/// LZ4 frames through lz4_flex, which takes a stream that stops between two blocks for a
/// finished one; a [`FrameTracker`] beside it knows whether the end mark has been seen.
pub(crate) struct Lz4Reader<R: Read> {
    decoder: lz4_flex::frame::FrameDecoder<FrameTracker<BufReader<R>>>,
}

impl<R: Read> Lz4Reader<R> {
    fn new(raw: R) -> Self {
        Self {
            decoder: lz4_flex::frame::FrameDecoder::new(FrameTracker::new(
                BufReader::with_capacity(INPUT_BUFFER, raw),
            )),
        }
    }
}

impl<R: Read> Read for Lz4Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let tracker = self.decoder.get_ref();
            if let Some(problem) = &tracker.problem {
                return Err(io::Error::new(io::ErrorKind::InvalidData, problem.clone()));
            }
            if !tracker.is_complete() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the LZ4 frame ends before its end mark",
                ));
            }
        }
        Ok(n)
    }
}

const LZ4_MAGIC: u32 = 0x184D_2204;
const LZ4_SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const LZ4_SKIPPABLE: u32 = 0x184D_2A50;

/// Where the tracker is in the LZ4 frame layout (lz4_Frame_format.md): magic, FLG, BD,
/// [content size], [dictionary id], HC, then blocks of `size` (+ checksum), an end mark of
/// four zero bytes, [content checksum].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Magic,
    Descriptor,
    BlockSize,
    SkippableSize,
}

/// Watches the bytes passing into the LZ4 decoder, without decoding them.
struct FrameTracker<R> {
    inner: R,
    /// A field being collected: which, its bytes so far.
    field: Field,
    buf: [u8; 4],
    got: usize,
    /// Bytes to pass over before the next field.
    skip: u64,
    /// The frame's FLG byte.
    flags: u8,
    frames: u64,
    problem: Option<String>,
}

impl<R> FrameTracker<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            field: Field::Magic,
            buf: [0; 4],
            got: 0,
            skip: 0,
            flags: 0,
            frames: 0,
            problem: None,
        }
    }

    /// At least one whole frame, and nothing after it but whole frames.
    fn is_complete(&self) -> bool {
        self.problem.is_none()
            && self.frames > 0
            && self.field == Field::Magic
            && self.got == 0
            && self.skip == 0
    }

    /// The number of bytes the current field needs.
    fn field_len(&self) -> usize {
        match self.field {
            Field::Descriptor => 2,
            Field::Magic | Field::BlockSize | Field::SkippableSize => 4,
        }
    }

    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.problem.is_none() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.skip -= n as u64;
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            let want = self.field_len().saturating_sub(self.got);
            let n = want.min(data.len());
            if let (Some(dst), Some(src)) =
                (self.buf.get_mut(self.got..self.got + n), data.get(..n))
            {
                dst.copy_from_slice(src);
            }
            self.got += n;
            data = data.get(n..).unwrap_or_default();
            if self.got == self.field_len() {
                self.got = 0;
                self.field_done();
            }
        }
    }

    fn field_done(&mut self) {
        let value = u32::from_le_bytes(self.buf);
        match self.field {
            Field::Magic if value == LZ4_MAGIC => self.field = Field::Descriptor,
            Field::Magic if value & LZ4_SKIPPABLE_MASK == LZ4_SKIPPABLE => {
                self.field = Field::SkippableSize;
            }
            Field::Magic => self.problem = Some(format!("not an LZ4 frame (magic {value:#010x})")),
            Field::Descriptor => {
                self.flags = self.buf[0];
                // Content size, dictionary id, then the header checksum byte.
                self.skip = (if self.flags & 0x08 != 0 { 8 } else { 0 })
                    + (if self.flags & 0x01 != 0 { 4 } else { 0 })
                    + 1;
                self.field = Field::BlockSize;
            }
            Field::BlockSize if value == 0 => {
                self.skip = if self.flags & 0x04 != 0 { 4 } else { 0 };
                self.frames += 1;
                self.field = Field::Magic;
            }
            Field::BlockSize => {
                self.skip =
                    u64::from(value & 0x7FFF_FFFF) + if self.flags & 0x10 != 0 { 4 } else { 0 };
            }
            Field::SkippableSize => {
                self.skip = u64::from(value);
                self.field = Field::Magic;
            }
        }
    }
}

impl<R: Read> Read for FrameTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// About 200 KB of COPY-like text: several 64 KB LZ4 blocks.
    fn sample() -> Vec<u8> {
        (0..12_000u32)
            .flat_map(|i| format!("{i}\trow {}\n", i * 7).into_bytes())
            .collect()
    }

    fn decode_all(algorithm: Algorithm, container: Container, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut reader = Decoder::new(algorithm, container, bytes)
            .map_err(|e| e.unwrap_or_else(|| io::Error::other("?")))?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        reader.finish()?;
        Ok(out)
    }

    fn lz4_frame(data: &[u8]) -> Vec<u8> {
        // As liblz4's default preferences, which pg_dump uses: 64 KB linked blocks.
        let info = lz4_flex::frame::FrameInfo::new()
            .block_size(lz4_flex::frame::BlockSize::Max64KB)
            .block_mode(lz4_flex::frame::BlockMode::Linked);
        let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn every_truncated_lz4_frame_is_an_error() {
        let data = sample();
        let frame = lz4_frame(&data);
        assert_eq!(
            decode_all(Algorithm::Lz4, Container::Block, &frame).unwrap(),
            data
        );
        // Block boundaries, where lz4_flex alone takes a cut stream for a whole one.
        let flags = frame[4];
        let header_len =
            7 + if flags & 0x08 != 0 { 8 } else { 0 } + if flags & 0x01 != 0 { 4 } else { 0 };
        let block_checksum = if flags & 0x10 != 0 { 4 } else { 0 };
        let mut boundaries = vec![header_len];
        let mut pos = header_len;
        while let Some(size) = frame.get(pos..pos + 4) {
            let size = u32::from_le_bytes(size.try_into().unwrap()) as usize & 0x7FFF_FFFF;
            if size == 0 {
                break;
            }
            pos += 4 + size + block_checksum;
            boundaries.push(pos);
        }
        assert!(
            boundaries.len() > 3,
            "several blocks: {boundaries:?} of {} flags {flags:#x}",
            frame.len()
        );
        let near_boundaries = boundaries
            .iter()
            .flat_map(|&b| b.saturating_sub(2)..(b + 6).min(frame.len()));
        for cut in (0..frame.len()).step_by(11).chain(near_boundaries) {
            assert!(
                decode_all(Algorithm::Lz4, Container::Block, &frame[..cut]).is_err(),
                "cut at {cut} of {}",
                frame.len()
            );
        }
    }

    #[test]
    fn every_truncated_zlib_zstd_and_gzip_stream_is_an_error() {
        let data = sample();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&data).unwrap();
        let zlib = zlib.finish().unwrap();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&data).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd = zstd::stream::encode_all(&data[..], 3).unwrap();
        for (algorithm, container, stream) in [
            (Algorithm::Gzip, Container::Block, &zlib),
            (Algorithm::Gzip, Container::File, &gzip),
            (Algorithm::Zstd, Container::Block, &zstd),
        ] {
            assert_eq!(decode_all(algorithm, container, stream).unwrap(), data);
            for cut in (0..stream.len())
                .step_by(97)
                .chain(stream.len() - 8..stream.len())
            {
                assert!(
                    decode_all(algorithm, container, &stream[..cut]).is_err(),
                    "{algorithm} cut at {cut}"
                );
            }
            let mut longer = stream.clone();
            longer.extend_from_slice(b"junk");
            assert!(
                decode_all(algorithm, container, &longer).is_err(),
                "{algorithm} with bytes after the stream"
            );
        }
    }
}
