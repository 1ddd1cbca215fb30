//! `/v1/shifts/{id}/signups`, attendance, and a person's sign-ups and hours.

use chrono::{DateTime, Utc};
use entities::enums::SignupStatus;
use entities::{shift, shift_signup};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use uuid::Uuid;

use super::people::visible as visible_person;
use super::shifts::Shift;
use super::{Result, Tag};
use crate::auth::{ApiKey, StaffKey};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::signups;
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// A volunteer's place on a shift.
#[derive(Object)]
pub struct Signup {
    pub id: Uuid,
    pub shift_id: Uuid,
    pub person_id: Uuid,
    pub status: SignupStatus,
    /// 1-based place in line while waitlisted.
    pub waitlist_position: Option<i32>,
    /// Hours credited once attendance is recorded.
    pub hours_credited: Option<f64>,
    /// Advice that did not stop the sign-up, e.g. a wanted language the person does not speak.
    pub warnings: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<shift_signup::Model> for Signup {
    fn from(m: shift_signup::Model) -> Self {
        Self {
            id: m.id,
            shift_id: m.shift_id,
            person_id: m.person_id,
            status: m.status,
            waitlist_position: m.waitlist_position,
            hours_credited: m.hours_credited,
            warnings: Vec::new(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SignupCreate {
    pub person_id: Uuid,
}

/// A cancelled sign-up and whoever moved up from the waitlist into the freed place.
#[derive(Object)]
pub struct SignupCancellation {
    pub signup: Signup,
    pub promoted: Vec<Signup>,
}

#[derive(Enum, Deserialize, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Attended,
    NoShow,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct AttendanceRecord {
    pub status: Attendance,
    /// Hours to credit when attended; the shift's length unless given.
    #[oai(validator(minimum(value = "0"), maximum(value = "24")))]
    pub hours: Option<f64>,
}

/// A person's sign-up with the shift it is for.
#[derive(Object)]
pub struct PersonSignup {
    pub signup: Signup,
    pub shift: Shift,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum When {
    /// Shifts that have not ended.
    Upcoming,
    /// Shifts that have ended.
    Past,
}

/// Hours credited to a person for attended shifts.
#[derive(Object)]
pub struct VolunteerHours {
    pub person_id: Uuid,
    pub hours: f64,
    /// Attended shifts counted.
    pub shifts: u32,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
pub enum SignupCreated {
    /// Signed up: `confirmed`, or `waitlisted` with a place in line.
    #[oai(status = 201)]
    Created(Json<Signup>),
}

pub struct SignupsApi;

#[OpenApi(tag = "Tag::Shifts")]
impl SignupsApi {
    /// Sign a volunteer up for a shift. Volunteer keys sign up their own person;
    /// organizers anyone of their community. Accepts `Idempotency-Key`.
    #[oai(
        path = "/v1/shifts/:id/signups",
        method = "post",
        operation_id = "createSignup"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        body: JsonBody<SignupCreate>,
    ) -> Result<SignupCreated> {
        let outcome = signups::sign_up(&state.db, &caller, id.0, body.0.person_id, now()).await?;
        let mut signup = Signup::from(outcome.signup);
        signup.warnings = outcome.warnings;
        Ok(SignupCreated::Created(Json(signup)))
    }

    /// List a shift's sign-ups (organizers), oldest first.
    #[oai(
        path = "/v1/shifts/:id/signups",
        method = "get",
        operation_id = "listSignups"
    )]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        status: Query<Option<SignupStatus>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Signup>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let shift = shift::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .filter(|s| caller.can_read(s.community_id))
            .ok_or_else(|| ApiError::not_found("shift"))?;
        caller.require_manage(shift.community_id)?;
        let mut select =
            shift_signup::Entity::find().filter(shift_signup::Column::ShiftId.eq(shift.id));
        if let Some(status) = status.0 {
            select = select.filter(shift_signup::Column::Status.eq(status));
        }
        let rows = page
            .by_id(select, shift_signup::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Signup::from,
        )))
    }

    /// Cancel a sign-up; the first in line moves up in the same transaction. Volunteers
    /// may cancel their own until the cancellation lead before the start.
    #[oai(
        path = "/v1/shifts/:id/signups/:person_id",
        method = "delete",
        operation_id = "cancelSignup"
    )]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        person_id: Path<Uuid>,
    ) -> Result<Json<SignupCancellation>> {
        let lead = state.settings.self_cancel_lead;
        let outcome = signups::cancel(&state.db, &caller, id.0, person_id.0, now(), lead).await?;
        Ok(Json(SignupCancellation {
            signup: outcome.signup.into(),
            promoted: outcome.promoted.into_iter().map(Signup::from).collect(),
        }))
    }

    /// Record attendance (organizers), once the shift has started.
    #[oai(
        path = "/v1/shifts/:id/signups/:person_id/attendance",
        method = "put",
        operation_id = "recordAttendance"
    )]
    async fn attendance(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        person_id: Path<Uuid>,
        body: JsonBody<AttendanceRecord>,
    ) -> Result<Json<Signup>> {
        let record = body.0;
        let mut checks = Checks::default();
        if let Some(hours) = record.hours {
            checks.ensure(
                record.status == Attendance::Attended || hours == 0.0,
                "hours",
                "no_show",
                "no-shows are credited no hours",
            );
        }
        checks.finish()?;
        let attended = record.status == Attendance::Attended;
        let signup = signups::record_attendance(
            &state.db,
            &caller,
            id.0,
            person_id.0,
            attended,
            record.hours,
            now(),
        )
        .await?;
        Ok(Json(signup.into()))
    }

    /// A person's sign-ups with their shifts, by start time (the person's own key, or organizers).
    #[oai(
        path = "/v1/people/:id/signups",
        method = "get",
        operation_id = "listPersonSignups"
    )]
    async fn of_person(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        /// `upcoming` (not yet ended) or `past`; both when absent.
        when: Query<Option<When>>,
        status: Query<Option<SignupStatus>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<PersonSignup>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let person = visible_person(&state, &caller, id.0).await?;
        let mut select = shift_signup::Entity::find()
            .find_also_related(shift::Entity)
            .filter(shift_signup::Column::PersonId.eq(person.id));
        let now = now();
        match when.0 {
            Some(When::Upcoming) => select = select.filter(shift::Column::EndsAt.gt(now)),
            Some(When::Past) => select = select.filter(shift::Column::EndsAt.lte(now)),
            None => {}
        }
        if let Some(status) = status.0 {
            select = select.filter(shift_signup::Column::Status.eq(status));
        }
        if let Some(Cursor {
            at: Some(at),
            id: last,
        }) = &page.after
        {
            select = select.filter(
                Condition::any().add(shift::Column::StartsAt.gt(*at)).add(
                    Condition::all()
                        .add(shift::Column::StartsAt.eq(*at))
                        .add(shift_signup::Column::Id.gt(*last)),
                ),
            );
        }
        let rows = select
            .order_by_asc(shift::Column::StartsAt)
            .order_by_asc(shift_signup::Column::Id)
            .limit(page.limit + 1)
            .all(&state.db)
            .await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter_map(|(s, shift)| shift.map(|shift| (s, shift)))
            .collect();
        Ok(Json(page.finish(
            rows,
            |(s, shift)| Cursor {
                at: Some(shift.starts_at),
                id: s.id,
            },
            |(s, shift)| PersonSignup {
                signup: s.into(),
                shift: shift.into(),
            },
        )))
    }

    /// Hours credited to a person for attended shifts starting in `[from, to)`.
    #[oai(
        path = "/v1/people/:id/hours",
        method = "get",
        operation_id = "getPersonHours"
    )]
    async fn hours(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<VolunteerHours>> {
        let person = visible_person(&state, &caller, id.0).await?;
        let mut select = shift_signup::Entity::find()
            .inner_join(shift::Entity)
            .filter(shift_signup::Column::PersonId.eq(person.id))
            .filter(shift_signup::Column::Status.eq(SignupStatus::Attended));
        if let Some(from) = from.0 {
            select = select.filter(shift::Column::StartsAt.gte(from));
        }
        if let Some(to) = to.0 {
            select = select.filter(shift::Column::StartsAt.lt(to));
        }
        let attended = select.all(&state.db).await?;
        let hours: f64 = attended.iter().filter_map(|s| s.hours_credited).sum();
        Ok(Json(VolunteerHours {
            person_id: person.id,
            hours: (hours * 100.0).round() / 100.0,
            shifts: attended.len() as u32,
            from: from.0,
            to: to.0,
        }))
    }
}

impl poem_openapi::types::Example for SignupCreate {
    fn example() -> Self {
        Self {
            person_id: super::example_id(3),
        }
    }
}

impl poem_openapi::types::Example for AttendanceRecord {
    fn example() -> Self {
        Self {
            status: Attendance::Attended,
            hours: Some(3.0),
        }
    }
}
