//! Removing what has served its purpose: counters of closed rate-limit windows and
//! one-time codes long expired; and keeping SQLite's statistics true.

use chrono::{DateTime, Duration, Utc};
use entities::{email_challenge, rate_limit};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
};

/// Longest rate-limit window; older counters count for nothing.
const LONGEST_WINDOW: Duration = Duration::days(1);
/// Expired codes are kept this long, so a late attempt still meets a dead code.
const EXPIRED_CODES_KEPT: Duration = Duration::days(1);

pub async fn prune(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), DbErr> {
    rate_limit::Entity::delete_many()
        .filter(rate_limit::Column::WindowStart.lt(now - LONGEST_WINDOW))
        .exec(db)
        .await?;
    email_challenge::Entity::delete_many()
        .filter(email_challenge::Column::ExpiresAt.lt(now - EXPIRED_CODES_KEPT))
        .exec(db)
        .await?;
    // Statistics made when a table was small mislead SQLite's planner once it is large
    // (a scan of a million people to look up five hundred). This refreshes those of
    // tables that have grown or shrunk much since, and costs next to nothing otherwise.
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA optimize").await?;
    }
    Ok(())
}
