//! `/v1/reports/…`: the numbers for the community's joint meetings, as JSON or, with
//! `Accept: text/csv`, as CSV (`super::tables`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entities::enums::{EventStatus, RegistrationStatus, SignupStatus};
use entities::{
    care_entry, care_plan, community, event, event_registration, feedback, person, shift,
    shift_signup, station,
};
use huashen_worker::locale::pick;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{Enum, Object, OpenApi};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::tables::{self, JsonOrCsv};
use super::{Result, Tag};
use crate::auth::{Caller, StaffKey};
use crate::error::ApiError;
use crate::state::AppState;

/// A report: the rows, and what they cover.
#[derive(Object)]
pub struct Report<T: ParseFromJSON + ToJSON + Send + Sync> {
    /// The community reported on; null when an admin asked for every community, whose
    /// rows then each name theirs.
    pub community_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub rows: Vec<T>,
}

/// A report as JSON, or (with `Accept: text/csv`) its rows as CSV.
pub type ReportResponse<T> = JsonOrCsv<Report<T>>;

/// What the report is about: one community, or every community for an admin who
/// names none; and the period.
struct Scope {
    community_id: Option<Uuid>,
    communities: Vec<community::Model>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    csv: bool,
}

/// One community's part of a report.
struct Part<'a> {
    community: &'a community::Model,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Part<'_> {
    fn within(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| at >= from) && self.to.is_none_or(|to| at < to)
    }

    fn text(&self, text: &entities::json::LocalizedText, locale: &Option<String>) -> String {
        let locale = locale.as_deref().unwrap_or(&self.community.default_locale);
        pick(text, locale, &self.community.default_locale)
    }
}

impl Scope {
    fn parts(&self) -> impl Iterator<Item = Part<'_>> {
        self.communities.iter().map(|community| Part {
            community,
            from: self.from,
            to: self.to,
        })
    }

    fn respond<T: ParseFromJSON + ToJSON + Send + Sync + Serialize>(
        self,
        rows: Vec<T>,
    ) -> Result<ReportResponse<T>> {
        if self.csv {
            return Ok(ReportResponse::Csv(csv_text(&rows)?));
        }
        Ok(ReportResponse::Json(Json(Report {
            community_id: self.community_id,
            from: self.from,
            to: self.to,
            rows,
        })))
    }
}

/// The rows as CSV; the header row (the schema's property names) is there even with
/// no rows.
pub(super) fn csv_text<T: Serialize + ToJSON>(rows: &[T]) -> Result<String> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let columns: Vec<&str> = match T::schema_ref() {
        MetaSchemaRef::Reference(name) => registry
            .schemas
            .get(&name)
            .map(|schema| schema.properties.iter().map(|(name, _)| *name).collect())
            .unwrap_or_default(),
        MetaSchemaRef::Inline(_) => Vec::new(),
    };
    let values = rows
        .iter()
        .map(|row| serde_json::to_value(row).map_err(|e| ApiError::Internal(e.into())))
        .collect::<Result<Vec<_>>>()?;
    tables::write(
        &columns,
        values.iter().map(|row| {
            columns
                .iter()
                .map(|column| tables::value_cell(&row[*column]))
                .collect()
        }),
    )
}

