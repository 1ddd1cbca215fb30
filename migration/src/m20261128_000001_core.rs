//! The core tables of DESIGN.md and the indexes the API and the planner query by.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Communities {
    Table,
    Id,
    Slug,
    Name,
    TimeZone,
    DefaultLocale,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    CommunityId,
    FullName,
    Email,
    EmailNormalized,
    Phone,
    Nationality,
    Locale,
    TimeZone,
    Birthday,
    BirthdayMd,
    Languages,
    Skills,
    IsVolunteer,
    MovedInOn,
    MovingOutOn,
    NotifyReminders,
    NotifyBirthday,
    NotifyFeedback,
}

#[derive(DeriveIden)]
enum Stations {
    Table,
    Id,
    CommunityId,
    Kind,
    Name,
    Description,
    Location,
    TimeZone,
}

#[derive(DeriveIden)]
enum Shifts {
    Table,
    Id,
    StationId,
    CommunityId,
    StartsAt,
    EndsAt,
    Capacity,
    MinVolunteers,
    LanguagesWanted,
    SkillsWanted,
    Notes,
    Status,
    ConfirmedCount,
    WaitlistCount,
}

#[derive(DeriveIden)]
enum ShiftSignups {
    Table,
    Id,
    ShiftId,
    PersonId,
    Status,
    WaitlistPosition,
    HoursCredited,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    CommunityId,
    Title,
    Description,
    Category,
    Venue,
    StartsAt,
    EndsAt,
    Capacity,
    RegistrationOpensAt,
    RegistrationClosesAt,
    Status,
    RegisteredCount,
    WaitlistCount,
}

#[derive(DeriveIden)]
enum EventRegistrations {
    Table,
    Id,
    EventId,
    PersonId,
    Status,
    WaitlistPosition,
    CheckedInAt,
}

#[derive(DeriveIden)]
enum Feedback {
    Table,
    Id,
    EventId,
    RegistrationId,
    PersonId,
    TokenHash,
    Rating,
    Comment,
    SubmittedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    CommunityId,
    Kind,
    RecipientId,
    SubjectType,
    SubjectId,
    DedupeKey,
    Locale,
    Status,
    DueAt,
    Attempts,
    LastError,
    SkipReason,
    SentAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    SecretHash,
    Role,
    CommunityId,
    PersonId,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    ApiKeyId,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
}

#[derive(DeriveIden)]
enum Audit {
    CreatedAt,
    UpdatedAt,
    Version,
}

/// `created_at`, `updated_at` and the optimistic-concurrency `version` of a mutable resource.
fn versioned(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(timestamp_with_time_zone(Audit::CreatedAt))
        .col(timestamp_with_time_zone(Audit::UpdatedAt))
        .col(integer(Audit::Version).default(1))
}

/// A foreign key that refuses to delete a row still referenced.
fn references(
    from: impl IntoIden,
    column: impl IntoIden,
    to: impl IntoIden,
    to_column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, column)
        .to(to, to_column)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

