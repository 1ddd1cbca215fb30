//! The contract a generated client relies on: the spec parses strictly and says what
//! the server does, and the server does what the spec says. Each test names the case
//! a contract checker (schemathesis, Spectral, openapi-typescript) found.

use std::collections::BTreeSet;

use entities::enums::Role;
use huashen_api::state::Settings;
use huashen_tests::{Backend, TestApp, both_backends, id};
use reqwest::Method;
use serde_json::{Value, json};

both_backends!(
    served_spec_parses_strictly,
    admins_may_leave_out_the_community,
    method_not_allowed_says_allow,
    missing_content_type_is_415,
    authentication_comes_first,
    roles_come_before_validation,
    empty_if_match_is_refused,
    care_plans_have_etags_and_null_clears,
    bounds_are_enforced_as_declared,
    cors_allows_every_method_of_the_api,
    webhook_payloads_match_their_schema,
    malformed_ids_name_nothing,
);

/// The document as JSON, parsed by a parser that refuses duplicate keys.
fn strict(text: &str) -> Value {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("the spec does not parse: {e}"));
    serde_json::to_value(yaml).unwrap()
}

fn spec() -> Value {
    strict(&huashen_api::app::spec_yaml())
}

/// Every operation: (method, path, operation).
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    found
}

#[test]
fn duplicate_keys_are_refused_by_the_strict_parser() {
    let err = serde_yaml::from_str::<serde_yaml::Value>("a: 1\na: 2\n");
    assert!(err.is_err(), "the check below would prove nothing");
}

#[test]
fn every_operation_has_an_id_a_description_and_its_statuses() {
    let spec = spec();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&spec) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            id.chars().next().unwrap().is_ascii_lowercase()
                && id.chars().all(char::is_alphanumeric),
            "{id} is not camelCase"
        );
        assert!(ids.insert(id.to_owned()), "{id} twice");
        assert!(
            operation["description"]
                .as_str()
                .is_some_and(|d| d.len() > 10),
            "{id} has no description"
        );
        let responses = operation["responses"].as_object().unwrap();
        let has = |status: &str| responses.contains_key(status);
        let secured = operation.get("security").is_some();
        // `verifySignIn` takes no key but answers a wrong code with 401.
        assert_eq!(
            has("401"),
            secured || id == "verifySignIn",
            "{id}: 401 exactly when a key is taken"
        );
        let takes_body = operation.get("requestBody").is_some();
        assert_eq!(
            has("415"),
            takes_body,
            "{id}: 415 exactly when a body is taken"
        );
        assert_eq!(
            has("413"),
            takes_body,
            "{id}: 413 exactly when a body is taken"
        );
        assert_eq!(has("412"), method == "patch", "{id}: 412 for PATCH only");
        assert_eq!(
            has("410"),
            path.contains("{token}") || id == "createSurveyResponse",
            "{id}: 410 for links and closed surveys only"
        );
        assert!(has("429"), "{id}: every request is rate limited");
        for (status, response) in responses {
            // `getReadiness` answers its own 503, with the readiness body.
            let is_error = status.starts_with('4') || status.starts_with('5');
            if is_error && !(id == "getReadiness" && status == "503") {
                assert!(
                    response["$ref"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("#/components/responses/")),
                    "{id} {status} is a problem response"
                );
            }
        }
        if method == "patch" {
            let params = operation["parameters"].as_array().unwrap();
            assert!(
                params.iter().any(|p| p["name"] == "If-Match"),
                "{id} takes If-Match"
            );
        }
        if method == "post" && secured {
            let params = operation["parameters"].as_array().unwrap();
            assert!(
                params.iter().any(|p| p["name"] == "Idempotency-Key"),
                "{id} declares Idempotency-Key"
            );
        }
    }
    assert_eq!(ids.len(), 112);
    for problem in spec["components"]["responses"]
        .as_object()
        .unwrap()
        .values()
    {
        assert_eq!(
            problem["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
    }
    for answer in ["Unavailable", "TooManyRequests"] {
        assert!(
            spec["components"]["responses"][answer]["headers"]
                .get("Retry-After")
                .is_some(),
            "{answer} says when to retry"
        );
    }
}

/// No key of the document is null (a nullable enum lists `null` among its values).
#[test]
fn the_document_holds_no_null() {
    fn walk(value: &Value, at: &str) {
        match value {
            Value::Null => panic!("null at {at}"),
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| *k != "enum")
                .for_each(|(k, v)| walk(v, &format!("{at}/{k}"))),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(v, &format!("{at}/{i}"))),
            _ => {}
        }
    }
    walk(&spec(), "");
}

