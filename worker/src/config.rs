//! The worker's settings, as flags or environment variables.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::{MailSettings, Mailer, Templates, Worker};

#[derive(clap::Args, Clone, Debug)]
pub struct MailArgs {
    /// SMTP server: `smtp://user:pass@host:port` (add `?tls=required` for STARTTLS) or
    /// `smtps://…`. Without it, mail is written as .eml files to the outbox folder.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of every mail.
    #[arg(long, env = "MAIL_FROM", default_value = "Huashen <huashen@localhost>")]
    pub mail_from: String,
    /// Base of links in mails.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub public_base_url: String,
    /// The residents' front-end, for QR codes on posters and links in mails: a base
    /// URL (pages at `<base>/events/{id}`, `/shifts/{id}`, `/stations/{id}`,
    /// `/surveys/{id}`) or a template with `{path}` (`https://x.cn/#/{path}`).
    /// Default PUBLIC_BASE_URL.
    #[arg(long, env = "HUASHEN_FRONTEND_URL")]
    pub frontend_url: Option<String>,
    /// The feedback link, with `{token}` for the one-time token; default
    /// `<PUBLIC_BASE_URL>/v1/feedback/{token}`.
    #[arg(long, env = "HUASHEN_FEEDBACK_URL")]
    pub feedback_url: Option<String>,
    /// The sign-in link in sign-in and verification mails, with `{token}` for the
    /// one-time token: a front-end's page that posts it to `/v1/sign-in/verify`.
    /// Default `<PUBLIC_BASE_URL>/sign-in/{token}`, a page Huashen serves.
    #[arg(long, env = "HUASHEN_SIGN_IN_URL")]
    pub sign_in_url: Option<String>,
    /// Where mail goes when there is no SMTP_URL.
    #[arg(long, env = "HUASHEN_OUTBOX_DIR", default_value = "./data/outbox")]
    pub outbox_dir: PathBuf,
    /// Seconds to connect to the SMTP server and for each command.
    #[arg(long, env = "SMTP_TIMEOUT_SECS", default_value_t = 10)]
    pub smtp_timeout_secs: u64,
    /// Seconds a sender holds a ledger row without renewing it; it renews the hold
    /// every third of this while it sends, so a row held by a process that died is
    /// taken again this soon after.
    #[arg(long, env = "HUASHEN_MAIL_LEASE_SECS", default_value_t = crate::LEASE_SECS)]
    pub lease_secs: u64,
    /// Webhook target hosts allowed even though they are loopback or private,
    /// comma-separated (e.g. an intranet front-end).
    #[arg(long, env = "HUASHEN_WEBHOOK_ALLOWED_HOSTS", value_delimiter = ',')]
    pub webhook_allowed_hosts: Vec<String>,
    /// Days after the moving-in day a welcome letter is still sent (1–365); a person
    /// who moved in earlier (say, imported years later) gets none.
    #[arg(long, env = "HUASHEN_WELCOME_WITHIN_DAYS", default_value_t = 14,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub welcome_within_days: u32,
    /// Notice and survey mails per minute, across every notice, survey and worker: a
    /// notice to thousands of residents goes out over as many minutes as it takes.
    #[arg(long, env = "HUASHEN_NOTICE_RATE", default_value_t = crate::bulk::DEFAULT_RATE,
          value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub notice_rate: u32,
    /// Mails sent at once (1–64), each over an SMTP connection kept open for the next.
    #[arg(long, env = "HUASHEN_MAIL_CONCURRENCY", default_value_t = crate::DEFAULT_MAIL_CONCURRENCY as u32,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub mail_concurrency: u32,
    /// Also serve `GET /metrics` (Prometheus, no key) on this address, e.g.
    /// `127.0.0.1:9464`; keep it off public interfaces.
    #[arg(long, env = "HUASHEN_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// When the planner runs: a cron expression with seconds first.
    #[arg(long, env = "HUASHEN_PLAN_SCHEDULE", default_value = "0 * * * * *")]
    pub plan_schedule: String,
}

impl MailArgs {
    /// The residents' front-end these settings name.
    pub fn frontend(&self) -> crate::FrontendUrl {
        crate::FrontendUrl::new(
            self.frontend_url
                .as_deref()
                .unwrap_or(&self.public_base_url),
        )
    }

    /// The worker these settings describe, over `db`.
    pub fn worker(&self, db: DatabaseConnection) -> anyhow::Result<Worker> {
        crate::telemetry::recorder();
        let from = self.mail_from.parse().map_err(|e| {
            anyhow::anyhow!("MAIL_FROM `{}` is not an address: {e}", self.mail_from)
        })?;
        let mut settings = MailSettings::new(from, &self.public_base_url);
        for (given, setting, name) in [
            (
                &self.feedback_url,
                &mut settings.feedback_url,
                "HUASHEN_FEEDBACK_URL",
            ),
            (
                &self.sign_in_url,
                &mut settings.sign_in_url,
                "HUASHEN_SIGN_IN_URL",
            ),
        ] {
            if let Some(url) = given {
                anyhow::ensure!(
                    url.contains("{token}"),
                    "{name} needs a `{{token}}` placeholder"
                );
                setting.clone_from(url);
            }
        }
        settings.welcome_within = chrono::Duration::days(self.welcome_within_days.into());
        settings.lease = chrono::Duration::seconds(self.lease_secs.max(1) as i64);
        settings.webhook_allowed_hosts = self.webhook_allowed_hosts.clone();
        settings.frontend = self.frontend();
        settings.notice_rate = self.notice_rate;
        settings.mail_concurrency = self.mail_concurrency as usize;
        let timeout = Duration::from_secs(self.smtp_timeout_secs.max(1));
        Ok(Worker {
            db,
            mailer: Mailer::new(
                self.smtp_url.as_deref(),
                self.outbox_dir.clone(),
                timeout,
                self.mail_concurrency,
            )?,
            templates: Arc::new(Templates::load()),
            settings: Arc::new(settings),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?,
        })
    }
}
