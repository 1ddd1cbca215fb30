//! `/v1/surveys`: resident satisfaction surveys. Organizers write the questionnaire and
//! open it; the worker mails each person of its audience a one-time link
//! (`/v1/survey-invitations/{token}`); social workers enter interviews; the report
//! counts what came back without showing any small group.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entities::enums::{QuestionKind, ResponseMode, SurveyAudience, SurveyState};
use entities::json::LocalizedText;
use entities::survey::{Question, Questions};
use entities::survey_response::{Answer, Answers};
use entities::{community, event, person, survey, survey_invitation, survey_response};
use huashen_worker::locale::{choose, pick};
use huashen_worker::surveys::{answerable, state_at};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QuerySelect,
};
use serde::Deserialize;
use uuid::Uuid;

use super::reports::csv_text;
use super::tables::{self, JsonOrCsv};
use super::{Created, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{Caller, StaffKey};
use crate::body::JsonBody;
use crate::db::{begin_write, retry_contended};
use crate::error::{ApiError, FieldError};
use crate::pagination::{Cursor, Page, PageRequest};
use crate::qr::QrImage;
use crate::state::AppState;
use crate::store::save_versioned;
use crate::survey_report::{Inputs, SurveyReport, rows};
use crate::time::now;
use crate::validate::Checks;

/// A survey, with how many were invited and how many answered.
#[derive(Object)]
pub struct Survey {
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: BTreeMap<String, String>,
    pub intro: BTreeMap<String, String>,
    pub questions: Vec<Question>,
    pub audience: SurveyAudience,
    pub audience_event_id: Option<Uuid>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub reminder_after_days: Option<i32>,
    /// `open` until `closes_at`, `closed` after it.
    pub state: SurveyState,
    /// When the invitations were written (at `opens_at`, once open).
    pub invited_at: Option<DateTime<Utc>>,
    pub invited: i64,
    pub response_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SurveyCreate {
    /// Required for admin keys; organizers write for their own community.
    pub community_id: Option<Uuid>,
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub title: BTreeMap<String, String>,
    /// Shown above the questions.
    #[oai(validator(max_properties = 20, max_length = 2000))]
    pub intro: Option<BTreeMap<String, String>>,
    #[oai(validator(min_items = 1, max_items = 50))]
    pub questions: Vec<Question>,
    pub audience: SurveyAudience,
    /// The event, for `event_attendees`.
    pub audience_event_id: Option<Uuid>,
    /// When invitations go out and answers are taken; when it is opened unless given.
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: DateTime<Utc>,
    /// Remind those who have not answered this many days after the invitation.
    #[oai(validator(minimum(value = "1"), maximum(value = "60")))]
    pub reminder_after_days: Option<i32>,
}

/// Changes to a draft; once open, only `closes_at` and `reminder_after_days` change.
#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SurveyPatch {
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub title: Option<BTreeMap<String, String>>,
    #[oai(validator(max_properties = 20, max_length = 2000))]
    pub intro: Option<BTreeMap<String, String>>,
    #[oai(validator(min_items = 1, max_items = 50))]
    pub questions: Option<Vec<Question>>,
    pub audience: Option<SurveyAudience>,
    pub audience_event_id: Option<Uuid>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    #[oai(validator(minimum(value = "1"), maximum(value = "60")))]
    pub reminder_after_days: Option<i32>,
}

/// A survey as its reader sees it, in one language.
#[derive(Object)]
pub struct SurveyForm {
    pub survey_id: Uuid,
    /// The language of the texts: the reader's, else the community's, else English.
    pub locale: String,
    pub title: String,
    pub intro: String,
    pub questions: Vec<FormQuestion>,
    pub closes_at: DateTime<Utc>,
    /// Set once answered: the form takes one answer.
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Object)]
pub struct FormQuestion {
    pub id: String,
    pub kind: QuestionKind,
    pub text: String,
    pub required: bool,
    pub choices: Vec<FormChoice>,
}

#[derive(Object)]
pub struct FormChoice {
    pub id: String,
    pub text: String,
}

#[derive(Object, Deserialize)]
#[oai(example)]
pub struct SurveyAnswers {
    /// One per question answered; every required question must be.
    #[oai(validator(max_items = 50))]
    pub answers: Vec<Answer>,
}

