//! Starting a test server and talking to it.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use auth::{Auth, Clock, Config};
use proto::auth::v1 as pb;
use proto::auth::v1::auth_service_client::AuthServiceClient;
use testkit::server::{Bound, Server};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// A running server (the one testkit harness) and the clock a test steers it with.
pub struct TestServer {
    server: Server,
    pub clock: Clock,
}

impl Deref for TestServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}

/// Starts a server with `users` demo users, cheap hashing, and `tweak` applied to the config. The
/// state (users hashed, sessions) is built before the server serves, with the harness's token.
pub async fn start_with(users: u32, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config::for_tests(users);
    tweak(&mut config);
    let bound = Bound::new().await;
    let auth = Auth::new(&config, Clock::default(), bound.shutdown())
        .await
        .unwrap();
    let clock = auth.clock().clone();
    let server = bound.serve(|listener, _| auth.serve(listener));
    TestServer { server, clock }
}

/// Starts a server with 12 demo users and default settings.
pub async fn start() -> TestServer {
    start_with(12, |_| {}).await
}

impl TestServer {
    /// A channel on its own HTTP/2 connection.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn client(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel().await)
    }

    /// Logs demo user `n` in.
    pub async fn login(&self, n: u32) -> pb::LoginResponse {
        let (username, password) = auth::users::demo_credentials(n);
        self.client()
            .await
            .login(pb::LoginRequest { username, password })
            .await
            .unwrap()
            .into_inner()
    }

    /// Opens an event stream as the admin (`user-0001`), filtered to `types` (empty: all).
    pub async fn admin_stream(&self, types: &[pb::EventType]) -> tonic::Streaming<pb::AuthEvent> {
        let admin = self.login(1).await;
        let request = bearer(
            pb::StreamEventsRequest {
                types: types.iter().map(|&t| t.into()).collect(),
            },
            &access(&admin),
        );
        self.client()
            .await
            .stream_events(request)
            .await
            .unwrap()
            .into_inner()
    }
}

/// The access token of a login.
pub fn access(login: &pb::LoginResponse) -> String {
    login.tokens.as_ref().unwrap().access_token.clone()
}

/// The refresh token of a login.
pub fn refresh(login: &pb::LoginResponse) -> String {
    login.tokens.as_ref().unwrap().refresh_token.clone()
}

/// A request carrying `authorization: Bearer <token>`.
pub fn bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Asserts that `result` failed with `code`, returning the status for further checks.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// The next event on a stream, failing the test if none arrives within 10 s (a hang guard, not a
/// timing assertion).
pub async fn next_event(stream: &mut tonic::Streaming<pb::AuthEvent>) -> pb::AuthEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("no event within 10 s")
        .expect("stream failed")
        .expect("stream ended")
}

/// A well-formed token that was never issued.
pub const UNKNOWN_TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// What a raw HTTP/2 gRPC call returned: the status (from the headers of a trailers-only response or
/// from the trailers), its message, and the response's data bytes.
#[derive(Debug)]
pub struct RawReply {
    pub code: Option<Code>,
    pub message: String,
    pub http_status: u16,
}

/// One gRPC call over a bare HTTP/2 connection (hyper, no tonic client): for sending what tonic's
/// client would refuse to send (broken frames), or headers it would act on itself (`grpc-timeout`
/// makes tonic's client race the server's deadline).
pub async fn raw_call(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> RawReply {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        // from_bytes: lets tests send obs-text (non-ASCII) values, which `&str` conversion refuses.
        request = request.header(
            *name,
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let request = request.body(Full::new(bytes::Bytes::from(body))).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let http_status = response.status().as_u16();
    let head = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let source = if head.contains_key("grpc-status") {
        &head
    } else {
        &trailers
    };
    let code = source
        .get("grpc-status")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .map(Code::from_i32);
    let message = source
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    RawReply {
        code,
        message,
        http_status,
    }
}

/// A length-prefixed gRPC frame around an encoded message.
pub fn frame(message: &impl prost::Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&payload);
    out
}
