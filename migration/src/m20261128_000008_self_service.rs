//! People acting for themselves: emailed one-time codes, session keys, applications
//! awaiting approval, consent, and the counters behind abuse limits.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Communities {
    Table,
    VolunteerApproval,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Status,
    EmailVerifiedAt,
    ConsentVersion,
    ConsentAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum EmailChallenges {
    Table,
    Id,
    CommunityId,
    PersonId,
    Purpose,
    Email,
    CodeHash,
    TokenHash,
    FailedAttempts,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Bucket,
    WindowStart,
    Hits,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            (
                Communities::Table.into_iden(),
                string_len(Communities::VolunteerApproval, 32)
                    .default("automatic")
                    .to_owned(),
            ),
            (
                People::Table.into_iden(),
                string_len(People::Status, 32).default("active").to_owned(),
            ),
            (
                People::Table.into_iden(),
                timestamp_with_time_zone_null(People::EmailVerifiedAt),
            ),
            (
                People::Table.into_iden(),
                string_len_null(People::ConsentVersion, 64),
            ),
            (
                People::Table.into_iden(),
                timestamp_with_time_zone_null(People::ConsentAt),
            ),
            (
                ApiKeys::Table.into_iden(),
                timestamp_with_time_zone_null(ApiKeys::ExpiresAt),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(EmailChallenges::Table)
                    .col(pk_uuid(EmailChallenges::Id))
                    .col(uuid(EmailChallenges::CommunityId))
                    .col(uuid(EmailChallenges::PersonId))
                    .col(string_len(EmailChallenges::Purpose, 32))
                    .col(string_len(EmailChallenges::Email, 320))
                    .col(string_len_null(EmailChallenges::CodeHash, 64))
                    .col(string_len_null(EmailChallenges::TokenHash, 64))
                    .col(integer(EmailChallenges::FailedAttempts).default(0))
                    .col(timestamp_with_time_zone(EmailChallenges::CreatedAt))
                    .col(timestamp_with_time_zone(EmailChallenges::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailChallenges::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailChallenges::Table, EmailChallenges::PersonId)
                            .to(People::Table, Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(string_len(RateLimits::Bucket, 400))
                    .col(timestamp_with_time_zone(RateLimits::WindowStart))
                    .col(integer(RateLimits::Hits))
                    .primary_key(
                        Index::create()
                            .col(RateLimits::Bucket)
                            .col(RateLimits::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        for index in [
            Index::create()
                .name("ix_email_challenges_person")
                .table(EmailChallenges::Table)
                .col(EmailChallenges::PersonId)
                .col(EmailChallenges::CreatedAt)
                .to_owned(),
            Index::create()
                .name("ux_email_challenges_token")
                .table(EmailChallenges::Table)
                .col(EmailChallenges::TokenHash)
                .unique()
                .to_owned(),
            Index::create()
                .name("ix_people_status")
                .table(People::Table)
                .col(People::Status)
                .to_owned(),
            Index::create()
                .name("ix_rate_limits_window")
                .table(RateLimits::Table)
                .col(RateLimits::WindowStart)
                .to_owned(),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite refuses to drop an indexed column; the other indexes go with their tables.
        manager
            .drop_index(Index::drop().name("ix_people_status").to_owned())
            .await?;
        for table in [
            RateLimits::Table.into_iden(),
            EmailChallenges::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        // SQLite drops one column per ALTER TABLE.
        let columns = [
            (ApiKeys::Table.into_iden(), ApiKeys::ExpiresAt.into_iden()),
            (People::Table.into_iden(), People::ConsentAt.into_iden()),
            (
                People::Table.into_iden(),
                People::ConsentVersion.into_iden(),
            ),
            (
                People::Table.into_iden(),
                People::EmailVerifiedAt.into_iden(),
            ),
            (People::Table.into_iden(), People::Status.into_iden()),
            (
                Communities::Table.into_iden(),
                Communities::VolunteerApproval.into_iden(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
