//! `/health/live`, `/health/ready` and `/metrics`

use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{Result, Tag};
use crate::auth::StaffKey;
use crate::state::AppState;

#[derive(Object)]
#[oai(example)]
pub struct HealthStatus {
    /// `ok`, or what is wrong.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Ready to serve: the database answers.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
    /// Not ready: the database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<HealthStatus>),
}

pub struct HealthApi;

#[OpenApi(prefix_path = "/health", tag = "Tag::Health")]
impl HealthApi {
    /// The process is up.
    #[oai(path = "/live", method = "get", operation_id = "getLiveness")]
    async fn live(&self) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: "ok".to_owned(),
        })
    }

    /// The process can serve requests: the database answers.
    #[oai(path = "/ready", method = "get", operation_id = "getReadiness")]
    async fn ready(&self, state: poem::web::Data<&AppState>) -> ReadyResponse {
        match state.db.ping().await {
            Ok(()) => ReadyResponse::Ready(Json(HealthStatus {
                status: "ok".to_owned(),
            })),
            Err(err) => {
                tracing::warn!(error = %err, "database ping failed");
                ReadyResponse::Unavailable(Json(HealthStatus {
                    status: "database unavailable".to_owned(),
                }))
            }
        }
    }
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// The Prometheus text format.
    #[oai(
        status = 200,
        content_type = "text/plain; version=0.0.4; charset=utf-8"
    )]
    Ok(PlainText<String>),
}

pub struct MetricsApi;

#[OpenApi(tag = "Tag::Health")]
impl MetricsApi {
    /// Metrics for Prometheus (admin keys): requests by operation and status, latency,
    /// the database pool, sign-ups, the mail ledger and queue, webhook deliveries. A
    /// deployment that sets `HUASHEN_METRICS_BIND` also serves them there without a key.
    #[oai(path = "/metrics", method = "get", operation_id = "getMetrics")]
    async fn metrics(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
    ) -> Result<MetricsResponse> {
        caller.require_admin()?;
        Ok(MetricsResponse::Ok(PlainText(
            huashen_worker::telemetry::render(&state.db).await,
        )))
    }
}

impl poem_openapi::types::Example for HealthStatus {
    fn example() -> Self {
        Self {
            status: "ok".to_owned(),
        }
    }
}
