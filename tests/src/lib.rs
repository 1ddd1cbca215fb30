//! The test harness: each test gets a fresh database (a SQLite file, or its own
//! PostgreSQL database) and the real server on port 0, and talks to it over HTTP.
//!
//! Set `TEST_LOG=1` to see the server's log.
//!
//! `HUASHEN_TEST_POSTGRES_URL` points at the PostgreSQL server whose databases the
//! tests create and drop (default `postgres://postgres@127.0.0.1:5432/test`).

pub mod receiver;
pub mod smtp;

use std::path::PathBuf;

use entities::enums::Role;
use huashen_api::auth::{NewKey, create_key};
use huashen_api::db::connect_and_migrate;
use huashen_api::state::{AppState, Settings};
use reqwest::{Method, StatusCode, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Runs each named `async fn(Backend)` of the module as two tests,
/// `name::sqlite` and `name::postgres`: `both_backends!(create, validation);`
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )+};
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_admin_url() -> String {
    std::env::var("HUASHEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh, empty database; removed again when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres(String),
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let name = format!("huashen_test_{}", Uuid::now_v7().simple());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                Self {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::File(path),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin_url} is needed for the tests: {e}")
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("creating the test database");
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                Self {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres(name),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres(name) => {
                let name = name.clone();
                // Drop runs inside the test's runtime; the async drop needs one of its own.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(async {
                            if let Ok(admin) = Database::connect(&postgres_admin_url()).await {
                                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                                let _ = admin.execute_unprepared(&sql).await;
                                let _ = admin.close().await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// The real server on 127.0.0.1 port 0 over a fresh database, with an admin key.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub admin_key: String,
    pub backend: Backend,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    database: Option<TestDatabase>,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// A response, read whole; a body that is not JSON is `null` in `body`.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("reading the body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    /// The body without the `request_id` of a problem, which names this one request:
    /// what two requests answered alike have in common.
    pub fn answer(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(fields) = body.as_object_mut() {
            fields.remove("request_id");
        }
        body
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_owned()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts an RFC 9457 problem with `status`.
    #[track_caller]
    pub fn expect_problem(self, status: u16) -> Self {
        let reply = self.expect(status);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{}",
            reply.text
        );
        assert_eq!(reply.body["status"], json!(status), "{}", reply.text);
        for field in ["type", "title", "detail"] {
            assert!(
                reply.body[field].is_string(),
                "problem without `{field}`: {}",
                reply.text
            );
        }
        reply
    }

    /// The `field` names of a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    /// The server with the default settings, but request rates far above what any
    /// test sends (load tests send hundreds at once with one key); the rate limit has
    /// tests of its own.
    pub async fn spawn(backend: Backend) -> Self {
        let mut settings = Settings::default();
        let unlimited = huashen_api::limits::Rate {
            per_second: 1e6,
            burst: 1_000_000,
        };
        (settings.limits.per_key, settings.limits.per_ip) = (unlimited, unlimited);
        Self::spawn_with(backend, settings).await
    }

    pub async fn spawn_with(backend: Backend, settings: Settings) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        }
        let database = TestDatabase::create(backend).await;
        let db = connect_and_migrate(&database.url)
            .await
            .expect("migrating the test database");
        let listener =
            huashen_api::connections::listen(([127, 0, 0, 1], 0).into()).expect("binding port 0");
        let base_url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = AppState::new(db.clone(), settings)
            .await
            .expect("opening the mail queue");
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            huashen_api::app::serve(listener, state, async {
                let _ = stop.await;
            })
            .await
            .expect("server failed");
        });
        let (_, admin_key) = create_key(
            &db,
            NewKey {
                name: "test admin".to_owned(),
                role: Role::Admin,
                community_id: None,
                person_id: None,
            },
        )
        .await
        .expect("creating the admin key");
        Self {
            base_url,
            client: reqwest::Client::new(),
            db,
            admin_key,
            backend,
            shutdown: Some(shutdown),
            server: Some(server),
            database: Some(database),
        }
    }

    /// Stops the server, closes the pool and removes the database.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let _ = self.db.clone().close().await;
        self.database.take();
    }

    /// Creates a key of `role` directly in the database.
    pub async fn key(
        &self,
        role: Role,
        community_id: Option<&str>,
        person_id: Option<&str>,
    ) -> String {
        let parse = |id: Option<&str>| id.map(|id| Uuid::parse_str(id).expect("a UUID"));
        let (_, secret) = create_key(
            &self.db,
            NewKey {
                name: format!("test {}", role.as_str()),
                role,
                community_id: parse(community_id),
                person_id: parse(person_id),
            },
        )
        .await
        .expect("creating a key");
        secret
    }

    /// The URL of this app's database, for a second server or process on it.
    pub fn database_url(&self) -> &str {
        self.database.as_ref().map_or("", |d| d.url.as_str())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request; `key` is the bearer secret, `body` JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.expect("request failed")).await
    }

    /// Posts `body` as it is, with `content_type`.
    pub async fn post_bytes(
        &self,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        Reply::read(request.send().await.expect("request failed")).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.call(Method::GET, path, key, None, &[]).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, key, Some(body), &[]).await
    }

    pub async fn patch(
        &self,
        path: &str,
        key: Option<&str>,
        body: Value,
        if_match: Option<&str>,
    ) -> Reply {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("If-Match", tag)).into_iter().collect();
        self.call(Method::PATCH, path, key, Some(body), &headers)
            .await
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, key, None, &[]).await
    }

    /// Collects every item of a list by following `next_cursor`.
    pub async fn all_pages(
        &self,
        path: &str,
        key: Option<&str>,
        limit: u32,
    ) -> (Vec<Value>, usize) {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut pages = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{path}{separator}limit={limit}");
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let reply = self.get(&url, key).await.expect(200);
            pages += 1;
            items.extend(
                reply.body["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .cloned(),
            );
            match reply.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (items, pages),
            }
            assert!(pages < 1000, "pagination does not end");
        }
    }

    // Fixtures: each creates through the API as admin and returns the body.

    pub async fn community(&self, slug: &str) -> Value {
        self.post(
            "/v1/communities",
            Some(&self.admin_key),
            json!({"slug": slug, "name": {"zh-CN": "花神庙社区", "en": "Huashenmiao"}, "time_zone": "Asia/Shanghai", "default_locale": "zh-CN"}),
        )
        .await
        .expect(201)
        .body
    }

    pub async fn person(&self, community_id: &str, name: &str, extra: Value) -> Value {
        let mut body = json!({
            "community_id": community_id,
            "full_name": name,
            "email": format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
            "nationality": "CN",
        });
        merge(&mut body, extra);
        self.post("/v1/people", Some(&self.admin_key), body)
            .await
            .expect(201)
            .body
    }

    pub async fn station(&self, community_id: &str) -> Value {
        self.post(
            "/v1/stations",
            Some(&self.admin_key),
            json!({"community_id": community_id, "kind": "english_corner", "name": {"zh-CN": "英语角", "en": "English Corner"}}),
        )
        .await
        .expect(201)
        .body
    }

    pub async fn shift(&self, station_id: &str, starts_in_hours: i64, capacity: i32) -> Value {
        let starts_at = chrono::Utc::now() + chrono::Duration::hours(starts_in_hours);
        let ends_at = starts_at + chrono::Duration::hours(2);
        self.post(
            "/v1/shifts",
            Some(&self.admin_key),
            json!({"station_id": station_id, "starts_at": starts_at.to_rfc3339(), "ends_at": ends_at.to_rfc3339(), "capacity": capacity}),
        )
        .await
        .expect(201)
        .body
    }

    pub async fn event(&self, community_id: &str, starts_in_hours: i64) -> Value {
        let starts_at = chrono::Utc::now() + chrono::Duration::hours(starts_in_hours);
        let ends_at = starts_at + chrono::Duration::hours(3);
        self.post(
            "/v1/events",
            Some(&self.admin_key),
            json!({
                "community_id": community_id,
                "title": {"zh-CN": "冬至包饺子", "en": "Winter Solstice Dumplings"},
                "category": "festival",
                "starts_at": starts_at.to_rfc3339(),
                "ends_at": ends_at.to_rfc3339(),
                "capacity": 30,
            }),
        )
        .await
        .expect(201)
        .body
    }
}

