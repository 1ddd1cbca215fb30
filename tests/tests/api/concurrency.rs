//! Capacity holds however many requests race, on SQLite and PostgreSQL.
//!
//! `HUASHEN_RACE_ROUNDS` sets how many rounds each test runs (default 3).

use futures_util::future::join_all;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::json;

both_backends!(
    signups_never_overbook,
    cancel_and_signup_race,
    one_place_at_a_time,
    the_same_signup_at_once,
    registrations_never_overbook
);

const RACERS: usize = 200;
const CAPACITY: i32 = 5;

fn rounds() -> usize {
    std::env::var("HUASHEN_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Checks what must hold of any list of sign-ups or registrations: at most `capacity`
/// holding a place, the counters right, and the line numbered 1..n without gaps.
async fn assert_consistent(
    app: &TestApp,
    list: &str,
    resource: &str,
    held: &str,
    count_field: &str,
    capacity: i64,
) -> (usize, usize) {
    let (rows, _) = app.all_pages(list, Some(&app.admin_key), 200).await;
    let holding = rows.iter().filter(|r| r["status"] == held).count();
    let mut line: Vec<i64> = rows
        .iter()
        .filter(|r| r["status"] == "waitlisted")
        .map(|r| {
            r["waitlist_position"]
                .as_i64()
                .expect("a waitlisted row has a position")
        })
        .collect();
    line.sort_unstable();
    assert!(
        holding as i64 <= capacity,
        "{holding} hold a place of {capacity}"
    );
    assert_eq!(
        line,
        (1..=line.len() as i64).collect::<Vec<_>>(),
        "positions are dense"
    );
    if !line.is_empty() {
        assert_eq!(
            holding as i64, capacity,
            "nobody waits while a place is free"
        );
    }
    let body = app
        .get(resource, Some(&app.admin_key))
        .await
        .expect(200)
        .body;
    assert_eq!(body[count_field], json!(holding), "{count_field}");
    assert_eq!(body["waitlist_count"], json!(line.len()), "waitlist_count");
    (holding, line.len())
}

async fn signups_never_overbook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let people = app.volunteers(&community, RACERS).await;
    for round in 0..rounds() {
        // Each round's shift at its own time, so the volunteers' shifts never overlap.
        let shift = id(&app.shift(&station, 24 + 3 * round as i64, CAPACITY).await);
        let path = format!("/v1/shifts/{shift}/signups");
        let replies = join_all(
            people
                .iter()
                .map(|p| app.post(&path, Some(&app.admin_key), json!({"person_id": p}))),
        )
        .await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
        assert!(
            statuses.iter().all(|s| *s == 201),
            "round {round}: {statuses:?}"
        );
        let confirmed = replies
            .iter()
            .filter(|r| r.body["status"] == "confirmed")
            .count();
        assert_eq!(confirmed, CAPACITY as usize, "round {round}");
        let (holding, waiting) = assert_consistent(
            &app,
            &path,
            &format!("/v1/shifts/{shift}"),
            "confirmed",
            "confirmed_count",
            CAPACITY.into(),
        )
        .await;
        assert_eq!(
            (holding, waiting),
            (CAPACITY as usize, RACERS - CAPACITY as usize)
        );
    }
    app.stop().await;
}

/// Volunteers each signing up at once for a row of shifts, each overlapping the next,
/// get places that never overlap (at least one); the others answer 409.
async fn one_place_at_a_time(backend: Backend) {
    const SHIFTS: usize = 4;
    const PEOPLE: usize = 30;
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let people = app.volunteers(&community, PEOPLE).await;
    for round in 0..rounds() {
        let mut shifts = Vec::new();
        for n in 0..SHIFTS {
            // Each an hour later than the one before, two hours long: neighbours overlap.
            let starts_in = 24 + 10 * round as i64 + n as i64;
            shifts.push(id(&app.shift(&station, starts_in, PEOPLE as i32).await));
        }
        let tries = people
            .iter()
            .flat_map(|person| shifts.iter().map(move |shift| (person, shift)));
        let replies = join_all(tries.clone().map(|(person, shift)| {
            let path = format!("/v1/shifts/{shift}/signups");
            let app = &app;
            async move {
                app.post(&path, Some(&app.admin_key), json!({"person_id": person}))
                    .await
            }
        }))
        .await;
        for (person, _) in tries.clone().step_by(SHIFTS) {
            let theirs: Vec<_> = tries
                .clone()
                .zip(&replies)
                .filter(|((p, _), _)| *p == person)
                .map(|((_, shift), reply)| (shift, reply))
                .collect();
            let statuses: Vec<u16> = theirs.iter().map(|(_, r)| r.status.as_u16()).collect();
            assert!(
                statuses.iter().all(|s| *s == 201 || *s == 409),
                "round {round}: {statuses:?}"
            );
            // Confirmed places never overlap: no two neighbours.
            let held: Vec<usize> = (0..SHIFTS).filter(|n| statuses[*n] == 201).collect();
            assert!(!held.is_empty(), "round {round}: {person} got none");
            assert!(
                held.windows(2).all(|pair| pair[1] - pair[0] > 1),
                "round {round}: {person} holds overlapping shifts {held:?}"
            );
            for (shift, reply) in &theirs {
                if reply.status == 201 {
                    assert_eq!(reply.body["status"], "confirmed", "{shift}");
                }
            }
        }
        for shift in &shifts {
            let path = format!("/v1/shifts/{shift}/signups");
            let (rows, _) = app.all_pages(&path, Some(&app.admin_key), 200).await;
            let body = app
                .get(&format!("/v1/shifts/{shift}"), Some(&app.admin_key))
                .await
                .expect(200)
                .body;
            assert_eq!(body["confirmed_count"], json!(rows.len()), "{shift}");
        }
    }
    app.stop().await;
}

/// Two volunteers each sending their sign-up five times at once hold one place each,
/// a place or a place in line; the other eight answer 409.
async fn the_same_signup_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let people = app.volunteers(&community, 2).await;
    for round in 0..rounds() {
        let shift = id(&app.shift(&station, 24 + 3 * round as i64, 1).await);
        let path = format!("/v1/shifts/{shift}/signups");
        let replies = join_all((0..10).map(|i| {
            app.post(
                &path,
                Some(&app.admin_key),
                json!({"person_id": people[i % 2]}),
            )
        }))
        .await;
        let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 201, 409, 409, 409, 409, 409, 409, 409, 409],
            "round {round}"
        );
        let (holding, waiting) = assert_consistent(
            &app,
            &path,
            &format!("/v1/shifts/{shift}"),
            "confirmed",
            "confirmed_count",
            1,
        )
        .await;
        assert_eq!((holding, waiting), (1, 1), "round {round}");
    }
    app.stop().await;
}

