//! Hostile or broken input gets a precise status, and the server keeps serving afterwards.

use proto::auth::v1 as pb;
use tonic::Code;

use crate::support::{expect_code, frame, raw_call, start};

const LOGIN: &str = "/mop.auth.v1.AuthService/Login";

#[tokio::test]
async fn oversized_messages_are_out_of_range() {
    let server = start().await;
    let mut client = server.client().await;
    let status = expect_code(
        client
            .login(pb::LoginRequest {
                username: "user-0001".into(),
                password: "p".repeat(20 * 1024),
            })
            .await,
        Code::OutOfRange,
    );
    assert!(!status.message().contains("ppp"), "{status:?}");
    server.login(1).await;
}

#[tokio::test]
async fn broken_frames_and_unknown_methods_never_take_the_server_down() {
    let server = start().await;
    let valid = frame(&pb::LoginRequest {
        username: "user-0001".into(),
        password: "pass-0001".into(),
    });

    // Not protobuf: tonic answers INTERNAL for undecodable messages.
    let mut garbage = vec![0u8, 0, 0, 0, 4];
    garbage.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let reply = raw_call(server.addr, LOGIN, garbage, &[]).await;
    assert_eq!(reply.code, Some(Code::Internal), "{reply:?}");

    // Invalid UTF-8 in a string field.
    let reply = raw_call(
        server.addr,
        LOGIN,
        vec![0, 0, 0, 0, 3, 0x0a, 0x01, 0xff],
        &[],
    )
    .await;
    assert_eq!(reply.code, Some(Code::Internal), "{reply:?}");

    // A frame that promises 4 GiB.
    let reply = raw_call(server.addr, LOGIN, vec![0, 0xff, 0xff, 0xff, 0xff, 1], &[]).await;
    assert_eq!(reply.code, Some(Code::OutOfRange), "{reply:?}");

    // A truncated frame header, and an empty body.
    let reply = raw_call(server.addr, LOGIN, vec![0, 0], &[]).await;
    assert!(reply.code.is_some_and(|c| c != Code::Ok), "{reply:?}");
    let reply = raw_call(server.addr, LOGIN, vec![], &[]).await;
    assert!(reply.code.is_some_and(|c| c != Code::Ok), "{reply:?}");

    // A compressed-flag frame we never negotiated.
    let mut compressed = valid.clone();
    compressed[0] = 1;
    let reply = raw_call(server.addr, LOGIN, compressed, &[]).await;
    assert!(reply.code.is_some_and(|c| c != Code::Ok), "{reply:?}");

    // Unknown method and unknown service.
    let reply = raw_call(
        server.addr,
        "/mop.auth.v1.AuthService/Nope",
        valid.clone(),
        &[],
    )
    .await;
    assert_eq!(reply.code, Some(Code::Unimplemented), "{reply:?}");
    let reply = raw_call(server.addr, "/nope.Nope/Nope", valid.clone(), &[]).await;
    assert_eq!(reply.code, Some(Code::Unimplemented), "{reply:?}");

    // Junk metadata: non-ASCII authorization, absurd request id, malformed deadline.
    let reply = raw_call(
        server.addr,
        LOGIN,
        valid.clone(),
        &[
            ("authorization", "Bearer \u{fc}ber"),
            ("x-request-id", &"x".repeat(4000)),
            ("grpc-timeout", "99999999999H"),
            ("traceparent", "garbage"),
        ],
    )
    .await;
    // Login ignores a malformed Bearer (it needs no caller) and the junk deadline means "none".
    assert_eq!(reply.code, Some(Code::Ok), "{reply:?}");

    // Still alive and well.
    server.login(2).await;
}
