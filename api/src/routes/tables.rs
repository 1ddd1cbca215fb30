//! Answers as JSON or, with `Accept: text/csv`, as CSV that spreadsheet programs open
//! correctly with Chinese text (UTF-8 with a byte-order mark) and never run: a text
//! cell that a spreadsheet would take for a formula is written with a leading `'`.

use poem::IntoResponse;
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Json, Payload, PlainText};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use serde_json::Value;

use super::Result;
use crate::error::ApiError;
use crate::imports::is_formula;

pub const CSV: &str = "text/csv; charset=utf-8";

/// `T` as JSON, or its rows as CSV.
pub enum JsonOrCsv<T: ParseFromJSON + ToJSON + Send + Sync> {
    Json(Json<T>),
    Csv(String),
}

impl<T: ParseFromJSON + ToJSON + Send + Sync> IntoResponse for JsonOrCsv<T> {
    fn into_response(self) -> poem::Response {
        match self {
            Self::Json(json) => json.into_response(),
            Self::Csv(text) => poem::Response::builder().content_type(CSV).body(text),
        }
    }
}

/// One `200` response with two media types: strict parsers refuse a status twice.
impl<T: ParseFromJSON + ToJSON + Send + Sync> ApiResponse for JsonOrCsv<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "JSON, or with `Accept: text/csv` the rows as CSV (UTF-8 with a \
                              byte-order mark, a header row, one row per line; a text cell \
                              that would start a formula begins with `'`).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: <Json<T> as Payload>::schema_ref(),
                    },
                    MetaMediaType {
                        content_type: CSV,
                        schema: <PlainText<String> as Payload>::schema_ref(),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        <Json<T> as Payload>::register(registry);
    }
}

/// Whether the client asked for CSV.
pub fn wants_csv(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/csv"))
}

/// A text cell as written: a would-be formula gets a leading `'`.
pub fn cell(text: &str) -> String {
    if is_formula(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// A JSON value as a cell: nothing for null, lists joined with `;`.
pub fn value_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => cell(text),
        Value::Array(items) => cell(
            &items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(";"),
        ),
        other => other.to_string(),
    }
}

/// The CSV text: the byte-order mark, the header row, then the rows.
pub fn write(columns: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Result<String> {
    let failed = |e: csv::Error| ApiError::Internal(e.into());
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    writer.write_record(columns).map_err(failed)?;
    for row in rows {
        writer.write_record(&row).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(format!("\u{feff}{text}"))
}
