//! Recurring shifts: a series expands from an RFC 5545 RRULE into ordinary shifts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShiftSeries {
    Table,
    Id,
    StationId,
    CommunityId,
    Rrule,
    StartsOn,
    StartTime,
    DurationMinutes,
    Capacity,
    MinVolunteers,
    LanguagesWanted,
    SkillsWanted,
    Notes,
    TimeZone,
    Until,
    Count,
    CancelledAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Shifts {
    Table,
    SeriesId,
}

#[derive(DeriveIden)]
enum Stations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ShiftSeries::Table)
                    .col(pk_uuid(ShiftSeries::Id))
                    .col(uuid(ShiftSeries::StationId))
                    .col(uuid(ShiftSeries::CommunityId))
                    .col(string_len(ShiftSeries::Rrule, 500))
                    .col(date(ShiftSeries::StartsOn))
                    .col(string_len(ShiftSeries::StartTime, 5))
                    .col(integer(ShiftSeries::DurationMinutes))
                    .col(integer(ShiftSeries::Capacity))
                    .col(integer(ShiftSeries::MinVolunteers))
                    .col(json_binary(ShiftSeries::LanguagesWanted))
                    .col(json_binary(ShiftSeries::SkillsWanted))
                    .col(text_null(ShiftSeries::Notes))
                    .col(string_len(ShiftSeries::TimeZone, 64))
                    .col(date_null(ShiftSeries::Until))
                    .col(integer_null(ShiftSeries::Count))
                    .col(timestamp_with_time_zone_null(ShiftSeries::CancelledAt))
                    .col(timestamp_with_time_zone(ShiftSeries::CreatedAt))
                    .col(timestamp_with_time_zone(ShiftSeries::UpdatedAt))
                    .col(integer(ShiftSeries::Version).default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ShiftSeries::Table, ShiftSeries::StationId)
                            .to(Stations::Table, Stations::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Shifts::Table)
                    .add_column(uuid_null(Shifts::SeriesId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_shifts_series_start")
                    .table(Shifts::Table)
                    .col(Shifts::SeriesId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite refuses to drop an indexed column, so the index goes first.
        manager
            .drop_index(Index::drop().name("ix_shifts_series_start").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Shifts::Table)
                    .drop_column(Shifts::SeriesId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ShiftSeries::Table).to_owned())
            .await
    }
}
