//! `/v1/reports/…`: the numbers for the community's joint meetings, as JSON or, with
//! `Accept: text/csv`, as CSV that spreadsheet programs open correctly with Chinese text
//! (UTF-8 with a byte-order mark).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entities::enums::{EventStatus, RegistrationStatus, SignupStatus};
use entities::{
    care_entry, care_plan, community, event, event_registration, feedback, person, shift,
    shift_signup, station,
};
use huashen_worker::locale::pick;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::{ApiKey, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// A report: the rows, and what they cover.
#[derive(Object)]
pub struct Report<T: ParseFromJSON + ToJSON + Send + Sync> {
    pub community_id: Uuid,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub rows: Vec<T>,
}

#[derive(ApiResponse)]
pub enum ReportResponse<T: ParseFromJSON + ToJSON + Send + Sync> {
    /// The report, as JSON or (with `Accept: text/csv`) as CSV.
    #[oai(status = 200)]
    Json(Json<Report<T>>),
    /// The rows as CSV, UTF-8 with a byte-order mark.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
}

/// What the report is about, and for when.
struct Scope {
    community: community::Model,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    csv: bool,
}

impl Scope {
    fn within(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| at >= from) && self.to.is_none_or(|to| at < to)
    }

    fn text(&self, text: &entities::json::LocalizedText, locale: &Option<String>) -> String {
        let locale = locale.as_deref().unwrap_or(&self.community.default_locale);
        pick(text, locale, &self.community.default_locale)
    }

    fn respond<T: ParseFromJSON + ToJSON + Send + Sync + Serialize>(
        self,
        rows: Vec<T>,
    ) -> Result<ReportResponse<T>> {
        if self.csv {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for row in &rows {
                writer
                    .serialize(row)
                    .map_err(|e| ApiError::Internal(e.into()))?;
            }
            let bytes = writer
                .into_inner()
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
            let text = String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.into()))?;
            return Ok(ReportResponse::Csv(PlainText(format!("\u{feff}{text}"))));
        }
        Ok(ReportResponse::Json(Json(Report {
            community_id: self.community.id,
            from: self.from,
            to: self.to,
            rows,
        })))
    }
}

