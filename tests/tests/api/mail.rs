//! Mail over a real SMTP server on loopback, with time driven by the test.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use huashen_tests::smtp::{Behavior, Received, SmtpServer};
use huashen_tests::{Backend, TestApp, both_backends, id};
use huashen_worker::Outcome;
use huashen_worker::format::{date_time, zone};
use mail_parser::MimeHeaders;
use serde_json::{Value, json};

both_backends!(
    welcome_in_each_readers_language,
    shift_reminders_on_time,
    birthdays_across_zones_and_leap_years,
    waitlist_and_cancellation_notices,
    organizer_digest,
    temporary_failure_then_success,
    permanent_failure_is_not_retried,
    stalled_server_times_out_and_retries,
    connection_dropped_mid_data_is_retried,
    a_kept_connection_the_server_closed_is_replaced,
    commands_go_together_where_the_server_allows,
    a_refused_recipient_fails_that_mail_alone,
    tls_required_but_refused,
    two_workers_send_each_mail_once,
    feedback_by_token,
    reminder_for_a_shift_just_after_a_dst_jump,
    event_reminders_and_farewells,
    everything_due_goes_out_without_waiting_for_a_plan,
    a_row_falling_due_between_plans_is_sent_on_time,
    a_row_whose_hold_ran_out_is_sent_by_one_sender,
    mails_sent_beside_a_slow_one_are_marked_while_it_is_on_the_wire,
    freshly_planned_mail_is_claimed_by_id,
);

fn to(mail: &Received) -> &str {
    mail.to.first().map(String::as_str).unwrap_or_default()
}

pub(crate) fn mail_to<'a>(mails: &'a [Received], address: &str) -> &'a Received {
    mails
        .iter()
        .find(|m| to(m) == address)
        .unwrap_or_else(|| panic!("no mail to {address}"))
}

pub(crate) fn email(person: &Value) -> String {
    person["email"].as_str().unwrap().to_owned()
}

pub(crate) fn sent(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| **o == Outcome::Sent).count()
}

pub(crate) async fn sign_up(app: &TestApp, shift: &str, person: &str) {
    app.post(
        &format!("/v1/shifts/{shift}/signups"),
        Some(&app.admin_key),
        json!({"person_id": person}),
    )
    .await
    .expect(201);
}

pub(crate) async fn ledger(app: &TestApp, kind: &str) -> Vec<entities::notification::Model> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entities::notification::Entity::find()
        .filter(entities::notification::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .unwrap()
}

/// The day `n` days before today in Shanghai (the test community's time zone), as
/// `YYYY-MM-DD`: a moving-in day whose 09:00 has passed.
pub(crate) fn days_ago(n: i64) -> String {
    (Utc::now()
        .with_timezone(&zone("Asia/Shanghai"))
        .date_naive()
        - Duration::days(n))
    .format("%Y-%m-%d")
    .to_string()
}

async fn welcome_in_each_readers_language(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    app.station(&community).await;
    let emily = app
        .person(
            &community,
            "Emily Carter",
            json!({"locale": "en", "moved_in_on": days_ago(1), "nationality": "US"}),
        )
        .await;
    let kim = app
        .person(
            &community,
            "Kim Minjun",
            json!({"locale": "ko", "moved_in_on": days_ago(2), "nationality": "KR"}),
        )
        .await;
    let marco = app
        .person(
            &community,
            "Marco Rossi",
            json!({"locale": "it", "moved_in_on": days_ago(3), "nationality": "IT"}),
        )
        .await;
    app.person(&community, "Li Ming", json!({})).await;
    // Moved in years ago, added today (as an import would): no welcome.
    app.person(&community, "Wang Lei", json!({"moved_in_on": "2021-03-15"}))
        .await;
    let worker = app.worker(&smtp);

    let report = worker.tick(Utc::now()).await.unwrap();
    assert_eq!(
        (report.planned, sent(&report.outcomes)),
        (3, 3),
        "{report:?}"
    );
    let mails = smtp.received();
    assert_eq!(mails.len(), 3);

    let english = mail_to(&mails, &email(&emily));
    assert_eq!(english.subject(), "Welcome to Huashenmiao");
    assert!(
        english.text().contains("Dear Emily Carter"),
        "{}",
        english.text()
    );
    assert!(
        english.text().contains("English Corner"),
        "stations in the reader's language"
    );
    let moved_in = chrono::NaiveDate::parse_from_str(&days_ago(1), "%Y-%m-%d").unwrap();
    let moved_in = huashen_worker::format::date(moved_in, "en");
    assert!(english.text().contains(&moved_in), "{}", english.text());
    assert!(
        english.html().contains("<li>English Corner</li>"),
        "{}",
        english.html()
    );
    let parsed = english.parsed();
    assert_eq!(
        parsed
            .content_type()
            .map(|c| (c.ctype().to_owned(), c.subtype().map(str::to_owned))),
        Some(("multipart".to_owned(), Some("alternative".to_owned())))
    );
    let id = parsed.message_id().expect("a Message-ID");
    assert!(id.ends_with("@huashenmiao.example.cn"), "{id}");
    assert!(english.from.contains("office@huashenmiao.example.cn"));

    let korean = mail_to(&mails, &email(&kim));
    assert!(
        korean
            .text()
            .chars()
            .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)),
        "Korean text: {}",
        korean.text()
    );
    assert!(
        korean.text().contains("花神庙社区"),
        "no Korean community name: the community's default"
    );

    let fallback = mail_to(&mails, &email(&marco));
    assert_eq!(
        fallback.subject(),
        "欢迎入住花神庙社区",
        "no Italian templates: the community's zh-CN"
    );
    assert!(fallback.text().contains("英语角"));

    let again = worker.tick(Utc::now()).await.unwrap();
    assert_eq!(
        (again.planned, again.outcomes.len()),
        (0, 0),
        "each welcome once"
    );
    assert_eq!(smtp.received().len(), 3);
    let rows = ledger(&app, "welcome").await;
    assert!(
        rows.iter()
            .all(|r| r.status == entities::enums::NotificationStatus::Sent && r.sent_at.is_some())
    );
    app.stop().await;
}

