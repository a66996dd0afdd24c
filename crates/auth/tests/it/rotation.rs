//! Refresh-token rotation, reuse detection and session expiry.

use std::time::Duration;

use proto::auth::v1 as pb;
use tonic::Code;

use crate::support::{access, expect_code, next_event, refresh, start, start_with};

fn refresh_request(token: &str) -> pb::RefreshTokenRequest {
    pb::RefreshTokenRequest {
        refresh_token: token.to_owned(),
    }
}

fn validate_request(token: &str) -> pb::ValidateTokenRequest {
    pb::ValidateTokenRequest {
        access_token: token.to_owned(),
    }
}

#[tokio::test]
async fn refresh_rotates_both_tokens_and_kills_the_old_ones() {
    let server = start().await;
    let mut client = server.client().await;
    let login = server.login(2).await;
    let rotated = client
        .refresh_token(refresh_request(&refresh(&login)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rotated.session_id, login.session_id);
    let tokens = rotated.tokens.unwrap();
    assert_ne!(tokens.access_token, access(&login));
    assert_ne!(tokens.refresh_token, refresh(&login));
    let valid = client
        .validate_token(validate_request(&tokens.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(valid.session_id, login.session_id);
    // The previous access token died with the rotation.
    expect_code(
        client
            .validate_token(validate_request(&access(&login)))
            .await,
        Code::Unauthenticated,
    );
    // And the new refresh token rotates again.
    client
        .refresh_token(refresh_request(&tokens.refresh_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_session_and_emits_an_event() {
    let server = start().await;
    let mut events = server
        .admin_stream(&[pb::EventType::RefreshTokenReuseDetected])
        .await;
    let mut client = server.client().await;
    let login = server.login(5).await;
    let rotated = client
        .refresh_token(refresh_request(&refresh(&login)))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    // The stolen (already used) token comes back.
    let status = expect_code(
        client
            .refresh_token(refresh_request(&refresh(&login)))
            .await,
        Code::Unauthenticated,
    );
    assert!(status.message().contains("already used"), "{status:?}");

    // Neither party may continue: the legitimate client's fresh tokens are dead too.
    expect_code(
        client
            .validate_token(validate_request(&rotated.access_token))
            .await,
        Code::Unauthenticated,
    );
    expect_code(
        client
            .refresh_token(refresh_request(&rotated.refresh_token))
            .await,
        Code::Unauthenticated,
    );

    let event = next_event(&mut events).await;
    assert_eq!(event.r#type(), pb::EventType::RefreshTokenReuseDetected);
    assert_eq!(event.username, "user-0005");
    assert_eq!(event.session_id, login.session_id);
}

#[tokio::test]
async fn malformed_and_unknown_refresh_tokens_are_rejected() {
    let server = start().await;
    let mut client = server.client().await;
    expect_code(
        client.refresh_token(refresh_request("")).await,
        Code::InvalidArgument,
    );
    expect_code(
        client
            .refresh_token(refresh_request("x".repeat(44).as_str()))
            .await,
        Code::InvalidArgument,
    );
    expect_code(
        client
            .refresh_token(refresh_request(crate::support::UNKNOWN_TOKEN))
            .await,
        Code::Unauthenticated,
    );
    // An access token is not a refresh token.
    let login = server.login(2).await;
    expect_code(
        client.refresh_token(refresh_request(&access(&login))).await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn expired_sessions_are_refused_then_swept_with_an_event() {
    let server = start_with(12, |c| c.sweep_interval = Duration::from_millis(20)).await;
    let mut events = server.admin_stream(&[pb::EventType::SessionExpired]).await;
    let mut client = server.client().await;
    let login = server.login(6).await;
    server.clock.advance(Duration::from_secs(24 * 3600));
    expect_code(
        client
            .refresh_token(refresh_request(&refresh(&login)))
            .await,
        Code::Unauthenticated,
    );
    // Both the admin's and user-0006's sessions expired; the stream (authorised when it opened) keeps
    // running and reports both.
    let mut swept = [next_event(&mut events).await, next_event(&mut events).await];
    swept.sort_by(|a, b| a.username.cmp(&b.username));
    assert_eq!(swept[0].username, "user-0001");
    assert_eq!(swept[1].username, "user-0006");
    assert_eq!(swept[1].session_id, login.session_id);
    assert!(
        swept
            .iter()
            .all(|e| e.r#type() == pb::EventType::SessionExpired)
    );
    expect_code(
        client
            .refresh_token(refresh_request(&refresh(&login)))
            .await,
        Code::Unauthenticated,
    );
}
