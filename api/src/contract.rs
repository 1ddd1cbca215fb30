//! The served contract: poem-openapi's document, completed with the rules its derives
//! cannot state per operation. Each rule lives here once and applies to every
//! operation, so a new route is documented the same way as the old ones:
//!
//! - the error statuses an operation can answer follow from its shape
//!   ([`error_statuses`]), each a problem+json response;
//! - every `POST` taken with an API key honours `Idempotency-Key` and may replay;
//! - an optional property without a default may also be `null`;
//! - the summary is the operation id in words, the doc comment its description;
//! - a create operation links to the operations on what it created;
//! - what a webhook receives is a callback of `createWebhook`;
//! - standard formats (`date`, `email`, `uri`) and the lengths of formatted strings;
//! - descriptions for the parameters many operations share;
//! - every response may carry `Access-Control-Allow-Origin`;
//! - the server is relative: the deployment serving the document.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use poem::http::Method;
use poem_openapi::registry::Registry;
use poem_openapi::types::Type;
use serde_json::{Map, Value, json};

use crate::idempotency;
use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::routes::webhooks::WebhookPayload;

/// The finished contract, as served and as committed.
pub struct Contract {
    document: Value,
    json: String,
    yaml: String,
    docs_html: String,
}

/// The contract, built once per process.
pub fn contract() -> &'static Contract {
    static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
        let service = crate::routes::service();
        let generated = service.spec();
        let document =
            complete(serde_json::from_str(&generated).expect("poem-openapi writes valid JSON"));
        let json = serde_json::to_string_pretty(&document).expect("a JSON value serializes");
        let yaml = serde_yaml::to_string(&document).expect("a JSON value serializes as YAML");
        // Swagger UI embeds the document it is built with: give it the completed one.
        let docs_html = service.swagger_ui_html().replace(&generated, &json);
        Contract {
            document,
            json,
            yaml,
            docs_html,
        }
    });
    &CONTRACT
}

impl Contract {
    pub fn json(&self) -> &str {
        &self.json
    }

    pub fn yaml(&self) -> &str {
        &self.yaml
    }

    /// The interactive docs page, with the completed document in it.
    pub fn docs_html(&self) -> &str {
        &self.docs_html
    }

    /// The methods the contract has for the path template matching `path`, for `Allow`.
    pub fn methods_of(&self, path: &str) -> Option<Vec<Method>> {
        let paths = self.document["paths"].as_object()?;
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let (_, operations) = paths.iter().find(|(template, _)| {
            let pattern: Vec<&str> = template.split('/').collect();
            pattern.len() == segments.len()
                && pattern.iter().zip(&segments).all(|(want, got)| {
                    want == got || (want.starts_with('{') && want.ends_with('}') && !got.is_empty())
                })
        })?;
        let methods = operations
            .as_object()?
            .keys()
            .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .collect();
        Some(methods)
    }
}

/// Problem responses every operation shares, by status: (name, description).
const PROBLEMS: &[(u16, &str, &str)] = &[
    (
        400,
        "BadRequest",
        "The request does not match the schema: unparsable, or a value outside the bounds \
         it declares; `errors` lists each field.",
    ),
    (
        401,
        "Unauthorized",
        "No API key, or an unknown, revoked or expired one; sent before anything else is \
         looked at. For `verifySignIn` and `verifyMyEmail`: the code or link is wrong, used \
         or expired.",
    ),
    (
        403,
        "Forbidden",
        "The API key's role or community does not allow this.",
    ),
    (
        404,
        "NotFound",
        "No such resource, or not visible to this API key.",
    ),
    (
        409,
        "Conflict",
        "The request conflicts with the current state (or the same `Idempotency-Key` is still being processed).",
    ),
    (
        408,
        "RequestTimeout",
        "The request body did not arrive whole in time (`HUASHEN_BODY_TIMEOUT_SECS`).",
    ),
    (
        410,
        "Gone",
        "The link has expired, or the survey it leads to has closed.",
    ),
    (
        412,
        "PreconditionFailed",
        "`If-Match` does not match the current ETag.",
    ),
    (
        413,
        "PayloadTooLarge",
        "The request body is larger than the server accepts.",
    ),
    (
        415,
        "UnsupportedMediaType",
        "The request body is not `application/json`.",
    ),
    (
        422,
        "Unprocessable",
        "The request fits the schema but breaks a rule it cannot state (a real time zone, \
         `ends_at` after `starts_at`, a station that exists, a cursor this API returned), or \
         reuses an `Idempotency-Key` for another request; `errors` lists each field.",
    ),
    (
        429,
        "TooManyRequests",
        "A limit was reached: the request rate of the API key or, without a key, of the \
         client address (`RateLimit-*` say how much is left), or an abuse limit per address \
         or client on sign-in, verification and applications. Nothing was done, no mail \
         sent. Retry after `Retry-After` seconds.",
    ),
    (
        500,
        "InternalError",
        "An unexpected failure; details are in the server log, never in the response.",
    ),
    (
        503,
        "Unavailable",
        "The database is contended or unreachable; retry after `Retry-After` seconds.",
    ),
];