async fn shift_reminders_on_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let now = Utc::now();
    let shift = app.shift(&station, 30, 5).await;
    let keen = app
        .person(
            &community,
            "Emily Carter",
            json!({"is_volunteer": true, "locale": "en"}),
        )
        .await;
    let quiet = app
        .person(
            &community,
            "Kim Minjun",
            json!({"is_volunteer": true, "notifications": {"reminders": false}}),
        )
        .await;
    let gone = app
        .person(&community, "Li Ming", json!({"is_volunteer": true}))
        .await;
    for person in [&keen, &quiet, &gone] {
        sign_up(&app, &id(&shift), &id(person)).await;
    }
    app.delete(
        &format!("/v1/shifts/{}/signups/{}", id(&shift), id(&gone)),
        Some(&app.admin_key),
    )
    .await
    .expect(200);
    let worker = app.worker(&smtp);

    let early = worker.tick(now + Duration::hours(5)).await.unwrap();
    assert_eq!(
        early.planned, 0,
        "25 hours ahead is before the 24-hour lead"
    );
    let due = worker.tick(now + Duration::hours(7)).await.unwrap();
    assert_eq!(
        due.planned, 2,
        "the keen one and the opted-out one; not the cancelled one"
    );
    assert_eq!(sent(&due.outcomes), 1);
    assert!(
        due.outcomes
            .contains(&Outcome::Skipped("the recipient opted out".to_owned()))
    );
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let reminder = mail_to(&mails, &email(&keen));
    let starts_at = DateTime::parse_from_rfc3339(shift["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let local = date_time(starts_at, zone("Asia/Shanghai"), "en");
    assert!(
        reminder.subject().contains(&local),
        "local start time in the subject: {}",
        reminder.subject()
    );
    assert!(reminder.text().contains("English Corner"));

    // Signing up inside the lead: the reminder goes out at once.
    let soon = app.shift(&station, 3, 5).await;
    let late = app
        .person(
            &community,
            "Anna Mueller",
            json!({"is_volunteer": true, "locale": "de"}),
        )
        .await;
    sign_up(&app, &id(&soon), &id(&late)).await;
    let at_once = worker.tick(Utc::now()).await.unwrap();
    assert_eq!(sent(&at_once.outcomes), 1);
    assert!(
        mail_to(&smtp.received(), &email(&late))
            .text()
            .contains("Guten Tag")
    );

    // Planned but not sent before the shift began: missed, never sent late.
    let imminent = app.shift(&station, 2, 5).await;
    let slow = app
        .person(&community, "Chen Jing", json!({"is_volunteer": true}))
        .await;
    sign_up(&app, &id(&imminent), &id(&slow)).await;
    huashen_worker::planner::plan(&app.db, worker.plan_settings(), Utc::now())
        .await
        .unwrap();
    let after_start = worker.tick(Utc::now() + Duration::hours(3)).await.unwrap();
    assert_eq!(
        after_start.outcomes,
        [Outcome::Missed("the shift has begun".to_owned())]
    );

    // A cancelled shift sends no reminder, but a cancellation notice.
    let doomed = app.shift(&station, 4, 5).await;
    let hopeful = app
        .person(
            &community,
            "Tanaka Yuki",
            json!({"is_volunteer": true, "locale": "ja"}),
        )
        .await;
    sign_up(&app, &id(&doomed), &id(&hopeful)).await;
    huashen_worker::planner::plan(&app.db, worker.plan_settings(), Utc::now())
        .await
        .unwrap();
    app.post(
        &format!("/v1/shifts/{}/cancel", id(&doomed)),
        Some(&app.admin_key),
        json!({}),
    )
    .await
    .expect(200);
    let cancelled = worker.tick(Utc::now()).await.unwrap();
    assert!(
        cancelled.outcomes.contains(&Outcome::Skipped(
            "the sign-up or the shift was cancelled".to_owned()
        )),
        "{cancelled:?}"
    );
    let to_hopeful: Vec<_> = smtp
        .received()
        .into_iter()
        .filter(|m| to(m) == email(&hopeful))
        .collect();
    assert_eq!(to_hopeful.len(), 1);
    assert!(
        to_hopeful[0].subject().contains("キャンセル") || to_hopeful[0].subject().contains("中止"),
        "{}",
        to_hopeful[0].subject()
    );
    app.stop().await;
}

async fn birthdays_across_zones_and_leap_years(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let shanghai = app
        .person(&community, "Wang Fang", json!({"birthday": "1990-03-14"}))
        .await;
    let new_york = app
        .person(
            &community,
            "Emily Carter",
            json!({"birthday": "1985-03-14", "time_zone": "America/New_York", "locale": "en"}),
        )
        .await;
    let leapling = app
        .person(&community, "Chen Jing", json!({"birthday": "1992-02-29"}))
        .await;
    app.person(
        &community,
        "Li Ming",
        json!({"birthday": "1975-03-14", "notifications": {"birthday_card": false}}),
    )
    .await;
    let worker = app.worker(&smtp);
    let at = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
    let recipients = |smtp: &SmtpServer| {
        smtp.received()
            .iter()
            .map(|m| to(m).to_owned())
            .collect::<Vec<_>>()
    };

    // 14 March 2027: New York moves its clocks forward that morning.
    worker.tick(at(2027, 3, 14, 0, 59)).await.unwrap();
    assert!(smtp.received().is_empty(), "08:59 in Shanghai is too early");
    let shanghai_nine = worker.tick(at(2027, 3, 14, 1, 0)).await.unwrap();
    assert_eq!(sent(&shanghai_nine.outcomes), 1);
    assert!(
        shanghai_nine
            .outcomes
            .contains(&Outcome::Skipped("the recipient opted out".to_owned()))
    );
    assert_eq!(recipients(&smtp), [email(&shanghai)]);
    worker.tick(at(2027, 3, 14, 12, 59)).await.unwrap();
    assert_eq!(
        smtp.received().len(),
        1,
        "08:59 EDT in New York is too early"
    );
    worker.tick(at(2027, 3, 14, 13, 0)).await.unwrap();
    assert_eq!(recipients(&smtp), [email(&shanghai), email(&new_york)]);
    assert_eq!(
        mail_to(&smtp.received(), &email(&new_york)).subject(),
        "Happy birthday, Emily Carter!"
    );
    assert!(
        mail_to(&smtp.received(), &email(&shanghai))
            .subject()
            .contains("生日快乐")
    );

    // 29 February: the 28th in common years, the 29th in leap years.
    worker.tick(at(2027, 2, 28, 1, 0)).await.unwrap();
    assert_eq!(smtp.received().len(), 3);
    assert_eq!(to(&smtp.received()[2]), email(&leapling));
    worker.tick(at(2028, 2, 28, 1, 0)).await.unwrap();
    assert_eq!(smtp.received().len(), 3, "not on the 28th in a leap year");
    worker.tick(at(2028, 2, 29, 1, 0)).await.unwrap();
    assert_eq!(smtp.received().len(), 4);

    // 14:00 UTC: 22:00 in Shanghai is past the card's grace, 10:00 in New York is not.
    let late = worker.tick(at(2029, 3, 14, 14, 0)).await.unwrap();
    assert!(
        late.outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Missed(_))),
        "{late:?}"
    );
    assert_eq!(smtp.received().len(), 5);
    assert_eq!(to(&smtp.received()[4]), email(&new_york));
    app.stop().await;
}