#[test]
fn every_request_body_has_an_example() {
    let spec = spec();
    for (method, path, operation) in operations(&spec) {
        if let Some(reference) =
            operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                spec["components"]["schemas"][name].get("example").is_some(),
                "{method} {path}: {name} has no example"
            );
        }
    }
}

/// Each operation that takes something shows an example: of its body, of a parameter,
/// or of its answer.
#[test]
fn every_operation_has_an_example() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let has_example = |schema: &Value| {
        schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .is_some_and(|name| schemas[name].get("example").is_some())
    };
    for (method, path, operation) in operations(&spec) {
        let in_body =
            has_example(&operation["requestBody"]["content"]["application/json"]["schema"]);
        let in_parameters = operation["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p.get("example").is_some()));
        let takes_nothing = operation.get("requestBody").is_none()
            && operation["parameters"]
                .as_array()
                .is_none_or(|ps| ps.is_empty());
        let in_answer = operation["responses"]["200"]["content"]
            .as_object()
            .is_some_and(|c| c.values().any(|m| has_example(&m["schema"])));
        assert!(
            in_body || in_parameters || in_answer || takes_nothing,
            "{method} {path} shows no example"
        );
    }
}

#[test]
fn info_servers_and_version() {
    let spec = spec();
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(spec["info"]["contact"]["url"].is_string());
    assert_eq!(spec["info"]["license"]["name"], "Apache-2.0");
    assert!(!spec["servers"].as_array().unwrap().is_empty());
}

#[test]
fn reports_answer_json_and_csv_under_one_200() {
    let spec = spec();
    for report in [
        "hours",
        "new-volunteers",
        "events",
        "satisfaction",
        "community",
        "care",
    ] {
        let ok = &spec["paths"][format!("/v1/reports/{report}")]["get"]["responses"]["200"];
        let content = ok["content"].as_object().unwrap();
        assert!(
            content.contains_key("application/json; charset=utf-8"),
            "{report}"
        );
        assert!(content.contains_key("text/csv; charset=utf-8"), "{report}");
    }
}

#[test]
fn optional_fields_are_nullable_and_formats_are_standard() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    for (schema, field) in [
        ("ApiKeyInfo", "community_id"),
        ("Event", "registration_opens_at"),
        ("CarePlan", "ended_at"),
        ("Page_Shift", "next_cursor"),
        ("ShiftPatch", "notes"),
        ("PersonPatch", "phone"),
        ("CarePlanPatch", "notes"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["nullable"],
            json!(true),
            "{schema}.{field}"
        );
    }
    let text = huashen_api::app::spec_yaml();
    assert!(!text.contains("naive-date"), "dates are `format: date`");
    assert_eq!(
        schemas["Person"]["properties"]["birthday"]["format"],
        "date"
    );
    for (method, path, operation) in operations(&spec) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["name"] == "limit" {
                let schema = &parameter["schema"];
                assert_eq!(
                    (schema["minimum"].as_f64(), schema["maximum"].as_f64()),
                    (Some(1.0), Some(200.0)),
                    "{method} {path}"
                );
            }
        }
    }
}

#[test]
fn enums_are_enums_and_webhook_payloads_have_schemas() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let kinds = schemas["MailKind"]["enum"].as_array().unwrap();
    assert!(kinds.contains(&json!("birthday")) && kinds.contains(&json!("digest")));
    let types = schemas["WebhookEventType"]["enum"].as_array().unwrap();
    assert_eq!(types.len(), 10);
    assert!(types.contains(&json!("signup.promoted")));
    assert_eq!(
        schemas["WebhookCreate"]["properties"]["event_types"]["items"]["$ref"],
        "#/components/schemas/WebhookEventType"
    );
    assert_eq!(
        schemas["Notification"]["properties"]["kind"]["$ref"],
        "#/components/schemas/MailKind"
    );
    let callback = &spec["paths"]["/v1/webhooks"]["post"]["callbacks"]["event"]["{$request.body#/url}"]
        ["post"];
    assert_eq!(
        callback["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WebhookPayload"
    );
    for field in ["type", "id", "timestamp", "data"] {
        assert!(schemas["WebhookPayload"]["properties"].get(field).is_some());
    }
}

