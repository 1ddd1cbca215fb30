//! The care programme: plans for regular calls and visits, and the log of care given.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CarePlans {
    Table,
    Id,
    PersonId,
    CommunityId,
    Kind,
    EveryDays,
    AssigneeId,
    NextDueOn,
    Notes,
    EndedAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum CareLog {
    Table,
    Id,
    PersonId,
    CommunityId,
    CarePlanId,
    Kind,
    HappenedOn,
    ByPersonId,
    Outcome,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let person = |table: CarePlans, column: CarePlans| {
            ForeignKey::create()
                .from(table, column)
                .to(People::Table, People::Id)
                .on_delete(ForeignKeyAction::Restrict)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(CarePlans::Table)
                    .col(pk_uuid(CarePlans::Id))
                    .col(uuid(CarePlans::PersonId))
                    .col(uuid(CarePlans::CommunityId))
                    .col(string_len(CarePlans::Kind, 16))
                    .col(integer(CarePlans::EveryDays))
                    .col(uuid(CarePlans::AssigneeId))
                    .col(date(CarePlans::NextDueOn))
                    .col(text_null(CarePlans::Notes))
                    .col(timestamp_with_time_zone_null(CarePlans::EndedAt))
                    .col(timestamp_with_time_zone(CarePlans::CreatedAt))
                    .col(timestamp_with_time_zone(CarePlans::UpdatedAt))
                    .col(integer(CarePlans::Version).default(1))
                    .foreign_key(&mut person(CarePlans::Table, CarePlans::PersonId))
                    .foreign_key(&mut person(CarePlans::Table, CarePlans::AssigneeId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CareLog::Table)
                    .col(pk_uuid(CareLog::Id))
                    .col(uuid(CareLog::PersonId))
                    .col(uuid(CareLog::CommunityId))
                    .col(uuid_null(CareLog::CarePlanId))
                    .col(string_len(CareLog::Kind, 32))
                    .col(date(CareLog::HappenedOn))
                    .col(uuid_null(CareLog::ByPersonId))
                    .col(string_len_null(CareLog::Outcome, 200))
                    .col(text_null(CareLog::Note))
                    .col(timestamp_with_time_zone(CareLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CareLog::Table, CareLog::PersonId)
                            .to(People::Table, People::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for index in [
            Index::create()
                .name("ix_care_plans_due")
                .table(CarePlans::Table)
                .col(CarePlans::NextDueOn)
                .to_owned(),
            Index::create()
                .name("ix_care_plans_person")
                .table(CarePlans::Table)
                .col(CarePlans::PersonId)
                .to_owned(),
            Index::create()
                .name("ix_care_log_person")
                .table(CareLog::Table)
                .col(CareLog::PersonId)
                .col(CareLog::HappenedOn)
                .to_owned(),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The indexes go with their tables.
        let tables: [DynIden; 2] = [CareLog::Table.into_iden(), CarePlans::Table.into_iden()];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
