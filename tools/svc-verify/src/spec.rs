//! What to check: the checks file (`--checks FILE`), the compact `--check SPEC` syntax and
//! `--var NAME=SQL`, read and validated into [`Plan`] at the edge, so that every mistake is a
//! usage error naming the check and the field before anything is requested.
//!
//! # The checks file
//!
//! ```json
//! {
//!   "vars": { "latest_run_id": "SELECT max(id) FROM trading.runs" },
//!   "checks": [
//!     { "name": "bots", "url": "http://127.0.0.1:8083/api/bots",
//!       "headers": { "Authorization": "Bearer ${API_TOKEN}" },
//!       "length": { "rowcount": "trading.bots" } },
//!     { "name": "healthz", "url": "http://127.0.0.1:8082/healthz" },
//!     { "name": "equity", "url": "http://127.0.0.1:3000/api/equity?run_id={latest_run_id}",
//!       "length": { "sql": "SELECT count(*) FROM trading.equity WHERE run_id = (SELECT max(id) FROM trading.runs)" } }
//!   ]
//! }
//! ```
//!
//! Unknown keys are refused: a misspelt `lenght` must not silently check nothing.

use crate::redact;
use cli::values::{ByteSize, Duration};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

/// Methods a check may use. Others are refused so that a typo cannot send e.g. `DELET`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Names the section's own checks use; a service check may not take them.
const RESERVED_NAMES: [&str; 4] = ["input", "checks", "upstream", "database"];

/// Header names whose values are secret even when written out literally.
const SECRET_HEADER_WORDS: [&str; 6] =
    ["authorization", "cookie", "token", "key", "secret", "auth"];

/// Everything to do, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub checks: Vec<ServiceCheck>,
    /// URL template variables, each filled by a SQL query: (name, query).
    pub vars: Vec<(String, String)>,
}

impl Plan {
    /// True when any check needs Postgres: a URL variable or a `sql` expectation.
    pub fn needs_sql(&self) -> bool {
        !self.vars.is_empty()
            || self.checks.iter().any(|c| {
                matches!(
                    c.expect,
                    Some(Expectation {
                        source: Source::Sql(_),
                        ..
                    })
                )
            })
    }

    /// Every secret a message or the record must never show.
    pub fn secrets(&self) -> Vec<String> {
        self.checks
            .iter()
            .flat_map(|c| {
                c.headers
                    .iter()
                    .filter(|h| h.secret)
                    .map(|h| h.value.clone())
                    .chain(redact::url_secrets(&c.url))
            })
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// One HTTP check.
#[derive(Debug, Clone)]
pub struct ServiceCheck {
    pub name: String,
    pub method: reqwest::Method,
    /// The URL, possibly with `{var}` placeholders.
    pub url: String,
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Option<String>,
    /// The body must be JSON (asked for, or implied by a pointer or an expectation).
    pub json: bool,
    /// RFC 6901 pointer selecting the measured value; "" is the whole document.
    pub pointer: String,
    pub expect: Option<Expectation>,
    pub regex: Option<Regex>,
    pub timeout: Option<StdDuration>,
    pub follow_redirects: Option<bool>,
    pub max_body: Option<u64>,
}

impl ServiceCheck {
    /// The `{var}` names the URL uses.
    pub fn url_vars(&self) -> Vec<String> {
        placeholders(&self.url)
    }
}

/// A request header. Values may come from the environment and are then secret.
#[derive(Clone)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.secret { "********" } else { &self.value };
        write!(f, "{}: {value}", self.name)
    }
}

/// What is measured from the selected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The length of an array.
    Length,
    /// The value itself.
    Value,
}

impl Measure {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Value => "value",
        }
    }
}

/// The measured value must equal the value from `source`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub measure: Measure,
    pub source: Source,
}

/// Where an expected value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Written in the check.
    Literal(Value),
    /// A table's row count from the record: `.rowcounts.<label>`, else `.dump.tables`.
    /// No schema: the record's schema.
    RowCount {
        schema: Option<String>,
        table: String,
    },
    /// The one value a SQL query returns.
    Sql(String),
    /// What another check measured.
    Check(String),
}

// ----- the file -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    #[allow(dead_code)] // read so that a description is allowed, not used
    description: Option<String>,
    #[serde(default)]
    vars: Map<String, Value>,
    checks: Vec<RawCheck>,
}

