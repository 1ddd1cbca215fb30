//! Assembling the routes and middleware, and serving them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::listener::TcpAcceptor;
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, Server, get};

use crate::contract::contract;
use crate::error::{body_limit, problem_responses};
use crate::idempotency::Idempotency;
use crate::routes;
use crate::state::AppState;

/// The whole HTTP application: API, spec, docs, with CORS, body limit and problem errors.
pub fn app(state: AppState) -> impl Endpoint<Output = Response> + 'static {
    huashen_worker::telemetry::recorder();
    let api = routes::service();
    let contract = contract();
    let settings = Arc::clone(&state.settings);
    let cors = Cors::new()
        .allow_origins_fn(move |origin| {
            settings
                .cors_origins
                .iter()
                .any(|allowed| allowed == "*" || allowed == origin)
        })
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "accept",
            "authorization",
            "content-type",
            "if-match",
            "idempotency-key",
            "x-request-id",
        ])
        .expose_headers([
            "etag",
            "location",
            "retry-after",
            "idempotent-replayed",
            "x-request-id",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ])
        .max_age(600);
    Route::new()
        .nest("/", api)
        .at(
            "/openapi.json",
            document("application/json", contract.json()),
        )
        .at(
            "/openapi.yaml",
            document("application/yaml", contract.yaml()),
        )
        .at(
            "/docs",
            document("text/html; charset=utf-8", contract.docs_html()),
        )
        // The default target of the link in sign-in mails (`HUASHEN_SIGN_IN_URL`).
        .at(
            "/sign-in/:token",
            document("text/html; charset=utf-8", SIGN_IN_PAGE),
        )
        .around(problem_responses)
        .around(allow_methods)
        .with(Idempotency)
        .with(body_limit(
            state.settings.max_body_bytes,
            state.settings.max_import_bytes,
            state.settings.body_timeout,
        ))
        .around(crate::limits::limit_requests)
        .with(cors)
        .data(state)
        .around(crate::observe::observe)
        .map_to_response()
}

/// A page that signs in with the token in its URL once its button is pressed (a mail
/// scanner opening the link uses nothing up).
const SIGN_IN_PAGE: &str = include_str!("sign_in_page.html");

/// Serves a fixed document.
fn document(content_type: &'static str, body: &'static str) -> impl Endpoint<Output = Response> {
    get(make_sync(move |_| {
        Response::builder().content_type(content_type).body(body)
    }))
}

/// The spec the API serves at `/openapi.yaml`; the committed `openapi.yaml` must equal it.
pub fn spec_yaml() -> String {
    contract().yaml().to_owned()
}

/// A 405 names the methods the path has (RFC 9110 `Allow`).
async fn allow_methods<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut response = next.call(req).await?.into_response();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(methods) = contract().methods_of(&path)
    {
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    Ok(response)
}

/// Serves on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = crate::connections::HeadDeadline::new(
        TcpAcceptor::from_tokio(listener)?,
        state.settings.head_timeout,
    );
    Server::new_with_acceptor(acceptor)
        .idle_timeout(state.settings.idle_timeout)
        .run_with_graceful_shutdown(app(state), shutdown, Some(Duration::from_secs(10)))
        .await
}
