//! Backups of the embedded SQLite database, taken while it serves (`VACUUM INTO`
//! writes a consistent copy from one read transaction), and their restore. PostgreSQL
//! deployments use `pg_dump` and `pg_restore` (see the README).

use std::path::Path;

use anyhow::{Context, bail};
use migration::database::{connect, sqlite_path};
use migration::{MigratorTrait, sea_orm::ConnectionTrait, sea_orm::Statement};

const ONLY_SQLITE: &str = "backup and restore copy SQLite databases; for PostgreSQL use \
                           pg_dump and pg_restore (see the README)";

/// Writes a consistent copy of the SQLite database at `url` to the new file `to`,
/// while other processes go on using the database, then checks the copy.
pub async fn backup(url: &str, to: &Path) -> anyhow::Result<String> {
    sqlite_path(url).context(ONLY_SQLITE)?;
    if to.exists() {
        bail!("{} exists; back up into a new file", to.display());
    }
    let db = connect(url).await?;
    let target = to.to_str().context("the backup's path is not UTF-8")?;
    db.execute_unprepared(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
        .await
        .context("copying the database")?;
    db.close().await?;
    check(to).await
}

/// Checks a copy of `file` (opening a database may change it), removed afterwards.
pub async fn check(file: &Path) -> anyhow::Result<String> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let copy = std::env::temp_dir().join(format!("huashen-check-{}.db", uuid::Uuid::now_v7()));
    std::fs::copy(file, &copy).with_context(|| format!("reading {}", file.display()))?;
    let checked = check_in_place(&copy).await;
    remove(&copy, &["", "-wal", "-shm"])?;
    checked
}

/// Removes `path` with each of `suffixes` (`""` for the file itself), where present.
fn remove(path: &Path, suffixes: &[&str]) -> anyhow::Result<()> {
    for suffix in suffixes {
        let file = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&file) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(err).with_context(|| format!("removing {file}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks that `file` is an intact Huashen database this version can serve; returns
/// its schema version (the last migration applied).
async fn check_in_place(file: &Path) -> anyhow::Result<String> {
    let db = connect(&format!("sqlite://{}", file.display())).await?;
    let one = |sql: &str| {
        let db = &db;
        let sql = sql.to_owned();
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
        }
    };
    let integrity = one("PRAGMA integrity_check")
        .await
        .context("not a SQLite database")?
        .and_then(|row| row.try_get_by_index::<String>(0).ok());
    if integrity.as_deref() != Some("ok") {
        bail!("the database is damaged: {}", integrity.unwrap_or_default());
    }
    let version = one("SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1")
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .context("not a Huashen database: it has no migrations")?;
    db.close().await?;
    let known: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if !known.contains(&version) {
        bail!("the database is at schema {version}, which this version of Huashen does not know");
    }
    Ok(version)
}

/// Replaces the SQLite database at `url` with the backup `from`, after checking it.
/// Stop every process using the database first.
pub async fn restore(from: &Path, url: &str) -> anyhow::Result<String> {
    let path = sqlite_path(url).context(ONLY_SQLITE)?;
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    // Copied beside the target and checked there, then renamed: the database is the old
    // one or the new one.
    let staged = path.with_extension("restoring");
    std::fs::copy(from, &staged).with_context(|| format!("copying {}", from.display()))?;
    let checked = check_in_place(&staged).await;
    remove(&staged, &["-wal", "-shm"])?;
    let version = match checked {
        Ok(version) => version,
        Err(err) => {
            remove(&staged, &[""])?;
            return Err(err);
        }
    };
    remove(path, &["-wal", "-shm"])?;
    std::fs::rename(&staged, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(version)
}
