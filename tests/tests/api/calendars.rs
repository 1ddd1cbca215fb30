use std::collections::BTreeMap;

use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::json;

both_backends!(a_persons_feed, public_feeds);

/// The VEVENTs of a feed, each as property name → value, parsed by a real iCalendar parser.
fn events(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut calendars = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let calendar = calendars
        .next()
        .expect("a calendar")
        .expect("a valid calendar");
    assert!(calendars.next().is_none());
    calendar
        .events
        .into_iter()
        .map(|event| {
            event
                .properties
                .into_iter()
                .map(|p| (p.name, p.value.unwrap_or_default()))
                .collect()
        })
        .collect()
}

fn by_uid<'a>(events: &'a [BTreeMap<String, String>], uid: &str) -> &'a BTreeMap<String, String> {
    events
        .iter()
        .find(|e| e["UID"] == uid)
        .unwrap_or_else(|| panic!("no {uid} in {events:?}"))
}

async fn feed(app: &TestApp, path: &str) -> (u16, String, Option<String>) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), content_type)
}

async fn a_persons_feed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let me = app
        .person(
            &community,
            "Emily Carter",
            json!({"is_volunteer": true, "locale": "en"}),
        )
        .await;
    let key = app.key(Role::Volunteer, None, me["id"].as_str()).await;
    let [kept, called_off, dropped] = [24, 48, 72].map(|h| app.shift(&station, h, 3));
    let (kept, called_off, dropped) = (id(&kept.await), id(&called_off.await), id(&dropped.await));
    for shift in [&kept, &called_off, &dropped] {
        app.post(
            &format!("/v1/shifts/{shift}/signups"),
            Some(&key),
            json!({"person_id": id(&me)}),
        )
        .await
        .expect(201);
    }
    app.post(&format!("/v1/shifts/{called_off}/cancel"), admin, json!({}))
        .await
        .expect(200);
    app.delete(
        &format!("/v1/shifts/{dropped}/signups/{}", id(&me)),
        Some(&key),
    )
    .await
    .expect(200);
    let event = id(&app.event(&community, 96).await);
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

    let token = app
        .post(
            &format!("/v1/people/{}/calendar-token", id(&me)),
            Some(&key),
            json!({}),
        )
        .await
        .expect(200);
    let path = token.body["path"].as_str().unwrap().to_owned();
    let (status, text, content_type) = feed(&app, &path).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.unwrap().starts_with("text/calendar"));
    let entries = events(&text);
    assert_eq!(
        entries.len(),
        3,
        "kept, called off, and the event; not the one dropped: {entries:?}"
    );
    let shift = by_uid(&entries, &format!("shift-{kept}@huashen"));
    assert_eq!(
        (shift["SUMMARY"].as_str(), shift["STATUS"].as_str()),
        ("English Corner", "CONFIRMED")
    );
    assert!(shift["DTSTART"].ends_with('Z'), "UTC: {}", shift["DTSTART"]);
    assert_eq!(
        by_uid(&entries, &format!("shift-{called_off}@huashen"))["STATUS"],
        "CANCELLED"
    );
    assert_eq!(
        by_uid(&entries, &format!("event-{event}@huashen"))["SUMMARY"],
        "Winter Solstice Dumplings"
    );

    // A change bumps SEQUENCE; the UID stays.
    let before: u32 = shift["SEQUENCE"].parse().unwrap();
    app.patch(
        &format!("/v1/shifts/{kept}"),
        admin,
        json!({"notes": "Moved upstairs"}),
        None,
    )
    .await
    .expect(200);
    let (_, text, _) = feed(&app, &path).await;
    let after: u32 = by_uid(&events(&text), &format!("shift-{kept}@huashen"))["SEQUENCE"]
        .parse()
        .unwrap();
    assert!(after > before, "{before} → {after}");

    // Wrong, replaced and revoked tokens open nothing.
    let wrong = format!("/v1/calendars/people/{}.ics?token=nope", id(&me));
    assert_eq!(feed(&app, &wrong).await.0, 404);
    let replaced = app
        .post(
            &format!("/v1/people/{}/calendar-token", id(&me)),
            Some(&key),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(feed(&app, &path).await.0, 404);
    let new_path = replaced.body["path"].as_str().unwrap().to_owned();
    assert_eq!(feed(&app, &new_path).await.0, 200);
    app.delete(
        &format!("/v1/people/{}/calendar-token", id(&me)),
        Some(&key),
    )
    .await
    .expect(204);
    assert_eq!(feed(&app, &new_path).await.0, 404);
    let neighbour = app.person(&community, "Li Ming", json!({})).await;
    app.post(
        &format!("/v1/people/{}/calendar-token", id(&neighbour)),
        Some(&key),
        json!({}),
    )
    .await
    .expect_problem(404);
    app.stop().await;
}

async fn public_feeds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let shift = id(&app.shift(&station, 24, 3).await);
    let (status, text, _) = feed(&app, &format!("/v1/calendars/stations/{station}.ics")).await;
    assert_eq!(status, 200);
    let entries = events(&text);
    assert_eq!(
        by_uid(&entries, &format!("shift-{shift}@huashen"))["SUMMARY"],
        "英语角",
        "the community's default language"
    );
    let (_, english, _) = feed(
        &app,
        &format!("/v1/calendars/stations/{station}.ics?locale=en"),
    )
    .await;
    assert_eq!(
        by_uid(&events(&english), &format!("shift-{shift}@huashen"))["SUMMARY"],
        "English Corner"
    );

    let draft = id(&app.event(&community, 48).await);
    let published = id(&app.event(&community, 72).await);
    let cancelled = id(&app.event(&community, 96).await);
    for event in [&published, &cancelled] {
        app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
            .await
            .expect(200);
    }
    app.post(&format!("/v1/events/{cancelled}/cancel"), admin, json!({}))
        .await
        .expect(200);
    let (_, text, _) = feed(
        &app,
        &format!("/v1/calendars/communities/{community}/events.ics"),
    )
    .await;
    let entries = events(&text);
    assert_eq!(entries.len(), 2, "drafts stay private");
    assert!(
        entries
            .iter()
            .all(|e| e["UID"] != format!("event-{draft}@huashen"))
    );
    assert_eq!(
        by_uid(&entries, &format!("event-{cancelled}@huashen"))["STATUS"],
        "CANCELLED"
    );
    assert_eq!(
        feed(
            &app,
            &format!("/v1/calendars/stations/{}.ics", uuid::Uuid::now_v7())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        feed(&app, "/v1/calendars/stations/not-a-calendar").await.0,
        404
    );
    app.stop().await;
}
