//! Faults, from outside: the worker killed mid-run, a graceful stop under load, the
//! database cut off under load. Loopback only, bounded in count and time. The long
//! variants are `#[ignore]`d; `.ci/run` runs them in a job of their own.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Running, free_port, ready};
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, TestApp, id};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// A small, seeded random source, so a failing round can be replayed.
struct Dice(u64);

impl Dice {
    fn seeded() -> Self {
        let seed = std::env::var("HUASHEN_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| Utc::now().timestamp_micros().unsigned_abs() | 1);
        eprintln!("HUASHEN_FAULT_SEED={seed}");
        Self(seed)
    }

    /// A number in `range`.
    fn roll(&mut self, range: std::ops::Range<u64>) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        range.start + self.0 % (range.end - range.start)
    }
}

/// `huashen serve` with its embedded mail worker on `url`, sending to `smtp`.
fn worker(url: &str, smtp: &SmtpServer) -> Running {
    Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .env("SMTP_URL", smtp.url())
        .env("HUASHEN_MAIL_LEASE_SECS", "3")
        .env("HUASHEN_PLAN_SCHEDULE", "*/2 * * * * *")
        .stdout(Stdio::null())
        .spawn()
        .map(Running)
        .expect("starting huashen serve")
}

async fn sent_rows(app: &TestApp) -> u64 {
    use entities::enums::NotificationStatus;
    entities::notification::Entity::find()
        .filter(entities::notification::Column::Status.eq(NotificationStatus::Sent))
        .count(&app.db)
        .await
        .unwrap()
}

