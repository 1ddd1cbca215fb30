//! `/health/live` and `/health/ready`

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::Tag;
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

impl poem_openapi::types::Example for HealthStatus {
    fn example() -> Self {
        Self {
            status: "ok".to_owned(),
        }
    }
}
