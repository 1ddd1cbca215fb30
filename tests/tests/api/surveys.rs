//! Satisfaction surveys over HTTP: invitations mailed in each reader's language through
//! a real SMTP server, answers by link and by interview, reminders, closing, and the
//! report's numbers and small-group rules.

use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_api::state::Settings;
use huashen_tests::smtp::{Received, SmtpServer};
use huashen_tests::{Backend, TestApp, both_backends, id};
use serde_json::{Value, json};

use super::mail::ledger;

both_backends!(
    the_demos_foreign_residents_answer_by_link,
    interviews_and_the_report,
    drafts_change_open_surveys_do_not,
);

fn questions() -> Value {
    json!([
        {"id": "overall", "kind": "rating", "required": true,
         "text": {"zh-CN": "总体满意度", "en": "Overall satisfaction", "ko": "전반적 만족도"}},
        {"id": "heard_from", "kind": "single_choice",
         "text": {"zh-CN": "信息来源", "en": "Where did you hear of us?"},
         "choices": [
            {"id": "wechat", "text": {"zh-CN": "微信", "en": "WeChat"}},
            {"id": "board", "text": {"zh-CN": "公告栏", "en": "Notice board"}}]},
        {"id": "wanted", "kind": "multiple_choice",
         "text": {"zh-CN": "希望的活动", "en": "Activities wanted"},
         "choices": [
            {"id": "language", "text": {"zh-CN": "语言", "en": "Language"}},
            {"id": "festivals", "text": {"zh-CN": "节日", "en": "Festivals"}},
            {"id": "health", "text": {"zh-CN": "健康", "en": "Health"}}]},
        {"id": "suggestions", "kind": "text", "text": {"zh-CN": "建议", "en": "Suggestions"}},
    ])
}

fn survey(community: &str, audience: &str) -> Value {
    json!({
        "community_id": community,
        "title": {"zh-CN": "居民满意度调查", "en": "Resident satisfaction survey", "ko": "주민 만족도 조사",
                  "ja": "住民満足度調査", "fr": "Enquête de satisfaction", "de": "Zufriedenheitsumfrage",
                  "ru": "Опрос удовлетворённости"},
        "intro": {"en": "Five minutes."},
        "questions": questions(),
        "audience": audience,
        "closes_at": (Utc::now() + Duration::days(30)).to_rfc3339(),
        "reminder_after_days": 3,
    })
}

/// The mails with a survey link, in the order they were sent.
fn survey_mails(smtp: &SmtpServer) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| m.text().contains("/survey-invitations/"))
        .collect()
}

