//! What the tests of the `huashen` binary share: running it, and waiting for it.

#![allow(dead_code)] // each test file uses its own part

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn huashen(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running huashen")
}

pub fn last_line(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// A child process that is killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until a server on `port` answers `/health/ready`; returns its base URL.
pub async fn ready(port: u16) -> String {
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{base}/health/ready")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    base
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `huashen serve` on `url` at `port`, logging warnings, its output discarded: add
/// flags and settings, then [`start`] it.
pub fn serve_command(url: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_huashen"));
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    command
}

/// Starts `command`; the process is killed when what this returns is dropped.
pub fn start(command: &mut Command) -> Running {
    command
        .spawn()
        .map(Running)
        .expect("starting huashen serve")
}

/// Request rates no load test reaches: the rate limit has tests of its own.
pub const UNLIMITED: [(&str, &str); 2] = [
    ("HUASHEN_RATE_PER_KEY", "100000"),
    ("HUASHEN_BURST_PER_KEY", "100000"),
];

/// Starts `huashen serve --no-worker` on `url`; returns it and its base URL.
pub async fn serve(url: &str) -> (Running, String) {
    let port = free_port();
    let server = start(serve_command(url, port).arg("--no-worker"));
    (server, ready(port).await)
}