/// A check as written, in the file or converted from `--check`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read so that a description is allowed, not used
    description: Option<String>,
    method: Option<String>,
    url: String,
    status: Option<u16>,
    #[serde(default)]
    headers: Map<String, Value>,
    body: Option<String>,
    json: Option<bool>,
    pointer: Option<String>,
    length: Option<Value>,
    value: Option<Value>,
    regex: Option<String>,
    timeout: Option<Value>,
    follow_redirects: Option<bool>,
    max_body: Option<Value>,
}

/// Reads the plan from the checks file (if any), the `--check` flags and the `--var` flags.
/// `env` looks up environment variables for `${NAME}` in header values.
pub fn load(
    file: Option<(&str, &str)>,
    flags: &[String],
    var_flags: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, String> {
    let mut raws = Vec::new();
    let mut vars: Vec<(String, String)> = Vec::new();
    if let Some((path, text)) = file {
        let doc: FileDoc =
            serde_json::from_str(text).map_err(|e| format!("reading --checks '{path}': {e}"))?;
        for (name, query) in doc.vars {
            let Value::String(query) = query else {
                return Err(format!(
                    "reading --checks '{path}': var '{name}' must be a SQL query as a string"
                ));
            };
            vars.push((name, query));
        }
        raws.extend(
            doc.checks
                .into_iter()
                .map(|c| (format!("--checks '{path}'"), c)),
        );
    }
    for (i, spec) in flags.iter().enumerate() {
        let raw = parse_flag(spec).map_err(|e| format!("--check #{}: {e}", i + 1))?;
        raws.push((format!("--check #{}", i + 1), raw));
    }
    for text in var_flags {
        let (name, query) = text
            .split_once('=')
            .ok_or_else(|| format!("--var '{text}': write NAME=SQL, e.g. latest_run_id='SELECT max(id) FROM trading.runs'"))?;
        vars.push((name.trim().to_owned(), query.trim().to_owned()));
    }
    if raws.is_empty() {
        return Err(
            "nothing to check: give --checks FILE or --check SPEC (see --help for the syntax)"
                .to_owned(),
        );
    }
    let mut seen_vars = BTreeSet::new();
    for (name, query) in &vars {
        if !valid_name(name) {
            return Err(format!(
                "var '{name}': use lower-case letters, digits and '_', starting with a letter"
            ));
        }
        if !seen_vars.insert(name.clone()) {
            return Err(format!("var '{name}' is defined twice"));
        }
        if query.trim().is_empty() {
            return Err(format!("var '{name}': the SQL query is empty"));
        }
    }
    let mut checks = Vec::new();
    let mut names = BTreeSet::new();
    for (origin, raw) in raws {
        let check = validate(raw, env).map_err(|e| format!("{origin}: {e}"))?;
        if !names.insert(check.name.clone()) {
            return Err(format!(
                "{origin}: there are two checks named '{}': give each its own name",
                check.name
            ));
        }
        for var in check.url_vars() {
            if !seen_vars.contains(&var) {
                return Err(format!(
                    "{origin}: check '{}': the URL uses {{{var}}}, which no var defines (add \"vars\": {{\"{var}\": \"SELECT ...\"}} or --var {var}=SQL)",
                    check.name
                ));
            }
        }
        checks.push(check);
    }
    for check in &checks {
        if let Some(Expectation {
            source: Source::Check(other),
            ..
        }) = &check.expect
        {
            if other == &check.name {
                return Err(format!(
                    "check '{}' compares with itself: name another check",
                    check.name
                ));
            }
            if !names.contains(other) {
                return Err(format!(
                    "check '{}' compares with check '{other}', which does not exist",
                    check.name
                ));
            }
        }
    }
    Ok(Plan { checks, vars })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Turns a check as written into a [`ServiceCheck`], or says what is wrong with it.
fn validate(raw: RawCheck, env: &dyn Fn(&str) -> Option<String>) -> Result<ServiceCheck, String> {
    let name = match raw.name {
        Some(name) => name,
        None => default_name(&raw.url),
    };
    if !valid_name(&name) {
        return Err(format!(
            "check name '{name}': use lower-case letters, digits and '_', starting with a letter (at most 63)"
        ));
    }
    if RESERVED_NAMES.contains(&name.as_str()) {
        return Err(format!(
            "check name '{name}' is one the section uses for itself: choose another"
        ));
    }
    let at = |what: String| format!("check '{name}': {what}");
    let method_text = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    if !METHODS.contains(&method_text.as_str()) {
        return Err(at(format!(
            "method '{method_text}' is not one of {}",
            METHODS.join(", ")
        )));
    }
    let method = reqwest::Method::from_bytes(method_text.as_bytes())
        .map_err(|_| at(format!("method '{method_text}' is not a method")))?;
    check_url(&raw.url).map_err(&at)?;
    let status = raw.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(at(format!(
            "status {status} is not an HTTP status (100-599)"
        )));
    }
    let headers = headers_of(raw.headers, env).map_err(&at)?;
    let pointer = match raw.pointer.as_deref() {
        None => String::new(),
        Some(p) => to_pointer(p).map_err(&at)?,
    };
    let expect = match (raw.length, raw.value) {
        (Some(_), Some(_)) => {
            return Err(at("give either length or value, not both".to_owned()));
        }
        (Some(v), None) => Some(Expectation {
            measure: Measure::Length,
            source: source_of(v, Measure::Length).map_err(|e| at(format!("length: {e}")))?,
        }),
        (None, Some(v)) => Some(Expectation {
            measure: Measure::Value,
            source: source_of(v, Measure::Value).map_err(|e| at(format!("value: {e}")))?,
        }),
        (None, None) => None,
    };
    let regex = raw
        .regex
        .map(|r| Regex::new(&r).map_err(|e| at(format!("regex '{r}': {e}"))))
        .transpose()?;
    let timeout = raw
        .timeout
        .map(|t| duration_of(&t).map_err(|e| at(format!("timeout: {e}"))))
        .transpose()?;
    let max_body = raw
        .max_body
        .map(|v| size_of(&v).map_err(|e| at(format!("max_body: {e}"))))
        .transpose()?;
    let json = raw.json.unwrap_or(false) || expect.is_some() || raw.pointer.is_some();
    if method == reqwest::Method::HEAD && (json || regex.is_some()) {
        return Err(at(
            "a HEAD request has no body: drop the body expectations or use GET".to_owned(),
        ));
    }
    Ok(ServiceCheck {
        name,
        method,
        url: raw.url,
        status,
        headers,
        body: raw.body,
        json,
        pointer,
        expect,
        regex,
        timeout,
        follow_redirects: raw.follow_redirects,
        max_body,
    })
}

/// The headers as written, with `${VAR}` expanded; secret ones are marked.
fn headers_of(
    written: Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Header>, String> {
    let mut headers = Vec::new();
    for (header, value) in written {
        let Value::String(text) = value else {
            return Err(format!("header '{header}' must be a string"));
        };
        let (value, from_env) =
            expand_env(&text, env).map_err(|e| format!("header '{header}': {e}"))?;
        reqwest::header::HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| format!("'{header}' is not a valid header name"))?;
        // The value itself is never shown: it may be a token.
        reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of header '{header}' is not a valid header value"))?;
        let lower = header.to_ascii_lowercase();
        let secret = from_env || SECRET_HEADER_WORDS.iter().any(|w| lower.contains(w));
        headers.push(Header {
            name: header,
            value,
            secret,
        });
    }
    Ok(headers)
}

/// The URL must be http or https and parse once its placeholders are filled.
fn check_url(url: &str) -> Result<(), String> {
    let mut sample = url.to_owned();
    for var in placeholders(url) {
        sample = sample.replace(&format!("{{{var}}}"), "0");
    }
    let parsed = reqwest::Url::parse(&sample)
        .map_err(|e| format!("URL '{}' is not a URL: {e}", redact::display_url_text(url)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "URL '{}': only http and https are supported",
            redact::display_url_text(url)
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "URL '{}' names no host",
            redact::display_url_text(url)
        ));
    }
    Ok(())
}

