//! Bulk imports run as jobs, with their per-row results.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Imports {
    Table,
    Id,
    CommunityId,
    Format,
    DryRun,
    Atomic,
    Mail,
    State,
    RowsTotal,
    RowsDone,
    Created,
    Updated,
    Unchanged,
    Errors,
    Failure,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

/// The file of an import, kept apart so progress reads never carry it, and removed
/// once the import has run.
#[derive(DeriveIden)]
enum ImportFiles {
    Table,
    ImportId,
    Content,
}

#[derive(DeriveIden)]
enum ImportRows {
    Table,
    ImportId,
    Row,
    Outcome,
    Email,
    PersonId,
    Errors,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Imports::Table)
                    .col(pk_uuid(Imports::Id))
                    .col(uuid(Imports::CommunityId))
                    .col(string_len(Imports::Format, 16))
                    .col(boolean(Imports::DryRun))
                    .col(boolean(Imports::Atomic))
                    .col(string_len(Imports::Mail, 32))
                    .col(string_len(Imports::State, 16))
                    .col(integer(Imports::RowsTotal).default(0))
                    .col(integer(Imports::RowsDone).default(0))
                    .col(integer(Imports::Created).default(0))
                    .col(integer(Imports::Updated).default(0))
                    .col(integer(Imports::Unchanged).default(0))
                    .col(integer(Imports::Errors).default(0))
                    .col(text_null(Imports::Failure))
                    .col(timestamp_with_time_zone(Imports::CreatedAt))
                    .col(timestamp_with_time_zone_null(Imports::StartedAt))
                    .col(timestamp_with_time_zone_null(Imports::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportFiles::Table)
                    .col(pk_uuid(ImportFiles::ImportId))
                    .col(text(ImportFiles::Content))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImportFiles::Table, ImportFiles::ImportId)
                            .to(Imports::Table, Imports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportRows::Table)
                    .col(uuid(ImportRows::ImportId))
                    .col(integer(ImportRows::Row))
                    .col(string_len(ImportRows::Outcome, 16))
                    .col(string_len_null(ImportRows::Email, 320))
                    .col(uuid_null(ImportRows::PersonId))
                    .col(text(ImportRows::Errors))
                    .primary_key(
                        Index::create()
                            .col(ImportRows::ImportId)
                            .col(ImportRows::Row),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImportRows::Table, ImportRows::ImportId)
                            .to(Imports::Table, Imports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_imports_community")
                    .table(Imports::Table)
                    .col(Imports::CommunityId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Rows and files reference imports, so they go first; the index goes with its table.
        let tables: [DynIden; 3] = [
            ImportRows::Table.into_iden(),
            ImportFiles::Table.into_iden(),
            Imports::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
