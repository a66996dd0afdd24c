//! StreamEvents: authorisation, filters, fan-out of concurrent activity, and slow subscribers.

use std::collections::BTreeSet;

use proto::auth::v1 as pb;
use tonic::Code;
use tonic::transport::Endpoint;

use crate::support::{UNKNOWN_TOKEN, access, bearer, expect_code, next_event, start, start_with};

fn all() -> pb::StreamEventsRequest {
    pb::StreamEventsRequest { types: vec![] }
}

#[tokio::test]
async fn only_admins_may_stream() {
    let server = start().await;
    let mut client = server.client().await;
    expect_code(client.stream_events(all()).await, Code::Unauthenticated);
    expect_code(
        client.stream_events(bearer(all(), UNKNOWN_TOKEN)).await,
        Code::Unauthenticated,
    );
    let user = server.login(2).await;
    expect_code(
        client.stream_events(bearer(all(), &access(&user))).await,
        Code::PermissionDenied,
    );
    let admin = server.login(1).await;
    for bad in [0, 99, -1] {
        let request = pb::StreamEventsRequest { types: vec![bad] };
        expect_code(
            client.stream_events(bearer(request, &access(&admin))).await,
            Code::InvalidArgument,
        );
    }
}

#[tokio::test]
async fn a_stream_sees_concurrent_logins_and_only_the_types_it_asked_for() {
    let server = start_with(21, |_| {}).await;
    let mut events = server
        .admin_stream(&[pb::EventType::LoginSucceeded, pb::EventType::LoginFailed])
        .await;
    // Logins from 20 concurrent clients, half of them failing; a refresh in between is filtered out.
    let mut tasks = Vec::new();
    for n in 2..=21 {
        let url = server.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = proto::auth::v1::auth_service_client::AuthServiceClient::new(
                Endpoint::from_shared(url).unwrap().connect().await.unwrap(),
            );
            let (username, mut password) = auth::users::demo_credentials(n);
            if n % 2 == 0 {
                password.push('!');
            }
            let ok = client
                .login(pb::LoginRequest { username, password })
                .await
                .is_ok();
            assert_eq!(ok, n % 2 == 1);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut succeeded = BTreeSet::new();
    let mut failed = BTreeSet::new();
    for _ in 0..20 {
        let event = next_event(&mut events).await;
        assert!(uuid::Uuid::parse_str(&event.id).is_ok());
        assert!(event.occurred_at.is_some());
        match event.r#type() {
            pb::EventType::LoginSucceeded => {
                assert!(!event.session_id.is_empty());
                succeeded.insert(event.username)
            }
            pb::EventType::LoginFailed => {
                assert!(event.session_id.is_empty());
                failed.insert(event.username)
            }
            other => panic!("filtered type {other:?} delivered"),
        };
    }
    let names = |odd: bool| -> BTreeSet<String> {
        (2..=21u32)
            .filter(|n| (n % 2 == 1) == odd)
            .map(|n| auth::users::demo_credentials(n).0)
            .collect()
    };
    assert_eq!(succeeded, names(true));
    assert_eq!(failed, names(false));
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_many_events_it_missed() {
    let server = start_with(12, |c| c.event_buffer = 4).await;
    let admin = server.login(1).await;
    // A tiny HTTP/2 window, and a client that does not read: the server can push only a few events
    // into the connection before it has to stop polling the subscription, which then lags.
    let slow = Endpoint::from_shared(server.url.clone())
        .unwrap()
        .initial_stream_window_size(Some(512))
        .initial_connection_window_size(Some(512))
        .connect()
        .await
        .unwrap();
    let mut events = proto::auth::v1::auth_service_client::AuthServiceClient::new(slow)
        .stream_events(bearer(all(), &access(&admin)))
        .await
        .unwrap()
        .into_inner();
    let mut client = server.client().await;
    for n in 0..40 {
        // Distinct unknown usernames: each emits LOGIN_FAILED and none gets throttled.
        let _ = client
            .login(pb::LoginRequest {
                username: format!("ghost-{n}"),
                password: "x".to_owned(),
            })
            .await;
    }
    let mut delivered = 0;
    let status = loop {
        match events.message().await {
            Ok(Some(_)) => delivered += 1,
            Ok(None) => panic!("stream ended without a status after {delivered} events"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("lagged by"), "{status:?}");
    assert!(delivered < 40, "{delivered}");
    // The server itself never waited for the slow client.
    server.login(2).await;
}
