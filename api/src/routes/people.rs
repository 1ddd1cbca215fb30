//! `/v1/people`

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entities::enums::{MailKind, PersonStatus, SubjectType};
use entities::json::TagList;
use entities::{community, person};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::Deserialize;
use uuid::Uuid;

use super::tables::{self, JsonOrCsv};
use super::{Created, Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{ApiKey, Caller, StaffKey};
use crate::body::JsonBody;
use crate::db::begin_write;
use crate::error::ApiError;
use crate::imports;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::personal_data;
use crate::self_service;
use crate::state::AppState;
use crate::store::save_versioned;
use crate::time::now;
use crate::validate::Checks;

/// Which mails a person wants.
#[derive(Object, Clone, Copy, Deserialize)]
pub struct NotificationPreferences {
    /// Shift and event reminders.
    pub reminders: bool,
    /// The birthday card.
    pub birthday_card: bool,
    /// Requests for feedback after events.
    pub feedback: bool,
    /// Notices organizers send to residents.
    pub notices: bool,
    /// Invitations to answer satisfaction surveys, and their reminders.
    pub surveys: bool,
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        Self {
            reminders: true,
            birthday_card: true,
            feedback: true,
            notices: true,
            surveys: true,
        }
    }
}

impl From<NotificationPreferencesPatch> for NotificationPreferences {
    fn from(given: NotificationPreferencesPatch) -> Self {
        let all_on = Self::default();
        Self {
            reminders: given.reminders.unwrap_or(all_on.reminders),
            birthday_card: given.birthday_card.unwrap_or(all_on.birthday_card),
            feedback: given.feedback.unwrap_or(all_on.feedback),
            notices: given.notices.unwrap_or(all_on.notices),
            surveys: given.surveys.unwrap_or(all_on.surveys),
        }
    }
}

/// Preferences to change; absent ones stay as they are (on, for a new person).
#[derive(Object, Deserialize)]
pub struct NotificationPreferencesPatch {
    pub reminders: Option<bool>,
    pub birthday_card: Option<bool>,
    pub feedback: Option<bool>,
    pub notices: Option<bool>,
    pub surveys: Option<bool>,
}

/// A resident or volunteer.
#[derive(Object)]
pub struct Person {
    pub id: Uuid,
    pub community_id: Uuid,
    pub full_name: String,
    pub email: String,
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `CN`, `KR`.
    pub nationality: String,
    /// BCP 47 locale for everything this person reads, e.g. `zh-CN`, `en`.
    pub locale: String,
    /// IANA time zone.
    pub time_zone: String,
    pub birthday: Option<NaiveDate>,
    /// Languages spoken, as BCP 47 tags.
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub is_volunteer: bool,
    /// Receives the daily organizer digest.
    pub is_organizer: bool,
    pub moved_in_on: Option<NaiveDate>,
    pub moving_out_on: Option<NaiveDate>,
    pub notifications: NotificationPreferences,
    /// `unverified` after applying until the address is confirmed; `pending` while a
    /// volunteer who applied awaits an organizer's approval.
    pub status: PersonStatus,
    /// When the person confirmed the address with an emailed code.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The consent given when applying; unset for people an organizer added.
    pub consent: Option<ConsentRecord>,
    /// Set once the person's data was erased; the record stays, anonymised.
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which consent text a person accepted, and when.
#[derive(Object)]
pub struct ConsentRecord {
    pub text_version: String,
    pub accepted_at: DateTime<Utc>,
}

impl From<person::Model> for Person {
    fn from(m: person::Model) -> Self {
        Self {
            id: m.id,
            community_id: m.community_id,
            full_name: m.full_name,
            email: m.email,
            phone: m.phone,
            nationality: m.nationality,
            locale: m.locale,
            time_zone: m.time_zone,
            birthday: m.birthday,
            languages: m.languages.0,
            skills: m.skills.0,
            is_volunteer: m.is_volunteer,
            is_organizer: m.is_organizer,
            moved_in_on: m.moved_in_on,
            moving_out_on: m.moving_out_on,
            notifications: NotificationPreferences {
                reminders: m.notify_reminders,
                birthday_card: m.notify_birthday,
                feedback: m.notify_feedback,
                notices: m.notify_notices,
                surveys: m.notify_surveys,
            },
            status: m.status,
            email_verified_at: m.email_verified_at,
            consent: m
                .consent_version
                .zip(m.consent_at)
                .map(|(text_version, accepted_at)| ConsentRecord {
                    text_version,
                    accepted_at,
                }),
            erased_at: m.erased_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct PersonCreate {
    pub community_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub full_name: String,
    #[oai(validator(max_length = 254))]
    pub email: String,
    #[oai(validator(min_length = 3, max_length = 40))]
    pub phone: Option<String>,
    #[oai(validator(min_length = 2, max_length = 2, pattern = "^[A-Z]{2}$"))]
    pub nationality: String,
    /// Defaults to the community's default locale.
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub locale: Option<String>,
    /// Defaults to the community's time zone.
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
    pub birthday: Option<NaiveDate>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(
        max_items = 50,
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    ))]
    pub languages: Vec<String>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(max_items = 50, max_length = 64))]
    pub skills: Vec<String>,
    #[oai(default)]
    #[serde(default)]
    pub is_volunteer: bool,
    #[oai(default)]
    #[serde(default)]
    pub is_organizer: bool,
    pub moved_in_on: Option<NaiveDate>,
    pub moving_out_on: Option<NaiveDate>,
    /// Each on unless given.
    pub notifications: Option<NotificationPreferencesPatch>,
}