#[test]
fn creates_link_to_what_they_created() {
    let spec = spec();
    let links = &spec["paths"]["/v1/shifts"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["getShift"]["operationId"], "getShift");
    assert_eq!(links["getShift"]["parameters"]["id"], "$response.body#/id");
    assert!(links.get("createSignup").is_some());
    let person_links = &spec["paths"]["/v1/people"]["post"]["responses"]["201"]["links"];
    assert!(person_links.get("getPerson").is_some());
}

#[test]
fn request_strings_arrays_and_integers_are_bounded() {
    let spec = spec();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let mut request_schemas = BTreeSet::new();
    for (_, _, operation) in operations(&spec) {
        if let Some(reference) =
            operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            request_schemas.insert(
                reference
                    .trim_start_matches("#/components/schemas/")
                    .to_owned(),
            );
        }
    }
    assert!(request_schemas.len() > 15);
    fn check(name: &str, field: &str, schema: &Value, schemas: &serde_json::Map<String, Value>) {
        let schema = match schema["allOf"].as_array() {
            Some(parts) => &parts[0],
            None => schema,
        };
        if let Some(reference) = schema["$ref"].as_str() {
            let target = &schemas[reference.trim_start_matches("#/components/schemas/")];
            if target.get("properties").is_some() {
                for (inner, property) in target["properties"].as_object().unwrap() {
                    check(name, &format!("{field}.{inner}"), property, schemas);
                }
            }
            return;
        }
        match schema["type"].as_str() {
            Some("string") if schema.get("format").is_none() && schema.get("enum").is_none() => {
                assert!(
                    schema.get("maxLength").is_some(),
                    "{name}.{field} has no maxLength"
                );
            }
            Some("integer") => assert!(
                schema.get("minimum").is_some() && schema.get("maximum").is_some(),
                "{name}.{field} has no range"
            ),
            Some("array") => {
                assert!(
                    schema.get("maxItems").is_some(),
                    "{name}.{field} has no maxItems"
                );
                check(name, &format!("{field}[]"), &schema["items"], schemas);
            }
            Some("object") if schema.get("additionalProperties").is_some() => {
                assert!(schema.get("maxProperties").is_some(), "{name}.{field}");
                check(
                    name,
                    &format!("{field}.*"),
                    &schema["additionalProperties"],
                    schemas,
                );
            }
            _ => {}
        }
    }
    for name in &request_schemas {
        for (field, property) in schemas[name]["properties"].as_object().unwrap() {
            check(name, field, property, schemas);
        }
    }
}

async fn served_spec_parses_strictly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let yaml = strict(&app.get("/openapi.yaml", None).await.expect(200).text);
    let json = strict(&app.get("/openapi.json", None).await.expect(200).text);
    assert_eq!(json, yaml, "JSON and YAML say the same");
    let docs = app.get("/docs", None).await.expect(200).text;
    assert!(
        docs.contains("Idempotent-Replayed") && docs.contains("#/components/responses/BadRequest"),
        "the docs show the completed contract"
    );
    app.stop().await;
}

async fn admins_may_leave_out_the_community(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    for community in [&hsm, &other] {
        let resident = app.person(community, "Resident", json!({})).await;
        let carer = app.person(community, "Carer", json!({})).await;
        app.post(
            &format!("/v1/people/{}/care-plans", id(&resident)),
            admin,
            json!({"kind": "call", "every_days": 7, "assignee_id": id(&carer)}),
        )
        .await
        .expect(201);
    }
    let due = app.get("/v1/care/due", admin).await.expect(200).body;
    let communities: BTreeSet<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["plan"]["community_id"].as_str().unwrap())
        .collect();
    assert_eq!(communities, BTreeSet::from([hsm.as_str(), other.as_str()]));
    let report = app
        .get("/v1/reports/community", admin)
        .await
        .expect(200)
        .body;
    assert_eq!(report["community_id"], Value::Null);
    let reported: BTreeSet<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["community_id"].as_str().unwrap())
        .collect();
    assert_eq!(reported, BTreeSet::from([hsm.as_str(), other.as_str()]));
    let one = app
        .get(&format!("/v1/reports/community?community_id={hsm}"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(one["community_id"], json!(hsm));
    app.stop().await;
}

async fn method_not_allowed_says_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let reply = app
        .call(Method::PUT, "/v1/communities", admin, Some(json!({})), &[])
        .await
        .expect_problem(405);
    let allow: BTreeSet<&str> = reply.header("allow").unwrap().split(", ").collect();
    assert_eq!(allow, BTreeSet::from(["GET", "POST"]));
    let shift = format!("/v1/shifts/{}", uuid::Uuid::now_v7());
    let reply = app
        .call(Method::PUT, &shift, admin, None, &[])
        .await
        .expect_problem(405);
    let allow: BTreeSet<&str> = reply.header("allow").unwrap().split(", ").collect();
    assert_eq!(allow, BTreeSet::from(["GET", "PATCH", "DELETE"]));
    app.stop().await;
}

