//! Notices to residents: audiences, languages, the notice rate and cancellation, over
//! HTTP with the worker delivering to a real SMTP server.

use std::sync::Arc;

use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

use super::mail::{email, ledger, mail_to, sent, sign_up};

both_backends!(
    notice_to_a_shifts_people_in_three_locales,
    throttled_across_notices_then_cancelled,
    each_audience_reaches_its_people,
    checked_and_scoped,
);

fn water_notice(community: &str, audience: &str, audience_id: Option<&str>) -> Value {
    json!({
        "community_id": community,
        "subject": {"zh-CN": "停水通知", "en": "Water off on Friday", "ko": "금요일 단수 안내"},
        "body": {
            "zh-CN": "周五 **9:00–12:00** 停水。<script>alert(1)</script>",
            "en": "The water is off on **Friday**, 9:00–12:00. <script>alert(1)</script> [details](javascript:alert(1))",
            "ko": "금요일 **9:00–12:00** 단수됩니다.",
        },
        "audience": audience,
        "audience_id": audience_id,
    })
}

async fn notice_to_a_shifts_people_in_three_locales(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let smtp = SmtpServer::start().await;
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    let shift = id(&app.shift(&station, 48, 4).await);
    let other_shift = id(&app.shift(&station, 72, 3).await);
    let emily = app
        .person(
            &hsm,
            "Emily Carter",
            json!({"locale": "en", "nationality": "US", "is_volunteer": true}),
        )
        .await;
    let kim = app
        .person(
            &hsm,
            "Kim Minjun",
            json!({"locale": "ko", "nationality": "KR", "is_volunteer": true}),
        )
        .await;
    let li = app
        .person(&hsm, "Li Ming", json!({"is_volunteer": true}))
        .await;
    // German is not among the notice's languages: the community's default it is.
    let anna = app
        .person(
            &hsm,
            "Anna Muller",
            json!({"locale": "de", "nationality": "DE", "is_volunteer": true}),
        )
        .await;
    let olga = app
        .person(
            &hsm,
            "Olga Petrova",
            json!({"locale": "ru", "nationality": "RU", "is_volunteer": true, "notifications": {"notices": false}}),
        )
        .await;
    let wang = app
        .person(&hsm, "Wang Lei", json!({"is_volunteer": true}))
        .await;
    for person in [&emily, &kim, &li, &anna] {
        sign_up(&app, &shift, &id(person)).await;
    }
    sign_up(&app, &other_shift, &id(&wang)).await;
    assert_eq!(
        olga["notifications"]["notices"],
        json!(false),
        "the preference is part of the person"
    );

    let created = app
        .post(
            "/v1/notices",
            admin,
            water_notice(&hsm, "shift", Some(&shift)),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(created["state"], "scheduled");
    assert_eq!(created["deliveries"]["queued"], 0);
    let notice = id(&created);
    // Olga is waitlisted on a full shift and still hears about it.
    sign_up(&app, &shift, &id(&olga)).await;

    let worker = app.worker(&smtp);
    let now = Utc::now();
    let first = worker.tick(now).await.unwrap();
    assert_eq!(
        first.outcomes.len(),
        1,
        "at 120 a minute, one is due at once"
    );
    // Five rows: the last is due two seconds after the first.
    let rest = worker.tick(now + Duration::seconds(3)).await.unwrap();
    assert_eq!(sent(&first.outcomes) + sent(&rest.outcomes), 4, "{rest:?}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 4, "Olga opted out, Wang is on another shift");

    let english = mail_to(&mails, &email(&emily));
    assert_eq!(english.subject(), "Water off on Friday");
    assert!(
        english.text().contains("Dear Emily Carter"),
        "{}",
        english.text()
    );
    assert!(
        english.text().contains("**Friday**"),
        "Markdown as the text part"
    );
    let html = english.html();
    assert!(html.contains("<strong>Friday</strong>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;"),
        "raw HTML is shown, not run: {html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    let korean = mail_to(&mails, &email(&kim));
    assert_eq!(korean.subject(), "금요일 단수 안내");
    assert!(
        korean.text().contains("Kim Minjun 님께"),
        "{}",
        korean.text()
    );
    for chinese in [&li, &anna] {
        let mail = mail_to(&mails, &email(chinese));
        assert_eq!(mail.subject(), "停水通知");
        assert!(mail.html().contains("<strong>9:00–12:00</strong>"));
    }
    let rows = ledger(&app, "notice").await;
    let mut locales: Vec<&str> = rows.iter().map(|r| r.locale.as_str()).collect();
    locales.sort();
    assert_eq!(
        locales,
        ["en", "ko", "zh-CN", "zh-CN", "zh-CN"],
        "the notice's languages"
    );

    let shown = app
        .get(&format!("/v1/notices/{notice}"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(shown["state"], "sent");
    assert_eq!(shown["recipients"], 5);
    assert_eq!(
        shown["deliveries"],
        json!({"queued": 0, "sent": 4, "failed": 0, "skipped": 1, "missed": 0})
    );
    app.post(&format!("/v1/notices/{notice}/cancel"), admin, json!({}))
        .await
        .expect_problem(409);
    // Planning again sends nothing twice.
    let again = worker.tick(now + Duration::minutes(1)).await.unwrap();
    assert_eq!(sent(&again.outcomes), 0);
    app.stop().await;
}

async fn throttled_across_notices_then_cancelled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let smtp = SmtpServer::start().await;
    let hsm = id(&app.community("hsm").await);
    let elsewhere = id(&app.community("elsewhere").await);
    for (name, nationality) in [("Emily", "US"), ("Kim", "KR"), ("Anna", "DE")] {
        app.person(
            &hsm,
            name,
            json!({"nationality": nationality, "locale": "en"}),
        )
        .await;
    }
    app.person(&hsm, "Li Ming", json!({})).await;
    app.person(&elsewhere, "Marco", json!({"nationality": "IT"}))
        .await;
    let mut worker = app.worker(&smtp);
    Arc::make_mut(&mut worker.settings).notice_rate = 60;

    let first = id(&app
        .post(
            "/v1/notices",
            admin,
            water_notice(&hsm, "foreign_residents", None),
        )
        .await
        .expect(201)
        .body);
    let second = id(&app
        .post(
            "/v1/notices",
            admin,
            water_notice(&hsm, "foreign_residents", None),
        )
        .await
        .expect(201)
        .body);
    let later = app
        .post(
            "/v1/notices",
            admin,
            json!({
                "community_id": hsm,
                "subject": {"en": "Lantern festival"},
                "body": {"en": "Next month."},
                "audience": "community",
                "send_at": (Utc::now() + Duration::hours(1)).to_rfc3339(),
            }),
        )
        .await
        .expect(201)
        .body;

    let t0 = Utc::now();
    let report = worker.tick(t0).await.unwrap();
    assert_eq!(
        report.planned, 6,
        "three foreign residents, twice; not Li, not Marco"
    );
    assert_eq!(
        sent(&report.outcomes),
        1,
        "one a second: only the first is due"
    );
    let mut due: Vec<_> = ledger(&app, "notice")
        .await
        .iter()
        .map(|r| r.due_at)
        .collect();
    due.sort();
    let gaps: Vec<i64> = due
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    assert_eq!(gaps, vec![1000; 5], "the rate holds across notices");
    assert!(
        (due[0] - t0).num_milliseconds().abs() < 1,
        "{} {t0}",
        due[0]
    );

    let report = worker
        .tick(t0 + Duration::milliseconds(2500))
        .await
        .unwrap();
    assert_eq!(sent(&report.outcomes), 2);
    let path = format!("/v1/notices/{first}");
    let done = app.get(&path, admin).await.expect(200).body;
    assert_eq!(done["state"], "sent", "the first notice's rows came first");
    assert_eq!(done["deliveries"]["sent"], 3);
    let path = format!("/v1/notices/{second}");
    assert_eq!(
        app.get(&path, admin).await.expect(200).body["state"],
        "sending"
    );

    let cancelled = app
        .post(&format!("{path}/cancel"), admin, json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(
        cancelled["deliveries"],
        json!({"queued": 0, "sent": 0, "failed": 0, "skipped": 3, "missed": 0})
    );
    let again = app
        .post(&format!("{path}/cancel"), admin, json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(again["cancelled_at"], cancelled["cancelled_at"]);

    // A notice cancelled before its time never goes out.
    let later = id(&later);
    app.post(&format!("/v1/notices/{later}/cancel"), admin, json!({}))
        .await
        .expect(200);
    let report = worker.tick(t0 + Duration::hours(2)).await.unwrap();
    assert_eq!(
        (report.planned, sent(&report.outcomes)),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(smtp.received().len(), 3);
    let shown = app
        .get(&format!("/v1/notices/{later}"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(
        (shown["state"].clone(), shown["recipients"].clone()),
        (json!("cancelled"), json!(0))
    );
    app.stop().await;
}

async fn each_audience_reaches_its_people(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let smtp = SmtpServer::start().await;
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    let other_station = id(&app.station(&hsm).await);
    let morning = id(&app.shift(&station, 24, 5).await);
    let evening = id(&app.shift(&station, 30, 5).await);
    let elsewhere = id(&app.shift(&other_station, 24, 5).await);
    let event = id(&app.event(&hsm, 72).await);
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200);
    let mut people = Vec::new();
    for name in ["Ann", "Bo", "Cy", "Di", "Ed"] {
        people.push(id(&app
            .person(&hsm, name, json!({"locale": "en", "is_volunteer": true}))
            .await));
    }
    sign_up(&app, &morning, &people[0]).await;
    sign_up(&app, &evening, &people[1]).await;
    sign_up(&app, &evening, &people[2]).await;
    app.delete(
        &format!("/v1/shifts/{evening}/signups/{}", people[2]),
        admin,
    )
    .await
    .expect(200);
    sign_up(&app, &elsewhere, &people[3]).await;
    for person in [&people[3], &people[4]] {
        app.post(
            &format!("/v1/events/{event}/registrations"),
            admin,
            json!({"person_id": person}),
        )
        .await
        .expect(201);
    }
    app.delete(
        &format!("/v1/events/{event}/registrations/{}", people[4]),
        admin,
    )
    .await
    .expect(200);

    let mut notices = Vec::new();
    for (audience, of, expected) in [
        ("station_volunteers", Some(&station), 2),
        ("shift", Some(&evening), 1),
        ("event", Some(&event), 1),
        ("community", None, 5),
        ("foreign_residents", None, 0),
    ] {
        let created = app
            .post(
                "/v1/notices",
                admin,
                water_notice(&hsm, audience, of.map(String::as_str)),
            )
            .await
            .expect(201)
            .body;
        notices.push((audience, id(&created), expected));
    }
    app.worker(&smtp).tick(Utc::now()).await.unwrap();
    for (audience, notice, expected) in notices {
        let shown = app
            .get(&format!("/v1/notices/{notice}"), admin)
            .await
            .expect(200)
            .body;
        assert_eq!(shown["recipients"], expected, "{audience}");
    }
    let (listed, _) = app.all_pages("/v1/notices", admin, 2).await;
    assert_eq!(listed.len(), 5);
    app.stop().await;
}

async fn checked_and_scoped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let station = id(&app.station(&hsm).await);
    let foreign_station = id(&app.station(&other).await);
    let shift = id(&app.shift(&station, 24, 2).await);

    let refused = |body: Value, fields: &'static [&'static str]| {
        let app = &app;
        async move {
            let reply = app
                .post("/v1/notices", admin, body)
                .await
                .expect_problem(422);
            assert_eq!(reply.error_fields(), fields, "{}", reply.text);
        }
    };
    refused(water_notice(&hsm, "shift", None), &["audience_id"]).await;
    refused(
        water_notice(&hsm, "community", Some(&station)),
        &["audience_id"],
    )
    .await;
    refused(
        water_notice(&hsm, "station_volunteers", Some(&foreign_station)),
        &["audience_id"],
    )
    .await;
    refused(water_notice(&hsm, "event", Some(&shift)), &["audience_id"]).await;
    let mut lopsided = water_notice(&hsm, "community", None);
    lopsided["subject"]["fr"] = json!("Coupure d'eau");
    lopsided["body"]["en"] = json!(" ");
    refused(lopsided, &["body.en", "body.fr"]).await;
    let mut two_lines = water_notice(&hsm, "community", None);
    two_lines["subject"]["en"] = json!("Water\nBcc: everyone@example.cn");
    refused(two_lines, &["subject.en"]).await;
    let mut nameless = water_notice(&hsm, "community", None);
    nameless.as_object_mut().unwrap().remove("community_id");
    refused(nameless, &["community_id"]).await;
    let mut bad_audience = water_notice(&hsm, "community", None);
    bad_audience["audience"] = json!("everyone");
    app.post("/v1/notices", admin, bad_audience)
        .await
        .expect_problem(400);

    let organizer = app.key(Role::Organizer, Some(&other), None).await;
    let li = id(&app
        .person(&hsm, "Li Ming", json!({"is_volunteer": true}))
        .await);
    let volunteer = app.key(Role::Volunteer, Some(&hsm), Some(&li)).await;
    app.post(
        "/v1/notices",
        Some(&organizer),
        water_notice(&hsm, "community", None),
    )
    .await
    .expect_problem(403);
    app.post(
        "/v1/notices",
        Some(&volunteer),
        water_notice(&hsm, "community", None),
    )
    .await
    .expect_problem(403);
    let ours = id(&app
        .post("/v1/notices", admin, water_notice(&hsm, "community", None))
        .await
        .expect(201)
        .body);
    let mut theirs = water_notice(&other, "community", None);
    theirs.as_object_mut().unwrap().remove("community_id");
    let theirs = app
        .post("/v1/notices", Some(&organizer), theirs)
        .await
        .expect(201)
        .body;
    assert_eq!(theirs["community_id"], json!(other));
    for path in [
        format!("/v1/notices/{ours}"),
        format!("/v1/notices/{ours}/cancel"),
    ] {
        let reply = if path.ends_with("cancel") {
            app.post(&path, Some(&organizer), json!({})).await
        } else {
            app.get(&path, Some(&organizer)).await
        };
        reply.expect_problem(404);
    }
    let (listed, _) = app.all_pages("/v1/notices", Some(&organizer), 50).await;
    assert_eq!(listed.len(), 1);
    app.stop().await;
}
