use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::json;

both_backends!(
    draft_publish_cancel,
    visibility,
    validation_and_patch,
    filters_and_pages,
);

async fn draft_publish_cancel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let event = app.event(&hsm, 72).await;
    assert_eq!(event["status"], "draft");
    assert_eq!(event["title"]["en"], "Winter Solstice Dumplings");
    assert_eq!(event["capacity"], 30);
    let path = format!("/v1/events/{}", id(&event));

    let published = app
        .post(&format!("{path}/publish"), admin, json!({}))
        .await
        .expect(200);
    assert_eq!(published.body["status"], "published");
    assert_eq!(published.header("etag"), Some("\"2\""));
    let again = app
        .post(&format!("{path}/publish"), admin, json!({}))
        .await
        .expect(200);
    assert_eq!(
        again.header("etag"),
        Some("\"2\""),
        "publishing twice changes nothing"
    );
    app.delete(&path, admin).await.expect_problem(409);

    let cancelled = app
        .post(&format!("{path}/cancel"), admin, json!({}))
        .await
        .expect(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    app.post(&format!("{path}/publish"), admin, json!({}))
        .await
        .expect_problem(409);
    app.patch(&path, admin, json!({"capacity": 50}), None)
        .await
        .expect_problem(409);

    let draft = app.event(&hsm, 24).await;
    app.delete(&format!("/v1/events/{}", id(&draft)), admin)
        .await
        .expect(204);
    app.post(
        &format!("/v1/events/{}/publish", uuid::Uuid::now_v7()),
        admin,
        json!({}),
    )
    .await
    .expect_problem(404);
    app.stop().await;
}

async fn visibility(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let draft = app.event(&hsm, 24).await;
    let public = app.event(&hsm, 48).await;
    app.post(
        &format!("/v1/events/{}/publish", id(&public)),
        admin,
        json!({}),
    )
    .await
    .expect(200);
    let other_draft = app.event(&other, 24).await;

    let (anonymous, _) = app.all_pages("/v1/events", None, 50).await;
    assert_eq!(anonymous.len(), 1);
    assert_eq!(anonymous[0]["id"], public["id"]);
    assert_eq!(anonymous[0]["status"], "published");
    app.get(&format!("/v1/events/{}", id(&public)), None)
        .await
        .expect(200);
    app.get(&format!("/v1/events/{}", id(&draft)), None)
        .await
        .expect_problem(404);

    let organizer = app.key(Role::Organizer, Some(&hsm), None).await;
    let o = Some(organizer.as_str());
    let (organized, _) = app.all_pages("/v1/events", o, 50).await;
    assert_eq!(
        organized.len(),
        2,
        "own drafts, not other communities' drafts"
    );
    app.get(&format!("/v1/events/{}", id(&draft)), o)
        .await
        .expect(200);
    app.get(&format!("/v1/events/{}", id(&other_draft)), o)
        .await
        .expect_problem(404);
    app.post(
        &format!("/v1/events/{}/publish", id(&other_draft)),
        o,
        json!({}),
    )
    .await
    .expect_problem(404);

    let person = app.person(&hsm, "Kim Min-jun", json!({})).await;
    let volunteer = app.key(Role::Volunteer, None, person["id"].as_str()).await;
    assert_eq!(
        app.all_pages("/v1/events", Some(&volunteer), 50)
            .await
            .0
            .len(),
        1
    );
    app.post(
        &format!("/v1/events/{}/cancel", id(&public)),
        Some(&volunteer),
        json!({}),
    )
    .await
    .expect_problem(403);
    assert_eq!(app.all_pages("/v1/events", admin, 50).await.0.len(), 3);
    app.get("/v1/events", Some("hs_not_a_key"))
        .await
        .expect_problem(401);
    app.stop().await;
}

async fn validation_and_patch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let bad = app
        .post(
            "/v1/events",
            admin,
            json!({
                "community_id": hsm,
                "title": {},
                "category": "festival",
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T09:00:00Z",
                "capacity": 10,
                "registration_opens_at": "2029-12-20T00:00:00Z",
                "registration_closes_at": "2029-12-10T00:00:00Z",
            }),
        )
        .await
        .expect_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["ends_at", "registration_closes_at", "title"]);
    // Declared bounds are checked first, every one of them in one answer.
    let bounds = app
        .post(
            "/v1/events",
            admin,
            json!({
                "community_id": hsm,
                "title": {"en": "t".repeat(201)},
                "category": "",
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T11:00:00Z",
                "capacity": 0,
            }),
        )
        .await
        .expect_problem(400);
    let mut fields = bounds.error_fields();
    fields.sort();
    assert_eq!(fields, ["capacity", "category", "title.en"]);

    let event = app.event(&hsm, 72).await;
    let path = format!("/v1/events/{}", id(&event));
    let changed = app
        .patch(
            &path,
            admin,
            json!({"venue": "Community centre", "title": {"zh-CN": "冬至", "en": "Winter Solstice", "ja": "冬至"}, "capacity": 12}),
            Some("\"1\""),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["venue"], "Community centre");
    assert_eq!(changed.body["title"]["ja"], "冬至");
    assert_eq!(changed.body["capacity"], 12);
    app.patch(&path, admin, json!({"capacity": 20}), Some("\"1\""))
        .await
        .expect_problem(412);
    app.patch(&path, admin, json!({"venue": null}), Some("W/\"2\""))
        .await
        .expect(200);
    let late_close = app
        .patch(
            &path,
            admin,
            json!({"registration_closes_at": "2099-01-01T00:00:00Z"}),
            None,
        )
        .await
        .expect_problem(422);
    assert_eq!(late_close.error_fields(), ["registration_closes_at"]);
    app.stop().await;
}

async fn filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    for hours in [96, 24, 72, 48, 120] {
        let event = app.event(&hsm, hours).await;
        app.post(
            &format!("/v1/events/{}/publish", id(&event)),
            admin,
            json!({}),
        )
        .await
        .expect(200);
    }
    let cooking = app
        .post(
            "/v1/events",
            admin,
            json!({"community_id": hsm, "title": {"en": "Cooking"}, "category": "food", "starts_at": "2031-01-01T10:00:00Z", "ends_at": "2031-01-01T12:00:00Z", "capacity": 10}),
        )
        .await
        .expect(201);
    let (all, pages) = app.all_pages("/v1/events", None, 2).await;
    assert_eq!((all.len(), pages), (5, 3));
    let starts: Vec<_> = all
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["starts_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    let (food, _) = app.all_pages("/v1/events?category=food", admin, 50).await;
    assert_eq!(food.len(), 1);
    assert_eq!(food[0]["id"], cooking.body["id"]);
    let (drafts, _) = app.all_pages("/v1/events?status=draft", admin, 50).await;
    assert_eq!(drafts.len(), 1);
    assert!(
        app.all_pages("/v1/events?status=draft", None, 50)
            .await
            .0
            .is_empty()
    );
    let (later, _) = app
        .all_pages("/v1/events?from=2030-01-01T00:00:00Z", admin, 50)
        .await;
    assert_eq!(later.len(), 1);
    app.get("/v1/events?status=finished", None)
        .await
        .expect_problem(400);
    app.stop().await;
}
