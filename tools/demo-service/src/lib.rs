//! The runbook's step 6 needs services that read the restored schema: this is a stand-in for
//! them, serving from the demo database (PG* variables or --dsn, as every tool connects):
//!
//! - `GET /healthz`: 200 when Postgres answers, 503 otherwise;
//! - `GET /api/bots`: every row of `<schema>.bots` as a JSON array;
//! - `GET /api/equity?run_id=N`: the rows of `<schema>.equity` for run N as a JSON array.
//!
//! A query that fails (schema or table missing) is a 500 with the server's message, which is
//! what a real service does during the damage the demo makes. Each request opens its own
//! connection: the service keeps no session across a schema swap and needs no pool.

use clap::Parser;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Serve the demo schema over HTTP (a stand-in for the runbook's services).
#[derive(Debug, Parser)]
#[command(name = "demo-service", version)]
pub struct Args {
    /// Address to listen on; port 0 picks a free one (see --port-file).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write the port listened on to this file once the service accepts connections.
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// The schema the endpoints read.
    #[arg(long, default_value = "trading")]
    pub schema: String,
    #[command(flatten)]
    pub conn: pg::ConnArgs,
}

struct State {
    settings: pg::ConnSettings,
    bots_sql: String,
    equity_sql: String,
}

pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("demo-service: {message}");
            ExitCode::from(code)
        }
    }
}

fn run(args: Args) -> Result<(), (u8, String)> {
    let schema = pg::Ident::new(args.schema.clone())
        .map_err(|e| (2, format!("--schema '{}': {e}", args.schema)))?;
    let settings = args.conn.resolve().map_err(|e| (2, e.to_string()))?;
    // The schema is quoted as an identifier; the run id is a bound parameter, typed bigint so
    // the i64 binds whatever integer type the column has.
    let state = Arc::new(State {
        settings,
        bots_sql: format!(
            "SELECT coalesce(json_agg(b ORDER BY b.id), '[]')::text FROM {}.bots b",
            schema.quoted()
        ),
        equity_sql: format!(
            "SELECT coalesce(json_agg(e ORDER BY e.ts), '[]')::text FROM {}.equity e WHERE e.run_id = $1::bigint",
            schema.quoted()
        ),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| (4, format!("starting the runtime: {e}")))?;
    runtime.block_on(serve(args.listen, args.port_file, state))
}

async fn serve(
    listen: SocketAddr,
    port_file: Option<PathBuf>,
    state: Arc<State>,
) -> Result<(), (u8, String)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| (4, format!("listening on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| (4, format!("reading the listening address: {e}")))?;
    if let Some(path) = port_file {
        // Written whole to a temporary name, then renamed: a reader never sees half a number.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", local.port()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| (4, format!("writing --port-file '{}': {e}", path.display())))?;
    }
    eprintln!("[INFO ] demo-service listening on http://{local}");
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(route(&state, &request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(state: &State, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
    }
    match request.uri().path() {
        "/healthz" => match query_text(state, "SELECT 'ok'", None).await {
            Ok(_) => reply(StatusCode::OK, "text/plain", "ok\n".into()),
            Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e),
        },
        "/api/bots" => json_result(query_text(state, &state.bots_sql, None).await),
        "/api/equity" => match run_id(request.uri().query()) {
            Some(id) => json_result(query_text(state, &state.equity_sql, Some(id)).await),
            None => error(StatusCode::BAD_REQUEST, "run_id=N (an integer) is required"),
        },
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

/// `run_id` from the query string; anything but one integer is refused.
fn run_id(query: Option<&str>) -> Option<i64> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "run_id")
        .and_then(|(_, value)| value.parse().ok())
}

/// Runs a query returning one text value, on a connection of its own.
async fn query_text(state: &State, sql: &str, param: Option<i64>) -> Result<String, String> {
    let (client, task) = pg::connect(&state.settings)
        .await
        .map_err(|e| e.to_string())?;
    let row = match param {
        Some(value) => client.query_one(sql, &[&value]).await,
        None => client.query_one(sql, &[]).await,
    };
    drop(client);
    let _ = task.await;
    let row = row.map_err(|e| {
        e.as_db_error()
            .map_or_else(|| e.to_string(), |db| db.message().to_owned())
    })?;
    row.try_get::<_, String>(0).map_err(|e| e.to_string())
}

fn json_result(result: Result<String, String>) -> Response<Full<Bytes>> {
    match result {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    reply(status, "application/json", body)
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::run_id;

    #[test]
    fn run_id_takes_one_integer_only() {
        assert_eq!(run_id(Some("run_id=42")), Some(42));
        assert_eq!(run_id(Some("a=1&run_id=7")), Some(7));
        assert_eq!(run_id(Some("run_id=7;DROP")), None);
        assert_eq!(run_id(Some("run_id=")), None);
        assert_eq!(run_id(None), None);
    }
}
