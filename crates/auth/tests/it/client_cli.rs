//! `auth-client`, the CLI people try the service with, run as a process against a real server: every
//! subcommand's JSON output, its exit codes (1 with the gRPC code on stderr, 2 for a bad address), and
//! the event stream of an admin.

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support;

const CLIENT: &str = env!("CARGO_BIN_EXE_auth-client");

async fn client(addr: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(CLIENT)
        .arg("--addr")
        .arg(addr)
        .args(args)
        .env_remove("AUTH_TOKEN")
        .env_remove("AUTH_ADDR")
        .output()
        .await
        .expect("run auth-client")
}

fn json_out(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

fn json_err(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    serde_json::from_slice(&out.stderr).expect("stderr is one JSON document")
}

#[tokio::test]
async fn every_subcommand_round_trips_a_session_and_prints_json() {
    let server = support::start().await;
    let addr = server.url.as_str();

    let health = json_out(&client(addr, &["health"]).await);
    assert_eq!(health["status"], "SERVING");

    let login = json_out(&client(addr, &["login", "-u", "user-0002", "-p", "pass-0002"]).await);
    assert_eq!(login["user"]["name"], "user-0002");
    let access = login["tokens"]["access_token"].as_str().unwrap().to_owned();
    let refresh = login["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(login["tokens"]["token_type"], "Bearer");

    let valid = json_out(&client(addr, &["validate", &access]).await);
    assert_eq!(valid["session_id"], login["session_id"]);
    assert_eq!(valid["user"]["name"], "user-0002");

    let refreshed = json_out(&client(addr, &["refresh", &refresh]).await);
    assert_eq!(refreshed["session_id"], login["session_id"]);
    let new_access = refreshed["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_access, access, "refresh rotates the access token");

    // The old refresh token is spent: using it again is reuse, answered with the precise code.
    let reuse = json_err(&client(addr, &["refresh", &refresh]).await);
    assert_eq!(reuse["error"]["code"], "UNAUTHENTICATED", "{reuse}");

    // Reuse revokes the session, so log in again for the logout round trip.
    let again = json_out(&client(addr, &["login", "-u", "user-0003", "-p", "pass-0003"]).await);
    let token = again["tokens"]["access_token"].as_str().unwrap().to_owned();
    let out = json_out(&client(addr, &["logout", &token]).await);
    assert_eq!(out["logged_out"], true);
    let after = json_err(&client(addr, &["validate", &token]).await);
    assert_eq!(after["error"]["code"], "UNAUTHENTICATED", "{after}");

    let wrong = json_err(&client(addr, &["login", "-u", "user-0002", "-p", "nope"]).await);
    assert_eq!(wrong["error"]["code"], "UNAUTHENTICATED", "{wrong}");
}

#[tokio::test]
async fn a_token_that_starts_with_a_dash_is_a_token_not_a_flag() {
    // URL-safe base64: one token in 64 starts with `-`. It must reach the server (exit 1 with the
    // server's code), not stop at the argument parser (exit 2).
    let server = support::start().await;
    let token = format!("-{}", "A".repeat(42));
    for command in ["validate", "refresh", "logout"] {
        let err = json_err(&client(server.url.as_str(), &[command, &token]).await);
        assert_eq!(err["error"]["code"], "UNAUTHENTICATED", "{command}: {err}");
    }
}

#[tokio::test]
async fn a_bad_address_exits_2_with_a_message_not_a_grpc_code() {
    let out = client("not a url", &["health"]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid --addr"), "{stderr}");
}

#[tokio::test]
async fn an_admin_streams_events_as_json_lines_until_the_deadline() {
    let server = support::start().await;
    let addr = server.url.clone();
    let admin = json_out(&client(&addr, &["login", "-u", "user-0001", "-p", "pass-0001"]).await);
    let token = admin["tokens"]["access_token"].as_str().unwrap().to_owned();

    let stream = tokio::process::Command::new(CLIENT)
        .args([
            "--addr",
            &addr,
            "--timeout",
            "3s",
            "stream",
            "--type",
            "login-failed",
            &token,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Give the subscription a moment to be in place, then fail a login it must report; bounded by
    // the stream's own 3 s deadline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let wrong = client(&addr, &["login", "-u", "user-0004", "-p", "nope"]).await;
    assert_eq!(wrong.status.code(), Some(1));

    let out = stream.wait_with_output().await.unwrap();
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "EVENT_TYPE_LOGIN_FAILED" && e["username"] == "user-0004"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "EVENT_TYPE_LOGIN_FAILED"),
        "only the requested type: {events:?}"
    );
    // The stream ends at its deadline: exit 1 with the code on stderr.
    assert_eq!(json_err(&out)["error"]["code"], "DEADLINE_EXCEEDED");
}
