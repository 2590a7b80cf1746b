//! Values from Postgres for URL templates and expectations, over one read-only connection that
//! is opened only when some check needs it.
//!
//! Each query must return one row of one column. It is run as
//! `SELECT to_jsonb(q)::text FROM (<query>) AS q`, so that any type (bigint, numeric, text,
//! a timestamp) arrives as JSON without this tool knowing the type, and so that only a query
//! that can stand as a subquery (SELECT, VALUES, TABLE) runs at all. The session is read-only
//! on top of that: a check never writes.

use pg::tokio_postgres::Client;
use pg::{ConnSettings, ConnectError};
use serde_json::Value;
use std::time::Duration;

/// An open read-only session.
pub struct Session {
    client: Client,
}

impl Session {
    /// Connects and makes every later transaction read-only, with a statement timeout.
    pub async fn open(settings: &ConnSettings, timeout: Duration) -> Result<Self, ConnectError> {
        let (client, _task) = pg::connect(settings).await?;
        let session = Self { client };
        // Whole milliseconds, at least 1: 0 would mean no limit at all.
        let ms = timeout.as_millis().clamp(1, u128::from(u32::MAX));
        // If this fails the queries below fail too and say why.
        let _ = session
            .client
            .batch_execute(&format!(
                "SET default_transaction_read_only = on; SET statement_timeout = {ms}"
            ))
            .await;
        Ok(session)
    }

    /// The one value `query` returns, as JSON, or why there is none.
    pub async fn value(&self, query: &str) -> Result<Value, String> {
        let query = query.trim().trim_end_matches(';').trim_end();
        let statement = self.client.prepare(query).await.map_err(|e| describe(&e))?;
        if statement.columns().len() != 1 {
            return Err(format!(
                "returns {} columns; a query here returns exactly one value",
                statement.columns().len()
            ));
        }
        let wrapped = format!("SELECT to_jsonb(q)::text FROM ({query}\n) AS q LIMIT 2");
        let rows = self
            .client
            .query(&wrapped, &[])
            .await
            .map_err(|e| describe(&e))?;
        let row = match rows.as_slice() {
            [row] => row,
            [] => return Err("returned no row".to_owned()),
            _ => return Err("returned more than one row".to_owned()),
        };
        let text: String = row.try_get(0).map_err(|e| describe(&e))?;
        let object: serde_json::Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| format!("unreadable result: {e}"))?;
        object
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .ok_or_else(|| "returned no column".to_owned())
    }
}

fn describe(error: &pg::tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => error.to_string(),
    }
}

/// The value as it goes into a URL: numbers and strings as they are, percent-encoded.
pub fn url_text(value: &Value) -> Result<String, String> {
    let text = match value {
        Value::Null => return Err("returned NULL".to_owned()),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    Ok(text
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_values_are_encoded() {
        assert_eq!(url_text(&Value::from(42)).unwrap(), "42");
        assert_eq!(url_text(&Value::from("a b/c")).unwrap(), "a%20b%2Fc");
        assert_eq!(url_text(&Value::Null).unwrap_err(), "returned NULL");
    }
}
