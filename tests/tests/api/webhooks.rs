use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_api::state::Settings;
use huashen_tests::receiver::Receiver;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(signed_deliveries_with_retries, targets_and_scope);

/// Checks a delivery the way a receiver would: HMAC-SHA256 of `id.timestamp.body`.
fn verify(secret: &str, hit: &huashen_tests::receiver::Hit) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        hit.headers["webhook-id"], hit.headers["webhook-timestamp"], hit.body
    );
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        signed.as_bytes(),
    );
    hit.headers["webhook-signature"] == format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

async fn allowing_loopback(backend: Backend) -> TestApp {
    TestApp::spawn_with(
        backend,
        Settings {
            webhook_allowed_hosts: vec!["127.0.0.1".to_owned()],
            ..Settings::default()
        },
    )
    .await
}

async fn signed_deliveries_with_retries(backend: Backend) {
    let app = allowing_loopback(backend).await;
    let receiver = Receiver::start().await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let created = app
        .post("/v1/webhooks", admin, json!({"community_id": community, "url": receiver.url(), "event_types": ["signup.created", "event.published"]}))
        .await
        .expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let hook = created.id();

    let shift = id(&app.shift(&station, 48, 3).await);
    let person = app.volunteers(&community, 1).await.remove(0);
    app.post(
        &format!("/v1/shifts/{shift}/signups"),
        admin,
        json!({"person_id": person}),
    )
    .await
    .expect(201);
    app.post(&format!("/v1/shifts/{shift}/cancel"), admin, json!({}))
        .await
        .expect(200); // not subscribed
    let smtp = huashen_tests::smtp::SmtpServer::start().await;
    let worker = app.worker(&smtp);
    receiver.answer(&[500]);
    let now = Utc::now();
    assert_eq!(
        worker.tick(now).await.unwrap().webhooks,
        0,
        "the receiver failed"
    );
    assert_eq!(
        worker
            .tick(now + Duration::seconds(30))
            .await
            .unwrap()
            .webhooks,
        0,
        "backing off"
    );
    assert_eq!(
        worker
            .tick(now + Duration::minutes(2))
            .await
            .unwrap()
            .webhooks,
        1
    );
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter().all(|hit| verify(&secret, hit)),
        "signed with the secret"
    );
    assert_eq!(
        hits[0].headers["webhook-id"], hits[1].headers["webhook-id"],
        "a retry keeps its id"
    );
    let payload: Value = serde_json::from_str(&hits[1].body).unwrap();
    assert_eq!(payload["type"], "signup.created");
    assert!(
        payload["data"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/v1/shifts/{shift}/signups"))
    );

    let (log, _) = app
        .all_pages(&format!("/v1/webhooks/{hook}/deliveries"), admin, 50)
        .await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            log[0]["status"].clone(),
            log[0]["attempts"].clone(),
            log[0]["last_status"].clone()
        ),
        (json!("delivered"), json!(2), json!(204))
    );

    // A receiver that answers 410 Gone is not called again.
    let event = id(&app.event(&community, 72).await);
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200);
    receiver.answer(&[410]);
    worker.tick(now + Duration::minutes(3)).await.unwrap();
    let (hooks, _) = app.all_pages("/v1/webhooks", admin, 50).await;
    assert!(hooks[0]["disabled_at"].is_string());
    let other = id(&app.event(&community, 96).await);
    app.post(&format!("/v1/events/{other}/publish"), admin, json!({}))
        .await
        .expect(200);
    worker.tick(now + Duration::minutes(10)).await.unwrap();
    assert_eq!(receiver.hits().len(), 3);
    app.stop().await;
}

async fn targets_and_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    // Not an http(s) URL is against the schema (400); a private target is refused (422).
    for (url, status) in [
        ("http://127.0.0.1:9/hook", 422),
        ("http://localhost/hook", 422),
        ("http://10.0.0.5/hook", 422),
        ("http://[::1]/hook", 422),
        ("ftp://example.com/x", 400),
        ("not a url", 400),
    ] {
        let reply = app
            .post(
                "/v1/webhooks",
                admin,
                json!({"community_id": community, "url": url, "event_types": ["signup.created"]}),
            )
            .await
            .expect_problem(status);
        assert_eq!(reply.error_fields(), ["url"], "{url}: {}", reply.text);
    }
    let bad_type = app
        .post("/v1/webhooks", admin, json!({"community_id": community, "url": "https://example.com/hook", "event_types": ["signup.exploded"]}))
        .await
        .expect_problem(400);
    assert_eq!(bad_type.error_fields(), ["event_types[0]"]);

    let backend = app.backend;
    app.stop().await;
    let app = allowing_loopback(backend).await;
    let community = id(&app.community("hsm").await);
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    let hook = app
        .post(
            "/v1/webhooks",
            Some(&organizer),
            json!({"url": "http://127.0.0.1:9/hook", "event_types": ["event.cancelled"]}),
        )
        .await
        .expect(201)
        .id();
    let other = id(&app.community("other").await);
    let stranger = app.key(Role::Organizer, Some(&other), None).await;
    app.get(&format!("/v1/webhooks/{hook}/deliveries"), Some(&stranger))
        .await
        .expect_problem(404);
    app.delete(&format!("/v1/webhooks/{hook}"), Some(&stranger))
        .await
        .expect_problem(404);
    assert!(
        app.all_pages("/v1/webhooks", Some(&stranger), 50)
            .await
            .0
            .is_empty()
    );
    app.post("/v1/webhooks", Some(&stranger), json!({"community_id": community, "url": "http://127.0.0.1:9/hook", "event_types": ["event.cancelled"]}))
        .await
        .expect_problem(403);
    app.delete(&format!("/v1/webhooks/{hook}"), Some(&organizer))
        .await
        .expect(204);
    app.stop().await;
}
