//! What the migration tests share: unique names, a folder and a PostgreSQL database of
//! their own.
//!
//! `HUASHEN_TEST_POSTGRES_URL` points at the PostgreSQL server in which a test creates
//! and drops its database (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use migration::database::connect;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection};

/// A name no other test run uses, for a database or a folder.
pub fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("huashen_migrations_{}_{nanos}", std::process::id())
}

/// A folder of its own under the temporary folder, not yet created, removed with
/// whatever is in it when the test ends, whether it passed or not.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new() -> Self {
        Self(std::env::temp_dir().join(unique_name()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An empty PostgreSQL database at `url`, dropped by `drop`.
pub struct ScratchPostgres {
    admin: DatabaseConnection,
    name: String,
    pub url: String,
}

impl ScratchPostgres {
    pub async fn create() -> Self {
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
        Self { admin, name, url }
    }

    pub async fn drop(self) {
        self.admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("dropping the database");
        let _ = self.admin.close().await;
    }
}