/// The `{name}` placeholders in a URL template, in order.
pub fn placeholders(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if valid_name(name) && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

/// Expands `${NAME}` from the environment. Returns the value and whether anything was expanded.
fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut rest = text;
    let mut expanded = false;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "an unclosed ${ (write ${NAME})".to_owned())?;
        let var = &after[..end];
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("'${{{var}}}' is not an environment variable name"));
        }
        let value = env(var).ok_or_else(|| {
            format!("uses ${{{var}}}, which is not set in the environment: export it first")
        })?;
        out.push_str(&value);
        expanded = true;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, expanded))
}

/// A JSON pointer (`/data/0/id`) or a simple path (`.data.0.id`, `.` or empty for the whole).
fn to_pointer(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text == "." {
        return Ok(String::new());
    }
    if text.starts_with('/') {
        return Ok(text.to_owned());
    }
    if let Some(path) = text.strip_prefix('.') {
        return Ok(path.split('.').fold(String::new(), |mut out, seg| {
            out.push('/');
            out.push_str(&seg.replace('~', "~0").replace('/', "~1"));
            out
        }));
    }
    Err(format!(
        "pointer '{text}': write a JSON pointer (/data/items) or a path (.data.items)"
    ))
}

/// An expectation as written: a literal, or an object naming where the value comes from.
fn source_of(value: Value, measure: Measure) -> Result<Source, String> {
    let source = match value {
        Value::Object(map) => {
            let keys: Vec<&String> = map.keys().collect();
            let [key] = keys.as_slice() else {
                return Err("an object here names exactly one of rowcount, sql or check".to_owned());
            };
            let text = map
                .get(key.as_str())
                .and_then(Value::as_str)
                .ok_or_else(|| format!("'{key}' takes a string"))?;
            match key.as_str() {
                "rowcount" => rowcount(text)?,
                "sql" if !text.trim().is_empty() => Source::Sql(text.to_owned()),
                "sql" => return Err("the SQL query is empty".to_owned()),
                "check" => Source::Check(text.to_owned()),
                other => {
                    return Err(format!(
                        "'{other}' is not a source: use rowcount, sql or check"
                    ));
                }
            }
        }
        Value::Array(_) => {
            return Err("a list is not an expected value".to_owned());
        }
        literal => Source::Literal(literal),
    };
    if measure == Measure::Length {
        if let Source::Literal(v) = &source {
            if v.as_u64().is_none() {
                return Err(format!("{v} is not a length: write a whole number >= 0"));
            }
        }
    }
    Ok(source)
}

