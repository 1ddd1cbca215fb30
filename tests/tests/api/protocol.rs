//! What holds for every route: problem responses, body limits, CORS, the spec, health.

use huashen_api::state::Settings;
use huashen_tests::{Backend, TestApp, both_backends};
use reqwest::Method;
use serde_json::json;

both_backends!(problems_for_everything, body_limit, cors, health_and_docs,);

async fn problems_for_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    app.get("/v1/nowhere", None).await.expect_problem(404);
    app.call(Method::PUT, "/v1/communities", admin, Some(json!({})), &[])
        .await
        .expect_problem(405);

    let malformed = app
        .client
        .post(app.url("/v1/communities"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("{\"slug\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["status"], 400);

    let wrong_type = app
        .post(
            "/v1/communities",
            admin,
            json!({"slug": 7, "name": {"en": "x"}, "time_zone": "UTC", "default_locale": "en"}),
        )
        .await
        .expect_problem(400);
    assert_eq!(wrong_type.error_fields(), ["slug"]);
    assert!(
        !wrong_type.text.to_lowercase().contains("select"),
        "no SQL in bodies"
    );

    let text_body = app
        .client
        .post(app.url("/v1/communities"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(text_body.status().is_client_error());
    assert_eq!(
        text_body.headers()["content-type"],
        "application/problem+json"
    );

    app.get("/v1/communities", None).await.expect_problem(401);
    app.call(
        Method::GET,
        "/v1/communities",
        None,
        None,
        &[("Authorization", "Basic abc")],
    )
    .await
    .expect_problem(401);
    app.stop().await;
}

async fn body_limit(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Settings {
            max_body_bytes: 2048,
            ..Settings::default()
        },
    )
    .await;
    let big = json!({"slug": "big", "name": {"en": "x".repeat(4096)}, "time_zone": "UTC", "default_locale": "en"});
    app.post("/v1/communities", Some(&app.admin_key), big)
        .await
        .expect_problem(413);

    // Without Content-Length (chunked) the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b' '; 1500]), Ok(vec![b' '; 1500])];
    let chunked = app
        .client
        .post(app.url("/v1/communities"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 413);
    app.post(
        "/v1/communities",
        Some(&app.admin_key),
        json!({"slug": "small", "name": {"en": "Small"}, "time_zone": "UTC", "default_locale": "en"}),
    )
    .await
    .expect(201);
    app.stop().await;
}

async fn cors(backend: Backend) {
    let settings = Settings {
        cors_origins: vec!["https://portal.example.cn".to_owned()],
        ..Settings::default()
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/v1/people"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PATCH")
            .header(
                "Access-Control-Request-Headers",
                "authorization, if-match, content-type",
            )
            .send()
    };
    let allowed = preflight("https://portal.example.cn").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://portal.example.cn"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_uppercase();
    assert!(methods.contains("PATCH"), "{methods}");
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("if-match") && headers.contains("authorization"),
        "{headers}"
    );

    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let simple = app
        .client
        .get(app.url("/v1/stations"))
        .header("Origin", "https://portal.example.cn")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://portal.example.cn"
    );
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    app.stop().await;
}

async fn health_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        app.get("/health/live", None).await.expect(200).body,
        json!({"status": "ok"})
    );
    assert_eq!(
        app.get("/health/ready", None).await.expect(200).body,
        json!({"status": "ok"})
    );
    let served = app.get("/openapi.yaml", None).await.expect(200).text;
    assert_eq!(served, huashen_api::app::spec_yaml());
    let json_spec = app.get("/openapi.json", None).await.expect(200);
    assert_eq!(json_spec.body["info"]["title"], "Huashen");
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "interactive docs are served");
    assert!(!html.contains("cdn."), "the docs load nothing from a CDN");
    app.stop().await;
}

/// The committed `openapi.yaml` is the contract: it must equal what the API serves.
#[test]
fn committed_spec_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let served = huashen_api::app::spec_yaml();
    assert!(
        committed == served,
        "openapi.yaml differs from the spec the API serves; regenerate it with:\n\n    \
         cargo run -q -p huashen-api --bin huashen -- openapi > openapi.yaml\n"
    );
}
