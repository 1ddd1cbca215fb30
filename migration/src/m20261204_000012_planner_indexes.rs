//! The planner walks the people due a birthday card, a welcome or a farewell on one
//! date a page at a time in id order: each such index ends in the id, so a page is one
//! range of one index, however many people live there. And it looks up a community's
//! organizers for their digest every minute of its window, which without an index is
//! a walk through everyone who lives there.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (old index, new index, date column)
const INDEXES: [(&str, &str, &str); 3] = [
    (
        "ix_people_birthday_md",
        "ix_people_birthday_md_id",
        "birthday_md",
    ),
    (
        "ix_people_moved_in_on",
        "ix_people_moved_in_on_id",
        "moved_in_on",
    ),
    (
        "ix_people_moving_out_on",
        "ix_people_moving_out_on_id",
        "moving_out_on",
    ),
];

fn create(name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create()
        .name(name)
        .table(Alias::new("people"))
        .to_owned();
    for column in columns {
        index.col(Alias::new(*column));
    }
    index
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table(Alias::new("people"))
        .to_owned()
}

const ORGANIZERS: &str = "ix_people_community_organizer";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (old, new, column) in INDEXES {
            manager.create_index(create(new, &[column, "id"])).await?;
            manager.drop_index(drop(old)).await?;
        }
        manager
            .create_index(create(ORGANIZERS, &["community_id", "is_organizer"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(drop(ORGANIZERS)).await?;
        for (old, new, column) in INDEXES {
            manager.create_index(create(old, &[column])).await?;
            manager.drop_index(drop(new)).await?;
        }
        Ok(())
    }
}
