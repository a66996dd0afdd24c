//! Failed-login throttling per username, driven by the server's injectable clock (no sleeps).

use std::time::Duration;

use proto::auth::v1 as pb;
use tonic::Code;

use crate::support::{expect_code, next_event, start};

fn login(username: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    }
}

#[tokio::test]
async fn five_failures_throttle_the_username_until_the_cooldown_ends() {
    let server = start().await;
    let mut events = server
        .admin_stream(&[pb::EventType::AccountThrottled])
        .await;
    let mut client = server.client().await;
    for _ in 0..5 {
        expect_code(
            client.login(login("user-0007", "wrong")).await,
            Code::Unauthenticated,
        );
    }
    // Now even the right password is refused, without being checked.
    let status = expect_code(
        client.login(login("user-0007", "pass-0007")).await,
        Code::ResourceExhausted,
    );
    assert_eq!(status.metadata().get("retry-after").unwrap(), "60");
    let event = next_event(&mut events).await;
    assert_eq!(event.r#type(), pb::EventType::AccountThrottled);
    assert_eq!(event.username, "user-0007");

    // Other usernames are unaffected.
    client.login(login("user-0008", "pass-0008")).await.unwrap();

    server.clock.advance(Duration::from_secs(59));
    expect_code(
        client.login(login("user-0007", "pass-0007")).await,
        Code::ResourceExhausted,
    );
    server.clock.advance(Duration::from_secs(1));
    client.login(login("user-0007", "pass-0007")).await.unwrap();
}

#[tokio::test]
async fn failures_spread_beyond_the_window_do_not_throttle() {
    let server = start().await;
    let mut client = server.client().await;
    for _ in 0..10 {
        expect_code(
            client.login(login("user-0009", "wrong")).await,
            Code::Unauthenticated,
        );
        server.clock.advance(Duration::from_secs(15));
    }
    client.login(login("user-0009", "pass-0009")).await.unwrap();
}

#[tokio::test]
async fn unknown_usernames_are_throttled_like_real_ones() {
    let server = start().await;
    let mut client = server.client().await;
    for _ in 0..5 {
        expect_code(
            client.login(login("ghost", "x")).await,
            Code::Unauthenticated,
        );
    }
    expect_code(
        client.login(login("ghost", "x")).await,
        Code::ResourceExhausted,
    );
}
