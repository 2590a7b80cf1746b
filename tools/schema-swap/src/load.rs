//! Loading one table's rows straight from the archive reader into the server.
//!
//! A thread reads the table's data block (decompressing it), cuts it into rows, and hands
//! ready-to-send chunks to the session; the session streams them into `COPY ... FROM STDIN`.
//! Where schema-swap knows every column's type the rows go in COPY's binary form: the server
//! then skips parsing text (dates, numerics and the like cost it most of a text COPY), and
//! this process, which has a core to spare while the server works, does the converting.
//! A value the converter is not certain of ends the binary attempt; the table is emptied
//! (TRUNCATE, in the transaction that created it) and loaded again as text.

use bytes::Bytes;
use futures_util::SinkExt;
use pg::tokio_postgres::{Client, Error as PgError};
use pgcopy::{EncodeError, Kind, RowEncoder};
use pgdump::{Archive, DataReader, DumpId};
use std::io::Read;
use tokio::sync::mpsc;

/// How much is read from the archive at a time.
const READ_BYTES: usize = 1024 * 1024;
/// How much is gathered before it is handed to the session.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks that may wait between the thread and the session.
const QUEUE: usize = 16;

/// How a table's rows travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// COPY binary, one kind per column of the COPY statement.
    Binary(Vec<Kind>),
    /// The dump's COPY text as it is.
    Text,
}

impl Encoding {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Binary(_) => "binary",
            Self::Text => "text",
        }
    }
}

/// What the reading thread hands over.
#[derive(Debug)]
enum Piece {
    /// Rows ready to send, and how many.
    Rows { data: Bytes, rows: u64 },
    /// The data ended where it should (after the `\.` line); all rows were handed over.
    End { rows: u64 },
    /// A value the binary converter will not convert (binary only).
    Unconvertible(EncodeError),
}

/// A table of the COPY statement and what the server knows of it, read in the transaction
/// after pg_restore created the table.
#[derive(Debug)]
pub struct Target {
    /// A plain table (not partitioned): COPY FREEZE and TRUNCATE are safe on it alone.
    pub plain: bool,
    pub encoding: Encoding,
    /// `TRUNCATE ONLY` of the table, to undo a binary attempt that had to stop.
    pub truncate_sql: Option<String>,
    /// The COPY statement's columns, to name the one a value could not be converted in.
    pub columns: Vec<String>,
}

impl Target {
    /// Why the binary attempt stopped, with the column's name.
    pub fn explain(&self, error: &EncodeError) -> String {
        match (self.columns.get(error.column), error.kind) {
            (Some(column), Some(kind)) => {
                format!("column {column} ({}): {}", kind.name(), error.reason)
            }
            _ => error.to_string(),
        }
    }
}

/// The parts of pg_dump's `COPY schema.table (col, ...) FROM stdin` that matter here.
#[derive(Debug, PartialEq, Eq)]
struct CopyStatement {
    schema: String,
    table: String,
    columns: Vec<String>,
}

/// Reads pg_dump's COPY statement; `None` for any other shape (the table then goes as
/// text with the statement as it is). Names are unquoted as PostgreSQL does.
fn parse_copy(sql: &str) -> Option<CopyStatement> {
    let rest = strip_keyword(sql.trim_start(), "COPY")?;
    let (schema, rest) = identifier(rest.trim_start())?;
    let rest = rest.strip_prefix('.')?;
    let (table, rest) = identifier(rest)?;
    let mut rest = rest.trim_start().strip_prefix('(')?;
    let mut columns = Vec::new();
    loop {
        let (column, after) = identifier(rest.trim_start())?;
        columns.push(column);
        let after = after.trim_start();
        if let Some(more) = after.strip_prefix(',') {
            rest = more;
        } else {
            rest = after.strip_prefix(')')?;
            break;
        }
    }
    let rest = strip_keyword(rest.trim_start(), "FROM")?;
    let rest = strip_keyword(rest.trim_start(), "stdin")?;
    let rest = rest.trim();
    (rest.is_empty() || rest == ";").then_some(CopyStatement {
        schema,
        table,
        columns,
    })
}

/// `word` at the start of `text` (any case), followed by a space, `;` or the end.
fn strip_keyword<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = text.get(word.len()..)?;
    (head.eq_ignore_ascii_case(word)
        && rest
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == ';'))
    .then_some(rest)
}

