use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(
    create_and_counts,
    validation,
    filters_and_time_pages,
    patch,
    scope,
    list_reads_every_field,
);

async fn create_and_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    let created = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({
                "station_id": station,
                "starts_at": "2030-03-06T19:00:00+08:00",
                "ends_at": "2030-03-06T20:30:00+08:00",
                "capacity": 5,
                "min_volunteers": 2,
                "languages_wanted": ["en"],
                "skills_wanted": ["hosting"],
                "notes": "Bring name tags",
            }),
        )
        .await
        .expect(201);
    let shift = &created.body;
    assert_eq!(shift["station_id"], station.as_str());
    assert_eq!(shift["community_id"], hsm.as_str());
    let starts =
        chrono::DateTime::parse_from_rfc3339(shift["starts_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        starts,
        chrono::DateTime::parse_from_rfc3339("2030-03-06T11:00:00Z").unwrap()
    );
    assert_eq!(shift["capacity"], 5);
    assert_eq!(shift["confirmed_count"], 0);
    assert_eq!(shift["waitlist_count"], 0);
    assert_eq!(shift["status"], "scheduled");
    assert_eq!(shift["languages_wanted"], json!(["en"]));
    let fetched = app
        .get(
            &format!("/v1/shifts/{}", created.id()),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(fetched.body, created.body);
    app.stop().await;
}

async fn validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    let reply = app
        .post(
            "/v1/shifts",
            admin,
            json!({"station_id": station, "starts_at": "2030-03-06T20:00:00Z", "ends_at": "2030-03-06T19:00:00Z", "capacity": 0, "min_volunteers": -1}),
        )
        .await
        .expect_problem(400);
    // Bounds the schema declares come first, all of them at once...
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["capacity", "min_volunteers"]);
    // ...then the rules about values and across fields, all at once too.
    let reply = app
        .post(
            "/v1/shifts",
            admin,
            json!({"station_id": station, "starts_at": "2030-03-06T20:00:00Z", "ends_at": "2030-03-06T19:00:00Z", "capacity": 2, "min_volunteers": 3}),
        )
        .await
        .expect_problem(422);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["ends_at", "min_volunteers"]);
    app.post(
        "/v1/shifts",
        admin,
        json!({"station_id": station, "starts_at": "2030-03-06T19:00:00Z", "ends_at": "2030-03-06T20:00:00Z", "capacity": 10001}),
    )
    .await
    .expect_problem(400);
    app.post(
        "/v1/shifts",
        admin,
        json!({"station_id": station, "starts_at": "next tuesday", "ends_at": "2030-03-06T20:00:00Z", "capacity": 3}),
    )
    .await
    .expect_problem(400);
    let unknown = app
        .post(
            "/v1/shifts",
            admin,
            json!({"station_id": uuid::Uuid::now_v7(), "starts_at": "2030-03-06T19:00:00Z", "ends_at": "2030-03-06T20:00:00Z", "capacity": 3}),
        )
        .await
        .expect_problem(422);
    assert_eq!(unknown.error_fields(), ["station_id"]);
    app.stop().await;
}

async fn filters_and_time_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let corner = id(&app.station(&hsm).await);
    let patrol = id(&app.station(&hsm).await);
    // Created out of order: the list is by start time.
    for hours in [72, 24, 120, 48, 96] {
        app.shift(&corner, hours, 2).await;
    }
    let full = app.shift(&patrol, 30, 1).await;
    let other = id(&app.community("other").await);
    app.shift(&id(&app.station(&other).await), 30, 1).await;

    let scoped = format!("/v1/shifts?community_id={hsm}");
    let (all, pages) = app.all_pages(&scoped, admin, 2).await;
    assert_eq!((all.len(), pages), (6, 3));
    let starts: Vec<_> = all
        .iter()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "ordered by start: {starts:?}"
    );

    let (at_corner, _) = app
        .all_pages(&format!("/v1/shifts?station_id={corner}"), admin, 50)
        .await;
    assert_eq!(at_corner.len(), 5);
    let from = (Utc::now() + Duration::hours(47))
        .to_rfc3339()
        .replace('+', "%2B");
    let to = (Utc::now() + Duration::hours(100))
        .to_rfc3339()
        .replace('+', "%2B");
    let (window, _) = app
        .all_pages(&format!("{scoped}&from={from}&to={to}"), admin, 50)
        .await;
    assert_eq!(window.len(), 3);

    // Mark the patrol shift as full the way sign-ups will.
    use sea_orm::{ConnectionTrait, Statement};
    let full_id = uuid::Uuid::parse_str(&id(&full)).unwrap();
    let sql = match app.backend {
        Backend::Sqlite => "UPDATE shifts SET confirmed_count = 1 WHERE id = ?",
        Backend::Postgres => "UPDATE shifts SET confirmed_count = 1 WHERE id = $1",
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql,
            [full_id.into()],
        ))
        .await
        .unwrap();
    let (free, _) = app
        .all_pages(&format!("{scoped}&has_free_places=true"), admin, 50)
        .await;
    assert_eq!(free.len(), 5);
    let (no_room, _) = app
        .all_pages(&format!("{scoped}&has_free_places=false"), admin, 50)
        .await;
    assert_eq!(no_room.len(), 1);
    assert_eq!(no_room[0]["id"], full["id"]);
    assert_eq!(no_room[0]["confirmed_count"], 1);
    app.get("/v1/shifts?from=yesterday", admin)
        .await
        .expect_problem(400);
    app.stop().await;
}

