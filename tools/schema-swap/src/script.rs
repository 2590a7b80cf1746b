//! Reading the SQL script pg_restore writes, one item at a time: SQL statements, and COPY
//! statements followed by their data up to the `\.` line.
//!
//! The script is applied through our own session, so the statement boundaries psql would find
//! must be found here: a `;` ends a statement only outside single-quoted strings (with
//! backslash escapes in `E'...'`), double-quoted identifiers, dollar-quoted bodies (`$$`,
//! `$tag$`), `--` comments and nested `/* */` comments. A backslash at the start of a
//! statement is a psql meta-command running to the end of its line: pg_restore writes
//! `\restrict KEY` and `\unrestrict KEY` (minor releases since August 2025), which are about
//! psql itself and are skipped; any other meta-command is refused, since its meaning would be
//! lost.
//!
//! A `;` inside the `BEGIN ATOMIC ... END` body of an SQL-standard function or procedure does
//! not end the statement either: as psql does, the first words of the statement are watched
//! for `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, and in such a statement `BEGIN` (and `CASE`
//! inside it) opens a block that `END` closes.
//!
//! COPY data is passed on in large chunks as it arrives, never held whole: a row is a line
//! (COPY's text format escapes newlines inside values), and the data ends at the first line
//! that is exactly `\.` (a backslash inside a value is always written `\\`).

use std::io::{self, Read};

/// How much COPY data is gathered before it is handed on.
pub const CHUNK_BYTES: usize = 512 * 1024;
/// How much is read from pg_restore at a time.
const READ_BYTES: usize = 1024 * 1024;

/// One piece of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A statement, without its trailing `;`, and the entry it belongs to (from pg_restore's
    /// `-- Name: ...; Type: ...` comment before it), e.g. `TABLE trading.orders`.
    Statement { sql: String, entry: String },
    /// `COPY ... FROM stdin`: its data follows as [`Item::CopyData`] chunks, then
    /// [`Item::CopyEnd`].
    CopyStart { sql: String, entry: String },
    /// COPY data: whole lines, and how many (rows).
    CopyData { data: Vec<u8>, rows: u64 },
    /// The end of a COPY's data, with the number of rows (lines) it held.
    CopyEnd { rows: u64 },
    /// A psql meta-command that was skipped (`\restrict`, `\unrestrict`).
    Skipped(String),
}

/// Why the script could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("reading pg_restore's output: {0}")]
    Io(#[from] io::Error),
    #[error(
        "pg_restore's output ends inside {0}: pg_restore stopped early (see its message above)"
    )]
    Truncated(&'static str),
    #[error(
        "pg_restore's output holds the psql command '{0}', which schema-swap cannot apply: restore this dump with psql instead"
    )]
    MetaCommand(String),
    #[error(
        "the SQL pg_restore wrote after {0} is not UTF-8 (the dump is in another encoding and its definitions hold non-ASCII text), which schema-swap's session cannot send unchanged: restore this dump with pg_restore instead"
    )]
    NotUtf8(String),
}

/// A pull reader over pg_restore's output.
pub struct ScriptReader<R> {
    source: R,
    /// Read input is `buf[pos..end]`; the rest is room for the next read, zeroed once.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// The entry named by the last `-- Name:` or `-- Data for Name:` comment.
    entry: String,
    /// Inside a COPY's data; its rows so far.
    copy_rows: Option<u64>,
}

impl<R: Read> ScriptReader<R> {
    pub fn new(source: R) -> Self {
        Self {
            source,
            buf: vec![0; READ_BYTES * 2],
            pos: 0,
            end: 0,
            eof: false,
            entry: String::from("the script's preamble"),
            copy_rows: None,
        }
    }

    /// The next item, or `None` at the end of the script.
    pub fn next_item(&mut self) -> Result<Option<Item>, ScriptError> {
        if let Some(rows) = self.copy_rows {
            return self.copy_data(rows).map(Some);
        }
        self.statement()
    }