async fn scope(
    db: &DatabaseConnection,
    caller: &Caller,
    community_id: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    accept: Option<String>,
) -> Result<Scope> {
    if caller.role == entities::enums::Role::Volunteer {
        return Err(ApiError::forbidden("reports are for organizers"));
    }
    let Some(community_id) = caller.list_scope(community_id)? else {
        return Err(ApiError::invalid(
            "community_id",
            "required",
            "admins name the community",
        ));
    };
    let community = community::Entity::find_by_id(community_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("community"))?;
    let csv = accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/csv"));
    Ok(Scope {
        community,
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
    pub person_id: Uuid,
    pub full_name: String,
    pub nationality: String,
    pub first_shift_at: DateTime<Utc>,
}

/// Attendance and satisfaction of one event.
#[derive(Object, Serialize)]
pub struct EventRow {
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
    scope: &Scope,
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
    #[oai(path = "/hours", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn hours(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        /// Required for admin keys; organizers get their own.
        community_id: Query<Option<Uuid>>,
        /// Shifts starting at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Shifts starting before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// `person` (default), `station` or `month`.
        by: Query<Option<HoursBy>>,
        /// Language of station names; the community's default unless given.
        locale: Query<Option<String>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<ReportResponse<HoursRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let rows = attended(&state.db, &scope).await?;
        let people = people_of(&state.db, scope.community.id).await?;
        let stations: HashMap<Uuid, station::Model> = station::Entity::find()
            .filter(station::Column::CommunityId.eq(scope.community.id))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let zone = huashen_worker::format::zone(&scope.community.time_zone);
        let mut groups: BTreeMap<String, (String, Option<String>, f64, u32)> = BTreeMap::new();
        for (signup, shift) in rows {
            let (key, label, nationality) = match by.0.unwrap_or(HoursBy::Person) {
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
                        .map(|s| scope.text(&s.name, &locale.0))
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
                key,
                label,
                nationality,
                hours: round2(hours),
                shifts,
            })
            .collect();
        if by.0 != Some(HoursBy::Month) {
            rows.sort_by(|a, b| {
                b.hours
                    .total_cmp(&a.hours)
                    .then_with(|| a.label.cmp(&b.label))
            });
        }
        scope.respond(rows)
    }

    /// Volunteers whose first attended shift falls in the period.
    #[oai(path = "/new-volunteers", method = "get")]
    async fn new_volunteers(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<ReportResponse<NewVolunteerRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let everything = Scope {
            from: None,
            to: None,
            csv: scope.csv,
            community: scope.community.clone(),
        };
        let mut first: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
        for (signup, shift) in attended(&state.db, &everything).await? {
            let at = first.entry(signup.person_id).or_insert(shift.starts_at);
            *at = (*at).min(shift.starts_at);
        }
        let people = people_of(&state.db, scope.community.id).await?;
        let mut rows: Vec<NewVolunteerRow> = first
            .into_iter()
            .filter(|(_, at)| scope.within(*at))
            .filter_map(|(id, at)| {
                let p = people.get(&id)?;
                Some(NewVolunteerRow {
                    person_id: id,
                    full_name: p.full_name.clone(),
                    nationality: p.nationality.clone(),
                    first_shift_at: at,
                })
            })
            .collect();
        rows.sort_by_key(|r| r.first_shift_at);
        scope.respond(rows)
    }

    /// Attendance and satisfaction per event: registered, checked in, no-shows, ratings.
    #[oai(path = "/events", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        community_id: Query<Option<Uuid>>,
        /// Events starting at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Events starting before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// Language of titles; the community's default unless given.
        locale: Query<Option<String>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<ReportResponse<EventRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let events: Vec<event::Model> = event::Entity::find()
            .filter(event::Column::CommunityId.eq(scope.community.id))
            .filter(event::Column::Status.is_in([EventStatus::Published, EventStatus::Completed]))
            .all(&state.db)
            .await?
            .into_iter()
            .filter(|e| scope.within(e.starts_at))
            .collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let registrations = event_registration::Entity::find()
            .filter(event_registration::Column::EventId.is_in(ids.clone()))
            .all(&state.db)
            .await?;
        let ratings = feedback::Entity::find()
            .filter(feedback::Column::EventId.is_in(ids))
            .filter(feedback::Column::SubmittedAt.is_not_null())
            .all(&state.db)
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
                    event_id: e.id,
                    title: scope.text(&e.title, &locale.0),
                    category: e.category.clone(),
                    starts_at: e.starts_at,
                    capacity: e.capacity,
                    registered: registered + checked_in + no_shows,
                    checked_in,
                    no_shows,
                    no_show_rate: (held > 0).then(|| round2(f64::from(no_shows) / f64::from(held))),
                    ratings: given.len() as u32,
                    average_rating: (!given.is_empty()).then(|| {
                        round2(
                            given.iter().map(|r| f64::from(*r)).sum::<f64>() / given.len() as f64,
                        )
                    }),
                }
            })
            .collect();
        rows.sort_by_key(|r| r.starts_at);
        scope.respond(rows)
    }

    /// Satisfaction by event category or by the attendees' nationality.
    #[oai(path = "/satisfaction", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn satisfaction(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        /// `category` (default) or `nationality`.
        by: Query<Option<SatisfactionBy>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<ReportResponse<SatisfactionRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let events: HashMap<Uuid, event::Model> = event::Entity::find()
            .filter(event::Column::CommunityId.eq(scope.community.id))
            .all(&state.db)
            .await?
            .into_iter()
            .filter(|e| scope.within(e.starts_at))
            .map(|e| (e.id, e))
            .collect();
        let answers = feedback::Entity::find()
            .filter(feedback::Column::EventId.is_in(events.keys().copied().collect::<Vec<_>>()))
            .filter(feedback::Column::SubmittedAt.is_not_null())
            .all(&state.db)
            .await?;
        let people = people_of(&state.db, scope.community.id).await?;
        let mut groups: BTreeMap<String, [u32; 5]> = BTreeMap::new();
        for answer in answers {
            let Some(rating) = answer.rating.filter(|r| (1..=5).contains(r)) else {
                continue;
            };
            let group = match by.0.unwrap_or(SatisfactionBy::Category) {
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
        scope.respond(rows)
    }

    /// Residents and volunteers by nationality, and each nationality's share of the
    /// volunteer hours in the period.
    #[oai(path = "/community", method = "get")]
    async fn community(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<ReportResponse<NationalityRow>> {
        let scope = scope(&state.db, &caller, community_id.0, from.0, to.0, accept.0).await?;
        let people = people_of(&state.db, scope.community.id).await?;
        let mut hours: HashMap<String, f64> = HashMap::new();
        let mut all_hours = 0.0;
        for (signup, _) in attended(&state.db, &scope).await? {
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
        scope.respond(rows)
    }

    /// Care-programme coverage: for each plan, calls or visits due in the period against
    /// those logged (default: the last 30 days).
    #[oai(path = "/care", method = "get")]
    async fn care(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        community_id: Query<Option<Uuid>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
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
        let zone = huashen_worker::format::zone(&scope.community.time_zone);
        let (first_day, last_day) = (
            from_at.with_timezone(&zone).date_naive(),
            to_at.with_timezone(&zone).date_naive(),
        );
        let plans = care_plan::Entity::find()
            .filter(care_plan::Column::CommunityId.eq(scope.community.id))
            .all(&state.db)
            .await?;
        let entries = care_entry::Entity::find()
            .filter(care_entry::Column::CommunityId.eq(scope.community.id))
            .filter(care_entry::Column::HappenedOn.gte(first_day))
            .filter(care_entry::Column::HappenedOn.lte(last_day))
            .all(&state.db)
            .await?;
        let people = people_of(&state.db, scope.community.id).await?;
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
        scope.respond(rows)
    }
}
