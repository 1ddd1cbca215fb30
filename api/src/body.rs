//! JSON request bodies parsed with serde, so that a missing or mistyped field is
//! answered with a validation problem naming that field.

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::de::DeserializeOwned;

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

impl<T: Type + DeserializeOwned + Send> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        parse(&data).map(JsonBody).map_err(poem::Error::from)
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned + Send);

fn parse<T: DeserializeOwned>(data: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(data);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        describe(
            if path == "." { None } else { Some(path) },
            err.into_inner(),
        )
    })?;
    deserializer.end().map_err(|_| {
        ApiError::BadRequest("the request body has data after its JSON value".to_owned())
    })?;
    Ok(value)
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
    ApiError::Validation(vec![FieldError::new(field, code, reason)])
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        reminders: bool,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        kind: Option<entities::enums::StationKind>,
    }

    fn field_and_code(body: &str) -> (String, String) {
        match parse::<Outer>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => (errors[0].field.clone(), errors[0].code.clone()),
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
    }
}
