//! Keeping secrets out of the record and the log: URLs are shown without their userinfo and
//! with secret-looking query values replaced, and every message passes through a [`Scrubber`]
//! that knows the header values and URL credentials of this run.

use serde_json::Value;

/// Query parameter names (lower case) whose values are secret, and words that make one so.
const SECRET_PARAM_WORDS: [&str; 8] = [
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "signature",
    "auth",
    "credential",
];
const SECRET_PARAMS: [&str; 3] = ["sig", "pwd", "code"];

const MASK: &str = "********";

/// Secrets shorter than this are not searched for in text: masking every "p" of a message
/// would make it unreadable. They cannot leak there anyway: URLs are shown through
/// [`display_url`] and header values are never written; scrubbing is the second line.
const MIN_SCRUBBED: usize = 6;

fn secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&lower.as_str()) || SECRET_PARAM_WORDS.iter().any(|w| lower.contains(w))
}

/// The URL for people and the record: no user or password, secret query values masked.
pub fn display_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot have userinfo, which then has none to strip.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if url.query_pairs().any(|(k, _)| secret_param(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_param(&k) {
                    MASK.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Like [`display_url`] for text that may not parse (a template, a bad URL): the userinfo is
/// cut out by hand.
pub fn display_url_text(text: &str) -> String {
    if let Ok(url) = reqwest::Url::parse(text) {
        if !text.contains('{') {
            return display_url(&url);
        }
    }
    match text.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => text.to_owned(),
            }
        }
        None => text.to_owned(),
    }
}

/// The secrets a URL holds: its password and secret query values.
pub fn url_secrets(text: &str) -> Vec<String> {
    let Ok(url) = reqwest::Url::parse(text) else {
        return Vec::new();
    };
    let mut out: Vec<String> = url.password().map(str::to_owned).into_iter().collect();
    out.extend(
        url.query_pairs()
            .filter(|(k, _)| secret_param(k))
            .map(|(_, v)| v.into_owned()),
    );
    out
}

/// Removes known secrets from any text before it is shown or written.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    pub fn new(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| s.len() >= MIN_SCRUBBED);
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let mut parts: Vec<String> = Vec::new();
        // A header value like "Bearer abc" is often echoed as "abc" alone: mask the token too.
        for s in &secrets {
            if let Some((_, token)) = s.split_once(' ') {
                if token.len() >= 6 {
                    parts.push(token.to_owned());
                }
            }
        }
        secrets.extend(parts);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Scrubs every string in a JSON value (keys are the tool's own).
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_params_are_stripped() {
        let url =
            reqwest::Url::parse("https://bob:hunter2@h:8443/api/x?run_id=3&api_key=abc&Token=t")
                .unwrap();
        let shown = display_url(&url);
        assert_eq!(
            shown,
            "https://h:8443/api/x?run_id=3&api_key=********&Token=********"
        );
        assert_eq!(
            display_url_text("http://u:p@h/x?id={v}"),
            "http://h/x?id={v}"
        );
        let secrets = url_secrets("https://bob:hunter2@h/x?api_key=abc&run=1");
        assert_eq!(secrets, ["hunter2", "abc"]);
    }

    #[test]
    fn the_scrubber_masks_values_and_their_tokens() {
        let s = Scrubber::new(vec!["Bearer s3cret-xyz".into(), String::new(), "p".into()]);
        assert_eq!(
            s.text("http://h/path"),
            "http://h/path",
            "short ones are left alone"
        );
        assert_eq!(s.text("got Bearer s3cret-xyz back"), "got ******** back");
        assert_eq!(s.text("token s3cret-xyz"), "token ********");
        let v = s.value(&serde_json::json!({"a": ["s3cret-xyz", 1]}));
        assert_eq!(v, serde_json::json!({"a": ["********", 1]}));
    }
}