/// The error statuses an operation can answer, from its shape.
fn error_statuses(method: &str, path: &str, operation: &Value) -> BTreeSet<u16> {
    let parameters = operation["parameters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let has_body = operation.get("requestBody").is_some();
    let secured = operation.get("security").is_some();
    let in_path = parameters.iter().any(|p| p["in"] == "path");
    let in_query = parameters.iter().any(|p| p["in"] == "query");
    let names_a_resource = parameters
        .iter()
        .any(|p| p["in"] == "query" && p["schema"]["format"] == "uuid");
    // Every request is charged to a rate limit (`crate::limits`).
    let mut statuses = BTreeSet::from([429, 500]);
    if path != "/health/live" {
        statuses.insert(503);
    }
    if !parameters.is_empty() || has_body {
        statuses.insert(400);
    }
    if secured {
        statuses.extend([401, 403]);
    }
    if in_path || names_a_resource {
        statuses.insert(404);
    }
    if has_body || in_query {
        statuses.insert(422);
    }
    if matches!(method, "post" | "put" | "patch" | "delete") && secured {
        statuses.insert(409);
    }
    if method == "post" && secured {
        // Idempotency: a key reused for another request (422); one in use is the 409 above.
        statuses.insert(422);
    }
    if has_body {
        statuses.extend([408, 413, 415]);
    }
    if method == "patch" {
        statuses.insert(412);
    }
    if path.contains("{token}") || operation["operationId"] == "createSurveyResponse" {
        statuses.insert(410);
    }
    if operation["operationId"] == "verifySignIn" {
        // A wrong code, though no key is needed.
        statuses.insert(401);
    }
    statuses
}

fn complete(mut doc: Value) -> Value {
    add_problem_responses(&mut doc);
    for (path, method, operation) in operations(&mut doc) {
        describe(&method, operation);
        let statuses = error_statuses(&method, &path, operation);
        let responses = operation["responses"]
            .as_object_mut()
            .expect("every operation has responses");
        for status in statuses {
            let (_, name, _) = PROBLEMS
                .iter()
                .find(|(s, _, _)| *s == status)
                .expect("every status has a problem response");
            responses
                .entry(status.to_string())
                .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
        }
        if method == "post" && operation.get("security").is_some() {
            add_idempotency(operation);
        }
        describe_parameters(operation);
    }
    add_links(&mut doc);
    add_webhook_callback(&mut doc);
    nullable_optionals(&mut doc);
    standard_formats(&mut doc);
    add_response_headers(&mut doc);
    // Relative: the deployment that serves this document (so `/docs` calls itself,
    // wherever it runs). A production deployment sits behind TLS.
    doc["servers"] = json!([
        {
            "url": "/",
            "description": "production: the deployment serving this document",
            "x-internal": false,
        },
    ]);
    doc
}

/// What every response carries: `X-Request-Id` and the caller's rate limit
/// (`crate::observe`, `crate::limits`), and `Access-Control-Allow-Origin` for browsers
/// on the origins a deployment allows (`HUASHEN_CORS_ORIGINS`).
fn add_response_headers(doc: &mut Value) {
    let seconds = json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": 86400 });
    let count = json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": 1_000_000 });
    let headers = [
        (
            "Access-Control-Allow-Origin",
            "The caller's origin, when the deployment allows it (`HUASHEN_CORS_ORIGINS`).",
            json!({ "type": "string", "maxLength": 2000 }),
            false,
        ),
        (
            "X-Request-Id",
            "The request's id: the caller's `X-Request-Id` when it is 1–128 characters of \
             `A–Z a–z 0–9 - _ . :`, else one made for it. Every log line of the request \
             carries it; quote it when reporting a problem.",
            json!({ "type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9._:-]{1,128}$" }),
            true,
        ),
        (
            "RateLimit-Limit",
            "Requests the caller may make at once: the burst of the API key's bucket, or \
             of the client address's for calls without a key.",
            count.clone(),
            true,
        ),
        (
            "RateLimit-Remaining",
            "Requests the caller may still make at once.",
            count,
            true,
        ),
        (
            "RateLimit-Reset",
            "Seconds until the caller's bucket is full again.",
            seconds,
            true,
        ),
    ];
    doc["components"]["headers"] = headers
        .iter()
        .map(|(name, description, schema, required)| {
            let mut header = json!({ "description": description, "schema": schema });
            if *required {
                header["required"] = json!(true);
            }
            ((*name).to_owned(), header)
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let add = |response: &mut Value| {
        if response.get("$ref").is_none() {
            for (name, ..) in &headers {
                set_header(
                    response,
                    name,
                    json!({ "$ref": format!("#/components/headers/{name}") }),
                );
            }
        }
    };
    if let Some(shared) = doc
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        shared.values_mut().for_each(add);
    }
    for (_, _, operation) in operations(doc) {
        if let Some(answers) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            answers.values_mut().for_each(add);
        }
    }
}

/// Every operation with its path and method.
fn operations(doc: &mut Value) -> Vec<(String, String, &mut Value)> {
    let mut found = Vec::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            if let Some(item) = item.as_object_mut() {
                for (method, operation) in item.iter_mut() {
                    found.push((path.clone(), method.clone(), operation));
                }
            }
        }
    }
    found
}

