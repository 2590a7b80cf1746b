//! Several connections that all see the database as of one moment.
//!
//! A leader opens a read-only REPEATABLE READ transaction and exports its snapshot
//! (`pg_export_snapshot()`); the caller lists its work in that transaction; up to `jobs - 1`
//! more connections open the same kind of transaction and adopt the snapshot (`SET
//! TRANSACTION SNAPSHOT`) before anything else; then all of them, the leader too, take items
//! from one queue. The snapshot can be adopted only while the exporting transaction is open,
//! and it stays open until every item is done.

use crate::count::{CountError, sql};
use pg::ConnSettings;
use pg::tokio_postgres::Client;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The leader's transaction, its snapshot and when it began (the server's clock, RFC 3339).
pub struct Leader {
    pub client: Client,
    pub snapshot: String,
    pub taken_at: String,
}

impl Leader {
    pub async fn open(settings: &ConnSettings) -> Result<Self, CountError> {
        let client = connect(settings).await?;
        begin(&client).await?;
        let row = client
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(sql("exporting the snapshot"))?;
        let snapshot: String = row.get(0);
        // The id is the server's own (e.g. 00000003-0000001B-1); checked before it goes into SQL.
        if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(CountError::Sql(format!(
                "unexpected snapshot id '{snapshot}'"
            )));
        }
        let taken_at = taken_at(&client).await?;
        Ok(Self {
            client,
            snapshot,
            taken_at,
        })
    }

    /// Runs `work` on every item over up to `jobs` connections in the leader's snapshot, and
    /// ends the leader's transaction. Results come back in the items' order; the first
    /// failure is the outcome. Returns the connections used too.
    pub async fn run<I, T, W, F>(
        self,
        settings: &ConnSettings,
        jobs: usize,
        items: Vec<I>,
        work: W,
    ) -> Result<(Vec<T>, usize), CountError>
    where
        I: Send + 'static,
        T: Send + 'static,
        W: Fn(Arc<Client>, I) -> F + Clone + Send + 'static,
        F: Future<Output = Result<T, CountError>> + Send,
    {
        let total = items.len();
        let connections = jobs.clamp(1, total.max(1));
        let mut workers = Vec::new();
        for _ in 1..connections {
            let worker = connect(settings).await?;
            begin(&worker).await?;
            worker
                .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{}'", self.snapshot))
                .await
                .map_err(sql("joining the snapshot"))?;
            workers.push(worker);
        }
        let queue: Arc<Mutex<VecDeque<(usize, I)>>> =
            Arc::new(Mutex::new(items.into_iter().enumerate().collect()));
        let leader = Arc::new(self.client);
        let mut set = tokio::task::JoinSet::new();
        for client in workers
            .into_iter()
            .map(Arc::new)
            .chain([Arc::clone(&leader)])
        {
            let queue = Arc::clone(&queue);
            let work = work.clone();
            set.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue
                        .lock()
                        .map_err(|_| CountError::Sql("the work queue was poisoned".into()))?
                        .pop_front();
                    let Some((index, item)) = next else {
                        return Ok::<_, CountError>(done);
                    };
                    done.push((index, work(Arc::clone(&client), item).await?));
                }
            });
        }
        let mut results: Vec<(usize, T)> = Vec::with_capacity(total);
        let mut failure = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(done)) => results.extend(done),
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(e) => {
                    failure = failure.or(Some(CountError::Sql(format!(
                        "a counting task failed: {e}"
                    ))));
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        leader
            .batch_execute("COMMIT")
            .await
            .map_err(sql("ending the transaction"))?;
        results.sort_by_key(|(i, _)| *i);
        Ok((results.into_iter().map(|(_, t)| t).collect(), connections))
    }
}

pub async fn begin(client: &Client) -> Result<(), CountError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(sql("starting a read-only transaction"))
}

pub async fn connect(settings: &ConnSettings) -> Result<Client, CountError> {
    pg::connect(settings)
        .await
        .map(|(client, _task)| client)
        .map_err(CountError::Connect)
}

pub async fn taken_at(client: &Client) -> Result<String, CountError> {
    let row = client
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            &[],
        )
        .await
        .map_err(sql("reading the transaction time"))?;
    Ok(row.get(0))
}