async fn scope(
    db: &DatabaseConnection,
    caller: &Caller,
    community_id: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    accept: Option<String>,
) -> Result<Scope> {
    let (community_id, communities) =
        super::communities::in_scope(db, caller, community_id).await?;
    let csv = tables::wants_csv(accept.as_deref());
    Ok(Scope {
        community_id,
        communities,
        from,
        to,
        csv,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum HoursBy {
    Person,
    Station,
    Month,
}

/// Hours credited for attended shifts, grouped one way.
#[derive(Object, Serialize)]
pub struct HoursRow {
    pub community_id: Uuid,
    /// The person's or station's id, or the month (`2026-11`).
    pub key: String,
    /// The person's or station's name, or the month again.
    pub label: String,
    /// The person's nationality, when grouped by person.
    pub nationality: Option<String>,
    pub hours: f64,
    pub shifts: u32,
}

/// Volunteers whose first attended shift falls in the period.
#[derive(Object, Serialize)]
pub struct NewVolunteerRow {
    pub community_id: Uuid,
    pub person_id: Uuid,
    pub full_name: String,
    pub nationality: String,
    pub first_shift_at: DateTime<Utc>,
}

/// Attendance and satisfaction of one event.
#[derive(Object, Serialize)]
pub struct EventRow {
    pub community_id: Uuid,
    pub event_id: Uuid,
    pub title: String,
    pub category: String,
    pub starts_at: DateTime<Utc>,
    pub capacity: i32,
    pub registered: u32,
    pub checked_in: u32,
    pub no_shows: u32,
    /// No-shows among those who held a place after the event.
    pub no_show_rate: Option<f64>,
    pub ratings: u32,
    pub average_rating: Option<f64>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SatisfactionBy {
    Category,
    Nationality,
}

/// Ratings grouped by event category or by the attendees' nationality.
#[derive(Object, Serialize)]
pub struct SatisfactionRow {
    pub community_id: Uuid,
    pub group: String,
    pub ratings: u32,
    pub average_rating: f64,
    pub rated_1: u32,
    pub rated_2: u32,
    pub rated_3: u32,
    pub rated_4: u32,
    pub rated_5: u32,
}

/// Residents and volunteers of one nationality, and their share of volunteer hours.
#[derive(Object, Serialize)]
pub struct NationalityRow {
    pub community_id: Uuid,
    pub nationality: String,
    pub residents: u32,
    pub volunteers: u32,
    pub hours: f64,
    /// Share of all volunteer hours in the period, 0–1.
    pub share_of_hours: f64,
}

/// How well one care plan was kept in the period.
#[derive(Object, Serialize)]
pub struct CareRow {
    pub community_id: Uuid,
    pub plan_id: Uuid,
    pub resident: String,
    pub assignee: String,
    /// `call` or `visit`.
    pub kind: String,
    pub every_days: i32,
    /// Calls or visits the plan asked for in the period.
    pub due: u32,
    /// Calls or visits logged against the plan in the period.
    pub done: u32,
    /// `done / due`, at most 1.
    pub coverage: f64,
}

/// Attended sign-ups of the community with their shifts, in the period.
async fn attended(
    db: &DatabaseConnection,
    scope: &Part<'_>,
) -> Result<Vec<(shift_signup::Model, shift::Model)>> {
    let mut select = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift::Column::CommunityId.eq(scope.community.id))
        .filter(shift_signup::Column::Status.eq(SignupStatus::Attended));
    if let Some(from) = scope.from {
        select = select.filter(shift::Column::StartsAt.gte(from));
    }
    if let Some(to) = scope.to {
        select = select.filter(shift::Column::StartsAt.lt(to));
    }
    Ok(select
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(s, shift)| shift.map(|shift| (s, shift)))
        .collect())
}

async fn people_of(
    db: &DatabaseConnection,
    community_id: Uuid,
) -> Result<HashMap<Uuid, person::Model>> {
    Ok(person::Entity::find()
        .filter(person::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect())
}

pub struct ReportsApi;

#[OpenApi(prefix_path = "/v1/reports", tag = "Tag::Reports")]
impl ReportsApi {
    /// Volunteer hours by person (top volunteers first), station or month.
    #[oai(path = "/hours", method = "get", operation_id = "getHoursReport")]
    #[allow(clippy::too_many_arguments)]
    async fn hours(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        /// The community; admins who leave it out get every community, row by row.
        community_id: Query<Option<Uuid>>,
        /// Shifts starting at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Shifts starting before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// `person` (default), `station` or `month`.
        by: Query<Option<HoursBy>>,
        /// Language of station names; the community's default unless given.
        #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        locale: Query<Option<String>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<ReportResponse<HoursRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let mut rows = Vec::new();
        for part in scope.parts() {
            rows.extend(hours_rows(&state.db, &part, by.0, &locale.0).await?);
        }
        scope.respond(rows)
    }

    /// Volunteers whose first attended shift falls in the period.
    #[oai(
        path = "/new-volunteers",
        method = "get",
        operation_id = "getNewVolunteersReport"
    )]
    async fn new_volunteers(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<ReportResponse<NewVolunteerRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let mut rows = Vec::new();
        for part in scope.parts() {
            rows.extend(new_volunteers_rows(&state.db, &part).await?);
        }
        scope.respond(rows)
    }

    /// Attendance and satisfaction per event: registered, checked in, no-shows, ratings.
    #[oai(path = "/events", method = "get", operation_id = "getEventsReport")]
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        /// Events starting at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Events starting before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// Language of titles; the community's default unless given.
        #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        locale: Query<Option<String>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<ReportResponse<EventRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let mut rows = Vec::new();
        for part in scope.parts() {
            rows.extend(events_rows(&state.db, &part, &locale.0).await?);
        }
        scope.respond(rows)
    }

    /// Satisfaction by event category or by the attendees' nationality.
    #[oai(
        path = "/satisfaction",
        method = "get",
        operation_id = "getSatisfactionReport"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn satisfaction(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        /// `category` (default) or `nationality`.
        by: Query<Option<SatisfactionBy>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<ReportResponse<SatisfactionRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let mut rows = Vec::new();
        for part in scope.parts() {
            rows.extend(satisfaction_rows(&state.db, &part, by.0).await?);
        }
        scope.respond(rows)
    }

    /// Residents and volunteers by nationality, and each nationality's share of the
    /// volunteer hours in the period.
    #[oai(
        path = "/community",
        method = "get",
        operation_id = "getCommunityReport"
    )]
    async fn community(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<ReportResponse<NationalityRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let mut rows = Vec::new();
        for part in scope.parts() {
            rows.extend(community_rows(&state.db, &part).await?);
        }
        scope.respond(rows)
    }

    /// Care-programme coverage: for each plan, calls or visits due in the period against
    /// those logged (default: the last 30 days).
    #[oai(path = "/care", method = "get", operation_id = "getCareReport")]
    async fn care(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<ReportResponse<CareRow>> {
        let to_at = to.0.unwrap_or_else(crate::time::now);
        let from_at = from.0.unwrap_or(to_at - chrono::Duration::days(30));
        let scope = scope(
            &state.db,
            &caller,
            community_id.0,
            Some(from_at),
            Some(to_at),
            accept.0,
        )
        .await?;
        let mut rows = Vec::new();
        for part in scope.parts() {
            rows.extend(care_rows(&state.db, &part, from_at, to_at).await?);
        }
        scope.respond(rows)
    }
}