/// Adds `T`'s schemas (and those it refers to) to the document's components.
fn add_schemas<T: Type>(doc: &mut Value) {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("poem-openapi writes schemas");
    for (name, schema) in registry.schemas {
        schemas.insert(
            name,
            serde_json::to_value(schema).expect("a schema serializes"),
        );
    }
}

fn add_problem_responses(doc: &mut Value) {
    add_schemas::<crate::error::Problem>(doc);
    let components = doc["components"]
        .as_object_mut()
        .expect("poem-openapi writes components");
    let responses = components
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, name, description) in PROBLEMS {
        let mut response = json!({
            "description": description,
            "content": {
                crate::error::PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } }
            },
        });
        if matches!(status, 429 | 503) {
            response["headers"] = json!({
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": { "type": "integer", "format": "int32", "minimum": 0, "maximum": 86400 },
                },
            });
        }
        responses.insert((*name).to_owned(), response);
    }
}

/// `listShifts` → summary "List shifts"; the doc comment becomes the description.
fn describe(method: &str, operation: &mut Value) {
    let Some(id) = operation["operationId"].as_str() else {
        panic!("an operation under {method} has no operation_id");
    };
    let mut words = String::new();
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() {
            words.push(' ');
            words.push(c.to_ascii_lowercase());
        } else if i == 0 {
            words.push(c.to_ascii_uppercase());
        } else {
            words.push(c);
        }
    }
    let doc_text = [&operation["summary"], &operation["description"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    operation["summary"] = Value::String(words.replace("api key", "API key"));
    operation["description"] = Value::String(doc_text);
}

fn add_idempotency(operation: &mut Value) {
    let parameters = operation
        .as_object_mut()
        .expect("an operation is an object")
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("parameters is an array");
    parameters.push(json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a retried request safe: within 24 hours, the same key from the same \
                        API key gets the first response again instead of acting twice.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": idempotency::MAX_KEY_CHARS,
            "pattern": idempotency::KEY_PATTERN,
        },
    }));
    if let Some(responses) = operation["responses"].as_object_mut() {
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2') && response.get("$ref").is_none() {
                set_header(
                    response,
                    idempotency::REPLAYED_HEADER,
                    json!({
                        "description": "`true` when this is the saved response to an earlier \
                                        request with the same `Idempotency-Key`.",
                        "schema": { "type": "string", "enum": ["true"] },
                    }),
                );
            }
        }
    }
}

fn set_header(response: &mut Value, name: &str, header: Value) {
    response
        .as_object_mut()
        .expect("a response is an object")
        .entry("headers")
        .or_insert_with(|| json!({}))[name] = header;
}

