//! Huashen's background worker: the planner turns due facts into rows of the
//! notification ledger, and the sender delivers each row once, in its reader's
//! language. `tick` does both once; `jobs` runs them continuously on apalis.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lettre::message::Mailbox;
use sea_orm::DatabaseConnection;

pub mod audience;
pub mod bulk;
pub mod config;
pub mod digest;
pub mod format;
pub mod housekeeping;
pub mod jobs;
pub mod kinds;
pub mod ledger_db;
pub mod locale;
pub mod mailer;
pub mod markdown;
pub mod notices;
pub mod planner;
pub mod sender;
pub mod surveys;
pub mod telemetry;
pub mod templates;
pub mod webhooks;

pub use mailer::Mailer;
pub use sender::Outcome;
pub use templates::Templates;

/// Seconds a sender's hold on a ledger row lasts unless renewed.
pub const LEASE_SECS: u64 = 30;
/// Mails a worker sends at once unless told otherwise.
pub const DEFAULT_MAIL_CONCURRENCY: usize = 8;

/// Pages of the residents' front-end (`HUASHEN_FRONTEND_URL`): the template with
/// `{path}` replaced by a page's path such as `events/{id}`, or, without `{path}`, the
/// base URL followed by `/` and the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontendUrl(String);

impl FrontendUrl {
    pub fn new(template: &str) -> Self {
        if template.contains("{path}") {
            Self(template.to_owned())
        } else {
            Self(format!("{}/{{path}}", template.trim_end_matches('/')))
        }
    }

    /// The page at `path` (no leading `/`).
    pub fn page(&self, path: &str) -> String {
        self.0.replace("{path}", path)
    }
}

/// Mail settings, from the environment (`MAIL_FROM`, `PUBLIC_BASE_URL`, …).
#[derive(Clone, Debug)]
pub struct MailSettings {
    pub from: Mailbox,
    /// The feedback link; `{token}` is replaced by the one-time token.
    pub feedback_url: String,
    /// The sign-in link; `{token}` is replaced by the one-time token.
    pub sign_in_url: String,
    /// How long after an event ends its feedback requests go out.
    pub feedback_delay: Duration,
    /// How long after the moving-in day a welcome letter is still sent.
    pub welcome_within: Duration,
    /// How long a sender's hold on a row lasts unless renewed (it renews while it sends).
    pub lease: Duration,
    /// Attempts before a temporary failure becomes `failed`.
    pub max_attempts: i32,
    /// Webhook target hosts allowed even in loopback or private ranges.
    pub webhook_allowed_hosts: Vec<String>,
    /// The residents' front-end, for links to its pages.
    pub frontend: FrontendUrl,
    /// Notice and survey mails per minute, across all of them and every worker.
    pub notice_rate: u32,
    /// Mails one worker sends at once (and SMTP connections it keeps open).
    pub mail_concurrency: usize,
}

impl MailSettings {
    /// Settings with links under `public_base_url`.
    pub fn new(from: Mailbox, public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        Self {
            from,
            feedback_url: format!("{base}/v1/feedback/{{token}}"),
            sign_in_url: format!("{base}/sign-in/{{token}}"),
            feedback_delay: Duration::hours(2),
            welcome_within: Duration::days(14),
            lease: Duration::seconds(LEASE_SECS as i64),
            max_attempts: 5,
            webhook_allowed_hosts: Vec::new(),
            frontend: FrontendUrl::new(base),
            notice_rate: bulk::DEFAULT_RATE,
            mail_concurrency: DEFAULT_MAIL_CONCURRENCY,
        }
    }
}

/// Everything the planner and the sender need.
#[derive(Clone)]
pub struct Worker {
    pub db: DatabaseConnection,
    pub mailer: Mailer,
    pub templates: Arc<Templates>,
    pub settings: Arc<MailSettings>,
    /// For webhook deliveries.
    pub http: reqwest::Client,
}

/// Where the outbox goes when no SMTP server is configured.
pub fn default_outbox() -> PathBuf {
    PathBuf::from("./data/outbox")
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub planned: usize,
    pub outcomes: Vec<Outcome>,
    /// Webhook deliveries made.
    pub webhooks: usize,
}

impl Worker {
    pub fn plan_settings(&self) -> planner::PlanSettings {
        planner::PlanSettings {
            feedback_delay: self.settings.feedback_delay,
            welcome_within: self.settings.welcome_within,
            notice_rate: self.settings.notice_rate,
        }
    }

    /// Plans what is due at `now`, then sends every row due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<TickReport> {
        let planned = planner::plan(&self.db, self.plan_settings(), now).await?;
        let outcomes = sender::dispatch(self, || now, || false).await?;
        let webhooks = webhooks::deliver_due(self, now).await?;
        housekeeping::prune(&self.db, now).await?;
        Ok(TickReport {
            planned,
            outcomes,
            webhooks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FrontendUrl;

    #[test]
    fn frontend_pages_from_a_base_or_a_template() {
        let base = FrontendUrl::new("https://hsm.example.cn/");
        assert_eq!(base.page("events/1"), "https://hsm.example.cn/events/1");
        let hash = FrontendUrl::new("https://hsm.example.cn/#/{path}?from=qr");
        assert_eq!(
            hash.page("surveys/2"),
            "https://hsm.example.cn/#/surveys/2?from=qr"
        );
    }
}
