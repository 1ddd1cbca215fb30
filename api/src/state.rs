//! What every request handler shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
}

/// Settings of the HTTP service.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Origins allowed by CORS; empty allows none, `*` allows any.
    pub cors_origins: Vec<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long before a shift starts volunteers may still cancel themselves.
    pub self_cancel_lead: chrono::Duration,
    /// Webhook target hosts allowed even in loopback or private ranges.
    pub webhook_allowed_hosts: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            self_cancel_lead: chrono::Duration::hours(3),
            webhook_allowed_hosts: Vec::new(),
        }
    }
}
