//! One set of answers to a survey, by link or collected in an interview, with what the
//! report groups it by (nationality and locale when it was given).

use poem_openapi::Object;
use sea_orm::FromJsonQueryResult;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::ResponseMode;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_responses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub survey_id: Uuid,
    /// Empty for an anonymous interview, or once the person's data was erased.
    pub person_id: Option<Uuid>,
    pub invitation_id: Option<Uuid>,
    pub mode: ResponseMode,
    /// Who collected an interview's answers.
    pub collected_by: Option<String>,
    /// ISO 3166-1 alpha-2, when known.
    pub nationality: Option<String>,
    pub locale: String,
    pub answers: Answers,
    pub submitted_at: DateTimeUtc,
}

/// The answer to one question: `rating` (1–5) for a rating, `choice` for a single
/// choice, `choices` for a multiple choice, `text` for a text question.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Answer {
    #[oai(validator(min_length = 1, max_length = 32, pattern = "^[a-z0-9_]+$"))]
    pub question_id: String,
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub rating: Option<i32>,
    #[oai(validator(min_length = 1, max_length = 32, pattern = "^[a-z0-9_]+$"))]
    pub choice: Option<String>,
    #[oai(validator(
        max_items = 20,
        unique_items,
        min_length = 1,
        max_length = 32,
        pattern = "^[a-z0-9_]+$"
    ))]
    pub choices: Option<Vec<String>>,
    #[oai(validator(max_length = 2000))]
    pub text: Option<String>,
}

/// The answers, one per question answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Answers(pub Vec<Answer>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
