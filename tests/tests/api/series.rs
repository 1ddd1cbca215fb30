use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(
    weekly_at_local_time_across_dst,
    refusals,
    changes_reach_future_shifts,
    cancelling_a_series
);

async fn new_york_station(app: &TestApp) -> (String, String) {
    let admin = Some(app.admin_key.as_str());
    let community = app
        .post(
            "/v1/communities",
            admin,
            json!({"slug": "brooklyn", "name": {"en": "Brooklyn Heights"}, "time_zone": "America/New_York", "default_locale": "en"}),
        )
        .await
        .expect(201)
        .id();
    let station = app
        .post("/v1/stations", admin, json!({"community_id": community, "kind": "english_corner", "name": {"en": "Conversation Club"}}))
        .await
        .expect(201)
        .id();
    (community, station)
}

fn weekly(station: &str, extra: Value) -> Value {
    let mut body = json!({
        "station_id": station,
        "rrule": "FREQ=WEEKLY;BYDAY=WE",
        "starts_on": "2027-03-01",
        "start_time": "19:00",
        "duration_minutes": 90,
        "capacity": 2,
        "until": "2027-03-31",
    });
    huashen_tests::merge(&mut body, extra);
    body
}

async fn weekly_at_local_time_across_dst(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, station) = new_york_station(&app).await;
    let created = app
        .post(
            "/v1/shift-series",
            Some(&app.admin_key),
            weekly(&station, json!({})),
        )
        .await
        .expect(201);
    let starts: Vec<String> = created.body["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap())
                .unwrap()
                .to_utc()
                .to_rfc3339()
        })
        .collect();
    // 19:00 in New York: EST (UTC-5) until 14 March, EDT (UTC-4) after.
    assert_eq!(
        starts,
        [
            "2027-03-04T00:00:00+00:00",
            "2027-03-11T00:00:00+00:00",
            "2027-03-17T23:00:00+00:00",
            "2027-03-24T23:00:00+00:00",
            "2027-03-31T23:00:00+00:00",
        ]
    );
    let series = &created.body["series"];
    assert_eq!(
        (series["time_zone"].clone(), series["start_time"].clone()),
        (json!("America/New_York"), json!("19:00"))
    );
    let (shifts, _) = app
        .all_pages(
            &format!("/v1/shifts?station_id={station}"),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert_eq!(shifts.len(), 5);
    assert!(shifts.iter().all(|s| s["series_id"] == series["id"]));
    let counted = app
        .post(
            "/v1/shift-series",
            Some(&app.admin_key),
            weekly(&station, json!({"until": null, "count": 3})),
        )
        .await
        .expect(201);
    assert_eq!(counted.body["shifts"].as_array().unwrap().len(), 3);
    app.get(
        &format!("/v1/shift-series/{}", id(series)),
        Some(&app.admin_key),
    )
    .await
    .expect(200);
    app.stop().await;
}

async fn refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (community, station) = new_york_station(&app).await;
    let admin = Some(app.admin_key.as_str());
    // 400 for what the schema says, 422 for the rules it cannot.
    for (extra, field, status) in [
        (json!({"rrule": "FREQ=SOMETIMES"}), "rrule", 422),
        (json!({"rrule": "FREQ=WEEKLY;COUNT=3"}), "rrule", 422),
        (json!({"until": "2028-06-01"}), "until", 422),
        (json!({"start_time": "7pm"}), "start_time", 400),
        (json!({"start_time": "25:00"}), "start_time", 422),
        (json!({"duration_minutes": 5}), "duration_minutes", 400),
        (json!({"capacity": 0}), "capacity", 400),
    ] {
        let reply = app
            .post("/v1/shift-series", admin, weekly(&station, extra))
            .await
            .expect_problem(status);
        assert_eq!(reply.error_fields(), [field], "{}", reply.text);
    }
    let other = id(&app.community("other").await);
    let stranger = app.key(Role::Organizer, Some(&other), None).await;
    app.post(
        "/v1/shift-series",
        Some(&stranger),
        weekly(&station, json!({})),
    )
    .await
    .expect_problem(403);
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    app.post(
        "/v1/shift-series",
        Some(&organizer),
        weekly(&station, json!({})),
    )
    .await
    .expect(201);
    app.stop().await;
}

async fn changes_reach_future_shifts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (community, station) = new_york_station(&app).await;
    let admin = Some(app.admin_key.as_str());
    let created = app
        .post("/v1/shift-series", admin, weekly(&station, json!({})))
        .await
        .expect(201);
    let series = id(&created.body["series"]);
    let first = id(&created.body["shifts"][0]);
    let people = app.volunteers(&community, 3).await;
    for person in &people {
        app.post(
            &format!("/v1/shifts/{first}/signups"),
            admin,
            json!({"person_id": person}),
        )
        .await
        .expect(201);
    }
    let path = format!("/v1/shift-series/{series}");
    let refused = app
        .patch(&path, admin, json!({"capacity": 1}), None)
        .await
        .expect_problem(409);
    assert!(
        refused.body["detail"].as_str().unwrap().contains(&first),
        "{}",
        refused.text
    );
    let raised = app
        .patch(
            &path,
            admin,
            json!({"capacity": 3, "notes": "Bring a snack"}),
            Some("\"1\""),
        )
        .await
        .expect(200);
    assert_eq!(raised.body["capacity"], 3);
    let (shifts, _) = app
        .all_pages(&format!("/v1/shifts?station_id={station}"), admin, 50)
        .await;
    assert!(
        shifts
            .iter()
            .all(|s| s["capacity"] == 3 && s["notes"] == "Bring a snack")
    );
    let first_now = app.get(&format!("/v1/shifts/{first}"), admin).await.body;
    assert_eq!(
        (
            first_now["confirmed_count"].clone(),
            first_now["waitlist_count"].clone()
        ),
        (json!(3), json!(0)),
        "the waitlist moved on"
    );
    app.patch(&path, admin, json!({"capacity": 4}), Some("\"1\""))
        .await
        .expect_problem(412);
    app.stop().await;
}

async fn cancelling_a_series(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (community, station) = new_york_station(&app).await;
    let admin = Some(app.admin_key.as_str());
    let created = app
        .post("/v1/shift-series", admin, weekly(&station, json!({})))
        .await
        .expect(201);
    let series = id(&created.body["series"]);
    let person = app.volunteers(&community, 1).await.remove(0);
    let second = id(&created.body["shifts"][1]);
    app.post(
        &format!("/v1/shifts/{second}/signups"),
        admin,
        json!({"person_id": person}),
    )
    .await
    .expect(201);
    app.delete(&format!("/v1/shift-series/{series}"), admin)
        .await
        .expect(204);
    let (shifts, _) = app
        .all_pages(&format!("/v1/shifts?station_id={station}"), admin, 50)
        .await;
    assert!(
        shifts.iter().all(|s| s["status"] == "cancelled"),
        "{shifts:?}"
    );
    let (signups, _) = app
        .all_pages(&format!("/v1/shifts/{second}/signups"), admin, 50)
        .await;
    assert_eq!(signups[0]["status"], "cancelled");
    let body = app
        .get(&format!("/v1/shift-series/{series}"), admin)
        .await
        .expect(200)
        .body;
    assert!(body["cancelled_at"].is_string());
    app.patch(
        &format!("/v1/shift-series/{series}"),
        admin,
        json!({"capacity": 5}),
        None,
    )
    .await
    .expect_problem(409);
    app.stop().await;
}