async fn hours_rows(
    db: &DatabaseConnection,
    part: &Part<'_>,
    by: Option<HoursBy>,
    locale: &Option<String>,
) -> Result<Vec<HoursRow>> {
    let rows = attended(db, part).await?;
    let people = people_of(db, part.community.id).await?;
    let stations: HashMap<Uuid, station::Model> = station::Entity::find()
        .filter(station::Column::CommunityId.eq(part.community.id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let zone = huashen_worker::format::zone(&part.community.time_zone);
    let mut groups: BTreeMap<String, (String, Option<String>, f64, u32)> = BTreeMap::new();
    for (signup, shift) in rows {
        let (key, label, nationality) = match by.unwrap_or(HoursBy::Person) {
            HoursBy::Person => {
                let person = people.get(&signup.person_id);
                (
                    signup.person_id.to_string(),
                    person.map(|p| p.full_name.clone()).unwrap_or_default(),
                    person.map(|p| p.nationality.clone()),
                )
            }
            HoursBy::Station => (
                shift.station_id.to_string(),
                stations
                    .get(&shift.station_id)
                    .map(|s| part.text(&s.name, locale))
                    .unwrap_or_default(),
                None,
            ),
            HoursBy::Month => {
                let month = shift
                    .starts_at
                    .with_timezone(&zone)
                    .format("%Y-%m")
                    .to_string();
                (month.clone(), month, None)
            }
        };
        let entry = groups.entry(key).or_insert((label, nationality, 0.0, 0));
        entry.2 += signup.hours_credited.unwrap_or_default();
        entry.3 += 1;
    }
    let mut rows: Vec<HoursRow> = groups
        .into_iter()
        .map(|(key, (label, nationality, hours, shifts))| HoursRow {
            community_id: part.community.id,
            key,
            label,
            nationality,
            hours: round2(hours),
            shifts,
        })
        .collect();
    if by != Some(HoursBy::Month) {
        rows.sort_by(|a, b| {
            b.hours
                .total_cmp(&a.hours)
                .then_with(|| a.label.cmp(&b.label))
        });
    }
    Ok(rows)
}

async fn new_volunteers_rows(
    db: &DatabaseConnection,
    part: &Part<'_>,
) -> Result<Vec<NewVolunteerRow>> {
    let everything = Part {
        community: part.community,
        from: None,
        to: None,
    };
    let mut first: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
    for (signup, shift) in attended(db, &everything).await? {
        let at = first.entry(signup.person_id).or_insert(shift.starts_at);
        *at = (*at).min(shift.starts_at);
    }
    let people = people_of(db, part.community.id).await?;
    let mut rows: Vec<NewVolunteerRow> = first
        .into_iter()
        .filter(|(_, at)| part.within(*at))
        .filter_map(|(id, at)| {
            let p = people.get(&id)?;
            Some(NewVolunteerRow {
                community_id: part.community.id,
                person_id: id,
                full_name: p.full_name.clone(),
                nationality: p.nationality.clone(),
                first_shift_at: at,
            })
        })
        .collect();
    rows.sort_by_key(|r| r.first_shift_at);
    Ok(rows)
}

async fn events_rows(
    db: &DatabaseConnection,
    part: &Part<'_>,
    locale: &Option<String>,
) -> Result<Vec<EventRow>> {
    let events: Vec<event::Model> = event::Entity::find()
        .filter(event::Column::CommunityId.eq(part.community.id))
        .filter(event::Column::Status.is_in([EventStatus::Published, EventStatus::Completed]))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| part.within(e.starts_at))
        .collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let registrations = event_registration::Entity::find()
        .filter(event_registration::Column::EventId.is_in(ids.clone()))
        .all(db)
        .await?;
    let ratings = feedback::Entity::find()
        .filter(feedback::Column::EventId.is_in(ids))
        .filter(feedback::Column::SubmittedAt.is_not_null())
        .all(db)
        .await?;
    let mut rows: Vec<EventRow> = events
        .iter()
        .map(|e| {
            let of = |status: RegistrationStatus| {
                registrations
                    .iter()
                    .filter(|r| r.event_id == e.id && r.status == status)
                    .count() as u32
            };
            let (registered, checked_in, no_shows) = (
                of(RegistrationStatus::Registered),
                of(RegistrationStatus::CheckedIn),
                of(RegistrationStatus::NoShow),
            );
            let given: Vec<i32> = ratings
                .iter()
                .filter(|f| f.event_id == e.id)
                .filter_map(|f| f.rating)
                .collect();
            let held = checked_in + no_shows;
            EventRow {
                community_id: part.community.id,
                event_id: e.id,
                title: part.text(&e.title, locale),
                category: e.category.clone(),
                starts_at: e.starts_at,
                capacity: e.capacity,
                registered: registered + checked_in + no_shows,
                checked_in,
                no_shows,
                no_show_rate: (held > 0).then(|| round2(f64::from(no_shows) / f64::from(held))),
                ratings: given.len() as u32,
                average_rating: (!given.is_empty()).then(|| {
                    round2(given.iter().map(|r| f64::from(*r)).sum::<f64>() / given.len() as f64)
                }),
            }
        })
        .collect();
    rows.sort_by_key(|r| r.starts_at);
    Ok(rows)
}

async fn satisfaction_rows(
    db: &DatabaseConnection,
    part: &Part<'_>,
    by: Option<SatisfactionBy>,
) -> Result<Vec<SatisfactionRow>> {
    let events: HashMap<Uuid, event::Model> = event::Entity::find()
        .filter(event::Column::CommunityId.eq(part.community.id))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| part.within(e.starts_at))
        .map(|e| (e.id, e))
        .collect();
    let answers = feedback::Entity::find()
        .filter(feedback::Column::EventId.is_in(events.keys().copied().collect::<Vec<_>>()))
        .filter(feedback::Column::SubmittedAt.is_not_null())
        .all(db)
        .await?;
    let people = people_of(db, part.community.id).await?;
    let mut groups: BTreeMap<String, [u32; 5]> = BTreeMap::new();
    for answer in answers {
        let Some(rating) = answer.rating.filter(|r| (1..=5).contains(r)) else {
            continue;
        };
        let group = match by.unwrap_or(SatisfactionBy::Category) {
            SatisfactionBy::Category => events
                .get(&answer.event_id)
                .map(|e| e.category.clone())
                .unwrap_or_default(),
            SatisfactionBy::Nationality => answer
                .person_id
                .and_then(|p| people.get(&p))
                .map_or_else(|| "unknown".to_owned(), |p| p.nationality.clone()),
        };
        groups.entry(group).or_default()[(rating - 1) as usize] += 1;
    }
    let rows = groups
        .into_iter()
        .map(|(group, counts)| {
            let ratings: u32 = counts.iter().sum();
            let total: u32 = counts
                .iter()
                .enumerate()
                .map(|(i, n)| (i as u32 + 1) * n)
                .sum();
            SatisfactionRow {
                community_id: part.community.id,
                group,
                ratings,
                average_rating: round2(f64::from(total) / f64::from(ratings.max(1))),
                rated_1: counts[0],
                rated_2: counts[1],
                rated_3: counts[2],
                rated_4: counts[3],
                rated_5: counts[4],
            }
        })
        .collect();
    Ok(rows)
}

