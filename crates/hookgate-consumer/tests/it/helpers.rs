//! Test plumbing shared by every module: unique names, a [`Cleanup`] guard that deletes
//! what a test created on the broker and in Postgres (also when the test panics), a work
//! queue with the consumer's retry topology ([`Queues`]), publishing through the contract's
//! mapping, and polling with a deadline.

use std::{
    future::Future,
    time::{Duration, Instant, UNIX_EPOCH},
};

use hookgate_consumer::{
    Consumer, ConsumerBuilder,
    contract::{
        Envelope, QueueKind, dead_letter_queue,
        queues::{self, retry_queue},
    },
    retry,
};
use lapin::{
    Channel, Connection,
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::FieldTable,
};

pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    // Once per test process: what crashed earlier runs left is removed first.
    hookgate_testkit::names::sweep_leftovers();
    hookgate_testkit::names::unique(prefix)
}

/// Everything a test created, deleted when the guard drops: at the end of the test and
/// while it unwinds from a panic. The deletion runs on its own thread, runtime and
/// connection, so it works from inside the test's runtime and whatever state the test's
/// own connection is in.
#[derive(Default)]
pub struct Cleanup {
    queues: Vec<String>,
    exchanges: Vec<String>,
    databases: Vec<String>,
}

impl Cleanup {
    /// Delete `name` at the end.
    pub fn queue(&mut self, name: &str) -> &mut Self {
        self.queues.push(name.to_owned());
        self
    }

    /// Delete a work queue with its DLQ and the retry queues of up to `max_attempts`.
    pub fn queue_family(&mut self, name: &str, max_attempts: u32) -> &mut Self {
        self.queue(name).queue(&dead_letter_queue(name));
        for attempt in 1..max_attempts {
            self.queue(&retry_queue(name, attempt));
        }
        self
    }

    /// Delete exchange `name` at the end.
    pub fn exchange(&mut self, name: &str) -> &mut Self {
        self.exchanges.push(name.to_owned());
        self
    }

    /// Drop database `name` at the end.
    pub fn database(&mut self, name: &str) -> &mut Self {
        self.databases.push(name.to_owned());
        self
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let queues = std::mem::take(&mut self.queues);
        let exchanges = std::mem::take(&mut self.exchanges);
        let databases = std::mem::take(&mut self.databases);
        let worker = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                delete_broker_objects(&queues, &exchanges).await;
                drop_databases(&databases).await;
            });
        });
        let _ = worker.join();
    }
}

async fn delete_broker_objects(queues: &[String], exchanges: &[String]) {
    if queues.is_empty() && exchanges.is_empty() {
        return;
    }
    let Ok(connection) = Connection::connect(AMQP, Default::default()).await else {
        eprintln!("cleanup: broker unreachable; left {queues:?} {exchanges:?}");
        return;
    };
    // A failed delete closes its channel; the next one gets a fresh channel.
    let mut open: Option<Channel> = None;
    for (name, is_queue) in queues
        .iter()
        .map(|q| (q, true))
        .chain(exchanges.iter().map(|e| (e, false)))
    {
        let channel = match open.take() {
            Some(channel) => channel,
            None => match connection.create_channel().await {
                Ok(channel) => channel,
                Err(e) => {
                    eprintln!("cleanup: no channel: {e}");
                    return;
                }
            },
        };
        let deleted = if is_queue {
            channel
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await
                .map(drop)
        } else {
            channel
                .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                .await
        };
        match deleted {
            Ok(()) => open = Some(channel),
            Err(e) => eprintln!("cleanup: could not delete {name}: {e}"),
        }
    }
    let _ = connection.close(200, "test cleanup".into()).await;
}

async fn drop_databases(databases: &[String]) {
    use sqlx::Connection as _;
    if databases.is_empty() {
        return;
    }
    let Ok(mut admin) = sqlx::PgConnection::connect(PG_ADMIN).await else {
        eprintln!("cleanup: Postgres unreachable; left {databases:?}");
        return;
    };
    for db in databases {
        let sql = format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
        {
            eprintln!("cleanup: could not drop {db}: {e}");
        }
    }
}

/// A connection with a confirm-mode channel, to publish and inspect.
pub async fn confirm_channel() -> (Connection, Channel) {
    let connection = Connection::connect(AMQP, Default::default())
        .await
        .expect("amqp");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    (connection, channel)
}

/// The envelope every test event travels in, with a millisecond-precise receive time.
pub fn envelope(id: &str, event_type: &str) -> Envelope {
    Envelope {
        provider: "groq".into(),
        event_id: id.into(),
        event_type: event_type.into(),
        received_at: UNIX_EPOCH + Duration::from_millis(1_767_323_045_678),
        content_type: Some("application/json".into()),
    }
}

/// Publish `body` with `envelope`'s properties (the gateway's mapping) and await the confirm.
pub async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    envelope: &Envelope,
    body: &[u8],
) {
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            envelope.properties(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(confirm.is_ack(), "published: {confirm:?}");
    assert!(confirm.take_message().is_none(), "routed to a queue");
}

/// Messages ready in `queue` (which must exist: a failed passive declare closes `channel`).
pub async fn depth(channel: &Channel, queue: &str) -> u32 {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive declare")
        .message_count()
}

/// Poll until `cond` holds; panics after `limit`.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) {
    eventually_async(limit, || std::future::ready(cond())).await;
}

/// Poll the async `cond` until it holds; panics after `limit`.
pub async fn eventually_async<F: Future<Output = bool>>(
    limit: Duration,
    mut cond: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A classic work queue with the consumer's retry topology, deleted when dropped.
pub struct Queues {
    pub channel: Channel,
    pub name: String,
    pub max_attempts: u32,
    _connection: Connection,
    _cleanup: Cleanup,
}

impl Queues {
    pub async fn new(max_attempts: u32) -> Self {
        let name = unique("consumer-test");
        let mut cleanup = Cleanup::default();
        cleanup.queue_family(&name, max_attempts);
        let (connection, channel) = confirm_channel().await;
        channel
            .queue_declare(
                name.as_str().into(),
                queues::durable(),
                queues::work_queue_arguments(&name, QueueKind::Classic, false),
            )
            .await
            .expect("queue");
        // The consumer declares the same when it starts; declaring here lets the test
        // inspect the DLQ before the consumer has.
        retry::declare(&connection, &name, max_attempts, QueueKind::Classic)
            .await
            .expect("retry topology");
        Self {
            channel,
            name,
            max_attempts,
            _connection: connection,
            _cleanup: cleanup,
        }
    }

    /// A consumer of this queue with its attempt limit, so it declares no retry queue the
    /// cleanup does not know.
    pub fn consumer(&self) -> ConsumerBuilder {
        Consumer::builder(AMQP, self.name.clone()).max_attempts(self.max_attempts)
    }

    /// Publish an event the way the gateway does, straight into the work queue.
    pub async fn publish(&self, id: &str, event_type: &str, body: &[u8]) {
        publish(
            &self.channel,
            "",
            &self.name,
            &envelope(id, event_type),
            body,
        )
        .await;
    }

    /// Messages ready in `queue`.
    pub async fn depth(&self, queue: &str) -> u32 {
        depth(&self.channel, queue).await
    }

    /// The DLQ's name.
    pub fn dlq(&self) -> String {
        dead_letter_queue(&self.name)
    }
}
