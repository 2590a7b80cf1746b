//! One check against its service: the request, bounded in time and body size, retried with
//! backoff until the deadline, and the answer judged against the check's expectations.
//!
//! Every failure is a reason a person can act on: "connection refused", "timed out after
//! 2s", "answered 500 Internal Server Error, expected 200: relation ... does not exist",
//! "the body is not JSON (text/html): starts with '<!doctype html>...'". Messages never hold
//! the URL (reqwest's own error text does, userinfo included), so they are built here.

use crate::spec::{Measure, ServiceCheck};
use serde_json::Value;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Retry pauses start here and double up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How much of a body a failure message quotes.
const SNIPPET_CHARS: usize = 160;
/// Redirects followed for one request before it counts as a loop.
const MAX_REDIRECTS: usize = 10;

/// What the flags say for checks that do not say otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub timeout: Duration,
    pub max_body: u64,
    pub follow_redirects: bool,
}

/// The HTTP client. It never follows a redirect itself: [`send`] does, so that it decides
/// which headers go to another origin.
#[derive(Debug, Clone)]
pub struct Clients {
    client: reqwest::Client,
}

impl Clients {
    /// Clients trusting the system's roots and `extra_roots` (from --cacert).
    pub fn new(extra_roots: &[reqwest::Certificate]) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("svc-verify/", env!("CARGO_PKG_VERSION")));
        for root in extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let client = builder
            .build()
            .map_err(|e| format!("setting up the HTTP client: {}", innermost(&e)))?;
        Ok(Self { client })
    }
}

/// What a check expects, resolved to a value before the first request (a comparison with
/// another check is made after all have run).
#[derive(Debug, Clone)]
pub struct Want {
    pub value: Value,
    /// Where it came from, for messages: "rows of trading.bots in .rowcounts.post".
    pub from: String,
}

/// The result of a check after its last attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Option<u16>,
    pub measured: Option<Value>,
    pub attempts: u32,
    pub latency_ms: u64,
    /// None when the check passed.
    pub failure: Option<String>,
    /// For a check that passed: what was seen, e.g. "200, 3 items".
    pub seen: String,
}

