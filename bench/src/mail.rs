//! The mail path: `huashen-worker run` welcoming residents who moved in yesterday,
//! through a real SMTP server on loopback, against a bare lettre loop (pooled
//! `AsyncSmtpTransport`, the same concurrency) sending the same mail to a server of the
//! same kind.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use entities::enums::{MailKind, NotificationStatus};
use entities::notification;
use huashen_tests::smtp::{Received, SmtpServer};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::load::{self, Run, Stop};
use crate::{Line, peak_rss_mb};

/// Longest the worker may take over all the mail before the run counts as failed.
const LIMIT: Duration = Duration::from_secs(900);

/// Welcomes `count` new residents of `community` with Huashen's worker, then sends as
/// many of the same mail with bare lettre; `first` numbers the residents.
pub async fn measure(
    db: &DatabaseConnection,
    database_url: &str,
    worker: &Path,
    community: Uuid,
    count: usize,
    concurrency: usize,
    kind: &'static str,
) -> anyhow::Result<Vec<Line>> {
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .pred_opt()
        .context("a day before today")?;
    huashen_tests::insert_residents(db, community, 0..count, |_, person| {
        person.moved_in_on = Some(yesterday);
    })
    .await?;

    let smtp = SmtpServer::start().await;
    let started = Instant::now();
    let mut child = Command::new(worker)
        .arg("run")
        .env("DATABASE_URL", database_url)
        .env("SMTP_URL", smtp.url())
        .env("HUASHEN_MAIL_CONCURRENCY", concurrency.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", worker.display()))?;
    while (smtp.attempts() as usize) < count && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    // Long enough for a mail sent twice to arrive twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_mb = peak_rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let received = smtp.received();
    let (recipients, duplicates) = recipients(&received);
    let sent = notification::Entity::find()
        .filter(notification::Column::Kind.eq(MailKind::Welcome))
        .filter(notification::Column::Status.eq(NotificationStatus::Sent))
        .count(db)
        .await?;
    if sent as usize != recipients {
        bail!("{kind}: the ledger says {sent} welcomes were sent, the server got {recipients}");
    }
    let ours = Line {
        path: "mail",
        db: kind,
        who: "huashen",
        run: Run::counted(
            recipients as u64,
            count.saturating_sub(recipients) as u64,
            elapsed,
        ),
        overbooked: None,
        duplicates: Some(duplicates),
        rss_mb,
    };

    let sample = received.first().context("no mail arrived")?;
    let theirs = bare_lettre(sample, count, concurrency, kind).await?;
    Ok(vec![ours, theirs])
}

/// `count` mails like `sample`, built and sent by lettre alone.
async fn bare_lettre(
    sample: &Received,
    count: usize,
    concurrency: usize,
    kind: &'static str,
) -> anyhow::Result<Line> {
    let smtp = SmtpServer::start().await;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp.port)
        .pool_config(PoolConfig::new().max_size(concurrency as u32))
        .build();
    let from: Mailbox = sample.from.parse()?;
    let (subject, text, html) = (
        Arc::new(sample.subject()),
        Arc::new(sample.text()),
        Arc::new(sample.html()),
    );
    let run = load::run(concurrency, Stop::Count(count as u64), move |i| {
        let (transport, from) = (transport.clone(), from.clone());
        let (subject, text, html) = (subject.clone(), text.clone(), html.clone());
        async move {
            let Ok(to) = format!("resident{i}@example.cn").parse::<Mailbox>() else {
                return false;
            };
            let Ok(message) = Message::builder()
                .from(from)
                .to(to)
                .subject(subject.as_str())
                .message_id(None)
                .multipart(MultiPart::alternative_plain_html(
                    text.to_string(),
                    html.to_string(),
                ))
            else {
                return false;
            };
            transport.send(message).await.is_ok()
        }
    })
    .await;
    let (_, duplicates) = recipients(&smtp.received());
    Ok(Line {
        path: "mail",
        db: kind,
        who: "bare lettre",
        duplicates: Some(duplicates),
        run,
        overbooked: None,
        rss_mb: None,
    })
}

/// How many addresses `received` reached, and how many mails arrived beyond one each.
fn recipients(received: &[Received]) -> (usize, u64) {
    let reached: HashSet<&str> = received
        .iter()
        .filter_map(|m| m.to.first().map(String::as_str))
        .collect();
    (reached.len(), (received.len() - reached.len()) as u64)
}
