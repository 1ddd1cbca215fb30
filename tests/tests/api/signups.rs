use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(
    confirmed_then_waitlisted,
    who_may_sign_up,
    refusals,
    cancel_promotes_and_keeps_line_dense,
    promotion_passes_over_a_clash,
    self_cancel_deadline,
    capacity_changes,
    moving_a_shift_moves_its_signups,
    upgrading_gives_each_signup_its_shifts_times,
    cancelling_a_shift,
    attendance_and_hours,
    a_persons_signups,
);

struct Setup {
    app: TestApp,
    community: String,
    station: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    Setup {
        app,
        community,
        station,
    }
}

async fn sign_up(
    app: &TestApp,
    shift: &str,
    person: &str,
    key: Option<&str>,
) -> huashen_tests::Reply {
    app.post(
        &format!("/v1/shifts/{shift}/signups"),
        key.or(Some(&app.admin_key)),
        json!({"person_id": person}),
    )
    .await
}

async fn confirmed_then_waitlisted(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let shift = id(&app.shift(&station, 48, 2).await);
    let people = app.volunteers(&community, 4).await;
    let mut statuses = Vec::new();
    for person in &people {
        let reply = sign_up(&app, &shift, person, None).await.expect(201);
        assert_eq!(reply.body["person_id"], person.as_str());
        assert_eq!(reply.body["shift_id"], shift.as_str());
        statuses.push((
            reply.body["status"].clone(),
            reply.body["waitlist_position"].clone(),
        ));
    }
    assert_eq!(
        statuses,
        [
            (json!("confirmed"), Value::Null),
            (json!("confirmed"), Value::Null),
            (json!("waitlisted"), json!(1)),
            (json!("waitlisted"), json!(2)),
        ]
    );
    let shift_body = app
        .get(&format!("/v1/shifts/{shift}"), Some(&app.admin_key))
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            shift_body["confirmed_count"].clone(),
            shift_body["waitlist_count"].clone()
        ),
        (json!(2), json!(2))
    );
    let (waiting, _) = app
        .all_pages(
            &format!("/v1/shifts/{shift}/signups?status=waitlisted"),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert_eq!(waiting.len(), 2);

    // A wanted language nobody speaks is a warning, not a refusal.
    let english = id(&app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": (Utc::now() + Duration::days(9)).to_rfc3339(), "ends_at": (Utc::now() + Duration::days(9) + Duration::hours(1)).to_rfc3339(), "capacity": 3, "languages_wanted": ["en"]}),
        )
        .await
        .expect(201)
        .body);
    let warned = sign_up(&app, &english, &people[0], None).await.expect(201);
    assert_eq!(warned.body["status"], "confirmed");
    assert!(
        warned.body["warnings"][0].as_str().unwrap().contains("en"),
        "{}",
        warned.text
    );
    let speaker = app
        .person(
            &community,
            "Emily Carter",
            json!({"is_volunteer": true, "languages": ["en-US"]}),
        )
        .await;
    let fine = sign_up(&app, &english, &id(&speaker), None)
        .await
        .expect(201);
    assert_eq!(fine.body["warnings"], json!([]));
    app.stop().await;
}

async fn who_may_sign_up(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let shift = id(&app.shift(&station, 48, 5).await);
    let me = app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let neighbour = app
        .person(&community, "Li Ming", json!({"is_volunteer": true}))
        .await;
    let resident = app
        .person(&community, "Zhang Wei", json!({"is_volunteer": false}))
        .await;
    let other_community = id(&app.community("other").await);
    let stranger = app
        .person(
            &other_community,
            "Olga Ivanova",
            json!({"is_volunteer": true}),
        )
        .await;
    let volunteer = app.key(Role::Volunteer, None, me["id"].as_str()).await;
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    let other_organizer = app.key(Role::Organizer, Some(&other_community), None).await;

    sign_up(&app, &shift, &id(&me), Some(&volunteer))
        .await
        .expect(201);
    sign_up(&app, &shift, &id(&neighbour), Some(&volunteer))
        .await
        .expect_problem(403);
    sign_up(&app, &shift, &id(&neighbour), Some(&organizer))
        .await
        .expect(201);
    sign_up(&app, &shift, &id(&resident), None)
        .await
        .expect_problem(422);
    sign_up(&app, &shift, &id(&stranger), None)
        .await
        .expect_problem(422);
    sign_up(&app, &shift, &uuid::Uuid::now_v7().to_string(), None)
        .await
        .expect_problem(422);
    sign_up(&app, &shift, &id(&stranger), Some(&other_organizer))
        .await
        .expect_problem(404);
    sign_up(&app, &uuid::Uuid::now_v7().to_string(), &id(&me), None)
        .await
        .expect_problem(404);
    app.get(&format!("/v1/shifts/{shift}/signups"), Some(&volunteer))
        .await
        .expect_problem(403);
    app.get(&format!("/v1/shifts/{shift}/signups"), Some(&organizer))
        .await
        .expect(200);
    let missing = app
        .post(
            &format!("/v1/shifts/{shift}/signups"),
            Some(&app.admin_key),
            json!({}),
        )
        .await
        .expect_problem(400);
    assert_eq!(missing.error_fields(), ["person_id"]);
    app.stop().await;
}