/// `schema.table` or `table` (in the record's schema).
fn rowcount(text: &str) -> Result<Source, String> {
    let text = text.trim();
    let (schema, table) = match text.split_once('.') {
        Some((s, t)) => (Some(s.to_owned()), t.to_owned()),
        None => (None, text.to_owned()),
    };
    if table.is_empty() || schema.as_deref() == Some("") {
        return Err(format!(
            "rowcount '{text}': write SCHEMA.TABLE, or TABLE for the record's schema"
        ));
    }
    Ok(Source::RowCount { schema, table })
}

fn duration_of(value: &Value) -> Result<StdDuration, String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(StdDuration::from_secs_f64)
            .ok_or_else(|| format!("{n} is not a number of seconds")),
        Value::String(s) => s.parse::<Duration>().map(|d| d.0.unsigned_abs()),
        other => Err(format!("{other} is not a duration: write e.g. \"5s\"")),
    }
}

fn size_of(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a size in bytes")),
        Value::String(s) => s.parse::<ByteSize>().map(|b| b.0),
        other => Err(format!("{other} is not a size: write e.g. \"1MiB\"")),
    }
}

/// A name from the URL's last path segment: `/api/bots` -> `bots`.
fn default_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let segment = path
        .split('/')
        .skip(1)
        .filter(|s| !s.is_empty() && !s.contains('{'))
        .last()
        .unwrap_or("root");
    let mut name: String = segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "check_");
    }
    name.truncate(63);
    name
}

// ----- the --check syntax -----