/// Descriptions and bounds for the parameters many operations share.
fn describe_parameters(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        if parameter["name"] == "If-Match" {
            // `check_if_match` refuses an empty or blank one.
            parameter["schema"]["minLength"] = json!(1);
            parameter["schema"]["pattern"] = json!("\\S");
        }
        if parameter["in"] == "query" && parameter["name"] == "limit" {
            // What `PageRequest::new` accepts.
            parameter["schema"] = json!({
                "type": "integer",
                "format": "int64",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            });
        }
        if let Some(example) = parameter_example(parameter) {
            parameter["example"] = example;
        }
        if parameter.get("description").is_some() {
            continue;
        }
        let text = match (parameter["in"].as_str(), parameter["name"].as_str()) {
            (Some("query"), Some("community_id")) => {
                "The community; admin keys may leave it out for every community, other keys \
                 get their own."
            }
            (Some("query"), Some("limit")) => "Page size.",
            (Some("query"), Some("cursor")) => "From `next_cursor` of the previous page.",
            (Some("query"), Some("from")) => "From this instant on (inclusive).",
            (Some("query"), Some("to")) => "Up to this instant (exclusive).",
            (Some("query"), Some("locale")) => {
                "A BCP 47 locale (`zh-CN`, `en`) for localized text; the community's default \
                 unless given."
            }
            (Some("path"), Some("id")) => "The resource's id.",
            (Some("path"), Some("person_id")) => "The person's id.",
            (Some("path"), Some("plan_id")) => "The care plan's id.",
            (Some("header"), Some("If-Match")) => {
                "The `ETag` the change is based on; a stale one is refused with 412."
            }
            (Some("header"), Some("Accept")) => "`text/csv` for CSV instead of JSON.",
            _ => continue,
        };
        parameter["description"] = Value::String(text.to_owned());
    }
}

/// An example for the parameters many operations share, consistent with the request
/// bodies' examples (`routes::example_id`).
fn parameter_example(parameter: &Value) -> Option<Value> {
    use crate::routes::{example_id, example_time};
    let example = match (parameter["in"].as_str()?, parameter["name"].as_str()?) {
        ("query", "community_id") => json!(example_id(1)),
        ("query", "station_id") => json!(example_id(2)),
        ("path", "person_id") | ("query", "person_id") => json!(example_id(3)),
        ("path", "plan_id") => json!(example_id(6)),
        ("path", "id") => json!(example_id(4)),
        ("path", "file") => json!(format!("{}.ics", example_id(2))),
        ("path", "token") => {
            json!("5f0e3c8a9b7d4e21a6c3f08b1d2e4a6c7b9d0e1f2a3b4c5d6e7f8091a2b3c4d5")
        }
        ("query", "limit") => json!(DEFAULT_LIMIT),
        ("query", "from") => json!(example_time(0)),
        ("query", "to") => json!(example_time(0) + chrono::Duration::days(7)),
        ("query", "locale") => json!("zh-CN"),
        ("header", "If-Match") => json!("\"1\""),
        ("header", "Accept") => json!("text/csv"),
        ("header", "Idempotency-Key") => json!("signup-2026-12-05-anna"),
        _ => return None,
    };
    Some(example)
}

/// Links from each create operation to the operations on what it created, so a client
/// (and schemathesis' stateful phase) can follow them: `POST /v1/x` → `/v1/x/{id}…`.
fn add_links(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object() else {
        return;
    };
    let mut links: Vec<(String, Map<String, Value>)> = Vec::new();
    for (path, item) in paths {
        let Some(create) = item.get("post") else {
            continue;
        };
        if create["responses"].get("201").is_none() {
            continue;
        }
        let mut targets = Map::new();
        let item_path = format!("{path}/{{id}}");
        for (other_path, other_item) in paths {
            let Some(rest) = other_path.strip_prefix(&item_path) else {
                continue;
            };
            if !rest.is_empty() && (!rest.starts_with('/') || rest.contains('{')) {
                continue;
            }
            for (_, operation) in other_item.as_object().into_iter().flatten() {
                if let Some(id) = operation["operationId"].as_str() {
                    targets.insert(
                        id.to_owned(),
                        json!({
                            "operationId": id,
                            "parameters": { "id": "$response.body#/id" },
                        }),
                    );
                }
            }
        }
        if !targets.is_empty() {
            links.push((path.clone(), targets));
        }
    }
    for (path, targets) in links {
        doc["paths"][&path]["post"]["responses"]["201"]["links"] = Value::Object(targets);
    }
}

