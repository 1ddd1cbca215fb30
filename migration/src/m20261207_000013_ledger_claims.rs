//! A row of the mail ledger changes twice, claimed and then marked, and stays as it is
//! after. Without the index on (status, locked_until), a claim changes no indexed
//! column, so where its page has room PostgreSQL writes the row's new version in place
//! (a HOT update: no new index entries); the ledger's pages are filled to 70 % to leave
//! that room. When a held row is free again is then looked up through the index on
//! (status, due_at), among the queued rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Status,
    LockedUntil,
}

const STATUS_LOCKED: &str = "ix_notifications_status_locked";

fn on_postgres(manager: &SchemaManager<'_>) -> bool {
    manager.get_database_backend() == DbBackend::Postgres
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(STATUS_LOCKED)
                    .table(Notifications::Table)
                    .to_owned(),
            )
            .await?;
        if on_postgres(manager) {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE notifications SET (fillfactor = 70)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if on_postgres(manager) {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE notifications RESET (fillfactor)")
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(STATUS_LOCKED)
                    .table(Notifications::Table)
                    .col(Notifications::Status)
                    .col(Notifications::LockedUntil)
                    .to_owned(),
            )
            .await
    }
}
