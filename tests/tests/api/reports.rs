use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

both_backends!(hours_and_people, events_and_satisfaction);

/// A shift at `station` that took place `days_ago`, `hours` long, attended by `people`.
async fn served(app: &TestApp, station: &str, days_ago: i64, hours: i64, people: &[&Value]) {
    let admin = Some(app.admin_key.as_str());
    let shift = id(&app.shift(station, 24 * 10, 5).await);
    for person in people {
        app.post(
            &format!("/v1/shifts/{shift}/signups"),
            admin,
            json!({"person_id": id(person)}),
        )
        .await
        .expect(201);
    }
    let starts = Utc::now() - Duration::days(days_ago);
    app.patch(&format!("/v1/shifts/{shift}"), admin, json!({"starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(hours)).to_rfc3339()}), None)
        .await
        .expect(200);
    for person in people {
        app.call(
            reqwest::Method::PUT,
            &format!("/v1/shifts/{shift}/signups/{}/attendance", id(person)),
            admin,
            Some(json!({"status": "attended"})),
            &[],
        )
        .await
        .expect(200);
    }
}

async fn hours_and_people(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let wang = app
        .person(
            &community,
            "王芳",
            json!({"is_volunteer": true, "email": "wang@example.cn"}),
        )
        .await;
    let kim = app
        .person(
            &community,
            "Kim Minjun",
            json!({"is_volunteer": true, "nationality": "KR"}),
        )
        .await;
    app.person(&community, "Li Ming", json!({})).await;
    served(&app, &station, 40, 2, &[&wang, &kim]).await;
    served(&app, &station, 3, 3, &[&wang]).await;
    let scoped = format!("community_id={community}");

    let by_person = app
        .get(&format!("/v1/reports/hours?{scoped}"), admin)
        .await
        .expect(200)
        .body;
    let rows = by_person["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0]["label"].clone(),
            rows[0]["hours"].clone(),
            rows[0]["shifts"].clone()
        ),
        (json!("王芳"), json!(5.0), json!(2)),
        "top volunteer first"
    );
    assert_eq!(
        (rows[1]["label"].clone(), rows[1]["nationality"].clone()),
        (json!("Kim Minjun"), json!("KR"))
    );
    let recent = (Utc::now() - Duration::days(10))
        .to_rfc3339()
        .replace('+', "%2B");
    let last_days = app
        .get(&format!("/v1/reports/hours?{scoped}&from={recent}"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(last_days["rows"].as_array().unwrap().len(), 1);
    let by_station = app
        .get(
            &format!("/v1/reports/hours?{scoped}&by=station&locale=en"),
            admin,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            by_station["rows"][0]["label"].clone(),
            by_station["rows"][0]["hours"].clone()
        ),
        (json!("English Corner"), json!(7.0))
    );
    let by_month = app
        .get(&format!("/v1/reports/hours?{scoped}&by=month"), admin)
        .await
        .expect(200)
        .body;
    let total: f64 = by_month["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hours"].as_f64().unwrap())
        .sum();
    assert_eq!(total, 7.0);

    let csv = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/reports/hours?{scoped}"),
            admin,
            None,
            &[("Accept", "text/csv")],
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.text.starts_with('\u{feff}'),
        "a byte-order mark for spreadsheet programs"
    );
    let lines: Vec<&str> = csv.text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "community_id,key,label,nationality,hours,shifts");
    assert_eq!(lines[1], format!("{community},{},王芳,CN,5.0,2", id(&wang)));

    let newcomers = app
        .get(
            &format!("/v1/reports/new-volunteers?{scoped}&from={recent}"),
            admin,
        )
        .await
        .expect(200)
        .body;
    assert!(
        newcomers["rows"].as_array().unwrap().is_empty(),
        "both served first 40 days ago"
    );
    let all_new = app
        .get(&format!("/v1/reports/new-volunteers?{scoped}"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(all_new["rows"].as_array().unwrap().len(), 2);

    let overview = app
        .get(&format!("/v1/reports/community?{scoped}"), admin)
        .await
        .expect(200)
        .body;
    let cn = overview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["nationality"] == "CN")
        .unwrap()
        .clone();
    assert_eq!(
        (
            cn["residents"].clone(),
            cn["volunteers"].clone(),
            cn["hours"].clone()
        ),
        (json!(2), json!(1), json!(5.0))
    );
    let kr = overview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["nationality"] == "KR")
        .unwrap()
        .clone();
    assert_eq!(kr["share_of_hours"], json!(0.29));

    let other = id(&app.community("other").await);
    let stranger = app.key(Role::Organizer, Some(&other), None).await;
    app.get(&format!("/v1/reports/hours?{scoped}"), Some(&stranger))
        .await
        .expect_problem(403);
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    assert_eq!(
        app.get("/v1/reports/hours", Some(&organizer))
            .await
            .expect(200)
            .body["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // An admin who names no community gets every community's rows, each naming its own.
    let everywhere = app.get("/v1/reports/hours", admin).await.expect(200).body;
    assert_eq!(everywhere["community_id"], json!(null));
    let rows = everywhere["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["community_id"] == json!(community)));
    for report in [
        "new-volunteers",
        "events",
        "satisfaction",
        "community",
        "care",
    ] {
        app.get(&format!("/v1/reports/{report}"), admin)
            .await
            .expect(200);
        let csv = app
            .call(
                reqwest::Method::GET,
                &format!("/v1/reports/{report}"),
                admin,
                None,
                &[("Accept", "text/csv")],
            )
            .await;
        assert_eq!(csv.status, 200, "{report}");
        assert!(
            csv.text
                .trim_start_matches('\u{feff}')
                .starts_with("community_id")
        );
    }
    let volunteer = app.key(Role::Volunteer, None, wang["id"].as_str()).await;
    app.get("/v1/reports/hours", Some(&volunteer))
        .await
        .expect_problem(403);
    app.stop().await;
}

async fn events_and_satisfaction(backend: Backend) {
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let came = app
        .person(&community, "Emily Carter", json!({"nationality": "US"}))
        .await;
    let stayed_home = app.person(&community, "Wang Fang", json!({})).await;
    let event = id(&app.event(&community, 24).await);
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200);
    for person in [&came, &stayed_home] {
        app.post(
            &format!("/v1/events/{event}/registrations"),
            admin,
            json!({"person_id": id(person)}),
        )
        .await
        .expect(201);
    }
    app.post(
        &format!("/v1/events/{event}/check-ins"),
        admin,
        json!({"person_id": id(&came)}),
    )
    .await
    .expect(200);
    let ended = Utc::now() - Duration::days(2);
    app.patch(&format!("/v1/events/{event}"), admin, json!({"starts_at": (ended - Duration::hours(2)).to_rfc3339(), "ends_at": ended.to_rfc3339(), "registration_closes_at": null}), None)
        .await
        .expect(200);
    app.post(&format!("/v1/events/{event}/no-shows"), admin, json!({}))
        .await
        .expect(200);
    // Emily's answer, as the feedback link would have stored it.
    let registration = registration_of(&app, &event, &came).await;
    entities::feedback::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        event_id: Set(uuid::Uuid::parse_str(&event).unwrap()),
        registration_id: Set(registration),
        person_id: Set(Some(uuid::Uuid::parse_str(&id(&came)).unwrap())),
        token_hash: Set(entities::token::hash_token("emily")),
        rating: Set(Some(4)),
        comment: Set(None),
        submitted_at: Set(Some(Utc::now())),
        expires_at: Set(Utc::now() + Duration::days(30)),
        created_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();

    let scoped = format!("community_id={community}");
    let events = app
        .get(&format!("/v1/reports/events?{scoped}&locale=en"), admin)
        .await
        .expect(200)
        .body;
    let row = &events["rows"][0];
    assert_eq!(row["title"], "Winter Solstice Dumplings");
    assert_eq!(
        (
            row["registered"].clone(),
            row["checked_in"].clone(),
            row["no_shows"].clone(),
            row["no_show_rate"].clone()
        ),
        (json!(2), json!(1), json!(1), json!(0.5))
    );
    assert_eq!(
        (row["ratings"].clone(), row["average_rating"].clone()),
        (json!(1), json!(4.0))
    );
    let by_nationality = app
        .get(
            &format!("/v1/reports/satisfaction?{scoped}&by=nationality"),
            admin,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        by_nationality["rows"],
        json!([{"community_id": community, "group": "US", "ratings": 1, "average_rating": 4.0, "rated_1": 0, "rated_2": 0, "rated_3": 0, "rated_4": 1, "rated_5": 0}])
    );
    let by_category = app
        .get(&format!("/v1/reports/satisfaction?{scoped}"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(by_category["rows"][0]["group"], "festival");
    let csv = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/reports/events?{scoped}"),
            admin,
            None,
            &[("Accept", "text/csv")],
        )
        .await;
    assert!(csv.text.contains("冬至包饺子"), "{}", csv.text);
    app.stop().await;
}

/// The id of `person`'s registration for `event`.
async fn registration_of(app: &TestApp, event: &str, person: &Value) -> uuid::Uuid {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entities::event_registration::Entity::find()
        .filter(
            entities::event_registration::Column::EventId.eq(uuid::Uuid::parse_str(event).unwrap()),
        )
        .filter(
            entities::event_registration::Column::PersonId
                .eq(uuid::Uuid::parse_str(&id(person)).unwrap()),
        )
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}
