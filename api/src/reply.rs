//! JSON response bodies written straight from `serde::Serialize`, for large lists.
//!
//! poem-openapi's `Json` turns every object into a `serde_json::Value` (a map with an
//! owned key per field) before writing it; for a page of 200 items that is most of the
//! response's cost. `DirectJson` writes the same JSON without the detour, and keeps the
//! schema of `T`'s `Object` derive, so the contract does not change. Debug builds (the
//! tests and the contract checks) compare every body with what `Json` would have sent.

use chrono::{DateTime, Utc};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde::{Serialize, Serializer};

/// A `200` JSON response of `T`, written with `serde`, described by `T`'s schema.
pub struct DirectJson<T>(pub T);

impl<T: Type> Payload for DirectJson<T> {
    const CONTENT_TYPE: &'static str = Json::<T>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        Json::<T>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ToJSON + Serialize> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        debug_assert_eq!(
            serde_json::to_value(&self.0).ok(),
            self.0.to_json(),
            "a DirectJson body differs from its schema's JSON"
        );
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type(Self::CONTENT_TYPE)
                .body(body),
            Err(err) => poem::Error::from_string(
                err.to_string(),
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
            .into_response(),
        }
    }
}

impl<T: ToJSON + Serialize> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        Json::<T>::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Writes an instant as poem-openapi does (`DateTime::to_rfc3339`: `+00:00`, fractions
/// only when there are some), for `#[serde(serialize_with)]` on a `DirectJson` type.
pub fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}
