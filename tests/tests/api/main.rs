//! Integration tests over real HTTP; each runs on SQLite and on PostgreSQL.

mod api_keys;
mod calendars;
mod care;
mod communities;
mod concurrency;
mod contract;
mod events;
mod idempotency;
mod imports;
mod mail;
mod onboarding;
mod operations;
mod people;
mod personal_data;
mod protocol;
mod registrations;
mod reports;
mod scope;
mod self_service;
mod series;
mod shifts;
mod signups;
mod sqlite_writers;
mod stations;
mod webhooks;
