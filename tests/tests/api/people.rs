use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(
    create_with_community_defaults,
    email_unique_per_community_any_case,
    validation,
    filters_and_pages,
    patch_and_clear,
    access_by_role,
    delete,
);

async fn create_with_community_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let reply = app
        .post(
            "/v1/people",
            Some(&app.admin_key),
            json!({
                "community_id": community,
                "full_name": "Kim Min-jun",
                "email": "MinJun.Kim@Example.KR",
                "nationality": "KR",
                "birthday": "1990-05-08",
                "languages": ["ko", "zh-CN"],
                "skills": ["translation"],
                "is_volunteer": true,
                "moved_in_on": "2026-09-01",
            }),
        )
        .await
        .expect(201);
    let person = &reply.body;
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(person["community_id"], community.as_str());
    assert_eq!(person["email"], "MinJun.Kim@Example.KR");
    assert_eq!(person["locale"], "zh-CN", "the community's default locale");
    assert_eq!(
        person["time_zone"], "Asia/Shanghai",
        "the community's time zone"
    );
    assert_eq!(person["birthday"], "1990-05-08");
    assert_eq!(person["languages"], json!(["ko", "zh-CN"]));
    assert_eq!(person["is_volunteer"], true);
    assert_eq!(person["moved_in_on"], "2026-09-01");
    assert_eq!(person["moving_out_on"], Value::Null);
    assert_eq!(
        person["notifications"],
        json!({"reminders": true, "birthday_card": true, "feedback": true, "notices": true, "surveys": true})
    );

    let own = app
        .person(
            &community,
            "Emily Carter",
            json!({"locale": "en", "time_zone": "America/New_York", "nationality": "US"}),
        )
        .await;
    assert_eq!(own["locale"], "en");
    assert_eq!(own["time_zone"], "America/New_York");
    app.stop().await;
}

async fn email_unique_per_community_any_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = id(&app.community("first").await);
    let second = id(&app.community("second").await);
    app.person(&first, "Li Ming", json!({"email": "li.ming@example.cn"}))
        .await;
    let clash = app
        .post(
            "/v1/people",
            Some(&app.admin_key),
            json!({"community_id": first, "full_name": "Other", "email": "LI.MING@example.CN", "nationality": "CN"}),
        )
        .await
        .expect_problem(409);
    assert!(
        clash.body["detail"].as_str().unwrap().contains("email"),
        "{}",
        clash.text
    );
    app.person(&second, "Li Ming", json!({"email": "li.ming@example.cn"}))
        .await;

    let other = app.person(&first, "Chen Jing", json!({})).await;
    app.patch(
        &format!("/v1/people/{}", id(&other)),
        Some(&app.admin_key),
        json!({"email": "Li.Ming@example.cn"}),
        None,
    )
    .await
    .expect_problem(409);
    app.stop().await;
}

async fn validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let reply = app
        .post(
            "/v1/people",
            Some(&app.admin_key),
            json!({
                "community_id": community,
                "full_name": "王芳",
                "email": "wang.fang@example.cn",
                "nationality": "XX",
                "locale": "EN",
                "time_zone": "Mars/Olympus",
                "birthday": "2999-01-01",
                "languages": ["KO"],
                "moved_in_on": "2026-05-01",
                "moving_out_on": "2026-04-01",
            }),
        )
        .await
        .expect_problem(422);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "birthday",
            "languages",
            "locale",
            "moving_out_on",
            "nationality",
            "time_zone"
        ],
        "{}",
        reply.text
    );
    for email in [
        "not-an-email",
        "two@@example.com",
        "a b@example.com",
        "x@localhost",
    ] {
        let bad = app
            .post(
                "/v1/people",
                Some(&app.admin_key),
                json!({"community_id": community, "full_name": "X", "email": email, "nationality": "CN"}),
            )
            .await
            .expect_problem(422);
        assert_eq!(bad.error_fields(), ["email"], "{email}");
    }
    let unknown = app
        .post(
            "/v1/people",
            Some(&app.admin_key),
            json!({"community_id": uuid::Uuid::now_v7(), "full_name": "X", "email": "x@example.com", "nationality": "CN"}),
        )
        .await
        .expect_problem(422);
    assert_eq!(unknown.error_fields(), ["community_id"]);
    let missing = app
        .post(
            "/v1/people",
            Some(&app.admin_key),
            json!({"community_id": community, "full_name": "X"}),
        )
        .await
        .expect_problem(400);
    assert_eq!(missing.error_fields(), ["email"], "{}", missing.text);
    let mistyped = app
        .post("/v1/people", Some(&app.admin_key), json!({"community_id": community, "full_name": "X", "email": "x@example.com", "nationality": "CN", "is_volunteer": "yes"}))
        .await
        .expect_problem(400);
    assert_eq!(
        mistyped.error_fields(),
        ["is_volunteer"],
        "{}",
        mistyped.text
    );
    let nested = app
        .patch(
            &format!("/v1/people/{}", uuid::Uuid::now_v7()),
            Some(&app.admin_key),
            json!({"notifications": {"reminders": "off"}}),
            None,
        )
        .await
        .expect_problem(400);
    assert_eq!(
        nested.error_fields(),
        ["notifications.reminders"],
        "{}",
        nested.text
    );
    app.stop().await;
}

