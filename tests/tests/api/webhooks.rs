use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_api::state::Settings;
use huashen_tests::receiver::Receiver;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(
    signed_deliveries_with_retries,
    targets_and_scope,
    every_event_from_every_cause
);

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

/// Each event type, from each change that causes it, is recorded with that change (so
/// it is there before any worker runs), and a change that fails records nothing.
async fn every_event_from_every_cause(backend: Backend) {
    let app = allowing_loopback(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let every_type = [
        "signup.created",
        "signup.cancelled",
        "signup.promoted",
        "registration.created",
        "registration.cancelled",
        "registration.promoted",
        "event.published",
        "event.cancelled",
        "shift.cancelled",
        "feedback.submitted",
    ];
    let hook = app
        .post("/v1/webhooks", admin, json!({"community_id": community, "url": "http://127.0.0.1:9/hook", "event_types": every_type}))
        .await
        .expect(201)
        .id();
    let people = app.volunteers(&community, 8).await;
    let sign_up = async |shift: &str, person: &str| {
        app.post(
            &format!("/v1/shifts/{shift}/signups"),
            admin,
            json!({"person_id": person}),
        )
        .await
        .expect(201);
    };
    let register = async |event: &str, person: &str| {
        app.post(
            &format!("/v1/events/{event}/registrations"),
            admin,
            json!({"person_id": person}),
        )
        .await
        .expect(201);
    };
    let signup_url = |shift: &str, person: &str| format!("/v1/shifts/{shift}/signups/{person}");
    let registration_url =
        |event: &str, person: &str| format!("/v1/events/{event}/registrations/{person}");
    let mut expected: Vec<(&str, String)> = Vec::new();

    // A sign-up, a cancellation through the route, and the promotion it causes.
    let shift = id(&app.shift(&station, 48, 1).await);
    sign_up(&shift, &people[0]).await;
    sign_up(&shift, &people[1]).await;
    app.delete(&format!("/v1/shifts/{shift}/signups/{}", people[0]), admin)
        .await
        .expect(200);
    expected.extend([
        ("signup.created", signup_url(&shift, &people[0])),
        ("signup.created", signup_url(&shift, &people[1])),
        ("signup.cancelled", signup_url(&shift, &people[0])),
        ("signup.promoted", signup_url(&shift, &people[1])),
    ]);
    // A refused sign-up (already signed up) records nothing.
    app.post(
        &format!("/v1/shifts/{shift}/signups"),
        admin,
        json!({"person_id": people[1]}),
    )
    .await
    .expect_problem(409);

    // A promotion caused by raising a shift's capacity.
    let raised = id(&app.shift(&station, 72, 1).await);
    sign_up(&raised, &people[2]).await;
    sign_up(&raised, &people[3]).await;
    app.patch(
        &format!("/v1/shifts/{raised}"),
        admin,
        json!({"capacity": 2}),
        None,
    )
    .await
    .expect(200);
    expected.extend([
        ("signup.created", signup_url(&raised, &people[2])),
        ("signup.created", signup_url(&raised, &people[3])),
        ("signup.promoted", signup_url(&raised, &people[3])),
    ]);

    // A promotion caused by raising a series' capacity.
    let series = app
        .post(
            "/v1/shift-series",
            admin,
            json!({"station_id": station, "rrule": "FREQ=WEEKLY;BYDAY=WE", "starts_on": "2027-03-01", "start_time": "19:00", "duration_minutes": 90, "capacity": 1, "count": 1}),
        )
        .await
        .expect(201);
    let weekly = id(&series.body["shifts"][0]);
    sign_up(&weekly, &people[4]).await;
    sign_up(&weekly, &people[5]).await;
    app.patch(
        &format!("/v1/shift-series/{}", id(&series.body["series"])),
        admin,
        json!({"capacity": 2}),
        None,
    )
    .await
    .expect(200);
    expected.extend([
        ("signup.created", signup_url(&weekly, &people[4])),
        ("signup.created", signup_url(&weekly, &people[5])),
        ("signup.promoted", signup_url(&weekly, &people[5])),
    ]);

    // A published event with one place.
    let one_place = async |starts_in_hours| {
        let event = id(&app.event(&community, starts_in_hours).await);
        app.patch(
            &format!("/v1/events/{event}"),
            admin,
            json!({"capacity": 1}),
            None,
        )
        .await
        .expect(200);
        app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
            .await
            .expect(200);
        event
    };

    // Registrations: through the routes, and a promotion by raising the capacity.
    let event = one_place(96).await;
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200); // unchanged: no second event
    register(&event, &people[0]).await;
    register(&event, &people[1]).await;
    register(&event, &people[2]).await;
    app.delete(
        &format!("/v1/events/{event}/registrations/{}", people[0]),
        admin,
    )
    .await
    .expect(200);
    app.patch(
        &format!("/v1/events/{event}"),
        admin,
        json!({"capacity": 2}),
        None,
    )
    .await
    .expect(200);
    expected.extend([
        ("event.published", format!("/v1/events/{event}")),
        ("registration.created", registration_url(&event, &people[0])),
        ("registration.created", registration_url(&event, &people[1])),
        ("registration.created", registration_url(&event, &people[2])),
        (
            "registration.cancelled",
            registration_url(&event, &people[0]),
        ),
        (
            "registration.promoted",
            registration_url(&event, &people[1]),
        ),
        (
            "registration.promoted",
            registration_url(&event, &people[2]),
        ),
    ]);

    // Erasing a person gives up their places, and those waiting move up.
    let last = id(&app.shift(&station, 120, 1).await);
    sign_up(&last, &people[6]).await;
    sign_up(&last, &people[7]).await;
    let small = one_place(120).await;
    register(&small, &people[6]).await;
    register(&small, &people[7]).await;
    app.delete(&format!("/v1/people/{}", people[6]), admin)
        .await
        .expect(204);
    expected.extend([
        ("signup.created", signup_url(&last, &people[6])),
        ("signup.created", signup_url(&last, &people[7])),
        ("event.published", format!("/v1/events/{small}")),
        ("registration.created", registration_url(&small, &people[6])),
        ("registration.created", registration_url(&small, &people[7])),
        ("signup.cancelled", signup_url(&last, &people[6])),
        ("signup.promoted", signup_url(&last, &people[7])),
        (
            "registration.cancelled",
            registration_url(&small, &people[6]),
        ),
        (
            "registration.promoted",
            registration_url(&small, &people[7]),
        ),
    ]);

    // Cancelling a shift and an event.
    app.post(&format!("/v1/shifts/{last}/cancel"), admin, json!({}))
        .await
        .expect(200);
    app.post(&format!("/v1/events/{small}/cancel"), admin, json!({}))
        .await
        .expect(200);
    expected.extend([
        ("shift.cancelled", format!("/v1/shifts/{last}")),
        ("event.cancelled", format!("/v1/events/{small}")),
    ]);

    let (log, _) = app
        .all_pages(&format!("/v1/webhooks/{hook}/deliveries"), admin, 200)
        .await;
    assert!(
        log.iter().all(|d| d["status"] == "pending"),
        "no worker ran"
    );
    let mut recorded: Vec<(String, String)> = log
        .iter()
        .map(|d| {
            let payload: Value = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
            assert_eq!(payload["type"], d["event_type"]);
            (
                payload["type"].as_str().unwrap().to_owned(),
                payload["data"]["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(t, url)| (t.to_owned(), url))
        .collect();
    recorded.sort();
    expected.sort();
    assert_eq!(recorded, expected);
    app.stop().await;
}
