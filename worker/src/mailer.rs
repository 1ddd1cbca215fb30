//! Sending a rendered mail: over SMTP (`SMTP_URL`, connections kept open, commands
//! pipelined where the server allows, with timeouts), or into a folder of `.eml` files
//! when no SMTP server is configured, so the demo needs none.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{
    ClientId, Extension, MailBodyParameter, MailParameter, ServerInfo,
};
use lettre::transport::smtp::{SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

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
    Smtp(Arc<Smtp>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

/// A connection idle this long is closed rather than used: the server may have closed
/// its end meanwhile.
const REUSE_WITHIN: Duration = Duration::from_secs(10);

/// An SMTP server and the connections kept open to it. Each mail takes a connection
/// and gives it back once the server has answered, so a busy sender pays for neither a
/// new connection nor a check (lettre's pool sends a `NOOP` before every mail) per mail.
pub struct Smtp {
    server: Server,
    /// Bounds connecting and each SMTP command.
    timeout: Duration,
    /// A bound on a whole delivery, whatever the server does.
    deadline: Duration,
    /// Connections kept open at most.
    keep: usize,
    /// Connections not in use, the last one given back last.
    idle: Mutex<Vec<Kept>>,
}

struct Kept {
    connection: Connection,
    since: Instant,
}

/// An open SMTP connection, and whether its server takes commands in groups.
struct Connection {
    smtp: AsyncSmtpConnection,
    /// The server offers PIPELINING (RFC 2920).
    pipelining: bool,
}

/// Where `SMTP_URL` points and how to talk to it, read as lettre reads such a URL.
struct Server {
    host: String,
    port: u16,
    tls: Tls,
    hello: ClientId,
    credentials: Option<Credentials>,
}

impl Server {
    /// `smtp://host:port` (25), `?tls=required` or `?tls=opportunistic` for STARTTLS
    /// (587), `smtps://` for TLS from the start (465); `user:password@` to log in, a path
    /// for the name to greet the server with.
    fn parse(url: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(url)?;
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("no host"))?
            .to_owned();
        let tls_mode = url.query_pairs().find(|(key, _)| key == "tls");
        let tls = || TlsParameters::new(host.clone());
        let (tls, default_port) = match (url.scheme(), tls_mode.as_ref().map(|(_, v)| &**v)) {
            ("smtp", None) => (Tls::None, SMTP_PORT),
            ("smtp", Some("required")) => (Tls::Required(tls()?), SUBMISSION_PORT),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic(tls()?), SUBMISSION_PORT),
            ("smtps", _) => (Tls::Wrapper(tls()?), SUBMISSIONS_PORT),
            (scheme, mode) => anyhow::bail!("unknown scheme {scheme:?} or tls={mode:?}"),
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let decode = |s: &str| -> anyhow::Result<String> {
            Ok(percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(Cow::into_owned)?)
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            tls,
            hello,
            credentials,
        })
    }
}

type SmtpError = lettre::transport::smtp::Error;

impl Smtp {
    /// Delivers `email` to `envelope`'s recipients, on a kept connection if there is one.
    async fn send(&self, envelope: &Envelope, email: &[u8]) -> Result<(), SmtpError> {
        if let Some(mut kept) = self.take() {
            match kept.send(envelope, email).await {
                Ok(()) => {
                    self.give_back(kept);
                    return Ok(());
                }
                // A server may close a connection it has served long enough: the mail
                // goes once more, on a new one.
                Err(err) if connection_gone(&err) => {}
                Err(err) => return Err(err),
            }
        }
        let mut connection = self.connect().await?;
        let sent = connection.send(envelope, email).await;
        self.give_back(connection);
        sent
    }

    /// The connection given back last, if it has not been idle too long.
    fn take(&self) -> Option<Connection> {
        let mut idle = self.lock_idle();
        let kept = idle.pop()?;
        if kept.since.elapsed() < REUSE_WITHIN {
            return Some(kept.connection);
        }
        // The others have been idle longer still.
        idle.clear();
        None
    }