    /// Reads more input, keeping `buf[pos..end]` (moved to the front). Returns false at the
    /// end of the input. The buffer grows only for a statement longer than itself.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() - self.end < READ_BYTES / 2 {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let read = loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        self.end += read;
        if read == 0 {
            self.eof = true;
        }
        Ok(read > 0)
    }

    /// COPY data from `pos` (always at the start of a line): complete lines up to about
    /// [`CHUNK_BYTES`], or the end marker. SIMD searches, not a loop over lines: this runs
    /// over every byte of the dump's data.
    fn copy_data(&mut self, rows: u64) -> Result<Item, ScriptError> {
        loop {
            let data = &self.buf[self.pos..self.end];
            // Where the end marker's line starts, if it has been read.
            let marker = if data.starts_with(b"\\.\n") {
                Some(0)
            } else {
                memchr::memmem::find(data, b"\n\\.\n").map(|i| i + 1)
            };
            let limit = marker.unwrap_or(data.len());
            let mut cut =
                memchr::memrchr(b'\n', &data[..limit.min(CHUNK_BYTES)]).map_or(0, |i| i + 1);
            if cut == 0 {
                // A line longer than a chunk: up to its end.
                cut = memchr::memchr(b'\n', &data[..limit]).map_or(0, |i| i + 1);
            }
            if cut > 0 {
                let chunk = data[..cut].to_vec();
                let chunk_rows = memchr::memchr_iter(b'\n', &chunk).count() as u64;
                self.pos += cut;
                self.copy_rows = Some(rows + chunk_rows);
                return Ok(Item::CopyData {
                    data: chunk,
                    rows: chunk_rows,
                });
            }
            if marker == Some(0) {
                self.pos += 3;
                self.copy_rows = None;
                return Ok(Item::CopyEnd { rows });
            }
            if !self.fill()? {
                return Err(ScriptError::Truncated("COPY data"));
            }
        }
    }

    /// The next statement, meta-command or COPY start.
    fn statement(&mut self) -> Result<Option<Item>, ScriptError> {
        let mut lexer = Lexer::default();
        // Where the statement starts, and where the lexer goes on from.
        let mut start = self.pos;
        let mut scan_at = self.pos;
        loop {
            match lexer.scan(&self.buf[..self.end], scan_at, self.eof) {
                Scan::NeedMore(at) if self.eof => {
                    let text = String::from_utf8_lossy(&self.buf[start..self.end]).into_owned();
                    self.pos = self.end;
                    if lexer.only_comments && at >= self.end {
                        self.note_comments(&text);
                        return Ok(None);
                    }
                    return Err(ScriptError::Truncated(lexer.state_name()));
                }
                Scan::NeedMore(at) => {
                    // `fill` keeps buf[pos..], so the statement's text moves to the front.
                    self.pos = start;
                    self.fill()?;
                    scan_at = at - start + self.pos;
                    start = self.pos;
                }
                Scan::Meta(line_end) => {
                    let raw = String::from_utf8_lossy(&self.buf[start..line_end]).into_owned();
                    self.pos = line_end;
                    let (comments, command) = split_leading_comments(&raw);
                    self.note_comments(comments);
                    let command = command.trim().to_owned();
                    let name = command.split_whitespace().next().unwrap_or("");
                    if name == "\\restrict" || name == "\\unrestrict" {
                        return Ok(Some(Item::Skipped(command)));
                    }
                    return Err(ScriptError::MetaCommand(command));
                }
                Scan::End(semicolon) => {
                    // A statement goes to the server as it is or not at all: a lossy
                    // conversion would change names and literals without a word.
                    let raw = std::str::from_utf8(&self.buf[start..semicolon])
                        .map_err(|_| ScriptError::NotUtf8(self.entry.clone()))?
                        .to_owned();
                    self.pos = semicolon + 1;
                    let (comments, sql) = split_leading_comments(&raw);
                    self.note_comments(comments);
                    let sql = sql.trim().to_owned();
                    if sql.is_empty() {
                        lexer = Lexer::default();
                        start = self.pos;
                        scan_at = self.pos;
                        continue;
                    }
                    let entry = self.entry.clone();
                    if is_copy_from_stdin(&sql) {
                        self.skip_rest_of_line()?;
                        self.copy_rows = Some(0);
                        return Ok(Some(Item::CopyStart { sql, entry }));
                    }
                    return Ok(Some(Item::Statement { sql, entry }));
                }
            }
        }
    }

    /// After `COPY ... FROM stdin;` the data starts on the next line.
    fn skip_rest_of_line(&mut self) -> Result<(), ScriptError> {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[self.pos..self.end]) {
                self.pos += nl + 1;
                return Ok(());
            }
            self.pos = self.end;
            if !self.fill()? {
                return Err(ScriptError::Truncated("COPY data"));
            }
        }
    }

    /// Remembers the entry named in pg_restore's comment block, e.g.
    /// `-- Name: orders; Type: TABLE; Schema: trading; Owner: trader`.
    fn note_comments(&mut self, comments: &str) {
        for line in comments.lines() {
            let Some(rest) = line
                .strip_prefix("-- Name: ")
                .or_else(|| line.strip_prefix("-- Data for Name: "))
            else {
                continue;
            };
            let field = |key: &str| {
                rest.split("; ")
                    .find_map(|part| part.strip_prefix(key))
                    .map(str::to_owned)
            };
            let name = rest.split("; ").next().unwrap_or(rest);
            let kind = field("Type: ").unwrap_or_default();
            self.entry = match field("Schema: ") {
                Some(schema) if schema != "-" => format!("{kind} {schema}.{name}"),
                _ => format!("{kind} {name}"),
            };
        }
    }
}

