//! The developers' migration commands open the database as the servers do, on SQLite
//! and PostgreSQL.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use migration::database::connect;
use sea_orm_migration::sea_orm::ConnectionTrait;

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("huashen_migration_cli_{}_{nanos}", std::process::id())
}

/// Runs `migration <args>` against `url` and returns what it printed.
fn migration(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_migration"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("running the migration command");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "migration {args:?}: {printed}");
    printed
}

/// `up`, one step `down`, `fresh`, then `status` says every migration is applied.
fn round(url: &str) {
    migration(url, &["up"]);
    migration(url, &["down", "-n", "1"]);
    assert!(migration(url, &["status"]).contains("Pending"));
    migration(url, &["fresh"]);
    let status = migration(url, &["status"]);
    assert!(
        status.contains("Applied") && !status.contains("Pending"),
        "{status}"
    );
}

#[test]
fn sqlite_file_and_folder_are_created() {
    let dir = std::env::temp_dir().join(unique_name());
    let file = dir.join("data").join("huashen.db");
    round(&format!("sqlite://{}", file.display()));
    let created = file.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(created, "{} was not created", file.display());
}

#[tokio::test]
async fn postgres() {
    let admin_url = std::env::var("HUASHEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is needed for this test: {e:#}"));
    let name = unique_name();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("creating the database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(&*admin_url, |(base, _)| base);
    let url = format!("{base}/{name}");
    let result = tokio::task::spawn_blocking(move || round(&url)).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("dropping the database");
    let _ = admin.close().await;
    result.unwrap();
}