/// The token of the survey link in a mail.
fn token(mail: &Received) -> String {
    let text = mail.text();
    let start = text
        .find("/survey-invitations/")
        .unwrap_or_else(|| panic!("no survey link in {text}"))
        + "/survey-invitations/".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn full_answers() -> Value {
    json!({"answers": [
        {"question_id": "overall", "rating": 4},
        {"question_id": "heard_from", "choice": "wechat"},
        {"question_id": "wanted", "choices": ["language", "health"]},
        {"question_id": "suggestions", "text": "More English corners"},
    ]})
}

async fn the_demos_foreign_residents_answer_by_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let smtp = SmtpServer::start().await;
    let demo = huashen_api::demo::seed(&app.db)
        .await
        .unwrap()
        .expect("a fresh demo");
    let hsm = demo.community_id.to_string();
    let (people, _) = app
        .all_pages(&format!("/v1/people?community_id={hsm}"), admin, 200)
        .await;
    let foreign: Vec<&Value> = people.iter().filter(|p| p["nationality"] != "CN").collect();
    assert_eq!(foreign.len(), 6, "the demo's foreign residents");

    let created = app
        .post("/v1/surveys", admin, survey(&hsm, "foreign_residents"))
        .await
        .expect(201)
        .body;
    assert_eq!(created["state"], "draft");
    let survey_id = id(&created);
    let path = format!("/v1/surveys/{survey_id}");
    let worker = app.worker(&smtp);
    // The demo's own mail (welcomes, the digest, care) goes out first.
    worker.tick(Utc::now()).await.unwrap();
    assert!(
        ledger(&app, "survey_invitation").await.is_empty(),
        "a draft invites nobody"
    );

    let opened = app
        .post(&format!("{path}/open"), admin, json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(opened["state"], "open");
    let t0 = Utc::now();
    // Six invitations at 120 a minute: all due within three seconds.
    worker.tick(t0).await.unwrap();
    let report = worker.tick(t0 + Duration::seconds(3)).await.unwrap();
    let mails = survey_mails(&smtp);
    assert_eq!(mails.len(), 6, "{report:?}");
    let subjects: Vec<(String, String)> = foreign
        .iter()
        .map(|p| {
            let address = p["email"].as_str().unwrap();
            let mail = mails
                .iter()
                .find(|m| m.to[0] == address)
                .expect("a mail each");
            (p["locale"].as_str().unwrap().to_owned(), mail.subject())
        })
        .collect();
    for (locale, subject) in &subjects {
        let title = created["title"][locale.as_str()].as_str().unwrap();
        assert!(subject.contains(title), "{locale}: {subject}");
    }
    assert_eq!(
        app.get(&path, admin).await.expect(200).body["invited"],
        json!(6)
    );

    // Kim reads it in Korean, answers once.
    let kim = foreign.iter().find(|p| p["locale"] == "ko").unwrap();
    let kims_mail = mails
        .iter()
        .find(|m| m.to[0] == kim["email"].as_str().unwrap())
        .unwrap();
    let link = format!("/v1/survey-invitations/{}", token(kims_mail));
    let form = app.get(&link, None).await.expect(200).body;
    assert_eq!(form["locale"], "ko");
    assert_eq!(form["title"], "주민 만족도 조사");
    assert_eq!(form["questions"][0]["text"], "전반적 만족도");
    assert_eq!(
        form["questions"][1]["text"], "信息来源",
        "the community's language when Korean is missing"
    );
    assert_eq!(form["answered_at"], Value::Null);
    let wrong = app
        .post(
            &link,
            None,
            json!({"answers": [
                {"question_id": "heard_from", "choice": "radio"},
                {"question_id": "wanted", "choices": ["language", "cooking"]},
                {"question_id": "suggestions", "rating": 3},
                {"question_id": "age", "rating": 3},
            ]}),
        )
        .await
        .expect_problem(422);
    let mut fields = wrong.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "answers.age",
            "answers.heard_from",
            "answers.overall",
            "answers.suggestions",
            "answers.wanted"
        ],
        "{}",
        wrong.text
    );
    app.post(
        &link,
        None,
        json!({"answers": [{"question_id": "overall", "rating": 6}]}),
    )
    .await
    .expect_problem(400);
    let answered = app.post(&link, None, full_answers()).await.expect(201).body;
    assert_eq!(answered["mode"], "link");
    assert_eq!(answered["locale"], "ko");
    app.post(&link, None, full_answers())
        .await
        .expect_problem(409);
    assert!(app.get(&link, None).await.expect(200).body["answered_at"].is_string());
    app.get("/v1/survey-invitations/not-a-token", None)
        .await
        .expect_problem(404);

    // Three days on, the other five are reminded; Kim is not.
    let later = t0 + Duration::days(3) + Duration::minutes(1);
    worker.tick(later).await.unwrap();
    worker.tick(later + Duration::seconds(3)).await.unwrap();
    let reminded = ledger(&app, "survey_reminder").await;
    assert_eq!(reminded.len(), 5);
    assert!(
        reminded
            .iter()
            .all(|r| r.status == entities::enums::NotificationStatus::Sent)
    );
    let reminders: Vec<Received> = survey_mails(&smtp).into_iter().skip(6).collect();
    assert_eq!(reminders.len(), 5);
    assert!(
        reminders
            .iter()
            .all(|m| m.to[0] != kim["email"].as_str().unwrap())
    );
    let emily = foreign.iter().find(|p| p["locale"] == "en").unwrap();
    let emilys: Vec<Received> = survey_mails(&smtp)
        .into_iter()
        .filter(|m| m.to[0] == emily["email"].as_str().unwrap())
        .collect();
    assert_eq!(emilys.len(), 2);
    assert!(
        emilys[1].subject().starts_with("Reminder: "),
        "{}",
        emilys[1].subject()
    );
    // Both of Emily's links work.
    for mail in &emilys {
        let link = format!("/v1/survey-invitations/{}", token(mail));
        app.get(&link, None).await.expect(200);
    }

    // An interview of a resident who was invited counts as their answer.
    let pierre = foreign.iter().find(|p| p["locale"] == "fr").unwrap();
    app.post(
        &format!("{path}/responses"),
        admin,
        json!({"person_id": pierre["id"], "mode": "interview", "collected_by": "王芳",
               "answers": [{"question_id": "overall", "rating": 5}]}),
    )
    .await
    .expect(201);
    let pierres = survey_mails(&smtp)
        .into_iter()
        .find(|m| m.to[0] == pierre["email"].as_str().unwrap())
        .unwrap();
    app.post(
        &format!("/v1/survey-invitations/{}", token(&pierres)),
        None,
        full_answers(),
    )
    .await
    .expect_problem(409);

    // Kim's answer is in Kim's export; erased, the answer stays for the totals,
    // detached, and the link stops working.
    let kim_path = format!("/v1/people/{}", kim["id"].as_str().unwrap());
    let export = app
        .get(&format!("{kim_path}/export"), admin)
        .await
        .expect(200)
        .body;
    let kims_answer = export["survey_responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["survey_id"] == json!(survey_id))
        .expect("the answer in the export");
    assert_eq!(kims_answer["answers"][0]["rating"], 4);
    app.delete(&kim_path, admin).await.expect(204);
    app.get(&link, None).await.expect_problem(404);
    let report = app
        .get(&format!("{path}/report"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(report["response_count"], 2, "Kim's and Pierre's");
    // The rate counts the invited who answered: Pierre of the five left once Kim's data
    // (and invitation) was erased.
    assert_eq!(
        report["by_group"],
        json!([
            {"group": "CN", "invited": 0, "response_count": 0, "response_rate": 0.0},
            {"group": "foreign", "invited": 5, "response_count": 1, "response_rate": 0.2},
        ])
    );
    assert_eq!(report["response_rate"], 0.2);

    // Closed: links answer 410 and nobody is reminded again.
    app.post(&format!("{path}/close"), admin, json!({}))
        .await
        .expect(200);
    let emily_link = format!("/v1/survey-invitations/{}", token(&emilys[0]));
    app.get(&emily_link, None).await.expect_problem(410);
    app.post(&emily_link, None, full_answers())
        .await
        .expect_problem(410);
    let shown = app.get(&path, admin).await.expect(200).body;
    assert_eq!(
        (shown["state"].clone(), shown["response_count"].clone()),
        (json!("closed"), json!(2))
    );
    app.stop().await;
}

async fn interviews_and_the_report(backend: Backend) {
    let settings = Settings {
        survey_min_group: 3,
        ..Settings::default()
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let survey_id = id(&app
        .post("/v1/surveys", admin, survey(&hsm, "residents"))
        .await
        .expect(201)
        .body);
    let path = format!("/v1/surveys/{survey_id}");
    app.post(&format!("{path}/open"), admin, json!({}))
        .await
        .expect(200);
    // Ratings, nationalities and languages of eight interviews: CN ×3 (zh-CN), US ×3
    // (en), KR ×1 (ko), DE ×1 (en).
    let people = [
        (
            "CN",
            "zh-CN",
            5,
            "wechat",
            vec!["festivals"],
            Some("多办节日活动"),
        ),
        (
            "CN",
            "zh-CN",
            4,
            "wechat",
            vec!["festivals", "health"],
            None,
        ),
        ("CN", "zh-CN", 2, "board", vec![], None),
        (
            "US",
            "en",
            5,
            "wechat",
            vec!["language"],
            Some("=HYPERLINK(\"x\")"),
        ),
        ("US", "en", 3, "board", vec!["language", "festivals"], None),
        ("US", "en", 4, "wechat", vec!["language"], None),
        (
            "KR",
            "ko",
            1,
            "board",
            vec!["health"],
            Some("Only Kim would write this"),
        ),
        ("DE", "en", 4, "wechat", vec!["language"], None),
    ];
    for (nationality, locale, rating, heard, wanted, text) in &people {
        let mut answers = vec![
            json!({"question_id": "overall", "rating": rating}),
            json!({"question_id": "heard_from", "choice": heard}),
            json!({"question_id": "wanted", "choices": wanted}),
        ];
        if let Some(text) = text {
            answers.push(json!({"question_id": "suggestions", "text": text}));
        }
        app.post(
            &format!("{path}/responses"),
            admin,
            json!({"mode": "interview", "collected_by": "王芳", "nationality": nationality,
                   "locale": locale, "answers": answers}),
        )
        .await
        .expect(201);
    }
    let report = app
        .get(&format!("{path}/report?locale=en"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(report["response_count"], 8);
    assert_eq!(report["invited"], 0);
    assert_eq!(
        report["by_mode"],
        json!([{"mode": "link", "response_count": 0}, {"mode": "interview", "response_count": 8}])
    );
    let overall = &report["questions"][0];
    assert_eq!(overall["text"], "Overall satisfaction");
    assert_eq!(
        overall["all"],
        json!({"answers": 8, "mean": 3.5, "median": 4.0, "counts": [
            {"value": "1", "count": 1}, {"value": "2", "count": 1}, {"value": "3", "count": 1},
            {"value": "4", "count": 3}, {"value": "5", "count": 2}]})
    );
    let groups = |breakdown: &str| -> Vec<(String, i64)> {
        overall[breakdown]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["group"].as_str().unwrap().to_owned(),
                    g["respondents"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    // KR and DE alone are too small, and so is the two of them together.
    assert_eq!(
        groups("by_nationality"),
        [
            ("CN".to_owned(), 3),
            ("foreign".to_owned(), 5),
            ("US".to_owned(), 3)
        ]
    );
    assert_eq!(
        groups("by_locale"),
        [("en".to_owned(), 4), ("zh-CN".to_owned(), 3)]
    );
    let us = &overall["by_nationality"][2]["distribution"];
    assert_eq!(
        (us["mean"].clone(), us["median"].clone()),
        (json!(4.0), json!(4.0))
    );
    let wanted = &report["questions"][2]["all"];
    assert_eq!(wanted["answers"], 8);
    assert_eq!(
        wanted["counts"],
        json!([{"value": "language", "count": 4}, {"value": "festivals", "count": 3},
               {"value": "health", "count": 2}])
    );
    let texts = &report["questions"][3]["all"];
    assert_eq!(
        (texts["answers"].clone(), texts["counts"].clone()),
        (json!(3), json!([]))
    );
    assert!(
        !report.to_string().contains("Only Kim"),
        "no free text in JSON"
    );

    let csv = app
        .call(
            reqwest::Method::GET,
            &format!("{path}/report"),
            admin,
            None,
            &[("accept", "text/csv")],
        )
        .await
        .expect(200);
    assert!(csv.text.starts_with("\u{feff}section,question_id,question,breakdown,group,respondents,value,count,mean,median,text"), "{}", csv.text);
    assert!(
        csv.text
            .contains("text,suggestions,建议,nationality,CN,,,,,,多办节日活动"),
        "{}",
        csv.text
    );
    assert!(
        csv.text
            .contains("nationality,foreign,,,,,,Only Kim would write this"),
        "Kim's group is too small to name: {}",
        csv.text
    );
    assert!(
        csv.text.contains("'=HYPERLINK"),
        "formulas are defused: {}",
        csv.text
    );
    assert!(
        csv.text
            .contains("answers,overall,总体满意度,all,all,8,4,3,3.5,4.0,"),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains("response_rate,,,mode,interview,8,"),
        "{}",
        csv.text
    );

    // Too few answers altogether: no texts at all.
    let small = id(&app
        .post("/v1/surveys", admin, survey(&hsm, "residents"))
        .await
        .expect(201)
        .body);
    app.post(&format!("/v1/surveys/{small}/open"), admin, json!({}))
        .await
        .expect(200);
    for _ in 0..2 {
        app.post(
            &format!("/v1/surveys/{small}/responses"),
            admin,
            json!({"mode": "interview", "collected_by": "王芳", "answers": [
                {"question_id": "overall", "rating": 3},
                {"question_id": "suggestions", "text": "a secret"}]}),
        )
        .await
        .expect(201);
    }
    let csv = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/surveys/{small}/report"),
            admin,
            None,
            &[("accept", "text/csv")],
        )
        .await
        .expect(200);
    assert!(!csv.text.contains("a secret"), "{}", csv.text);
    let json = app
        .get(&format!("/v1/surveys/{small}/report"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(json["questions"][0]["by_nationality"], json!([]));
    app.stop().await;
}

async fn drafts_change_open_surveys_do_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let hsm = id(&app.community("hsm").await);
    let other = id(&app.community("other").await);
    let event = id(&app.event(&other, 24).await);

    let refused = |body: Value, fields: &'static [&'static str]| {
        let app = &app;
        async move {
            let reply = app
                .post("/v1/surveys", admin, body)
                .await
                .expect_problem(422);
            assert_eq!(reply.error_fields(), fields, "{}", reply.text);
        }
    };
    let mut twice = survey(&hsm, "residents");
    twice["questions"][1]["id"] = json!("overall");
    refused(twice, &["questions[1].id"]).await;
    let mut one_choice = survey(&hsm, "residents");
    one_choice["questions"][1]["choices"] = json!([{"id": "a", "text": {"en": "A"}}]);
    refused(one_choice, &["questions[1].choices"]).await;
    let mut text_choices = survey(&hsm, "residents");
    text_choices["questions"][3]["choices"] = json!([{"id": "a", "text": {"en": "A"}}]);
    refused(text_choices, &["questions[3].choices"]).await;
    refused(survey(&hsm, "event_attendees"), &["audience_event_id"]).await;
    let mut elsewhere = survey(&hsm, "event_attendees");
    elsewhere["audience_event_id"] = json!(event);
    refused(elsewhere, &["audience_event_id"]).await;
    let mut backwards = survey(&hsm, "residents");
    backwards["opens_at"] = json!((Utc::now() + Duration::days(40)).to_rfc3339());
    refused(backwards, &["closes_at"]).await;

    let created = app
        .post("/v1/surveys", admin, survey(&hsm, "volunteers"))
        .await
        .expect(201);
    let path = format!("/v1/surveys/{}", created.id());
    let interview = json!({"mode": "interview", "collected_by": "王芳",
                           "answers": [{"question_id": "overall", "rating": 3}]});
    app.post(&format!("{path}/responses"), admin, interview.clone())
        .await
        .expect_problem(409);
    let etag = created.header("etag").unwrap().to_owned();
    let changed = app
        .call(
            reqwest::Method::PATCH,
            &path,
            admin,
            Some(json!({"questions": [questions()[0]]})),
            &[("if-match", etag.as_str())],
        )
        .await
        .expect(200);
    assert_eq!(changed.body["questions"].as_array().unwrap().len(), 1);
    app.post(&format!("{path}/close"), admin, json!({}))
        .await
        .expect_problem(409);
    app.post(&format!("{path}/open"), admin, json!({}))
        .await
        .expect(200);
    let again = app
        .post(&format!("{path}/open"), admin, json!({}))
        .await
        .expect(200);
    app.patch(&path, admin, json!({"questions": questions()}), None)
        .await
        .expect_problem(409);
    let closes_at = (Utc::now() + Duration::days(5)).to_rfc3339();
    let moved = app
        .patch(&path, admin, json!({"closes_at": closes_at}), None)
        .await
        .expect(200);
    assert_ne!(moved.header("etag"), again.header("etag"));
    app.post(
        &format!("{path}/responses"),
        admin,
        json!({"mode": "link", "collected_by": "王芳", "answers": []}),
    )
    .await
    .expect_problem(422);
    app.post(&format!("{path}/responses"), admin, interview.clone())
        .await
        .expect(201);

    let organizer = app.key(Role::Organizer, Some(&other), None).await;
    for reply in [
        app.get(&path, Some(&organizer)).await,
        app.get(&format!("{path}/report"), Some(&organizer)).await,
        app.post(
            &format!("{path}/responses"),
            Some(&organizer),
            interview.clone(),
        )
        .await,
    ] {
        reply.expect_problem(404);
    }
    let (listed, _) = app.all_pages("/v1/surveys", Some(&organizer), 50).await;
    assert!(listed.is_empty());
    let qr = app.get(&format!("{path}/qr.svg"), admin).await.expect(200);
    assert_eq!(qr.header("content-type"), Some("image/svg+xml"));
    app.get(&format!("{path}/qr.svg"), None)
        .await
        .expect_problem(401);

    app.post(&format!("{path}/close"), admin, json!({}))
        .await
        .expect(200);
    app.post(&format!("{path}/responses"), admin, interview)
        .await
        .expect_problem(410);
    app.patch(&path, admin, json!({"closes_at": closes_at}), None)
        .await
        .expect_problem(409);
    app.stop().await;
}
