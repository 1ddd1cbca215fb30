//! An organizer key sees and changes only its own community: every operation of the
//! care programme, series, calendars, reports and personal data, walked with a key of
//! another community.

use entities::enums::Role;
use huashen_tests::{Backend, TestApp, both_backends, id};
use reqwest::Method;
use serde_json::json;

both_backends!(another_communitys_key_reaches_nothing);

async fn another_communitys_key_reaches_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let resident = app.person(&community, "Zhang Wei", json!({})).await;
    let carer = app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let plan = app
        .post(
            &format!("/v1/people/{}/care-plans", id(&resident)),
            admin,
            json!({"kind": "call", "every_days": 7, "assignee_id": id(&carer)}),
        )
        .await
        .expect(201)
        .id();
    let series = id(&app
        .post(
            "/v1/shift-series",
            admin,
            json!({"station_id": station, "rrule": "FREQ=WEEKLY", "starts_on": "2027-01-04", "start_time": "19:00", "duration_minutes": 60, "capacity": 3, "count": 2}),
        )
        .await
        .expect(201)
        .body["series"]);
    let other = id(&app.community("other").await);
    let stranger = app.key(Role::Organizer, Some(&other), None).await;
    let key = Some(stranger.as_str());
    let person = format!("/v1/people/{}", id(&resident));
    let refused = [
        (
            Method::POST,
            format!("{person}/care-plans"),
            Some(json!({"kind": "call", "every_days": 7, "assignee_id": id(&carer)})),
        ),
        (Method::GET, format!("{person}/care-plans"), None),
        (
            Method::PATCH,
            format!("{person}/care-plans/{plan}"),
            Some(json!({"every_days": 3})),
        ),
        (Method::DELETE, format!("{person}/care-plans/{plan}"), None),
        (
            Method::POST,
            format!("{person}/care-log"),
            Some(json!({"kind": "flowers", "happened_on": "2026-11-01"})),
        ),
        (Method::GET, format!("{person}/care-log"), None),
        (Method::GET, format!("{person}/export"), None),
        (Method::DELETE, person.clone(), None),
        (Method::POST, format!("{person}/calendar-token"), None),
        (Method::DELETE, format!("{person}/calendar-token"), None),
        (Method::GET, format!("/v1/shift-series/{series}"), None),
        (
            Method::PATCH,
            format!("/v1/shift-series/{series}"),
            Some(json!({"capacity": 9})),
        ),
        (Method::DELETE, format!("/v1/shift-series/{series}"), None),
        (
            Method::POST,
            "/v1/shift-series".to_owned(),
            Some(
                json!({"station_id": station, "rrule": "FREQ=WEEKLY", "starts_on": "2027-01-04", "start_time": "19:00", "duration_minutes": 60, "capacity": 3, "count": 2}),
            ),
        ),
        (
            Method::GET,
            format!("/v1/reports/hours?community_id={community}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/reports/events?community_id={community}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/reports/care?community_id={community}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/care/due?community_id={community}"),
            None,
        ),
        (Method::GET, "/v1/audit-log".to_owned(), None),
    ];
    for (method, path, body) in refused {
        let reply = app.call(method.clone(), &path, key, body, &[]).await;
        assert!(
            matches!(reply.status.as_u16(), 403 | 404),
            "{method} {path} answered {} to another community's key: {}",
            reply.status,
            reply.text
        );
    }
    // Lists are confined to the key's own community.
    let (series_seen, _) = app.all_pages("/v1/shift-series", key, 50).await;
    assert!(series_seen.is_empty());
    let own_due = app.get("/v1/care/due", key).await.expect(200).body;
    assert!(own_due.as_array().unwrap().is_empty());
    // Nothing changed.
    let plans = app
        .get(&format!("{person}/care-plans"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(
        (plans[0]["every_days"].clone(), plans[0]["ended_at"].clone()),
        (json!(7), serde_json::Value::Null)
    );
    assert!(app.get(&person, admin).await.body["erased_at"].is_null());
    app.stop().await;
}
