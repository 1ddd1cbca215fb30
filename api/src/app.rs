//! Assembling the routes and middleware, and serving them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use poem::http::Method;
use poem::listener::TcpAcceptor;
use poem::middleware::{Cors, Tracing};
use poem::{Endpoint, EndpointExt, Response, Route, Server};

use crate::error::{body_limit, problem_responses};
use crate::idempotency::Idempotency;
use crate::routes;
use crate::state::AppState;

/// The whole HTTP application: API, spec, docs, with CORS, body limit and problem errors.
pub fn app(state: AppState) -> impl Endpoint<Output = Response> + 'static {
    let api = routes::service();
    let spec_json = api.spec_endpoint();
    let spec_yaml = api.spec_endpoint_yaml();
    let docs = api.swagger_ui();
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
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "authorization",
            "content-type",
            "if-match",
            "idempotency-key",
        ])
        .expose_headers(["etag", "location"])
        .max_age(600);
    Route::new()
        .nest("/", api)
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml)
        .nest("/docs", docs)
        .around(problem_responses)
        .with(Idempotency)
        .with(body_limit(state.settings.max_body_bytes))
        .with(cors)
        .data(state)
        .with(Tracing)
        .map_to_response()
}

/// The spec the API serves at `/openapi.yaml`; the committed `openapi.yaml` must equal it.
pub fn spec_yaml() -> String {
    routes::service().spec_yaml()
}

/// Serves on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?)
        .run_with_graceful_shutdown(app(state), shutdown, Some(Duration::from_secs(10)))
        .await
}
