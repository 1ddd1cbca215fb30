//! The HTTP surface: one `#[OpenApi]` struct per resource.

use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, ContactObject, LicenseObject, OpenApiService, Tags};

use crate::error::ApiError;

pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod calendars;
pub mod care;
pub mod communities;
pub mod events;
pub mod feedback;
pub mod health;
pub mod imports;
pub mod me;
pub mod notices;
pub mod notifications;
pub mod people;
pub mod registrations;
pub mod reports;
pub mod series;
pub mod sessions;
pub mod shifts;
pub mod signups;
pub mod stations;
pub mod surveys;
pub mod tables;
pub mod webhooks;

#[derive(Tags)]
pub enum Tag {
    /// Residential communities served by this deployment.
    Communities,
    /// Residents and volunteers.
    People,
    /// Service stations such as the Foreign Friends Service Station.
    Stations,
    /// Time slots at stations that volunteers sign up for.
    Shifts,
    /// Cultural-exchange events.
    Events,
    /// The care programme: planned calls and visits, and the care log.
    Care,
    /// Numbers for the community's meetings, as JSON or CSV.
    Reports,
    /// iCalendar feeds for phones and calendar programs.
    Calendars,
    /// News for residents, in their languages.
    Notices,
    /// Resident satisfaction surveys: invitations by mail, interviews, the report.
    Surveys,
    /// Events pushed to front-ends.
    Webhooks,
    /// The ledger of mails planned and sent.
    Notifications,
    /// API keys and their roles.
    ApiKeys,
    /// People acting for themselves: applying, signing in by emailed code, `/v1/me`.
    SignIn,
    /// Liveness and readiness.
    Health,
}

/// Names the API structs once, as both the `Api` type and its value.
macro_rules! apis {
    ($(($($api:path),+ $(,)?)),+ $(,)?) => {
        /// The resources, in groups: poem-openapi takes up to sixteen APIs in one tuple.
        pub type Api = ($(($($api),+),)+);

        fn apis() -> Api {
            ($(($($api),+),)+)
        }
    };
}

apis!(
    (
        communities::CommunitiesApi,
        people::PeopleApi,
        stations::StationsApi,
        shifts::ShiftsApi,
        signups::SignupsApi,
        series::SeriesApi,
        events::EventsApi,
        registrations::RegistrationsApi,
        feedback::FeedbackApi,
    ),
    (
        care::CareApi,
        calendars::CalendarsApi,
        reports::ReportsApi,
        notifications::NotificationsApi,
        webhooks::WebhooksApi,
        api_keys::ApiKeysApi,
        audit::AuditApi,
        health::HealthApi,
        health::MetricsApi,
    ),
    (
        sessions::SessionsApi,
        me::MeApi,
        applications::ApplicationsApi,
        imports::ImportsApi,
        notices::NoticesApi,
        surveys::SurveysApi,
    ),
);

/// The OpenAPI service; `crate::contract` completes its document into the committed
/// `openapi.yaml`.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(apis(), "Huashen", env!("CARGO_PKG_VERSION"))
        .description(
            "Coordinates volunteers and activities in international residential communities: \
             communities, people, service stations, shifts and cultural events. Errors are RFC \
             9457 `application/problem+json`; lists take `limit` and `cursor`; single resources \
             carry an `ETag` that `PATCH` checks against `If-Match`. Within a major version \
             changes are additive: clients ignore unknown fields, and enums marked so may gain \
             values.",
        )
        .contact(
            ContactObject::new()
                .name("Huashen")
                .url("https://huashen.dev"),
        )
        .license(
            LicenseObject::new("Apache-2.0").url("https://www.apache.org/licenses/LICENSE-2.0"),
        )
}

/// A single resource with its ETag.
#[derive(ApiResponse)]
pub enum Fetched<T: ToJSON> {
    /// The resource.
    #[oai(status = 200)]
    Ok(Json<T>, #[oai(header = "ETag")] String),
}

/// A newly created resource with its ETag.
#[derive(ApiResponse)]
pub enum Created<T: ToJSON> {
    /// Created; the body is the full resource.
    #[oai(status = 201)]
    Created(Json<T>, #[oai(header = "ETag")] String),
}

/// Nothing to return.
#[derive(ApiResponse)]
pub enum Deleted {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}

pub type Result<T> = std::result::Result<T, ApiError>;

/// Ids the examples in the contract refer to: 1 a community, 2 a station, 3 a person,
/// 6 a care plan.
pub fn example_id(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 | u128::from(n))
}

/// A moment in the examples: the given hour (UTC) of a fixed day.
pub fn example_time(hour: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 12, 5, hour, 0, 0)
        .single()
        .expect("a valid example time")
}

/// A text in Chinese and English, as the examples give it.
pub fn example_text(zh: &str, en: &str) -> std::collections::BTreeMap<String, String> {
    [("zh-CN", zh), ("en", en)]
        .into_iter()
        .map(|(locale, text)| (locale.to_owned(), text.to_owned()))
        .collect()
}

/// The ETag of a resource at `version`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// Refuses a change when `If-Match` names another version than the stored one.
pub fn check_if_match(if_match: Option<&str>, version: i32) -> Result<()> {
    let Some(header) = if_match else {
        return Ok(());
    };
    if header.trim().is_empty() {
        return Err(ApiError::malformed(
            "If-Match",
            "required",
            "If-Match names an ETag, or is left out",
        ));
    }
    let current = etag(version);
    let matches = header.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == current || tag.strip_prefix("W/") == Some(current.as_str())
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed)
    }
}
