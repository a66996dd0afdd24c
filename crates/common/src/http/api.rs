//! The one way a MOP REST service turns its documented routes into a router and an OpenAPI document.
//!
//! A service writes `fn api() -> OpenApiRouter<AppState>` (every route through `utoipa_axum::routes!`,
//! so no route can exist without its description) and hands it to [`router`] to serve or to
//! [`document`] to describe. Both go through [`assemble`], so the document served on `/openapi.json`,
//! the one `<bin> openapi` prints and the routes really served cannot drift apart. [`document`] needs
//! no state: describing the API never touches a database, cache or broker.
//!
//! What is added here, identically for every service: the probes (`/health`, `/ready`), `/openapi.json`
//! itself, the responses of the shared layers on every operation (429, 503, 413, 415, 400 — see
//! [`super::openapi`]), and the standard middleware ([`super::layers::apply`]).

use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use tokio_util::sync::CancellationToken;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::health::{self, Health};
use super::layers::{self, HttpArgs, PROBE_PATHS};

/// The complete router of a service: `api` with its `state`, the probes answering from `health`,
/// `/openapi.json`, and the standard layers.
pub fn router<S>(api: OpenApiRouter<S>, state: S, health: Health, http: &HttpArgs) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    let (api, probes, doc) = assemble(api.with_state(state), health);
    // Serialised once: the document cannot change while the process runs.
    let doc: Arc<str> = doc.to_pretty_json().unwrap_or_default().into();
    layers::apply(api, probes.with_state(doc), http)
}

/// The OpenAPI document of `api`, exactly as [`router`] serves it on `/openapi.json`.
pub fn document<S>(api: OpenApiRouter<S>) -> OpenApi
where
    S: Clone + Send + Sync + 'static,
{
    // The routes are dropped unused: only their descriptions are wanted, so no state is needed. The
    // readiness check is never called either.
    let (api, doc) = api.split_for_parts();
    drop(api);
    let (_, probe_doc) = probes(Health::always_ready(CancellationToken::new())).split_for_parts();
    finish(doc, probe_doc)
}

/// The route templates a service serves (`/products/{id}`, …): the document's paths, sorted. This is
/// the list OBI's `routes.patterns` must cover.
pub fn route_templates(doc: &OpenApi) -> Vec<String> {
    doc.paths.paths.keys().cloned().collect()
}

/// `<bin> openapi`: writes the document to stdout as pretty JSON. (Through `io::Write` rather than
/// `println!`, which the workspace's lints keep out of services.)
/// A closed pipe (`catalog openapi | head`) is the reader's choice, not an error.
pub fn print(doc: &OpenApi) -> anyhow::Result<()> {
    let json = doc.to_pretty_json()?;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{json}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The API router (state applied), the probe router (still waiting for the serialised document) and
/// the finished document describing both.
fn assemble(api: OpenApiRouter, health: Health) -> (Router, Router<Arc<str>>, OpenApi) {
    let (api, doc) = api.split_for_parts();
    let (probes, probe_doc) = probes(health).split_for_parts();
    (api, probes, finish(doc, probe_doc))
}

fn probes(health: Health) -> OpenApiRouter<Arc<str>> {
    health::routes(health).routes(routes!(openapi_json))
}

fn finish(mut doc: OpenApi, probe_doc: OpenApi) -> OpenApi {
    doc.merge(probe_doc);
    // The layer responses reference the shared `Problem` schema; make sure it is there even when no
    // handler of the service mentions it.
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in super::problem::schemas() {
        components.schemas.entry(name).or_insert(schema);
    }
    super::openapi::add_layer_responses(&mut doc, PROBE_PATHS);
    doc
}

/// This OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
async fn openapi_json(State(doc): State<Arc<str>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}

/// The check every service's tests run on its router: `app` serves `doc` on `/openapi.json`, and on
/// every documented path it routes exactly the documented methods. Returns what is wrong, one line each.
///
/// No handler runs: each path is asked with `OPTIONS`, which no MOP route serves, so axum answers from
/// its method-not-allowed fallback with an `Allow` header listing the methods really routed there.
/// No backend is needed and nothing is created or deleted. (Paths the document lacks cannot be
/// enumerated; [`router`] makes them impossible by building routes and document from one list.)
pub async fn check_routes(app: Router, doc: &OpenApi) -> Vec<String> {
    use tower::ServiceExt;

    check_served(doc, |method, uri| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(request(method, &uri))
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let allow = response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Answer {
                status,
                allow,
                body: body.to_vec(),
            })
        }
    })
    .await
}

/// What [`check_served`] needs of one answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The `Allow` header.
    pub allow: Option<String>,
    pub body: Vec<u8>,
}

/// [`check_routes`] through any client: `send(method, path)` performs the request (over a socket, for
/// a service whose router a test cannot build on its own).
pub async fn check_served<F, Fut>(doc: &OpenApi, send: F) -> Vec<String>
where
    F: Fn(Method, String) -> Fut,
    Fut: Future<Output = Result<Answer, String>>,
{
    let mut problems = Vec::new();
    match send(Method::GET, "/openapi.json".to_owned()).await {
        Ok(answer) => {
            let served: serde_json::Value =
                serde_json::from_slice(&answer.body).unwrap_or_default();
            if served != serde_json::to_value(doc).unwrap_or_default() {
                problems.push("/openapi.json does not serve the document".to_owned());
            }
        }
        Err(e) => problems.push(format!("/openapi.json: {e}")),
    }
    for (path, item) in &doc.paths.paths {
        // `{id}` → `1`: any value reaches the route, and no handler runs to judge it.
        let uri: Vec<&str> = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect();
        let mut documented: Vec<&str> = [
            ("GET", item.get.is_some()),
            ("HEAD", item.get.is_some()), // axum serves HEAD wherever it serves GET
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("PATCH", item.patch.is_some()),
        ]
        .into_iter()
        .filter_map(|(m, yes)| yes.then_some(m))
        .collect();
        documented.sort_unstable();
        let routed = match send(Method::OPTIONS, uri.join("/")).await {
            Ok(a) if a.status == StatusCode::METHOD_NOT_ALLOWED => {
                let mut m: Vec<String> = a
                    .allow
                    .unwrap_or_default()
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .collect();
                m.sort_unstable();
                m
            }
            Ok(a) => {
                problems.push(format!("OPTIONS {path}: {} instead of 405", a.status));
                continue;
            }
            Err(e) => {
                problems.push(format!("OPTIONS {path}: {e}"));
                continue;
            }
        };
        if routed != documented {
            problems.push(format!(
                "{path}: routes {routed:?} but documents {documented:?}"
            ));
        }
    }
    problems
}

fn request(method: Method, uri: &str) -> axum::extract::Request {
    let mut req = axum::extract::Request::new(axum::body::Body::empty());
    *req.method_mut() = method;
    *req.uri_mut() = uri.parse().unwrap_or_default();
    req
}