impl TestApp {
    /// Inserts `count` volunteers of `community_id` straight into the database (fast,
    /// for load tests) and returns their ids.
    pub async fn volunteers(&self, community_id: &str, count: usize) -> Vec<String> {
        use sea_orm::{ActiveModelTrait, IntoActiveModel};
        let community_id = Uuid::parse_str(community_id).expect("a UUID");
        let now = chrono::Utc::now();
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let id = Uuid::now_v7();
            let mut volunteer = resident(community_id, n, now);
            volunteer.id = id;
            volunteer.email = format!("volunteer{n}-{id}@example.com");
            volunteer.email_normalized = volunteer.email.clone();
            volunteer.full_name = format!("Volunteer {n}");
            volunteer.is_volunteer = true;
            volunteer
                .into_active_model()
                .reset_all()
                .insert(&self.db)
                .await
                .expect("inserting a volunteer");
            ids.push(id.to_string());
        }
        ids
    }
}

impl TestApp {
    /// A mail worker over this app's database that delivers to `smtp`, with a short
    /// SMTP timeout so stalls show quickly.
    pub fn worker(&self, smtp: &smtp::SmtpServer) -> huashen_worker::Worker {
        self.worker_to(smtp.url())
    }

    /// The same, delivering to `smtp_url` (say, with `?tls=required`).
    pub fn worker_to(&self, smtp_url: String) -> huashen_worker::Worker {
        let args = huashen_worker::config::MailArgs {
            smtp_url: Some(smtp_url),
            mail_from: "Huashenmiao <office@huashenmiao.example.cn>".to_owned(),
            public_base_url: "https://portal.example.cn".to_owned(),
            feedback_url: None,
            sign_in_url: None,
            outbox_dir: std::env::temp_dir(),
            smtp_timeout_secs: 1,
            lease_secs: 60,
            webhook_allowed_hosts: vec!["127.0.0.1".to_owned()],
            plan_schedule: "* * * * * *".to_owned(),
            welcome_within_days: 14,
            metrics_bind: None,
            frontend_url: None,
            notice_rate: huashen_worker::bulk::DEFAULT_RATE,
            mail_concurrency: huashen_worker::DEFAULT_MAIL_CONCURRENCY as u32,
        };
        args.worker(self.db.clone()).expect("a worker")
    }
}

