//! The mail path: `huashen-worker run` welcoming residents who moved in yesterday,
//! through a real SMTP server on loopback, against a bare lettre loop (pooled
//! `AsyncSmtpTransport`, the same concurrency) sending the same mail to a server of the
//! same kind. Both senders are processes of their own (the bare loop is this program,
//! run again with `--bare-lettre`) and both are timed the same way: from starting the
//! process to the last mail arriving.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use entities::enums::{MailKind, NotificationStatus};
use entities::{notification, person};
use huashen_tests::smtp::{Received, SmtpServer};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::load::{self, Run, Stop};
use crate::{Line, Scratch, cpu, peak_rss_mb};

/// Longest the worker may take over all the mail before the run counts as failed.
const LIMIT: Duration = Duration::from_secs(900);

/// Welcomes `count` new residents of `community` with Huashen's worker, then sends as
/// many of the same mail with bare lettre, in `rounds` rounds taking turns (so both meet
/// the machine in the same moods, as the other paths' turns do); each round welcomes
/// residents of its own.
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    db: &DatabaseConnection,
    scratch: &Scratch,
    worker: &Path,
    community: Uuid,
    count: usize,
    rounds: usize,
    concurrency: usize,
    kind: &'static str,
) -> anyhow::Result<Vec<Line>> {
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .pred_opt()
        .context("a day before today")?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round > 0 {
            // The previous round's residents settled long ago, so this round's worker
            // plans only its own welcomes. The final round's stay welcomed yesterday: the
            // planner path meets the ledger it met before there were rounds.
            person::Entity::update_many()
                .col_expr(
                    person::Column::MovedInOn,
                    Expr::value(yesterday - chrono::Days::new(400)),
                )
                .filter(person::Column::CommunityId.eq(community))
                .filter(person::Column::MovedInOn.eq(yesterday))
                .exec(db)
                .await?;
        }
        let residents = round * count..(round + 1) * count;
        huashen_tests::insert_residents(db, community, residents, |_, person| {
            person.moved_in_on = Some(yesterday);
        })
        .await?;
        let smtp = SmtpServer::start().await;
        let mut worker_run = Command::new(worker);
        worker_run
            .arg("run")
            .env("DATABASE_URL", &scratch.url)
            .env("SMTP_URL", smtp.url())
            .env("HUASHEN_MAIL_CONCURRENCY", concurrency.to_string())
            .env("RUST_LOG", "warn");
        let delivered = deliver(worker_run, scratch.database_name(), &smtp, count).await?;
        let sent = notification::Entity::find()
            .filter(notification::Column::Kind.eq(MailKind::Welcome))
            .filter(notification::Column::Status.eq(NotificationStatus::Sent))
            .count(db)
            .await?;
        let line = delivered.line("huashen", kind, count);
        let reached = (round * count) as u64 + line.run.operations;
        if sent != reached {
            bail!("{kind}: the ledger says {sent} welcomes were sent, the server got {reached}");
        }
        ours.push(line);
        let sample = delivered.received.first().context("no mail arrived")?;
        theirs.push(bare_lettre(sample, count, concurrency, kind).await?);
    }
    Ok(vec![merged(ours), merged(theirs)])
}

