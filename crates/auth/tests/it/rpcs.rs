//! Every unary RPC's happy path and its documented error codes.

use std::time::{Duration, SystemTime};

use proto::auth::v1 as pb;
use tonic::{Code, Request};

use crate::support::{UNKNOWN_TOKEN, access, bearer, expect_code, refresh, start};

fn login_request(username: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    }
}

fn seconds_from_now(ts: Option<&proto::prost_types::Timestamp>) -> i64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ts.unwrap().seconds - i64::try_from(now).unwrap()
}

#[tokio::test]
async fn login_returns_a_session_with_tokens_and_the_user() {
    let server = start().await;
    let r = server.login(1).await;
    let user = r.user.as_ref().unwrap();
    assert_eq!(user.name, "user-0001");
    assert_eq!(user.id, "00000000-0000-4000-8000-000000000001");
    assert!(user.roles.contains(&"admin".to_owned()));
    assert!(uuid::Uuid::parse_str(&r.session_id).is_ok());
    let tokens = r.tokens.as_ref().unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.access_token.len(), 43);
    assert_eq!(tokens.refresh_token.len(), 43);
    assert_ne!(tokens.access_token, tokens.refresh_token);
    // Default lifetimes: 15 min and 24 h (a few seconds of slack for slow machines).
    let access_ttl = seconds_from_now(tokens.access_token_expires_at.as_ref());
    assert!((895..=901).contains(&access_ttl), "{access_ttl}");
    let refresh_ttl = seconds_from_now(tokens.refresh_token_expires_at.as_ref());
    assert!((86_395..=86_401).contains(&refresh_ttl), "{refresh_ttl}");

    let other = server.login(2).await;
    assert!(!other.user.unwrap().roles.contains(&"admin".to_owned()));
    assert_ne!(other.session_id, r.session_id);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_unauthenticated_alike() {
    let server = start().await;
    let mut client = server.client().await;
    let wrong = expect_code(
        client.login(login_request("user-0002", "pass-0003")).await,
        Code::Unauthenticated,
    );
    let unknown = expect_code(
        client.login(login_request("nobody", "pass-0002")).await,
        Code::Unauthenticated,
    );
    assert_eq!(wrong.message(), unknown.message());
}

#[tokio::test]
async fn empty_oversized_or_control_character_fields_are_invalid_argument() {
    let server = start().await;
    let mut client = server.client().await;
    let long_name = "u".repeat(65);
    let long_password = "p".repeat(257);
    for (username, password) in [
        ("", "pass-0001"),
        ("user-0001", ""),
        (long_name.as_str(), "pass-0001"),
        ("user-0001", long_password.as_str()),
        ("user\n0001", "pass-0001"),
    ] {
        let status = expect_code(
            client.login(login_request(username, password)).await,
            Code::InvalidArgument,
        );
        assert!(
            !status.message().contains("pass-"),
            "password echoed: {status:?}"
        );
    }
    // The limits are inclusive: 64-byte names and 256-byte passwords are merely wrong.
    expect_code(
        client
            .login(login_request(&"u".repeat(64), &"p".repeat(256)))
            .await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn validate_token_says_whose_token_it_is() {
    let server = start().await;
    let login = server.login(3).await;
    let r = server
        .client()
        .await
        .validate_token(pb::ValidateTokenRequest {
            access_token: access(&login),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.user.unwrap().name, "user-0003");
    assert_eq!(r.session_id, login.session_id);
    assert_eq!(
        r.expires_at,
        login.tokens.as_ref().unwrap().access_token_expires_at
    );
}

#[tokio::test]
async fn validate_token_rejects_malformed_unknown_refresh_and_expired_tokens() {
    let server = start().await;
    let mut client = server.client().await;
    let validate = |token: &str| pb::ValidateTokenRequest {
        access_token: token.to_owned(),
    };
    for malformed in ["", "short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"] {
        expect_code(
            client.validate_token(validate(malformed)).await,
            Code::InvalidArgument,
        );
    }
    expect_code(
        client.validate_token(validate(UNKNOWN_TOKEN)).await,
        Code::Unauthenticated,
    );
    let login = server.login(2).await;
    // A refresh token is not an access token.
    expect_code(
        client.validate_token(validate(&refresh(&login))).await,
        Code::Unauthenticated,
    );
    client
        .validate_token(validate(&access(&login)))
        .await
        .unwrap();
    server.clock.advance(Duration::from_secs(15 * 60));
    let status = expect_code(
        client.validate_token(validate(&access(&login))).await,
        Code::Unauthenticated,
    );
    assert!(status.message().contains("expired"), "{status:?}");
}

#[tokio::test]
async fn logout_ends_the_session_for_both_tokens() {
    let server = start().await;
    let mut client = server.client().await;
    let login = server.login(4).await;
    let r = client
        .logout(bearer(pb::LogoutRequest {}, &access(&login)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.session_id, login.session_id);
    expect_code(
        client
            .validate_token(pb::ValidateTokenRequest {
                access_token: access(&login),
            })
            .await,
        Code::Unauthenticated,
    );
    expect_code(
        client
            .refresh_token(pb::RefreshTokenRequest {
                refresh_token: refresh(&login),
            })
            .await,
        Code::Unauthenticated,
    );
    // A second logout with the same token: the session is gone.
    expect_code(
        client
            .logout(bearer(pb::LogoutRequest {}, &access(&login)))
            .await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn logout_needs_a_well_formed_bearer_token() {
    let server = start().await;
    let mut client = server.client().await;
    expect_code(
        client.logout(pb::LogoutRequest {}).await,
        Code::Unauthenticated,
    );
    expect_code(
        client
            .logout(bearer(pb::LogoutRequest {}, UNKNOWN_TOKEN))
            .await,
        Code::Unauthenticated,
    );
    expect_code(
        client
            .logout(bearer(pb::LogoutRequest {}, "not-a-token"))
            .await,
        Code::InvalidArgument,
    );
    let mut basic = Request::new(pb::LogoutRequest {});
    basic
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    expect_code(client.logout(basic).await, Code::InvalidArgument);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let server = start().await;
    let mut client = server.client().await;
    let mut request = Request::new(pb::ValidateTokenRequest {
        access_token: UNKNOWN_TOKEN.to_owned(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "req-42".parse().unwrap());
    request.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let status = expect_code(client.validate_token(request).await, Code::Unauthenticated);
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "req-42");

    let login = server.login(2).await;
    let response = client
        .validate_token(pb::ValidateTokenRequest {
            access_token: access(&login),
        })
        .await
        .unwrap();
    let generated = response.metadata().get("x-request-id").unwrap();
    assert_eq!(generated.len(), 32, "{generated:?}");
}
