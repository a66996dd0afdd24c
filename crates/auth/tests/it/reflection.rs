//! Server reflection and health, so grpcurl and Kubernetes gRPC probes work without the .proto.

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use crate::support::start;

async fn reflect(
    channel: tonic::transport::Channel,
    request: MessageRequest,
) -> ServerReflectionResponse {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    responses.message().await.unwrap().unwrap()
}

#[tokio::test]
async fn reflection_lists_the_auth_and_health_services() {
    let server = start().await;
    let response = reflect(
        server.channel().await,
        MessageRequest::ListServices(String::new()),
    )
    .await;
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response: {response:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["mop.auth.v1.AuthService", "grpc.health.v1.Health"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    // grpcurl then asks for the file defining the service: it must resolve (including its import of
    // google/protobuf/timestamp.proto).
    let response = reflect(
        server.channel().await,
        MessageRequest::FileContainingSymbol("mop.auth.v1.AuthService".into()),
    )
    .await;
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("unexpected reflection response: {response:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
    let response = reflect(
        server.channel().await,
        MessageRequest::FileByFilename("google/protobuf/timestamp.proto".into()),
    )
    .await;
    assert!(
        matches!(
            response.message_response,
            Some(MessageResponse::FileDescriptorResponse(_))
        ),
        "{response:?}"
    );
}

#[tokio::test]
async fn health_reports_serving_for_the_server_and_the_service() {
    let server = start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "mop.auth.v1.AuthService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
}