/// Splits the text before a statement into its leading comment lines and the statement.
fn split_leading_comments(raw: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in raw.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            offset += line.len();
        } else {
            break;
        }
    }
    raw.split_at(offset)
}

fn is_copy_from_stdin(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.starts_with("copy ") && lower.trim_end().ends_with("from stdin")
}

/// What one scan found.
enum Scan {
    /// The statement ends with the `;` at this index.
    End(usize),
    /// A meta-command whose line ends just before this index.
    Meta(usize),
    /// The input ran out at this index, inside the statement.
    NeedMore(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// In '...'; true when backslash escapes apply (E'...').
    Single {
        escapes: bool,
    },
    Double,
    LineComment,
    BlockComment {
        depth: u32,
    },
    /// In a dollar-quoted body; the tag is kept in the lexer.
    Dollar,
}

/// The lexer's state, kept across reads.
struct Lexer {
    state: State,
    dollar_tag: Vec<u8>,
    /// Nothing but white space and comments so far.
    only_comments: bool,
    /// The statement's words so far, and the first letters of its first four when they are
    /// `create`, `or`, `replace`, `function` or `procedure` (psqlscan.l's heuristic).
    words: usize,
    head: [u8; 4],
    /// How deep inside BEGIN ... END blocks of a function's body the scan is.
    block_depth: u32,
}

impl Default for Lexer {
    fn default() -> Self {
        Self {
            state: State::Normal,
            dollar_tag: Vec::new(),
            only_comments: true,
            words: 0,
            head: [0; 4],
            block_depth: 0,
        }
    }
}

impl Lexer {
    /// Notes one word of the statement (an unquoted identifier or keyword).
    fn word(&mut self, word: &[u8]) {
        let lower = word.to_ascii_lowercase();
        if self.words < self.head.len()
            && matches!(
                lower.as_slice(),
                b"create" | b"or" | b"replace" | b"function" | b"procedure"
            )
        {
            self.head[self.words] = lower[0];
        }
        self.words += 1;
        let h = self.head;
        let defines_routine = h[0] == b'c'
            && (matches!(h[1], b'f' | b'p')
                || (h[1] == b'o' && h[2] == b'r' && matches!(h[3], b'f' | b'p')));
        if !defines_routine {
            return;
        }
        match lower.as_slice() {
            b"begin" => self.block_depth += 1,
            // CASE ... END inside a body must not close the body's block.
            b"case" if self.block_depth > 0 => self.block_depth += 1,
            b"end" => self.block_depth = self.block_depth.saturating_sub(1),
            _ => {}
        }
    }

    fn state_name(&self) -> &'static str {
        match self.state {
            State::Normal | State::LineComment => "a statement",
            State::Single { .. } => "a quoted string",
            State::Double => "a quoted identifier",
            State::BlockComment { .. } => "a comment",
            State::Dollar => "a dollar-quoted body",
        }
    }

