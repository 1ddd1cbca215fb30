//! A real SMTP server on loopback for the tests: it speaks SMTP over TCP, keeps what it
//! accepts, and can be told to fail the next deliveries the ways real servers do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers the next message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    Accept,
    /// `451` to the next `n` messages, then accept.
    RejectTemporarily(u32),
    /// `550` to every message.
    RejectPermanently,
    /// Accept connections and never say a word.
    Stall,
    /// Close the connection after the first line of the next message's DATA.
    DropMidData,
    /// Take this long to accept each message.
    Slow(Duration),
    /// Take this long to accept the next message, then accept at once.
    SlowOnce(Duration),
    /// Close the connection after accepting each message, as servers that limit
    /// messages per connection do.
    OneMessagePerConnection,
    /// `550` to every recipient, as for addresses that do not exist, and so `554` to
    /// the `DATA` that follows.
    RefuseRecipients,
}

/// A message the server accepted.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .expect("a parsable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    behavior: Option<Behavior>,
    /// Every DATA the server answered, accepted or not.
    attempts: u32,
    /// Every DATA the server began to read.
    started: u32,
    /// The server does not offer PIPELINING.
    no_pipelining: bool,
    /// Every MAIL that arrived together with the commands after it (RFC 2920).
    pipelined: u32,
}

pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the SMTP port");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Mutex::new(Shared {
            behavior: Some(Behavior::Accept),
            ..Shared::default()
        }));
        let task = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(session(stream, Arc::clone(&shared)));
                }
            }
        });
        Self { port, shared, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, behavior: Behavior) {
        self.shared.lock().unwrap().behavior = Some(behavior);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// How many messages were offered, whatever the answer.
    pub fn attempts(&self) -> u32 {
        self.shared.lock().unwrap().attempts
    }

    /// How many messages the server began to read, answered yet or not.
    pub fn started(&self) -> u32 {
        self.shared.lock().unwrap().started
    }

    /// Whether the server offers PIPELINING to the connections opened from now on (it
    /// does unless told otherwise, as mail servers do).
    pub fn offer_pipelining(&self, offer: bool) {
        self.shared.lock().unwrap().no_pipelining = !offer;
    }

    /// How many `MAIL` commands arrived together with the commands after them.
    pub fn pipelined(&self) -> u32 {
        self.shared.lock().unwrap().pipelined
    }

    /// Waits until `count` messages arrived, or panics after `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let started = std::time::Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                started.elapsed() < within,
                "{} of {count} mails arrived within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn session(stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    if shared.lock().unwrap().behavior == Some(Behavior::Stall) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    // Acknowledge every segment at once, as a server across a real network does soon
    // enough: with the kernel's delayed ACK on loopback, a client's last small write of
    // a message (`.`) would wait 40 ms for the ACK of the body (Nagle).
    let Some((stream, socket)) = stream
        .into_std()
        .and_then(|std| Ok((socket2::Socket::from(std.try_clone()?), std)))
        .and_then(|(socket, std)| Ok((TcpStream::from_std(std)?, socket)))
        .ok()
    else {
        return;
    };
    let ack_at_once = || {
        let _ = socket.set_tcp_quickack(true);
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut from = String::new();
    let mut to = Vec::new();
    let mut closing = false;
    // Answers not yet written: those to pipelined commands go out together once no
    // command is waiting, as RFC 2920 has servers do (written one by one, the second
    // would wait for the client's delayed ACK of the first).
    let mut answers = Vec::new();
    let pipelining: &[u8] = if shared.lock().unwrap().no_pipelining {
        b""
    } else {
        b"250-PIPELINING\r\n"
    };
    let greeting = [
        b"250-localhost\r\n".as_slice(),
        pipelining,
        b"250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n",
    ]
    .concat();
    if write
        .write_all(b"220 localhost ESMTP test server\r\n")
        .await
        .is_err()
    {
        return;
    }
    while let Ok(Some(line)) = {
        ack_at_once();
        lines.next_line().await
    } {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            &greeting
        } else if upper.starts_with("AUTH PLAIN") {
            // Any user and password will do.
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().to_owned();
            if !lines.get_ref().buffer().is_empty() {
                shared.lock().unwrap().pipelined += 1;
            }
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if shared.lock().unwrap().behavior == Some(Behavior::RefuseRecipients) {
                b"550 5.1.1 No such user here\r\n"
            } else {
                to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                b"250 OK\r\n"
            }
        } else if upper == "DATA" && to.is_empty() {
            b"554 5.5.1 No valid recipients\r\n"
        } else if upper == "DATA" {
            answers.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
            if write.write_all(&answers).await.is_err() {
                return;
            }
            answers.clear();
            shared.lock().unwrap().started += 1;
            let mut data = String::new();
            while let Ok(Some(line)) = {
                ack_at_once();
                lines.next_line().await
            } {
                if line == "." {
                    break;
                }
                let mut state = shared.lock().unwrap();
                if state.behavior == Some(Behavior::DropMidData) {
                    state.behavior = Some(Behavior::Accept);
                    state.attempts += 1;
                    return;
                }
                drop(state);
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
                data.push_str("\r\n");
            }
            let slow = {
                let mut state = shared.lock().unwrap();
                match state.behavior {
                    Some(Behavior::Slow(pause)) => Some(pause),
                    Some(Behavior::SlowOnce(pause)) => {
                        state.behavior = Some(Behavior::Accept);
                        Some(pause)
                    }
                    _ => None,
                }
            };
            if let Some(pause) = slow {
                tokio::time::sleep(pause).await;
            }
            let mut state = shared.lock().unwrap();
            state.attempts += 1;
            match state.behavior.unwrap_or(Behavior::Accept) {
                Behavior::RejectTemporarily(n) => {
                    state.behavior = Some(if n > 1 {
                        Behavior::RejectTemporarily(n - 1)
                    } else {
                        Behavior::Accept
                    });
                    b"451 4.3.0 Try again later\r\n"
                }
                Behavior::RejectPermanently => b"550 5.1.1 Mailbox unavailable\r\n",
                behavior => {
                    closing = behavior == Behavior::OneMessagePerConnection;
                    state.received.push(Received {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data,
                    });
                    b"250 OK queued\r\n"
                }
            }
        } else if upper.starts_with("QUIT") {
            answers.extend_from_slice(b"221 Bye\r\n");
            let _ = write.write_all(&answers).await;
            return;
        } else {
            b"502 Command not implemented\r\n"
        };
        answers.extend_from_slice(reply);
        if closing || lines.get_ref().buffer().is_empty() {
            if write.write_all(&answers).await.is_err() || closing {
                return;
            }
            answers.clear();
        }
    }
}