/// Kills the worker with SIGKILL at random moments while `mails` welcome letters are
/// due, `rounds` times, then lets one run to the end: every mail arrives, and a mail
/// arrives twice only if its worker died between the server's acceptance and marking
/// it sent (at most the worker's 4 sends in flight per kill).
async fn worker_killed_at_random_moments(backend: Backend, rounds: usize, mails: usize) {
    let app = TestApp::spawn(backend).await;
    let smtp = SmtpServer::start().await;
    let community = uuid::Uuid::parse_str(&id(&app.community("hsm").await)).unwrap();
    let now = Utc::now();
    let newcomers: Vec<entities::person::ActiveModel> = (0..mails)
        .map(|n| {
            let mut person = huashen_tests::resident(community, n, now);
            person.moved_in_on = Some((now - chrono::Duration::days(1)).date_naive());
            sea_orm::IntoActiveModel::into_active_model(person)
        })
        .collect();
    for chunk in newcomers.chunks(500) {
        entities::person::Entity::insert_many(chunk.to_vec())
            .exec(&app.db)
            .await
            .unwrap();
    }
    let mut dice = Dice::seeded();
    let started = Instant::now();
    let mut sent_at_kill = Vec::new();
    for _ in 0..rounds {
        let mut running = worker(app.database_url(), &smtp);
        tokio::time::sleep(Duration::from_millis(dice.roll(300..2500))).await;
        running.0.kill().unwrap(); // SIGKILL
        running.0.wait().unwrap();
        sent_at_kill.push(sent_rows(&app).await);
    }
    let _last = worker(app.database_url(), &smtp);
    let deadline = Instant::now() + Duration::from_secs(180);
    while sent_rows(&app).await < mails as u64 {
        assert!(
            Instant::now() < deadline,
            "{} of {mails} sent",
            sent_rows(&app).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for mail in smtp.received() {
        for to in mail.to {
            *per_recipient.entry(to).or_default() += 1;
        }
    }
    let lost = mails - per_recipient.len();
    let duplicates: usize = per_recipient.values().map(|n| n - 1).sum();
    eprintln!(
        "{backend:?}: {rounds} kills, {mails} mails, {lost} lost, {duplicates} sent twice, \
         {:.1} s; sent when each kill came: {sent_at_kill:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0);
    assert!(
        duplicates <= 4 * rounds,
        "{duplicates} duplicates from {rounds} kills"
    );
    app.stop().await;
}

#[tokio::test]
async fn worker_killed_at_random_moments_sqlite() {
    worker_killed_at_random_moments(Backend::Sqlite, 5, 300).await;
}

#[tokio::test]
async fn worker_killed_at_random_moments_postgres() {
    worker_killed_at_random_moments(Backend::Postgres, 5, 300).await;
}

#[tokio::test]
#[ignore = "long: run by .ci/run's fault job"]
async fn worker_killed_twenty_times_sqlite() {
    worker_killed_at_random_moments(Backend::Sqlite, 20, 1000).await;
}

#[tokio::test]
#[ignore = "long: run by .ci/run's fault job"]
async fn worker_killed_twenty_times_postgres() {
    worker_killed_at_random_moments(Backend::Postgres, 20, 1000).await;
}

/// SIGTERM while requests pour in: every request that got an answer got a whole one
/// (2xx); one that got none (sent as the server closed an idle connection, or after it
/// stopped listening) was not carried out either; the process exits 0 soon after.
async fn graceful_stop_under_load(backend: Backend) {
    let database = huashen_tests::TestDatabase::create(backend).await;
    let url = database.url.as_str();
    let admin = common::last_line(&common::huashen(url, &["create-key", "--role", "admin"]));
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        // This load is not what the rate limit is for.
        .env("HUASHEN_RATE_PER_KEY", "100000")
        .env("HUASHEN_BURST_PER_KEY", "100000")
        .stdout(Stdio::null())
        .spawn()
        .map(Running)
        .expect("starting huashen serve");
    let base = ready(port).await;
    let client = reqwest::Client::new();
    let load = (0..32).map(|worker| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        tokio::spawn(async move {
            let (mut answers, mut unanswered) = (Vec::new(), Vec::new());
            for n in 0.. {
                let slug = format!("w{worker}-{n}");
                let sent = client
                    .post(format!("{base}/v1/communities"))
                    .bearer_auth(&admin)
                    .json(&serde_json::json!({"slug": slug, "name": {"en": "Load"}, "time_zone": "Asia/Shanghai", "default_locale": "en"}))
                    .send()
                    .await;
                match sent {
                    Ok(reply) => answers.push(reply.status().as_u16()),
                    Err(err) => {
                        unanswered.push(slug);
                        if err.is_connect() {
                            break;
                        }
                    }
                }
            }
            (answers, unanswered)
        })
    });
    let load: Vec<_> = load.collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopping = Instant::now();
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let (mut answered, mut unanswered) = (0, Vec::new());
    for task in load {
        let (answers, refused) = task.await.unwrap();
        assert!(answers.iter().all(|s| *s == 201), "{answers:?}");
        answered += answers.len();
        unanswered.extend(refused);
    }
    let db = migration::database::connect(url).await.unwrap();
    let carried_out = entities::community::Entity::find()
        .filter(entities::community::Column::Slug.is_in(unanswered.clone()))
        .count(&db)
        .await
        .unwrap();
    eprintln!(
        "{backend:?}: {answered} requests answered, {} unanswered, stopped {:.2} s after SIGTERM",
        unanswered.len(),
        stopping.elapsed().as_secs_f64()
    );
    assert!(answered > 0);
    assert_eq!(
        carried_out, 0,
        "a request was carried out but its answer lost"
    );
}

#[tokio::test]
async fn graceful_stop_under_load_sqlite() {
    graceful_stop_under_load(Backend::Sqlite).await;
}

#[tokio::test]
async fn graceful_stop_under_load_postgres() {
    graceful_stop_under_load(Backend::Postgres).await;
}

/// PostgreSQL cut off under load (its connections killed, new ones refused, then let
/// back in): requests in the gap get 503 problem+json with `Retry-After`, readiness
/// goes 503 and back to 200 by itself, and every write answered 201 is there.
#[tokio::test]
async fn database_cut_off_under_load() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn(Backend::Postgres).await;
    let name = app.database_url().rsplit('/').next().unwrap().to_owned();
    let admin_db = sea_orm::Database::connect(huashen_tests::postgres_admin_url())
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = (0..8).map(|worker| {
        let (client, base, key, stop) = (
            app.client.clone(),
            app.base_url.clone(),
            app.admin_key.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut created = Vec::new();
            let mut unavailable = 0;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let reply = client
                    .post(format!("{base}/v1/communities"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({"slug": format!("w{worker}-{n}"), "name": {"en": "Load"}, "time_zone": "Asia/Shanghai", "default_locale": "en"}))
                    .send()
                    .await
                    .expect("the server answers");
                let reply = huashen_tests::Reply::read(reply).await;
                match reply.status.as_u16() {
                    201 => created.push(reply.id()),
                    503 => {
                        assert!(reply.header("retry-after").is_some());
                        assert_eq!(
                            reply.header("content-type"),
                            Some("application/problem+json")
                        );
                        unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => panic!("{other}: {}", reply.text),
                }
            }
            (created, unavailable)
        })
    });
    let load: Vec<_> = load.collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for sql in [
        format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    ] {
        admin_db.execute_unprepared(&sql).await.unwrap();
    }
    let gap = Instant::now();
    let mut readiness = Vec::new();
    while gap.elapsed() < Duration::from_secs(3) {
        readiness.push(app.get("/health/ready", None).await.status.as_u16());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin_db
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let back = Instant::now();
    while app.get("/health/ready", None).await.status != 200 {
        assert!(back.elapsed() < Duration::from_secs(30), "not ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    readiness.push(200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut created, mut unavailable) = (Vec::new(), 0);
    for task in load {
        let (ids, refused) = task.await.unwrap();
        created.extend(ids);
        unavailable += refused;
    }
    assert!(readiness.contains(&503), "{readiness:?}");
    assert!(unavailable > 0, "no request met the gap");
    let stored = entities::community::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    // The harness's own community is not among those created here.
    for id in &created {
        let id = uuid::Uuid::parse_str(id).unwrap();
        assert!(
            entities::community::Entity::find_by_id(id)
                .one(&app.db)
                .await
                .unwrap()
                .is_some(),
            "a write answered 201 is lost: {id}"
        );
    }
    eprintln!(
        "{} created, {unavailable} answered 503 in the gap, {stored} stored; readiness {readiness:?}",
        created.len()
    );
    app.stop().await;
}