async fn waitlist_and_cancellation_notices(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let shift = id(&app.shift(&station, 72, 1).await);
    let first = app
        .person(&community, "Wang Fang", json!({"is_volunteer": true}))
        .await;
    let second = app
        .person(
            &community,
            "Emily Carter",
            json!({"is_volunteer": true, "locale": "en"}),
        )
        .await;
    sign_up(&app, &shift, &id(&first)).await;
    sign_up(&app, &shift, &id(&second)).await;
    app.delete(
        &format!("/v1/shifts/{shift}/signups/{}", id(&first)),
        Some(&app.admin_key),
    )
    .await
    .expect(200);
    let worker = app.worker(&smtp);
    worker.tick(Utc::now()).await.unwrap();
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(
        mail_to(&mails, &email(&second))
            .subject()
            .starts_with("A place opened up: English Corner")
    );

    let event = id(&app.event(&community, 96).await);
    app.post(
        &format!("/v1/events/{event}/publish"),
        Some(&app.admin_key),
        json!({}),
    )
    .await
    .expect(200);
    for person in [&first, &second] {
        app.post(
            &format!("/v1/events/{event}/registrations"),
            Some(&app.admin_key),
            json!({"person_id": id(person)}),
        )
        .await
        .expect(201);
    }
    app.post(
        &format!("/v1/events/{event}/cancel"),
        Some(&app.admin_key),
        json!({}),
    )
    .await
    .expect(200);
    let report = worker.tick(Utc::now()).await.unwrap();
    assert_eq!(sent(&report.outcomes), 2, "{report:?}");
    let mails = smtp.received();
    assert!(
        mail_to(&mails[1..], &email(&second))
            .subject()
            .starts_with("Cancelled: Winter Solstice Dumplings")
    );
    assert!(
        mail_to(&mails[1..], &email(&first))
            .subject()
            .contains("冬至包饺子")
    );
    app.stop().await;
}

async fn organizer_digest(backend: Backend) {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let organizer = app
        .person(
            &community,
            "Zhang Wei",
            json!({"is_organizer": true, "locale": "en"}),
        )
        .await;
    // The next 08:00 in Shanghai at least an hour away; the new sign-up below is dated
    // an hour before it, so it falls in the digest's last 24 hours at any time of day.
    let shanghai = zone("Asia/Shanghai");
    let soon = Utc::now() + Duration::hours(1);
    let mut day = soon.with_timezone(&shanghai).date_naive();
    let mut eight = huashen_worker::planner::local_instant(day, 8, shanghai);
    if eight <= soon {
        day += Duration::days(1);
        eight = huashen_worker::planner::local_instant(day, 8, shanghai);
    }
    let hours_ahead = (eight - Utc::now()).num_hours() + 5;
    let starts = Utc::now() + Duration::hours(hours_ahead);
    let thin = app
        .post(
            "/v1/shifts",
            Some(&app.admin_key),
            json!({"station_id": station, "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::hours(2)).to_rfc3339(), "capacity": 4, "min_volunteers": 2}),
        )
        .await
        .expect(201);
    let sql = |statement: &str| match app.backend {
        Backend::Sqlite => statement
            .replace("$1", "?")
            .replace("$2", "?")
            .replace("$3", "?"),
        Backend::Postgres => statement.to_owned(),
    };
    let newcomer = app
        .person(&community, "Anna Mueller", json!({"is_volunteer": true}))
        .await;
    sign_up(&app, &thin.id(), &id(&newcomer)).await;
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql("UPDATE shift_signups SET created_at = $1 WHERE person_id = $2"),
            [
                (eight - Duration::hours(1)).into(),
                uuid::Uuid::parse_str(&id(&newcomer)).unwrap().into(),
            ],
        ))
        .await
        .unwrap();
    // Yesterday, as the digest sees it, Li Ming did not show up.
    let missed = id(&app.shift(&station, 200, 2).await);
    let absent = app
        .person(&community, "Li Ming", json!({"is_volunteer": true}))
        .await;
    sign_up(&app, &missed, &id(&absent)).await;
    let noon = huashen_worker::planner::local_instant(day - Duration::days(1), 12, shanghai);
    let missed_id = uuid::Uuid::parse_str(&missed).unwrap();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql("UPDATE shifts SET starts_at = $1, ends_at = $2 WHERE id = $3"),
            [
                noon.into(),
                (noon + Duration::hours(2)).into(),
                missed_id.into(),
            ],
        ))
        .await
        .unwrap();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql("UPDATE shift_signups SET status = 'no_show' WHERE shift_id = $1"),
            [missed_id.into()],
        ))
        .await
        .unwrap();

    // A volunteer who applied and awaits approval.
    let applicant = app
        .person(&community, "Olga Petrova", json!({"is_volunteer": true}))
        .await;
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql("UPDATE people SET status = 'pending' WHERE id = $1"),
            [uuid::Uuid::parse_str(&id(&applicant)).unwrap().into()],
        ))
        .await
        .unwrap();

    let worker = app.worker(&smtp);
    worker.tick(eight - Duration::minutes(1)).await.unwrap();
    assert!(
        smtp.received().iter().all(|m| to(m) != email(&organizer)),
        "not before 08:00"
    );
    worker.tick(eight + Duration::minutes(10)).await.unwrap();
    let digest = mail_to(&smtp.received(), &email(&organizer)).clone();
    assert!(
        digest.subject().starts_with("Huashenmiao: daily digest"),
        "{}",
        digest.subject()
    );
    let text = digest.text();
    let at = date_time(starts, shanghai, "en");
    assert!(
        text.contains(&format!("English Corner, {at}: 1 of 2 confirmed")),
        "understaffed: {text}"
    );
    assert!(
        text.contains("Li Ming (English Corner)"),
        "no-shows: {text}"
    );
    assert!(
        text.contains(&format!("Anna Mueller: English Corner, {at}")),
        "new sign-ups: {text}"
    );
    assert!(
        text.contains("Olga Petrova (applied "),
        "awaiting approval: {text}"
    );
    let before = smtp.received().len();
    worker.tick(eight + Duration::minutes(20)).await.unwrap();
    assert_eq!(smtp.received().len(), before, "one digest a day");
    app.stop().await;
}