/// Answers collected in an interview, for residents without email or door to door.
#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct InterviewResponse {
    /// The person interviewed, if they are in Huashen; left out for an anonymous one.
    pub person_id: Option<Uuid>,
    /// `interview`.
    pub mode: ResponseMode,
    /// Who asked the questions.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub collected_by: String,
    /// Without `person_id`: the interviewee's nationality, for the report's groups.
    #[oai(validator(min_length = 2, max_length = 2, pattern = "^[A-Z]{2}$"))]
    pub nationality: Option<String>,
    /// The language of the interview; the person's, else the community's, unless given.
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub locale: Option<String>,
    #[oai(validator(max_items = 50))]
    pub answers: Vec<Answer>,
}

/// A recorded response.
#[derive(Object)]
pub struct SurveyResponse {
    pub id: Uuid,
    pub survey_id: Uuid,
    pub person_id: Option<Uuid>,
    pub mode: ResponseMode,
    pub collected_by: Option<String>,
    pub locale: String,
    pub answers: Vec<Answer>,
    pub submitted_at: DateTime<Utc>,
}

impl From<survey_response::Model> for SurveyResponse {
    fn from(m: survey_response::Model) -> Self {
        Self {
            id: m.id,
            survey_id: m.survey_id,
            person_id: m.person_id,
            mode: m.mode,
            collected_by: m.collected_by,
            locale: m.locale,
            answers: m.answers.0,
            submitted_at: m.submitted_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum ResponseCreated {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<SurveyResponse>),
}

/// How many were invited to and answered each of `surveys`, in one grouped query each.
async fn counts(db: &impl ConnectionTrait, surveys: &[Uuid]) -> Result<HashMap<Uuid, (i64, i64)>> {
    let invited: Vec<(Uuid, i64)> = survey_invitation::Entity::find()
        .select_only()
        .column(survey_invitation::Column::SurveyId)
        .expr(survey_invitation::Column::Id.count())
        .filter(survey_invitation::Column::SurveyId.is_in(surveys.to_vec()))
        .group_by(survey_invitation::Column::SurveyId)
        .into_tuple()
        .all(db)
        .await?;
    let answered: Vec<(Uuid, i64)> = survey_response::Entity::find()
        .select_only()
        .column(survey_response::Column::SurveyId)
        .expr(survey_response::Column::Id.count())
        .filter(survey_response::Column::SurveyId.is_in(surveys.to_vec()))
        .group_by(survey_response::Column::SurveyId)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = HashMap::new();
    for (id, n) in invited {
        counts.entry(id).or_insert((0, 0)).0 = n;
    }
    for (id, n) in answered {
        counts.entry(id).or_insert((0, 0)).1 = n;
    }
    Ok(counts)
}

fn present(m: survey::Model, (invited, response_count): (i64, i64)) -> Survey {
    Survey {
        id: m.id,
        community_id: m.community_id,
        state: state_at(&m, now()),
        title: m.title.0,
        intro: m.intro.0,
        questions: m.questions.0,
        audience: m.audience,
        audience_event_id: m.audience_event_id,
        opens_at: m.opens_at,
        closes_at: m.closes_at,
        reminder_after_days: m.reminder_after_days,
        invited_at: m.invited_at,
        invited,
        response_count,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// One survey with its counts and its ETag.
async fn presented(db: &impl ConnectionTrait, m: survey::Model) -> Result<(Json<Survey>, String)> {
    let counted = counts(db, &[m.id]).await?.remove(&m.id).unwrap_or_default();
    let tag = etag(m.version);
    Ok((Json(present(m, counted)), tag))
}

async fn managed(state: &AppState, caller: &Caller, id: Uuid) -> Result<survey::Model> {
    survey::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| caller.can_manage(s.community_id))
        .ok_or_else(|| ApiError::not_found("survey"))
}

/// Checks what a survey asks and of whom.
async fn check_survey(
    db: &impl ConnectionTrait,
    community_id: Uuid,
    survey: &survey::Model,
) -> Result<()> {
    let mut checks = Checks::default();
    checks.localized("title", &survey.title.0, true);
    checks.localized("intro", &survey.intro.0, false);
    let mut ids = BTreeSet::new();
    for (i, q) in survey.questions.0.iter().enumerate() {
        let field = format!("questions[{i}]");
        checks.ensure(
            ids.insert(q.id.as_str()),
            &format!("{field}.id"),
            "duplicate",
            "question ids are unique",
        );
        checks.localized(&format!("{field}.text"), &q.text, true);
        let has_choices = matches!(
            q.kind,
            QuestionKind::SingleChoice | QuestionKind::MultipleChoice
        );
        if has_choices {
            checks.ensure(
                q.choices.len() >= 2,
                &format!("{field}.choices"),
                "too_few",
                "a choice question has at least two choices",
            );
        } else {
            checks.ensure(
                q.choices.is_empty(),
                &format!("{field}.choices"),
                "unexpected",
                "only choice questions have choices",
            );
        }
        let mut choice_ids = BTreeSet::new();
        for (j, choice) in q.choices.iter().enumerate() {
            checks.ensure(
                choice_ids.insert(choice.id.as_str()),
                &format!("{field}.choices[{j}].id"),
                "duplicate",
                "choice ids are unique within a question",
            );
            checks.localized(&format!("{field}.choices[{j}].text"), &choice.text, true);
        }
    }
    if survey.closes_at <= survey.opens_at {
        checks.fail("closes_at", "order", "closes_at must be after opens_at");
    }
    match (survey.audience, survey.audience_event_id) {
        (SurveyAudience::EventAttendees, None) => checks.fail(
            "audience_event_id",
            "required",
            "an `event_attendees` survey names its event",
        ),
        (SurveyAudience::EventAttendees, Some(id)) => {
            let of = event::Entity::find_by_id(id).one(db).await?;
            checks.ensure(
                of.is_some_and(|e| e.community_id == community_id),
                "audience_event_id",
                "unknown",
                "no such event in the community",
            );
        }
        (_, Some(_)) => checks.fail(
            "audience_event_id",
            "unexpected",
            "only an `event_attendees` survey names an event",
        ),
        (_, None) => {}
    }
    checks.finish()
}

/// Checks `answers` against the questions: each names a question, answers it in its
/// kind (a rating 1–5, a choice it offers, text that is not blank), at most once; every
/// required question is answered. Problems name `answers.{question_id}`.
pub fn check_answers(questions: &[Question], answers: &[Answer]) -> Result<()> {
    let mut errors = Vec::new();
    let mut fail = |id: &str, code: &str, message: String| {
        errors.push(FieldError::new(format!("answers.{id}"), code, message));
    };
    let mut seen = BTreeSet::new();
    for a in answers {
        let id = a.question_id.as_str();
        let Some(q) = questions.iter().find(|q| q.id == id) else {
            fail(
                id,
                "unknown_question",
                format!("the survey has no question `{id}`"),
            );
            continue;
        };
        if !seen.insert(id) {
            fail(id, "duplicate", "one answer per question".to_owned());
            continue;
        }
        let given = [
            ("rating", a.rating.is_some()),
            ("choice", a.choice.is_some()),
            ("choices", a.choices.is_some()),
            ("text", a.text.is_some()),
        ];
        let wanted = match q.kind {
            QuestionKind::Rating => "rating",
            QuestionKind::SingleChoice => "choice",
            QuestionKind::MultipleChoice => "choices",
            QuestionKind::Text => "text",
        };
        if given.iter().any(|(name, set)| *set != (*name == wanted)) {
            fail(
                id,
                "wrong_kind",
                format!(
                    "a `{}` question is answered with `{wanted}` alone",
                    q.kind.as_str()
                ),
            );
            continue;
        }
        let offered = |choice: &str| q.choices.iter().any(|c| c.id == choice);
        match q.kind {
            QuestionKind::Rating => {
                if !a.rating.is_some_and(|r| (1..=5).contains(&r)) {
                    fail(id, "out_of_range", "a rating is 1 to 5".to_owned());
                }
            }
            QuestionKind::SingleChoice => {
                if let Some(choice) = a.choice.as_deref().filter(|c| !offered(c)) {
                    fail(
                        id,
                        "unknown_choice",
                        format!("`{choice}` is not one of the choices"),
                    );
                }
            }
            QuestionKind::MultipleChoice => {
                let choices = a.choices.as_deref().unwrap_or_default();
                if let Some(choice) = choices.iter().find(|c| !offered(c)) {
                    fail(
                        id,
                        "unknown_choice",
                        format!("`{choice}` is not one of the choices"),
                    );
                } else if q.required && choices.is_empty() {
                    fail(id, "required", "choose at least one".to_owned());
                }
            }
            QuestionKind::Text => {
                if a.text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    fail(
                        id,
                        "blank",
                        "leave the question out rather than blank".to_owned(),
                    );
                }
            }
        }
    }
    for q in questions
        .iter()
        .filter(|q| q.required && !seen.contains(q.id.as_str()))
    {
        fail(
            &q.id,
            "required",
            "this question must be answered".to_owned(),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Refuses answers unless the survey takes them now: 410 once closed, 409 before.
fn require_answerable(survey: &survey::Model) -> Result<()> {
    let now = now();
    match state_at(survey, now) {
        SurveyState::Closed => Err(ApiError::Gone("the survey is closed".to_owned())),
        _ if !answerable(survey, now) => {
            Err(ApiError::conflict("the survey is not open for answers yet"))
        }
        _ => Ok(()),
    }
}

/// The invitation of a link, with its survey.
async fn invitation(
    state: &AppState,
    token: &str,
) -> Result<(survey_invitation::Model, survey::Model)> {
    let found = huashen_worker::surveys::by_token(token)
        .find_also_related(survey::Entity)
        .one(&state.db)
        .await?;
    match found {
        Some((invitation, Some(survey))) => Ok((invitation, survey)),
        _ => Err(ApiError::not_found("survey invitation")),
    }
}

/// Records a response and marks the person's invitation answered, in one transaction;
/// a person answers a survey once, however the answer is collected.
async fn record(
    state: &AppState,
    response: survey_response::Model,
) -> Result<survey_response::Model> {
    retry_contended(|| async {
        let txn = begin_write(&state.db).await?;
        if let Some(person) = response.person_id {
            let marked = survey_invitation::Entity::update_many()
                .col_expr(
                    survey_invitation::Column::AnsweredAt,
                    Expr::value(response.submitted_at),
                )
                .filter(survey_invitation::Column::SurveyId.eq(response.survey_id))
                .filter(survey_invitation::Column::PersonId.eq(person))
                .filter(survey_invitation::Column::AnsweredAt.is_null())
                .exec(&txn)
                .await?;
            let invited = survey_invitation::Entity::find()
                .filter(survey_invitation::Column::SurveyId.eq(response.survey_id))
                .filter(survey_invitation::Column::PersonId.eq(person))
                .count(&txn)
                .await?;
            if invited > 0 && marked.rows_affected == 0 {
                return Err(ApiError::conflict("the survey was already answered"));
            }
        }
        let saved = response
            .clone()
            .into_active_model()
            .insert(&txn)
            .await
            .map_err(|e| {
                ApiError::from(e).or_unique("person_id", "the survey was already answered")
            })?;
        txn.commit().await?;
        Ok(saved)
    })
    .await
}

pub struct SurveysApi;

#[OpenApi(tag = "Tag::Surveys")]
impl SurveysApi {
    /// Write a survey (organizers, admins). It stays a draft, its questions free to
    /// change, until it is opened.
    #[oai(path = "/v1/surveys", method = "post", operation_id = "createSurvey")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<SurveyCreate>,
    ) -> Result<Created<Survey>> {
        let body = body.0;
        let Some(community_id) = caller.list_scope(body.community_id)? else {
            return Err(ApiError::invalid(
                "community_id",
                "required",
                "admins name the community",
            ));
        };
        caller.require_manage(community_id)?;
        community::Entity::find_by_id(community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("community_id", "unknown", "no such community"))?;
        let now = now();
        let model = survey::Model {
            id: Uuid::now_v7(),
            community_id,
            title: LocalizedText(body.title),
            intro: LocalizedText(body.intro.unwrap_or_default()),
            questions: Questions(body.questions),
            audience: body.audience,
            audience_event_id: body.audience_event_id,
            opens_at: body.opens_at.unwrap_or(now),
            closes_at: body.closes_at,
            reminder_after_days: body.reminder_after_days,
            state: SurveyState::Draft,
            invited_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_survey(&state.db, community_id, &model).await?;
        let model = model
            .into_active_model()
            .reset_all()
            .insert(&state.db)
            .await?;
        let (body, tag) = presented(&state.db, model).await?;
        Ok(Created::Created(body, tag))
    }

    /// List surveys (admin: all or `community_id`'s; organizers: their community's).
    #[oai(path = "/v1/surveys", method = "get", operation_id = "listSurveys")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Survey>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = survey::Entity::find();
        if let Some(community) = caller.list_scope(community_id.0)? {
            select = select.filter(survey::Column::CommunityId.eq(community));
        }
        let rows = page
            .by_id(select, survey::Column::Id)
            .all(&state.reads)
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
        let counts = counts(&state.db, &ids).await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            |m| {
                let counted = counts.get(&m.id).copied().unwrap_or_default();
                present(m, counted)
            },
        )))
    }

    /// A survey with its invitation and response counts.
    #[oai(path = "/v1/surveys/:id", method = "get", operation_id = "getSurvey")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Survey>> {
        let survey = managed(&state, &caller, id.0).await?;
        let (body, tag) = presented(&state.db, survey).await?;
        Ok(Fetched::Ok(body, tag))
    }