async fn filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let elsewhere = id(&app.community("elsewhere").await);
    app.person(
        &community,
        "Wang Fang",
        json!({"languages": ["zh-CN", "en"], "is_volunteer": true}),
    )
    .await;
    app.person(
        &community,
        "Kim Min-jun",
        json!({"nationality": "KR", "languages": ["ko", "en"], "is_volunteer": true}),
    )
    .await;
    app.person(
        &community,
        "Tanaka Yuki",
        json!({"nationality": "JP", "languages": ["ja"]}),
    )
    .await;
    app.person(
        &community,
        "Anna Mueller",
        json!({"nationality": "DE", "languages": ["de", "en"], "email": "anna@kim-family.de"}),
    )
    .await;
    app.person(
        &elsewhere,
        "Olga Ivanova",
        json!({"nationality": "RU", "languages": ["en"]}),
    )
    .await;
    let admin = Some(app.admin_key.as_str());
    let names = |items: Vec<Value>| -> Vec<String> {
        let mut names: Vec<_> = items
            .iter()
            .map(|p| p["full_name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let scoped = format!("/v1/people?community_id={community}");
    let (all, pages) = app.all_pages(&scoped, admin, 1).await;
    assert_eq!((all.len(), pages), (4, 4));
    assert_eq!(
        names(
            app.all_pages(&format!("{scoped}&nationality=KR"), admin, 50)
                .await
                .0
        ),
        ["Kim Min-jun"]
    );
    assert_eq!(
        names(
            app.all_pages(&format!("{scoped}&language=en"), admin, 50)
                .await
                .0
        ),
        ["Anna Mueller", "Kim Min-jun", "Wang Fang"]
    );
    assert_eq!(
        names(
            app.all_pages(&format!("{scoped}&language=eng"), admin, 50)
                .await
                .0
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            app.all_pages(&format!("{scoped}&is_volunteer=true"), admin, 50)
                .await
                .0
        ),
        ["Kim Min-jun", "Wang Fang"]
    );
    assert_eq!(
        names(app.all_pages(&format!("{scoped}&q=KIM"), admin, 50).await.0),
        ["Anna Mueller", "Kim Min-jun"]
    );
    assert_eq!(
        names(app.all_pages(&format!("{scoped}&q=%25"), admin, 50).await.0),
        Vec::<String>::new()
    );
    assert_eq!(
        names(app.all_pages("/v1/people?language=en", admin, 2).await.0).len(),
        4
    );

    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    assert_eq!(
        app.all_pages("/v1/people", Some(&organizer), 50)
            .await
            .0
            .len(),
        4
    );
    app.get(
        &format!("/v1/people?community_id={elsewhere}"),
        Some(&organizer),
    )
    .await
    .expect_problem(403);
    app.get("/v1/people?limit=0", admin)
        .await
        .expect_problem(400);
    app.get("/v1/people?limit=201", admin)
        .await
        .expect_problem(400);
    app.get("/v1/people?cursor=garbage", admin)
        .await
        .expect_problem(422);
    app.get("/v1/people?is_volunteer=maybe", admin)
        .await
        .expect_problem(400);
    app.stop().await;
}

async fn patch_and_clear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let person = app
        .person(
            &community,
            "Pierre Dubois",
            json!({"phone": "+86 138 0000 0000", "birthday": "1979-04-17"}),
        )
        .await;
    let path = format!("/v1/people/{}", id(&person));
    let changed = app
        .patch(
            &path,
            admin,
            json!({"phone": null, "locale": "fr", "moving_out_on": "2027-06-30", "notifications": {"birthday_card": false}}),
            Some("\"1\""),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["phone"], Value::Null);
    assert_eq!(changed.body["birthday"], "1979-04-17", "absent fields stay");
    assert_eq!(changed.body["locale"], "fr");
    assert_eq!(changed.body["moving_out_on"], "2027-06-30");
    assert_eq!(
        changed.body["notifications"],
        json!({"reminders": true, "birthday_card": false, "feedback": true, "notices": true, "surveys": true})
    );
    assert_eq!(changed.header("etag"), Some("\"2\""));
    app.patch(&path, admin, json!({"locale": "de"}), Some("\"1\""))
        .await
        .expect_problem(412);
    app.patch(&path, admin, json!({"nationality": "FRA"}), None)
        .await
        .expect_problem(400);
    app.patch(&path, admin, json!({"birthday": "not a date"}), None)
        .await
        .expect_problem(400);
    assert_eq!(app.get(&path, admin).await.expect(200).body, changed.body);
    app.stop().await;
}

async fn access_by_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let other_community = id(&app.community("other").await);
    let me = app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let neighbour = app
        .person(&community, "Li Ming", json!({"is_volunteer": true}))
        .await;
    let stranger = app
        .person(&other_community, "Olga Ivanova", json!({}))
        .await;
    let volunteer = app.key(Role::Volunteer, None, me["id"].as_str()).await;
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    let v = Some(volunteer.as_str());
    let o = Some(organizer.as_str());

    app.get(&format!("/v1/people/{}", id(&me)), v)
        .await
        .expect(200);
    app.get(&format!("/v1/people/{}", id(&neighbour)), v)
        .await
        .expect_problem(404);
    app.get("/v1/people", v).await.expect_problem(403);
    let mine = app
        .patch(
            &format!("/v1/people/{}", id(&me)),
            v,
            json!({"notifications": {"reminders": false}}),
            None,
        )
        .await
        .expect(200);
    assert_eq!(mine.body["notifications"]["reminders"], false);
    app.patch(
        &format!("/v1/people/{}", id(&me)),
        v,
        json!({"is_volunteer": false}),
        None,
    )
    .await
    .expect_problem(403);
    app.patch(
        &format!("/v1/people/{}", id(&neighbour)),
        v,
        json!({"locale": "en"}),
        None,
    )
    .await
    .expect_problem(404);
    app.post(
        "/v1/people",
        v,
        json!({"community_id": community, "full_name": "X", "email": "x@example.com", "nationality": "CN"}),
    )
    .await
    .expect_problem(403);

    app.get(&format!("/v1/people/{}", id(&neighbour)), o)
        .await
        .expect(200);
    app.get(&format!("/v1/people/{}", id(&stranger)), o)
        .await
        .expect_problem(404);
    app.post(
        "/v1/people",
        o,
        json!({"community_id": other_community, "full_name": "X", "email": "x@example.com", "nationality": "CN"}),
    )
    .await
    .expect_problem(403);
    app.get(&format!("/v1/people/{}", id(&me)), None)
        .await
        .expect_problem(401);
    app.stop().await;
}

async fn delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let person = app
        .person(
            &community,
            "Tanaka Yuki",
            json!({"phone": "+86 139 0000 0000", "birthday": "1994-12-01"}),
        )
        .await;
    app.delete(&format!("/v1/people/{}", id(&person)), admin)
        .await
        .expect(204);
    let erased = app
        .get(&format!("/v1/people/{}", id(&person)), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(erased["full_name"], "(erased)");
    assert!(erased["erased_at"].is_string());
    assert_eq!(
        (erased["phone"].clone(), erased["birthday"].clone()),
        (Value::Null, Value::Null)
    );
    app.delete(&format!("/v1/people/{}", id(&person)), admin)
        .await
        .expect(204);
    app.stop().await;
}