/// A person due a welcome letter, and the worker about to send it.
async fn one_welcome(app: &TestApp) -> Value {
    let community = id(&app.community("hsm").await);
    app.person(
        &community,
        "Emily Carter",
        json!({"locale": "en", "moved_in_on": days_ago(1)}),
    )
    .await
}

/// A running app whose ledger holds one welcome letter, planned at the time returned.
async fn one_welcome_planned(backend: Backend) -> (TestApp, DateTime<Utc>) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let now = Utc::now();
    let settings = app.worker(&smtp).plan_settings();
    huashen_worker::planner::plan(&app.db, settings, now)
        .await
        .unwrap();
    (app, now)
}

/// A claimed row that waited for a free sender until its hold ran out is taken again
/// only if no other sender took it meanwhile.
async fn a_row_whose_hold_ran_out_is_sent_by_one_sender(backend: Backend) {
    use huashen_worker::sender::{claim, due_ids, retake};
    let (app, now) = one_welcome_planned(backend).await;
    let lease = Duration::seconds(30);
    let ids = due_ids(&app.db, now, 8).await.unwrap();
    assert_eq!(ids.len(), 1);
    let first = claim(&app.db, ids.clone(), now, lease).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        claim(&app.db, ids.clone(), now + Duration::seconds(29), lease)
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    let later = now + Duration::seconds(31);
    let second = claim(&app.db, ids, later, lease).await.unwrap();
    assert_eq!(second.len(), 1, "free again once the hold ran out");
    assert!(!retake(&app.db, &first[0], later, lease).await.unwrap());
    assert!(retake(&app.db, &second[0], later, lease).await.unwrap());
    app.stop().await;
}

