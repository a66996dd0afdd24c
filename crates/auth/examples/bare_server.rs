//! Benchmark baseline: a bare tonic server whose `ValidateToken` answers a fixed response of the same
//! shape as the real one — no layers, no interceptor, no token lookup, no logging. `just bench-auth`
//! compares the real service's throughput against this to show what the service itself costs.
//!
//! Usage: `cargo run --release -p auth --example bare_server -- 127.0.0.1:50062`

use proto::auth::v1 as pb;
use proto::auth::v1::auth_service_server::{AuthService, AuthServiceServer};
use tonic::{Request, Response, Status};

#[derive(Debug, Default)]
struct Bare;

type EventStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::AuthEvent, Status>> + Send>>;

#[tonic::async_trait]
impl AuthService for Bare {
    async fn validate_token(
        &self,
        request: Request<pb::ValidateTokenRequest>,
    ) -> Result<Response<pb::ValidateTokenResponse>, Status> {
        // Same work as the real handler minus the store: read the field, build the answer.
        let _ = request.into_inner().access_token;
        Ok(Response::new(pb::ValidateTokenResponse {
            user: Some(pb::User {
                id: "00000000-0000-4000-8000-000000000001".into(),
                name: "user-0001".into(),
                roles: vec!["user".into(), "admin".into()],
            }),
            session_id: "4a0f3c0e-8f43-4b44-9a57-0d1f2a3b4c5d".into(),
            expires_at: Some(std::time::SystemTime::now().into()),
        }))
    }

    async fn login(
        &self,
        _: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        Err(Status::unimplemented("baseline serves ValidateToken only"))
    }

    async fn logout(
        &self,
        _: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        Err(Status::unimplemented("baseline serves ValidateToken only"))
    }

    async fn refresh_token(
        &self,
        _: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        Err(Status::unimplemented("baseline serves ValidateToken only"))
    }

    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        _: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        Err(Status::unimplemented("baseline serves ValidateToken only"))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:50062".into())
        .parse()?;
    tonic::transport::Server::builder()
        .add_service(AuthServiceServer::new(Bare))
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
