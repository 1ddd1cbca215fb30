//! A webhook receiver on loopback for the tests: it records each POST and answers
//! with the status it is told to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Hit {
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    hits: Vec<Hit>,
    /// Statuses to answer, in order; 204 once they run out.
    answers: Vec<u16>,
}

pub struct Receiver {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the receiver");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let task = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let (read, mut write) = stream.into_split();
                        let mut reader = BufReader::new(read);
                        let mut headers = BTreeMap::new();
                        let mut line = String::new();
                        let _ = reader.read_line(&mut line).await;
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).await.unwrap_or(0) == 0
                                || line == "\r\n"
                                || line.trim().is_empty()
                            {
                                break;
                            }
                            if let Some((name, value)) = line.split_once(':') {
                                headers.insert(
                                    name.trim().to_ascii_lowercase(),
                                    value.trim().to_owned(),
                                );
                            }
                        }
                        let length = headers
                            .get("content-length")
                            .and_then(|l| l.parse().ok())
                            .unwrap_or(0);
                        let mut body = vec![0u8; length];
                        let _ = reader.read_exact(&mut body).await;
                        let status = {
                            let mut state = shared.lock().unwrap();
                            state.hits.push(Hit {
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                            });
                            if state.answers.is_empty() {
                                204
                            } else {
                                state.answers.remove(0)
                            }
                        };
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                        let _ = write.write_all(reply.as_bytes()).await;
                    });
                }
            }
        });
        Self { port, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Answers the next requests with these statuses.
    pub fn answer(&self, statuses: &[u16]) {
        self.shared
            .lock()
            .unwrap()
            .answers
            .extend_from_slice(statuses);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.lock().unwrap().hits.clone()
    }
}