/// A double-quoted identifier (`""` inside is one quote) or a plain one as pg_dump leaves
/// them (lower-case letters, digits, `_`, `$`); returns the name and what follows.
fn identifier(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            if c != '"' {
                name.push(c);
                continue;
            }
            if quoted.get(at + 1..)?.starts_with('"') {
                name.push('"');
                chars.next();
            } else {
                return (!name.is_empty()).then(|| (name, quoted.get(at + 1..).unwrap_or("")));
            }
        }
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    let name = text.get(..end)?;
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    starts_well.then(|| (name.to_owned(), text.get(end..).unwrap_or("")))
}

/// The columns of a table with their types (a domain's base type), and its relkind.
const COLUMNS_SQL: &str = "
WITH RECURSIVE columns AS (
    SELECT a.attname::text AS name, a.atttypid AS type, c.relkind::text AS relkind
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
), resolved AS (
    SELECT name, type, relkind FROM columns
    UNION ALL
    SELECT r.name, t.typbasetype, r.relkind
    FROM resolved r JOIN pg_catalog.pg_type t ON t.oid = r.type
    WHERE t.typtype = 'd'
)
SELECT r.name, r.type, t.typtype::text, r.relkind
FROM resolved r JOIN pg_catalog.pg_type t ON t.oid = r.type
WHERE t.typtype <> 'd'";