async fn missing_content_type_is_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reply = app
        .client
        .post(app.url("/v1/communities"))
        .bearer_auth(&app.admin_key)
        .body(r#"{"slug": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 415);
    assert_eq!(reply.headers()["content-type"], "application/problem+json");
    app.stop().await;
}

async fn authentication_comes_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let event = app.event(&hsm, 48).await;
    let paths = [
        "/v1/events".to_owned(),
        format!("/v1/events/{}/registrations", id(&event)),
        format!("/v1/events/{}/check-ins", id(&event)),
    ];
    for path in &paths {
        for key in ["retry-1", "", &"k".repeat(300)] {
            // No key, a valid Idempotency-Key or a malformed one, a broken body: 401.
            let reply = app
                .client
                .post(app.url(path))
                .header("Idempotency-Key", key)
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 401, "{path} with key {key:?}");
        }
    }
    app.stop().await;
}

async fn roles_come_before_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let person = app
        .person(&hsm, "Volunteer", json!({"is_volunteer": true}))
        .await;
    let volunteer = app.key(Role::Volunteer, None, Some(&id(&person))).await;
    for (path, body) in [
        ("/v1/shifts", json!({"capacity": "lots"})),
        ("/v1/events", json!({})),
        ("/v1/stations", json!({"name": 7})),
        ("/v1/communities", json!({"slug": ""})),
    ] {
        let reply = app
            .post(path, Some(&volunteer), body)
            .await
            .expect_problem(403);
        assert!(reply.body.get("errors").is_none(), "{path}: {}", reply.text);
    }
    app.get("/v1/reports/hours?limit=-1", Some(&volunteer))
        .await
        .expect_problem(403);
    app.stop().await;
}

async fn empty_if_match_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    for if_match in ["", "  "] {
        let reply = app
            .call(
                Method::PATCH,
                &format!("/v1/communities/{hsm}"),
                admin,
                Some(json!({"reminder_lead_minutes": 60})),
                &[("If-Match", if_match)],
            )
            .await
            .expect_problem(400);
        assert_eq!(reply.error_fields(), ["If-Match"]);
    }
    app.stop().await;
}

async fn care_plans_have_etags_and_null_clears(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let resident = id(&app.person(&hsm, "Resident", json!({})).await);
    let carer = id(&app.person(&hsm, "Carer", json!({})).await);
    let plan = app
        .post(
            &format!("/v1/people/{resident}/care-plans"),
            admin,
            json!({"kind": "call", "every_days": 7, "assignee_id": carer, "notes": "likes tea"}),
        )
        .await
        .expect(201);
    let path = format!("/v1/people/{resident}/care-plans/{}", plan.id());
    let changed = app
        .call(
            Method::PATCH,
            &path,
            admin,
            Some(json!({"notes": null})),
            &[("If-Match", "\"1\"")],
        )
        .await
        .expect(200);
    assert_eq!(changed.body["notes"], Value::Null, "null clears");
    assert_eq!(changed.header("etag"), Some("\"2\""));
    app.call(
        Method::PATCH,
        &path,
        admin,
        Some(json!({"every_days": 14})),
        &[("If-Match", "\"1\"")],
    )
    .await
    .expect_problem(412);
    app.stop().await;
}