async fn community_rows(db: &DatabaseConnection, part: &Part<'_>) -> Result<Vec<NationalityRow>> {
    let people = people_of(db, part.community.id).await?;
    let mut hours: HashMap<String, f64> = HashMap::new();
    let mut all_hours = 0.0;
    for (signup, _) in attended(db, part).await? {
        let credited = signup.hours_credited.unwrap_or_default();
        all_hours += credited;
        if let Some(p) = people.get(&signup.person_id) {
            *hours.entry(p.nationality.clone()).or_default() += credited;
        }
    }
    let nationalities: BTreeSet<String> = people
        .values()
        .filter(|p| p.erased_at.is_none())
        .map(|p| p.nationality.clone())
        .chain(hours.keys().cloned())
        .collect();
    let rows = nationalities
        .into_iter()
        .map(|nationality| {
            let of: Vec<&person::Model> = people
                .values()
                .filter(|p| p.nationality == nationality && p.erased_at.is_none())
                .collect();
            let h = hours.get(&nationality).copied().unwrap_or_default();
            NationalityRow {
                community_id: part.community.id,
                residents: of.len() as u32,
                volunteers: of.iter().filter(|p| p.is_volunteer).count() as u32,
                hours: round2(h),
                share_of_hours: if all_hours > 0.0 {
                    round2(h / all_hours)
                } else {
                    0.0
                },
                nationality,
            }
        })
        .collect();
    Ok(rows)
}