pub(crate) fn index(
    name: &str,
    table: impl IntoIden,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(Alias::new(*column));
    }
    index
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                versioned(
                    Table::create()
                        .table(Communities::Table)
                        .col(pk_uuid(Communities::Id))
                        .col(string_len_uniq(Communities::Slug, 64))
                        .col(json_binary(Communities::Name))
                        .col(string_len(Communities::TimeZone, 64))
                        .col(string_len(Communities::DefaultLocale, 35)),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                versioned(
                    Table::create()
                        .table(People::Table)
                        .col(pk_uuid(People::Id))
                        .col(uuid(People::CommunityId))
                        .col(string_len(People::FullName, 200))
                        .col(string_len(People::Email, 254))
                        .col(string_len(People::EmailNormalized, 254))
                        .col(string_len_null(People::Phone, 40))
                        .col(string_len(People::Nationality, 2))
                        .col(string_len(People::Locale, 35))
                        .col(string_len(People::TimeZone, 64))
                        .col(date_null(People::Birthday))
                        .col(string_len_null(People::BirthdayMd, 5))
                        .col(json_binary(People::Languages))
                        .col(json_binary(People::Skills))
                        .col(boolean(People::IsVolunteer))
                        .col(date_null(People::MovedInOn))
                        .col(date_null(People::MovingOutOn))
                        .col(boolean(People::NotifyReminders).default(true))
                        .col(boolean(People::NotifyBirthday).default(true))
                        .col(boolean(People::NotifyFeedback).default(true))
                        .foreign_key(&mut references(
                            People::Table,
                            People::CommunityId,
                            Communities::Table,
                            Communities::Id,
                        )),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                versioned(
                    Table::create()
                        .table(Stations::Table)
                        .col(pk_uuid(Stations::Id))
                        .col(uuid(Stations::CommunityId))
                        .col(string_len(Stations::Kind, 32))
                        .col(json_binary(Stations::Name))
                        .col(json_binary(Stations::Description))
                        .col(string_len_null(Stations::Location, 500))
                        .col(string_len(Stations::TimeZone, 64))
                        .foreign_key(&mut references(
                            Stations::Table,
                            Stations::CommunityId,
                            Communities::Table,
                            Communities::Id,
                        )),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                versioned(
                    Table::create()
                        .table(Shifts::Table)
                        .col(pk_uuid(Shifts::Id))
                        .col(uuid(Shifts::StationId))
                        .col(uuid(Shifts::CommunityId))
                        .col(timestamp_with_time_zone(Shifts::StartsAt))
                        .col(timestamp_with_time_zone(Shifts::EndsAt))
                        .col(integer(Shifts::Capacity))
                        .col(integer(Shifts::MinVolunteers))
                        .col(json_binary(Shifts::LanguagesWanted))
                        .col(json_binary(Shifts::SkillsWanted))
                        .col(text_null(Shifts::Notes))
                        .col(string_len(Shifts::Status, 32))
                        .col(integer(Shifts::ConfirmedCount).default(0))
                        .col(integer(Shifts::WaitlistCount).default(0))
                        .foreign_key(&mut references(
                            Shifts::Table,
                            Shifts::StationId,
                            Stations::Table,
                            Stations::Id,
                        ))
                        .foreign_key(&mut references(
                            Shifts::Table,
                            Shifts::CommunityId,
                            Communities::Table,
                            Communities::Id,
                        )),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ShiftSignups::Table)
                    .col(pk_uuid(ShiftSignups::Id))
                    .col(uuid(ShiftSignups::ShiftId))
                    .col(uuid(ShiftSignups::PersonId))
                    .col(string_len(ShiftSignups::Status, 32))
                    .col(integer_null(ShiftSignups::WaitlistPosition))
                    .col(double_null(ShiftSignups::HoursCredited))
                    .col(timestamp_with_time_zone(Audit::CreatedAt))
                    .col(timestamp_with_time_zone(Audit::UpdatedAt))
                    .foreign_key(&mut references(
                        ShiftSignups::Table,
                        ShiftSignups::ShiftId,
                        Shifts::Table,
                        Shifts::Id,
                    ))
                    .foreign_key(&mut references(
                        ShiftSignups::Table,
                        ShiftSignups::PersonId,
                        People::Table,
                        People::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                versioned(
                    Table::create()
                        .table(Events::Table)
                        .col(pk_uuid(Events::Id))
                        .col(uuid(Events::CommunityId))
                        .col(json_binary(Events::Title))
                        .col(json_binary(Events::Description))
                        .col(string_len(Events::Category, 64))
                        .col(string_len_null(Events::Venue, 500))
                        .col(timestamp_with_time_zone(Events::StartsAt))
                        .col(timestamp_with_time_zone(Events::EndsAt))
                        .col(integer(Events::Capacity))
                        .col(timestamp_with_time_zone_null(Events::RegistrationOpensAt))
                        .col(timestamp_with_time_zone_null(Events::RegistrationClosesAt))
                        .col(string_len(Events::Status, 32))
                        .col(integer(Events::RegisteredCount).default(0))
                        .col(integer(Events::WaitlistCount).default(0))
                        .foreign_key(&mut references(
                            Events::Table,
                            Events::CommunityId,
                            Communities::Table,
                            Communities::Id,
                        )),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EventRegistrations::Table)
                    .col(pk_uuid(EventRegistrations::Id))
                    .col(uuid(EventRegistrations::EventId))
                    .col(uuid(EventRegistrations::PersonId))
                    .col(string_len(EventRegistrations::Status, 32))
                    .col(integer_null(EventRegistrations::WaitlistPosition))
                    .col(timestamp_with_time_zone_null(
                        EventRegistrations::CheckedInAt,
                    ))
                    .col(timestamp_with_time_zone(Audit::CreatedAt))
                    .col(timestamp_with_time_zone(Audit::UpdatedAt))
                    .foreign_key(&mut references(
                        EventRegistrations::Table,
                        EventRegistrations::EventId,
                        Events::Table,
                        Events::Id,
                    ))
                    .foreign_key(&mut references(
                        EventRegistrations::Table,
                        EventRegistrations::PersonId,
                        People::Table,
                        People::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Feedback::Table)
                    .col(pk_uuid(Feedback::Id))
                    .col(uuid(Feedback::EventId))
                    .col(uuid_uniq(Feedback::RegistrationId))
                    .col(uuid_null(Feedback::PersonId))
                    .col(string_len_uniq(Feedback::TokenHash, 64))
                    .col(integer_null(Feedback::Rating))
                    .col(text_null(Feedback::Comment))
                    .col(timestamp_with_time_zone_null(Feedback::SubmittedAt))
                    .col(timestamp_with_time_zone(Feedback::ExpiresAt))
                    .col(timestamp_with_time_zone(Audit::CreatedAt))
                    .foreign_key(&mut references(
                        Feedback::Table,
                        Feedback::EventId,
                        Events::Table,
                        Events::Id,
                    ))
                    .foreign_key(&mut references(
                        Feedback::Table,
                        Feedback::RegistrationId,
                        EventRegistrations::Table,
                        EventRegistrations::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_uuid(Notifications::Id))
                    .col(uuid(Notifications::CommunityId))
                    .col(string_len(Notifications::Kind, 64))
                    .col(uuid_null(Notifications::RecipientId))
                    .col(string_len(Notifications::SubjectType, 32))
                    .col(uuid(Notifications::SubjectId))
                    .col(string_len_uniq(Notifications::DedupeKey, 255))
                    .col(string_len(Notifications::Locale, 35))
                    .col(string_len(Notifications::Status, 32))
                    .col(timestamp_with_time_zone(Notifications::DueAt))
                    .col(integer(Notifications::Attempts).default(0))
                    .col(text_null(Notifications::LastError))
                    .col(text_null(Notifications::SkipReason))
                    .col(timestamp_with_time_zone_null(Notifications::SentAt))
                    .col(timestamp_with_time_zone(Audit::CreatedAt))
                    .col(timestamp_with_time_zone(Audit::UpdatedAt))
                    .foreign_key(&mut references(
                        Notifications::Table,
                        Notifications::CommunityId,
                        Communities::Table,
                        Communities::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(pk_uuid(ApiKeys::Id))
                    .col(string_len(ApiKeys::Name, 200))
                    .col(string_len(ApiKeys::Prefix, 16))
                    .col(string_len_uniq(ApiKeys::SecretHash, 64))
                    .col(string_len(ApiKeys::Role, 32))
                    .col(uuid_null(ApiKeys::CommunityId))
                    .col(uuid_null(ApiKeys::PersonId))
                    .col(timestamp_with_time_zone(Audit::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut references(
                        ApiKeys::Table,
                        ApiKeys::CommunityId,
                        Communities::Table,
                        Communities::Id,
                    ))
                    .foreign_key(&mut references(
                        ApiKeys::Table,
                        ApiKeys::PersonId,
                        People::Table,
                        People::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(pk_uuid(IdempotencyKeys::Id))
                    .col(uuid(IdempotencyKeys::ApiKeyId))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(integer_null(IdempotencyKeys::ResponseStatus))
                    .col(text_null(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(Audit::CreatedAt))
                    .foreign_key(&mut references(
                        IdempotencyKeys::Table,
                        IdempotencyKeys::ApiKeyId,
                        ApiKeys::Table,
                        ApiKeys::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        let indexes = [
            index(
                "ux_people_community_email",
                People::Table,
                &["community_id", "email_normalized"],
            )
            .unique()
            .to_owned(),
            index(
                "ix_people_community_name",
                People::Table,
                &["community_id", "full_name"],
            ),
            index("ix_people_birthday_md", People::Table, &["birthday_md"]),
            index("ix_people_moved_in_on", People::Table, &["moved_in_on"]),
            index("ix_people_moving_out_on", People::Table, &["moving_out_on"]),
            index(
                "ix_stations_community",
                Stations::Table,
                &["community_id", "id"],
            ),
            index(
                "ix_shifts_station_start",
                Shifts::Table,
                &["station_id", "starts_at"],
            ),
            index(
                "ix_shifts_community_start",
                Shifts::Table,
                &["community_id", "starts_at"],
            ),
            index("ix_shifts_start", Shifts::Table, &["starts_at"]),
            index(
                "ux_shift_signups_shift_person",
                ShiftSignups::Table,
                &["shift_id", "person_id"],
            )
            .unique()
            .to_owned(),
            index(
                "ix_shift_signups_person",
                ShiftSignups::Table,
                &["person_id"],
            ),
            index(
                "ix_events_community_start",
                Events::Table,
                &["community_id", "starts_at"],
            ),
            index(
                "ix_events_status_start",
                Events::Table,
                &["status", "starts_at"],
            ),
            index("ix_events_end", Events::Table, &["ends_at"]),
            index(
                "ux_event_registrations_event_person",
                EventRegistrations::Table,
                &["event_id", "person_id"],
            )
            .unique()
            .to_owned(),
            index(
                "ix_event_registrations_person",
                EventRegistrations::Table,
                &["person_id"],
            ),
            index("ix_feedback_event", Feedback::Table, &["event_id"]),
            index(
                "ix_notifications_status_due",
                Notifications::Table,
                &["status", "due_at"],
            ),
            index(
                "ix_notifications_recipient",
                Notifications::Table,
                &["recipient_id", "created_at"],
            ),
            index(
                "ux_idempotency_keys_key",
                IdempotencyKeys::Table,
                &["api_key_id", "key"],
            )
            .unique()
            .to_owned(),
            index(
                "ix_idempotency_keys_created",
                IdempotencyKeys::Table,
                &["created_at"],
            ),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 11] = [
            IdempotencyKeys::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Notifications::Table.into_iden(),
            Feedback::Table.into_iden(),
            EventRegistrations::Table.into_iden(),
            Events::Table.into_iden(),
            ShiftSignups::Table.into_iden(),
            Shifts::Table.into_iden(),
            Stations::Table.into_iden(),
            People::Table.into_iden(),
            Communities::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
