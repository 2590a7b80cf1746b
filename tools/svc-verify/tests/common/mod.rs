//! A fixture service shaped like the runbook's: a list of bots, a health check and an equity
//! series for a run id, answering from a real PostgreSQL through tokio-postgres, on a free
//! loopback port, stopped when dropped. Each route can be made to misbehave (500, slow, HTML,
//! a redirect) and `/api/bots` can demand a bearer token.
#![allow(dead_code)] // each test binary uses part of the fixture

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::PgCluster;

/// The demo schema: 5 bots, 4 runs, run N has N * 10 equity points (the latest, 4, has 40).
pub const DEMO_SCHEMA: &str = "
CREATE SCHEMA trading;
CREATE TABLE trading.bots (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE trading.runs (id bigint PRIMARY KEY, bot_id bigint NOT NULL REFERENCES trading.bots,
                           started_at timestamptz NOT NULL);
CREATE TABLE trading.equity (run_id bigint NOT NULL REFERENCES trading.runs, ts timestamptz NOT NULL,
                             equity numeric(14, 2) NOT NULL, PRIMARY KEY (run_id, ts));
INSERT INTO trading.bots SELECT i, 'bot-' || i FROM generate_series(1, 5) i;
INSERT INTO trading.runs SELECT i, 1 + i % 5, '2026-05-01'::timestamptz + i * interval '1 day'
  FROM generate_series(1, 4) i;
INSERT INTO trading.equity SELECT r, '2026-05-01'::timestamptz + s * interval '1 hour', 1000 + s
  FROM generate_series(1, 4) r, generate_series(1, r * 10) s;
";

/// How a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// From the database.
    Normal,
    /// 500 with a JSON error body.
    Error500,
    /// Answers normally after this long.
    Slow(Duration),
    /// 200 with an HTML page, as a proxy in front of a dead service would.
    Html,
    /// 302 to /login.
    Redirect,
    /// Answers normally once this many requests to routes set so have arrived, all waiting
    /// together: only a client that sends them at once gets its answers (503 after a minute).
    Together(usize),
}

struct State {
    behaviours: Mutex<HashMap<String, Behaviour>>,
    token: Mutex<Option<String>>,
    hits: AtomicUsize,
    /// Requests that arrived at `Together` routes.
    together: AtomicUsize,
}

