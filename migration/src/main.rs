//! sea-orm's migration commands (`status`, `up`, `down`, `fresh`, `refresh`, `reset`),
//! for developers. The database is opened as the servers open it, over one connection:
//! a SQLite file and its folder are created if missing, and schema changes never meet
//! a pooled connection that still holds the old schema.

use migration::database::connect_for_migrations;
use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli_with_connection(migration::Migrator, async |options| {
        connect_for_migrations(options.get_url())
            .await
            .map_err(|err| DbErr::Custom(format!("{err:#}")))
    })
    .await;
}
