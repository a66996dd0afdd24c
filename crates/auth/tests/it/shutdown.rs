//! Graceful shutdown: health turns NOT_SERVING, new calls get UNAVAILABLE, streams end, the server
//! drains and returns.

use std::time::Duration;

use proto::auth::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::support::{expect_code, start_with};

async fn health(channel: tonic::transport::Channel, service: &str) -> ServingStatus {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    response.status()
}

const SERVICE: &str = "mop.auth.v1.AuthService";

#[tokio::test]
async fn during_the_drain_delay_health_is_not_serving_and_calls_are_unavailable() {
    // A long drain delay keeps the listener open after the signal, so the test can look at it.
    let server = start_with(12, |c| c.drain_delay = Duration::from_secs(30)).await;
    let channel = server.channel().await;
    assert_eq!(health(channel.clone(), "").await, ServingStatus::Serving);
    assert_eq!(
        health(channel.clone(), SERVICE).await,
        ServingStatus::Serving
    );
    let mut events = server.admin_stream(&[]).await;

    server.cancel();

    // The open stream ends with UNAVAILABLE, telling the client to reconnect elsewhere.
    let status = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("stream ended with OK"),
                Err(status) => break status,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    // Health flips (the reporter is updated right after cancellation; poll until it shows).
    let fresh = server.channel().await;
    let mut status = health(fresh.clone(), "").await;
    for _ in 0..100 {
        if status == ServingStatus::NotServing {
            break;
        }
        tokio::task::yield_now().await;
        status = health(fresh.clone(), "").await;
    }
    assert_eq!(status, ServingStatus::NotServing);
    assert_eq!(
        health(fresh.clone(), SERVICE).await,
        ServingStatus::NotServing
    );

    let mut client = proto::auth::v1::auth_service_client::AuthServiceClient::new(fresh);
    let (username, password) = auth::users::demo_credentials(2);
    expect_code(
        client.login(pb::LoginRequest { username, password }).await,
        Code::Unavailable,
    );
}

#[tokio::test]
async fn the_server_drains_open_streams_and_returns_ok() {
    let mut server = start_with(12, |c| c.common.shutdown_grace = Duration::from_secs(20)).await;
    let mut events = server.admin_stream(&[]).await;
    let login = server.login(3).await;
    server.cancel();
    let status = loop {
        match events.message().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("stream ended with OK"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::Unavailable);
    // The stream ended promptly, so the drain does not wait for the 20 s grace (the 10 s limit here
    // is a hang guard, not a timing assertion).
    tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("server did not finish draining")
        .unwrap();
    // And it no longer accepts connections.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
    drop(login);
}
