//! Huashen's tables as sea-orm entities, and the enums they share with the API.
//!
//! This crate holds definitions only: no queries, no business rules.

pub mod api_key;
pub mod audit_entry;
pub mod care_entry;
pub mod care_plan;
pub mod cells;
pub mod community;
pub mod email_challenge;
pub mod enums;
pub mod event;
pub mod event_registration;
pub mod feedback;
pub mod idempotency_key;
pub mod import;
pub mod import_file;
pub mod import_row;
pub mod json;
pub mod notice;
pub mod notification;
pub mod person;
pub mod prelude;
pub mod rate_limit;
pub mod shift;
pub mod shift_series;
pub mod shift_signup;
pub mod station;
pub mod survey;
pub mod survey_invitation;
pub mod survey_response;
pub mod token;
pub mod webhook;
pub mod webhook_delivery;