async fn refusals(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let person = id(&app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await);
    let shift = app.shift(&station, 48, 3).await;
    sign_up(&app, &id(&shift), &person, None).await.expect(201);
    let twice = sign_up(&app, &id(&shift), &person, None)
        .await
        .expect_problem(409);
    assert!(
        twice.body["detail"].as_str().unwrap().contains("already"),
        "{}",
        twice.text
    );

    // Overlapping: starts an hour into the first one.
    let starts = chrono::DateTime::parse_from_rfc3339(shift["starts_at"].as_str().unwrap())
        .unwrap()
        + Duration::hours(1);
    let overlapping = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(2)).to_rfc3339(), "capacity": 3}),
        )
        .await
        .expect(201);
    let clash = sign_up(&app, &overlapping.id(), &person, None)
        .await
        .expect_problem(409);
    assert!(
        clash.body["detail"].as_str().unwrap().contains(&id(&shift)),
        "names the other shift: {}",
        clash.text
    );
    // Back to back is fine.
    let ends = chrono::DateTime::parse_from_rfc3339(shift["ends_at"].as_str().unwrap()).unwrap();
    let next = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": ends.to_rfc3339(), "ends_at": (ends + Duration::hours(1)).to_rfc3339(), "capacity": 3}),
        )
        .await
        .expect(201);
    sign_up(&app, &next.id(), &person, None).await.expect(201);
    // Moving a shift onto another of a confirmed volunteer's shifts is refused too.
    let moved = app
        .patch(
            &format!("/v1/shifts/{}", next.id()),
            Some(&app.admin_key),
            json!({"starts_at": shift["starts_at"], "ends_at": shift["ends_at"]}),
            None,
        )
        .await
        .expect_problem(409);
    assert!(
        moved.body["detail"].as_str().unwrap().contains(&person),
        "{}",
        moved.text
    );
    assert!(
        moved.body["detail"].as_str().unwrap().contains(&id(&shift)),
        "names the other shift: {}",
        moved.text
    );

    let past = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": (Utc::now() - Duration::minutes(5)).to_rfc3339(), "ends_at": (Utc::now() + Duration::hours(1)).to_rfc3339(), "capacity": 3}),
        )
        .await
        .expect(201);
    let started = sign_up(&app, &past.id(), &person, None)
        .await
        .expect_problem(409);
    assert!(started.body["detail"].as_str().unwrap().contains("started"));

    let cancelled = app.shift(&station, 200, 3).await;
    app.post(
        &format!("/v1/shifts/{}/cancel", id(&cancelled)),
        Some(&app.admin_key),
        json!({}),
    )
    .await
    .expect(200);
    sign_up(&app, &id(&cancelled), &person, None)
        .await
        .expect_problem(409);
    app.stop().await;
}

