//! JSON response bodies written straight from `serde::Serialize`, for large lists.
//!
//! poem-openapi's `Json` turns every object into a `serde_json::Value` (a map with an
//! owned key per field) before writing it; for a page of 200 items that is most of the
//! response's cost. `DirectJson` writes the same JSON without the detour, and keeps the
//! schema of `T`'s `Object` derive, so the contract does not change. Debug builds (the
//! tests and the contract checks) compare every body with what `Json` would have sent.

use chrono::format::{Fixed, Item};
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
/// Written on the stack: a page of items has four instants each, and a `String` for
/// every one of them showed in the allocator's share of a list's time.
pub fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    // The item `to_rfc3339` writes, without its `String`.
    const RFC3339: [Item<'static>; 1] = [Item::Fixed(Fixed::RFC3339)];
    let mut text = StackText {
        bytes: [0; 40],
        len: 0,
    };
    match at.format_with_items(RFC3339.iter()).write_to(&mut text) {
        Ok(()) => serializer.serialize_str(text.as_str()),
        Err(_) => serializer.serialize_str(&at.to_rfc3339()),
    }
}

/// Text of at most 40 bytes (an RFC 3339 instant with nanoseconds takes 35).
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `str`s are ever written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    fn written(at: DateTime<Utc>) -> String {
        let mut out = Vec::new();
        super::rfc3339(&at, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn instants_are_written_as_to_rfc3339_writes_them() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 6, 8, 30, 0).unwrap();
        for at in [
            whole,
            whole + chrono::Duration::milliseconds(250),
            whole + chrono::Duration::nanoseconds(123_456_789),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            DateTime::<Utc>::MAX_UTC,
        ] {
            assert_eq!(written(at), format!("\"{}\"", at.to_rfc3339()));
        }
    }
}
