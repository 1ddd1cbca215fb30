//! `huashen-worker tick` as cron would run it: migrate, plan, send into the outbox.

use std::process::Command;

use chrono::Utc;
use entities::json::{LocalizedText, TagList};
use sea_orm::{ActiveModelTrait, IntoActiveModel};
use uuid::Uuid;

fn tick(database_url: &str, outbox: &std::path::Path) -> String {
    worker("tick", database_url, outbox)
}

fn worker(command: &str, database_url: &str, outbox: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_huashen-worker"))
        .arg(command)
        .env("DATABASE_URL", database_url)
        .env("HUASHEN_OUTBOX_DIR", outbox)
        .env_remove("SMTP_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("running huashen-worker");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn tick_writes_due_mail_to_the_outbox() {
    let dir = std::env::temp_dir().join(format!("huashen-tick-{}", Uuid::now_v7().simple()));
    let database_url = format!("sqlite://{}/huashen.db", dir.display());
    let outbox = dir.join("outbox");
    assert_eq!(
        tick(&database_url, &outbox),
        "planned 0, sent 0, retrying 0, failed 0, skipped 0, missed 0"
    );

    let db = migration::database::connect(&database_url).await.unwrap();
    let now = Utc::now();
    let community = Uuid::now_v7();
    entities::community::Model {
        id: community,
        slug: "hsm".to_owned(),
        name: LocalizedText([("zh-CN".to_owned(), "花神庙社区".to_owned())].into()),
        time_zone: "Asia/Shanghai".to_owned(),
        default_locale: "zh-CN".to_owned(),
        reminder_lead_minutes: 1440,
        volunteer_approval: entities::enums::VolunteerApproval::Automatic,
        country: "CN".to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    }
    .into_active_model()
    .reset_all()
    .insert(&db)
    .await
    .unwrap();
    entities::person::Model {
        id: Uuid::now_v7(),
        community_id: community,
        full_name: "王芳".to_owned(),
        email: "wang.fang@example.cn".to_owned(),
        email_normalized: "wang.fang@example.cn".to_owned(),
        phone: None,
        nationality: "CN".to_owned(),
        locale: "zh-CN".to_owned(),
        time_zone: "Asia/Shanghai".to_owned(),
        birthday: None,
        birthday_md: None,
        languages: TagList::default(),
        skills: TagList::default(),
        is_volunteer: false,
        is_organizer: false,
        // Yesterday: the welcome is due whatever the hour (nine on the moving-in day,
        // local time).
        moved_in_on: Some((now - chrono::Duration::days(1)).date_naive()),
        moving_out_on: None,
        notify_reminders: true,
        notify_birthday: true,
        notify_feedback: true,
        notify_notices: true,
        notify_surveys: true,
        erased_at: None,
        calendar_token_hash: None,
        status: entities::enums::PersonStatus::Active,
        email_verified_at: None,
        consent_version: None,
        consent_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
    .into_active_model()
    .reset_all()
    .insert(&db)
    .await
    .unwrap();
    let _ = db.close().await;

    // `plan` writes the welcome's row and sends nothing; the tick then sends it.
    let planned = worker("plan", &database_url, &outbox);
    assert!(planned.starts_with("planned 1 in "), "{planned}");
    assert!(std::fs::read_dir(&outbox).map_or(true, |mut files| files.next().is_none()));
    assert_eq!(
        tick(&database_url, &outbox),
        "planned 0, sent 1, retrying 0, failed 0, skipped 0, missed 0"
    );
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(
        eml.contains("To: =?utf-8?b?") || eml.contains("wang.fang@example.cn"),
        "{eml}"
    );
    assert!(eml.contains("multipart/alternative"));
    assert_eq!(
        tick(&database_url, &outbox),
        "planned 0, sent 0, retrying 0, failed 0, skipped 0, missed 0"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