/// Runs `check` against `url` until it passes or `deadline` has passed.
pub async fn probe(
    clients: &Clients,
    check: &ServiceCheck,
    url: &reqwest::Url,
    want: Option<&Want>,
    defaults: Defaults,
    deadline: Instant,
) -> Outcome {
    let follow = check.follow_redirects.unwrap_or(defaults.follow_redirects);
    let timeout = check.timeout.unwrap_or(defaults.timeout);
    let max_body = check.max_body.unwrap_or(defaults.max_body);
    let mut attempts = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        attempts += 1;
        let started = Instant::now();
        let result = attempt(&clients.client, follow, check, url, timeout, max_body, want).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (seen, failed) = match result {
            Ok(seen) => (seen, None),
            Err(failed) => (*failed.seen, Some(failed.reason)),
        };
        let now = Instant::now();
        if failed.is_none() || now >= deadline {
            return Outcome {
                status: seen.status,
                measured: seen.measured,
                attempts,
                latency_ms,
                seen: seen.summary,
                failure: failed,
            };
        }
        tokio::time::sleep(backoff.min(deadline - now)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[derive(Debug, Clone, Default)]
struct Seen {
    status: Option<u16>,
    measured: Option<Value>,
    summary: String,
}

struct Failed {
    /// Boxed: a failure is the rare, large case of an attempt's result.
    seen: Box<Seen>,
    reason: String,
}

async fn attempt(
    client: &reqwest::Client,
    follow: bool,
    check: &ServiceCheck,
    url: &reqwest::Url,
    timeout: Duration,
    max_body: u64,
    want: Option<&Want>,
) -> Result<Seen, Failed> {
    let mut seen = Seen::default();
    let fail = |seen: &Seen, reason: String| Failed {
        seen: Box::new(seen.clone()),
        reason,
    };
    let (mut response, withheld) = send(client, follow, check, url, timeout)
        .await
        .map_err(|reason| fail(&seen, reason))?;
    let status = response.status();
    seen.status = Some(status.as_u16());
    seen.summary = status.as_u16().to_string();
    if !withheld.is_empty() {
        // Said with the result, pass or fail: the service at the other origin got no secret.
        let _ = write!(
            seen.summary,
            " (redirected to another origin: not sent there, as their values are secret: {})",
            withheld.join(", ")
        );
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_owned();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(crate::redact::display_url_text);
    let body = read_body(&mut response, max_body, timeout)
        .await
        .map_err(|reason| fail(&seen, reason))?;
    let text = String::from_utf8_lossy(&body);
    if status.as_u16() != check.status {
        let mut reason = format!(
            "answered {}, expected {}",
            status_text(status),
            check.status
        );
        if status.is_redirection() {
            if let Some(to) = location {
                let _ = write!(
                    reason,
                    " (a redirect to {to}, not followed: set follow_redirects to follow it)"
                );
            }
        }
        if !text.trim().is_empty() {
            let _ = write!(reason, ": '{}'", snippet(&text));
        }
        return Err(fail(&seen, reason));
    }
    if let Some(regex) = &check.regex {
        if !regex.is_match(&text) {
            return Err(fail(
                &seen,
                format!(
                    "the body does not match /{}/: starts with '{}'",
                    regex.as_str(),
                    snippet(&text)
                ),
            ));
        }
    }
    if !check.json {
        return Ok(seen);
    }
    judge_json(check, &body, &text, &content_type, want, seen)
}

/// Sends the check's request and, with `follow`, follows redirects itself (at most
/// [`MAX_REDIRECTS`]). A redirect to another origin (scheme, host, port) gets none of the
/// secret headers (filled from the environment, or named like a credential): reqwest would
/// strip only Authorization and Cookie. Returns the last response and the headers withheld.
async fn send(
    client: &reqwest::Client,
    follow: bool,
    check: &ServiceCheck,
    url: &reqwest::Url,
    timeout: Duration,
) -> Result<(reqwest::Response, Vec<String>), String> {
    let origin = url.origin();
    let (mut url, mut method, mut body) = (url.clone(), check.method.clone(), check.body.clone());
    let mut withheld: Vec<String> = Vec::new();
    for _ in 0..=MAX_REDIRECTS {
        let same_origin = url.origin() == origin;
        let mut request = client.request(method.clone(), url.clone()).timeout(timeout);
        for header in &check.headers {
            if header.secret && !same_origin {
                if !withheld.contains(&header.name) {
                    withheld.push(header.name.clone());
                }
                continue;
            }
            request = request.header(&header.name, &header.value);
        }
        if let Some(body) = &body {
            request = request.body(body.clone());
        }
        let response = request.send().await.map_err(|e| transport(&e, timeout))?;
        let status = response.status().as_u16();
        let next = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok());
        let Some(next) = next.filter(|_| follow && matches!(status, 301 | 302 | 303 | 307 | 308))
        else {
            return Ok((response, withheld));
        };
        // As browsers and reqwest do: 303, and 301/302 after a POST, go on as GET.
        if status == 303 && method != reqwest::Method::HEAD
            || matches!(status, 301 | 302) && method == reqwest::Method::POST
        {
            method = reqwest::Method::GET;
            body = None;
        }
        url = next;
    }
    Err(format!(
        "more than {MAX_REDIRECTS} redirects, the last to {}: a redirect loop?",
        crate::redact::display_url_text(url.as_str())
    ))
}

/// The body as JSON, the selected value, its measure and the comparison.
fn judge_json(
    check: &ServiceCheck,
    body: &[u8],
    text: &str,
    content_type: &str,
    want: Option<&Want>,
    mut seen: Seen,
) -> Result<Seen, Failed> {
    let fail = |seen: &Seen, reason: String| Failed {
        seen: Box::new(seen.clone()),
        reason,
    };
    let document: Value = serde_json::from_slice(body).map_err(|e| {
        let what = if text.trim().is_empty() {
            "the body is empty, not JSON".to_owned()
        } else {
            format!(
                "the body is not JSON ({content_type}; {e}): starts with '{}'",
                snippet(text)
            )
        };
        fail(&seen, what)
    })?;
    let place = if check.pointer.is_empty() {
        "the top level".to_owned()
    } else {
        format!("pointer {}", check.pointer)
    };
    let selected = document
        .pointer(&check.pointer)
        .ok_or_else(|| fail(&seen, format!("the JSON has nothing at {place}")))?;
    let Some(expect) = &check.expect else {
        seen.summary.push_str(", JSON");
        return Ok(seen);
    };
    let measured = match expect.measure {
        Measure::Length => match selected.as_array() {
            Some(items) => Value::from(items.len()),
            None => {
                return Err(fail(
                    &seen,
                    format!(
                        "the JSON at {place} is {}, not an array: it has no length",
                        kind(selected)
                    ),
                ));
            }
        },
        Measure::Value => selected.clone(),
    };
    seen.summary = format!("{}, {}", seen.summary, describe(expect.measure, &measured));
    seen.measured = Some(measured.clone());
    if let Some(want) = want {
        if !equal(&measured, &want.value) {
            let got = describe(expect.measure, &measured);
            return Err(fail(
                &seen,
                format!("{got}, expected {} ({})", want.value, want.from),
            ));
        }
    }
    Ok(seen)
}

/// Reads the body, refusing one larger than `max_body`.
async fn read_body(
    response: &mut reqwest::Response,
    max_body: u64,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the body: {}", transport(&e, timeout)))?
    {
        if (body.len() + chunk.len()) as u64 > max_body {
            return Err(format!(
                "the body is larger than {} (max_body): not read further",
                cli::values::ByteSize(max_body)
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// "3 items", "value 7".
pub fn describe(measure: Measure, value: &Value) -> String {
    match (measure, value.as_u64()) {
        (Measure::Length, Some(1)) => "1 item".to_owned(),
        (Measure::Length, Some(n)) => format!("{n} items"),
        _ => format!("value {value}"),
    }
}

/// Equality of a measured and an expected value: numbers by value (so 3, 3.0 and "3" from a
/// text column agree), everything else exactly.
pub fn equal(measured: &Value, expected: &Value) -> bool {
    match (number(measured), number(expected)) {
        (Some(Num::Int(a)), Some(Num::Int(b))) => a == b,
        (Some(a), Some(b)) => {
            (a.float() - b.float()).abs() <= f64::EPSILON * a.float().abs().max(1.0)
        }
        _ => measured == expected,
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    #[allow(clippy::cast_precision_loss)] // only for comparing with a float, which is inexact anyway
    fn float(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

fn number(value: &Value) -> Option<Num> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(|i| Num::Int(i128::from(i)))
            .or_else(|| n.as_u64().map(|u| Num::Int(i128::from(u))))
            .or_else(|| n.as_f64().map(Num::Float)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i128>().map(Num::Int).ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Num::Float)
            })
        }
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn status_text(status: reqwest::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The start of a body on one line, for a message.
fn snippet(text: &str) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > SNIPPET_CHARS {
        let cut: String = flat.chars().take(SNIPPET_CHARS).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

/// A transport failure as a reason, without the URL.
fn transport(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {} (timeout)", human(timeout));
    }
    let inner = innermost(error);
    if error.is_connect() {
        if io_kind(error) == Some(std::io::ErrorKind::ConnectionRefused) {
            return "connection refused (is the service running and listening on that port?)"
                .to_owned();
        }
        if inner.contains("lookup") || inner.contains("dns") || inner.contains("resolve") {
            return format!("could not resolve the host name: {inner}");
        }
        if inner.to_ascii_lowercase().contains("certificate") {
            return format!(
                "TLS: the server's certificate was refused ({inner}); give its CA with --cacert"
            );
        }
        return format!("could not connect: {inner}");
    }
    if error.is_redirect() {
        return format!("following redirects: {inner}");
    }
    inner
}

/// `500ms`, `2s`, `1.5s`.
pub fn human(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// The deepest cause's message: the part that says what actually happened.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(equal(&json!(3), &json!(3)));
        assert!(equal(&json!(3), &json!("3")));
        assert!(equal(&json!(3.0), &json!(3)));
        assert!(!equal(&json!(3), &json!(4)));
        assert!(equal(&json!("ok"), &json!("ok")));
        assert!(!equal(&json!("ok"), &json!("OK")));
        assert!(equal(
            &json!(9_007_199_254_740_993_u64),
            &json!(9_007_199_254_740_993_u64)
        ));
        assert!(!equal(
            &json!(9_007_199_254_740_993_u64),
            &json!(9_007_199_254_740_992_u64)
        ));
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(
            snippet("<html>\n  <b>x</b>\n</html>"),
            "<html> <b>x</b> </html>"
        );
        assert!(snippet(&"x".repeat(500)).ends_with("..."));
        assert_eq!(human(Duration::from_millis(500)), "500ms");
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
