//! testkit's own tests of the service harness: a hand-written service over a real socket, its
//! drain, its errors and its panics as a test sees them.

use std::time::Duration;

use testkit::server::{Bound, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A `run`-shaped service: answers every connection with `hello`, then drains for `drain` after the
/// token is cancelled.
async fn hello(
    listener: TcpListener,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut socket, _) = accepted?;
                socket.write_all(b"hello").await?;
            }
            () = shutdown.cancelled() => break,
        }
    }
    drop(listener);
    tokio::time::sleep(drain).await;
    Ok(())
}

async fn read_all(addr: std::net::SocketAddr) -> String {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let mut out = String::new();
    socket.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn a_service_serves_at_once_and_stop_waits_for_its_drain() {
    let server = Server::start(|l, s| hello(l, s, Duration::from_millis(300))).await;
    assert_eq!(server.url, format!("http://{}", server.addr));
    assert_eq!(server.at("/x"), format!("http://{}/x", server.addr));
    assert_eq!(read_all(server.addr).await, "hello");
    let addr = server.addr;
    let started = std::time::Instant::now();
    server.stop().await.unwrap();
    // stop() returned only once run() had: after its drain (a lower bound, not a timing assert on
    // the service), and the port is closed.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn cancel_then_wait_gives_the_result_once() {
    let mut server = Server::start(|l, s| hello(l, s, Duration::ZERO)).await;
    assert!(!server.is_finished());
    server.cancel();
    server.wait().await.unwrap();
    assert!(server.is_finished());
    assert!(server.wait().await.unwrap_err().contains("already waited"));
}

#[tokio::test]
async fn a_failing_run_reports_its_error_with_causes() {
    let server =
        Server::start(|_, _| async { Err::<(), _>(std::io::Error::other("the database is gone")) })
            .await;
    assert_eq!(server.stop().await.unwrap_err(), "the database is gone");
}

#[tokio::test]
#[should_panic(expected = "boom in the service")]
async fn a_panicking_service_fails_the_test_with_its_own_message() {
    let server = Server::start(|_, _| async {
        if true {
            panic!("boom in the service");
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
    let _ = server.stop().await;
}

#[tokio::test]
async fn a_service_that_takes_the_token_first_binds_then_serves() {
    let bound = Bound::new().await;
    let token = bound.shutdown();
    let addr = bound.addr();
    let server = bound.serve(move |l, _| hello(l, token, Duration::ZERO));
    assert_eq!(server.addr, addr);
    assert_eq!(read_all(addr).await, "hello");
    drop(server);
    // Dropping cancelled the token the service took: it stops by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still serving");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
