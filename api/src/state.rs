//! What every request handler shares.

use std::net::IpAddr;
use std::sync::Arc;

use huashen_worker::FrontendUrl;
use huashen_worker::jobs::{IMPORT_QUEUE, MailQueue, Queue, RunImport};
use sea_orm::DatabaseConnection;

use crate::auth::KeyCache;
use crate::limits::{Limits, RequestLimiter};
use crate::reads::Reads;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Where lists are read (see `reads`).
    pub reads: Reads,
    pub settings: Arc<Settings>,
    /// For mail that goes out at once (sign-in codes) instead of at the next planning run.
    pub mail: MailQueue,
    /// Where imports wait for a worker.
    pub imports: Queue<RunImport>,
    /// Each caller's request rate.
    pub limiter: Arc<RequestLimiter>,
    /// Keys recently checked.
    pub keys: Arc<KeyCache>,
}

impl AppState {
    /// The state over `db`, with the mail queue opened there.
    pub async fn new(db: DatabaseConnection, settings: Settings) -> anyhow::Result<Self> {
        Ok(Self {
            mail: MailQueue::mail(&db).await?,
            imports: Queue::open(&db, IMPORT_QUEUE).await?,
            reads: Reads::new(&db),
            db,
            settings: Arc::new(settings),
            limiter: Arc::default(),
            keys: Arc::default(),
        })
    }
}

/// Settings of the HTTP service.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Origins allowed by CORS; empty allows none, `*` allows any.
    pub cors_origins: Vec<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted import file.
    pub max_import_bytes: usize,
    /// How long a request body may take to arrive (a file to import: ten times this).
    pub body_timeout: std::time::Duration,
    /// How long a connection may sit without a byte either way before it is closed.
    pub idle_timeout: std::time::Duration,
    /// How long a request's head (request line and headers) may take to arrive.
    pub head_timeout: std::time::Duration,
    /// How long before a shift starts volunteers may still cancel themselves.
    pub self_cancel_lead: chrono::Duration,
    /// Webhook target hosts allowed even in loopback or private ranges.
    pub webhook_allowed_hosts: Vec<String>,
    /// How long a session key from an emailed code works.
    pub session_lifetime: chrono::Duration,
    /// Abuse limits on sign-in, verification and applications.
    pub limits: Limits,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// The residents' front-end, whose pages QR codes point to.
    pub frontend: FrontendUrl,
    /// The smallest group a survey report shows.
    pub survey_min_group: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_import_bytes: 64 * 1024 * 1024,
            body_timeout: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(60),
            head_timeout: std::time::Duration::from_secs(10),
            self_cancel_lead: chrono::Duration::hours(3),
            webhook_allowed_hosts: Vec::new(),
            session_lifetime: chrono::Duration::days(30),
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            frontend: FrontendUrl::new("http://127.0.0.1:8080"),
            survey_min_group: 5,
        }
    }
}
