//! Sending a rendered mail: over SMTP (`SMTP_URL`, pooled, with timeouts), or into a
//! folder of `.eml` files when no SMTP server is configured, so the demo needs none.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::templates::RenderedMail;

/// Why a mail did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: a 4xx answer, a refused or broken connection, a timeout.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again will not help: a 5xx answer, an invalid address.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// A bound on a whole delivery, whatever the server does.
        deadline: Duration,
    },
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    /// SMTP when `smtp_url` is given (`smtp://user:pass@host:port`, `?tls=required` for
    /// STARTTLS, `smtps://` for TLS), otherwise `.eml` files in `outbox_dir`.
    ///
    /// `timeout` bounds connecting and each SMTP command; a whole delivery gets three times that.
    /// Up to `connections` SMTP connections are kept open and used at once.
    pub fn new(
        smtp_url: Option<&str>,
        outbox_dir: PathBuf,
        timeout: Duration,
        connections: u32,
    ) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("SMTP_URL is not usable: {e}"))?
                    .timeout(Some(timeout))
                    .pool_config(
                        PoolConfig::new()
                            .max_size(connections.max(1))
                            .idle_timeout(Duration::from_secs(30)),
                    )
                    .build();
                Ok(Self::Smtp {
                    transport,
                    deadline: timeout * 3,
                })
            }
            None => {
                std::fs::create_dir_all(&outbox_dir)?;
                Ok(Self::Outbox(AsyncFileTransport::new(outbox_dir)))
            }
        }
    }

    /// Sends `mail` from `from` to `to` as multipart/alternative (plain text and HTML).
    pub async fn send(
        &self,
        from: &Mailbox,
        to: Mailbox,
        mail: &RenderedMail,
    ) -> Result<(), SendError> {
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))?;
        let started = std::time::Instant::now();
        let sent = match self {
            Self::Smtp {
                transport,
                deadline,
            } => match tokio::time::timeout(*deadline, transport.send(message)).await {
                Err(_) => Err((
                    "timeout",
                    SendError::Transient(format!("no answer within {deadline:?}")),
                )),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) if e.is_permanent() => Err(("5xx", SendError::Permanent(e.to_string()))),
                Ok(Err(e)) => Err((failure_class(&e), SendError::Transient(e.to_string()))),
            },
            Self::Outbox(outbox) => outbox.send(message).await.map(|_| ()).map_err(|e| {
                (
                    "outbox",
                    SendError::Transient(format!("writing to the outbox: {e}")),
                )
            }),
        };
        metrics::histogram!("huashen_mail_send_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        sent.map_err(|(class, err)| {
            metrics::counter!("huashen_mail_failures_total", "class" => class).increment(1);
            err
        })
    }
}

/// What kind of temporary failure an SMTP error is, for the metrics.
fn failure_class(err: &lettre::transport::smtp::Error) -> &'static str {
    if err.is_transient() {
        "4xx"
    } else if err.is_timeout() {
        "timeout"
    } else if err.is_tls() {
        "tls"
    } else {
        "connection"
    }
}