    /// Change a survey. A draft changes freely; an open one only its closing time and
    /// reminder (its questions are frozen: 409); a closed one not at all.
    #[oai(
        path = "/v1/surveys/:id",
        method = "patch",
        operation_id = "updateSurvey"
    )]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<SurveyPatch>,
    ) -> Result<Fetched<Survey>> {
        let current = managed(&state, &caller, id.0).await?;
        let patch = body.0;
        let mut next = current.clone();
        let frozen = patch.title.is_some()
            || patch.intro.is_some()
            || patch.questions.is_some()
            || patch.audience.is_some()
            || patch.audience_event_id.is_some()
            || patch.opens_at.is_some();
        match state_at(&current, now()) {
            SurveyState::Closed => return Err(ApiError::conflict("the survey is closed")),
            SurveyState::Open if frozen => {
                return Err(ApiError::conflict(
                    "an open survey's questions, texts, audience and opening are frozen",
                ));
            }
            _ => {}
        }
        if let Some(title) = patch.title {
            next.title = LocalizedText(title);
        }
        if let Some(intro) = patch.intro {
            next.intro = LocalizedText(intro);
        }
        if let Some(questions) = patch.questions {
            next.questions = Questions(questions);
        }
        if let Some(audience) = patch.audience {
            next.audience = audience;
            if audience != SurveyAudience::EventAttendees {
                next.audience_event_id = None;
            }
        }
        if let Some(event) = patch.audience_event_id {
            next.audience_event_id = Some(event);
        }
        if let Some(at) = patch.opens_at {
            next.opens_at = at;
        }
        if let Some(at) = patch.closes_at {
            next.closes_at = at;
        }
        if let Some(days) = patch.reminder_after_days {
            next.reminder_after_days = Some(days);
        }
        check_survey(&state.db, current.community_id, &next).await?;
        check_if_match(if_match.0.as_deref(), current.version)?;
        next.version = current.version + 1;
        next.updated_at = now();
        save_versioned(
            &state.db,
            next.clone().into_active_model(),
            current.id,
            current.version,
        )
        .await?;
        let (body, tag) = presented(&state.db, next).await?;
        Ok(Fetched::Ok(body, tag))
    }

    /// Open a draft: its questions are frozen, and at `opens_at` the worker mails each
    /// person of the audience their link. Opening an open survey changes nothing.
    #[oai(
        path = "/v1/surveys/:id/open",
        method = "post",
        operation_id = "openSurvey"
    )]
    async fn open(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Survey>> {
        self::transition(&state, &caller, id.0, SurveyState::Open).await
    }

    /// Close an open survey now: links answer 410 and no more reminders go out.
    #[oai(
        path = "/v1/surveys/:id/close",
        method = "post",
        operation_id = "closeSurvey"
    )]
    async fn close(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Survey>> {
        self::transition(&state, &caller, id.0, SurveyState::Closed).await
    }

    /// Record an interview's answers (organizers: social workers going door to door).
    /// Answers are checked against the questions (422 naming `answers.{question_id}`); a
    /// person answers once, by link or interview (409).
    #[oai(
        path = "/v1/surveys/:id/responses",
        method = "post",
        operation_id = "createSurveyResponse"
    )]
    async fn interview(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        body: JsonBody<InterviewResponse>,
    ) -> Result<ResponseCreated> {
        let survey = managed(&state, &caller, id.0).await?;
        let body = body.0;
        let mut checks = Checks::default();
        checks.ensure(
            body.mode == ResponseMode::Interview,
            "mode",
            "interview_only",
            "answers by link go to /v1/survey-invitations/{token}",
        );
        checks.ensure(
            !body.collected_by.trim().is_empty(),
            "collected_by",
            "blank",
            "name who collected the answers",
        );
        if let Some(locale) = &body.locale {
            checks.locale("locale", locale);
        }
        if let Some(nationality) = &body.nationality {
            checks.country("nationality", nationality);
        }
        let person = match body.person_id {
            Some(id) => {
                let found = person::Entity::find_by_id(id)
                    .one(&state.db)
                    .await?
                    .filter(|p| p.community_id == survey.community_id && p.erased_at.is_none());
                checks.ensure(
                    found.is_some(),
                    "person_id",
                    "unknown",
                    "no such person in the community",
                );
                checks.ensure(
                    body.nationality.is_none(),
                    "nationality",
                    "unexpected",
                    "a known person's nationality is on record",
                );
                found
            }
            None => None,
        };
        checks.finish()?;
        require_answerable(&survey)?;
        check_answers(&survey.questions.0, &body.answers)?;
        let community = community::Entity::find_by_id(survey.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("community"))?;
        let locale = body
            .locale
            .or_else(|| person.as_ref().map(|p| p.locale.clone()))
            .unwrap_or(community.default_locale);
        let saved = record(
            &state,
            survey_response::Model {
                id: Uuid::now_v7(),
                survey_id: survey.id,
                person_id: person.as_ref().map(|p| p.id),
                invitation_id: None,
                mode: ResponseMode::Interview,
                collected_by: Some(body.collected_by.trim().to_owned()),
                nationality: person.map(|p| p.nationality).or(body.nationality),
                locale,
                answers: Answers(body.answers),
                submitted_at: now(),
            },
        )
        .await?;
        Ok(ResponseCreated::Created(Json(saved.into())))
    }

    /// The survey report: response rates by nationality group and mode, and per
    /// question the distribution (ratings: count per value, mean, median; choices:
    /// counts), overall, by nationality group and by locale. Groups with fewer
    /// respondents than `HUASHEN_SURVEY_MIN_GROUP` are merged or left out. With
    /// `Accept: text/csv`, the same as rows, and the free-text answers.
    #[oai(
        path = "/v1/surveys/:id/report",
        method = "get",
        operation_id = "getSurveyReport"
    )]
    async fn report(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// Language of the question texts; the community's default unless given.
        #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        locale: Query<Option<String>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<JsonOrCsv<SurveyReport>> {
        let survey = managed(&state, &caller, id.0).await?;
        let community = community::Entity::find_by_id(survey.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("community"))?;
        let invited: Vec<(Uuid, String)> = survey_invitation::Entity::find()
            .filter(survey_invitation::Column::SurveyId.eq(survey.id))
            .inner_join(person::Entity)
            .select_only()
            .column(person::Column::Id)
            .column(person::Column::Nationality)
            .into_tuple()
            .all(&state.db)
            .await?;
        let responses = survey_response::Entity::find()
            .filter(survey_response::Column::SurveyId.eq(survey.id))
            .all(&state.db)
            .await?;
        let inputs = Inputs {
            survey_id: survey.id,
            questions: &survey.questions.0,
            invited: &invited,
            responses: &responses,
            country: &community.country,
            min_group: state.settings.survey_min_group,
        };
        let locale = locale.0.unwrap_or_else(|| community.default_locale.clone());
        let report = inputs.report(|q| {
            pick(
                &LocalizedText(q.text.clone()),
                &locale,
                &community.default_locale,
            )
        });
        if tables::wants_csv(accept.0.as_deref()) {
            return Ok(JsonOrCsv::Csv(csv_text(&rows(&report, &inputs.texts()))?));
        }
        Ok(JsonOrCsv::Json(Json(report)))
    }

    /// A QR code of the survey's page on the residents' front-end, for posters: SVG, or
    /// PNG with `Accept: image/png`. For the survey's organizers.
    #[oai(
        path = "/v1/surveys/:id/qr.svg",
        method = "get",
        operation_id = "getSurveyQrCode"
    )]
    async fn qr_code(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// Width and height in pixels.
        #[oai(validator(minimum(value = "128"), maximum(value = "4096")))]
        size: Query<Option<u32>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<QrImage> {
        let survey = managed(&state, &caller, id.0).await?;
        QrImage::of_page(
            &state.settings.frontend,
            &format!("surveys/{}", survey.id),
            size.0,
            accept.0.as_deref(),
        )
    }

    /// The survey of a one-time link, in the reader's language (theirs, else the
    /// community's, else English). Public: the token is the key. 410 once closed.
    #[oai(
        path = "/v1/survey-invitations/:token",
        method = "get",
        operation_id = "getSurveyInvitation"
    )]
    async fn form(
        &self,
        state: poem::web::Data<&AppState>,
        #[oai(validator(max_length = 128))] token: Path<String>,
    ) -> Result<Json<SurveyForm>> {
        let (invitation, survey) = invitation(&state, &token.0).await?;
        if state_at(&survey, now()) == SurveyState::Closed {
            return Err(ApiError::Gone("the survey is closed".to_owned()));
        }
        let reader = person::Entity::find_by_id(invitation.person_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("survey invitation"))?;
        let community = community::Entity::find_by_id(survey.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("survey invitation"))?;
        let default = community.default_locale.as_str();
        let locale = choose(&survey.title, &reader.locale, default)
            .unwrap_or(huashen_worker::locale::FALLBACK)
            .to_owned();
        let text = |t: &BTreeMap<String, String>| pick(&LocalizedText(t.clone()), &locale, default);
        Ok(Json(SurveyForm {
            survey_id: survey.id,
            title: pick(&survey.title, &locale, default),
            intro: pick(&survey.intro, &locale, default),
            questions: survey
                .questions
                .0
                .iter()
                .map(|q| FormQuestion {
                    id: q.id.clone(),
                    kind: q.kind,
                    text: text(&q.text),
                    required: q.required,
                    choices: q
                        .choices
                        .iter()
                        .map(|c| FormChoice {
                            id: c.id.clone(),
                            text: text(&c.text),
                        })
                        .collect(),
                })
                .collect(),
            closes_at: survey.closes_at,
            answered_at: invitation.answered_at,
            locale,
        }))
    }

    /// Answer the survey of a one-time link, once (409 after). Public: the token is the
    /// key. Answers are checked against the questions (422 naming
    /// `answers.{question_id}`); 410 once the survey is closed.
    #[oai(
        path = "/v1/survey-invitations/:token",
        method = "post",
        operation_id = "answerSurveyInvitation"
    )]
    async fn answer(
        &self,
        state: poem::web::Data<&AppState>,
        #[oai(validator(max_length = 128))] token: Path<String>,
        body: JsonBody<SurveyAnswers>,
    ) -> Result<ResponseCreated> {
        let (invitation, survey) = invitation(&state, &token.0).await?;
        require_answerable(&survey)?;
        if invitation.answered_at.is_some() {
            return Err(ApiError::conflict("the survey was already answered"));
        }
        check_answers(&survey.questions.0, &body.0.answers)?;
        let reader = person::Entity::find_by_id(invitation.person_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("survey invitation"))?;
        let community = community::Entity::find_by_id(survey.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("survey invitation"))?;
        let locale = choose(&survey.title, &reader.locale, &community.default_locale)
            .unwrap_or(huashen_worker::locale::FALLBACK)
            .to_owned();
        let saved = record(
            &state,
            survey_response::Model {
                id: Uuid::now_v7(),
                survey_id: survey.id,
                person_id: Some(reader.id),
                invitation_id: Some(invitation.id),
                mode: ResponseMode::Link,
                collected_by: None,
                nationality: Some(reader.nationality),
                locale,
                answers: Answers(body.0.answers),
                submitted_at: now(),
            },
        )
        .await?;
        Ok(ResponseCreated::Created(Json(saved.into())))
    }
}

