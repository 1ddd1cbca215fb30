//! A community that brings its history along: welcome letters only for newcomers,
//! on their moving-in day, however many long-time residents there are.

use std::time::Instant;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use entities::enums::MailKind;
use entities::{notification, person};
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, TestApp, both_backends, id, resident};
use huashen_worker::format::zone;
use huashen_worker::planner::{MORNING_MAIL_HOUR, local_instant};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

both_backends!(
    a_newcomer_is_welcomed_on_moving_in_day,
    long_time_residents_get_no_welcome_flood,
    planning_wakes_the_sender_when_rows_are_written,
);

fn shanghai_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&zone("Asia/Shanghai"))
        .date_naive()
}

async fn welcomes(app: &TestApp) -> u64 {
    notification::Entity::find()
        .filter(notification::Column::Kind.eq(MailKind::Welcome))
        .count(&app.db)
        .await
        .unwrap()
}

async fn a_newcomer_is_welcomed_on_moving_in_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = id(&app.community("hsm").await);
    let day = shanghai_today() + Duration::days(7);
    app.person(
        &community,
        "Olga Ivanova",
        json!({"locale": "ru", "moved_in_on": day.to_string()}),
    )
    .await;
    // Moved in 15 days ago: past the 14 days a welcome waits.
    app.person(
        &community,
        "Late Arrival",
        json!({"moved_in_on": (shanghai_today() - Duration::days(15)).to_string()}),
    )
    .await;
    // Moved out again before the letter would go.
    app.person(
        &community,
        "Short Stay",
        json!({"moved_in_on": day.to_string(), "moving_out_on": day.to_string()}),
    )
    .await;
    let worker = app.worker(&smtp);
    worker.tick(Utc::now()).await.unwrap();
    assert_eq!(welcomes(&app).await, 0, "not before the day");
    let nine = local_instant(day, MORNING_MAIL_HOUR, zone("Asia/Shanghai"));
    worker.tick(nine - Duration::minutes(1)).await.unwrap();
    assert_eq!(welcomes(&app).await, 0, "not before 09:00 on the day");
    worker.tick(nine + Duration::minutes(1)).await.unwrap();
    let rows = notification::Entity::find()
        .filter(notification::Column::Kind.eq(MailKind::Welcome))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "on the day, once: {rows:?}");
    let to_olga = || {
        smtp.received()
            .iter()
            .filter(|m| m.to[0].starts_with("olga.ivanova"))
            .count()
    };
    assert_eq!(to_olga(), 1);
    worker.tick(nine + Duration::days(3)).await.unwrap();
    assert_eq!(to_olga(), 1, "each welcome once");
    assert_eq!(welcomes(&app).await, 1);
    app.stop().await;
}

/// The import scenario, shrunk by default: 50,000 residents created today who moved in between
/// 2020 and 2024, birthdays spread over the year. Planning writes the birthday cards due
/// today and nothing else.
async fn long_time_residents_get_no_welcome_flood(backend: Backend) {
    // `HUASHEN_PLANNING_RESIDENTS=1000000` runs the full-size scenario.
    let residents: usize = std::env::var("HUASHEN_PLANNING_RESIDENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let app = TestApp::spawn(backend).await;
    let community = Uuid::parse_str(&id(&app.community("hsm").await)).unwrap();
    let now = Utc::now();
    let mut birthdays_today = 0;
    let rows: Vec<person::ActiveModel> = (0..residents)
        .map(|n| {
            let moved_in = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()
                + Duration::days((n * 7 % 1826) as i64);
            let birthday = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
                + Duration::days((n * 13 % 365) as i64 + 365 * (n % 40) as i64);
            let local_today = shanghai_today();
            if birthday.month() == local_today.month()
                && birthday.day() == local_today.day()
                && local_instant(local_today, MORNING_MAIL_HOUR, zone("Asia/Shanghai")) <= now
            {
                birthdays_today += 1;
            }
            sea_orm::IntoActiveModel::into_active_model(person::Model {
                birthday: Some(birthday),
                birthday_md: Some(format!("{:02}-{:02}", birthday.month(), birthday.day())),
                moved_in_on: Some(moved_in),
                ..resident(community, n, now)
            })
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        person::Entity::insert_many(chunk)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    let worker = app.worker(&SmtpServer::start().await);
    let started = Instant::now();
    let planned = huashen_worker::planner::plan(&app.db, worker.plan_settings(), now)
        .await
        .unwrap();
    let took = started.elapsed();
    println!("planning over {residents} residents: {planned} rows in {took:?}");
    assert_eq!(
        welcomes(&app).await,
        0,
        "no welcome for long-time residents"
    );
    assert_eq!(planned, birthdays_today, "only today's birthday cards");
    app.stop().await;
}

/// The sender waiting on a plan is woken once it writes rows (it sends the first pages
/// while later ones are planned), and not by a plan that writes nothing new.
async fn planning_wakes_the_sender_when_rows_are_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let yesterday = shanghai_today() - Duration::days(1);
    huashen_tests::insert_residents(&app.db, community.parse().unwrap(), 0..1_200, |_, p| {
        p.moved_in_on = Some(yesterday);
    })
    .await
    .unwrap();
    let worker = app.worker(&SmtpServer::start().await);
    let sender = tokio::sync::Notify::new();
    let woken = || tokio::time::timeout(std::time::Duration::from_millis(200), sender.notified());
    let plan = || {
        huashen_worker::planner::plan_waking(
            &app.db,
            worker.plan_settings(),
            Utc::now(),
            Some(&sender),
        )
    };
    assert_eq!(plan().await.unwrap(), 1_200);
    assert!(woken().await.is_ok(), "woken by the rows written");
    assert_eq!(plan().await.unwrap(), 0);
    assert!(woken().await.is_err(), "nothing new, nobody woken");
    app.stop().await;
}