/// While a slow server keeps one mail on the wire, the mails sent beside it are marked
/// within a tenth of their hold, not once the slow one is answered: otherwise their hold
/// could run out unmarked and another worker send them again.
async fn mails_sent_beside_a_slow_one_are_marked_while_it_is_on_the_wire(backend: Backend) {
    use entities::enums::NotificationStatus;
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    for name in ["Emily Carter", "Li Ming", "Anna Mueller"] {
        app.person(&community, name, json!({"moved_in_on": days_ago(1)}))
            .await;
    }
    let mut worker = app.worker(&smtp);
    // The slow answer takes longer than the hold, well within the SMTP timeout.
    worker.mailer = huashen_worker::mailer::Mailer::new(
        Some(&smtp.url()),
        std::env::temp_dir(),
        StdDuration::from_secs(10),
        huashen_worker::DEFAULT_MAIL_CONCURRENCY as u32,
    )
    .unwrap();
    std::sync::Arc::make_mut(&mut worker.settings).lease = Duration::seconds(1);
    let slow = StdDuration::from_secs(3);
    smtp.set(Behavior::SlowOnce(slow));
    let started = std::time::Instant::now();
    let sending = tokio::spawn({
        let worker = worker.clone();
        async move { worker.tick(Utc::now()).await }
    });
    loop {
        // Read after the ledger: still on the wire then, it was on the wire when the two
        // were found marked.
        let marked = ledger(&app, "welcome")
            .await
            .iter()
            .filter(|row| row.status == NotificationStatus::Sent)
            .count();
        let on_the_wire = smtp.received().len() < 3;
        if marked == 2 {
            assert!(on_the_wire, "marked only once the slow mail was answered");
            break;
        }
        assert!(
            started.elapsed() < slow,
            "{marked} of the two fast mails marked while the slow one was on the wire"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let report = sending.await.unwrap().unwrap();
    assert_eq!(sent(&report.outcomes), 3, "{report:?}");
    assert_eq!(smtp.received().len(), 3);
    app.stop().await;
}

/// The database's plan for claiming a handful of rows, after a plan that queued
/// 5,000 welcome letters into a ledger whose statistics were taken when it was empty
/// (as autovacuum or `PRAGMA optimize` may leave them): a lookup by id, not a walk
/// through every queued row for each claim.
async fn freshly_planned_mail_is_claimed_by_id(backend: Backend) {
    use sea_orm::{ConnectionTrait, QueryTrait, Statement};
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = app.worker(&smtp);
    let community = uuid::Uuid::parse_str(&id(&app.community("hsm").await)).unwrap();
    app.db
        .execute_unprepared("ANALYZE notifications")
        .await
        .unwrap();
    let yesterday = (Utc::now() - Duration::days(1)).date_naive();
    huashen_tests::insert_residents(&app.db, community, 0..5_000, |_, person| {
        person.moved_in_on = Some(yesterday);
    })
    .await
    .unwrap();
    let now = Utc::now();
    let planned = huashen_worker::planner::plan(&app.db, worker.plan_settings(), now)
        .await
        .unwrap();
    assert_eq!(planned, 5_000);
    let ids = huashen_worker::sender::due_ids(&app.db, now, 8)
        .await
        .unwrap();
    let claim = huashen_worker::sender::claiming(ids, now, Duration::seconds(30))
        .build(app.db.get_database_backend());
    let (explain, column, by_id) = match backend {
        Backend::Sqlite => ("EXPLAIN QUERY PLAN", "detail", "(id=?)"),
        Backend::Postgres => ("EXPLAIN", "QUERY PLAN", "notifications_pkey"),
    };
    let plan: Vec<String> = app
        .db
        .query_all_raw(Statement {
            sql: format!("{explain} {}", claim.sql),
            ..claim
        })
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", column).unwrap())
        .collect();
    assert!(
        plan.iter().any(|line| line.contains(by_id)),
        "{}",
        plan.join("\n")
    );
    app.stop().await;
}

/// On SQLite the ledger's writers wait for the process's turn to write, as the API's
/// write transactions do, rather than polling SQLite's lock (`huashen_worker::ledger_db`):
/// while another writer holds the turn, neither a planning run nor a claim gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_writes_on_sqlite_wait_for_the_write_turn() {
    use huashen_worker::sender::{claim, due_ids};
    use migration::database::write_turn;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let now = Utc::now();
    let settings = app.worker(&smtp).plan_settings();
    let held = std::time::Duration::from_millis(300);

    let turn = write_turn(&app.db)
        .await
        .expect("SQLite has a turn to write");
    let db = app.db.clone();
    let planning =
        tokio::spawn(async move { huashen_worker::planner::plan(&db, settings, now).await });
    tokio::time::sleep(held).await;
    assert!(!planning.is_finished(), "the planner wrote out of turn");
    drop(turn);
    planning.await.unwrap().unwrap();

    let ids = due_ids(&app.db, now, 8).await.unwrap();
    assert_eq!(ids.len(), 1);
    let turn = write_turn(&app.db)
        .await
        .expect("SQLite has a turn to write");
    let db = app.db.clone();
    let claiming = tokio::spawn(async move { claim(&db, ids, now, Duration::seconds(30)).await });
    tokio::time::sleep(held).await;
    assert!(!claiming.is_finished(), "the claim was made out of turn");
    drop(turn);
    assert_eq!(claiming.await.unwrap().unwrap().len(), 1);
    app.stop().await;
}

/// PostgreSQL keeps no plan of the ledger's statements on a connection, so a claim made
/// after the ledger grew is planned against the ledger as it is now, not as it was when
/// the connection first claimed (`huashen_worker::ledger_db`). The same statement sent
/// as usual is kept, which is what the check would see if they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_statements_are_not_kept_by_postgres() {
    use huashen_worker::sender::{claim, claiming, due_ids};
    use sea_orm::{ConnectionTrait, Statement};
    let (app, now) = one_welcome_planned(Backend::Postgres).await;
    // One connection, so that what it keeps is what the check reads.
    let one = migration::database::connect_for_migrations(app.database_url())
        .await
        .unwrap();
    let lease = Duration::seconds(30);
    let kept = async || -> i64 {
        let sql = "SELECT count(*) FROM pg_prepared_statements \
                   WHERE statement LIKE 'UPDATE \"notifications\"%'";
        let row = one
            .query_one_raw(Statement::from_string(one.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    for _ in 0..6 {
        let ids = due_ids(&one, now, 8).await.unwrap();
        claim(&one, ids, now, lease).await.unwrap();
    }
    assert_eq!(kept().await, 0);
    let ids = due_ids(&one, now, 8).await.unwrap();
    claiming(ids, now, lease).exec(&one).await.unwrap();
    assert_eq!(kept().await, 1, "sent as usual, the statement is kept");
    one.close().await.unwrap();
    app.stop().await;
}

async fn temporary_failure_then_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let worker = app.worker(&smtp);
    smtp.set(Behavior::RejectTemporarily(1));
    let now = Utc::now();
    let first = worker.tick(now).await.unwrap();
    assert!(
        matches!(&first.outcomes[..], [Outcome::Retrying(reason)] if reason.contains("451")),
        "{first:?}"
    );
    assert!(smtp.received().is_empty());
    let row = &ledger(&app, "welcome").await[0];
    assert_eq!(
        (row.status, row.attempts),
        (entities::enums::NotificationStatus::Queued, 1)
    );
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("451")
    );
    let too_soon = worker.tick(now + Duration::seconds(30)).await.unwrap();
    assert!(
        too_soon.outcomes.is_empty(),
        "backs off before trying again"
    );
    let second = worker.tick(now + Duration::minutes(2)).await.unwrap();
    assert_eq!(second.outcomes, [Outcome::Sent]);
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.attempts(), 2);
    app.stop().await;
}

async fn permanent_failure_is_not_retried(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let worker = app.worker(&smtp);
    smtp.set(Behavior::RejectPermanently);
    let now = Utc::now();
    let report = worker.tick(now).await.unwrap();
    assert!(
        matches!(&report.outcomes[..], [Outcome::Failed(reason)] if reason.contains("550")),
        "{report:?}"
    );
    for minutes in [2, 10, 60, 300] {
        worker.tick(now + Duration::minutes(minutes)).await.unwrap();
    }
    assert_eq!(smtp.attempts(), 1, "no retry storm");
    let row = &ledger(&app, "welcome").await[0];
    assert_eq!(row.status, entities::enums::NotificationStatus::Failed);
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("550")
    );
    app.stop().await;
}

/// The server hangs up halfway through the message: nothing was accepted, so the mail
/// stays queued, backs off, and goes out once on the next try.
async fn connection_dropped_mid_data_is_retried(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let worker = app.worker(&smtp);
    smtp.set(Behavior::DropMidData);
    let now = Utc::now();
    let report = worker.tick(now).await.unwrap();
    assert!(
        matches!(&report.outcomes[..], [Outcome::Retrying(_)]),
        "{report:?}"
    );
    let row = &ledger(&app, "welcome").await[0];
    assert_eq!(
        (row.status, row.attempts),
        (entities::enums::NotificationStatus::Queued, 1)
    );
    let later = worker.tick(now + Duration::minutes(2)).await.unwrap();
    assert_eq!(later.outcomes, [Outcome::Sent]);
    assert_eq!((smtp.received().len(), smtp.attempts()), (1, 2));
    app.stop().await;
}

