//! Notices to residents, the `notices` mail preference, and each community's country
//! (who counts as a foreign resident).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notices {
    Table,
    Id,
    CommunityId,
    Subject,
    Body,
    Audience,
    AudienceId,
    SendAt,
    State,
    Recipients,
    CreatedAt,
    UpdatedAt,
    CancelledAt,
}

#[derive(DeriveIden)]
enum Communities {
    Table,
    Id,
    Country,
}

#[derive(DeriveIden)]
enum People {
    Table,
    NotifyNotices,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    SubjectId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Communities::Table)
                    .add_column(string_len(Communities::Country, 2).default("CN"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(boolean(People::NotifyNotices).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notices::Table)
                    .col(pk_uuid(Notices::Id))
                    .col(uuid(Notices::CommunityId))
                    .col(json_binary(Notices::Subject))
                    .col(json_binary(Notices::Body))
                    .col(string_len(Notices::Audience, 32))
                    .col(uuid_null(Notices::AudienceId))
                    .col(timestamp_with_time_zone(Notices::SendAt))
                    .col(string_len(Notices::State, 16))
                    .col(integer(Notices::Recipients).default(0))
                    .col(timestamp_with_time_zone(Notices::CreatedAt))
                    .col(timestamp_with_time_zone(Notices::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Notices::CancelledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notices::Table, Notices::CommunityId)
                            .to(Communities::Table, Communities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            // The planner looks for scheduled notices whose time has come.
            Index::create()
                .name("ix_notices_state_send_at")
                .table(Notices::Table)
                .col(Notices::State)
                .col(Notices::SendAt)
                .to_owned(),
            Index::create()
                .name("ix_notices_community")
                .table(Notices::Table)
                .col(Notices::CommunityId)
                .to_owned(),
            // A notice's delivery counts, and cancelling its rows.
            Index::create()
                .name("ix_notifications_subject")
                .table(Notifications::Table)
                .col(Notifications::SubjectId)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_notifications_subject")
                    .table(Notifications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Notices::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .drop_column(People::NotifyNotices)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Communities::Table)
                    .drop_column(Communities::Country)
                    .to_owned(),
            )
            .await
    }
}
