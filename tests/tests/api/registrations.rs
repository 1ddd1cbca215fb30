use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(
    registered_then_waitlisted,
    window_and_status,
    cancel_promotes,
    check_ins_and_no_shows
);

/// A published event of `capacity` starting in `hours`.
async fn published(app: &TestApp, community: &str, hours: i64, capacity: i32) -> String {
    let event = id(&app.event(community, hours).await);
    app.patch(
        &format!("/v1/events/{event}"),
        Some(&app.admin_key),
        json!({"capacity": capacity}),
        None,
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/events/{event}/publish"),
        Some(&app.admin_key),
        json!({}),
    )
    .await
    .expect(200);
    event
}

async fn register(
    app: &TestApp,
    event: &str,
    person: &str,
    key: Option<&str>,
) -> huashen_tests::Reply {
    app.post(
        &format!("/v1/events/{event}/registrations"),
        key.or(Some(&app.admin_key)),
        json!({"person_id": person}),
    )
    .await
}

async fn registered_then_waitlisted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let event = published(&app, &community, 48, 2).await;
    let people = app.volunteers(&community, 4).await;
    let mut outcomes = Vec::new();
    for person in &people {
        let reply = register(&app, &event, person, None).await.expect(201);
        outcomes.push((
            reply.body["status"].clone(),
            reply.body["waitlist_position"].clone(),
        ));
    }
    assert_eq!(
        outcomes,
        [
            (json!("registered"), Value::Null),
            (json!("registered"), Value::Null),
            (json!("waitlisted"), json!(1)),
            (json!("waitlisted"), json!(2))
        ]
    );
    let body = app
        .get(&format!("/v1/events/{event}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            body["registered_count"].clone(),
            body["waitlist_count"].clone()
        ),
        (json!(2), json!(2))
    );
    register(&app, &event, &people[0], None)
        .await
        .expect_problem(409);

    // Residents who are not volunteers register too; volunteer keys only for themselves.
    let resident = id(&app.person(&community, "Zhang Wei", json!({})).await);
    let key = app.key(Role::Volunteer, None, Some(&resident)).await;
    register(&app, &event, &resident, Some(&key))
        .await
        .expect(201);
    register(&app, &event, &people[1], Some(&key))
        .await
        .expect_problem(403);
    app.get(&format!("/v1/events/{event}/registrations"), Some(&key))
        .await
        .expect_problem(403);
    let (all, _) = app
        .all_pages(
            &format!("/v1/events/{event}/registrations"),
            Some(&app.admin_key),
            2,
        )
        .await;
    assert_eq!(all.len(), 5);
    let other = id(&app.community("other").await);
    let stranger = id(&app.person(&other, "Olga Ivanova", json!({})).await);
    register(&app, &event, &stranger, None)
        .await
        .expect_problem(422);
    app.stop().await;
}

async fn window_and_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let person = id(&app.person(&community, "Kim Min-jun", json!({})).await);
    let draft = id(&app.event(&community, 48).await);
    register(&app, &draft, &person, None)
        .await
        .expect_problem(409);
    let key = app.key(Role::Volunteer, None, Some(&person)).await;
    register(&app, &draft, &person, Some(&key))
        .await
        .expect_problem(404);

    let later = published(&app, &community, 48, 10).await;
    let opens = (Utc::now() + Duration::hours(12)).to_rfc3339();
    app.patch(
        &format!("/v1/events/{later}"),
        admin,
        json!({"registration_opens_at": opens}),
        None,
    )
    .await
    .expect(200);
    let not_yet = register(&app, &later, &person, None)
        .await
        .expect_problem(409);
    assert!(
        not_yet.body["detail"]
            .as_str()
            .unwrap()
            .contains("not opened")
    );

    let closed = published(&app, &community, 48, 10).await;
    let closes = (Utc::now() - Duration::hours(1)).to_rfc3339();
    app.patch(
        &format!("/v1/events/{closed}"),
        admin,
        json!({"registration_closes_at": closes}),
        None,
    )
    .await
    .expect(200);
    register(&app, &closed, &person, None)
        .await
        .expect_problem(409);

    let cancelled = published(&app, &community, 48, 10).await;
    app.post(&format!("/v1/events/{cancelled}/cancel"), admin, json!({}))
        .await
        .expect(200);
    register(&app, &cancelled, &person, None)
        .await
        .expect_problem(409);
    app.stop().await;
}

