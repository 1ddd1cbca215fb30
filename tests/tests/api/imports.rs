//! Bulk imports over HTTP, run by the embedded worker's `imports` queue.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use entities::enums::{MailKind, NotificationStatus};
use entities::notification;
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, Reply, TestApp, both_backends, id};
use huashen_worker::format::zone;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

both_backends!(
    a_spreadsheet_csv_twice_and_back,
    dry_run_writes_nothing,
    row_errors_and_all_or_nothing,
    unreadable_files_are_refused,
    welcome_letters_follow_the_mail_option,
    json_lines,
    five_thousand_rows,
);

const CSV: &str = "text/csv";

/// A CSV as a spreadsheet saves it: byte-order mark, CRLF, CJK, emoji, a `+` phone.
fn spreadsheet() -> Vec<u8> {
    let mut csv = "\u{feff}full_name,email,phone,nationality,locale,languages,skills,is_volunteer,moved_in_on,birthday\r\n".to_owned();
    csv.push_str("赵丽,zhao.li@example.cn,+86 139 0000 1111,CN,zh-CN,zh-CN;en,,false,2019-05-01,1975-03-08\r\n");
    csv.push_str("María García,maria.garcia@example.es,,ES,es,es;en,translation;dance,true,2023-09-15,1990-11-30\r\n");
    csv.push_str("박서연,seoyeon.park@example.kr,,KR,ko,ko;en,cooking,yes,2021-02-20,\r\n");
    csv.push_str("John Smith 🎸,john.smith@example.co.uk,+44 20 7946 0000,GB,en,en,first aid,1,2024-06-01,1982-07-14\r\n");
    csv.into_bytes()
}

