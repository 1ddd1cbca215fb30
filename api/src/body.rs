//! JSON request bodies parsed with serde, so that a missing or mistyped field is
//! answered with a validation problem naming that field; then checked against the
//! bounds the type declares (`#[oai(validator(...))]`), the same ones the contract shows.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, FieldError};

/// A JSON body of type `T`; its schema comes from `T`'s `Object` derive.
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json")
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON + DeserializeOwned + Send> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        parse(&data).map(JsonBody).map_err(poem::Error::from)
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON + DeserializeOwned + Send);

fn parse<T: DeserializeOwned + ParseFromJSON>(data: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(data);
    let json: serde_json::Value =
        serde::Deserialize::deserialize(&mut deserializer).map_err(|err| describe(None, err))?;
    deserializer.end().map_err(|_| {
        ApiError::BadRequest("the request body has data after its JSON value".to_owned())
    })?;
    parse_value(json)
}

/// `json` as a `T`, held to the same shape and bounds as a request body of that type
/// (an imported row is held to them too).
pub fn parse_value<T: DeserializeOwned + ParseFromJSON>(json: Value) -> Result<T, ApiError> {
    let value = serde_path_to_error::deserialize(&json).map_err(|err| {
        let path = err.path().to_string();
        describe(
            if path == "." { None } else { Some(path) },
            err.into_inner(),
        )
    })?;
    let mut violations = Vec::new();
    check_bounds(
        &json,
        &T::schema_ref(),
        &schemas_of::<T>(),
        None,
        &mut violations,
    );
    if !violations.is_empty() {
        return Err(ApiError::Malformed(violations));
    }
    // A validator the walk above does not know is still enforced here.
    T::parse_from_json(Some(json)).map_err(|err| out_of_bounds(&err.into_message()))?;
    Ok(value)
}

/// The schemas `T` refers to, registered once per type rather than once per request.
fn schemas_of<T: Type>() -> Arc<Registry> {
    static REGISTRIES: LazyLock<Mutex<HashMap<&'static str, Arc<Registry>>>> =
        LazyLock::new(Mutex::default);
    let mut registries = REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        registries
            .entry(std::any::type_name::<T>())
            .or_insert_with(|| {
                let mut registry = Registry::new();
                T::register(&mut registry);
                Arc::new(registry)
            }),
    )
}

/// Whether `text` matches `pattern`, compiling each pattern once.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    static COMPILED: LazyLock<Mutex<HashMap<String, Option<regex::Regex>>>> =
        LazyLock::new(Mutex::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if !compiled.contains_key(pattern) {
        compiled.insert(pattern.to_owned(), regex::Regex::new(pattern).ok());
    }
    compiled[pattern]
        .as_ref()
        .is_some_and(|re| re.is_match(text))
}

/// Collects every value in `value` outside the bounds `schema` declares: lengths,
/// patterns, ranges, item and entry counts, unique items, with the field's path
/// (`name.en`, `languages[2]`).
fn check_bounds(
    value: &Value,
    schema: &MetaSchemaRef,
    registry: &Registry,
    path: Option<&str>,
    out: &mut Vec<FieldError>,
) {
    let schema = match schema {
        MetaSchemaRef::Inline(schema) => schema.as_ref(),
        MetaSchemaRef::Reference(name) => match registry.schemas.get(name) {
            Some(schema) => schema,
            None => return,
        },
    };
    let field = path.unwrap_or("body");
    for part in &schema.all_of {
        check_bounds(value, part, registry, path, out);
    }
    // The first bound a value misses is its one error.
    let mut reported = false;
    let mut fail = |code: &str, text: String| {
        if !reported {
            reported = true;
            out.push(FieldError::new(field, code, format!("{field} {text}")));
        }
    };
    match value {
        Value::String(text) => {
            let chars = text.chars().count();
            if let Some(max) = schema.max_length.filter(|max| chars > *max) {
                fail("length", format!("must have at most {max} characters"));
            }
            if let Some(min) = schema.min_length.filter(|min| chars < *min) {
                fail("length", format!("must have at least {min} characters"));
            }
            if let Some(pattern) = &schema.pattern
                && !matches_pattern(pattern, text)
            {
                fail("pattern", "is not in the form the schema gives".to_owned());
            }
        }
        Value::Number(number) => {
            let n = number.as_f64().unwrap_or_default();
            if let Some(max) = schema.maximum.filter(|max| n > *max) {
                fail("range", format!("must be at most {max}"));
            }
            if let Some(min) = schema.minimum.filter(|min| n < *min) {
                fail("range", format!("must be at least {min}"));
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.max_items.filter(|max| items.len() > *max) {
                fail("length", format!("must have at most {max} items"));
            }
            if let Some(min) = schema.min_items.filter(|min| items.len() < *min) {
                fail("length", format!("must have at least {min} items"));
            }
            if schema.unique_items == Some(true)
                && items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].contains(a))
            {
                fail("unique", "must not list an item twice".to_owned());
            }
            if let Some(item_schema) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{field}[{i}]");
                    check_bounds(item, item_schema, registry, Some(&item_path), out);
                }
            }
        }
        Value::Object(map) => {
            if let Some(max) = schema.max_properties.filter(|max| map.len() > *max) {
                fail("length", format!("must have at most {max} entries"));
            }
            if let Some(min) = schema.min_properties.filter(|min| map.len() < *min) {
                fail("length", format!("must have at least {min} entries"));
            }
            for (name, property) in &schema.properties {
                if let Some(item) = map.get(*name) {
                    let item_path =
                        path.map_or_else(|| (*name).to_owned(), |p| format!("{p}.{name}"));
                    check_bounds(item, property, registry, Some(&item_path), out);
                }
            }
            if let Some(values) = &schema.additional_properties {
                for (name, item) in map {
                    let item_path = path.map_or_else(|| name.clone(), |p| format!("{p}.{name}"));
                    check_bounds(item, values, registry, Some(&item_path), out);
                }
            }
        }
        _ => {}
    }
}

