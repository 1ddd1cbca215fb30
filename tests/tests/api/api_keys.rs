use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::json;

both_backends!(
    admin_manages_keys,
    bindings_are_checked,
    organizers_issue_volunteer_keys,
);

async fn admin_manages_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let created = app
        .post(
            "/v1/api-keys",
            admin,
            json!({"name": "web portal", "role": "organizer", "community_id": hsm}),
        )
        .await
        .expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hs_") && secret.len() > 40);
    assert_eq!(created.body["role"], "organizer");
    assert_eq!(created.body["community_id"], hsm.as_str());
    assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));

    app.get(&format!("/v1/communities/{hsm}"), Some(&secret))
        .await
        .expect(200);
    let (keys, _) = app.all_pages("/v1/api-keys", admin, 1).await;
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.get("secret").is_none()),
        "secrets are never listed"
    );

    app.delete(&format!("/v1/api-keys/{}", created.id()), admin)
        .await
        .expect(204);
    app.get(&format!("/v1/communities/{hsm}"), Some(&secret))
        .await
        .expect_problem(401);
    app.delete(&format!("/v1/api-keys/{}", created.id()), admin)
        .await
        .expect(204);
    let (keys, _) = app.all_pages("/v1/api-keys", admin, 50).await;
    assert!(
        keys.iter()
            .any(|k| k["id"] == created.body["id"] && k["revoked_at"].is_string())
    );
    app.stop().await;
}

async fn bindings_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let person = app
        .person(&hsm, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    // 400 for what the schema says, 422 for the rules it cannot.
    for (body, field, status) in [
        (
            json!({"name": "x", "role": "organizer"}),
            "community_id",
            422,
        ),
        (json!({"name": "x", "role": "volunteer"}), "person_id", 422),
        (
            json!({"name": "x", "role": "admin", "community_id": hsm}),
            "role",
            422,
        ),
        (
            json!({"name": "x", "role": "volunteer", "person_id": id(&person), "community_id": other}),
            "community_id",
            422,
        ),
        (
            json!({"name": "x", "role": "organizer", "community_id": uuid::Uuid::now_v7()}),
            "community_id",
            422,
        ),
        (json!({"name": "", "role": "admin"}), "name", 400),
    ] {
        let reply = app
            .post("/v1/api-keys", admin, body)
            .await
            .expect_problem(status);
        assert_eq!(reply.error_fields(), [field], "{}", reply.text);
    }
    app.post("/v1/api-keys", admin, json!({"name": "x", "role": "root"}))
        .await
        .expect_problem(400);
    let volunteer = app
        .post(
            "/v1/api-keys",
            admin,
            json!({"name": "mini-program", "role": "volunteer", "person_id": id(&person)}),
        )
        .await
        .expect(201);
    assert_eq!(volunteer.body["community_id"], hsm.as_str());
    assert_eq!(volunteer.body["person_id"], person["id"]);
    app.stop().await;
}

async fn organizers_issue_volunteer_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let mine = app
        .person(&hsm, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let theirs = app
        .person(&other, "Olga Ivanova", json!({"is_volunteer": true}))
        .await;
    let organizer = app.key(Role::Organizer, Some(&hsm), None).await;
    let o = Some(organizer.as_str());
    let issued = app
        .post(
            "/v1/api-keys",
            o,
            json!({"name": "Wang Fang's phone", "role": "volunteer", "person_id": id(&mine)}),
        )
        .await
        .expect(201);
    app.post(
        "/v1/api-keys",
        o,
        json!({"name": "x", "role": "volunteer", "person_id": id(&theirs)}),
    )
    .await
    .expect_problem(403);
    app.post("/v1/api-keys", o, json!({"name": "x", "role": "admin"}))
        .await
        .expect_problem(403);
    let (listed, _) = app.all_pages("/v1/api-keys", o, 50).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], issued.body["id"]);
    let volunteer = issued.body["secret"].as_str().unwrap();
    app.get("/v1/api-keys", Some(volunteer))
        .await
        .expect_problem(403);
    app.delete(&format!("/v1/api-keys/{}", issued.id()), o)
        .await
        .expect(204);
    app.get(&format!("/v1/people/{}", id(&mine)), Some(volunteer))
        .await
        .expect_problem(401);
    app.stop().await;
}
