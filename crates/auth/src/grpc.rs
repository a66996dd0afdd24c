//! The `mop.auth.v1.AuthService` implementation: request validation, conversion between protobuf
//! messages and [`State`] operations, the bearer-token interceptor and the event stream.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use proto::auth::v1 as pb;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::error::AuthError;
use crate::events::{Event, EventKind};
use crate::state::{LoggedIn, State};
use crate::tokens::TokenDigest;
use crate::users::{ADMIN_ROLE, User};

/// The gRPC face of [`State`]; cheap to clone (tonic clones it per connection).
#[derive(Debug, Clone)]
pub struct AuthApi {
    state: Arc<State>,
}

impl AuthApi {
    /// Wraps the shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

/// What the [`BearerInterceptor`] found in `authorization` metadata, for handlers that need a caller.
#[derive(Debug, Clone)]
enum Bearer {
    Token(TokenDigest),
    Malformed,
}

/// Interceptor in front of every AuthService RPC: refuses new calls once shutdown has begun
/// (UNAVAILABLE, so clients retry elsewhere) and parses `authorization: Bearer <token>` metadata.
///
/// It only *parses*: an interceptor cannot see which RPC is being called, and only Logout and
/// StreamEvents need a caller, so those handlers call `AuthApi::caller` to authenticate.
#[derive(Debug, Clone)]
pub struct BearerInterceptor {
    state: Arc<State>,
}

impl BearerInterceptor {
    /// An interceptor for the given state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

impl tonic::service::Interceptor for BearerInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if self.state.shutdown.is_cancelled() {
            return Err(AuthError::ShuttingDown.into());
        }
        let bearer = request.metadata().get("authorization").map(|value| {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            match token.map(TokenDigest::parse) {
                Some(Ok(digest)) => Bearer::Token(digest),
                _ => Bearer::Malformed,
            }
        });
        if let Some(bearer) = bearer {
            request.extensions_mut().insert(bearer);
        }
        Ok(request)
    }
}

impl AuthApi {
    /// Authenticates the caller from the bearer token the interceptor parsed.
    fn caller<T>(&self, request: &Request<T>) -> Result<crate::sessions::Validated, AuthError> {
        match request.extensions().get::<Bearer>() {
            None => Err(AuthError::MissingAuthorization),
            Some(Bearer::Malformed) => Err(AuthError::MalformedAuthorization),
            Some(Bearer::Token(digest)) => self.state.validate_digest(digest),
        }
    }

    fn tokens(&self, logged_in: LoggedIn) -> (pb::TokenPair, String, pb::User) {
        let issued = logged_in.issued;
        let pair = pb::TokenPair {
            access_token_expires_at: Some(self.state.wall(issued.access_expires).into()),
            refresh_token_expires_at: Some(self.state.wall(issued.refresh_expires).into()),
            access_token: issued.access_token.into_string(),
            refresh_token: issued.refresh_token.into_string(),
            token_type: "Bearer".to_owned(),
        };
        (pair, issued.session_id, user(&logged_in.user))
    }
}

