//! Huashen's HTTP API: poem + poem-openapi over sea-orm.

pub mod app;
pub mod auth;
pub mod backup;
pub mod body;
pub mod connections;
pub mod contract;
pub mod db;
pub mod demo;
pub mod error;
pub mod idempotency;
pub mod imports;
pub mod limits;
pub mod observe;
pub mod pagination;
pub mod personal_data;
pub mod public;
pub mod qr;
pub mod registrations;
pub mod routes;
pub mod self_service;
pub mod series;
pub mod signups;
pub mod state;
pub mod store;
pub mod time;
pub mod validate;