/// A bound declared on the type was not met. poem-openapi says which as
/// "…field `notes` verification failed. maxLength(2000)…".
fn out_of_bounds(message: &str) -> ApiError {
    let field = message
        .split("field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or("body");
    let rule = message
        .split("verification failed. ")
        .nth(1)
        .unwrap_or_default();
    let (name, limit) = rule
        .split_once('(')
        .map(|(name, rest)| (name, rest.split(')').next().unwrap_or_default()))
        .unwrap_or((rule, ""));
    let (code, text) = match name {
        "maxLength" => ("length", format!("must have at most {limit} characters")),
        "minLength" => ("length", format!("must have at least {limit} characters")),
        "maxItems" => ("length", format!("must have at most {limit} items")),
        "minItems" => ("length", format!("must have at least {limit} items")),
        "maximum" => ("range", format!("must be at most {limit}")),
        "minimum" => ("range", format!("must be at least {limit}")),
        "pattern" => ("pattern", format!("must match {limit}")),
        _ => ("invalid", message.to_owned()),
    };
    ApiError::Malformed(vec![FieldError::new(
        field,
        code,
        format!("{field} {text}"),
    )])
}

fn describe(path: Option<String>, err: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    if matches!(
        err.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ApiError::BadRequest(format!("the request body is not valid JSON: {err}"));
    }
    let message = err.to_string();
    let reason = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let (field, code) = match reason.strip_prefix("missing field `") {
        Some(rest) => {
            let name = rest.split('`').next().unwrap_or_default();
            let field = match &path {
                Some(parent) => format!("{parent}.{name}"),
                None => name.to_owned(),
            };
            (field, "required")
        }
        None => {
            let code = if reason.starts_with("invalid type") {
                "type"
            } else if reason.starts_with("unknown variant") {
                "invalid_choice"
            } else {
                "invalid"
            };
            (path.unwrap_or_else(|| "body".to_owned()), code)
        }
    };
    ApiError::Malformed(vec![FieldError::new(field, code, reason)])
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, poem_openapi::Object)]
    #[allow(dead_code)]
    struct Inner {
        reminders: bool,
    }

    #[derive(Debug, Deserialize, poem_openapi::Object)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        kind: Option<entities::enums::StationKind>,
        #[oai(validator(max_length = 3))]
        code: Option<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
        rating: Option<i32>,
    }

    fn field_and_code(body: &str) -> (String, String) {
        match parse::<Outer>(body.as_bytes()) {
            Err(ApiError::Malformed(errors)) => (errors[0].field.clone(), errors[0].code.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_the_field() {
        assert_eq!(field_and_code("{}"), ("name".into(), "required".into()));
        assert_eq!(
            field_and_code(r#"{"name": 7}"#),
            ("name".into(), "type".into())
        );
        assert_eq!(
            field_and_code(r#"{"name": "x", "inner": {}}"#),
            ("inner.reminders".into(), "required".into())
        );
        assert_eq!(
            field_and_code(r#"{"name": "x", "kind": "bakery"}"#),
            ("kind".into(), "invalid_choice".into())
        );
        assert!(matches!(
            parse::<Outer>(b"{\"name\": "),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(parse::<Outer>(b""), Err(ApiError::BadRequest(_))));
        assert!(matches!(
            parse::<Outer>(b"{\"name\": \"x\"} []"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(parse::<Outer>(br#"{"name": "x"}"#).is_ok());
        assert_eq!(
            field_and_code(r#"{"name": "x", "code": "abcd"}"#),
            ("code".into(), "length".into())
        );
        assert_eq!(
            field_and_code(r#"{"name": "x", "rating": 6}"#),
            ("rating".into(), "range".into())
        );
        assert!(parse::<Outer>(br#"{"name": "x", "code": "abc", "rating": 5}"#).is_ok());
    }
}
