//! `/v1/notices`: news for residents, in their languages. The worker writes one ledger
//! row per recipient when a notice's time comes and sends them at the notice rate.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entities::enums::{NoticeAudience, NoticeState, NotificationStatus, SubjectType};
use entities::json::LocalizedText;
use entities::{community, event, notice, notification, shift, station};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Set,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::{Caller, StaffKey};
use crate::body::JsonBody;
use crate::db::{begin_write, retry_contended};
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// A notice and how its mails have fared.
#[derive(Object)]
pub struct Notice {
    pub id: Uuid,
    pub community_id: Uuid,
    /// The subject per locale.
    pub subject: BTreeMap<String, String>,
    /// The body per locale, in Markdown.
    pub body: BTreeMap<String, String>,
    pub audience: NoticeAudience,
    /// The station, shift or event of the audience.
    pub audience_id: Option<Uuid>,
    pub send_at: DateTime<Utc>,
    pub state: NoticeState,
    /// People it went to (known once it has gone out; those who opted out included).
    pub recipients: i32,
    pub deliveries: NoticeDeliveries,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// A notice's mails by delivery status.
#[derive(Object, Clone, Default)]
pub struct NoticeDeliveries {
    /// Waiting for their turn at the notice rate.
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    /// Not sent: the reader opted out, was erased, or the notice was cancelled.
    pub skipped: i64,
    /// Too late to be worth sending.
    pub missed: i64,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct NoticeCreate {
    /// Required for admin keys; organizers write to their own community.
    pub community_id: Option<Uuid>,
    /// One line per locale, e.g. `{"zh-CN": "停水通知", "en": "Water off on Friday"}`.
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub subject: BTreeMap<String, String>,
    /// Markdown per locale, in the same locales as `subject`. Raw HTML shows as text.
    #[oai(validator(max_properties = 20, max_length = 20000))]
    pub body: BTreeMap<String, String>,
    pub audience: NoticeAudience,
    /// The station (`station_volunteers`), shift (`shift`) or event (`event`).
    pub audience_id: Option<Uuid>,
    /// When it goes out; now unless given.
    pub send_at: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
pub enum NoticeCreated {
    /// Scheduled; it goes out at `send_at`.
    #[oai(status = 201)]
    Created(Json<Notice>),
}

/// Delivery counts of `notices`, by notice.
async fn deliveries(
    db: &impl ConnectionTrait,
    notices: &[Uuid],
) -> Result<BTreeMap<Uuid, NoticeDeliveries>> {
    let counts: Vec<(Uuid, NotificationStatus, i64)> = notification::Entity::find()
        .select_only()
        .column(notification::Column::SubjectId)
        .column(notification::Column::Status)
        .expr(notification::Column::Id.count())
        .filter(notification::Column::SubjectId.is_in(notices.to_vec()))
        .filter(notification::Column::SubjectType.eq(SubjectType::Notice))
        .group_by(notification::Column::SubjectId)
        .group_by(notification::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_notice = BTreeMap::new();
    for (id, status, count) in counts {
        let d: &mut NoticeDeliveries = by_notice.entry(id).or_default();
        *match status {
            NotificationStatus::Queued => &mut d.queued,
            NotificationStatus::Sent => &mut d.sent,
            NotificationStatus::Failed => &mut d.failed,
            NotificationStatus::Skipped => &mut d.skipped,
            NotificationStatus::Missed => &mut d.missed,
        } += count;
    }
    Ok(by_notice)
}

fn present(m: notice::Model, deliveries: NoticeDeliveries) -> Notice {
    // Sending ends when no mail of it is left in the queue.
    let state = match m.state {
        NoticeState::Sending if deliveries.queued == 0 => NoticeState::Sent,
        state => state,
    };
    Notice {
        id: m.id,
        community_id: m.community_id,
        subject: m.subject.0,
        body: m.body.0,
        audience: m.audience,
        audience_id: m.audience_id,
        send_at: m.send_at,
        state,
        recipients: m.recipients,
        deliveries,
        created_at: m.created_at,
        cancelled_at: m.cancelled_at,
    }
}

async fn presented(db: &impl ConnectionTrait, m: notice::Model) -> Result<Notice> {
    let mut counts = deliveries(db, &[m.id]).await?;
    let d = counts.remove(&m.id).unwrap_or_default();
    Ok(present(m, d))
}

async fn managed(state: &AppState, caller: &Caller, id: Uuid) -> Result<notice::Model> {
    notice::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|n| caller.can_manage(n.community_id))
        .ok_or_else(|| ApiError::not_found("notice"))
}

/// The community of the station, shift or event `id`, whichever `audience` names.
async fn audience_community(
    db: &impl ConnectionTrait,
    audience: NoticeAudience,
    id: Uuid,
) -> std::result::Result<Option<Uuid>, DbErr> {
    Ok(match audience {
        NoticeAudience::Community | NoticeAudience::ForeignResidents => None,
        NoticeAudience::StationVolunteers => station::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| s.community_id),
        NoticeAudience::Shift => shift::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| s.community_id),
        NoticeAudience::Event => event::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|e| e.community_id),
    })
}