/// What a subscribed URL receives, as a callback of the operation that subscribes it.
fn add_webhook_callback(doc: &mut Value) {
    add_schemas::<WebhookPayload>(doc);
    let signature_header = |name: &str, description: &str| {
        json!({
            "name": name,
            "in": "header",
            "required": true,
            "description": description,
            "schema": { "type": "string", "maxLength": 1000 },
        })
    };
    let Some(create) = doc["paths"]["/v1/webhooks"].get_mut("post") else {
        return;
    };
    create["callbacks"] = json!({
        "event": {
            "{$request.body#/url}": {
                "post": {
                    "operationId": "receiveWebhookEvent",
                    "summary": "Receive webhook event",
                    "description": "Huashen posts each event the webhook subscribed to, retrying \
                                    with backoff for three days until the receiver answers 2xx. \
                                    An answer of 410 turns the subscription off.",
                    "parameters": [
                        signature_header("webhook-id", "The delivery's id; the same on every retry."),
                        signature_header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                        signature_header(
                            "webhook-signature",
                            "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the webhook's secret.",
                        ),
                    ],
                    "requestBody": {
                        "required": true,
                        "content": {
                            "application/json": {
                                "schema": { "$ref": "#/components/schemas/WebhookPayload" },
                            },
                        },
                    },
                    "responses": {
                        "200": { "description": "Received." },
                        "410": { "description": "The receiver wants no more: the subscription is turned off." },
                    },
                },
            },
        },
    });
}

/// One rule for absent values: a property a client may leave out, and that has no
/// default, may also be `null` (and the server writes `null` for it when unset).
fn nullable_optionals(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    // What a nullable reference needs of its target: its type and enum.
    let targets: std::collections::BTreeMap<String, Value> = schemas
        .iter()
        .map(|(name, schema)| {
            let shape = json!({ "type": schema["type"], "enum": schema["enum"] });
            (format!("#/components/schemas/{name}"), shape)
        })
        .collect();
    for schema in schemas.values_mut() {
        let required: BTreeSet<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (name, property) in properties.iter_mut() {
            if required.contains(name) || property.get("default").is_some() {
                continue;
            }
            // In OpenAPI 3.0, siblings of `$ref` are ignored, and `nullable` needs a `type`.
            if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
                *property = json!({ "allOf": [{ "$ref": reference }] });
            }
            if let Some(reference) = property["allOf"][0]["$ref"].as_str() {
                let target = &targets[reference];
                property["type"] = target["type"].clone();
                // A `null` the enum does not list would still be refused by its check.
                if let Some(values) = target["enum"].as_array() {
                    let mut values = values.clone();
                    values.push(Value::Null);
                    property["enum"] = Value::Array(values);
                }
            }
            property["nullable"] = Value::Bool(true);
        }
    }
}

/// Formats poem-openapi's `String` fields cannot declare: (schema or `*`, property, format).
const FORMATS: &[(&str, &str, &str)] = &[
    ("*", "email", "email"),
    ("EraseMe", "confirm", "email"),
    ("WebhookCreate", "url", "uri"),
    ("Webhook", "url", "uri"),
    ("NewWebhook", "url", "uri"),
    ("WebhookPayloadData", "url", "uri-reference"),
];

fn standard_formats(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (of, property, format) in FORMATS {
                if (*of == "*" || of == name)
                    && let Some(field) = properties.get_mut(*property)
                    && field["type"] == "string"
                {
                    field["format"] = json!(format);
                }
            }
        }
    }
    standard_dates(doc);
}

/// `format: date` (RFC 3339 full-date) where poem-openapi writes `naive-date`, and the
/// lengths of formatted strings.
fn standard_dates(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("naive-date") {
                map.insert("format".to_owned(), Value::String("date".to_owned()));
            }
            // A formatted string is no longer than its format allows; the server's
            // parsers refuse anything else.
            let longest = match map.get("format").and_then(Value::as_str) {
                Some("uuid") => Some(36),
                Some("date") => Some(10),
                Some("date-time") => Some(64),
                _ => None,
            };
            if let Some(longest) = longest
                && map.get("type").and_then(Value::as_str) == Some("string")
            {
                map.entry("maxLength").or_insert(json!(longest));
            }
            map.values_mut().for_each(standard_dates);
        }
        Value::Array(items) => items.iter_mut().for_each(standard_dates),
        _ => {}
    }
}