/// Moves a survey to `target` (open or closed) under the row lock.
async fn transition(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    target: SurveyState,
) -> Result<Fetched<Survey>> {
    let current = managed(state, caller, id).await?;
    let changed = retry_contended(|| async {
        let txn = begin_write(&state.db).await?;
        let Some(current) = survey::Entity::find_by_id(current.id)
            .lock_exclusive()
            .one(&txn)
            .await?
        else {
            return Err(ApiError::not_found("survey"));
        };
        let now = now();
        let mut next = current.clone();
        match (state_at(&current, now), target) {
            (SurveyState::Draft, SurveyState::Open) => {
                if current.closes_at <= now {
                    return Err(ApiError::invalid(
                        "closes_at",
                        "past",
                        "the survey would close before it opens; change closes_at first",
                    ));
                }
                next.opens_at = std::cmp::max(current.opens_at, now);
            }
            (SurveyState::Open, SurveyState::Open) | (SurveyState::Closed, SurveyState::Closed) => {
                return Ok(current);
            }
            (SurveyState::Open, SurveyState::Closed) => {
                next.closes_at = std::cmp::min(current.closes_at, now);
            }
            (SurveyState::Draft, _) => {
                return Err(ApiError::conflict("a draft is opened, not closed"));
            }
            (SurveyState::Closed, _) => return Err(ApiError::conflict("the survey is closed")),
            (SurveyState::Open, SurveyState::Draft) => {
                return Err(ApiError::conflict("an open survey stays open"));
            }
        }
        next.state = target;
        next.version = current.version + 1;
        next.updated_at = now;
        let saved = survey::Entity::update(next.clone().into_active_model().reset_all())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(saved)
    })
    .await?;
    let (body, tag) = presented(&state.db, changed).await?;
    Ok(Fetched::Ok(body, tag))
}

