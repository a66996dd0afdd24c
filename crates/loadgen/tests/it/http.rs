//! The HTTP driver's wire behaviour against a real server: what each request carries, connections the
//! server closes, and targets that are not there.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use loadgen::driver::http::HttpStep;
use loadgen::driver::{Drivers, Request};
use loadgen::runner::{Mode, Plan, RunResult, Step, run};
use loadgen::schedule::{Arrivals, Schedule, Segment};
use testkit::server::Server;
use tokio_util::sync::CancellationToken;

/// What the server saw, checked request by request.
#[derive(Debug, Default)]
struct Seen {
    requests: AtomicU64,
    /// Requests whose Host, Content-Type, traceparent and templated JSON body were all as sent.
    well_formed: AtomicU64,
}

async fn echo(
    State((seen, addr)): State<(Arc<Seen>, SocketAddr)>,
    headers: HeaderMap,
    body: String,
) {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let id = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_u64());
    if header(header::HOST) == Some(addr.to_string().as_str())
        && header(header::CONTENT_TYPE) == Some("application/json")
        && header(header::HeaderName::from_static("traceparent"))
            .and_then(common::trace_context::trace_id)
            .is_some()
        && id.is_some_and(|id| (5..=9).contains(&id))
    {
        seen.well_formed.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start() -> (Server, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let state = Arc::clone(&seen);
    let server = Server::start(|listener, shutdown| {
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/echo", post(echo))
            // Every response ends its connection, so every request after the first per worker finds
            // its kept connection closed.
            .route(
                "/close",
                get(
                    |State((seen, _)): State<(Arc<Seen>, SocketAddr)>| async move {
                        seen.requests.fetch_add(1, Ordering::SeqCst);
                        ([(header::CONNECTION, "close")], "bye")
                    },
                ),
            )
            .with_state((state, addr));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future()
    })
    .await;
    (server, seen)
}

fn plan(mode: Mode, http: HttpStep, expect: &str) -> Plan {
    Plan {
        schedule: Schedule::constant(100.0, Duration::from_secs(1)),
        arrivals: Arrivals::Uniform,
        seed: 11,
        segment: Segment::WHOLE,
        mode,
        steps: vec![Step {
            name: "s".into(),
            weight: 1,
            request: Request::Http(http),
            expect: vec![expect.to_owned()],
        }],
        drain: Duration::from_secs(10),
    }
}

async fn run_plan(p: &Plan) -> RunResult {
    run(p, &Drivers::new().unwrap(), &CancellationToken::new()).await
}

const OPEN: Mode = Mode::Open {
    max_in_flight: 1000,
    workers: 4,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_carry_host_content_type_traceparent_and_a_templated_body() {
    let (server, seen) = start().await;
    let addr = server.addr;
    let step = HttpStep {
        method: "POST".into(),
        url: format!("http://{addr}/echo"),
        body: Some(r#"{"id": {rand:5:9}}"#.into()),
    };
    for mode in [OPEN, Mode::Closed { concurrency: 4 }] {
        seen.requests.store(0, Ordering::SeqCst);
        seen.well_formed.store(0, Ordering::SeqCst);
        let r = run_plan(&plan(mode, step.clone(), "2xx")).await;
        let s = &r.steps[0];
        assert!(s.ok > 0 && s.unexpected() == 0, "{mode:?}: {s:?}");
        assert_eq!(seen.requests.load(Ordering::SeqCst), s.ok, "{mode:?}");
        assert_eq!(seen.well_formed.load(Ordering::SeqCst), s.ok, "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_closes_are_reopened_without_errors() {
    let (server, seen) = start().await;
    let addr = server.addr;
    let step = HttpStep {
        method: "GET".into(),
        url: format!("http://{addr}/close"),
        body: None,
    };
    for mode in [OPEN, Mode::Closed { concurrency: 4 }] {
        seen.requests.store(0, Ordering::SeqCst);
        let r = run_plan(&plan(mode, step.clone(), "2xx")).await;
        let s = &r.steps[0];
        assert!(s.ok > 0, "{mode:?}");
        assert_eq!(
            (s.unexpected(), r.planned[0]),
            (0, s.ok),
            "{mode:?}: {:?}",
            s.unexpected_errors
        );
        assert_eq!(seen.requests.load(Ordering::SeqCst), s.ok, "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_target_is_a_connect_error_and_https_a_bad_url() {
    // A port that was just free: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (url, class) in [
        (format!("http://127.0.0.1:{port}/"), "io:connect"),
        ("https://127.0.0.1:1/".to_owned(), "io:url"),
    ] {
        let step = HttpStep {
            method: "GET".into(),
            url,
            body: None,
        };
        let r = run_plan(&plan(OPEN, step, "2xx")).await;
        assert_eq!(r.steps[0].unexpected_errors.get(class), Some(&100), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_dropped_while_idle_is_retried_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server that promises keep-alive, answers one request per connection and then hangs up
    // without saying so — what an idle timeout looks like from the client.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&served);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    let step = HttpStep {
        method: "GET".into(),
        url: format!("http://{addr}/"),
        body: None,
    };
    let one_worker = Mode::Open {
        max_in_flight: 1000,
        workers: 1,
    };
    let r = run_plan(&plan(one_worker, step, "2xx")).await;
    let s = &r.steps[0];
    assert_eq!(
        (s.ok, s.unexpected()),
        (100, 0),
        "{:?}",
        s.unexpected_errors
    );
    assert_eq!(served.load(Ordering::SeqCst), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_timeout_is_io_timeout_and_the_next_uses_a_new_connection() {
    // The support server stalls its first /stall request for 1 s; the rest answer at once.
    let (server, seen) = crate::support::start().await;
    let addr = server.addr;
    let step = HttpStep {
        method: "GET".into(),
        url: format!("http://{addr}/stall"),
        body: None,
    };
    let one_worker = Mode::Open {
        max_in_flight: 1000,
        workers: 1,
    };
    let drivers = Drivers::new()
        .unwrap()
        .with_http_timeout(Duration::from_millis(500));
    let r = run(
        &plan(one_worker, step, "2xx"),
        &drivers,
        &CancellationToken::new(),
    )
    .await;
    let s = &r.steps[0];
    assert_eq!(
        s.unexpected_errors,
        [("io:timeout".to_owned(), 1)].into(),
        "only the stalled request"
    );
    assert_eq!((s.ok, r.planned[0]), (99, 100));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 100);
}