/// Posts a file and waits for its import to finish; answers the finished import.
async fn import(
    app: &TestApp,
    community: &str,
    query: &str,
    content_type: &str,
    file: Vec<u8>,
) -> Value {
    let queued = app
        .post_bytes(
            &format!("/v1/communities/{community}/imports{query}"),
            Some(&app.admin_key),
            content_type,
            file,
        )
        .await
        .expect(202);
    let location = queued.header("location").expect("a Location").to_owned();
    assert_eq!(location, format!("/v1/imports/{}", queued.id()));
    let started = Instant::now();
    loop {
        let current = app.get(&location, Some(&app.admin_key)).await.expect(200);
        match current.body["state"].as_str() {
            Some("done") => return current.body,
            Some("failed") => panic!("import failed: {}", current.text),
            _ => {}
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(120),
            "the import did not finish: {}",
            current.text
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

fn totals(import: &Value) -> (u64, u64, u64, u64) {
    let t = &import["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{k} in {import}"));
    (n("created"), n("updated"), n("unchanged"), n("errors"))
}

/// `GET /v1/people?{query}` as CSV.
async fn export_csv(app: &TestApp, query: &str) -> Reply {
    app.call(
        reqwest::Method::GET,
        &format!("/v1/people?{query}"),
        Some(&app.admin_key),
        None,
        &[("Accept", "text/csv")],
    )
    .await
    .expect(200)
}

async fn people(app: &TestApp, community: &str) -> Vec<Value> {
    app.all_pages(
        &format!("/v1/people?community_id={community}"),
        Some(&app.admin_key),
        200,
    )
    .await
    .0
}

async fn a_spreadsheet_csv_twice_and_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = app.embedded_worker(&smtp);
    let community = id(&app.community("hsm").await);

    let first = import(&app, &community, "", CSV, spreadsheet()).await;
    assert_eq!(totals(&first), (4, 0, 0, 0), "{first}");
    assert_eq!(first["rows_total"], 4);
    assert_eq!(first["rows_done"], 4);
    let listed = people(&app, &community).await;
    let names: Vec<&str> = listed
        .iter()
        .map(|p| p["full_name"].as_str().unwrap())
        .collect();
    for name in ["赵丽", "María García", "박서연", "John Smith 🎸"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let zhao = listed.iter().find(|p| p["full_name"] == "赵丽").unwrap();
    assert_eq!(zhao["phone"], "+86 139 0000 1111");
    assert_eq!(zhao["languages"], json!(["zh-CN", "en"]));
    assert_eq!(zhao["birthday"], "1975-03-08");

    let again = import(&app, &community, "", CSV, spreadsheet()).await;
    assert_eq!(totals(&again), (0, 0, 4, 0), "the same file twice");

    // What the export writes, the import reads back unchanged.
    let export = export_csv(&app, &format!("community_id={community}")).await;
    assert!(
        export
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(export.text.starts_with('\u{feff}'));
    assert!(export.text.contains("John Smith 🎸"));
    let back = import(&app, &community, "", CSV, export.text.into_bytes()).await;
    assert_eq!(totals(&back), (0, 0, 4, 0), "{back}");

    // A name a spreadsheet would run is written so it is not run.
    app.person(&community, "=1+2", json!({"email": "formula@example.cn"}))
        .await;
    let export = export_csv(&app, &format!("community_id={community}&q=formula")).await;
    assert!(export.text.contains("\n'=1+2,"), "{}", export.text);

    // A changed cell updates that person only.
    let changed = String::from_utf8(spreadsheet())
        .unwrap()
        .replace("cooking", "cooking;calligraphy");
    let update = import(&app, &community, "", CSV, changed.into_bytes()).await;
    assert_eq!(totals(&update), (0, 1, 3, 0), "{update}");
    worker.stop().await;
    app.stop().await;
}

async fn dry_run_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = app.embedded_worker(&smtp);
    let community = id(&app.community("hsm").await);
    let dry = import(&app, &community, "?dry_run=true", CSV, spreadsheet()).await;
    assert_eq!(totals(&dry), (4, 0, 0, 0), "what it would do");
    assert_eq!(dry["dry_run"], true);
    assert!(people(&app, &community).await.is_empty(), "nothing written");
    worker.stop().await;
    app.stop().await;
}

async fn row_errors_and_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = app.embedded_worker(&smtp);
    let community = id(&app.community("hsm").await);
    let file = "full_name,email,nationality,is_volunteer\n\
                Good One,good.one@example.cn,CN,true\n\
                Bad Country,bad.country@example.cn,XX,false\n\
                \"=HYPERLINK(\"\"http://evil.example\"\")\",formula@example.cn,CN,false\n\
                Good One Again,GOOD.ONE@example.cn,CN,false\n\
                Not An Email,not-an-email,CN,false\n\
                Bad Flag,bad.flag@example.cn,CN,maybe\n\
                No Country,no.country@example.cn,,false\n\
                Good Two,good.two@example.cn,DE,false\n";
    let all_or_nothing = import(&app, &community, "?atomic=true", CSV, file.into()).await;
    assert_eq!(totals(&all_or_nothing).3, 6);
    assert!(
        people(&app, &community).await.is_empty(),
        "atomic: nothing written"
    );

    let done = import(&app, &community, "", CSV, file.into()).await;
    assert_eq!(totals(&done), (2, 0, 0, 6), "{done}");
    let errors = app
        .get(
            &format!("/v1/imports/{}/rows?outcome=error", id(&done)),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    let by_row: Vec<(u64, String)> = errors.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["errors"][0]["field"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_row,
        [
            (2, "nationality".to_owned()),
            (3, "full_name".to_owned()),
            (4, "email".to_owned()),
            (5, "email".to_owned()),
            (6, "is_volunteer".to_owned()),
            (7, "nationality".to_owned()),
        ],
        "{}",
        errors.text
    );
    assert!(
        errors.text.contains("row 1"),
        "the duplicate names its first row"
    );
    // Paged, in file order.
    let first_page = app
        .get(
            &format!("/v1/imports/{}/rows?limit=3", id(&done)),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(first_page.body["items"].as_array().unwrap().len(), 3);
    let cursor = first_page.body["next_cursor"].as_str().unwrap();
    let next = app
        .get(
            &format!("/v1/imports/{}/rows?limit=10&cursor={cursor}", id(&done)),
            Some(&app.admin_key),
        )
        .await
        .expect(200);
    assert_eq!(next.body["items"][0]["row"], 4);
    assert_eq!(next.body["items"].as_array().unwrap().len(), 5);
    worker.stop().await;
    app.stop().await;
}

async fn unreadable_files_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let community = id(&app.community("hsm").await);
    let path = format!("/v1/communities/{community}/imports");
    let post = |body: Vec<u8>| app.post_bytes(&path, Some(&app.admin_key), CSV, body);
    // Saved as GBK, not UTF-8.
    let gbk: Vec<u8> = [
        b"full_name,email,nationality\n".as_slice(),
        &[0xd5, 0xd4, 0xc0, 0xf6],
        b",zhao@example.cn,CN\n",
    ]
    .concat();
    let refused: Reply = post(gbk).await.expect_problem(422);
    assert!(refused.text.contains("UTF-8"), "{}", refused.text);
    post(b"name,email\nA,a@example.cn\n".to_vec())
        .await
        .expect_problem(422);
    post(b"full_name,email\nA,a@example.cn\n".to_vec())
        .await
        .expect_problem(422);
    app.post_bytes(
        &path,
        Some(&app.admin_key),
        "application/json",
        b"{}".to_vec(),
    )
    .await
    .expect_problem(415);
    app.post_bytes(&path, None, CSV, spreadsheet())
        .await
        .expect_problem(401);
    app.stop().await;
}

async fn welcome_letters_follow_the_mail_option(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = app.embedded_worker(&smtp);
    let community = id(&app.community("hsm").await);
    let yesterday = (Utc::now()
        .with_timezone(&zone("Asia/Shanghai"))
        .date_naive()
        - Duration::days(1))
    .to_string();
    let file = |email: &str| {
        format!(
            "full_name,email,nationality,moved_in_on\nNew Neighbour,{email},CN,{yesterday}\nOld Neighbour,old.{email},CN,2020-01-01\n"
        )
    };
    import(&app, &community, "", CSV, file("a@example.cn").into_bytes()).await;
    import(
        &app,
        &community,
        "?mail=none",
        CSV,
        file("b@example.cn").into_bytes(),
    )
    .await;
    worker.stop().await;
    app.worker(&smtp).tick(Utc::now()).await.unwrap();
    let welcomes = notification::Entity::find()
        .filter(notification::Column::Kind.eq(MailKind::Welcome))
        .all(&app.db)
        .await
        .unwrap();
    let sent = welcomes
        .iter()
        .filter(|n| n.status == NotificationStatus::Sent)
        .count();
    let skipped = welcomes
        .iter()
        .filter(|n| n.status == NotificationStatus::Skipped)
        .count();
    assert_eq!((sent, skipped), (1, 1), "{welcomes:?}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["a@example.cn"]);
    app.stop().await;
}

async fn json_lines(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = app.embedded_worker(&smtp);
    let community = id(&app.community("hsm").await);
    let lines = [
        json!({"full_name": "田中優希", "email": "yuki@example.jp", "nationality": "JP", "languages": ["ja", "en"], "is_volunteer": true}),
        json!({"full_name": "Olga", "email": "olga@example.ru", "nationality": "RU", "skills": "not a list"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let done = import(
        &app,
        &community,
        "",
        "application/x-ndjson",
        lines.into_bytes(),
    )
    .await;
    assert_eq!(totals(&done), (1, 0, 0, 1), "{done}");
    worker.stop().await;
    app.stop().await;
}

/// Scale, always: 5,000 rows. `HUASHEN_IMPORT_ROWS=100000` runs the full-size file.
async fn five_thousand_rows(backend: Backend) {
    let rows: usize = std::env::var("HUASHEN_IMPORT_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let app = TestApp::spawn_with(backend, huashen_api::state::Settings::default()).await;
    let smtp = SmtpServer::start().await;
    let worker = app.embedded_worker(&smtp);
    let community = id(&app.community("hsm").await);
    let mut file =
        String::from("full_name,email,nationality,locale,birthday,moved_in_on,languages\n");
    for n in 0..rows {
        file.push_str(&format!(
            "居民{n},resident{n}@example.cn,CN,zh-CN,19{:02}-{:02}-{:02},20{:02}-01-15,zh-CN;en\n",
            50 + n % 50,
            1 + n % 12,
            1 + n % 28,
            20 + n % 5
        ));
    }
    let started = Instant::now();
    let done = import(&app, &community, "", CSV, file.into_bytes()).await;
    let took = started.elapsed();
    println!("imported {rows} rows in {took:?} ({:?})", app.backend);
    assert_eq!(totals(&done), (rows as u64, 0, 0, 0));
    worker.stop().await;
    app.stop().await;
}