/// A server that closes each connection after one message: the next mail finds the
/// connection kept for it closed and goes out at once on a new one, not a retry later.
async fn a_kept_connection_the_server_closed_is_replaced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    smtp.set(Behavior::OneMessagePerConnection);
    let community = id(&app.community("hsm").await);
    let worker = app.worker(&smtp);
    for (n, name) in ["Emily Carter", "Li Ming"].into_iter().enumerate() {
        app.person(&community, name, json!({"moved_in_on": days_ago(1)}))
            .await;
        let report = worker.tick(Utc::now()).await.unwrap();
        assert_eq!(report.outcomes, [Outcome::Sent], "mail {n}");
    }
    assert_eq!((smtp.received().len(), smtp.attempts()), (2, 2));
    for row in ledger(&app, "welcome").await {
        assert_eq!(
            (row.status, row.attempts),
            (entities::enums::NotificationStatus::Sent, 1)
        );
    }
    app.stop().await;
}

/// A server that offers PIPELINING gets each mail's `MAIL`, `RCPT` and `DATA` in one
/// write; one that does not gets one command at a time, and the mail all the same.
async fn commands_go_together_where_the_server_allows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    for (offered, name) in [(true, "Emily Carter"), (false, "Li Ming")] {
        let smtp = SmtpServer::start().await;
        smtp.offer_pipelining(offered);
        let worker = app.worker(&smtp);
        let person = app
            .person(&community, name, json!({"moved_in_on": days_ago(1)}))
            .await;
        let report = worker.tick(Utc::now()).await.unwrap();
        assert_eq!(report.outcomes, [Outcome::Sent], "{name}");
        assert_eq!(
            to(&smtp.wait_for(1, StdDuration::from_secs(5)).await[0]),
            email(&person)
        );
        assert_eq!(smtp.pipelined(), u32::from(offered), "{name}");
    }
    app.stop().await;
}

/// A server that refuses the recipient, answering the pipelined `DATA` with a refusal
/// too: the mail fails for good with the recipient's refusal, and the next mail goes
/// out.
async fn a_refused_recipient_fails_that_mail_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let worker = app.worker(&smtp);
    smtp.set(Behavior::RefuseRecipients);
    app.person(
        &community,
        "Emily Carter",
        json!({"moved_in_on": days_ago(1)}),
    )
    .await;
    let report = worker.tick(Utc::now()).await.unwrap();
    assert!(
        matches!(&report.outcomes[..], [Outcome::Failed(reason)] if reason.contains("550") && !reason.contains("554")),
        "{report:?}"
    );
    smtp.set(Behavior::Accept);
    let next = app
        .person(&community, "Li Ming", json!({"moved_in_on": days_ago(1)}))
        .await;
    let report = worker.tick(Utc::now()).await.unwrap();
    assert_eq!(report.outcomes, [Outcome::Sent]);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(to(&received[0]), email(&next));
    assert_eq!(smtp.pipelined(), 2);
    app.stop().await;
}

/// `?tls=required` against a server that offers no STARTTLS: nothing is sent in the
/// clear; the mail is retried like any temporary failure (the operator may fix the
/// server) and marked failed after the last attempt, with the reason.
async fn tls_required_but_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let worker = app.worker_to(format!("{}?tls=required", smtp.url()));
    let mut now = Utc::now();
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        outcomes.extend(worker.tick(now).await.unwrap().outcomes);
        now += Duration::hours(2);
    }
    assert!(
        matches!(&outcomes[..], [Outcome::Retrying(_), Outcome::Retrying(_), Outcome::Retrying(_), Outcome::Retrying(_), Outcome::Failed(reason)] if reason.contains("attempts")),
        "{outcomes:?}"
    );
    assert_eq!(smtp.attempts(), 0, "no message went out in the clear");
    let row = &ledger(&app, "welcome").await[0];
    assert_eq!(row.status, entities::enums::NotificationStatus::Failed);
    app.stop().await;
}

async fn stalled_server_times_out_and_retries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    one_welcome(&app).await;
    let worker = app.worker(&smtp);
    smtp.set(Behavior::Stall);
    let now = Utc::now();
    let started = std::time::Instant::now();
    let report = worker.tick(now).await.unwrap();
    assert!(
        started.elapsed() < StdDuration::from_secs(10),
        "bounded by the timeouts: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&report.outcomes[..], [Outcome::Retrying(_)]),
        "{report:?}"
    );
    smtp.set(Behavior::Accept);
    let later = worker.tick(now + Duration::minutes(2)).await.unwrap();
    assert_eq!(later.outcomes, [Outcome::Sent]);
    assert_eq!(smtp.received().len(), 1);
    app.stop().await;
}

