//! Test harness: start the service against a fresh database and talk to it over real sockets.

use std::time::{Duration, Instant};

use orders::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgConnection;
use testkit::postgres::{PgServer, TestDb};
use testkit::server::Server;

/// A running service (the one testkit harness; stopped when dropped) and its database.
pub struct Service {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    _server: Server,
}

/// A fresh database on the shared server.
pub async fn database() -> TestDb {
    PgServer::shared()
        .unwrap()
        .database(&orders::MIGRATOR)
        .await
        .unwrap()
}

/// The service on a fresh, migrated database with default settings.
pub async fn start() -> Service {
    start_with(database().await, |_| {}).await
}

/// The service on `db`; `tune` adjusts the configuration. The template database is already
/// migrated, so the service starts with `--no-migrate` and is ready at once unless `tune` says
/// otherwise.
pub async fn start_with(db: TestDb, tune: impl FnOnce(&mut Config)) -> Service {
    let mut config = Config::new(db.url());
    config.no_migrate = true;
    config.http.rate_limit_per_second = 0;
    tune(&mut config);
    let server = Server::start(|listener, shutdown| orders::run(config, listener, shutdown)).await;
    Service {
        base: server.url.clone(),
        client: server.client().clone(),
        db,
        _server: server,
    }
}

/// A response, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Service {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a customer and returns its id.
    pub async fn customer(&self, email: &str) -> i64 {
        let r = self
            .post(
                "/customers",
                json!({"name": "Test Customer", "email": email}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// Creates an order with `lines` items (product i, quantity i, price i.50) and returns its body.
    pub async fn order(&self, customer_id: i64, lines: usize) -> Value {
        let items: Vec<Value> = (1..=lines)
            .map(|i| json!({"product_id": i, "quantity": i, "price": format!("{i}.50")}))
            .collect();
        let r = self
            .post(
                "/orders",
                json!({"customer_id": customer_id, "items": items}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }

    /// Polls `/ready` until it answers `want` (bounded: fails after 20 s).
    pub async fn wait_ready(&self, want: StatusCode) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(resp) = self.client.get(format!("{}/ready", self.base)).send().await
                && resp.status() == want
            {
                return;
            }
            assert!(Instant::now() < deadline, "/ready never answered {want}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn sql(&self) -> PgConnection {
        self.db.connect().await.unwrap()
    }

    /// Row counts of the three tables, to prove a failed request wrote nothing.
    pub async fn counts(&self) -> (i64, i64, i64) {
        let mut conn = self.sql().await;
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
                    (SELECT count(*) FROM order_items)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }
}

/// Asserts a problem+json error with `status`, returning its body.
pub fn assert_problem(reply: &Reply, status: StatusCode) -> &Value {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "body: {}",
        reply.body
    );
    assert_eq!(reply.body["status"], status.as_u16());
    &reply.body
}

/// The `field`s of a validation problem's `errors`.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
