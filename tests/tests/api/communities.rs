use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends};
use serde_json::json;

both_backends!(
    create_get_and_list,
    validation,
    patch_with_if_match,
    organizer_scope,
    delete_only_when_empty,
);

async fn create_get_and_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let created = app
        .post(
            "/v1/communities",
            admin,
            json!({"slug": "huashenmiao", "name": {"zh-CN": "花神庙社区", "en": "Huashenmiao"}, "time_zone": "Asia/Shanghai", "default_locale": "zh-CN"}),
        )
        .await
        .expect(201);
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["slug"], "huashenmiao");
    assert_eq!(created.body["name"]["zh-CN"], "花神庙社区");
    assert_eq!(created.body["time_zone"], "Asia/Shanghai");
    assert_eq!(created.body["default_locale"], "zh-CN");
    assert_eq!(created.body["reminder_lead_minutes"], 1440);
    let id = created.id();

    let fetched = app
        .get(&format!("/v1/communities/{id}"), admin)
        .await
        .expect(200);
    assert_eq!(fetched.body, created.body);
    assert_eq!(fetched.header("etag"), Some("\"1\""));

    app.post(
        "/v1/communities",
        admin,
        json!({"slug": "huashenmiao", "name": {"en": "Again"}, "time_zone": "UTC", "default_locale": "en"}),
    )
    .await
    .expect_problem(409);

    for n in 0..4 {
        app.community(&format!("other-{n}")).await;
    }
    let (items, pages) = app.all_pages("/v1/communities", admin, 2).await;
    assert_eq!(items.len(), 5);
    assert_eq!(pages, 3);
    let mut ids: Vec<_> = items
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no item twice across pages");

    app.get("/v1/communities", None).await.expect_problem(401);
    app.stop().await;
}

async fn validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reply = app
        .post(
            "/v1/communities",
            Some(&app.admin_key),
            json!({"slug": "Bad Slug!", "name": {"en": "x"}, "time_zone": "Asia/Nowhere", "default_locale": "chinese"}),
        )
        .await
        .expect_problem(400);
    // The shapes the schema declares first...
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["default_locale", "slug"]);
    let reply = app
        .post(
            "/v1/communities",
            Some(&app.admin_key),
            json!({"slug": "good", "name": {}, "time_zone": "Asia/Nowhere", "default_locale": "ZH"}),
        )
        .await
        .expect_problem(422);
    // ...then what the values mean.
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["default_locale", "name", "time_zone"]);
    let reply = app
        .post(
            "/v1/communities",
            Some(&app.admin_key),
            json!({"slug": "ok", "name": {"english": "x", "en": ""}, "time_zone": "UTC", "default_locale": "en"}),
        )
        .await
        .expect_problem(422);
    assert!(
        reply.error_fields().contains(&"name.english".to_owned()),
        "{}",
        reply.text
    );
    assert!(
        reply.error_fields().contains(&"name.en".to_owned()),
        "{}",
        reply.text
    );
    app.stop().await;
}

async fn patch_with_if_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let id = app.community("hsm").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/communities/{id}");
    let changed = app
        .patch(
            &path,
            admin,
            json!({"name": {"zh-CN": "花神庙", "en": "Huashenmiao", "ko": "화신묘"}}),
            Some("\"1\""),
        )
        .await
        .expect(200);
    assert_eq!(changed.header("etag"), Some("\"2\""));
    assert_eq!(changed.body["name"]["ko"], "화신묘");
    assert_eq!(changed.body["slug"], "hsm");
    app.patch(
        &path,
        admin,
        json!({"time_zone": "Europe/Berlin"}),
        Some("\"1\""),
    )
    .await
    .expect_problem(412);
    app.patch(&path, admin, json!({"time_zone": "Not/AZone"}), None)
        .await
        .expect_problem(422);
    let unconditional = app
        .patch(&path, admin, json!({"time_zone": "Europe/Berlin"}), None)
        .await
        .expect(200);
    assert_eq!(unconditional.header("etag"), Some("\"3\""));
    assert_eq!(
        app.get(&path, admin).await.body["time_zone"],
        "Europe/Berlin"
    );
    app.patch(
        &format!("/v1/communities/{}", uuid::Uuid::now_v7()),
        admin,
        json!({}),
        None,
    )
    .await
    .expect_problem(404);
    app.stop().await;
}

async fn organizer_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let own = app.community("own").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.community("other").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let organizer = app.key(Role::Organizer, Some(&own), None).await;
    let key = Some(organizer.as_str());

    let (items, _) = app.all_pages("/v1/communities", key, 50).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], own.as_str());
    app.get(&format!("/v1/communities/{other}"), key)
        .await
        .expect_problem(404);
    app.patch(
        &format!("/v1/communities/{other}"),
        key,
        json!({"time_zone": "UTC"}),
        None,
    )
    .await
    .expect_problem(404);
    app.patch(
        &format!("/v1/communities/{own}"),
        key,
        json!({"time_zone": "UTC"}),
        None,
    )
    .await
    .expect(200);
    app.post(
        "/v1/communities",
        key,
        json!({"slug": "mine", "name": {"en": "Mine"}, "time_zone": "UTC", "default_locale": "en"}),
    )
    .await
    .expect_problem(403);
    app.delete(&format!("/v1/communities/{own}"), key)
        .await
        .expect_problem(403);

    let person = app
        .person(&own, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let volunteer = app.key(Role::Volunteer, None, person["id"].as_str()).await;
    app.get(&format!("/v1/communities/{own}"), Some(&volunteer))
        .await
        .expect(200);
    app.patch(
        &format!("/v1/communities/{own}"),
        Some(&volunteer),
        json!({"time_zone": "UTC"}),
        None,
    )
    .await
    .expect_problem(403);
    app.stop().await;
}

async fn delete_only_when_empty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let empty = app.community("empty").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&format!("/v1/communities/{empty}"), admin)
        .await
        .expect(204);
    app.get(&format!("/v1/communities/{empty}"), admin)
        .await
        .expect_problem(404);

    let busy = app.community("busy").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.station(&busy).await;
    app.delete(&format!("/v1/communities/{busy}"), admin)
        .await
        .expect_problem(409);
    app.stop().await;
}
