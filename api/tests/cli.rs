//! The `huashen` binary as an operator uses it: migrate, create-key, seed-demo, serve,
//! and a graceful stop on SIGTERM. Runs on SQLite and PostgreSQL.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use huashen_tests::{Backend, TestDatabase};

fn huashen(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running huashen")
}

fn last_line(output: &Output) -> String {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn operator_workflow(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let url = database.url.as_str();
    assert!(huashen(url, &["migrate"]).status.success());

    let admin = last_line(&huashen(url, &["create-key", "--role", "admin"]));
    assert!(admin.starts_with("hs_"), "{admin}");
    let refused = huashen(url, &["create-key", "--role", "organizer"]);
    assert!(
        !refused.status.success(),
        "an organizer key needs a community"
    );

    let seeded = last_line(&huashen(url, &["seed-demo"]));
    assert!(
        seeded.starts_with("hs_"),
        "the first seed prints the demo admin key: {seeded}"
    );
    let again = last_line(&huashen(url, &["seed-demo"]));
    assert!(
        again.contains("already"),
        "seeding twice does nothing: {again}"
    );

    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starting huashen serve");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stations: serde_json::Value = client
        .get(format!("{base}/v1/stations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = stations["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        5,
        "the demo's five stations, listed without a key"
    );
    assert!(
        items
            .iter()
            .any(|s| s["name"]["zh-CN"] == "英语角" && s["name"]["en"] == "English Corner")
    );
    let communities = client
        .get(format!("{base}/v1/communities"))
        .bearer_auth(&seeded)
        .send()
        .await
        .unwrap();
    assert_eq!(communities.status(), 200);
    let shifts: serde_json::Value = client
        .get(format!("{base}/v1/shifts?limit=200"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        shifts["items"].as_array().unwrap().len() >= 15,
        "three weeks of shifts"
    );

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "a graceful stop exits 0: {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn operator_workflow_sqlite() {
    operator_workflow(Backend::Sqlite).await;
}

#[tokio::test]
async fn operator_workflow_postgres() {
    operator_workflow(Backend::Postgres).await;
}

#[test]
fn openapi_needs_no_database() {
    let output = huashen("postgres://nobody@127.0.0.1:1/none", &["openapi"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        huashen_api::app::spec_yaml()
    );
}

#[test]
fn help_documents_settings() {
    let output = Command::new(env!("CARGO_BIN_EXE_huashen"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "HUASHEN_BIND",
        "DATABASE_URL",
        "HUASHEN_CORS_ORIGINS",
        "HUASHEN_MAX_BODY_BYTES",
        "--demo",
    ] {
        assert!(help.contains(setting), "--help lacks {setting}:\n{help}");
    }
}
