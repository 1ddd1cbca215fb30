use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(public_listing, create_patch_delete, organizer_scope,);

async fn public_listing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    for _ in 0..3 {
        app.station(&hsm).await;
    }
    app.station(&other).await;
    let (all, pages) = app.all_pages("/v1/stations", None, 2).await;
    assert_eq!((all.len(), pages), (4, 2));
    let (mine, _) = app
        .all_pages(&format!("/v1/stations?community_id={hsm}"), None, 50)
        .await;
    assert_eq!(mine.len(), 3);
    assert_eq!(
        mine[0]["name"],
        json!({"zh-CN": "英语角", "en": "English Corner"})
    );
    assert_eq!(mine[0]["time_zone"], "Asia/Shanghai");
    let (corners, _) = app
        .all_pages("/v1/stations?kind=english_corner", None, 50)
        .await;
    assert_eq!(corners.len(), 4);
    let (none, _) = app
        .all_pages("/v1/stations?kind=social_work", None, 50)
        .await;
    assert!(none.is_empty());
    app.get("/v1/stations?kind=bakery", None)
        .await
        .expect_problem(400);
    app.get(&format!("/v1/stations/{}", id(&mine[0])), None)
        .await
        .expect(200);
    app.get("/v1/stations", Some("hs_wrong"))
        .await
        .expect_problem(401);
    app.get(&format!("/v1/stations/{}", uuid::Uuid::now_v7()), None)
        .await
        .expect_problem(404);
    // A path that is not an id names nothing.
    app.get("/v1/stations/not-a-uuid", None)
        .await
        .expect_problem(404);
    app.stop().await;
}

async fn create_patch_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let created = app
        .post(
            "/v1/stations",
            admin,
            json!({
                "community_id": hsm,
                "kind": "foreign_friends",
                "name": {"zh-CN": "外籍友人服务站", "en": "Foreign Friends Service Station"},
                "description": {"en": "Help for foreign residents"},
                "location": "Community centre, ground floor",
                "time_zone": "Asia/Shanghai",
            }),
        )
        .await
        .expect(201);
    assert_eq!(created.body["kind"], "foreign_friends");
    assert_eq!(created.body["location"], "Community centre, ground floor");
    let path = format!("/v1/stations/{}", created.id());

    let bad = app
        .post(
            "/v1/stations",
            admin,
            json!({"community_id": hsm, "kind": "other", "name": {}, "time_zone": "Nowhere"}),
        )
        .await
        .expect_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["name", "time_zone"]);
    app.post(
        "/v1/stations",
        admin,
        json!({"community_id": hsm, "kind": "bakery", "name": {"en": "x"}}),
    )
    .await
    .expect_problem(400);

    let changed = app
        .patch(
            &path,
            admin,
            json!({"location": null, "kind": "volunteer"}),
            created.header("etag"),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["location"], Value::Null);
    assert_eq!(changed.body["kind"], "volunteer");
    app.patch(&path, admin, json!({"name": {}}), None)
        .await
        .expect_problem(422);
    app.patch(
        &path,
        admin,
        json!({"kind": "social_work"}),
        created.header("etag"),
    )
    .await
    .expect_problem(412);

    app.shift(&created.id(), 48, 3).await;
    app.delete(&path, admin).await.expect_problem(409);
    let empty = app.station(&hsm).await;
    app.delete(&format!("/v1/stations/{}", id(&empty)), admin)
        .await
        .expect(204);
    app.stop().await;
}

async fn organizer_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let organizer = app.key(Role::Organizer, Some(&hsm), None).await;
    let o = Some(organizer.as_str());
    let foreign = app.station(&other).await;
    let mine = app
        .post(
            "/v1/stations",
            o,
            json!({"community_id": hsm, "kind": "social_work", "name": {"en": "Social Work"}}),
        )
        .await
        .expect(201);
    app.post(
        "/v1/stations",
        o,
        json!({"community_id": other, "kind": "social_work", "name": {"en": "x"}}),
    )
    .await
    .expect_problem(403);
    app.patch(
        &format!("/v1/stations/{}", id(&foreign)),
        o,
        json!({"kind": "other"}),
        None,
    )
    .await
    .expect_problem(403);
    app.delete(&format!("/v1/stations/{}", id(&foreign)), o)
        .await
        .expect_problem(403);
    app.patch(
        &format!("/v1/stations/{}", mine.id()),
        o,
        json!({"kind": "other"}),
        None,
    )
    .await
    .expect(200);
    let person = app
        .person(&hsm, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let volunteer = app.key(Role::Volunteer, None, person["id"].as_str()).await;
    app.post(
        "/v1/stations",
        Some(&volunteer),
        json!({"community_id": hsm, "kind": "other", "name": {"en": "x"}}),
    )
    .await
    .expect_problem(403);
    app.stop().await;
}
