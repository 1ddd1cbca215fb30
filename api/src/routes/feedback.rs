//! Feedback on events: `/v1/feedback/{token}` for the resident who got the link by
//! mail, `/v1/events/{id}/feedback` for organizers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entities::{community, event, feedback, person};
use huashen_worker::webhooks;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::StaffKey;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::now;
use entities::enums::WebhookEventType;

/// What a feedback link is about, in the reader's language.
#[derive(Object)]
pub struct FeedbackInvitation {
    pub event_id: Uuid,
    /// The event's title in the reader's language.
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub venue: Option<String>,
    /// The reader's locale, as the title was chosen for it.
    pub locale: String,
    pub submitted: bool,
    pub expires_at: DateTime<Utc>,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct FeedbackSubmission {
    /// 1 (poor) to 5 (excellent).
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub rating: i32,
    #[oai(validator(max_length = 2000))]
    pub comment: Option<String>,
}

#[derive(Object)]
pub struct FeedbackReceipt {
    pub event_id: Uuid,
    pub rating: i32,
    pub comment: Option<String>,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Object)]
pub struct FeedbackComment {
    pub rating: i32,
    pub comment: String,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Object)]
pub struct NationalityRating {
    /// ISO 3166-1 alpha-2; `unknown` once the person's data was erased.
    pub nationality: String,
    pub count: u32,
    pub average: f64,
}

/// What residents said about an event.
#[derive(Object)]
pub struct FeedbackSummary {
    pub event_id: Uuid,
    /// Links sent.
    pub requested: u32,
    /// Answers received.
    pub count: u32,
    /// Average rating; absent while there are no answers.
    pub average: Option<f64>,
    /// How many gave each rating, `"1"` to `"5"`.
    pub distribution: BTreeMap<String, u32>,
    pub comments: Vec<FeedbackComment>,
    pub by_nationality: Vec<NationalityRating>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The unexpired feedback row of `token`.
async fn by_token(state: &AppState, token: &str) -> Result<feedback::Model> {
    let row = feedback::Entity::find()
        .filter(feedback::Column::TokenHash.eq(entities::token::hash_token(token)))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("feedback link"))?;
    if row.expires_at <= now() {
        return Err(ApiError::Gone("this feedback link has expired".to_owned()));
    }
    Ok(row)
}

pub struct FeedbackApi;

