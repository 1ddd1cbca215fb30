//! The care programme beyond mail: plans for regular calls and visits (日常一个电),
//! the care log (calls, visits, 慰问一束花, farewell gifts), and what is due.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::enums::{CareKind, Role};
use entities::{care_entry, care_plan, community, person};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{ApiKey, Caller, StaffKey};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;
use crate::store::save_versioned;
use crate::time::now;
use crate::validate::Checks;

#[derive(Object)]
pub struct CarePlan {
    pub id: Uuid,
    /// The resident cared for.
    pub person_id: Uuid,
    pub community_id: Uuid,
    /// `call` or `visit`.
    pub kind: CareKind,
    pub every_days: i32,
    /// Who calls or visits, and is reminded.
    pub assignee_id: Uuid,
    pub next_due_on: NaiveDate,
    pub notes: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<care_plan::Model> for CarePlan {
    fn from(m: care_plan::Model) -> Self {
        Self {
            id: m.id,
            person_id: m.person_id,
            community_id: m.community_id,
            kind: m.kind,
            every_days: m.every_days,
            assignee_id: m.assignee_id,
            next_due_on: m.next_due_on,
            notes: m.notes,
            ended_at: m.ended_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CarePlanCreate {
    /// `call` or `visit`.
    pub kind: CareKind,
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    pub every_days: i32,
    pub assignee_id: Uuid,
    /// The first due day; today (community time) unless given.
    pub first_due_on: Option<NaiveDate>,
    #[oai(validator(max_length = 2000))]
    pub notes: Option<String>,
}

#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CarePlanPatch {
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    pub every_days: Option<i32>,
    pub assignee_id: Option<Uuid>,
    pub next_due_on: Option<NaiveDate>,
    /// `null` clears the notes.
    #[serde(default)]
    #[oai(validator(max_length = 2000))]
    pub notes: MaybeUndefined<String>,
}

#[derive(Object)]
pub struct CareEntry {
    pub id: Uuid,
    pub person_id: Uuid,
    pub care_plan_id: Option<Uuid>,
    pub kind: CareKind,
    pub happened_on: NaiveDate,
    pub by_person_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<care_entry::Model> for CareEntry {
    fn from(m: care_entry::Model) -> Self {
        Self {
            id: m.id,
            person_id: m.person_id,
            care_plan_id: m.care_plan_id,
            kind: m.kind,
            happened_on: m.happened_on,
            by_person_id: m.by_person_id,
            outcome: m.outcome,
            note: m.note,
            created_at: m.created_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CareEntryCreate {
    /// `call`, `visit`, `flowers`, `farewell_gift` or `other`.
    pub kind: CareKind,
    pub happened_on: NaiveDate,
    /// Who gave the care.
    pub by_person_id: Option<Uuid>,
    /// The plan this fulfils; its next due day moves on from `happened_on`.
    pub care_plan_id: Option<Uuid>,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub outcome: Option<String>,
    #[oai(validator(max_length = 4000))]
    pub note: Option<String>,
}

/// A plan whose call or visit is due.
#[derive(Object)]
pub struct DueCare {
    pub plan: CarePlan,
    pub resident_name: String,
    pub assignee_name: String,
    /// Days past the due day; 0 when due today, negative when still ahead.
    pub days_overdue: i64,
}

#[derive(ApiResponse)]
pub enum CarePlanCreated {
    #[oai(status = 201)]
    Created(Json<CarePlan>),
}

#[derive(ApiResponse)]
pub enum CareEntryCreated {
    #[oai(status = 201)]
    Created(Json<CareEntry>),
}

/// The resident, managed by the caller, and the community's today.
async fn resident(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<(person::Model, NaiveDate)> {
    let person = person::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|p| {
            caller.can_manage(p.community_id)
                || caller.person_id.is_some() && caller.can_read(p.community_id)
        })
        .ok_or_else(|| ApiError::not_found("person"))?;
    let community = community::Entity::find_by_id(person.community_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("community"))?;
    let today = now()
        .with_timezone(&huashen_worker::format::zone(&community.time_zone))
        .date_naive();
    Ok((person, today))
}

/// Someone of `community_id` who can be assigned care.
async fn assignee(state: &AppState, community_id: Uuid, id: Uuid) -> Result<person::Model> {
    person::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|p| p.community_id == community_id && p.erased_at.is_none())
        .ok_or_else(|| {
            ApiError::invalid(
                "assignee_id",
                "not_found",
                "no such person in the community",
            )
        })
}

async fn plan_of(state: &AppState, person_id: Uuid, plan_id: Uuid) -> Result<care_plan::Model> {
    care_plan::Entity::find_by_id(plan_id)
        .one(&state.db)
        .await?
        .filter(|p| p.person_id == person_id)
        .ok_or_else(|| ApiError::not_found("care plan"))
}

pub struct CareApi;

#[OpenApi(tag = "Tag::Care")]
impl CareApi {
    /// Plan regular calls or visits to a resident (organizers).
    #[oai(
        path = "/v1/people/:id/care-plans",
        method = "post",
        operation_id = "createCarePlan"
    )]
    async fn create_plan(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        body: JsonBody<CarePlanCreate>,
    ) -> Result<CarePlanCreated> {
        let body = body.0;
        let (person, today) = resident(&state, &caller, id.0).await?;
        caller.require_manage(person.community_id)?;
        let mut checks = Checks::default();
        checks.ensure(
            matches!(body.kind, CareKind::Call | CareKind::Visit),
            "kind",
            "invalid_choice",
            "plans are for calls and visits",
        );
        checks.finish()?;
        if person.erased_at.is_some() {
            return Err(ApiError::conflict("the person's data was erased"));
        }
        assignee(&state, person.community_id, body.assignee_id).await?;
        let now = now();
        let plan = care_plan::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(person.id),
            community_id: Set(person.community_id),
            kind: Set(body.kind),
            every_days: Set(body.every_days),
            assignee_id: Set(body.assignee_id),
            next_due_on: Set(body.first_due_on.unwrap_or(today)),
            notes: Set(body.notes),
            ended_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
        }
        .insert(&state.db)
        .await?;
        Ok(CarePlanCreated::Created(Json(plan.into())))
    }

    /// A resident's care plans, ended ones included (organizers).
    #[oai(
        path = "/v1/people/:id/care-plans",
        method = "get",
        operation_id = "listCarePlans"
    )]
    async fn plans(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<CarePlan>>> {
        let (person, _) = resident(&state, &caller, id.0).await?;
        caller.require_manage(person.community_id)?;
        let plans = care_plan::Entity::find()
            .filter(care_plan::Column::PersonId.eq(person.id))
            .order_by_asc(care_plan::Column::Id)
            .all(&state.db)
            .await?;
        Ok(Json(plans.into_iter().map(CarePlan::from).collect()))
    }

    /// Change a care plan (organizers).
    #[oai(
        path = "/v1/people/:id/care-plans/:plan_id",
        method = "patch",
        operation_id = "updateCarePlan"
    )]
    async fn update_plan(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        plan_id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<CarePlanPatch>,
    ) -> Result<Fetched<CarePlan>> {
        let patch = body.0;
        let (person, _) = resident(&state, &caller, id.0).await?;
        caller.require_manage(person.community_id)?;
        let plan = plan_of(&state, person.id, plan_id.0).await?;
        check_if_match(if_match.0.as_deref(), plan.version)?;
        if plan.ended_at.is_some() {
            return Err(ApiError::conflict("the plan has ended"));
        }
        if let Some(new_assignee) = patch.assignee_id {
            assignee(&state, person.community_id, new_assignee).await?;
        }
        let mut next = plan.clone();
        if let Some(days) = patch.every_days {
            next.every_days = days;
        }
        if let Some(new_assignee) = patch.assignee_id {
            next.assignee_id = new_assignee;
        }
        if let Some(day) = patch.next_due_on {
            next.next_due_on = day;
        }
        patch.notes.update_to(&mut next.notes);
        next.updated_at = now();
        next.version = plan.version + 1;
        save_versioned(
            &state.db,
            next.clone().into_active_model(),
            plan.id,
            plan.version,
        )
        .await?;
        let tag = etag(next.version);
        Ok(Fetched::Ok(Json(next.into()), tag))
    }