async fn cancel_promotes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let event = published(&app, &community, 48, 1).await;
    let people = app.volunteers(&community, 4).await;
    for person in &people {
        register(&app, &event, person, None).await.expect(201);
    }
    let done = app
        .delete(
            &format!("/v1/events/{event}/registrations/{}", people[0]),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(done.body["registration"]["status"], "cancelled");
    assert_eq!(done.body["promoted"][0]["person_id"], people[1].as_str());
    app.delete(
        &format!("/v1/events/{event}/registrations/{}", people[2]),
        Some(&app.admin_key),
    )
    .await
    .expect(200);
    let (line, _) = app
        .all_pages(
            &format!("/v1/events/{event}/registrations?status=waitlisted"),
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
        (json!(people[3]), json!(1))
    );
    // Raising the capacity registers whoever waits.
    let raised = app
        .patch(
            &format!("/v1/events/{event}"),
            Some(&app.admin_key),
            json!({"capacity": 5}),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        (
            raised.body["registered_count"].clone(),
            raised.body["waitlist_count"].clone()
        ),
        (json!(2), json!(0))
    );
    app.patch(
        &format!("/v1/events/{event}"),
        Some(&app.admin_key),
        json!({"capacity": 1}),
        None,
    )
    .await
    .expect_problem(409);
    // Cancelling the event cancels every registration.
    let cancelled = app
        .post(
            &format!("/v1/events/{event}/cancel"),
            Some(&app.admin_key),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            cancelled.body["registered_count"].clone(),
            cancelled.body["waitlist_count"].clone()
        ),
        (json!(0), json!(0))
    );
    let (rows, _) = app
        .all_pages(
            &format!("/v1/events/{event}/registrations"),
            Some(&app.admin_key),
            50,
        )
        .await;
    assert!(rows.iter().all(|r| r["status"] == "cancelled"), "{rows:?}");
    app.stop().await;
}

async fn check_ins_and_no_shows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let event = published(&app, &community, 48, 3).await;
    let people = app.volunteers(&community, 4).await;
    for person in &people {
        register(&app, &event, person, None).await.expect(201);
    }
    let check_ins = format!("/v1/events/{event}/check-ins");
    let check_in = |person: &str| app.post(&check_ins, admin, json!({"person_id": person}));
    let first = check_in(&people[0]).await.expect(200);
    assert_eq!(first.body["status"], "checked_in");
    let again = check_in(&people[0]).await.expect(200);
    assert_eq!(
        again.body["checked_in_at"], first.body["checked_in_at"],
        "checking in twice changes nothing"
    );
    check_in(&people[3]).await.expect_problem(409); // waitlisted
    app.post(&format!("/v1/events/{event}/no-shows"), admin, json!({}))
        .await
        .expect_problem(409);

    // The event took place yesterday.
    let starts = Utc::now() - Duration::days(1);
    app.patch(
        &format!("/v1/events/{event}"),
        admin,
        json!({"starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(2)).to_rfc3339(), "registration_closes_at": null}),
        None,
    )
    .await
    .expect(200);
    let marked = app
        .post(&format!("/v1/events/{event}/no-shows"), admin, json!({}))
        .await
        .expect(200);
    assert_eq!(marked.body["marked"], 2);
    let (no_shows, _) = app
        .all_pages(
            &format!("/v1/events/{event}/registrations?status=no_show"),
            admin,
            50,
        )
        .await;
    assert_eq!(no_shows.len(), 2);
    // A late arrival can still be checked in.
    check_in(&people[1]).await.expect(200);
    let volunteer = app.key(Role::Volunteer, None, Some(&people[2])).await;
    app.post(
        &format!("/v1/events/{event}/check-ins"),
        Some(&volunteer),
        json!({"person_id": people[2]}),
    )
    .await
    .expect_problem(403);
    app.stop().await;
}
