//! `Idempotency-Key` on `POST`: a retried request gets the first response again
//! instead of acting twice.
//!
//! Keys are scoped to the API key that sent them and kept 24 hours. The same key with
//! another request (method, path or body) is a 422; a replay while the first request
//! is still running is a 409. Only a success is kept: a refused request (401, 403,
//! 400, 422, 409…) or a failed one (5xx) did nothing, so sending it again, with the
//! same key or another body, is answered afresh.

use chrono::Duration;
use entities::idempotency_key;
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ApiError, error_response};
use crate::state::AppState;
use crate::time::now;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
pub const MAX_KEY_CHARS: usize = 255;
/// Visible ASCII, no spaces: what a key may hold, as the contract states it.
pub const KEY_PATTERN: &str = "^[!-~]+$";
const KEPT_FOR_HOURS: i64 = 24;

pub struct Idempotency;

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        IdempotencyEndpoint { inner }
    }
}

pub struct IdempotencyEndpoint<E> {
    inner: E,
}

/// What is kept of a response to replay it.
#[derive(Serialize, Deserialize)]
struct SavedResponse {
    content_type: Option<String>,
    etag: Option<String>,
    body: String,
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match self.handle(req).await {
            Ok(response) => Ok(response),
            Err(err) => Ok(error_response(err.into())),
        }
    }
}

impl<E: Endpoint> IdempotencyEndpoint<E> {
    async fn handle(&self, mut req: Request) -> Result<Response, ApiError> {
        // A value that is not visible ASCII reads as empty, and is refused below.
        let key = req
            .headers()
            .get(HEADER)
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        let (Some(key), true) = (key, req.method() == Method::POST) else {
            return self.pass(req).await;
        };
        let Some(state) = req.data::<AppState>().cloned() else {
            return self.pass(req).await;
        };
        let token = req
            .header("authorization")
            .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned));
        let caller_key = match token {
            Some(token) => state.keys.find(&state.db, &token).await?,
            None => None,
        };
        // Without a valid key the handler answers 401; there is nothing to scope by.
        let Some(caller_key) = caller_key else {
            return self.pass(req).await;
        };
        if key.is_empty()
            || key.chars().count() > MAX_KEY_CHARS
            || !key.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(ApiError::malformed(
                "Idempotency-Key",
                "pattern",
                "the key has 1 to 255 visible ASCII characters",
            ));
        }

        let body = req
            .take_body()
            .into_bytes()
            .await
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let request_hash = {
            let mut hash = Sha256::new();
            hash.update(req.method().as_str());
            hash.update(b"\n");
            hash.update(req.uri().path_and_query().map_or("", |p| p.as_str()));
            hash.update(b"\n");
            hash.update(&body);
            entities::token::hex(&hash.finalize())
        };
        req.set_body(body);

        let now = now();
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::CreatedAt.lt(now - Duration::hours(KEPT_FOR_HOURS)))
            .exec(&state.db)
            .await?;
        let claim = idempotency_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            api_key_id: Set(caller_key.id),
            key: Set(key.clone()),
            request_hash: Set(request_hash.clone()),
            response_status: Set(None),
            response_body: Set(None),
            created_at: Set(now),
        }
        .insert(&state.db)
        .await;
        let claim = match claim.map_err(ApiError::from) {
            Ok(claim) => claim,
            Err(ApiError::Duplicate) => {
                return replay(&state, caller_key.id, &key, &request_hash).await;
            }
            Err(other) => return Err(other),
        };

        let response = self.inner.call(req).await.map(IntoResponse::into_response);
        let response = match response {
            Ok(response) => response,
            Err(err) => error_response(err),
        };
        let status = response.status();
        let content_type = header_text(&response, "content-type");
        let etag = header_text(&response, "etag");
        let (parts, body) = response.into_parts();
        let body = body.into_vec().await.unwrap_or_default();
        if !status.is_success() {
            idempotency_key::Entity::delete_by_id(claim.id)
                .exec(&state.db)
                .await?;
        } else {
            let saved = SavedResponse {
                content_type,
                etag,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let mut active: idempotency_key::ActiveModel = claim.into();
            active.response_status = Set(Some(i32::from(status.as_u16())));
            active.response_body = Set(Some(serde_json::to_string(&saved).unwrap_or_default()));
            active.update(&state.db).await?;
        }
        Ok(Response::from_parts(parts, body.into()))
    }

    async fn pass(&self, req: Request) -> Result<Response, ApiError> {
        Ok(match self.inner.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => error_response(err),
        })
    }
}

fn header_text(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Answers a request whose key was seen before.
async fn replay(
    state: &AppState,
    api_key_id: Uuid,
    key: &str,
    request_hash: &str,
) -> Result<Response, ApiError> {
    let first = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::ApiKeyId.eq(api_key_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::conflict("the Idempotency-Key is being reused; retry the request")
        })?;
    if first.request_hash != request_hash {
        return Err(ApiError::Unprocessable(
            "this Idempotency-Key was used for a different request".to_owned(),
        ));
    }
    let (Some(status), Some(saved)) = (first.response_status, first.response_body) else {
        return Err(ApiError::conflict(
            "a request with this Idempotency-Key is still in progress",
        ));
    };
    let saved: SavedResponse =
        serde_json::from_str(&saved).map_err(|e| ApiError::Internal(e.into()))?;
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK))
        .header(REPLAYED_HEADER, HeaderValue::from_static("true"));
    if let Some(content_type) = saved.content_type {
        response = response.header("content-type", content_type);
    }
    if let Some(etag) = saved.etag {
        response = response.header("etag", etag);
    }
    Ok(response.body(saved.body))
}