    /// End a care plan (organizers); its log stays.
    #[oai(
        path = "/v1/people/:id/care-plans/:plan_id",
        method = "delete",
        operation_id = "endCarePlan"
    )]
    async fn end_plan(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        plan_id: Path<Uuid>,
    ) -> Result<Deleted> {
        let (person, _) = resident(&state, &caller, id.0).await?;
        caller.require_manage(person.community_id)?;
        let plan = plan_of(&state, person.id, plan_id.0).await?;
        if plan.ended_at.is_none() {
            let mut active = plan.into_active_model();
            active.ended_at = Set(Some(now()));
            active.updated_at = Set(now());
            active.update(&state.db).await?;
        }
        Ok(Deleted::NoContent)
    }

    /// Log care given (organizers, or the plan's assignee with their own key). Logging a
    /// planned call or visit moves the plan's next due day on from `happened_on`.
    #[oai(
        path = "/v1/people/:id/care-log",
        method = "post",
        operation_id = "createCareLogEntry"
    )]
    async fn log(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        body: JsonBody<CareEntryCreate>,
    ) -> Result<CareEntryCreated> {
        let body = body.0;
        let (person, today) = resident(&state, &caller, id.0).await?;
        let plan = match body.care_plan_id {
            Some(plan_id) => Some(plan_of(&state, person.id, plan_id).await?),
            None => None,
        };
        let is_assignee = caller.role == Role::Volunteer
            && plan
                .as_ref()
                .is_some_and(|p| Some(p.assignee_id) == caller.person_id);
        if !is_assignee {
            caller.require_manage(person.community_id)?;
        }
        let mut checks = Checks::default();
        checks.ensure(
            body.happened_on <= today,
            "happened_on",
            "future",
            "care is logged once it happened",
        );
        checks.finish()?;
        if let Some(by) = body.by_person_id {
            assignee(&state, person.community_id, by)
                .await
                .map_err(|_| {
                    ApiError::invalid(
                        "by_person_id",
                        "not_found",
                        "no such person in the community",
                    )
                })?;
        }
        let now = now();
        let txn = state.db.begin().await?;
        let entry = care_entry::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(person.id),
            community_id: Set(person.community_id),
            care_plan_id: Set(plan.as_ref().map(|p| p.id)),
            kind: Set(body.kind),
            happened_on: Set(body.happened_on),
            by_person_id: Set(body.by_person_id.or(if is_assignee {
                caller.person_id
            } else {
                None
            })),
            outcome: Set(body.outcome),
            note: Set(body.note),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        if let Some(plan) = plan.filter(|p| p.ended_at.is_none()) {
            let next = body.happened_on + Duration::days(plan.every_days.into());
            if next > plan.next_due_on {
                let version = plan.version;
                let mut active = plan.into_active_model();
                active.next_due_on = Set(next);
                active.updated_at = Set(now);
                active.version = Set(version + 1);
                active.update(&txn).await?;
            }
        }
        txn.commit().await?;
        Ok(CareEntryCreated::Created(Json(entry.into())))
    }

    /// A resident's care log, oldest first (organizers).
    #[oai(
        path = "/v1/people/:id/care-log",
        method = "get",
        operation_id = "listCareLog"
    )]
    async fn care_log(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<CareEntry>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let (person, _) = resident(&state, &caller, id.0).await?;
        caller.require_manage(person.community_id)?;
        let select = care_entry::Entity::find().filter(care_entry::Column::PersonId.eq(person.id));
        let rows = page
            .by_id(select, care_entry::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            CareEntry::from,
        )))
    }

    /// Calls and visits due (and overdue) in a community, most overdue first.
    #[oai(path = "/v1/care/due", method = "get", operation_id = "listDueCare")]
    async fn due(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        /// The community; admins who leave it out get every community's.
        community_id: Query<Option<Uuid>>,
        /// Also what falls due within this many days (default 0).
        #[oai(validator(minimum(value = "0"), maximum(value = "30")))]
        within_days: Query<Option<i64>>,
    ) -> Result<Json<Vec<DueCare>>> {
        let within = Duration::days(within_days.0.unwrap_or(0));
        let (_, communities) =
            super::communities::in_scope(&state.db, &caller, community_id.0).await?;
        // "Today" is each community's own.
        let mut plans = Vec::new();
        for community in communities {
            let today = now()
                .with_timezone(&huashen_worker::format::zone(&community.time_zone))
                .date_naive();
            let due = care_plan::Entity::find()
                .filter(care_plan::Column::CommunityId.eq(community.id))
                .filter(care_plan::Column::EndedAt.is_null())
                .filter(care_plan::Column::NextDueOn.lte(today + within))
                .all(&state.db)
                .await?;
            plans.extend(due.into_iter().map(|plan| (today, plan)));
        }
        plans.sort_by_key(|(today, plan)| (std::cmp::Reverse(*today - plan.next_due_on), plan.id));
        let ids: Vec<Uuid> = plans
            .iter()
            .flat_map(|(_, p)| [p.person_id, p.assignee_id])
            .collect();
        let names: std::collections::HashMap<Uuid, String> = person::Entity::find()
            .filter(person::Column::Id.is_in(ids))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.full_name))
            .collect();
        Ok(Json(
            plans
                .into_iter()
                .map(|(today, plan)| DueCare {
                    resident_name: names.get(&plan.person_id).cloned().unwrap_or_default(),
                    assignee_name: names.get(&plan.assignee_id).cloned().unwrap_or_default(),
                    days_overdue: (today - plan.next_due_on).num_days(),
                    plan: plan.into(),
                })
                .collect(),
        ))
    }
}

impl poem_openapi::types::Example for CarePlanCreate {
    fn example() -> Self {
        Self {
            kind: CareKind::Call,
            every_days: 7,
            assignee_id: super::example_id(3),
            first_due_on: None,
            notes: Some("Prefers calls in the morning.".to_owned()),
        }
    }
}

impl poem_openapi::types::Example for CarePlanPatch {
    fn example() -> Self {
        Self {
            every_days: Some(14),
            ..Self::default()
        }
    }
}

impl poem_openapi::types::Example for CareEntryCreate {
    fn example() -> Self {
        Self {
            kind: CareKind::Call,
            happened_on: super::example_time(0).date_naive(),
            by_person_id: Some(super::example_id(3)),
            care_plan_id: Some(super::example_id(6)),
            outcome: Some("Doing well".to_owned()),
            note: None,
        }
    }
}