#[OpenApi(tag = "Tag::Events")]
impl FeedbackApi {
    /// What a feedback link is about, in the reader's language. Public: the token is the key.
    #[oai(
        path = "/v1/feedback/:token",
        method = "get",
        operation_id = "getFeedbackInvitation"
    )]
    async fn invitation(
        &self,
        state: poem::web::Data<&AppState>,
        #[oai(validator(max_length = 128))] token: Path<String>,
    ) -> Result<Json<FeedbackInvitation>> {
        let row = by_token(&state, &token.0).await?;
        let event = event::Entity::find_by_id(row.event_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("event"))?;
        let community = community::Entity::find_by_id(event.community_id)
            .one(&state.db)
            .await?;
        let default_locale = community.map_or_else(|| "en".to_owned(), |c| c.default_locale);
        let reader = match row.person_id {
            Some(id) => person::Entity::find_by_id(id).one(&state.db).await?,
            None => None,
        };
        let locale = huashen_worker::locale::mail_locale(
            reader.as_ref().map_or("", |p| p.locale.as_str()),
            &default_locale,
        );
        Ok(Json(FeedbackInvitation {
            event_id: event.id,
            title: huashen_worker::locale::pick(&event.title, locale, &default_locale),
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            venue: event.venue,
            locale: locale.to_owned(),
            submitted: row.submitted_at.is_some(),
            expires_at: row.expires_at,
        }))
    }

    /// Give feedback once. A second answer is a 409; an expired link a 410.
    #[oai(
        path = "/v1/feedback/:token",
        method = "post",
        operation_id = "submitFeedback"
    )]
    async fn submit(
        &self,
        state: poem::web::Data<&AppState>,
        #[oai(validator(max_length = 128))] token: Path<String>,
        body: JsonBody<FeedbackSubmission>,
    ) -> Result<Json<FeedbackReceipt>> {
        let answer = body.0;
        let row = by_token(&state, &token.0).await?;
        let now = now();
        let comment = answer
            .comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        // Once only, even when two answers race; the webhook event in the same transaction.
        let txn = crate::db::begin_write(&state.db).await?;
        let stored = feedback::Entity::update_many()
            .col_expr(feedback::Column::Rating, Expr::value(answer.rating))
            .col_expr(feedback::Column::Comment, Expr::value(comment.clone()))
            .col_expr(feedback::Column::SubmittedAt, Expr::value(now))
            .filter(feedback::Column::Id.eq(row.id))
            .filter(feedback::Column::SubmittedAt.is_null())
            .exec(&txn)
            .await?;
        if stored.rows_affected == 0 {
            return Err(ApiError::conflict(
                "feedback was already given with this link",
            ));
        }
        if let Some(event) = event::Entity::find_by_id(row.event_id).one(&txn).await? {
            let path = format!("/v1/events/{}/feedback", row.event_id);
            webhooks::emit(
                &txn,
                event.community_id,
                WebhookEventType::FeedbackSubmitted,
                &path,
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(Json(FeedbackReceipt {
            event_id: row.event_id,
            rating: answer.rating,
            comment,
            submitted_at: now,
        }))
    }

    /// What residents said about an event (organizers): counts, average, distribution,
    /// comments, and ratings by the residents' nationality.
    #[oai(
        path = "/v1/events/:id/feedback",
        method = "get",
        operation_id = "getEventFeedback"
    )]
    async fn summary(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<FeedbackSummary>> {
        let event = event::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .filter(|e| caller.can_read(e.community_id))
            .ok_or_else(|| ApiError::not_found("event"))?;
        caller.require_manage(event.community_id)?;
        let rows = feedback::Entity::find()
            .filter(feedback::Column::EventId.eq(event.id))
            .order_by_asc(feedback::Column::SubmittedAt)
            .all(&state.db)
            .await?;
        let answered: Vec<&feedback::Model> =
            rows.iter().filter(|f| f.submitted_at.is_some()).collect();
        let people: BTreeMap<Uuid, String> = person::Entity::find()
            .filter(
                person::Column::Id.is_in(
                    answered
                        .iter()
                        .filter_map(|f| f.person_id)
                        .collect::<Vec<_>>(),
                ),
            )
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.nationality))
            .collect();
        let mut distribution: BTreeMap<String, u32> = (1..=5).map(|r| (r.to_string(), 0)).collect();
        let mut by_nationality: BTreeMap<String, (u32, i64)> = BTreeMap::new();
        let mut comments = Vec::new();
        let mut total = 0i64;
        for f in &answered {
            let rating = f.rating.unwrap_or_default();
            total += i64::from(rating);
            *distribution.entry(rating.to_string()).or_default() += 1;
            let nationality = f
                .person_id
                .and_then(|p| people.get(&p).cloned())
                .unwrap_or_else(|| "unknown".to_owned());
            let entry = by_nationality.entry(nationality).or_default();
            entry.0 += 1;
            entry.1 += i64::from(rating);
            if let (Some(comment), Some(at)) = (&f.comment, f.submitted_at) {
                comments.push(FeedbackComment {
                    rating,
                    comment: comment.clone(),
                    submitted_at: at,
                });
            }
        }
        let count = answered.len() as u32;
        Ok(Json(FeedbackSummary {
            event_id: event.id,
            requested: rows.len() as u32,
            count,
            average: (count > 0).then(|| round2(total as f64 / f64::from(count))),
            distribution,
            comments,
            by_nationality: by_nationality
                .into_iter()
                .map(|(nationality, (n, sum))| NationalityRating {
                    nationality,
                    count: n,
                    average: round2(sum as f64 / f64::from(n)),
                })
                .collect(),
        }))
    }
}

impl poem_openapi::types::Example for FeedbackSubmission {
    fn example() -> Self {
        Self {
            rating: 5,
            comment: Some("很开心！Lovely dumplings.".to_owned()),
        }
    }
}
