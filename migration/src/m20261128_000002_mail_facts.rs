//! Facts the mail planner needs: who was promoted from a waitlist and when, why a
//! place was cancelled, when shifts and events were cancelled, each community's
//! reminder lead, who organizes, and a lease on ledger rows for the sender.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Communities {
    Table,
    ReminderLeadMinutes,
}

#[derive(DeriveIden)]
enum People {
    Table,
    IsOrganizer,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Shifts {
    Table,
    CancelledAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    CancelledAt,
}

#[derive(DeriveIden)]
enum ShiftSignups {
    Table,
    PromotedAt,
    CancelReason,
}

#[derive(DeriveIden)]
enum EventRegistrations {
    Table,
    PromotedAt,
    CancelReason,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    LockedUntil,
    Status,
}

async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

async fn remove(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        add(
            manager,
            Communities::Table,
            integer(Communities::ReminderLeadMinutes)
                .default(1440)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            People::Table,
            boolean(People::IsOrganizer).default(false).to_owned(),
        )
        .await?;
        add(
            manager,
            Shifts::Table,
            timestamp_with_time_zone_null(Shifts::CancelledAt),
        )
        .await?;
        add(
            manager,
            Events::Table,
            timestamp_with_time_zone_null(Events::CancelledAt),
        )
        .await?;
        add(
            manager,
            ShiftSignups::Table,
            timestamp_with_time_zone_null(ShiftSignups::PromotedAt),
        )
        .await?;
        add(
            manager,
            ShiftSignups::Table,
            string_len_null(ShiftSignups::CancelReason, 32),
        )
        .await?;
        add(
            manager,
            EventRegistrations::Table,
            timestamp_with_time_zone_null(EventRegistrations::PromotedAt),
        )
        .await?;
        add(
            manager,
            EventRegistrations::Table,
            string_len_null(EventRegistrations::CancelReason, 32),
        )
        .await?;
        add(
            manager,
            Notifications::Table,
            timestamp_with_time_zone_null(Notifications::LockedUntil),
        )
        .await?;
        let indexes = [
            Index::create()
                .name("ix_people_created")
                .table(People::Table)
                .col(People::CreatedAt)
                .to_owned(),
            Index::create()
                .name("ix_shifts_cancelled")
                .table(Shifts::Table)
                .col(Shifts::CancelledAt)
                .to_owned(),
            Index::create()
                .name("ix_events_cancelled")
                .table(Events::Table)
                .col(Events::CancelledAt)
                .to_owned(),
            Index::create()
                .name("ix_shift_signups_promoted")
                .table(ShiftSignups::Table)
                .col(ShiftSignups::PromotedAt)
                .to_owned(),
            Index::create()
                .name("ix_event_registrations_promoted")
                .table(EventRegistrations::Table)
                .col(EventRegistrations::PromotedAt)
                .to_owned(),
            Index::create()
                .name("ix_notifications_status_locked")
                .table(Notifications::Table)
                .col(Notifications::Status)
                .col(Notifications::LockedUntil)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite refuses to drop an indexed column, so the indexes go first.
        for name in [
            "ix_notifications_status_locked",
            "ix_event_registrations_promoted",
            "ix_shift_signups_promoted",
            "ix_events_cancelled",
            "ix_shifts_cancelled",
            "ix_people_created",
        ] {
            manager
                .drop_index(Index::drop().name(name).to_owned())
                .await?;
        }
        remove(manager, Notifications::Table, Notifications::LockedUntil).await?;
        remove(
            manager,
            EventRegistrations::Table,
            EventRegistrations::CancelReason,
        )
        .await?;
        remove(
            manager,
            EventRegistrations::Table,
            EventRegistrations::PromotedAt,
        )
        .await?;
        remove(manager, ShiftSignups::Table, ShiftSignups::CancelReason).await?;
        remove(manager, ShiftSignups::Table, ShiftSignups::PromotedAt).await?;
        remove(manager, Events::Table, Events::CancelledAt).await?;
        remove(manager, Shifts::Table, Shifts::CancelledAt).await?;
        remove(manager, People::Table, People::IsOrganizer).await?;
        remove(
            manager,
            Communities::Table,
            Communities::ReminderLeadMinutes,
        )
        .await
    }
}