fn user(user: &User) -> pb::User {
    pb::User {
        id: user.id.clone(),
        name: user.name.clone(),
        roles: user.roles.clone(),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::AuthEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::auth_service_server::AuthService for AuthApi {
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let req = request.into_inner();
        let logged_in = self.state.login(&req.username, &req.password).await?;
        let (tokens, session_id, user) = self.tokens(logged_in);
        Ok(Response::new(pb::LoginResponse {
            tokens: Some(tokens),
            session_id,
            user: Some(user),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = self.caller(&request)?;
        self.state.logout(&caller)?;
        Ok(Response::new(pb::LogoutResponse {
            session_id: caller.session_id,
        }))
    }

    async fn validate_token(
        &self,
        request: Request<pb::ValidateTokenRequest>,
    ) -> Result<Response<pb::ValidateTokenResponse>, Status> {
        let token = &request.get_ref().access_token;
        let valid = self.state.validate("access_token", token)?;
        Ok(Response::new(pb::ValidateTokenResponse {
            user: Some(user(&valid.user)),
            session_id: valid.session_id,
            expires_at: Some(self.state.wall(valid.expires).into()),
        }))
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        let logged_in = self.state.refresh(&request.get_ref().refresh_token)?;
        let (tokens, session_id, _) = self.tokens(logged_in);
        Ok(Response::new(pb::RefreshTokenResponse {
            tokens: Some(tokens),
            session_id,
        }))
    }

    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let caller = self.caller(&request)?;
        if !caller.user.has_role(ADMIN_ROLE) {
            return Err(AuthError::MissingRole(ADMIN_ROLE).into());
        }
        let mut filter = HashSet::new();
        for &raw in &request.get_ref().types {
            match pb::EventType::try_from(raw).ok().and_then(kind_of) {
                Some(kind) => filter.insert(kind),
                None => {
                    return Err(Status::invalid_argument(format!(
                        "types: {raw} is not a valid event type"
                    )));
                }
            };
        }
        // A streaming call's deadline covers the whole stream, not just the response headers, so the
        // stream itself watches it (the server layer can only time out the headers).
        let deadline = crate::layers::grpc_timeout(request.metadata().as_ref())
            .map(|timeout| Instant::now() + timeout);
        let subscription = Subscription {
            rx: self.state.events.subscribe(),
            filter,
            state: Arc::clone(&self.state),
            deadline,
            done: false,
        };
        tracing::info!(user = %caller.user.name, "event stream opened");
        Ok(Response::new(Box::pin(subscription.into_stream())))
    }
}

/// One StreamEvents subscriber.
struct Subscription {
    rx: tokio::sync::broadcast::Receiver<Event>,
    filter: HashSet<EventKind>,
    state: Arc<State>,
    deadline: Option<Instant>,
    done: bool,
}

impl Subscription {
    /// Events until the client goes away, falls behind, hits its deadline, or the server shuts down.
    /// Every ending other than the client leaving is reported with a status, so the client knows why.
    fn into_stream(self) -> impl Stream<Item = Result<pb::AuthEvent, Status>> + Send {
        futures::stream::unfold(self, |mut sub| async move {
            if sub.done {
                return None;
            }
            let item = sub.next().await;
            sub.done = item.as_ref().is_none_or(Result::is_err);
            item.map(|item| (item, sub))
        })
    }

    async fn next(&mut self) -> Option<Result<pb::AuthEvent, Status>> {
        let deadline = self.deadline;
        let expired = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        loop {
            tokio::select! {
                () = self.state.shutdown.cancelled() => {
                    return Some(Err(Status::unavailable("server is shutting down; reconnect to another instance")));
                }
                () = &mut expired => {
                    return Some(Err(Status::deadline_exceeded("stream deadline exceeded")));
                }
                received = self.rx.recv() => match received {
                    Ok(event) if self.filter.is_empty() || self.filter.contains(&event.kind) => {
                        return Some(Ok(to_proto(event)));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "event stream subscriber lagged; disconnecting it");
                        return Some(Err(Status::resource_exhausted(format!(
                            "lagged by {missed} events; reconnect to resume"
                        ))));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

fn kind_of(t: pb::EventType) -> Option<EventKind> {
    Some(match t {
        pb::EventType::Unspecified => return None,
        pb::EventType::LoginSucceeded => EventKind::LoginSucceeded,
        pb::EventType::LoginFailed => EventKind::LoginFailed,
        pb::EventType::Logout => EventKind::Logout,
        pb::EventType::TokenRefreshed => EventKind::TokenRefreshed,
        pb::EventType::RefreshTokenReuseDetected => EventKind::RefreshTokenReuseDetected,
        pb::EventType::SessionExpired => EventKind::SessionExpired,
        pb::EventType::AccountThrottled => EventKind::AccountThrottled,
    })
}

fn to_proto(event: Event) -> pb::AuthEvent {
    let kind = match event.kind {
        EventKind::LoginSucceeded => pb::EventType::LoginSucceeded,
        EventKind::LoginFailed => pb::EventType::LoginFailed,
        EventKind::Logout => pb::EventType::Logout,
        EventKind::TokenRefreshed => pb::EventType::TokenRefreshed,
        EventKind::RefreshTokenReuseDetected => pb::EventType::RefreshTokenReuseDetected,
        EventKind::SessionExpired => pb::EventType::SessionExpired,
        EventKind::AccountThrottled => pb::EventType::AccountThrottled,
    };
    pb::AuthEvent {
        id: event.id,
        r#type: kind.into(),
        username: event.username,
        session_id: event.session_id.unwrap_or_default(),
        occurred_at: Some(event.at.into()),
    }
}