    /// Keeps `connection` for the next mail, unless it broke or enough are kept.
    fn give_back(&self, connection: Connection) {
        let mut idle = self.lock_idle();
        if !connection.smtp.has_broken() && idle.len() < self.keep {
            idle.push(Kept {
                connection,
                since: Instant::now(),
            });
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new connection: greeted, encrypted as the URL says, logged in.
    async fn connect(&self) -> Result<Connection, SmtpError> {
        let Server {
            host,
            port,
            tls,
            hello,
            credentials,
        } = &self.server;
        let wrapped = match tls {
            Tls::Wrapper(parameters) => Some(parameters.clone()),
            _ => None,
        };
        let mut connection = AsyncSmtpConnection::connect_tokio1(
            (host.as_str(), *port),
            Some(self.timeout),
            hello,
            wrapped,
            None,
        )
        .await?;
        match tls {
            Tls::Required(parameters) => connection.starttls(parameters.clone(), hello).await?,
            Tls::Opportunistic(parameters) if connection.can_starttls() => {
                connection.starttls(parameters.clone(), hello).await?
            }
            _ => {}
        }
        let pipelining = offers_pipelining(&mut connection, hello).await?;
        if let Some(credentials) = credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(Connection {
            smtp: connection,
            pipelining,
        })
    }
}

/// Whether the server takes commands in groups. lettre reads the other extensions from
/// the server's greeting but drops this one, so the greeting is asked for once more.
async fn offers_pipelining(
    connection: &mut AsyncSmtpConnection,
    hello: &ClientId,
) -> Result<bool, SmtpError> {
    let greeting = connection.command(Ehlo::new(hello.clone())).await?;
    Ok(greeting.message().any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
    }))
}

impl Connection {
    /// Delivers `email` to `envelope`'s recipients. Where the server allows, `MAIL`,
    /// `RCPT` and `DATA` go in one write and their answers are read after it: two round
    /// trips a mail instead of four, which across a real network is most of a mail's
    /// time. After any error the connection is closed, as lettre closes its own.
    async fn send(&mut self, envelope: &Envelope, email: &[u8]) -> Result<(), SmtpError> {
        let parameters = self
            .pipelining
            .then(|| mail_parameters(self.smtp.server_info(), envelope, email))
            .flatten();
        // Either no pipelining, or a mail the server cannot take: lettre says why.
        let Some(parameters) = parameters else {
            return self.smtp.send(envelope, email).await.map(drop);
        };
        let sent = self.send_pipelined(envelope, email, parameters).await;
        if sent.is_err() {
            self.smtp.abort().await;
        }
        sent
    }

    async fn send_pipelined(
        &mut self,
        envelope: &Envelope,
        email: &[u8],
        parameters: Vec<MailParameter>,
    ) -> Result<(), SmtpError> {
        let mut group = Mail::new(envelope.from().cloned(), parameters).to_string();
        for to in envelope.to() {
            group += &Rcpt::new(to.clone(), vec![]).to_string();
        }
        group += &Data.to_string();
        // Every answer is read, whatever the earlier ones said, so that the first
        // refusal is the one reported (a refused recipient makes the server refuse
        // `DATA` too). No answer at all ends it at once.
        let mut refused = None;
        // One answer to `MAIL`, one to each `RCPT`, one to `DATA`.
        for n in 0..envelope.to().len() + 2 {
            let answer = if n == 0 {
                self.smtp.command(&group).await
            } else {
                self.smtp.read_response().await
            };
            if let Err(err) = answer {
                let gone = err.status().is_none();
                refused.get_or_insert(err);
                if gone {
                    break;
                }
            }
        }
        match refused {
            Some(err) => Err(err),
            None => self.smtp.message(email).await.map(drop),
        }
    }
}