/// Looks the COPY statement's table up in the transaction: whether it is plain, and whether
/// every column has a type the binary converter knows. A statement that does not fill
/// `schema.table` (the entry's own table, created by this transaction) goes as text as it
/// is: nothing but that table may ever be truncated.
pub async fn target(
    client: &Client,
    copy_sql: &str,
    (schema, table): (&str, &str),
    binary: bool,
) -> Result<Target, PgError> {
    let statement = parse_copy(copy_sql).filter(|s| s.schema == schema && s.table == table);
    let Some(statement) = statement else {
        return Ok(Target {
            plain: false,
            encoding: Encoding::Text,
            truncate_sql: None,
            columns: Vec::new(),
        });
    };
    let rows = client
        .query(COLUMNS_SQL, &[&statement.schema, &statement.table])
        .await?;
    // try_get: a name that does not decode (it cannot, in a UTF-8 session) means text.
    let text = |row: &pg::tokio_postgres::Row, i: usize| row.try_get::<_, String>(i).ok();
    let plain = rows
        .first()
        .is_some_and(|row| text(row, 3).as_deref() == Some("r"));
    let kind_of = |column: &str| {
        rows.iter()
            .find(|row| text(row, 0).as_deref() == Some(column))
            .and_then(|row| match text(row, 2).as_deref() {
                Some("b") => row.try_get::<_, u32>(1).ok().and_then(Kind::from_type_oid),
                // An enum's binary form is its label, as text.
                Some("e") => Some(Kind::Text),
                _ => None,
            })
    };
    let kinds: Option<Vec<Kind>> = statement.columns.iter().map(|c| kind_of(c)).collect();
    let encoding = match kinds {
        // TRUNCATE undoes a failed binary attempt; on a partitioned table it would also empty
        // partitions loaded before, so those go as text.
        Some(kinds) if binary && plain => Encoding::Binary(kinds),
        _ => Encoding::Text,
    };
    let truncate_sql = Some(format!(
        "TRUNCATE ONLY {}.{}",
        quoted(&statement.schema),
        quoted(&statement.table)
    ));
    Ok(Target {
        plain,
        encoding,
        truncate_sql,
        columns: statement.columns,
    })
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The statement to run for a table: pg_dump's COPY with our options.
pub fn copy_statement(copy_sql: &str, encoding: &Encoding, freeze: bool) -> String {
    let base = copy_sql.trim_end().trim_end_matches(';');
    let mut options = Vec::new();
    if matches!(encoding, Encoding::Binary(_)) {
        options.push("FORMAT binary");
    }
    if freeze {
        options.push("FREEZE");
    }
    if options.is_empty() {
        base.to_owned()
    } else {
        format!("{base} WITH ({})", options.join(", "))
    }
}

/// How one load attempt ended.
#[derive(Debug)]
pub enum Loaded {
    /// Rows sent, and the count COPY reported.
    Done { sent: u64, copied: u64 },
    /// The converter met a value it will not convert; the COPY was ended early after `sent`
    /// rows, which must be removed before the table is loaded again.
    Unconvertible { error: EncodeError, sent: u64 },
}

/// Why a load failed: the database said no, the dump's data could not be read, or this
/// process could not go on (a thread, a missing entry).
#[derive(Debug)]
pub enum LoadError {
    Server(PgError),
    Data(String),
    Internal(String),
}

impl From<PgError> for LoadError {
    fn from(error: PgError) -> Self {
        Self::Server(error)
    }
}

/// Streams the rows of the archive entry `dump_id` into `COPY` (`sql`, from
/// [`copy_statement`]). `progress` gets the number of rows of every chunk sent.
pub async fn copy_rows(
    client: &Client,
    archive: &Archive,
    dump_id: u32,
    sql: &str,
    encoding: &Encoding,
    mut progress: impl FnMut(u64),
) -> Result<Loaded, LoadError> {
    let entry = archive
        .entry(DumpId(dump_id))
        .ok_or_else(|| LoadError::Internal(format!("the archive has no entry {dump_id}")))?;
    let reader = archive.open_data(entry).map_err(|e| {
        LoadError::Data(format!("reading {}: {}", entry.qualified_name(), e.kind()))
    })?;
    let encoder = match encoding {
        Encoding::Binary(kinds) => Some(RowEncoder::new(kinds.clone())),
        Encoding::Text => None,
    };
    let mut pieces = spawn_reader(reader, encoder, entry.qualified_name())
        .map_err(|e| LoadError::Internal(format!("starting the reader thread: {e}")))?;
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    let mut sink = Box::pin(sink);
    let mut sent = 0;
    let mut sent_any = false;
    while let Some(piece) = pieces.recv().await {
        match piece.map_err(LoadError::Data)? {
            Piece::Rows { data, rows } => {
                sink.send(data).await?;
                sent_any = true;
                sent += rows;
                progress(rows);
            }
            Piece::End { rows } => {
                debug_assert_eq!(rows, sent);
                let copied = sink.as_mut().finish().await?;
                return Ok(Loaded::Done { sent, copied });
            }
            Piece::Unconvertible(error) => {
                // End the COPY cleanly with what it has; the caller empties the table. The
                // header went with the first chunk, if one was sent.
                if !sent_any {
                    sink.send(Bytes::from_static(pgcopy::HEADER)).await?;
                }
                sink.send(Bytes::from_static(pgcopy::TRAILER)).await?;
                sink.as_mut().finish().await?;
                return Ok(Loaded::Unconvertible { error, sent });
            }
        }
    }
    Err(LoadError::Internal(
        "the reader thread stopped without a word".into(),
    ))
}

/// Starts the thread that reads, cuts and (for binary) converts the rows.
fn spawn_reader(
    reader: DataReader,
    encoder: Option<RowEncoder>,
    subject: String,
) -> std::io::Result<mpsc::Receiver<Result<Piece, String>>> {
    let (sender, pieces) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("copy-rows".into())
        .spawn(move || {
            let mut rows = Rows {
                reader,
                encoder,
                subject,
                sender,
            };
            // Err: the session went away (it failed or was interrupted), or the error was
            // handed over; either way there is nothing more to do.
            let _ = rows.run();
        })?;
    Ok(pieces)
}

/// The reading side of one table's load.
struct Rows {
    reader: DataReader,
    encoder: Option<RowEncoder>,
    subject: String,
    sender: mpsc::Sender<Result<Piece, String>>,
}

/// The thread stops: the session is gone or has been told why.
struct Stop;

impl Rows {
    fn send(&self, piece: Result<Piece, String>) -> Result<(), Stop> {
        self.sender.blocking_send(piece).map_err(|_| Stop)
    }

    fn fail(&self, why: String) -> Stop {
        let _ = self.sender.blocking_send(Err(why));
        Stop
    }

    fn run(&mut self) -> Result<(), Stop> {
        // Input is buf[start..end]; it is zeroed once, then only overwritten. The rows are cut
        // at newlines; buf[start..scan] is known to hold none (part of a row longer than a
        // read), so a long row is searched once, not once per read.
        let mut buf = vec![0u8; READ_BYTES * 2];
        let (mut start, mut scan, mut end) = (0, 0, 0);
        let mut out: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + READ_BYTES);
        if self.encoder.is_some() {
            out.extend_from_slice(pgcopy::HEADER);
        }
        let mut total = 0u64;
        let mut pending = 0u64;
        let mut ended = false;
        loop {
            // Every read gets at least READ_BYTES of room: the unfinished row moves to the
            // front, and the buffer grows only for a row longer than that.
            if buf.len() - end < READ_BYTES && start > 0 {
                buf.copy_within(start..end, 0);
                scan -= start;
                end -= start;
                start = 0;
            }
            if buf.len() - end < READ_BYTES {
                buf.resize(end + READ_BYTES, 0);
            }
            let read = self
                .reader
                .read(&mut buf[end..])
                .map_err(|e| self.fail(format!("reading the data of {}: {e}", self.subject)))?;
            if read == 0 {
                break;
            }
            end += read;
            if ended {
                // After `\.` only the empty lines pg_dump writes may follow.
                if buf[start..end].iter().any(|&b| b != b'\n') {
                    return Err(self.fail(format!(
                        "the data of {} goes on after its end marker: the dump is damaged",
                        self.subject
                    )));
                }
                start = end;
                continue;
            }
            let mut line_start = start;
            for newline in memchr::memchr_iter(b'\n', &buf[scan..end]) {
                let line_end = scan + newline;
                let line = &buf[line_start..line_end];
                if line == b"\\." {
                    ended = true;
                    if buf[line_end + 1..end].iter().any(|&b| b != b'\n') {
                        return Err(self.fail(format!(
                            "the data of {} goes on after its end marker: the dump is damaged",
                            self.subject
                        )));
                    }
                    break;
                }
                if let Some(encoder) = &mut self.encoder {
                    if let Err(error) = encoder.encode_line(line, &mut out) {
                        self.send(Ok(Piece::Unconvertible(error)))?;
                        return Ok(());
                    }
                }
                pending += 1;
                line_start = line_end + 1;
            }
            if self.encoder.is_none() {
                // Text goes as it is: the whole rows of this read at once.
                out.extend_from_slice(&buf[start..line_start]);
            }
            start = if ended { end } else { line_start };
            scan = end;
            if out.len() >= CHUNK_BYTES {
                total += pending;
                let data = Bytes::from(std::mem::replace(
                    &mut out,
                    Vec::with_capacity(CHUNK_BYTES + READ_BYTES),
                ));
                self.send(Ok(Piece::Rows {
                    data,
                    rows: std::mem::take(&mut pending),
                }))?;
            }
        }
        if !ended {
            return Err(self.fail(format!(
                "the data of {} ends without COPY's end marker: the dump was cut short",
                self.subject
            )));
        }
        if self.encoder.is_some() {
            out.extend_from_slice(pgcopy::TRAILER);
        }
        total += pending;
        if !out.is_empty() {
            self.send(Ok(Piece::Rows {
                data: Bytes::from(out),
                rows: pending,
            }))?;
        }
        self.send(Ok(Piece::End { rows: total }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pg_dumps_copy_statements() {
        assert_eq!(
            parse_copy("COPY trading.orders (id, placed_at, \"Note\") FROM stdin;"),
            Some(CopyStatement {
                schema: "trading".into(),
                table: "orders".into(),
                columns: vec!["id".into(), "placed_at".into(), "Note".into()],
            })
        );
        assert_eq!(
            parse_copy("COPY \"my \"\"odd\"\" schema\".\"T.1\" (\"a,b\", c_2$) FROM stdin"),
            Some(CopyStatement {
                schema: "my \"odd\" schema".into(),
                table: "T.1".into(),
                columns: vec!["a,b".into(), "c_2$".into()],
            })
        );
    }

    #[test]
    fn other_shapes_are_left_to_text() {
        for sql in [
            "COPY orders (id) FROM stdin;",
            "COPY trading.orders FROM stdin;",
            "COPY trading.orders (id) FROM stdin WITH (FORMAT csv);",
            "COPY trading.orders (id) TO stdout;",
            "COPY trading.orders (Id) FROM stdin;",
            "COPY trading.orders (id,) FROM stdin;",
            "COPY trading.\"\" (id) FROM stdin;",
            "COPYtrading.orders (id) FROM stdin;",
        ] {
            assert_eq!(parse_copy(sql), None, "{sql}");
        }
    }

    #[test]
    fn statements_carry_the_options() {
        let sql = "COPY s.t (a) FROM stdin;";
        assert_eq!(
            copy_statement(sql, &Encoding::Binary(vec![Kind::Int4]), true),
            "COPY s.t (a) FROM stdin WITH (FORMAT binary, FREEZE)"
        );
        assert_eq!(
            copy_statement(sql, &Encoding::Text, true),
            "COPY s.t (a) FROM stdin WITH (FREEZE)"
        );
        assert_eq!(
            copy_statement(sql, &Encoding::Text, false),
            "COPY s.t (a) FROM stdin"
        );
    }
}