async fn patch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    let shift = app.shift(&station, 24, 4).await;
    let path = format!("/v1/shifts/{}", id(&shift));
    let changed = app
        .patch(
            &path,
            admin,
            json!({"capacity": 8, "notes": "Meet at the gate"}),
            Some("\"1\""),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["capacity"], 8);
    assert_eq!(changed.body["notes"], "Meet at the gate");
    let cleared = app
        .patch(&path, admin, json!({"notes": null}), Some("\"2\""))
        .await
        .expect(200);
    assert_eq!(cleared.body["notes"], Value::Null);
    app.patch(&path, admin, json!({"capacity": 2}), Some("\"1\""))
        .await
        .expect_problem(412);
    let starts_at = shift["starts_at"].as_str().unwrap();
    let bad = app
        .patch(&path, admin, json!({"ends_at": starts_at}), None)
        .await
        .expect_problem(422);
    assert_eq!(bad.error_fields(), ["ends_at"]);
    app.delete(&path, admin).await.expect(204);
    app.get(&path, admin).await.expect_problem(404);
    app.stop().await;
}

async fn scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let mine = app.shift(&id(&app.station(&hsm).await), 24, 3).await;
    let theirs = app.shift(&id(&app.station(&other).await), 24, 3).await;
    let person = app
        .person(&hsm, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let volunteer = app.key(Role::Volunteer, None, person["id"].as_str()).await;
    let organizer = app.key(Role::Organizer, Some(&hsm), None).await;
    let v = Some(volunteer.as_str());
    let o = Some(organizer.as_str());

    let (visible, _) = app.all_pages("/v1/shifts", v, 50).await;
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0]["id"], mine["id"]);
    app.get(&format!("/v1/shifts/{}", id(&mine)), v)
        .await
        .expect(200);
    app.get(&format!("/v1/shifts/{}", id(&theirs)), v)
        .await
        .expect_problem(404);
    app.patch(
        &format!("/v1/shifts/{}", id(&mine)),
        v,
        json!({"capacity": 9}),
        None,
    )
    .await
    .expect_problem(403);
    app.get(&format!("/v1/shifts/{}", id(&theirs)), o)
        .await
        .expect_problem(404);
    app.get(&format!("/v1/shifts?community_id={other}"), o)
        .await
        .expect_problem(403);
    app.patch(
        &format!("/v1/shifts/{}", id(&mine)),
        o,
        json!({"capacity": 9}),
        None,
    )
    .await
    .expect(200);
    // Without a key: scheduled shifts that have not begun, of every community.
    app.get("/v1/shifts", None).await.expect(200);
    app.get("/v1/shifts", Some("hs_not_a_key"))
        .await
        .expect_problem(401);
    app.stop().await;
}

/// The list reads its rows by position: every field, set or NULL, reads as `GET` (the
/// by-name reader) has it, on both databases.
async fn list_reads_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    app.post(
        "/v1/shifts",
        admin,
        json!({
            "station_id": station,
            "starts_at": "2030-03-06T19:00:00+08:00",
            "ends_at": "2030-03-06T20:30:00+08:00",
            "capacity": 5,
            "min_volunteers": 2,
            "languages_wanted": ["en", "zh-CN"],
            "skills_wanted": ["hosting"],
            "notes": "Bring name tags — 带上名牌",
        }),
    )
    .await
    .expect(201);
    let plain = app.shift(&station, 30, 2).await;
    let cancelled = app.shift(&station, 40, 3).await;
    app.post(
        &format!("/v1/shifts/{}/cancel", id(&cancelled)),
        admin,
        json!({}),
    )
    .await
    .expect(200);
    app.post(
        "/v1/shift-series",
        admin,
        json!({
            "station_id": station,
            "rrule": "FREQ=WEEKLY;BYDAY=WE",
            "starts_on": "2030-04-01",
            "start_time": "19:00",
            "duration_minutes": 90,
            "capacity": 2,
            "until": "2030-04-10",
        }),
    )
    .await
    .expect(201);

    let (listed, _) = app
        .all_pages(&format!("/v1/shifts?community_id={hsm}"), admin, 50)
        .await;
    assert_eq!(listed.len(), 5);
    for item in &listed {
        let fetched = app
            .get(&format!("/v1/shifts/{}", id(item)), admin)
            .await
            .expect(200);
        assert_eq!(item, &fetched.body);
    }
    // Fields the API does not show (`cancelled_at`, `version`), read both ways.
    use entities::shift;
    use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QueryTrait};
    let every = shift::Entity::find().order_by_asc(shift::Column::Id);
    let by_name = every.clone().all(&app.db).await.unwrap();
    let rows = app
        .db
        .query_all_raw(every.build(app.db.get_database_backend()))
        .await
        .unwrap();
    let by_position: Vec<shift::Model> = rows
        .iter()
        .map(shift::Model::from_row)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(by_position, by_name);
    let set = |f: fn(&shift::Model) -> bool| by_name.iter().filter(|m| f(m)).count();
    assert_eq!(
        (
            set(|m| m.notes.is_some()),
            set(|m| m.cancelled_at.is_some()),
            set(|m| m.series_id.is_some()),
        ),
        (1, 1, 2)
    );
    assert!(listed.iter().any(|s| s["id"] == plain["id"]));
    app.stop().await;
}