async fn two_workers_send_each_mail_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    for n in 0..20 {
        app.person(
            &community,
            &format!("Resident {n}"),
            json!({"moved_in_on": days_ago(1)}),
        )
        .await;
    }
    let (one, two) = (app.worker(&smtp), app.worker(&smtp));
    let now = Utc::now();
    let (a, b) = tokio::join!(one.tick(now), two.tick(now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(sent(&a.outcomes) + sent(&b.outcomes), 20, "{a:?} {b:?}");
    let mut recipients: Vec<_> = smtp.received().iter().map(|m| to(m).to_owned()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!((smtp.received().len(), recipients.len()), (20, 20));
    app.stop().await;
}

/// The one-time link in a feedback request.
fn feedback_token(mail: &Received) -> String {
    let text = mail.text();
    let start = text.find("/v1/feedback/").expect("a feedback link") + "/v1/feedback/".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

async fn feedback_by_token(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        huashen_api::state::Settings {
            webhook_allowed_hosts: vec!["127.0.0.1".to_owned()],
            ..huashen_api::state::Settings::default()
        },
    )
    .await;
    let smtp = SmtpServer::start().await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let hook = app
        .post("/v1/webhooks", admin, json!({"community_id": community, "url": "http://127.0.0.1:9/hook", "event_types": ["feedback.submitted"]}))
        .await
        .expect(201)
        .id();
    let kim = app
        .person(
            &community,
            "Kim Minjun",
            json!({"locale": "ko", "nationality": "KR"}),
        )
        .await;
    let emily = app
        .person(
            &community,
            "Emily Carter",
            json!({"locale": "en", "nationality": "US"}),
        )
        .await;
    let absent = app.person(&community, "Wang Fang", json!({})).await;
    let event = id(&app.event(&community, 24).await);
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200);
    for person in [&kim, &emily, &absent] {
        app.post(
            &format!("/v1/events/{event}/registrations"),
            admin,
            json!({"person_id": id(person)}),
        )
        .await
        .expect(201);
    }
    for person in [&kim, &emily] {
        app.post(
            &format!("/v1/events/{event}/check-ins"),
            admin,
            json!({"person_id": id(person)}),
        )
        .await
        .expect(200);
    }
    // It took place this morning and ended three hours ago.
    let ended = Utc::now() - Duration::hours(3);
    app.patch(
        &format!("/v1/events/{event}"),
        admin,
        json!({"starts_at": (ended - Duration::hours(2)).to_rfc3339(), "ends_at": ended.to_rfc3339(), "registration_closes_at": null}),
        None,
    )
    .await
    .expect(200);
    let worker = app.worker(&smtp);
    let report = worker.tick(Utc::now()).await.unwrap();
    assert_eq!(
        sent(&report.outcomes),
        2,
        "only those who checked in: {report:?}"
    );
    let mails = smtp.received();
    let to_emily = mail_to(&mails, &email(&emily));
    assert_eq!(to_emily.subject(), "How was Winter Solstice Dumplings?");
    assert!(
        to_emily
            .text()
            .contains("https://portal.example.cn/v1/feedback/")
    );
    let (emily_token, kim_token) = (
        feedback_token(to_emily),
        feedback_token(mail_to(&mails, &email(&kim))),
    );

    let invitation = app
        .get(&format!("/v1/feedback/{emily_token}"), None)
        .await
        .expect(200);
    assert_eq!(invitation.body["title"], "Winter Solstice Dumplings");
    assert_eq!(invitation.body["submitted"], false);
    let korean = app
        .get(&format!("/v1/feedback/{kim_token}"), None)
        .await
        .expect(200);
    assert_eq!(
        (korean.body["locale"].clone(), korean.body["title"].clone()),
        (json!("ko"), json!("冬至包饺子"))
    );

    app.post(
        &format!("/v1/feedback/{emily_token}"),
        None,
        json!({"rating": 6}),
    )
    .await
    .expect_problem(400);
    let given = app
        .post(
            &format!("/v1/feedback/{emily_token}"),
            None,
            json!({"rating": 5, "comment": "Lovely evening!"}),
        )
        .await
        .expect(200);
    assert_eq!(given.body["rating"], 5);
    app.post(
        &format!("/v1/feedback/{emily_token}"),
        None,
        json!({"rating": 1}),
    )
    .await
    .expect_problem(409);
    app.post(
        &format!("/v1/feedback/{kim_token}"),
        None,
        json!({"rating": 3}),
    )
    .await
    .expect(200);
    app.get("/v1/feedback/0123456789abcdef", None)
        .await
        .expect_problem(404);
    let (log, _) = app
        .all_pages(&format!("/v1/webhooks/{hook}/deliveries"), admin, 50)
        .await;
    assert_eq!(
        log.iter()
            .map(|d| d["event_type"].clone())
            .collect::<Vec<_>>(),
        [json!("feedback.submitted"), json!("feedback.submitted")],
        "one per answer, none for the refused ones"
    );

    let summary = app
        .get(&format!("/v1/events/{event}/feedback"), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            summary["requested"].clone(),
            summary["count"].clone(),
            summary["average"].clone()
        ),
        (json!(2), json!(2), json!(4.0))
    );
    assert_eq!(
        summary["distribution"],
        json!({"1": 0, "2": 0, "3": 1, "4": 0, "5": 1})
    );
    assert_eq!(
        summary["by_nationality"],
        json!([{"nationality": "KR", "count": 1, "average": 3.0}, {"nationality": "US", "count": 1, "average": 5.0}])
    );
    assert_eq!(summary["comments"][0]["comment"], "Lovely evening!");
    let volunteer = app
        .key(entities::enums::Role::Volunteer, None, kim["id"].as_str())
        .await;
    app.get(&format!("/v1/events/{event}/feedback"), Some(&volunteer))
        .await
        .expect_problem(403);

    // Links last 30 days.
    use sea_orm::{ConnectionTrait, Statement};
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            match app.backend {
                Backend::Sqlite => "UPDATE feedback SET expires_at = ?",
                Backend::Postgres => "UPDATE feedback SET expires_at = $1",
            },
            [(Utc::now() - Duration::minutes(1)).into()],
        ))
        .await
        .unwrap();
    app.get(&format!("/v1/feedback/{kim_token}"), None)
        .await
        .expect_problem(410);
    app.post(
        &format!("/v1/feedback/{kim_token}"),
        None,
        json!({"rating": 4}),
    )
    .await
    .expect_problem(410);
    app.stop().await;
}