/// The rounds of one sender as one line: their mails over their summed time.
fn merged(rounds: Vec<Line>) -> Line {
    let mut rounds = rounds.into_iter();
    let mut all = rounds.next().expect("at least one round");
    let mut runs = vec![all.run];
    for line in rounds {
        runs.push(line.run);
        all.duplicates = Some(all.duplicates.unwrap_or(0) + line.duplicates.unwrap_or(0));
        all.rss_mb = match (all.rss_mb, line.rss_mb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let (Some(cpu), Some(more)) = (all.cpu.as_mut(), line.cpu) {
            *cpu += more;
        }
    }
    all.run = Run::merged(runs);
    all
}

/// What a sending process delivered to an SMTP server, and how fast.
struct Delivered {
    received: Vec<Received>,
    elapsed: Duration,
    rss_mb: Option<f64>,
    /// CPU time spent until the last mail arrived.
    cpu: cpu::Used,
}

impl Delivered {
    fn line(&self, who: &'static str, db: &'static str, count: usize) -> Line {
        let (recipients, duplicates) = recipients(&self.received);
        Line {
            path: "mail",
            db,
            who,
            run: Run::counted(
                recipients as u64,
                count.saturating_sub(recipients) as u64,
                self.elapsed,
            ),
            overbooked: None,
            duplicates: Some(duplicates),
            rss_mb: self.rss_mb,
            cpu: Some(self.cpu),
        }
    }
}

/// Starts `sender` and times it from there until `smtp` has had `count` mails (or the
/// sender exits first, or `LIMIT` passes); then waits long enough for a mail sent twice
/// to arrive twice, and stops the sender. `database` names the PostgreSQL database the
/// sender uses, whose backends' CPU time counts too.
async fn deliver(
    mut sender: Command,
    database: Option<&str>,
    smtp: &SmtpServer,
    count: usize,
) -> anyhow::Result<Delivered> {
    let started = Instant::now();
    let mut child = sender
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {:?}", sender.get_program()))?;
    let watch = cpu::Watch::new(child.id(), database);
    let before = watch.used();
    let mut sender_ticks = 0;
    let mut first = None;
    while (smtp.attempts() as usize) < count
        && started.elapsed() < LIMIT
        && child.try_wait()?.is_none()
    {
        // Read while it runs: a process's time is gone once it has exited.
        sender_ticks = watch.process().unwrap_or(sender_ticks);
        if first.is_none() && smtp.attempts() > 0 {
            first = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    if let Some(first) = first {
        eprintln!(
            "  {:?}: the first mail within {} ms of the start, the last after {} ms",
            sender.get_program(),
            first.as_millis(),
            elapsed.as_millis()
        );
    }
    let used = watch.used().with_process(sender_ticks) - before;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_mb = peak_rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Ok(Delivered {
        received: smtp.received(),
        elapsed,
        rss_mb,
        cpu: used,
    })
}

/// What the bare lettre process sends, and where.
#[derive(Serialize, Deserialize)]
pub struct BareLettre {
    port: u16,
    count: usize,
    concurrency: usize,
    from: String,
    subject: String,
    text: String,
    html: String,
}

/// `count` mails like `sample`, built and sent by lettre alone in a process of its own.
async fn bare_lettre(
    sample: &Received,
    count: usize,
    concurrency: usize,
    kind: &'static str,
) -> anyhow::Result<Line> {
    let smtp = SmtpServer::start().await;
    let job = BareLettre {
        port: smtp.port,
        count,
        concurrency,
        from: sample.from.clone(),
        subject: sample.subject(),
        text: sample.text(),
        html: sample.html(),
    };
    let file = std::env::temp_dir().join(format!("huashen-bench-mail-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&job)?)?;
    let mut sender = Command::new(std::env::current_exe()?);
    sender.arg("--bare-lettre").arg(&file);
    let delivered = deliver(sender, None, &smtp, count).await;
    let _ = std::fs::remove_file(&file);
    Ok(delivered?.line("bare lettre", kind, count))
}

/// The bare lettre process: sends the mails `job` (a file written by `bare_lettre`)
/// describes, `concurrency` at a time, and exits.
pub async fn send_bare(job: &Path) -> anyhow::Result<()> {
    let job: BareLettre = serde_json::from_slice(&std::fs::read(job)?)?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(job.port)
        .pool_config(PoolConfig::new().max_size(job.concurrency as u32))
        .build();
    let from: Mailbox = job.from.parse()?;
    let (subject, text, html) = (
        Arc::new(job.subject),
        Arc::new(job.text),
        Arc::new(job.html),
    );
    let run = load::run(job.concurrency, Stop::Count(job.count as u64), move |i| {
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
    if run.errors > 0 {
        bail!("{} of {} mails failed", run.errors, job.count);
    }
    Ok(())
}

/// How many addresses `received` reached, and how many mails arrived beyond one each.
fn recipients(received: &[Received]) -> (usize, u64) {
    let reached: HashSet<&str> = received
        .iter()
        .filter_map(|m| m.to.first().map(String::as_str))
        .collect();
    (reached.len(), (received.len() - reached.len()) as u64)
}