/// A running fixture service. Dropping it stops it.
pub struct Fixture {
    pub port: u16,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fixture {
    /// Starts now on a free port, reading database `gordon` of `cluster`.
    pub fn start(cluster: &PgCluster) -> Self {
        Self::start_later(cluster, testkit::pg::free_port(), Duration::ZERO)
    }

    /// Starts listening on `port` only after `delay`: a service that is still restarting.
    pub fn start_later(cluster: &PgCluster, port: u16, delay: Duration) -> Self {
        let state = Arc::new(State {
            behaviours: Mutex::new(HashMap::new()),
            token: Mutex::new(None),
            hits: AtomicUsize::new(0),
            together: AtomicUsize::new(0),
        });
        let mut env = cluster.env();
        env.retain(|(k, _)| k != "PGDATABASE");
        env.push(("PGDATABASE".into(), "gordon".into()));
        let settings = pg::ConnSettings::resolve(None, &pg::Environment::from_pairs(env))
            .expect("fixture connection settings");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let served = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fixture runtime");
            runtime.block_on(serve(settings, port, delay, served, stopped, ready_tx));
        });
        if delay.is_zero() {
            ready_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the fixture service did not start");
        }
        Self {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub fn set(&self, path: &str, behaviour: Behaviour) {
        self.state
            .behaviours
            .lock()
            .unwrap()
            .insert(path.to_owned(), behaviour);
    }

    /// `/api/bots` answers 401 unless sent `Authorization: Bearer <token>`.
    pub fn require_token(&self, token: &str) {
        *self.state.token.lock().unwrap() = Some(token.to_owned());
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    settings: pg::ConnSettings,
    port: u16,
    delay: Duration,
    state: Arc<State>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<()>,
) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        _ = &mut stopped => return,
    }
    let (client, _task) = pg::connect(&settings)
        .await
        .expect("the fixture service connects to PostgreSQL");
    let client = Arc::new(client);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("the fixture service binds its port");
    let _ = ready.send(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stopped => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let (client, state) = (Arc::clone(&client), Arc::clone(&state));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (client, state) = (Arc::clone(&client), Arc::clone(&state));
                async move { Ok::<_, std::convert::Infallible>(answer(&client, &state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_str(content_type).unwrap(),
    );
    response
}

async fn answer(
    client: &pg::tokio_postgres::Client,
    state: &State,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    let behaviour = state
        .behaviours
        .lock()
        .unwrap()
        .get(&path)
        .copied()
        .unwrap_or(Behaviour::Normal);
    match behaviour {
        Behaviour::Normal => {}
        Behaviour::Error500 => {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                r#"{"error": "internal error: the service is broken"}"#.to_owned(),
            );
        }
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::Together(count) => {
            state.together.fetch_add(1, Ordering::SeqCst);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while state.together.load(Ordering::SeqCst) < count {
                if tokio::time::Instant::now() > deadline {
                    return reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "the other requests never came".to_owned(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Behaviour::Html => {
            return reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                "<!doctype html>\n<html><body><h1>Welcome to nginx!</h1></body></html>".to_owned(),
            );
        }
        Behaviour::Redirect => {
            let mut response = reply(StatusCode::FOUND, "text/plain", String::new());
            response.headers_mut().insert(
                hyper::header::LOCATION,
                hyper::header::HeaderValue::from_static("/login"),
            );
            return response;
        }
    }
    let token = state.token.lock().unwrap().clone();
    if let (Some(token), "/api/bots") = (token, path.as_str()) {
        let sent = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if sent != format!("Bearer {token}") {
            // Echoes what it got, as careless services do: the tool must not show it.
            return reply(
                StatusCode::UNAUTHORIZED,
                "text/html",
                format!("<html>token refused: {sent}</html>"),
            );
        }
    }
    let query = request.uri().query().unwrap_or("").to_owned();
    match path.as_str() {
        "/healthz" => match client.simple_query("SELECT 1").await {
            Ok(_) => reply(StatusCode::OK, "text/plain", "ok".to_owned()),
            Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", e.to_string()),
        },
        "/api/bots" => {
            json_query(
                client,
                "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name) ORDER BY id), '[]')::text FROM trading.bots",
                None,
            )
            .await
        }
        "/api/equity" => {
            let run_id = query
                .split('&')
                .find_map(|p| p.strip_prefix("run_id="))
                .and_then(|v| v.parse::<i64>().ok());
            let Some(run_id) = run_id else {
                return reply(
                    StatusCode::BAD_REQUEST,
                    "application/json",
                    r#"{"error": "run_id is required"}"#.to_owned(),
                );
            };
            json_query(
                client,
                "SELECT coalesce(json_agg(json_build_object('ts', ts, 'equity', equity) ORDER BY ts), '[]')::text FROM trading.equity WHERE run_id = $1",
                Some(run_id),
            )
            .await
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found".to_owned()),
    }
}

/// A query returning one JSON text, as the body; a database error is a 500 that says it, as
/// the runbook's services do ("relation ... does not exist").
async fn json_query(
    client: &pg::tokio_postgres::Client,
    sql: &str,
    param: Option<i64>,
) -> Response<Full<Bytes>> {
    let result = match &param {
        Some(p) => client.query_one(sql, &[p]).await,
        None => client.query_one(sql, &[]).await,
    };
    match result {
        Ok(row) => reply(StatusCode::OK, "application/json", row.get::<_, String>(0)),
        Err(e) => {
            let message = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |db| db.message().to_owned());
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                serde_json::json!({ "error": message }).to_string(),
            )
        }
    }
}
