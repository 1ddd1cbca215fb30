//! JSON response bodies written straight from `serde::Serialize`, for large lists.
//!
//! poem-openapi's `Json` turns every object into a `serde_json::Value` (a map with an
//! owned key per field) before writing it; for a page of 200 items that is most of the
//! response's cost. `DirectJson` writes the same JSON without the detour, and keeps the
//! schema of `T`'s `Object` derive, so the contract does not change. Debug builds (the
//! tests and the contract checks) compare every body with what `Json` would have sent.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde::{Serialize, Serializer};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The size of the last body written: the next one starts with room for as much (up to
/// 64 KiB), so a page of items is not copied to a new buffer each time it outgrows one.
static LAST_BODY: AtomicUsize = AtomicUsize::new(0);

impl<T: ToJSON + Serialize> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        debug_assert_eq!(
            serde_json::to_value(&self.0).ok(),
            self.0.to_json(),
            "a DirectJson body differs from its schema's JSON"
        );
        let mut body = Vec::with_capacity(LAST_BODY.load(Ordering::Relaxed).clamp(128, 1 << 16));
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => {
                LAST_BODY.store(body.len(), Ordering::Relaxed);
                Response::builder()
                    .content_type(Self::CONTENT_TYPE)
                    .body(body)
            }
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
/// Written by hand on the stack: a page of items has four instants each, and chrono's
/// general formatter took a tenth of a list's time.
pub fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match Rfc3339::of(at) {
        Some(text) => serializer.serialize_str(text.as_str()),
        // A year beyond four digits, or a leap second: as chrono writes them.
        None => serializer.serialize_str(&at.to_rfc3339()),
    }
}

/// An instant as `to_rfc3339` writes it, for the years 0–9999 outside leap seconds:
/// at most `2026-12-06T08:30:00.123456789+00:00`, 35 bytes.
struct Rfc3339 {
    bytes: [u8; 35],
    len: usize,
}

impl Rfc3339 {
    fn of(at: &DateTime<Utc>) -> Option<Self> {
        let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
        let nanos = at.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        let mut text = Self {
            bytes: [0; 35],
            len: 0,
        };
        text.digits(year, 4);
        text.push(b"-");
        text.digits(at.month(), 2);
        text.push(b"-");
        text.digits(at.day(), 2);
        text.push(b"T");
        text.digits(at.hour(), 2);
        text.push(b":");
        text.digits(at.minute(), 2);
        text.push(b":");
        text.digits(at.second(), 2);
        // Milli-, micro- or nanoseconds, the fewest digits that hold them, as chrono's
        // `SecondsFormat::AutoSi`.
        if nanos != 0 {
            text.push(b".");
            if nanos.is_multiple_of(1_000_000) {
                text.digits(nanos / 1_000_000, 3);
            } else if nanos.is_multiple_of(1_000) {
                text.digits(nanos / 1_000, 6);
            } else {
                text.digits(nanos, 9);
            }
        }
        text.push(b"+00:00");
        Some(text)
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// `value`'s last `width` decimal digits, zero-padded.
    fn digits(&mut self, mut value: u32, width: usize) {
        for place in self.bytes[self.len..self.len + width].iter_mut().rev() {
            *place = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
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

    /// Instants spread over the years 0–9999 and before, with whole seconds and every
    /// kind of fraction, are written exactly as `to_rfc3339` writes them.
    #[test]
    fn a_sweep_of_instants_is_written_as_to_rfc3339_writes_them() {
        let earliest = Utc
            .with_ymd_and_hms(-50, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        let latest = Utc
            .with_ymd_and_hms(10_050, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        for i in 0..20_000u64 {
            let seconds = earliest + (next() % (latest - earliest) as u64) as i64;
            let nanos = match i % 4 {
                0 => 0,
                1 => (next() % 1_000) as u32 * 1_000_000,
                2 => (next() % 1_000_000) as u32 * 1_000,
                _ => (next() % 1_000_000_000) as u32,
            };
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            assert_eq!(written(at), format!("\"{}\"", at.to_rfc3339()));
        }
    }
}
