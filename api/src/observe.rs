//! What each request leaves behind: an id (`X-Request-Id`, taken from the request
//! when it is a sane value, else made), a log span carrying that id, one log line
//! when it is answered, and the HTTP metrics. Paths are not logged, since some carry
//! one-time tokens; the operation id says what was asked.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::error::error_response;

pub const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being answered, if any.
pub fn request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// A request id a client may choose: 1–128 characters of `A–Z a–z 0–9 - _ . :`.
fn sane(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The outermost middleware: ids, logs and metrics for every request.
pub async fn observe<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned);
    let method = req.method().clone();
    let _answering = crate::connections::answering(req.remote_addr().as_socket_addr().copied());
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let started = Instant::now();
    let in_flight = metrics::gauge!("huashen_http_requests_in_flight");
    in_flight.increment(1.0);
    let answered = CURRENT
        .scope(id.clone(), next.call(req))
        .instrument(span.clone())
        .await;
    in_flight.decrement(1.0);
    let mut response = match answered {
        Ok(response) => response.into_response(),
        Err(err) => CURRENT.sync_scope(id.clone(), || error_response(err)),
    };
    let operation = response
        .data::<OperationId>()
        .map_or("other", |operation| operation.0);
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    span.in_scope(|| {
        tracing::info!(
            operation,
            status,
            elapsed_ms = (elapsed * 1000.0).round() as u64,
            "answered"
        );
    });
    metrics::counter!(
        "huashen_http_requests_total",
        "operation" => operation,
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("huashen_http_request_duration_seconds", "operation" => operation)
        .record(elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn sane_ids() {
        for id in ["abc", "0193a1b2-c3d4", "trace:42.1_x"] {
            assert!(sane(id), "{id}");
        }
        let long = "a".repeat(129);
        for id in ["", "a b", "a\nb", "é", long.as_str(), "<script>"] {
            assert!(!sane(id), "{id:?}");
        }
    }
}