/// The worker as `huashen serve` embeds it (mail and imports), delivering to an SMTP
/// server; its planner does not run again after start, so only what the api queues
/// goes out.
pub struct EmbeddedWorker {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl EmbeddedWorker {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

impl TestApp {
    pub fn embedded_worker(&self, smtp: &smtp::SmtpServer) -> EmbeddedWorker {
        let worker = self.worker(smtp);
        let imports = huashen_api::imports::runner(self.db.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            huashen_worker::jobs::run(worker, "0 0 0 1 1 * 2099", Some(imports), async {
                let _ = stopped.await;
            })
            .await
            .expect("the worker failed");
        });
        EmbeddedWorker {
            stop: Some(stop),
            task,
        }
    }
}

/// Resident `n` of `community_id` as a row to insert straight into the database (for
/// load tests): `resident{n}@example.cn`, Chinese, no dates, every mail wanted.
pub fn resident(
    community_id: Uuid,
    n: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> entities::person::Model {
    let email = format!("resident{n}@example.cn");
    entities::person::Model {
        id: Uuid::now_v7(),
        community_id,
        full_name: format!("Resident {n}"),
        email_normalized: email.clone(),
        email,
        phone: None,
        nationality: "CN".to_owned(),
        locale: "zh-CN".to_owned(),
        time_zone: "Asia/Shanghai".to_owned(),
        birthday: None,
        birthday_md: None,
        languages: entities::json::TagList(vec!["zh-CN".to_owned()]),
        skills: entities::json::TagList::default(),
        is_volunteer: false,
        is_organizer: false,
        moved_in_on: None,
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
}

/// The `id` of a resource body.
pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

/// Overwrites the fields of `base` with those of `extra`.
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        for (key, value) in extra {
            base.insert(key, value);
        }
    }
}

/// Inserts residents `numbers` of `community_id` (see `resident`) straight into the
/// database, as `customize` shapes each, a few hundred rows per statement.
pub async fn insert_residents(
    db: &sea_orm::DatabaseConnection,
    community_id: Uuid,
    numbers: std::ops::Range<usize>,
    customize: impl Fn(usize, &mut entities::person::Model),
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{EntityTrait, IntoActiveModel, TransactionTrait};
    let now = chrono::Utc::now();
    let txn = db.begin().await?;
    for start in numbers.clone().step_by(500) {
        let rows = (start..numbers.end.min(start + 500)).map(|n| {
            let mut person = resident(community_id, n, now);
            customize(n, &mut person);
            person.into_active_model()
        });
        entities::person::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}