/// Help for `--check`, shown by `--help`.
pub const CHECK_SYNTAX: &str = "\
One check, written [METHOD] URL [KEY=VALUE ...], words separated by spaces; quote a value that \
holds spaces with '...' or \"...\" (inside the one shell argument). Keys:
  name=NAME          the check's name (default: the URL's last path segment)
  status=CODE        the expected HTTP status (default 200)
  length=EXPECTED    the selected value is an array of this many items
  value=EXPECTED     the selected value equals this
  pointer=POINTER    select with a JSON pointer (/data/items) or a path (.data.items)
  json               the body must be JSON (implied by length, value and pointer)
  regex=PATTERN      the body must match this regular expression
  header='NAME: VALUE'  a request header (repeatable); ${VAR} takes a value from the environment
  timeout=DURATION   per attempt, e.g. 5s (default --timeout)
  max_body=SIZE      the largest body read, e.g. 1MiB (default --max-body)
  follow_redirects   follow redirects (default: a redirect is the answer)
EXPECTED is a number or JSON value, or rowcount:SCHEMA.TABLE (the record's row count), \
sql:QUERY (the one value the query returns) or check:NAME (what that check measured).
Example: --check 'GET http://127.0.0.1:8083/api/bots length=rowcount:trading.bots'";

/// Parses one `--check` value into a check as written.
pub fn parse_flag(spec: &str) -> Result<RawCheck, String> {
    let words = split_words(spec)?;
    let mut words = words.into_iter().peekable();
    let mut raw = RawCheck::default();
    let first = words
        .next()
        .ok_or_else(|| "empty: write [METHOD] URL [KEY=VALUE ...]".to_owned())?;
    if METHODS.contains(&first.to_ascii_uppercase().as_str()) && !first.contains("://") {
        raw.method = Some(first.to_ascii_uppercase());
        raw.url = words
            .next()
            .ok_or_else(|| format!("'{first}' needs a URL after it"))?;
    } else {
        raw.url = first;
    }
    if !raw.url.contains("://") {
        return Err(format!(
            "'{}' is not a URL (write http://HOST[:PORT]/PATH)",
            redact::display_url_text(&raw.url)
        ));
    }
    let mut headers = Map::new();
    for word in words {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (word.clone(), None),
        };
        let need = |v: Option<String>| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| format!("'{key}' needs a value: {key}=..."))
        };
        match key.as_str() {
            "name" => raw.name = Some(need(value)?),
            "status" => {
                let v = need(value)?;
                raw.status = Some(
                    v.parse()
                        .map_err(|_| format!("status '{v}' is not an HTTP status"))?,
                );
            }
            "length" => raw.length = Some(flag_expectation(&need(value)?)),
            "value" => raw.value = Some(flag_expectation(&need(value)?)),
            "pointer" => raw.pointer = Some(value.unwrap_or_default()),
            "regex" => raw.regex = Some(need(value)?),
            "timeout" => raw.timeout = Some(Value::String(need(value)?)),
            "max_body" => raw.max_body = Some(Value::String(need(value)?)),
            "json" => raw.json = Some(flag_bool(&key, value.as_deref())?),
            "follow_redirects" => raw.follow_redirects = Some(flag_bool(&key, value.as_deref())?),
            "header" => {
                let v = need(value)?;
                let (name, val) = v
                    .split_once(':')
                    .ok_or_else(|| "header: write header='NAME: VALUE'".to_owned())?;
                headers.insert(name.trim().to_owned(), Value::String(val.trim().to_owned()));
            }
            other => {
                return Err(format!(
                    "unknown key '{other}': use name, status, length, value, pointer, json, regex, header, timeout, max_body or follow_redirects"
                ));
            }
        }
    }
    raw.headers = headers;
    Ok(raw)
}

fn flag_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true" | "yes" | "1") => Ok(true),
        Some("false" | "no" | "0") => Ok(false),
        Some(other) => Err(format!(
            "{key}={other}: write {key}, {key}=true or {key}=false"
        )),
    }
}