/// The `MAIL` parameters lettre's own `send` would give `email`, or `None` where the
/// server lacks an extension the mail needs.
fn mail_parameters(
    server: &ServerInfo,
    envelope: &Envelope,
    email: &[u8],
) -> Option<Vec<MailParameter>> {
    let mut parameters = Vec::new();
    let mut addresses = envelope.from().into_iter().chain(envelope.to());
    if addresses.any(|address| !AsRef::<str>::as_ref(address).is_ascii()) {
        server
            .supports_feature(Extension::SmtpUtfEight)
            .then_some(())?;
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !email.is_ascii() {
        server
            .supports_feature(Extension::EightBitMime)
            .then_some(())?;
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Some(parameters)
}

impl Mailer {
    /// SMTP when `smtp_url` is given (`smtp://user:pass@host:port`, `?tls=required` for
    /// STARTTLS, `smtps://` for TLS), otherwise `.eml` files in `outbox_dir`.
    ///
    /// `timeout` bounds connecting and each SMTP command; a whole delivery gets three times that.
    /// Up to `connections` SMTP connections are kept open for the next mails.
    pub fn new(
        smtp_url: Option<&str>,
        outbox_dir: PathBuf,
        timeout: Duration,
        connections: u32,
    ) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => {
                let server = Server::parse(url)
                    .map_err(|e| anyhow::anyhow!("SMTP_URL is not usable: {e}"))?;
                Ok(Self::Smtp(Arc::new(Smtp {
                    server,
                    timeout,
                    deadline: timeout * 3,
                    keep: connections.max(1) as usize,
                    idle: Mutex::default(),
                })))
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
            .message_id(Some(message_id(from)))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))?;
        let started = Instant::now();
        let sent = match self {
            Self::Smtp(smtp) => {
                let email = message.formatted();
                let sending = smtp.send(message.envelope(), &email);
                match tokio::time::timeout(smtp.deadline, sending).await {
                    Err(_) => Err((
                        "timeout",
                        SendError::Transient(format!("no answer within {:?}", smtp.deadline)),
                    )),
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) if e.is_permanent() => {
                        Err(("5xx", SendError::Permanent(e.to_string())))
                    }
                    Ok(Err(e)) => Err((failure_class(&e), SendError::Transient(e.to_string()))),
                }
            }
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

/// A new Message-ID at the sender's domain, which RFC 5322 (3.6.4) suggests: a domain
/// the sender controls. lettre's own asks the system for the host's name for every mail.
fn message_id(from: &Mailbox) -> String {
    format!(
        "<{}@{}>",
        uuid::Uuid::now_v7().simple(),
        from.email.domain()
    )
}

/// Whether `err` says the connection is gone rather than anything about the mail: no
/// answer at all, or `421`, a server closing the connection.
fn connection_gone(err: &SmtpError) -> bool {
    match err.status() {
        Some(code) => u16::from(code) == 421,
        None => !err.is_client(),
    }
}

/// What kind of temporary failure an SMTP error is, for the metrics.
fn failure_class(err: &SmtpError) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read_as_lettre_reads_them() {
        let plain = Server::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 2525));
        assert!(matches!(plain.tls, Tls::None));
        assert!(plain.credentials.is_none());

        let starttls = Server::parse("smtp://mail.example.cn?tls=required").unwrap();
        assert_eq!(starttls.port, SUBMISSION_PORT);
        assert!(matches!(starttls.tls, Tls::Required(_)));
        let maybe = Server::parse("smtp://mail.example.cn?tls=opportunistic").unwrap();
        assert!(matches!(maybe.tls, Tls::Opportunistic(_)));

        let wrapped =
            Server::parse("smtps://huashen%40hsm:p%2Fss@mail.example.cn/hsm.example.cn").unwrap();
        assert_eq!(wrapped.port, SUBMISSIONS_PORT);
        assert!(matches!(wrapped.tls, Tls::Wrapper(_)));
        assert!(wrapped.credentials == Some(Credentials::new("huashen@hsm".into(), "p/ss".into())));
        assert_eq!(wrapped.hello, ClientId::Domain("hsm.example.cn".to_owned()));

        for unusable in [
            "http://mail.example.cn",
            "smtp://mail.example.cn?tls=never",
            "smtp://",
        ] {
            assert!(Server::parse(unusable).is_err(), "{unusable}");
        }
    }
}
