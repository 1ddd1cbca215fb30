//! The developers' migration commands open the database as the servers do, on SQLite
//! and PostgreSQL.

mod support;

use std::process::Command;

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
    let dir = support::ScratchDir::new();
    let file = dir.path().join("data").join("huashen.db");
    round(&format!("sqlite://{}", file.display()));
    assert!(file.exists(), "{} was not created", file.display());
}

#[tokio::test]
async fn postgres() {
    let scratch = support::ScratchPostgres::create().await;
    let url = scratch.url.clone();
    let result = tokio::task::spawn_blocking(move || round(&url)).await;
    scratch.drop().await;
    result.unwrap();
}
