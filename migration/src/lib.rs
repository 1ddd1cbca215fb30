//! Huashen's schema: one set of migrations for SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

pub mod database;

mod m20261128_000001_core;
mod m20261128_000002_mail_facts;
mod m20261128_000003_personal_data;
mod m20261128_000004_shift_series;
mod m20261128_000005_calendar_tokens;
mod m20261128_000006_care;
mod m20261128_000007_webhooks;
mod m20261128_000008_self_service;
mod m20261128_000009_imports;
mod m20261204_000010_notices;
mod m20261204_000011_surveys;
mod m20261204_000012_planner_indexes;
mod m20261207_000013_ledger_claims;
mod m20261207_000014_signup_times;

pub use m20261207_000014_signup_times::SIGNUP_OVERLAP;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_core::Migration),
            Box::new(m20261128_000002_mail_facts::Migration),
            Box::new(m20261128_000003_personal_data::Migration),
            Box::new(m20261128_000004_shift_series::Migration),
            Box::new(m20261128_000005_calendar_tokens::Migration),
            Box::new(m20261128_000006_care::Migration),
            Box::new(m20261128_000007_webhooks::Migration),
            Box::new(m20261128_000008_self_service::Migration),
            Box::new(m20261128_000009_imports::Migration),
            Box::new(m20261204_000010_notices::Migration),
            Box::new(m20261204_000011_surveys::Migration),
            Box::new(m20261204_000012_planner_indexes::Migration),
            Box::new(m20261207_000013_ledger_claims::Migration),
            Box::new(m20261207_000014_signup_times::Migration),
        ]
    }
}
