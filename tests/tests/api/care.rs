use chrono::{Duration, Utc};
use entities::enums::Role;
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, TestApp, both_backends, id};
use huashen_worker::Outcome;
use huashen_worker::format::zone;
use serde_json::json;

both_backends!(plans_reminders_and_the_log);

async fn plans_reminders_and_the_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    let o = Some(organizer.as_str());
    let elder = app
        .person(
            &community,
            "张伟",
            json!({"birthday": "1950-07-21", "email": "zhang.wei@example.cn"}),
        )
        .await;
    let caller = app
        .person(
            &community,
            "王芳",
            json!({"is_volunteer": true, "email": "wang.fang@example.cn"}),
        )
        .await;
    let caller_key = app.key(Role::Volunteer, None, caller["id"].as_str()).await;
    let plans = format!("/v1/people/{}/care-plans", id(&elder));

    app.post(
        &plans,
        o,
        json!({"kind": "flowers", "every_days": 7, "assignee_id": id(&caller)}),
    )
    .await
    .expect_problem(422);
    app.post(
        &plans,
        o,
        json!({"kind": "call", "every_days": 0, "assignee_id": id(&caller)}),
    )
    .await
    .expect_problem(400);
    app.post(
        &plans,
        Some(&caller_key),
        json!({"kind": "call", "every_days": 7, "assignee_id": id(&caller)}),
    )
    .await
    .expect_problem(403);
    let plan = app
        .post(
            &plans,
            o,
            json!({"kind": "call", "every_days": 7, "assignee_id": id(&caller)}),
        )
        .await
        .expect(201)
        .body;
    let shanghai = zone("Asia/Shanghai");
    let today = Utc::now().with_timezone(&shanghai).date_naive();
    assert_eq!(
        plan["next_due_on"],
        today.to_string(),
        "due today unless told otherwise"
    );

    let due = app.get("/v1/care/due", o).await.expect(200).body;
    assert_eq!(due.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            due[0]["resident_name"].clone(),
            due[0]["assignee_name"].clone(),
            due[0]["days_overdue"].clone()
        ),
        (json!("张伟"), json!("王芳"), json!(0))
    );

    // The assignee is reminded at 09:00 community time on the due day, in their language.
    let worker = app.worker(&smtp);
    let nine = huashen_worker::planner::local_instant(today, 9, shanghai);
    worker.tick(nine - Duration::minutes(1)).await.unwrap();
    assert!(smtp.received().is_empty());
    let report = worker.tick(nine + Duration::minutes(1)).await.unwrap();
    assert_eq!(report.outcomes, [Outcome::Sent]);
    let reminder = &smtp.received()[0];
    assert_eq!(reminder.to, [caller["email"].as_str().unwrap()]);
    assert_eq!(reminder.subject(), "电话问候提醒：张伟");

    // The call is logged by the assignee; the plan moves on a week from that day.
    let log = format!("/v1/people/{}/care-log", id(&elder));
    let neighbour = app
        .person(&community, "Li Ming", json!({"is_volunteer": true}))
        .await;
    let neighbour_key = app
        .key(Role::Volunteer, None, neighbour["id"].as_str())
        .await;
    let call = json!({"kind": "call", "happened_on": today.to_string(), "care_plan_id": id(&plan), "outcome": "well, a little lonely"});
    app.post(&log, Some(&neighbour_key), call.clone())
        .await
        .expect_problem(403);
    let logged = app
        .post(&log, Some(&caller_key), call)
        .await
        .expect(201)
        .body;
    assert_eq!(logged["by_person_id"], caller["id"]);
    let plans_now = app.get(&plans, o).await.expect(200).body;
    assert_eq!(
        plans_now[0]["next_due_on"],
        (today + Duration::days(7)).to_string()
    );
    assert!(
        app.get("/v1/care/due", o)
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.get("/v1/care/due?within_days=7", o)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // 慰问一束花: flowers in hard times, logged without a plan.
    app.post(
        &log,
        o,
        json!({"kind": "flowers", "happened_on": today.to_string(), "note": "after his operation"}),
    )
    .await
    .expect(201);
    app.post(
        &log,
        o,
        json!({"kind": "visit", "happened_on": (today + Duration::days(2)).to_string()}),
    )
    .await
    .expect_problem(422);
    let (entries, _) = app.all_pages(&log, o, 1).await;
    assert_eq!(entries.len(), 2);

    app.delete(&format!("{plans}/{}", id(&plan)), o)
        .await
        .expect(204);
    assert!(
        app.get("/v1/care/due?within_days=30", o)
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.call(
        reqwest::Method::PATCH,
        &format!("{plans}/{}", id(&plan)),
        o,
        Some(json!({"every_days": 3})),
        &[],
    )
    .await
    .expect_problem(409);

    // An overdue visit shows in the organizer digest and in the coverage report.
    let office = app
        .person(
            &community,
            "Zhang Min",
            json!({"is_organizer": true, "locale": "en", "email": "office@example.cn"}),
        )
        .await;
    let visit = app
        .post(&plans, o, json!({"kind": "visit", "every_days": 14, "assignee_id": id(&caller), "first_due_on": (today - Duration::days(3)).to_string()}))
        .await
        .expect(201)
        .body;
    let eight = huashen_worker::planner::local_instant(today + Duration::days(1), 8, shanghai);
    worker.tick(eight + Duration::minutes(5)).await.unwrap();
    let digest = smtp
        .received()
        .into_iter()
        .find(|m| m.to == [office["email"].as_str().unwrap()])
        .expect("a digest");
    assert!(
        digest.text().contains("张伟 (by 王芳, due "),
        "{}",
        digest.text()
    );
    let coverage = app.get("/v1/reports/care", o).await.expect(200).body;
    let rows = coverage["rows"].as_array().unwrap();
    let row = |plan: &serde_json::Value| {
        rows.iter()
            .find(|r| r["plan_id"] == plan["id"])
            .unwrap()
            .clone()
    };
    assert_eq!(
        (row(&plan)["done"].clone(), row(&plan)["coverage"].clone()),
        (json!(1), json!(1.0))
    );
    assert_eq!(
        (row(&visit)["done"].clone(), row(&visit)["coverage"].clone()),
        (json!(0), json!(0.0))
    );

    let other = id(&app.community("other").await);
    let stranger = app.key(Role::Organizer, Some(&other), None).await;
    app.get(&plans, Some(&stranger)).await.expect_problem(404);
    app.get(&log, Some(&stranger)).await.expect_problem(404);
    assert!(
        app.get("/v1/care/due", Some(&stranger))
            .await
            .expect(200)
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.get("/v1/care/due", Some(&caller_key))
        .await
        .expect_problem(403);
    app.stop().await;
}