    /// Scans `buf` from `from`, where the last scan asked for more input. Tokens that may
    /// continue past the buffer's end (`$tag$`, `--`, `/*`, `''`) wait for more unless `eof`.
    #[allow(clippy::too_many_lines)] // one state machine: split, its transitions hide
    fn scan(&mut self, buf: &[u8], from: usize, eof: bool) -> Scan {
        let mut i = from;
        while i < buf.len() {
            let c = buf[i];
            match self.state {
                State::Normal => {
                    if c.is_ascii_whitespace() {
                        i += 1;
                        continue;
                    }
                    let next = buf.get(i + 1).copied();
                    if next.is_none() && !eof && matches!(c, b'-' | b'/') {
                        return Scan::NeedMore(i);
                    }
                    match c {
                        b'-' if next == Some(b'-') => {
                            self.state = State::LineComment;
                            i += 2;
                            continue;
                        }
                        b'/' if next == Some(b'*') => {
                            self.state = State::BlockComment { depth: 1 };
                            i += 2;
                            continue;
                        }
                        _ => {}
                    }
                    if self.only_comments && c == b'\\' {
                        // A psql meta-command: to the end of the line.
                        return match memchr::memchr(b'\n', &buf[i..]) {
                            Some(nl) => Scan::Meta(i + nl + 1),
                            None if eof => Scan::Meta(buf.len()),
                            None => Scan::NeedMore(i),
                        };
                    }
                    self.only_comments = false;
                    if (c.is_ascii_alphabetic() || c == b'_' || c >= 0x80)
                        && (i == 0 || !is_ident_byte(buf[i - 1]))
                    {
                        let len = buf[i..]
                            .iter()
                            .take_while(|&&b| is_ident_byte(b) || b == b'$')
                            .count();
                        if i + len == buf.len() && !eof {
                            // The word may go on in the next read.
                            return Scan::NeedMore(i);
                        }
                        self.word(&buf[i..i + len]);
                        i += len;
                        continue;
                    }
                    match c {
                        b';' if self.block_depth > 0 => i += 1,
                        b';' => return Scan::End(i),
                        b'\'' => {
                            let escapes = i > 0
                                && matches!(buf[i - 1], b'E' | b'e')
                                && (i < 2 || !is_ident_byte(buf[i - 2]));
                            self.state = State::Single { escapes };
                            i += 1;
                        }
                        b'"' => {
                            self.state = State::Double;
                            i += 1;
                        }
                        b'$' if i == 0 || !is_ident_byte(buf[i - 1]) => {
                            match dollar_tag(&buf[i..]) {
                                DollarTag::Tag(len) => {
                                    self.dollar_tag = buf[i..i + len].to_vec();
                                    self.state = State::Dollar;
                                    i += len;
                                }
                                DollarTag::NotATag => i += 1,
                                DollarTag::Unfinished if eof => i += 1,
                                DollarTag::Unfinished => return Scan::NeedMore(i),
                            }
                        }
                        _ => i += 1,
                    }
                }
                State::LineComment => match memchr::memchr(b'\n', &buf[i..]) {
                    Some(nl) => {
                        self.state = State::Normal;
                        i += nl + 1;
                    }
                    None => i = buf.len(),
                },
                State::BlockComment { depth } => {
                    let next = buf.get(i + 1).copied();
                    if next.is_none() && !eof && matches!(c, b'*' | b'/') {
                        return Scan::NeedMore(i);
                    }
                    if c == b'*' && next == Some(b'/') {
                        self.state = if depth == 1 {
                            State::Normal
                        } else {
                            State::BlockComment { depth: depth - 1 }
                        };
                        i += 2;
                    } else if c == b'/' && next == Some(b'*') {
                        self.state = State::BlockComment { depth: depth + 1 };
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                State::Single { escapes } => {
                    if escapes && c == b'\\' {
                        if i + 1 >= buf.len() && !eof {
                            return Scan::NeedMore(i);
                        }
                        i += 2;
                    } else if c == b'\'' {
                        // '' is a quote inside the string.
                        match buf.get(i + 1) {
                            Some(b'\'') => i += 2,
                            None if !eof => return Scan::NeedMore(i),
                            _ => {
                                self.state = State::Normal;
                                i += 1;
                            }
                        }
                    } else {
                        i += 1;
                    }
                }
                State::Double => {
                    // "" inside an identifier reads as two quotes in a row: leave and re-enter.
                    if c == b'"' {
                        self.state = State::Normal;
                    }
                    i += 1;
                }
                State::Dollar => {
                    let tag = &self.dollar_tag;
                    if let Some(found) = memchr::memmem::find(&buf[i..], tag) {
                        i += found + tag.len();
                        self.state = State::Normal;
                    } else if eof {
                        i = buf.len();
                    } else {
                        // The closing tag may straddle the buffer's end.
                        let keep = tag.len().saturating_sub(1);
                        return Scan::NeedMore(buf.len().saturating_sub(keep).max(i));
                    }
                }
            }
        }
        Scan::NeedMore(i)
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

enum DollarTag {
    /// `$tag$` of this many bytes.
    Tag(usize),
    NotATag,
    Unfinished,
}

/// `$$`, `$body$`: a tag is `$`, an optional identifier not starting with a digit, `$`.
fn dollar_tag(text: &[u8]) -> DollarTag {
    for (i, &b) in text.iter().enumerate().skip(1) {
        if b == b'$' {
            return DollarTag::Tag(i + 1);
        }
        let ok = if i == 1 {
            b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
        } else {
            is_ident_byte(b)
        };
        if !ok {
            return DollarTag::NotATag;
        }
    }
    DollarTag::Unfinished
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read, to cut tokens at every place.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn items(script: &str, step: usize) -> Vec<Item> {
        let mut reader = ScriptReader::new(Trickle {
            data: script.as_bytes(),
            step,
        });
        let mut out: Vec<Item> = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            // Chunks are joined so that the result does not depend on the read size.
            if let (
                Item::CopyData { data, rows },
                Some(Item::CopyData {
                    data: last,
                    rows: last_rows,
                }),
            ) = (&item, out.last_mut())
            {
                last.extend_from_slice(data);
                *last_rows += rows;
                continue;
            }
            out.push(item);
        }
        out
    }

    const SCRIPT: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC123\n\n\
SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\
--\n-- Name: trading; Type: SCHEMA; Schema: -; Owner: gordon\n--\n\nCREATE SCHEMA trading;\n\n\n\
--\n-- Name: f(); Type: FUNCTION; Schema: trading; Owner: gordon\n--\n\n\
CREATE FUNCTION trading.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n  RETURN 'a;b' || $x$;$x$; -- not the end;\nEND $_$;\n\n\
COMMENT ON TABLE trading.\"we;ird\" IS 'it''s; /* not */ a comment';\n\
SELECT E'back\\\\slash\\'; still';\n\
/* a /* nested */ comment; */ SELECT 1;\n\
--\n-- Data for Name: orders; Type: TABLE DATA; Schema: trading; Owner: trader\n--\n\n\
COPY trading.orders (id, note) FROM stdin;\n1\tline one\\nstill one\n2\t\\\\.\n3\t\\N\n\\.\n\n\n\
COPY trading.empty (id) FROM stdin;\n\\.\n\
\\unrestrict AbC123\n\n--\n-- done\n--\n\n";

    #[test]
    fn statements_copies_and_meta_commands_at_every_read_size() {
        let expected = vec![
            Item::Skipped("\\restrict AbC123".into()),
            Item::Statement {
                sql: "SET statement_timeout = 0".into(),
                entry: "the script's preamble".into(),
            },
            Item::Statement {
                sql: "SELECT pg_catalog.set_config('search_path', '', false)".into(),
                entry: "the script's preamble".into(),
            },
            Item::Statement {
                sql: "CREATE SCHEMA trading".into(),
                entry: "SCHEMA trading".into(),
            },
            Item::Statement {
                sql: "CREATE FUNCTION trading.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n  RETURN 'a;b' || $x$;$x$; -- not the end;\nEND $_$".into(),
                entry: "FUNCTION trading.f()".into(),
            },
            Item::Statement {
                sql: "COMMENT ON TABLE trading.\"we;ird\" IS 'it''s; /* not */ a comment'".into(),
                entry: "FUNCTION trading.f()".into(),
            },
            Item::Statement {
                sql: "SELECT E'back\\\\slash\\'; still'".into(),
                entry: "FUNCTION trading.f()".into(),
            },
            Item::Statement {
                sql: "/* a /* nested */ comment; */ SELECT 1".into(),
                entry: "FUNCTION trading.f()".into(),
            },
            Item::CopyStart {
                sql: "COPY trading.orders (id, note) FROM stdin".into(),
                entry: "TABLE DATA trading.orders".into(),
            },
            Item::CopyData {
                data: b"1\tline one\\nstill one\n2\t\\\\.\n3\t\\N\n".to_vec(),
                rows: 3,
            },
            Item::CopyEnd { rows: 3 },
            Item::CopyStart {
                sql: "COPY trading.empty (id) FROM stdin".into(),
                entry: "TABLE DATA trading.orders".into(),
            },
            Item::CopyEnd { rows: 0 },
            Item::Skipped("\\unrestrict AbC123".into()),
        ];
        for step in [1, 2, 3, 5, 7, 64, 100_000] {
            assert_eq!(items(SCRIPT, step), expected, "read size {step}");
        }
    }

    #[test]
    fn sql_standard_bodies_hold_semicolons() {
        // pg_dump writes BEGIN ATOMIC bodies unquoted: their statements end in `;`, and a
        // CASE inside ends in END too. Only the body's own END closes it.
        let script = "CREATE FUNCTION app.total(id bigint) RETURNS numeric\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT CASE WHEN (o.amount > 0) THEN o.amount ELSE 0 END AS amount\n    FROM app.orders o\n   WHERE (o.id = total.id);\n SELECT 1;\nEND;\n\
CREATE OR REPLACE PROCEDURE app.p()\n LANGUAGE sql\n BEGIN ATOMIC\n  INSERT INTO app.t VALUES (1);\n END;\n\
CREATE TABLE app.begin_end (\"begin\" text, end_date date);\nSELECT 'begin';\n";
        let statements = |step| -> Vec<String> {
            items(script, step)
                .into_iter()
                .filter_map(|i| match i {
                    Item::Statement { sql, .. } => Some(sql),
                    _ => None,
                })
                .collect()
        };
        for step in [1, 3, 7, 100_000] {
            let found = statements(step);
            assert_eq!(found.len(), 4, "read size {step}: {found:#?}");
            assert!(found[0].ends_with("SELECT 1;\nEND"), "{}", found[0]);
            assert!(found[1].ends_with("VALUES (1);\n END"), "{}", found[1]);
            assert_eq!(found[3], "SELECT 'begin'");
        }
    }

    #[test]
    fn a_script_cut_short_is_an_error_never_a_shorter_restore() {
        let cut_in_copy = "COPY t.x (a) FROM stdin;\n1\n2\n";
        let cut_in_body = "CREATE FUNCTION f() AS $$ BEGIN";
        let cut_in_statement = "CREATE TABLE t.x (a int)";
        for (script, what) in [
            (cut_in_copy, "COPY data"),
            (cut_in_body, "dollar-quoted"),
            (cut_in_statement, "a statement"),
        ] {
            let mut reader = ScriptReader::new(script.as_bytes());
            let error = loop {
                match reader.next_item() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("{script:?} read as whole"),
                    Err(e) => break e,
                }
            };
            assert!(error.to_string().contains(what), "{script:?}: {error}");
        }
    }

    #[test]
    fn meta_commands_other_than_restrict_are_refused() {
        let mut reader = ScriptReader::new("\\connect other\nSELECT 1;\n".as_bytes());
        let error = reader.next_item().unwrap_err();
        assert!(error.to_string().contains("\\connect other"), "{error}");
    }

    #[test]
    fn a_statement_that_is_not_utf8_is_refused_not_mangled() {
        // LATIN1 'é' (0xE9) in a comment literal of a LATIN1 dump.
        let script: &[u8] = b"SET client_encoding = 'LATIN1';\n-- Name: t; Type: TABLE\nCOMMENT ON TABLE s.t IS 'caf\xe9';\n";
        let mut reader = ScriptReader::new(script);
        assert!(matches!(
            reader.next_item(),
            Ok(Some(Item::Statement { .. }))
        ));
        let error = reader.next_item().unwrap_err();
        assert!(matches!(error, ScriptError::NotUtf8(_)), "{error}");
        assert!(
            error
                .to_string()
                .contains("restore this dump with pg_restore"),
            "{error}"
        );
    }

    #[test]
    fn large_copy_data_comes_in_bounded_chunks() {
        let mut script = String::from("COPY t.x (a) FROM stdin;\n");
        let row = "x".repeat(99) + "\n";
        for _ in 0..20_000 {
            script.push_str(&row);
        }
        script.push_str("\\.\n");
        let mut reader = ScriptReader::new(script.as_bytes());
        let mut total = 0;
        let mut rows = None;
        while let Some(item) = reader.next_item().unwrap() {
            match item {
                Item::CopyData { data: chunk, .. } => {
                    assert!(chunk.len() <= CHUNK_BYTES + 100);
                    assert!(chunk.ends_with(b"\n"));
                    total += chunk.len();
                }
                Item::CopyEnd { rows: r } => rows = Some(r),
                _ => {}
            }
        }
        assert_eq!(total, 2_000_000);
        assert_eq!(rows, Some(20_000));
    }
}