/// Fields to change; `null` clears an optional one.
#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct PersonPatch {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub full_name: Option<String>,
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    #[serde(default)]
    #[oai(validator(min_length = 3, max_length = 40))]
    pub phone: MaybeUndefined<String>,
    #[oai(validator(min_length = 2, max_length = 2, pattern = "^[A-Z]{2}$"))]
    pub nationality: Option<String>,
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub locale: Option<String>,
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub birthday: MaybeUndefined<NaiveDate>,
    #[oai(validator(
        max_items = 50,
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    ))]
    pub languages: Option<Vec<String>>,
    #[oai(validator(max_items = 50, max_length = 64))]
    pub skills: Option<Vec<String>>,
    pub is_volunteer: Option<bool>,
    pub is_organizer: Option<bool>,
    #[serde(default)]
    pub moved_in_on: MaybeUndefined<NaiveDate>,
    #[serde(default)]
    pub moving_out_on: MaybeUndefined<NaiveDate>,
    pub notifications: Option<NotificationPreferencesPatch>,
}

/// The person `body` describes, in `community`, as `POST /v1/people` and imports
/// create them (the checks are the caller's).
pub(crate) fn new_person(
    community: &community::Model,
    body: PersonCreate,
    now: DateTime<Utc>,
) -> person::Model {
    let preferences = body
        .notifications
        .map(NotificationPreferences::from)
        .unwrap_or_default();
    person::Model {
        id: Uuid::now_v7(),
        community_id: community.id,
        full_name: body.full_name.trim().to_owned(),
        email_normalized: body.email.trim().to_lowercase(),
        email: body.email.trim().to_owned(),
        phone: body.phone,
        nationality: body.nationality,
        locale: body
            .locale
            .unwrap_or_else(|| community.default_locale.clone()),
        time_zone: body
            .time_zone
            .unwrap_or_else(|| community.time_zone.clone()),
        birthday: body.birthday,
        birthday_md: month_day(body.birthday),
        languages: TagList(body.languages),
        skills: TagList(body.skills),
        is_volunteer: body.is_volunteer,
        is_organizer: body.is_organizer,
        moved_in_on: body.moved_in_on,
        moving_out_on: body.moving_out_on,
        notify_reminders: preferences.reminders,
        notify_birthday: preferences.birthday_card,
        notify_feedback: preferences.feedback,
        notify_notices: preferences.notices,
        notify_surveys: preferences.surveys,
        erased_at: None,
        calendar_token_hash: None,
        status: PersonStatus::Active,
        email_verified_at: None,
        consent_version: None,
        consent_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// The checks a person must pass whether created or changed.
pub(crate) fn check_person(checks: &mut Checks, p: &person::Model) {
    checks.email("email", &p.email);
    checks.country("nationality", &p.nationality);
    checks.locale("locale", &p.locale);
    checks.time_zone("time_zone", &p.time_zone);
    checks.languages("languages", &p.languages.0);
    checks.tags("skills", &p.skills.0);
    if let Some(birthday) = p.birthday {
        checks.ensure(
            birthday <= Utc::now().date_naive(),
            "birthday",
            "future",
            "birthday cannot be in the future",
        );
    }
    if let (Some(moved_in), Some(moving_out)) = (p.moved_in_on, p.moving_out_on) {
        checks.ensure(
            moving_out >= moved_in,
            "moving_out_on",
            "order",
            "moving_out_on must not be before moved_in_on",
        );
    }
}

/// `MM-DD`, indexed for the birthday planner.
pub(crate) fn month_day(birthday: Option<NaiveDate>) -> Option<String> {
    birthday.map(|d| format!("{:02}-{:02}", d.month(), d.day()))
}

fn tagged(model: person::Model) -> (Json<Person>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

pub(crate) const DUPLICATE_EMAIL: &str = "a person with this email already exists in the community";

/// Loads a person the caller may see: managers of the community, or the person's own key.
pub(crate) async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<person::Model> {
    person::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|p| caller.can_manage(p.community_id) || caller.person_id == Some(p.id))
        .ok_or_else(|| ApiError::not_found("person"))
}

/// Applies `patch` to `current` for `caller`: organizers change anything; a person's
/// own key changes their details, but not their roles, and not their address, which
/// is confirmed by code first.
pub(crate) async fn change(
    state: &AppState,
    caller: &Caller,
    current: person::Model,
    patch: PersonPatch,
    if_match: Option<&str>,
) -> Result<person::Model> {
    if current.erased_at.is_some() {
        return Err(ApiError::conflict("the person's data was erased"));
    }
    let roles_changed = patch.is_volunteer.is_some() || patch.is_organizer.is_some();
    if roles_changed && !caller.can_manage(current.community_id) {
        return Err(ApiError::forbidden(
            "only organizers change who volunteers or organizes",
        ));
    }
    if patch.email.is_some() && !caller.can_manage(current.community_id) {
        return Err(ApiError::forbidden(
            "a new address of your own is confirmed first: POST /v1/me/email",
        ));
    }
    let mut checks = Checks::default();
    let mut next = current.clone();
    if let Some(name) = patch.full_name {
        next.full_name = name.trim().to_owned();
    }
    if let Some(email) = patch.email {
        next.email_normalized = email.trim().to_lowercase();
        next.email = email.trim().to_owned();
    }
    patch.phone.update_to(&mut next.phone);
    if let Some(nationality) = patch.nationality {
        next.nationality = nationality;
    }
    if let Some(locale) = patch.locale {
        next.locale = locale;
    }
    if let Some(zone) = patch.time_zone {
        next.time_zone = zone;
    }
    patch.birthday.update_to(&mut next.birthday);
    next.birthday_md = month_day(next.birthday);
    if let Some(languages) = patch.languages {
        next.languages = TagList(languages);
    }
    if let Some(skills) = patch.skills {
        next.skills = TagList(skills);
    }
    if let Some(is_volunteer) = patch.is_volunteer {
        next.is_volunteer = is_volunteer;
    }
    if let Some(is_organizer) = patch.is_organizer {
        next.is_organizer = is_organizer;
    }
    patch.moved_in_on.update_to(&mut next.moved_in_on);
    patch.moving_out_on.update_to(&mut next.moving_out_on);
    if let Some(p) = patch.notifications {
        next.notify_reminders = p.reminders.unwrap_or(next.notify_reminders);
        next.notify_birthday = p.birthday_card.unwrap_or(next.notify_birthday);
        next.notify_feedback = p.feedback.unwrap_or(next.notify_feedback);
        next.notify_notices = p.notices.unwrap_or(next.notify_notices);
        next.notify_surveys = p.surveys.unwrap_or(next.notify_surveys);
    }
    check_person(&mut checks, &next);
    checks.finish()?;
    check_if_match(if_match, current.version)?;
    next.version = current.version + 1;
    next.updated_at = now();
    save_versioned(
        &state.db,
        next.clone().into_active_model(),
        current.id,
        current.version,
    )
    .await
    .map_err(|e| e.or_unique("email", DUPLICATE_EMAIL))?;
    Ok(next)
}

pub struct PeopleApi;

#[OpenApi(prefix_path = "/v1/people", tag = "Tag::People")]
impl PeopleApi {
    /// Add a resident or volunteer (admin, or the community's organizers).
    #[oai(path = "/", method = "post", operation_id = "createPerson")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<PersonCreate>,
    ) -> Result<Created<Person>> {
        let body = body.0;
        caller.require_manage(body.community_id)?;
        let mut checks = Checks::default();
        let community = community::Entity::find_by_id(body.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("community_id", "not_found", "no such community"))?;
        let model = new_person(&community, body, now());
        check_person(&mut checks, &model);
        checks.finish()?;
        let model = model
            .into_active_model()
            .reset_all()
            .insert(&state.db)
            .await
            .map_err(|e| ApiError::from(e).or_unique("email", DUPLICATE_EMAIL))?;
        let (body, tag) = tagged(model);
        Ok(Created::Created(body, tag))
    }

    /// List people (admin, organizers); filters combine.
    #[oai(path = "/", method = "get", operation_id = "listPeople")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        /// Only this community (organizers see only their own anyway).
        community_id: Query<Option<Uuid>>,
        /// ISO 3166-1 alpha-2.
        #[oai(validator(max_length = 2, pattern = "^[A-Z]{2}$"))]
        nationality: Query<Option<String>>,
        /// Speaks this language (BCP 47).
        #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        language: Query<Option<String>>,
        is_volunteer: Query<Option<bool>>,
        /// `pending`: volunteers who applied and await approval.
        status: Query<Option<PersonStatus>>,
        /// Part of the name or email, any case.
        #[oai(validator(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F]*$"))]
        q: Query<Option<String>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
        /// `text/csv`: every matching person (no pages) in the columns an import reads.
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))]
        accept: Header<Option<String>>,
    ) -> Result<JsonOrCsv<Page<Person>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = person::Entity::find();
        if let Some(community) = caller.list_scope(community_id.0)? {
            select = select.filter(person::Column::CommunityId.eq(community));
        }
        if let Some(nationality) = nationality.0 {
            select = select.filter(person::Column::Nationality.eq(nationality.to_uppercase()));
        }
        if let Some(language) = language.0 {
            // The tag, quoted as the JSON list stores it; its pattern already rules out
            // `%` and `_`, and escaping keeps it so if the pattern ever widens.
            let quoted = serde_json::Value::String(language).to_string();
            let pattern = LikeExpr::new(format!("%{}%", escape_like(&quoted))).escape('\\');
            select = select.filter(
                Expr::col(person::Column::Languages)
                    .cast_as(Alias::new("TEXT"))
                    .like(pattern),
            );
        }
        if let Some(is_volunteer) = is_volunteer.0 {
            select = select.filter(person::Column::IsVolunteer.eq(is_volunteer));
        }
        if let Some(status) = status.0 {
            select = select.filter(person::Column::Status.eq(status));
        }
        if let Some(q) = q.0.filter(|q| !q.trim().is_empty()) {
            let pattern = format!("%{}%", escape_like(&q.trim().to_lowercase()));
            let like = || LikeExpr::new(pattern.clone()).escape('\\');
            select = select.filter(
                Condition::any()
                    .add(Expr::expr(Func::lower(Expr::col(person::Column::FullName))).like(like()))
                    .add(Expr::col(person::Column::EmailNormalized).like(like())),
            );
        }
        if tables::wants_csv(accept.0.as_deref()) {
            let rows = select
                .order_by_asc(person::Column::Id)
                .all(&state.db)
                .await?;
            return Ok(JsonOrCsv::Csv(tables::write(
                &imports::COLUMNS,
                rows.iter().map(import_row),
            )?));
        }
        let rows = page
            .by_id(select, person::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(JsonOrCsv::Json(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Person::from,
        ))))
    }

    /// Get one person (managers of the community, or the person's own volunteer key).
    #[oai(path = "/:id", method = "get", operation_id = "getPerson")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Person>> {
        let (body, tag) = tagged(visible(&state, &caller, id.0).await?);
        Ok(Fetched::Ok(body, tag))
    }

    /// Change a person; a volunteer key may change its own person's details.
    #[oai(path = "/:id", method = "patch", operation_id = "updatePerson")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<PersonPatch>,
    ) -> Result<Fetched<Person>> {
        let current = visible(&state, &caller, id.0).await?;
        let next = change(&state, &caller, current, body.0, if_match.0.as_deref()).await?;
        let (body, tag) = tagged(next);
        Ok(Fetched::Ok(body, tag))
    }

    /// Erase a person's personal data (organizers, or the person's own key). The record
    /// stays, anonymised, so hours and attendance totals stay right; upcoming places are
    /// given up, feedback is detached, keys and links stop working, queued mail is
    /// skipped. Audited.
    #[oai(path = "/:id", method = "delete", operation_id = "erasePerson")]
    async fn erase(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let person = visible(&state, &caller, id.0).await?;
        let lead = state.settings.self_cancel_lead;
        personal_data::erase(&state.db, &caller, person, now(), lead).await?;
        // The person's keys were revoked.
        state.keys.forget_all();
        Ok(Deleted::NoContent)
    }

    /// Approve a volunteer who applied (organizers): they may sign up for shifts from
    /// now on, and are told so by mail.
    #[oai(path = "/:id/approve", method = "post", operation_id = "approvePerson")]
    async fn approve(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Person>> {
        let current = visible(&state, &caller, id.0).await?;
        caller.require_manage(current.community_id)?;
        if current.status != PersonStatus::Pending {
            return Err(ApiError::conflict(
                "only a volunteer awaiting approval can be approved",
            ));
        }
        let now = now();
        let txn = begin_write(&state.db).await?;
        let mut next = current.clone();
        next.status = PersonStatus::Active;
        next.version = current.version + 1;
        next.updated_at = now;
        save_versioned(
            &txn,
            next.clone().into_active_model(),
            current.id,
            current.version,
        )
        .await?;
        let mail = self_service::write_mail(
            &txn,
            &next,
            MailKind::VolunteerApproved,
            (SubjectType::Person, next.id),
            format!("volunteer_approved:{}", next.id),
            now,
        )
        .await?;
        txn.commit().await?;
        self_service::dispatch(&state, mail).await;
        let (body, tag) = tagged(next);
        Ok(Fetched::Ok(body, tag))
    }

    /// Reject an application (organizers): the applicant's data is erased, as by
    /// `erasePerson`.
    #[oai(path = "/:id/reject", method = "post", operation_id = "rejectPerson")]
    async fn reject(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let person = visible(&state, &caller, id.0).await?;
        caller.require_manage(person.community_id)?;
        if !matches!(
            person.status,
            PersonStatus::Pending | PersonStatus::Unverified
        ) {
            return Err(ApiError::conflict(
                "only an application not yet approved can be rejected",
            ));
        }
        let lead = state.settings.self_cancel_lead;
        personal_data::erase(&state.db, &caller, person, now(), lead).await?;
        // The person's keys were revoked.
        state.keys.forget_all();
        Ok(Deleted::NoContent)
    }

    /// Everything Huashen holds about a person, as JSON (organizers, or the person's
    /// own key). Audited.
    #[oai(path = "/:id/export", method = "get", operation_id = "exportPerson")]
    async fn export(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<PersonalDataExport>> {
        let person = visible(&state, &caller, id.0).await?;
        let now = now();
        personal_data::audit(&state.db, &caller, "export", &person, now).await?;
        let held = personal_data::holdings(&state.db, person).await?;
        Ok(Json(PersonalDataExport {
            exported_at: now,
            person: held.person.into(),
            signups: held
                .signups
                .into_iter()
                .map(|(s, shift)| ExportedSignup {
                    signup: s.into(),
                    shift: shift.map(Into::into),
                })
                .collect(),
            registrations: held
                .registrations
                .into_iter()
                .map(|(r, event)| ExportedRegistration {
                    registration: r.into(),
                    event: event.map(Into::into),
                })
                .collect(),
            feedback: held
                .feedback
                .into_iter()
                .filter_map(|f| {
                    Some(ExportedFeedback {
                        event_id: f.event_id,
                        rating: f.rating?,
                        comment: f.comment,
                        submitted_at: f.submitted_at?,
                    })
                })
                .collect(),
            survey_responses: held.survey_responses.into_iter().map(Into::into).collect(),
            notifications: held.notifications.into_iter().map(Into::into).collect(),
            api_keys: held.api_keys.into_iter().map(Into::into).collect(),
        }))
    }
}

/// Everything Huashen holds about one person.
#[derive(Object)]
pub struct PersonalDataExport {
    pub exported_at: DateTime<Utc>,
    pub person: Person,
    pub signups: Vec<ExportedSignup>,
    pub registrations: Vec<ExportedRegistration>,
    pub feedback: Vec<ExportedFeedback>,
    /// Their answers to surveys, by link or interview.
    pub survey_responses: Vec<super::surveys::SurveyResponse>,
    /// Mails planned or sent to the person.
    pub notifications: Vec<super::notifications::Notification>,
    /// Keys acting for the person (their secrets are not kept, so not exported).
    pub api_keys: Vec<super::api_keys::ApiKeyInfo>,
}

#[derive(Object)]
pub struct ExportedSignup {
    pub signup: super::signups::Signup,
    pub shift: Option<super::shifts::Shift>,
}

#[derive(Object)]
pub struct ExportedRegistration {
    pub registration: super::registrations::Registration,
    pub event: Option<super::events::Event>,
}

#[derive(Object)]
pub struct ExportedFeedback {
    pub event_id: Uuid,
    pub rating: i32,
    pub comment: Option<String>,
    pub submitted_at: DateTime<Utc>,
}

/// A person as a row of [`imports::COLUMNS`], so an export imports again unchanged.
fn import_row(p: &person::Model) -> Vec<String> {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    vec![
        tables::cell(&p.full_name),
        tables::cell(&p.email),
        tables::cell(p.phone.as_deref().unwrap_or_default()),
        p.nationality.clone(),
        p.locale.clone(),
        p.time_zone.clone(),
        date(p.birthday),
        p.languages.0.join(";"),
        tables::cell(&p.skills.0.join(";")),
        p.is_volunteer.to_string(),
        p.is_organizer.to_string(),
        date(p.moved_in_on),
        date(p.moving_out_on),
        p.notify_reminders.to_string(),
        p.notify_birthday.to_string(),
        p.notify_feedback.to_string(),
        p.notify_notices.to_string(),
        p.notify_surveys.to_string(),
    ]
}

/// Makes `%` and `_` in user input match themselves.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl poem_openapi::types::Example for PersonCreate {
    fn example() -> Self {
        Self {
            community_id: super::example_id(1),
            full_name: "Anna Müller".to_owned(),
            email: "anna.mueller@example.com".to_owned(),
            phone: Some("+86 138 0000 0000".to_owned()),
            nationality: "DE".to_owned(),
            locale: Some("de".to_owned()),
            time_zone: None,
            birthday: None,
            languages: vec!["de".to_owned(), "en".to_owned(), "zh".to_owned()],
            skills: vec!["translation".to_owned()],
            is_volunteer: true,
            is_organizer: false,
            moved_in_on: None,
            moving_out_on: None,
            notifications: None,
        }
    }
}

impl poem_openapi::types::Example for PersonPatch {
    fn example() -> Self {
        Self {
            locale: Some("zh-CN".to_owned()),
            phone: MaybeUndefined::Null,
            ..Self::default()
        }
    }
}