/// Checks the texts and the audience of a notice to `community_id`.
async fn check(state: &AppState, community_id: Uuid, body: &NoticeCreate) -> Result<()> {
    let mut checks = Checks::default();
    checks.localized("subject", &body.subject, true);
    checks.localized("body", &body.body, true);
    for (locale, subject) in &body.subject {
        checks.ensure(
            !subject.contains(['\r', '\n']),
            &format!("subject.{locale}"),
            "multiline",
            "a subject is one line",
        );
        checks.ensure(
            body.body.contains_key(locale),
            &format!("body.{locale}"),
            "required",
            "every locale of the subject needs a body",
        );
    }
    for locale in body.body.keys() {
        checks.ensure(
            body.subject.contains_key(locale),
            &format!("subject.{locale}"),
            "required",
            "every locale of the body needs a subject",
        );
    }
    let needs_id = !matches!(
        body.audience,
        NoticeAudience::Community | NoticeAudience::ForeignResidents
    );
    match body.audience_id {
        None if needs_id => checks.fail(
            "audience_id",
            "required",
            format!("a `{}` audience names its id", body.audience.as_str()),
        ),
        Some(_) if !needs_id => checks.fail(
            "audience_id",
            "unexpected",
            format!("a `{}` audience has no id", body.audience.as_str()),
        ),
        Some(id) => {
            let of = audience_community(&state.db, body.audience, id).await?;
            checks.ensure(
                of == Some(community_id),
                "audience_id",
                "unknown",
                "no such station, shift or event in the community",
            );
        }
        None => {}
    }
    checks.finish()
}

pub struct NoticesApi;

#[OpenApi(prefix_path = "/v1/notices", tag = "Tag::Notices")]
impl NoticesApi {
    /// Write a notice to residents (organizers, admins). It goes out at `send_at`, in
    /// each reader's language (their own, else the community's, else English, else any
    /// the notice has), to those who have not turned notices off, at the deployment's
    /// notice rate.
    #[oai(path = "/", method = "post", operation_id = "createNotice")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<NoticeCreate>,
    ) -> Result<NoticeCreated> {
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
        check(&state, community_id, &body).await?;
        let now = now();
        let model = notice::ActiveModel {
            id: Set(Uuid::now_v7()),
            community_id: Set(community_id),
            subject: Set(LocalizedText(body.subject)),
            body: Set(LocalizedText(body.body)),
            audience: Set(body.audience),
            audience_id: Set(body.audience_id),
            send_at: Set(body.send_at.unwrap_or(now)),
            state: Set(NoticeState::Scheduled),
            recipients: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            cancelled_at: Set(None),
        }
        .insert(&state.db)
        .await?;
        Ok(NoticeCreated::Created(Json(present(
            model,
            NoticeDeliveries::default(),
        ))))
    }

    /// List notices, newest first (admin: all or `community_id`'s; organizers: their
    /// community's).
    #[oai(path = "/", method = "get", operation_id = "listNotices")]
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
    ) -> Result<Json<Page<Notice>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = notice::Entity::find();
        if let Some(community) = caller.list_scope(community_id.0)? {
            select = select.filter(notice::Column::CommunityId.eq(community));
        }
        let rows = page
            .by_id(select, notice::Column::Id)
            .all(&state.reads)
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|n| n.id).collect();
        let counts = deliveries(&state.db, &ids).await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            |m| {
                let d = counts.get(&m.id).cloned().unwrap_or_default();
                present(m, d)
            },
        )))
    }

    /// A notice with its mails counted by delivery status.
    #[oai(path = "/:id", method = "get", operation_id = "getNotice")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<Notice>> {
        let notice = managed(&state, &caller, id.0).await?;
        Ok(Json(presented(&state.db, notice).await?))
    }

    /// Cancel a notice that has not wholly gone out: its mails not yet sent are
    /// skipped. Cancelling again changes nothing; a notice whose every mail was dealt
    /// with is a 409.
    #[oai(path = "/:id/cancel", method = "post", operation_id = "cancelNotice")]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<Notice>> {
        let notice = managed(&state, &caller, id.0).await?;
        let cancelled = retry_contended(|| async {
            let txn = begin_write(&state.db).await?;
            let Some(current) = notice::Entity::find_by_id(notice.id)
                .lock_exclusive()
                .one(&txn)
                .await?
            else {
                return Err(ApiError::not_found("notice"));
            };
            if current.state == NoticeState::Cancelled {
                return Ok(current);
            }
            let now = now();
            let skipped = notification::Entity::update_many()
                .col_expr(
                    notification::Column::Status,
                    Expr::value(NotificationStatus::Skipped),
                )
                .col_expr(
                    notification::Column::SkipReason,
                    Expr::value("the notice was cancelled"),
                )
                .col_expr(notification::Column::UpdatedAt, Expr::value(now))
                .filter(notification::Column::SubjectId.eq(current.id))
                .filter(notification::Column::SubjectType.eq(SubjectType::Notice))
                .filter(notification::Column::Status.eq(NotificationStatus::Queued))
                .exec(&txn)
                .await?;
            if current.state == NoticeState::Sending && skipped.rows_affected == 0 {
                return Err(ApiError::conflict("the notice has already gone out"));
            }
            let mut active: notice::ActiveModel = current.into();
            active.state = Set(NoticeState::Cancelled);
            active.cancelled_at = Set(Some(now));
            active.updated_at = Set(now);
            let cancelled = active.update(&txn).await?;
            txn.commit().await?;
            Ok(cancelled)
        })
        .await?;
        Ok(Json(presented(&state.db, cancelled).await?))
    }
}

impl poem_openapi::types::Example for NoticeCreate {
    fn example() -> Self {
        Self {
            community_id: Some(super::example_id(1)),
            subject: super::example_text("周五停水通知", "Water off on Friday"),
            body: super::example_text(
                "周五 **9:00–12:00** 小区停水，请提前储水。",
                "The water is off on Friday **9:00–12:00**; please keep some in advance.",
            ),
            audience: NoticeAudience::Community,
            audience_id: None,
            send_at: Some(super::example_time(1)),
        }
    }
}