/// `rowcount:T`, `sql:Q`, `check:N`, else a JSON literal, else the text as a string.
fn flag_expectation(text: &str) -> Value {
    for key in ["rowcount", "sql", "check"] {
        if let Some(rest) = text.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let mut map = Map::new();
            map.insert(key.to_owned(), Value::String(rest.to_owned()));
            return Value::Object(map);
        }
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Splits on white space; '...' and "..." group words and are removed.
fn split_words(spec: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in spec.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("an unclosed {q} quote"));
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_runbook_check_in_the_compact_syntax() {
        let plan = load(
            None,
            &["GET http://127.0.0.1:8083/api/bots length=rowcount:trading.bots".to_owned()],
            &[],
            &no_env,
        )
        .unwrap();
        let check = &plan.checks[0];
        assert_eq!(check.name, "bots");
        assert_eq!(check.status, 200);
        assert!(check.json);
        assert_eq!(
            check.expect,
            Some(Expectation {
                measure: Measure::Length,
                source: Source::RowCount {
                    schema: Some("trading".into()),
                    table: "bots".into()
                }
            })
        );
        assert!(!plan.needs_sql());
    }

    #[test]
    fn quoted_sql_headers_from_the_environment_and_vars() {
        let env = |name: &str| (name == "API_TOKEN").then(|| "s3cret-token".to_owned());
        let plan = load(
            None,
            &[
                "http://h/api/equity?run_id={latest} name=equity length=\"sql:SELECT count(*) FROM trading.equity\" header='Authorization: Bearer ${API_TOKEN}' timeout=2s".to_owned(),
            ],
            &["latest=SELECT max(id) FROM trading.runs".to_owned()],
            &env,
        )
        .unwrap();
        let check = &plan.checks[0];
        assert_eq!(check.method, reqwest::Method::GET);
        assert_eq!(
            check.expect.as_ref().unwrap().source,
            Source::Sql("SELECT count(*) FROM trading.equity".into())
        );
        assert_eq!(check.headers[0].value, "Bearer s3cret-token");
        assert!(check.headers[0].secret);
        assert!(!format!("{check:?}").contains("s3cret"));
        assert_eq!(check.timeout, Some(StdDuration::from_secs(2)));
        assert_eq!(check.url_vars(), ["latest"]);
        assert!(plan.needs_sql());
        assert!(plan.secrets().contains(&"Bearer s3cret-token".to_owned()));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |spec: &str| load(None, &[spec.to_owned()], &[], &no_env).unwrap_err();
        assert!(err("GET").contains("needs a URL"));
        assert!(err("GET http://h/x lenght=3").contains("unknown key 'lenght'"));
        assert!(err("GET http://h/x length=-1").contains("not a length"));
        assert!(err("GET http://h/x?id={nope}").contains("no var defines"));
        assert!(
            err("GET http://h/x header='A: ${NOPE_NOT_SET}'")
                .contains("not set in the environment")
        );
        assert!(err("GET http://h/x regex=(").contains("regex '('"));
        assert!(err("GET http://h/x value=check:x").contains("compares with itself"));
        assert!(err("FTP://h/x").contains("only http and https"));
        assert!(err("GET http://h/x 'name=a").contains("unclosed"));
        let e = load(None, &[], &[], &no_env).unwrap_err();
        assert!(e.contains("nothing to check"), "{e}");
        let twice = load(
            None,
            &["http://h/a".to_owned(), "http://other/a".to_owned()],
            &[],
            &no_env,
        )
        .unwrap_err();
        assert!(twice.contains("two checks named 'a'"), "{twice}");
    }

    #[test]
    fn the_file_refuses_unknown_keys_and_reads_sources() {
        let text = r#"{"vars": {"v": "SELECT 1"}, "checks": [
            {"name": "a", "url": "http://h/a?x={v}", "value": {"check": "b"}, "pointer": ".data.0"},
            {"name": "b", "url": "http://h/b", "value": 3, "status": 204, "method": "post"}]}"#;
        let plan = load(Some(("f.json", text)), &[], &[], &no_env).unwrap();
        assert_eq!(plan.checks[0].pointer, "/data/0");
        assert_eq!(plan.checks[1].method, reqwest::Method::POST);
        assert_eq!(plan.vars, [("v".to_owned(), "SELECT 1".to_owned())]);
        let bad = r#"{"checks": [{"url": "http://h/a", "lenght": 3}]}"#;
        let e = load(Some(("f.json", bad)), &[], &[], &no_env).unwrap_err();
        assert!(
            e.contains("unknown field `lenght`") && e.contains("'f.json'"),
            "{e}"
        );
    }

    #[test]
    fn default_names_come_from_the_path() {
        assert_eq!(default_name("http://h:1/api/bots"), "bots");
        assert_eq!(default_name("http://h/healthz?x=1"), "healthz");
        assert_eq!(default_name("http://h/"), "root");
        assert_eq!(default_name("http://h/v1/2fa"), "check_2fa");
    }
}