async fn reminder_for_a_shift_just_after_a_dst_jump(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let admin = Some(app.admin_key.as_str());
    let community = app
        .post(
            "/v1/communities",
            admin,
            json!({"slug": "brooklyn", "name": {"en": "Brooklyn Heights"}, "time_zone": "America/New_York", "default_locale": "en"}),
        )
        .await
        .expect(201)
        .id();
    let station = app
        .post("/v1/stations", admin, json!({"community_id": community, "kind": "volunteer", "name": {"en": "Volunteer Desk"}}))
        .await
        .expect(201)
        .id();
    // New York jumps from 02:00 to 03:00 on 14 March 2027; the shift starts at 03:30 EDT.
    let shift = app
        .post(
            "/v1/shifts",
            admin,
            json!({"station_id": station, "starts_at": "2027-03-14T03:30:00-04:00", "ends_at": "2027-03-14T05:30:00-04:00", "capacity": 2}),
        )
        .await
        .expect(201)
        .id();
    let volunteer = app
        .person(&community, "Emily Carter", json!({"is_volunteer": true}))
        .await;
    sign_up(&app, &shift, &id(&volunteer)).await;
    let worker = app.worker(&smtp);
    worker
        .tick(Utc.with_ymd_and_hms(2027, 3, 13, 7, 29, 0).unwrap())
        .await
        .unwrap();
    assert!(smtp.received().is_empty(), "not before 24 hours ahead");
    let report = worker
        .tick(Utc.with_ymd_and_hms(2027, 3, 13, 7, 30, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(report.outcomes, [Outcome::Sent]);
    let reminder = &smtp.received()[0];
    assert!(
        reminder
            .text()
            .contains("Sunday 14 March 2027, 03:30 to 05:30"),
        "local time after the jump: {}",
        reminder.text()
    );
    app.stop().await;
}

async fn event_reminders_and_farewells(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let event = id(&app.event(&community, 30).await);
    app.post(&format!("/v1/events/{event}/publish"), admin, json!({}))
        .await
        .expect(200);
    let keen = app
        .person(&community, "Emily Carter", json!({"locale": "en"}))
        .await;
    let quiet = app
        .person(
            &community,
            "Kim Minjun",
            json!({"notifications": {"reminders": false}}),
        )
        .await;
    let gone = app.person(&community, "Li Ming", json!({})).await;
    for person in [&keen, &quiet, &gone] {
        app.post(
            &format!("/v1/events/{event}/registrations"),
            admin,
            json!({"person_id": id(person)}),
        )
        .await
        .expect(201);
    }
    app.delete(
        &format!("/v1/events/{event}/registrations/{}", id(&gone)),
        admin,
    )
    .await
    .expect(200);
    let worker = app.worker(&smtp);
    let now = Utc::now();
    assert_eq!(
        worker.tick(now + Duration::hours(5)).await.unwrap().planned,
        0
    );
    let due = worker.tick(now + Duration::hours(7)).await.unwrap();
    assert_eq!(sent(&due.outcomes), 1, "{due:?}");
    assert!(
        due.outcomes
            .contains(&Outcome::Skipped("the recipient opted out".to_owned()))
    );
    assert!(
        mail_to(&smtp.received(), &email(&keen))
            .subject()
            .starts_with("Reminder: Winter Solstice Dumplings on ")
    );

    // A farewell at 09:00 Shanghai time on the moving-out day.
    let leaving = app
        .person(
            &community,
            "Pierre Dubois",
            json!({"locale": "fr", "moving_out_on": "2027-06-30"}),
        )
        .await;
    worker
        .tick(Utc.with_ymd_and_hms(2027, 6, 30, 0, 59, 0).unwrap())
        .await
        .unwrap();
    assert!(smtp.received().iter().all(|m| to(m) != email(&leaving)));
    worker
        .tick(Utc.with_ymd_and_hms(2027, 6, 30, 1, 0, 0).unwrap())
        .await
        .unwrap();
    let farewell = mail_to(&smtp.received(), &email(&leaving)).clone();
    assert!(
        farewell.text().contains("30 juin 2027"),
        "{}",
        farewell.text()
    );
    worker
        .tick(Utc.with_ymd_and_hms(2027, 6, 30, 5, 0, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(
        smtp.received()
            .iter()
            .filter(|m| to(m) == email(&leaving))
            .count(),
        1
    );
    app.stop().await;
}

/// 2,345 new residents (more than a planner page or a dispatch page): one run of the
/// worker, whose next plan is years away, welcomes every one of them once, with no
/// pause between pages.
async fn everything_due_goes_out_without_waiting_for_a_plan(backend: Backend) {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = uuid::Uuid::parse_str(&id(&app.community("hsm").await)).unwrap();
    let newcomers = 2345;
    let yesterday = (Utc::now() - Duration::days(1)).date_naive();
    huashen_tests::insert_residents(&app.db, community, 0..newcomers, |_, person| {
        person.moved_in_on = Some(yesterday);
    })
    .await
    .unwrap();
    let worker = app.embedded_worker(&smtp);
    let received = smtp.wait_for(newcomers, StdDuration::from_secs(60)).await;
    worker.stop().await;
    let mut recipients: Vec<&str> = received.iter().map(to).collect();
    recipients.sort_unstable();
    recipients.dedup();
    assert_eq!((received.len(), recipients.len()), (newcomers, newcomers));
    let sent = entities::notification::Entity::find()
        .filter(entities::notification::Column::Status.eq("sent"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(sent, newcomers as u64);
    app.stop().await;
}

/// A ledger row due a few seconds after the worker starts, with no plan in between:
/// the dispatcher wakes for it and sends it then, not earlier.
async fn a_row_falling_due_between_plans_is_sent_on_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let person = app.person(&community, "Lena Vogel", json!({})).await;
    let due_at = Utc::now() + Duration::seconds(3);
    let due = huashen_worker::planner::Due {
        kind: entities::enums::MailKind::VolunteerApproved,
        community_id: community.parse().unwrap(),
        recipient: id(&person).parse().unwrap(),
        subject_type: entities::enums::SubjectType::Person,
        subject_id: id(&person).parse().unwrap(),
        dedupe_key: "volunteer_approved:test".to_owned(),
        due_at,
    };
    huashen_worker::planner::enqueue(&app.db, &due, "en", Utc::now())
        .await
        .unwrap();
    let worker = app.embedded_worker(&smtp);
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert!(smtp.received().is_empty(), "sent before it was due");
    let received = smtp.wait_for(1, StdDuration::from_secs(10)).await;
    assert!(Utc::now() >= due_at);
    assert_eq!(to(&received[0]), email(&person));
    worker.stop().await;
    app.stop().await;
}
