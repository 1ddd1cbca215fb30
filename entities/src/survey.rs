//! A satisfaction survey: localized title, intro and questions, an audience, and the
//! window it is open in. Its questions are frozen once it opens.

use std::collections::BTreeMap;

use poem_openapi::Object;
use sea_orm::FromJsonQueryResult;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{QuestionKind, SurveyAudience, SurveyState};
use crate::json::LocalizedText;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "surveys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: LocalizedText,
    pub intro: LocalizedText,
    pub questions: Questions,
    pub audience: SurveyAudience,
    /// The event whose attendees are asked, for `event_attendees`.
    pub audience_event_id: Option<Uuid>,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    /// Days after the invitation a reminder goes to those who have not answered.
    pub reminder_after_days: Option<i32>,
    pub state: SurveyState,
    /// When the worker wrote the invitations.
    pub invited_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

/// One choice of a choice question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
pub struct Choice {
    /// Unique within its question, e.g. `library`.
    #[oai(validator(min_length = 1, max_length = 32, pattern = "^[a-z0-9_]+$"))]
    pub id: String,
    /// The choice per locale.
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub text: BTreeMap<String, String>,
}

/// One question of a survey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Object)]
pub struct Question {
    /// Unique within the survey, e.g. `overall`; answers name it.
    #[oai(validator(min_length = 1, max_length = 32, pattern = "^[a-z0-9_]+$"))]
    pub id: String,
    pub kind: QuestionKind,
    /// The question per locale.
    #[oai(validator(max_properties = 20, max_length = 500))]
    pub text: BTreeMap<String, String>,
    /// Whether every response must answer it.
    #[serde(default)]
    #[oai(default)]
    pub required: bool,
    /// The choices of `single_choice` and `multiple_choice` questions (2–20); none for
    /// the other kinds.
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub choices: Vec<Choice>,
}

/// The questions, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Questions(pub Vec<Question>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
