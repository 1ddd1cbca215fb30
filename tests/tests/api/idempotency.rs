use entities::enums::Role;
use futures_util::future::join_all;
use huashen_tests::{Backend, TestApp, both_backends, id};
use reqwest::Method;
use serde_json::{Value, json};

both_backends!(
    replay_returns_the_first_response,
    other_body_or_key,
    concurrent_duplicates_create_one,
    keys_expire_after_a_day,
);

async fn post_with_key(
    app: &TestApp,
    path: &str,
    api_key: &str,
    key: &str,
    body: Value,
) -> huashen_tests::Reply {
    app.call(
        Method::POST,
        path,
        Some(api_key),
        Some(body),
        &[("Idempotency-Key", key)],
    )
    .await
}

async fn replay_returns_the_first_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let body = json!({"community_id": community, "full_name": "Wang Fang", "email": "wang.fang@example.cn", "nationality": "CN"});
    let first = post_with_key(&app, "/v1/people", &app.admin_key, "person-1", body.clone())
        .await
        .expect(201);
    let again = post_with_key(&app, "/v1/people", &app.admin_key, "person-1", body)
        .await
        .expect(201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    let (people, _) = app.all_pages("/v1/people", Some(&app.admin_key), 50).await;
    assert_eq!(people.len(), 1, "no second effect");

    // Sign-ups, registrations and check-ins too; errors are replayed as they were.
    let station = id(&app.station(&community).await);
    let shift = id(&app.shift(&station, 48, 1).await);
    let volunteer = app.volunteers(&community, 1).await.remove(0);
    let path = format!("/v1/shifts/{shift}/signups");
    let signed = post_with_key(
        &app,
        &path,
        &app.admin_key,
        "signup-1",
        json!({"person_id": volunteer}),
    )
    .await
    .expect(201);
    let replayed = post_with_key(
        &app,
        &path,
        &app.admin_key,
        "signup-1",
        json!({"person_id": volunteer}),
    )
    .await
    .expect(201);
    assert_eq!(replayed.body, signed.body);
    let refused = post_with_key(
        &app,
        &path,
        &app.admin_key,
        "signup-2",
        json!({"person_id": volunteer}),
    )
    .await
    .expect_problem(409);
    let refused_again = post_with_key(
        &app,
        &path,
        &app.admin_key,
        "signup-2",
        json!({"person_id": volunteer}),
    )
    .await
    .expect_problem(409);
    // Refusals are not stored: the same answer again, to a request of its own.
    assert_ne!(refused.body["request_id"], refused_again.body["request_id"]);
    assert_eq!(refused.answer(), refused_again.answer());
    assert_eq!(
        app.get(&format!("/v1/shifts/{shift}"), Some(&app.admin_key))
            .await
            .body["confirmed_count"],
        1
    );
    app.stop().await;
}

async fn other_body_or_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let body = |name: &str| json!({"community_id": community, "full_name": name, "email": format!("{name}@example.cn"), "nationality": "CN"});
    post_with_key(&app, "/v1/people", &app.admin_key, "k", body("a"))
        .await
        .expect(201);
    post_with_key(&app, "/v1/people", &app.admin_key, "k", body("b"))
        .await
        .expect_problem(422);
    post_with_key(&app, "/v1/events", &app.admin_key, "k", body("a"))
        .await
        .expect_problem(422);
    // Keys are scoped to the API key.
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    post_with_key(&app, "/v1/people", &organizer, "k", body("b"))
        .await
        .expect(201);
    post_with_key(&app, "/v1/people", &app.admin_key, "", body("c"))
        .await
        .expect_problem(400);
    post_with_key(
        &app,
        "/v1/people",
        &app.admin_key,
        &"x".repeat(256),
        body("c"),
    )
    .await
    .expect_problem(400);
    post_with_key(
        &app,
        "/v1/people",
        &app.admin_key,
        &"x".repeat(255),
        body("c"),
    )
    .await
    .expect(201);
    post_with_key(&app, "/v1/people", "hs_unknown", "k2", body("d"))
        .await
        .expect_problem(401);
    app.stop().await;
}

async fn concurrent_duplicates_create_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    for round in 0..5 {
        let body = json!({"community_id": community, "full_name": "Same", "email": format!("same{round}@example.cn"), "nationality": "CN"});
        let key = format!("round-{round}");
        let replies = join_all(
            (0..10).map(|_| post_with_key(&app, "/v1/people", &app.admin_key, &key, body.clone())),
        )
        .await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "{statuses:?}"
        );
        let ids: std::collections::BTreeSet<_> = replies
            .iter()
            .filter(|r| r.status == 201)
            .map(|r| r.body["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "one resource, replayed: {statuses:?}");
    }
    let (people, _) = app.all_pages("/v1/people", Some(&app.admin_key), 50).await;
    assert_eq!(people.len(), 5);
    app.stop().await;
}

async fn keys_expire_after_a_day(backend: Backend) {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let body = |name: &str| json!({"community_id": community, "full_name": name, "email": format!("{name}@example.cn"), "nationality": "CN"});
    let first = post_with_key(&app, "/v1/people", &app.admin_key, "daily", body("a"))
        .await
        .expect(201);
    let sql = match app.backend {
        Backend::Sqlite => "UPDATE idempotency_keys SET created_at = ?",
        Backend::Postgres => "UPDATE idempotency_keys SET created_at = $1",
    };
    let day_ago = chrono::Utc::now() - chrono::Duration::hours(25);
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql,
            [day_ago.into()],
        ))
        .await
        .unwrap();
    let fresh = post_with_key(&app, "/v1/people", &app.admin_key, "daily", body("b"))
        .await
        .expect(201);
    assert_ne!(
        fresh.body["id"], first.body["id"],
        "an expired key is a new request"
    );
    assert_eq!(fresh.header("idempotent-replayed"), None);
    let count = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM idempotency_keys",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(count, 1, "the expired key was pruned");
    app.stop().await;
}