/// The care report always covers a period (the last 30 days unless given).
async fn care_rows(
    db: &DatabaseConnection,
    part: &Part<'_>,
    from_at: DateTime<Utc>,
    to_at: DateTime<Utc>,
) -> Result<Vec<CareRow>> {
    let zone = huashen_worker::format::zone(&part.community.time_zone);
    let (first_day, last_day) = (
        from_at.with_timezone(&zone).date_naive(),
        to_at.with_timezone(&zone).date_naive(),
    );
    let plans = care_plan::Entity::find()
        .filter(care_plan::Column::CommunityId.eq(part.community.id))
        .all(db)
        .await?;
    let entries = care_entry::Entity::find()
        .filter(care_entry::Column::CommunityId.eq(part.community.id))
        .filter(care_entry::Column::HappenedOn.gte(first_day))
        .filter(care_entry::Column::HappenedOn.lte(last_day))
        .all(db)
        .await?;
    let people = people_of(db, part.community.id).await?;
    let name = |id: Uuid| {
        people
            .get(&id)
            .map(|p| p.full_name.clone())
            .unwrap_or_default()
    };
    let rows = plans
        .into_iter()
        .filter_map(|plan| {
            // The part of the period the plan was running.
            let start = first_day.max(plan.created_at.with_timezone(&zone).date_naive());
            let end = plan.ended_at.map_or(last_day, |e| {
                last_day.min(e.with_timezone(&zone).date_naive())
            });
            if end < start {
                return None;
            }
            let days = (end - start).num_days() + 1;
            let due = (days / i64::from(plan.every_days.max(1))).max(1) as u32;
            let done = entries
                .iter()
                .filter(|e| e.care_plan_id == Some(plan.id))
                .count() as u32;
            Some(CareRow {
                community_id: part.community.id,
                plan_id: plan.id,
                resident: name(plan.person_id),
                assignee: name(plan.assignee_id),
                kind: plan.kind.as_str().to_owned(),
                every_days: plan.every_days,
                due,
                done,
                coverage: round2((f64::from(done) / f64::from(due)).min(1.0)),
            })
        })
        .collect();
    Ok(rows)
}
