//! `auth-client`: a small CLI for the auth service — every RPC plus the gRPC health check — that
//! prints JSON, for trying the service by hand and for scripts (`jq`-friendly).
#![allow(clippy::print_stdout)] // a CLI: stdout is its output

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use proto::auth::v1 as pb;
use proto::auth::v1::auth_service_client::AuthServiceClient;
use proto::prost_types::Timestamp;
use serde_json::{Value, json};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Talks to the MOP auth service over plaintext gRPC (h2c) and prints JSON.
#[derive(Debug, Parser)]
#[command(name = "auth-client", version, about)]
struct Cli {
    /// Server address.
    #[arg(
        long,
        env = "AUTH_ADDR",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    addr: String,

    /// Deadline for the call, sent as `grpc-timeout` (e.g. `5s`; none for `stream` unless given).
    #[arg(long, value_parser = common::args::parse_duration, global = true)]
    timeout: Option<Duration>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in; prints the session's tokens.
    Login {
        /// Username (demo users: user-0001 … user-0100; user-0001 is an admin).
        #[arg(long, short, default_value = "user-0001")]
        username: String,
        /// Password (demo users: pass-0001 …).
        #[arg(
            long,
            short,
            env = "AUTH_PASSWORD",
            default_value = "pass-0001",
            hide_env_values = true
        )]
        password: String,
    },
    // Tokens are URL-safe base64, so one in 64 starts with `-`: every token argument takes values
    // that look like a flag (`allow_hyphen_values`), or clap would refuse such a token.
    /// Check an access token; prints its owner and expiry.
    Validate {
        /// The access token.
        #[arg(env = "AUTH_TOKEN", hide_env_values = true, allow_hyphen_values = true)]
        access_token: String,
    },
    /// Exchange a refresh token for a new token pair.
    Refresh {
        /// The refresh token.
        #[arg(
            env = "AUTH_REFRESH_TOKEN",
            hide_env_values = true,
            allow_hyphen_values = true
        )]
        refresh_token: String,
    },
    /// End the session of an access token.
    Logout {
        /// The access token (sent as `authorization: Bearer …`).
        #[arg(env = "AUTH_TOKEN", hide_env_values = true, allow_hyphen_values = true)]
        access_token: String,
    },
    /// Print security events as JSON lines until interrupted (needs an admin's access token).
    Stream {
        /// The access token of an admin (sent as `authorization: Bearer …`).
        #[arg(env = "AUTH_TOKEN", hide_env_values = true, allow_hyphen_values = true)]
        access_token: String,
        /// Only these event types (repeatable), e.g. `login-failed`; default all.
        #[arg(long = "type", value_enum)]
        types: Vec<EventTypeArg>,
    },
    /// gRPC health check (`grpc.health.v1.Health/Check`).
    Health {
        /// Service to check; empty means the server as a whole.
        #[arg(long, default_value = "")]
        service: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EventTypeArg {
    LoginSucceeded,
    LoginFailed,
    Logout,
    TokenRefreshed,
    RefreshTokenReuseDetected,
    SessionExpired,
    AccountThrottled,
}

impl From<EventTypeArg> for pb::EventType {
    fn from(t: EventTypeArg) -> Self {
        match t {
            EventTypeArg::LoginSucceeded => Self::LoginSucceeded,
            EventTypeArg::LoginFailed => Self::LoginFailed,
            EventTypeArg::Logout => Self::Logout,
            EventTypeArg::TokenRefreshed => Self::TokenRefreshed,
            EventTypeArg::RefreshTokenReuseDetected => Self::RefreshTokenReuseDetected,
            EventTypeArg::SessionExpired => Self::SessionExpired,
            EventTypeArg::AccountThrottled => Self::AccountThrottled,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Status(status)) => {
            // Machine-readable like the rest of the output: the gRPC code name and message.
            let error = json!({ "error": { "code": auth::layers::code_name(status.code()), "message": status.message() } });
            eprintln!("{error}");
            ExitCode::FAILURE
        }
        Err(Failure::Other(error)) => {
            eprintln!("auth-client: {error:#}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Status(tonic::Status),
    Other(anyhow::Error),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Self::Status(status)
    }
}

async fn connect(addr: &str) -> Result<Channel, Failure> {
    let endpoint = Endpoint::from_shared(addr.to_owned())
        .map_err(|e| Failure::Other(anyhow::anyhow!("invalid --addr {addr:?}: {e}")))?;
    endpoint
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot connect to {addr}: {e}")))
}

fn request<T>(
    message: T,
    timeout: Option<Duration>,
    bearer: Option<&str>,
) -> Result<tonic::Request<T>, Failure> {
    let mut request = tonic::Request::new(message);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    if let Some(token) = bearer {
        let value = format!("Bearer {token}").parse().map_err(|_| {
            Failure::Other(anyhow::anyhow!(
                "the token contains characters not allowed in metadata"
            ))
        })?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(request)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let channel = connect(&cli.addr).await?;
    let timeout = cli.timeout;
    let mut client = AuthServiceClient::new(channel.clone());
    let output = match cli.command {
        Command::Login { username, password } => {
            let message = pb::LoginRequest { username, password };
            let r = client
                .login(request(message, timeout, None)?)
                .await?
                .into_inner();
            json!({ "session_id": r.session_id, "user": user(r.user), "tokens": tokens(r.tokens) })
        }
        Command::Validate { access_token } => {
            let message = pb::ValidateTokenRequest { access_token };
            let r = client
                .validate_token(request(message, timeout, None)?)
                .await?
                .into_inner();
            json!({ "session_id": r.session_id, "user": user(r.user), "expires_at": time(r.expires_at) })
        }
        Command::Refresh { refresh_token } => {
            let message = pb::RefreshTokenRequest { refresh_token };
            let r = client
                .refresh_token(request(message, timeout, None)?)
                .await?
                .into_inner();
            json!({ "session_id": r.session_id, "tokens": tokens(r.tokens) })
        }
        Command::Logout { access_token } => {
            let message = pb::LogoutRequest {};
            let r = client
                .logout(request(message, timeout, Some(&access_token))?)
                .await?
                .into_inner();
            json!({ "session_id": r.session_id, "logged_out": true })
        }
        Command::Stream {
            access_token,
            types,
        } => {
            let types = types
                .into_iter()
                .map(|t| pb::EventType::from(t).into())
                .collect();
            let message = pb::StreamEventsRequest { types };
            let mut stream = client
                .stream_events(request(message, timeout, Some(&access_token))?)
                .await?
                .into_inner();
            while let Some(event) = stream.message().await? {
                println!("{}", event_json(&event));
            }
            return Ok(());
        }
        Command::Health { service } => {
            let mut health = HealthClient::new(channel);
            let message = HealthCheckRequest {
                service: service.clone(),
            };
            let r = health
                .check(request(message, timeout, None)?)
                .await?
                .into_inner();
            let status = ServingStatus::try_from(r.status).map_or("UNKNOWN", |s| s.as_str_name());
            json!({ "service": service, "status": status })
        }
    };
    println!("{output}");
    Ok(())
}

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

fn user(u: Option<pb::User>) -> Value {
    u.map_or(
        Value::Null,
        |u| json!({ "id": u.id, "name": u.name, "roles": u.roles }),
    )
}

fn tokens(t: Option<pb::TokenPair>) -> Value {
    t.map_or(Value::Null, |t| {
        json!({
            "token_type": t.token_type,
            "access_token": t.access_token,
            "access_token_expires_at": time(t.access_token_expires_at),
            "refresh_token": t.refresh_token,
            "refresh_token_expires_at": time(t.refresh_token_expires_at),
        })
    })
}

fn event_json(e: &pb::AuthEvent) -> Value {
    let kind = pb::EventType::try_from(e.r#type).map_or("UNKNOWN", |t| t.as_str_name());
    json!({
        "id": e.id,
        "type": kind,
        "username": e.username,
        "session_id": e.session_id,
        "occurred_at": time(e.occurred_at),
    })
}
