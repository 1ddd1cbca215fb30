//! The `huashen` binary as an operator uses it: migrate, create-key, seed-demo, serve,
//! and a graceful stop on SIGTERM. Runs on SQLite and PostgreSQL.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Running, free_port, huashen, last_line, ready, serve, serve_command, start};

use entities::enums::MailKind;
use huashen_tests::smtp::{Behavior, SmtpServer};
use huashen_tests::{Backend, TestDatabase};

async fn operator_workflow(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.as_str();
    assert!(huashen(url, &["migrate"]).status.success());

    let admin = last_line(&huashen(url, &["create-key", "--role", "admin"]));
    assert!(admin.starts_with("hs_"), "{admin}");
    let refused = huashen(url, &["create-key", "--role", "organizer"]);
    assert!(
        !refused.status.success(),
        "an organizer key needs a community"
    );

    let seeded = last_line(&huashen(url, &["seed-demo"]));
    assert!(
        seeded.starts_with("hs_"),
        "the first seed prints the demo admin key: {seeded}"
    );
    let again = last_line(&huashen(url, &["seed-demo"]));
    assert!(
        again.contains("already"),
        "seeding twice does nothing: {again}"
    );

    let port = free_port();
    let mut server = start(serve_command(url, port).args(["--demo", "--no-worker"]));
    let client = reqwest::Client::new();
    let base = ready(port).await;
    let stations: serde_json::Value = client
        .get(format!("{base}/v1/stations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = stations["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        5,
        "the demo's five stations, listed without a key"
    );
    assert!(
        items
            .iter()
            .any(|s| s["name"]["zh-CN"] == "英语角" && s["name"]["en"] == "English Corner")
    );
    let communities = client
        .get(format!("{base}/v1/communities"))
        .bearer_auth(&seeded)
        .send()
        .await
        .unwrap();
    assert_eq!(communities.status(), 200);
    // An API replica without the mail worker still runs imports.
    let communities: serde_json::Value = communities.json().await.unwrap();
    let community = communities["items"][0]["id"].as_str().unwrap().to_owned();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/residents.csv"
    ))
    .unwrap();
    let queued = client
        .post(format!("{base}/v1/communities/{community}/imports"))
        .bearer_auth(&seeded)
        .header("content-type", "text/csv")
        .body(sample)
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let location = queued.headers()["location"].to_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let import: serde_json::Value = client
            .get(format!("{base}{location}"))
            .bearer_auth(&seeded)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if import["state"] == "done" {
            assert_eq!(import["totals"]["created"], 4, "{import}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the import did not run: {import}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shifts: serde_json::Value = client
        .get(format!("{base}/v1/shifts?limit=200"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        shifts["items"].as_array().unwrap().len() >= 15,
        "three weeks of shifts"
    );

    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success(), "a graceful stop exits 0: {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn operator_workflow_sqlite() {
    operator_workflow(Backend::Sqlite).await;
}

#[tokio::test]
async fn operator_workflow_postgres() {
    operator_workflow(Backend::Postgres).await;
}

/// What the first `seed-demo` prints: the community and the address to sign in with.
fn demo_sign_in(output: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("/v1/sign-in"))
        .unwrap_or_else(|| panic!("the demo names a resident to sign in as: {stdout}"));
    let quoted: Vec<&str> = line.split('"').collect();
    let value = |name: &str| {
        let at = quoted
            .iter()
            .position(|part| *part == name)
            .unwrap_or_else(|| panic!("{name} in {line}"));
        quoted[at + 2].to_owned()
    };
    (value("community_id"), value("email"))
}

/// The demo as its README describes it: sign in with the printed address, read the code
/// from the outbox, and get a session.
async fn demo_sign_in_through_the_outbox(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.as_str();
    let (community, email) = demo_sign_in(&huashen(url, &["seed-demo"]));
    let outbox = std::env::temp_dir().join(format!("huashen-outbox-{}", uuid::Uuid::now_v7()));
    let port = free_port();
    let _server = start(
        serve_command(url, port)
            .env("HUASHEN_OUTBOX_DIR", &outbox)
            .env_remove("SMTP_URL"),
    );
    let client = reqwest::Client::new();
    let base = ready(port).await;
    let asked = client
        .post(format!("{base}/v1/sign-in"))
        .json(&serde_json::json!({"community_id": community, "email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let started = Instant::now();
    let mail = loop {
        let found = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .map(|data| huashen_tests::smtp::Received {
                from: String::new(),
                to: Vec::new(),
                data,
            })
            .find(|mail| mail.text().contains("/sign-in/"));
        if let Some(mail) = found {
            break mail;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no sign-in mail in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text = mail.text();
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap_or_else(|| panic!("a six-digit code in {text}"))
        .to_owned();
    let signed_in = client
        .post(format!("{base}/v1/sign-in/verify"))
        .json(&serde_json::json!({"community_id": community, "email": email, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 201);
    let body: serde_json::Value = signed_in.json().await.unwrap();
    assert_eq!(body["person"]["email"], email.as_str());
    let _ = std::fs::remove_dir_all(&outbox);
}

#[tokio::test]
async fn demo_sign_in_through_the_outbox_sqlite() {
    demo_sign_in_through_the_outbox(Backend::Sqlite).await;
}

#[tokio::test]
async fn demo_sign_in_through_the_outbox_postgres() {
    demo_sign_in_through_the_outbox(Backend::Postgres).await;
}

#[test]
fn openapi_needs_no_database() {
    let output = huashen("postgres://nobody@127.0.0.1:1/none", &["openapi"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        huashen_api::app::spec_yaml()
    );
}

#[test]
fn help_documents_settings() {
    let output = Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "HUASHEN_BIND",
        "DATABASE_URL",
        "HUASHEN_CORS_ORIGINS",
        "HUASHEN_MAX_BODY_BYTES",
        "HUASHEN_SESSION_DAYS",
        "HUASHEN_TRUSTED_PROXIES",
        "HUASHEN_SIGN_IN_URL",
        "--demo",
    ] {
        assert!(help.contains(setting), "--help lacks {setting}:\n{help}");
    }
}

/// Starts `huashen serve --demo` delivering to `smtp`, planning every second.
fn serve_with_mail(url: &str, smtp: &SmtpServer, smtp_timeout_secs: u64) -> Running {
    start(
        serve_command(url, free_port())
            .arg("--demo")
            .env("SMTP_URL", smtp.url())
            .env("SMTP_TIMEOUT_SECS", smtp_timeout_secs.to_string())
            .env("HUASHEN_MAIL_LEASE_SECS", "3")
            .env("HUASHEN_PLAN_SCHEDULE", "* * * * * *"),
    )
}

async fn ledger(url: &str) -> Vec<entities::notification::Model> {
    use sea_orm::EntityTrait;
    // Empty until the server has created the tables.
    let db = huashen_api::db::connect(url).await.unwrap();
    let rows = entities::notification::Entity::find()
        .all(&db)
        .await
        .unwrap_or_default();
    let _ = db.close().await;
    rows
}

/// The demo residents who moved in this week (every third of ten).
const NEWCOMERS: usize = 3;

async fn killed_mid_delivery_then_restarted(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.clone();
    let smtp = SmtpServer::start().await;
    smtp.set(Behavior::Stall);
    let mut first = serve_with_mail(&url, &smtp, 30);
    // Wait until the newcomers' welcome letters are planned and a delivery is under way.
    let started = Instant::now();
    loop {
        let rows = ledger(&url).await;
        let welcomes = rows.iter().filter(|r| r.kind == MailKind::Welcome).count();
        if welcomes >= NEWCOMERS && rows.iter().any(|r| r.locked_until.is_some()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing planned: {} rows",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.0.kill().expect("SIGKILL");
    first.0.wait().unwrap();
    assert!(smtp.received().is_empty());

    smtp.set(Behavior::Accept);
    let mut second = serve_with_mail(&url, &smtp, 5);
    let mails = smtp.wait_for(NEWCOMERS, Duration::from_secs(60)).await;
    // Rows the killed process had claimed come back when its lease runs out; wait
    // (bounded) until nothing is left queued, then give any duplicate time to show up.
    let settling = Instant::now();
    while ledger(&url)
        .await
        .iter()
        .any(|r| r.status == entities::enums::NotificationStatus::Queued)
        && settling.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status();
    assert!(second.0.wait().unwrap().success(), "a graceful stop");
    let mails = if smtp.received().len() > mails.len() {
        smtp.received()
    } else {
        mails
    };
    // One mail per ledger row sent (the welcome letters, feedback requests for last
    // week's party, the digest when it is morning in Shanghai), none twice.
    let rows = ledger(&url).await;
    let mut distinct: Vec<_> = mails
        .iter()
        .map(|m| (m.to.join(","), m.subject()))
        .collect();
    distinct.sort();
    distinct.dedup();
    let sent = rows
        .iter()
        .filter(|r| r.status == entities::enums::NotificationStatus::Sent)
        .count();
    assert_eq!(
        (mails.len(), distinct.len()),
        (sent, sent),
        "every due mail once: {distinct:?}"
    );
    assert_eq!(
        rows.iter().filter(|r| r.kind == MailKind::Welcome).count(),
        NEWCOMERS,
        "welcome letters for the demo's newcomers only"
    );
    let subjects: Vec<_> = mails.iter().map(|m| m.subject()).collect();
    assert!(
        subjects.iter().any(|s| s == "欢迎入住花神庙社区"),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s == "Welcome to Huashenmiao Community"),
        "{subjects:?}"
    );
    // Feedback already given is not asked for again; nothing else is left over.
    let settled = [
        entities::enums::NotificationStatus::Sent,
        entities::enums::NotificationStatus::Skipped,
    ];
    assert!(rows.iter().all(|r| settled.contains(&r.status)), "{rows:?}");
    assert!(
        rows.iter()
            .filter(|r| r.status != entities::enums::NotificationStatus::Sent)
            .all(|r| r.kind == MailKind::FeedbackRequest)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_delivery_then_restarted_sqlite() {
    killed_mid_delivery_then_restarted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_delivery_then_restarted_postgres() {
    killed_mid_delivery_then_restarted(Backend::Postgres).await;
}

/// A full run with JSON logs at the shipped level: every line is one JSON object, the
/// lines of a request carry its `X-Request-Id`, and no secret appears in any of them
/// (keys, session tokens, sign-in codes and links, webhook secrets, the SMTP and
/// database passwords).
async fn logs_are_json_and_keep_secrets(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let database_password = "db-password-4f1c9e";
    // PostgreSQL here trusts local connections, so any password is accepted.
    let url = match backend {
        Backend::Sqlite => database.url.clone(),
        Backend::Postgres => {
            database
                .url
                .replacen("postgres@", &format!("postgres:{database_password}@"), 1)
        }
    };
    let (community, email) = demo_sign_in(&huashen(&url, &["seed-demo"]));
    let admin = last_line(&huashen(&url, &["create-key", "--role", "admin"]));
    let smtp = SmtpServer::start().await;
    let smtp_password = "smtp-password-8a7d2b";
    let log_path = std::env::temp_dir().join(format!("huashen-log-{}.jsonl", uuid::Uuid::now_v7()));
    let port = free_port();
    let mut server = start(
        serve_command(&url, port)
            .env_remove("RUST_LOG")
            .env("HUASHEN_LOG_FORMAT", "json")
            .env(
                "SMTP_URL",
                format!("smtp://huashen:{smtp_password}@127.0.0.1:{}", smtp.port),
            )
            .env("HUASHEN_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
            .stderr(std::fs::File::create(&log_path).unwrap()),
    );
    let client = reqwest::Client::new();
    let base = ready(port).await;

    let asked = client
        .post(format!("{base}/v1/sign-in"))
        .header("x-request-id", "sign-in-request-1")
        .json(&serde_json::json!({"community_id": community, "email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.headers()["x-request-id"], "sign-in-request-1");
    // The demo's newcomers get welcome letters too.
    let started = Instant::now();
    let text = loop {
        let sign_in = smtp
            .received()
            .iter()
            .map(|mail| mail.text())
            .find(|text| text.contains("/sign-in/"));
        if let Some(text) = sign_in {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no sign-in mail"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap_or_else(|| panic!("a six-digit code in {text}"))
        .to_owned();
    let link = text[text.find("/sign-in/").expect("a sign-in link") + "/sign-in/".len()..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>();
    let session: serde_json::Value = client
        .post(format!("{base}/v1/sign-in/verify"))
        .json(&serde_json::json!({"community_id": community, "email": email, "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = session["token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    let me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let hook: serde_json::Value = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"community_id": community, "url": "http://127.0.0.1:9/hook", "event_types": ["signup.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_secret = hook["secret"]
        .as_str()
        .expect("a webhook secret")
        .to_owned();
    // A problem names the request it answers; a chosen id that is not sane is replaced.
    let refused = client
        .get(format!("{base}/v1/people"))
        .header("x-request-id", "no spaces allowed")
        .bearer_auth(format!("{admin}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "no spaces allowed");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["request_id"], id.as_str());

    let _ = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status();
    let _ = server.0.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let answered = |request_id: &str| {
        lines
            .iter()
            .find(|line| line["span"]["request_id"] == request_id && line["message"] == "answered")
    };
    let sign_in = answered("sign-in-request-1").unwrap_or_else(|| panic!("{log}"));
    assert_eq!(sign_in["operation"], "requestSignIn");
    assert_eq!(sign_in["status"], 202);
    assert!(answered(&id).is_some(), "{log}");
    for (what, secret) in [
        ("the admin key", admin.as_str()),
        ("the session token", session.as_str()),
        ("the sign-in code", code.as_str()),
        ("the sign-in link", link.as_str()),
        ("the webhook secret", hook_secret.as_str()),
        ("the SMTP password", smtp_password),
        ("the database password", database_password),
    ] {
        for line in &lines {
            // Timestamps hold runs of digits that may look like a code.
            let mut fields = line.clone();
            fields.as_object_mut().unwrap().remove("timestamp");
            assert!(
                !fields.to_string().contains(secret),
                "{what} in the log: {line}"
            );
        }
    }
}

#[tokio::test]
async fn logs_are_json_and_keep_secrets_sqlite() {
    logs_are_json_and_keep_secrets(Backend::Sqlite).await;
}

#[tokio::test]
async fn logs_are_json_and_keep_secrets_postgres() {
    logs_are_json_and_keep_secrets(Backend::Postgres).await;
}

/// How many communities the database at `url` holds.
async fn communities_in(url: &str) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let db = migration::database::connect(url).await.unwrap();
    let count = entities::community::Entity::find()
        .count(&db)
        .await
        .unwrap();
    db.close().await.unwrap();
    count
}

/// A SQLite backup taken while the server writes is consistent and restores into a
/// database that serves; a file that is not a Huashen database is refused.
#[tokio::test]
async fn backup_while_serving_then_restore_sqlite() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let url = database.url.as_str();
    let admin = last_line(&huashen(url, &["create-key", "--role", "admin"]));
    let (server, base) = serve(url).await;
    let client = reqwest::Client::new();
    let create = |n: usize| {
        client
            .post(format!("{base}/v1/communities"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"slug": format!("c{n}"), "name": {"en": format!("Community {n}")}, "time_zone": "Asia/Shanghai", "default_locale": "zh-CN"}))
            .send()
    };
    for n in 0..20 {
        assert_eq!(create(n).await.unwrap().status(), 201);
    }
    // Writes go on while the backup is taken.
    let writing = async {
        for n in 20..120 {
            assert_eq!(create(n).await.unwrap().status(), 201);
        }
    };
    let backup_file =
        std::env::temp_dir().join(format!("huashen-backup-{}.db", uuid::Uuid::now_v7()));
    let taken = tokio::task::spawn_blocking({
        let (url, file) = (url.to_owned(), backup_file.clone());
        move || huashen(&url, &["backup", file.to_str().unwrap()])
    });
    let (taken, ()) = tokio::join!(taken, writing);
    let taken = taken.unwrap();
    assert!(last_line(&taken).starts_with("backed up to"));
    let again = huashen(url, &["backup", backup_file.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    drop(server);

    let in_backup = communities_in(&format!("sqlite://{}", backup_file.display())).await;
    assert!((20..=120).contains(&in_backup), "{in_backup}");

    let restored = TestDatabase::create(Backend::Sqlite).await;
    let answer = huashen(&restored.url, &["restore", backup_file.to_str().unwrap()]);
    assert!(last_line(&answer).starts_with("restored"));
    let (_server, base) = serve(&restored.url).await;
    let listed: serde_json::Value = client
        .get(format!("{base}/v1/communities?limit=200"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len() as u64, in_backup);

    let junk = std::env::temp_dir().join(format!("huashen-junk-{}.db", uuid::Uuid::now_v7()));
    std::fs::write(&junk, b"not a database").unwrap();
    let other = TestDatabase::create(Backend::Sqlite).await;
    let refused = huashen(&other.url, &["restore", junk.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        migration::database::sqlite_path(&other.url).is_some_and(|p| !p.exists()),
        "nothing was written"
    );
    for file in [&backup_file, &junk] {
        let _ = std::fs::remove_file(file);
    }
}

/// The README's PostgreSQL backup: `pg_dump` while serving, `pg_restore` into a fresh
/// database, and that database serves.
#[tokio::test]
async fn pg_dump_then_restore_into_a_fresh_database() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let url = database.url.as_str();
    let admin = last_line(&huashen(url, &["create-key", "--role", "admin"]));
    huashen(url, &["seed-demo"]);
    let (_server, base) = serve(url).await;
    let dump = std::env::temp_dir().join(format!("huashen-{}.dump", uuid::Uuid::now_v7()));
    let dumped = Command::new("pg_dump")
        .args(["--format=custom", "--file", dump.to_str().unwrap(), url])
        .status()
        .expect("pg_dump");
    assert!(dumped.success());
    let fresh = TestDatabase::create(Backend::Postgres).await;
    let restored = Command::new("pg_restore")
        .args([
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            &fresh.url,
            dump.to_str().unwrap(),
        ])
        .status()
        .expect("pg_restore");
    assert!(restored.success());
    let _ = std::fs::remove_file(&dump);
    let (_restored_server, restored_base) = serve(&fresh.url).await;
    let client = reqwest::Client::new();
    let list = |base: String| {
        let client = &client;
        let admin = &admin;
        async move {
            client
                .get(format!("{base}/v1/people?limit=200"))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()["items"]
                .clone()
        }
    };
    let (before, after) = (list(base).await, list(restored_base).await);
    assert!(!before.as_array().unwrap().is_empty());
    assert_eq!(before, after);
}