impl poem_openapi::types::Example for SurveyCreate {
    fn example() -> Self {
        Self {
            community_id: Some(super::example_id(1)),
            title: super::example_text("2026年居民满意度调查", "Resident satisfaction survey 2026"),
            intro: Some(super::example_text(
                "约需五分钟，结果仅以汇总形式呈现。",
                "About five minutes; results are only shown in summary.",
            )),
            questions: vec![
                Question {
                    id: "overall".to_owned(),
                    kind: QuestionKind::Rating,
                    text: super::example_text(
                        "您对社区服务的总体满意度？",
                        "How satisfied are you with the community's services?",
                    ),
                    required: true,
                    choices: Vec::new(),
                },
                Question {
                    id: "suggestions".to_owned(),
                    kind: QuestionKind::Text,
                    text: super::example_text("您的建议", "Your suggestions"),
                    required: false,
                    choices: Vec::new(),
                },
            ],
            audience: SurveyAudience::ForeignResidents,
            audience_event_id: None,
            opens_at: Some(super::example_time(1)),
            closes_at: super::example_time(23),
            reminder_after_days: Some(7),
        }
    }
}

impl poem_openapi::types::Example for SurveyPatch {
    fn example() -> Self {
        Self {
            closes_at: Some(super::example_time(23)),
            ..Self::default()
        }
    }
}

impl poem_openapi::types::Example for SurveyAnswers {
    fn example() -> Self {
        Self {
            answers: vec![
                Answer {
                    question_id: "overall".to_owned(),
                    rating: Some(5),
                    ..Answer::default()
                },
                Answer {
                    question_id: "suggestions".to_owned(),
                    text: Some("More English corner evenings, please.".to_owned()),
                    ..Answer::default()
                },
            ],
        }
    }
}

impl poem_openapi::types::Example for InterviewResponse {
    fn example() -> Self {
        Self {
            person_id: Some(super::example_id(3)),
            mode: ResponseMode::Interview,
            collected_by: "王芳 (social worker)".to_owned(),
            nationality: None,
            locale: Some("zh-CN".to_owned()),
            answers: <SurveyAnswers as poem_openapi::types::Example>::example().answers,
        }
    }
}