/// A waitlisted volunteer who meanwhile took a confirmed place on an overlapping shift
/// keeps their place in line when a place frees up, rather than holding two at once.
async fn promotion_passes_over_a_clash(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let full = app.shift(&station, 48, 1).await;
    let people = app.volunteers(&community, 2).await;
    let (holder, waiting) = (&people[0], &people[1]);
    sign_up(&app, &id(&full), holder, None).await.expect(201);
    let line = sign_up(&app, &id(&full), waiting, None).await.expect(201);
    assert_eq!(line.body["status"], "waitlisted");
    // Same hours: allowed, since the waitlisted place is no confirmed shift.
    let same_time = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": full["starts_at"], "ends_at": full["ends_at"], "capacity": 3}),
        )
        .await
        .expect(201);
    sign_up(&app, &same_time.id(), waiting, None)
        .await
        .expect(201);
    let cancelled = app
        .delete(
            &format!("/v1/shifts/{}/signups/{holder}", id(&full)),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(cancelled.body["promoted"], json!([]), "{}", cancelled.text);
    let (line, _) = app
        .all_pages(
            &format!("/v1/shifts/{}/signups?status=waitlisted", id(&full)),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert_eq!(line.len(), 1);
    assert_eq!(line[0]["person_id"], waiting.as_str());
    assert_eq!(line[0]["waitlist_position"], 1);
    app.stop().await;
}

async fn cancel_promotes_and_keeps_line_dense(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let shift = id(&app.shift(&station, 48, 2).await);
    let people = app.volunteers(&community, 6).await;
    for person in &people {
        sign_up(&app, &shift, person, None).await.expect(201);
    }
    // Line: people[2]=1, [3]=2, [4]=3, [5]=4. Cancel a confirmed one.
    let cancelled = app
        .delete(
            &format!("/v1/shifts/{shift}/signups/{}", people[0]),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(cancelled.body["signup"]["status"], "cancelled");
    assert_eq!(cancelled.body["promoted"].as_array().unwrap().len(), 1);
    assert_eq!(
        cancelled.body["promoted"][0]["person_id"],
        people[2].as_str()
    );
    assert_eq!(cancelled.body["promoted"][0]["status"], "confirmed");
    // Cancel from the middle of the line.
    app.delete(
        &format!("/v1/shifts/{shift}/signups/{}", people[4]),
        Some(&app.admin_key),
    )
    .await
    .expect(200);
    let again = app
        .delete(
            &format!("/v1/shifts/{shift}/signups/{}", people[4]),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(
        again.body["signup"]["status"], "cancelled",
        "cancelling twice changes nothing"
    );
    let (line, _) = app
        .all_pages(
            &format!("/v1/shifts/{shift}/signups?status=waitlisted"),
            Some(&app.admin_key),
            50,
        )
        .await;
    let mut line: Vec<_> = line
        .iter()
        .map(|s| {
            (
                s["waitlist_position"].as_i64().unwrap(),
                s["person_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    line.sort();
    assert_eq!(line, [(1, people[3].clone()), (2, people[5].clone())]);
    let body = app
        .get(&format!("/v1/shifts/{shift}"), Some(&app.admin_key))
        .await
        .body;
    assert_eq!(
        (
            body["confirmed_count"].clone(),
            body["waitlist_count"].clone()
        ),
        (json!(2), json!(2))
    );
    // The cancelled person may sign up again, at the back of the line.
    let back = sign_up(&app, &shift, &people[0], None).await.expect(201);
    assert_eq!(
        (
            back.body["status"].clone(),
            back.body["waitlist_position"].clone()
        ),
        (json!("waitlisted"), json!(3))
    );
    app.delete(
        &format!("/v1/shifts/{shift}/signups/{}", uuid::Uuid::now_v7()),
        Some(&app.admin_key),
    )
    .await
    .expect_problem(404);
    app.stop().await;
}

async fn self_cancel_deadline(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let me = id(&app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await);
    let volunteer = app.key(Role::Volunteer, None, Some(&me)).await;
    let soon = id(&app.shift(&station, 2, 3).await);
    let later = id(&app.shift(&station, 48, 3).await);
    sign_up(&app, &soon, &me, Some(&volunteer))
        .await
        .expect(201);
    sign_up(&app, &later, &me, Some(&volunteer))
        .await
        .expect(201);
    let late = app
        .delete(&format!("/v1/shifts/{soon}/signups/{me}"), Some(&volunteer))
        .await
        .expect_problem(409);
    assert!(
        late.body["detail"]
            .as_str()
            .unwrap()
            .contains("180 minutes"),
        "{}",
        late.text
    );
    app.delete(
        &format!("/v1/shifts/{later}/signups/{me}"),
        Some(&volunteer),
    )
    .await
    .expect(200);
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    app.delete(&format!("/v1/shifts/{soon}/signups/{me}"), Some(&organizer))
        .await
        .expect(200);
    app.stop().await;
}

async fn capacity_changes(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let shift = id(&app.shift(&station, 48, 2).await);
    let people = app.volunteers(&community, 5).await;
    for person in &people {
        sign_up(&app, &shift, person, None).await.expect(201);
    }
    let path = format!("/v1/shifts/{shift}");
    app.patch(&path, Some(&app.admin_key), json!({"capacity": 1}), None)
        .await
        .expect_problem(409);
    let etag = app
        .get(&path, Some(&app.admin_key))
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let raised = app
        .patch(
            &path,
            Some(&app.admin_key),
            json!({"capacity": 4}),
            Some(&etag),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            raised.body["confirmed_count"].clone(),
            raised.body["waitlist_count"].clone()
        ),
        (json!(4), json!(1))
    );
    let (line, _) = app
        .all_pages(
            &format!("{path}/signups?status=waitlisted"),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert_eq!(line.len(), 1);
    assert_eq!(
        (
            line[0]["person_id"].clone(),
            line[0]["waitlist_position"].clone()
        ),
        (json!(people[4]), json!(1))
    );
    // A sign-up changes the shift's counts, so an ETag read before it is stale.
    app.delete(
        &format!("{path}/signups/{}", people[0]),
        Some(&app.admin_key),
    )
    .await
    .expect(200);
    app.patch(
        &path,
        Some(&app.admin_key),
        json!({"capacity": 9}),
        raised.header("etag"),
    )
    .await
    .expect_problem(412);
    app.stop().await;
}

/// A shift moved to other times takes its volunteers' places along: the hours it
/// left are free for them, the hours it took are not.
async fn moving_a_shift_moves_its_signups(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let person = &app.volunteers(&community, 1).await[0];
    let moved = app.shift(&station, 48, 3).await;
    sign_up(&app, &id(&moved), person, None).await.expect(201);
    let later = app.shift(&station, 100, 3).await;
    app.patch(
        &format!("/v1/shifts/{}", id(&moved)),
        Some(&app.admin_key),
        json!({"starts_at": later["starts_at"], "ends_at": later["ends_at"]}),
        None,
    )
    .await
    .expect(200);
    let at_the_old_hours = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": moved["starts_at"], "ends_at": moved["ends_at"], "capacity": 3}),
        )
        .await
        .expect(201);
    let taken = sign_up(&app, &at_the_old_hours.id(), person, None)
        .await
        .expect(201);
    assert_eq!(taken.body["status"], "confirmed");
    let clash = sign_up(&app, &id(&later), person, None)
        .await
        .expect_problem(409);
    assert!(
        clash.body["detail"].as_str().unwrap().contains(&id(&moved)),
        "names the moved shift: {}",
        clash.text
    );
    app.stop().await;
}

/// A database that had sign-ups before they carried their shift's times gets them
/// from the shifts when it is migrated (here: the last migration undone and redone).
async fn upgrading_gives_each_signup_its_shifts_times(backend: Backend) {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let people = app.volunteers(&community, 2).await;
    let (first, second) = (
        app.shift(&station, 48, 3).await,
        app.shift(&station, 100, 3).await,
    );
    for (shift, person) in [
        (&first, &people[0]),
        (&first, &people[1]),
        (&second, &people[1]),
    ] {
        sign_up(&app, &id(shift), person, None).await.expect(201);
    }
    let db = migration::database::connect_for_migrations(app.database_url())
        .await
        .unwrap();
    Migrator::down(&db, Some(1)).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let count = async |sql: &str| -> i64 {
        let statement = Statement::from_string(db.get_database_backend(), sql);
        let row = db.query_one_raw(statement).await.unwrap().unwrap();
        row.try_get_by_index(0).unwrap()
    };
    let copied = count(
        "SELECT count(*) FROM shift_signups JOIN shifts ON shifts.id = shift_signups.shift_id \
         WHERE shift_signups.shift_starts_at = shifts.starts_at \
         AND shift_signups.shift_ends_at = shifts.ends_at",
    )
    .await;
    assert_eq!(copied, 3);
    if backend == Backend::Postgres {
        let constraint = count(
            "SELECT count(*) FROM pg_constraint \
             WHERE conname = 'ex_shift_signups_person_overlap'",
        )
        .await;
        assert_eq!(constraint, 1);
    }
    let overlapping = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": first["starts_at"], "ends_at": first["ends_at"], "capacity": 3}),
        )
        .await
        .expect(201);
    let clash = sign_up(&app, &overlapping.id(), &people[0], None)
        .await
        .expect_problem(409);
    assert!(
        clash.body["detail"].as_str().unwrap().contains(&id(&first)),
        "{}",
        clash.text
    );

    // Two confirmed places at the same time, as two racing changes could leave them
    // before: PostgreSQL's migration stops and names them.
    Migrator::down(&db, Some(1)).await.unwrap();
    let both_at_once = format!(
        "UPDATE shifts SET starts_at = (SELECT starts_at FROM shifts WHERE id = '{0}'), \
         ends_at = (SELECT ends_at FROM shifts WHERE id = '{0}') WHERE id = '{1}'",
        id(&first),
        id(&second)
    );
    db.execute_unprepared(&both_at_once).await.unwrap();
    let upgraded = Migrator::up(&db, None).await;
    if backend == Backend::Postgres {
        let refusal = upgraded
            .expect_err("overlapping places stop the migration")
            .to_string();
        for named in [&people[1], &id(&first), &id(&second)] {
            assert!(refusal.contains(named.as_str()), "{refusal}");
        }
    } else {
        upgraded.expect("SQLite has no constraint to add");
    }
    app.stop().await;
}

async fn cancelling_a_shift(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let shift = id(&app.shift(&station, 48, 1).await);
    let people = app.volunteers(&community, 3).await;
    for person in &people {
        sign_up(&app, &shift, person, None).await.expect(201);
    }
    let cancelled = app
        .post(
            &format!("/v1/shifts/{shift}/cancel"),
            Some(&app.admin_key),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        (
            cancelled.body["confirmed_count"].clone(),
            cancelled.body["waitlist_count"].clone()
        ),
        (json!(0), json!(0))
    );
    let (signups, _) = app
        .all_pages(
            &format!("/v1/shifts/{shift}/signups"),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert!(
        signups
            .iter()
            .all(|s| s["status"] == "cancelled" && s["waitlist_position"].is_null())
    );
    app.post(
        &format!("/v1/shifts/{shift}/cancel"),
        Some(&app.admin_key),
        json!({}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/v1/shifts/{shift}"),
        Some(&app.admin_key),
        json!({"capacity": 3}),
        None,
    )
    .await
    .expect_problem(409);
    let volunteer = app.key(Role::Volunteer, None, Some(&people[0])).await;
    app.post(
        &format!("/v1/shifts/{shift}/cancel"),
        Some(&volunteer),
        json!({}),
    )
    .await
    .expect_problem(403);
    app.stop().await;
}

async fn attendance_and_hours(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let people = app.volunteers(&community, 3).await;
    let shift = app.shift(&station, 48, 3).await;
    let path = format!("/v1/shifts/{}", id(&shift));
    for person in &people {
        sign_up(&app, &id(&shift), person, None).await.expect(201);
    }
    let attend = |person: &str, body: Value| {
        let url = format!("{path}/signups/{person}/attendance");
        let app = &app;
        async move {
            app.call(
                reqwest::Method::PUT,
                &url,
                Some(&app.admin_key),
                Some(body),
                &[],
            )
            .await
        }
    };
    attend(&people[0], json!({"status": "attended"}))
        .await
        .expect_problem(409);

    // The shift took place yesterday, 2.5 hours long.
    let starts = Utc::now() - Duration::days(1);
    app.patch(
        &path,
        Some(&app.admin_key),
        json!({"starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::minutes(150)).to_rfc3339()}),
        None,
    )
    .await
    .expect(200);
    let attended = attend(&people[0], json!({"status": "attended"}))
        .await
        .expect(200);
    assert_eq!(
        (
            attended.body["status"].clone(),
            attended.body["hours_credited"].clone()
        ),
        (json!("attended"), json!(2.5))
    );
    attend(&people[1], json!({"status": "attended", "hours": 1.25}))
        .await
        .expect(200);
    let absent = attend(&people[2], json!({"status": "no_show"}))
        .await
        .expect(200);
    assert_eq!(absent.body["hours_credited"], json!(0.0));
    attend(&people[2], json!({"status": "no_show", "hours": 2}))
        .await
        .expect_problem(422);
    attend(&people[1], json!({"status": "attended", "hours": 25}))
        .await
        .expect_problem(400);
    attend(&people[1], json!({"status": "present"}))
        .await
        .expect_problem(400);

    // Another attended shift a week earlier.
    let earlier = app.shift(&station, 24 * 5, 3).await;
    sign_up(&app, &id(&earlier), &people[0], None)
        .await
        .expect(201);
    let week_ago = Utc::now() - Duration::days(7);
    app.patch(
        &format!("/v1/shifts/{}", id(&earlier)),
        Some(&app.admin_key),
        json!({"starts_at": week_ago.to_rfc3339(), "ends_at": (week_ago + Duration::hours(2)).to_rfc3339()}),
        None,
    )
    .await
    .expect(200);
    app.call(
        reqwest::Method::PUT,
        &format!(
            "/v1/shifts/{}/signups/{}/attendance",
            id(&earlier),
            people[0]
        ),
        Some(&app.admin_key),
        Some(json!({"status": "attended"})),
        &[],
    )
    .await
    .expect(200);
    let all = app
        .get(
            &format!("/v1/people/{}/hours", people[0]),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(
        (all.body["hours"].clone(), all.body["shifts"].clone()),
        (json!(4.5), json!(2))
    );
    let from = (Utc::now() - Duration::days(3))
        .to_rfc3339()
        .replace('+', "%2B");
    let recent = app
        .get(
            &format!("/v1/people/{}/hours?from={from}", people[0]),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(
        (recent.body["hours"].clone(), recent.body["shifts"].clone()),
        (json!(2.5), json!(1))
    );
    let none = app
        .get(
            &format!("/v1/people/{}/hours", people[2]),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(none.body["hours"], json!(0.0));
    // Attendance is final: no cancelling afterwards.
    app.delete(
        &format!("{path}/signups/{}", people[1]),
        Some(&app.admin_key),
    )
    .await
    .expect_problem(409);
    let volunteer = app.key(Role::Volunteer, None, Some(&people[0])).await;
    app.get(&format!("/v1/people/{}/hours", people[0]), Some(&volunteer))
        .await
        .expect(200);
    app.get(&format!("/v1/people/{}/hours", people[1]), Some(&volunteer))
        .await
        .expect_problem(404);
    app.stop().await;
}

async fn a_persons_signups(backend: Backend) {
    let Setup {
        app,
        community,
        station,
    } = setup(backend).await;
    let me = id(&app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await);
    let volunteer = app.key(Role::Volunteer, None, Some(&me)).await;
    let mut shifts = Vec::new();
    for hours in [72, 24, 48] {
        let shift = id(&app.shift(&station, hours, 3).await);
        sign_up(&app, &shift, &me, Some(&volunteer))
            .await
            .expect(201);
        shifts.push(shift);
    }
    let yesterday = Utc::now() - Duration::days(1);
    app.patch(
        &format!("/v1/shifts/{}", shifts[0]),
        Some(&app.admin_key),
        json!({"starts_at": yesterday.to_rfc3339(), "ends_at": (yesterday + Duration::hours(1)).to_rfc3339()}),
        None,
    )
    .await
    .expect(200);
    let (upcoming, pages) = app
        .all_pages(
            &format!("/v1/people/{me}/signups?when=upcoming"),
            Some(&volunteer),
            1,
        )
        .await;
    assert_eq!(pages, 2);
    let order: Vec<_> = upcoming
        .iter()
        .map(|s| s["shift"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        order,
        [shifts[1].clone(), shifts[2].clone()],
        "by start time"
    );
    assert_eq!(upcoming[0]["signup"]["status"], "confirmed");
    let (past, _) = app
        .all_pages(
            &format!("/v1/people/{me}/signups?when=past"),
            Some(&volunteer),
            50,
        )
        .await;
    assert_eq!(past.len(), 1);
    assert_eq!(past[0]["shift"]["id"], shifts[0].as_str());
    let (all, _) = app
        .all_pages(
            &format!("/v1/people/{me}/signups"),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert_eq!(all.len(), 3);
    app.stop().await;
}