async fn cancel_and_signup_race(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let people = app.volunteers(&community, 60).await;
    for round in 0..rounds() {
        let shift = id(&app.shift(&station, 24 + 3 * round as i64, CAPACITY).await);
        let path = format!("/v1/shifts/{shift}/signups");
        for person in &people[..30] {
            app.post(&path, Some(&app.admin_key), json!({"person_id": person}))
                .await
                .expect(201);
        }
        // Cancel confirmed and waitlisted people while 30 others sign up.
        let cancels = people[..30].iter().step_by(3).map(|p| {
            let url = format!("{path}/{p}");
            let app = &app;
            async move { app.delete(&url, Some(&app.admin_key)).await }
        });
        let signups = people[30..]
            .iter()
            .map(|p| app.post(&path, Some(&app.admin_key), json!({"person_id": p})));
        let (cancelled, signed) =
            futures_util::future::join(join_all(cancels), join_all(signups)).await;
        assert!(
            cancelled.iter().all(|r| r.status == 200),
            "{:?}",
            cancelled.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        assert!(
            signed.iter().all(|r| r.status == 201),
            "{:?}",
            signed.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        let (holding, waiting) = assert_consistent(
            &app,
            &path,
            &format!("/v1/shifts/{shift}"),
            "confirmed",
            "confirmed_count",
            CAPACITY.into(),
        )
        .await;
        assert_eq!(holding + waiting, 60 - 10, "round {round}");
    }
    app.stop().await;
}

async fn registrations_never_overbook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let people = app.volunteers(&community, RACERS).await;
    let (first_wave, latecomers) = people.split_at(150);
    let admin = Some(app.admin_key.as_str());
    for round in 0..rounds() {
        let event = id(&app.event(&community, 24 + round as i64).await);
        app.patch(
            &format!("/v1/events/{event}"),
            admin,
            json!({"capacity": CAPACITY}),
            None,
        )
        .await
        .expect(200);
        app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
            .await
            .expect(200);
        let path = format!("/v1/events/{event}/registrations");
        let replies = join_all(
            first_wave
                .iter()
                .map(|p| app.post(&path, admin, json!({"person_id": p}))),
        )
        .await;
        assert!(replies.iter().all(|r| r.status == 201), "round {round}");
        let (holding, waiting) = assert_consistent(
            &app,
            &path,
            &format!("/v1/events/{event}"),
            "registered",
            "registered_count",
            CAPACITY.into(),
        )
        .await;
        assert_eq!(
            (holding, waiting),
            (CAPACITY as usize, 150 - CAPACITY as usize)
        );
        // Everyone registered and every other one in line cancels while latecomers race in.
        let (rows, _) = app.all_pages(&path, admin, 200).await;
        let leaving: Vec<String> = rows
            .iter()
            .filter(|r| {
                r["status"] == "registered"
                    || r["waitlist_position"].as_i64().is_some_and(|p| p % 2 == 0)
            })
            .map(|r| r["person_id"].as_str().unwrap().to_owned())
            .collect();
        let cancels = join_all(leaving.iter().map(|p| {
            let url = format!("{path}/{p}");
            let app = &app;
            async move { app.delete(&url, Some(&app.admin_key)).await }
        }));
        let joins = join_all(
            latecomers
                .iter()
                .map(|p| app.post(&path, admin, json!({"person_id": p}))),
        );
        let (cancelled, joined) = futures_util::future::join(cancels, joins).await;
        assert!(cancelled.iter().all(|r| r.status == 200), "round {round}");
        assert!(joined.iter().all(|r| r.status == 201), "round {round}");
        let (holding, waiting) = assert_consistent(
            &app,
            &path,
            &format!("/v1/events/{event}"),
            "registered",
            "registered_count",
            CAPACITY.into(),
        )
        .await;
        assert_eq!(
            holding + waiting,
            150 + latecomers.len() - leaving.len(),
            "round {round}"
        );
    }
    app.stop().await;
}