async fn bounds_are_enforced_as_declared(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    for limit in ["0", "201", "-5"] {
        app.get(&format!("/v1/shifts?limit={limit}"), admin)
            .await
            .expect_problem(400);
    }
    app.get("/v1/shifts?limit=200", admin).await.expect(200);
    // Each bad field is reported once, with every bad field of the request.
    let reply = app
        .post(
            "/v1/people",
            admin,
            json!({
                "community_id": hsm,
                "full_name": "x".repeat(201),
                "email": "a@example.com",
                "phone": "1",
                "nationality": "CN",
                "skills": vec!["s"; 51],
            }),
        )
        .await
        .expect_problem(400);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["full_name", "phone", "skills"], "{}", reply.text);
    let station = app.station(&hsm).await;
    let shift = app.shift(&id(&station), 24, 2).await;
    let reply = app
        .call(
            Method::PATCH,
            &format!("/v1/shifts/{}", id(&shift)),
            admin,
            Some(json!({"notes": "n".repeat(4001), "capacity": 0})),
            &[],
        )
        .await
        .expect_problem(400);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["capacity", "notes"]);
    app.get("/v1/care/due?within_days=31", admin)
        .await
        .expect_problem(400);
    // An Idempotency-Key is visible ASCII.
    app.call(
        Method::POST,
        "/v1/communities",
        admin,
        Some(json!({"slug": "k", "name": {"en": "K"}, "time_zone": "UTC", "default_locale": "en"})),
        &[("Idempotency-Key", "has space")],
    )
    .await
    .expect_problem(400);
    app.stop().await;
}

async fn cors_allows_every_method_of_the_api(backend: Backend) {
    let origin = "https://portal.example.cn";
    let settings = Settings {
        cors_origins: vec![origin.to_owned()],
        ..Settings::default()
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let mut methods = BTreeSet::new();
    for (method, _, _) in operations(&spec()) {
        methods.insert(method.to_uppercase());
    }
    assert!(methods.contains("PUT"));
    for method in &methods {
        let preflight = app
            .client
            .request(
                Method::OPTIONS,
                app.url("/v1/shifts/x/signups/y/attendance"),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method.as_str())
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, if-match, idempotency-key",
            )
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{method}");
        let allowed = preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .to_uppercase();
        assert!(
            allowed.contains(method.as_str()),
            "{method} not in {allowed}"
        );
    }
    let simple = app
        .client
        .get(app.url("/v1/stations"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["etag", "location", "retry-after", "idempotent-replayed"] {
        assert!(exposed.contains(header), "{header} not in {exposed}");
    }
    app.stop().await;
}

async fn webhook_payloads_match_their_schema(backend: Backend) {
    let settings = Settings {
        webhook_allowed_hosts: vec!["127.0.0.1".to_owned()],
        ..Settings::default()
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let hook = app
        .post(
            "/v1/webhooks",
            admin,
            json!({"community_id": hsm, "url": "http://127.0.0.1:9/hook", "event_types": ["signup.created"]}),
        )
        .await
        .expect(201);
    assert_eq!(hook.body["event_types"], json!(["signup.created"]));
    let station = app.station(&hsm).await;
    let shift = app.shift(&id(&station), 24, 2).await;
    let volunteer = app.volunteers(&hsm, 1).await.remove(0);
    app.post(
        &format!("/v1/shifts/{}/signups", id(&shift)),
        admin,
        json!({"person_id": volunteer}),
    )
    .await
    .expect(201);
    let deliveries = app
        .get(&format!("/v1/webhooks/{}/deliveries", hook.id()), admin)
        .await
        .expect(200)
        .body;
    let delivery = &deliveries["items"][0];
    assert_eq!(delivery["event_type"], "signup.created");
    let payload: huashen_api::routes::webhooks::WebhookPayload =
        serde_json::from_str(delivery["payload"].as_str().unwrap())
            .expect("the payload sent is the payload documented");
    assert_eq!(
        payload.event_type,
        entities::enums::WebhookEventType::SignupCreated
    );
    assert!(payload.data.url.starts_with("/v1/shifts/"));
    app.stop().await;
}

async fn malformed_ids_name_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    for path in [
        "/v1/communities/None",
        "/v1/people/42",
        "/v1/shifts/x/signups",
    ] {
        app.get(path, admin).await.expect_problem(404);
    }
    app.stop().await;
}
