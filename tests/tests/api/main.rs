//! Integration tests over real HTTP; each runs on SQLite and on PostgreSQL.

mod api_keys;
mod communities;
mod events;
mod people;
mod protocol;
mod shifts;
mod stations;
