//! `grpc-timeout` is honoured with DEADLINE_EXCEEDED, for unary calls and for the event stream.

use std::time::Duration;

use proto::auth::v1 as pb;
use tonic::Code;

use crate::support::{access, bearer, frame, raw_call, start_with};

#[tokio::test]
async fn a_unary_call_past_its_deadline_gets_deadline_exceeded() {
    // Expensive hashing (64 MiB, 8 passes: hundreds of ms) makes a login reliably outlast 20 ms.
    let server = start_with(1, |c| {
        c.argon2.memory_kib = 64 * 1024;
        c.argon2.iterations = 8;
    })
    .await;
    let login = frame(&pb::LoginRequest {
        username: "user-0001".into(),
        password: "pass-0001".into(),
    });
    let reply = raw_call(
        server.addr,
        "/mop.auth.v1.AuthService/Login",
        login.clone(),
        &[("grpc-timeout", "20m")],
    )
    .await;
    assert_eq!(reply.code, Some(Code::DeadlineExceeded), "{reply:?}");
    assert!(reply.message.contains("deadline"), "{reply:?}");
    assert_eq!(
        reply.http_status, 200,
        "gRPC errors travel in a 200 response"
    );
    // Without a deadline the same call succeeds.
    let reply = raw_call(server.addr, "/mop.auth.v1.AuthService/Login", login, &[]).await;
    assert_eq!(reply.code, Some(Code::Ok), "{reply:?}");
}

#[tokio::test]
async fn an_event_stream_ends_with_deadline_exceeded_at_its_deadline() {
    let server = start_with(3, |_| {}).await;
    let admin = server.login(1).await;
    let mut request = bearer(pb::StreamEventsRequest { types: vec![] }, &access(&admin));
    request.set_timeout(Duration::from_millis(300));
    let mut events = server
        .client()
        .await
        .stream_events(request)
        .await
        .unwrap()
        .into_inner();
    server.login(2).await;
    let status = loop {
        match events.message().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("stream ended with OK"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}
