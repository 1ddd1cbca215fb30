use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(export_everything_held, erase_keeps_totals_and_frees_places);

async fn export_everything_held(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let me = app
        .person(
            &community,
            "Kim Minjun",
            // Moved in yesterday: a welcome letter is due.
            json!({"is_volunteer": true, "moved_in_on": yesterday_in_shanghai(), "locale": "ko"}),
        )
        .await;
    let key = app.key(Role::Volunteer, None, me["id"].as_str()).await;
    let shift = id(&app.shift(&station, 48, 3).await);
    app.post(
        &format!("/v1/shifts/{shift}/signups"),
        Some(&key),
        json!({"person_id": id(&me)}),
    )
    .await
    .expect(201);
    let event = id(&app.event(&community, 72).await);
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200);
    app.post(
        &format!("/v1/events/{event}/registrations"),
        Some(&key),
        json!({"person_id": id(&me)}),
    )
    .await
    .expect(201);
    app.worker(&smtp).tick(Utc::now()).await.unwrap();

    let export = app
        .get(&format!("/v1/people/{}/export", id(&me)), Some(&key))
        .await
        .expect(200)
        .body;
    assert_eq!(export["person"]["full_name"], "Kim Minjun");
    assert_eq!(export["signups"][0]["shift"]["id"], shift.as_str());
    assert_eq!(export["registrations"][0]["event"]["id"], event.as_str());
    assert_eq!(export["notifications"][0]["kind"], "welcome");
    assert_eq!(export["api_keys"].as_array().unwrap().len(), 1);
    assert!(export["api_keys"][0].get("secret_hash").is_none());
    let neighbour = app.person(&community, "Li Ming", json!({})).await;
    app.get(&format!("/v1/people/{}/export", id(&neighbour)), Some(&key))
        .await
        .expect_problem(404);

    let (log, _) = app.all_pages("/v1/audit-log", admin, 50).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["action"].clone(), log[0]["person_id"].clone()),
        (json!("export"), me["id"].clone())
    );
    app.get("/v1/audit-log", Some(&key))
        .await
        .expect_problem(403);
    app.stop().await;
}

async fn erase_keeps_totals_and_frees_places(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let leaving = app
        .person(&community, "Olga Ivanova", json!({"is_volunteer": true, "nationality": "RU", "birthday": "1980-05-05", "phone": "+86 138 1111 2222"}))
        .await;
    let waiting = app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let key = app.key(Role::Volunteer, None, leaving["id"].as_str()).await;

    // Hours already served: a shift last week, attended.
    let past = id(&app.shift(&station, 100, 2).await);
    app.post(
        &format!("/v1/shifts/{past}/signups"),
        admin,
        json!({"person_id": id(&leaving)}),
    )
    .await
    .expect(201);
    let week_ago = Utc::now() - Duration::days(7);
    app.patch(&format!("/v1/shifts/{past}"), admin, json!({"starts_at": week_ago.to_rfc3339(), "ends_at": (week_ago + Duration::hours(2)).to_rfc3339()}), None)
        .await
        .expect(200);
    app.call(
        reqwest::Method::PUT,
        &format!("/v1/shifts/{past}/signups/{}/attendance", id(&leaving)),
        admin,
        Some(json!({"status": "attended"})),
        &[],
    )
    .await
    .expect(200);
    // An upcoming shift with one place, someone waiting for it.
    let upcoming = id(&app.shift(&station, 48, 1).await);
    for person in [&leaving, &waiting] {
        app.post(
            &format!("/v1/shifts/{upcoming}/signups"),
            admin,
            json!({"person_id": id(person)}),
        )
        .await
        .expect(201);
    }

    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    let other = id(&app.community("other").await);
    let stranger = app.key(Role::Organizer, Some(&other), None).await;
    app.delete(&format!("/v1/people/{}", id(&leaving)), Some(&stranger))
        .await
        .expect_problem(404);
    app.delete(&format!("/v1/people/{}", id(&leaving)), Some(&organizer))
        .await
        .expect(204);

    let erased = app
        .get(&format!("/v1/people/{}", id(&leaving)), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(erased["full_name"], "(erased)");
    assert_eq!(erased["nationality"], "ZZ");
    assert!(!erased["email"].as_str().unwrap().contains("olga"));
    assert_eq!(
        (erased["birthday"].clone(), erased["phone"].clone()),
        (Value::Null, Value::Null)
    );
    let hours = app
        .get(&format!("/v1/people/{}/hours", id(&leaving)), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(
        (hours["hours"].clone(), hours["shifts"].clone()),
        (json!(2.0), json!(1)),
        "totals stay right"
    );
    let (line, _) = app
        .all_pages(
            &format!("/v1/shifts/{upcoming}/signups?status=confirmed"),
            admin,
            50,
        )
        .await;
    assert_eq!(line.len(), 1);
    assert_eq!(
        line[0]["person_id"], waiting["id"],
        "the place went to the next in line"
    );
    app.get(&format!("/v1/people/{}", id(&leaving)), Some(&key))
        .await
        .expect_problem(401);
    app.patch(
        &format!("/v1/people/{}", id(&leaving)),
        admin,
        json!({"full_name": "Olga"}),
        None,
    )
    .await
    .expect_problem(409);
    let (people, _) = app
        .all_pages(
            &format!("/v1/people?community_id={community}&q=olga"),
            admin,
            50,
        )
        .await;
    assert!(people.is_empty(), "nothing findable by the old name");
    let (log, _) = app
        .all_pages(
            &format!("/v1/audit-log?person_id={}", id(&leaving)),
            admin,
            50,
        )
        .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["action"], "erase");
    app.stop().await;
}

/// Yesterday in the test community's time zone, as `YYYY-MM-DD`.
fn yesterday_in_shanghai() -> String {
    let shanghai = huashen_worker::format::zone("Asia/Shanghai");
    (Utc::now().with_timezone(&shanghai).date_naive() - Duration::days(1)).to_string()
}
