//! Resident satisfaction surveys: the questionnaire, one invitation per person of its
//! audience, the answers, and the `surveys` mail preference.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Surveys {
    Table,
    Id,
    CommunityId,
    Title,
    Intro,
    Questions,
    Audience,
    AudienceEventId,
    OpensAt,
    ClosesAt,
    ReminderAfterDays,
    State,
    InvitedAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum SurveyInvitations {
    Table,
    Id,
    SurveyId,
    PersonId,
    TokenHash,
    ReminderTokenHash,
    CreatedAt,
    RemindedAt,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum SurveyResponses {
    Table,
    Id,
    SurveyId,
    PersonId,
    InvitationId,
    Mode,
    CollectedBy,
    Nationality,
    Locale,
    Answers,
    SubmittedAt,
}

#[derive(DeriveIden)]
enum Communities {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum People {
    Table,
    NotifySurveys,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(boolean(People::NotifySurveys).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Surveys::Table)
                    .col(pk_uuid(Surveys::Id))
                    .col(uuid(Surveys::CommunityId))
                    .col(json_binary(Surveys::Title))
                    .col(json_binary(Surveys::Intro))
                    .col(json_binary(Surveys::Questions))
                    .col(string_len(Surveys::Audience, 32))
                    .col(uuid_null(Surveys::AudienceEventId))
                    .col(timestamp_with_time_zone(Surveys::OpensAt))
                    .col(timestamp_with_time_zone(Surveys::ClosesAt))
                    .col(integer_null(Surveys::ReminderAfterDays))
                    .col(string_len(Surveys::State, 16))
                    .col(timestamp_with_time_zone_null(Surveys::InvitedAt))
                    .col(timestamp_with_time_zone(Surveys::CreatedAt))
                    .col(timestamp_with_time_zone(Surveys::UpdatedAt))
                    .col(integer(Surveys::Version).default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Surveys::Table, Surveys::CommunityId)
                            .to(Communities::Table, Communities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyInvitations::Table)
                    .col(pk_uuid(SurveyInvitations::Id))
                    .col(uuid(SurveyInvitations::SurveyId))
                    .col(uuid(SurveyInvitations::PersonId))
                    .col(string_len_null(SurveyInvitations::TokenHash, 64))
                    .col(string_len_null(SurveyInvitations::ReminderTokenHash, 64))
                    .col(timestamp_with_time_zone(SurveyInvitations::CreatedAt))
                    .col(timestamp_with_time_zone_null(SurveyInvitations::RemindedAt))
                    .col(timestamp_with_time_zone_null(SurveyInvitations::AnsweredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SurveyInvitations::Table, SurveyInvitations::SurveyId)
                            .to(Surveys::Table, Surveys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyResponses::Table)
                    .col(pk_uuid(SurveyResponses::Id))
                    .col(uuid(SurveyResponses::SurveyId))
                    .col(uuid_null(SurveyResponses::PersonId))
                    .col(uuid_null(SurveyResponses::InvitationId))
                    .col(string_len(SurveyResponses::Mode, 16))
                    .col(string_len_null(SurveyResponses::CollectedBy, 200))
                    .col(string_len_null(SurveyResponses::Nationality, 2))
                    .col(string_len(SurveyResponses::Locale, 35))
                    .col(json_binary(SurveyResponses::Answers))
                    .col(timestamp_with_time_zone(SurveyResponses::SubmittedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SurveyResponses::Table, SurveyResponses::SurveyId)
                            .to(Surveys::Table, Surveys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("ix_surveys_community")
                .table(Surveys::Table)
                .col(Surveys::CommunityId)
                .to_owned(),
            Index::create()
                .name("ix_surveys_state_opens")
                .table(Surveys::Table)
                .col(Surveys::State)
                .col(Surveys::OpensAt)
                .to_owned(),
            // One invitation per person and survey.
            Index::create()
                .name("ux_survey_invitations_survey_person")
                .table(SurveyInvitations::Table)
                .col(SurveyInvitations::SurveyId)
                .col(SurveyInvitations::PersonId)
                .unique()
                .to_owned(),
            Index::create()
                .name("ux_survey_invitations_token")
                .table(SurveyInvitations::Table)
                .col(SurveyInvitations::TokenHash)
                .unique()
                .to_owned(),
            Index::create()
                .name("ux_survey_invitations_reminder_token")
                .table(SurveyInvitations::Table)
                .col(SurveyInvitations::ReminderTokenHash)
                .unique()
                .to_owned(),
            Index::create()
                .name("ix_survey_responses_survey")
                .table(SurveyResponses::Table)
                .col(SurveyResponses::SurveyId)
                .to_owned(),
            // One answer per person and survey, however it was collected.
            Index::create()
                .name("ux_survey_responses_survey_person")
                .table(SurveyResponses::Table)
                .col(SurveyResponses::SurveyId)
                .col(SurveyResponses::PersonId)
                .unique()
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 3] = [
            SurveyResponses::Table.into_iden(),
            SurveyInvitations::Table.into_iden(),
            Surveys::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .drop_column(People::NotifySurveys)
                    .to_owned(),
            )
            .await
    }
}
