//! What the daily organizer digest says: understaffed shifts ahead, yesterday's
//! no-shows, new sign-ups, overdue care and volunteers awaiting approval.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entities::enums::{PersonStatus, RegistrationStatus, ShiftStatus, SignupStatus};
use entities::{
    care_plan, community, event, event_registration, person, shift, shift_signup, station,
};
use minijinja::Value;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use uuid::Uuid;

use crate::format::{date, date_time};
use crate::locale::pick;
use crate::planner::local_instant;

#[derive(Serialize)]
struct Understaffed {
    station: String,
    starts_at: String,
    confirmed: i32,
    minimum: i32,
}

#[derive(Serialize)]
struct NoShow {
    name: String,
    activity: String,
}

#[derive(Serialize)]
struct OverdueCare {
    resident: String,
    assignee: String,
    due_on: String,
}

#[derive(Serialize)]
struct NewSignup {
    name: String,
    activity: String,
    starts_at: String,
}

#[derive(Serialize)]
struct PendingVolunteer {
    name: String,
    applied_on: String,
}

/// The digest's variables for `community`, as of `at` (08:00 community time).
pub async fn contents(
    db: &DatabaseConnection,
    community: &community::Model,
    locale: &str,
    zone: Tz,
    at: DateTime<Utc>,
) -> Result<Vec<(&'static str, Value)>, DbErr> {
    let text = |t: &entities::json::LocalizedText| pick(t, locale, &community.default_locale);
    let stations: HashMap<Uuid, String> = station::Entity::find()
        .filter(station::Column::CommunityId.eq(community.id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, text(&s.name)))
        .collect();
    let station_name = |id: Uuid| stations.get(&id).cloned().unwrap_or_default();

    let understaffed: Vec<Understaffed> = shift::Entity::find()
        .filter(shift::Column::CommunityId.eq(community.id))
        .filter(shift::Column::Status.eq(ShiftStatus::Scheduled))
        .filter(shift::Column::StartsAt.gte(at))
        .filter(shift::Column::StartsAt.lt(at + Duration::hours(48)))
        .filter(
            Expr::col(shift::Column::ConfirmedCount).lt(Expr::col(shift::Column::MinVolunteers)),
        )
        .order_by_asc(shift::Column::StartsAt)
        .all(db)
        .await?
        .into_iter()
        .map(|s| Understaffed {
            station: station_name(s.station_id),
            starts_at: date_time(s.starts_at, zone, locale),
            confirmed: s.confirmed_count,
            minimum: s.min_volunteers,
        })
        .collect();

    let today = at.with_timezone(&zone).date_naive();
    let yesterday = (
        local_instant(today - Duration::days(1), 0, zone),
        local_instant(today, 0, zone),
    );
    let shift_no_shows = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift::Column::CommunityId.eq(community.id))
        .filter(shift::Column::StartsAt.gte(yesterday.0))
        .filter(shift::Column::StartsAt.lt(yesterday.1))
        .filter(shift_signup::Column::Status.eq(SignupStatus::NoShow))
        .all(db)
        .await?;
    let event_no_shows = event_registration::Entity::find()
        .find_also_related(event::Entity)
        .filter(event::Column::CommunityId.eq(community.id))
        .filter(event::Column::StartsAt.gte(yesterday.0))
        .filter(event::Column::StartsAt.lt(yesterday.1))
        .filter(event_registration::Column::Status.eq(RegistrationStatus::NoShow))
        .all(db)
        .await?;
    let new_signups = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift::Column::CommunityId.eq(community.id))
        .filter(shift_signup::Column::CreatedAt.gte(at - Duration::days(1)))
        .filter(
            shift_signup::Column::Status.is_in([SignupStatus::Confirmed, SignupStatus::Waitlisted]),
        )
        .order_by_asc(shift_signup::Column::CreatedAt)
        .all(db)
        .await?;

    let person_ids: Vec<Uuid> = shift_no_shows
        .iter()
        .map(|(s, _)| s.person_id)
        .chain(event_no_shows.iter().map(|(r, _)| r.person_id))
        .chain(new_signups.iter().map(|(s, _)| s.person_id))
        .collect();
    let names: HashMap<Uuid, String> = person::Entity::find()
        .filter(person::Column::Id.is_in(person_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.full_name))
        .collect();
    let name = |id: Uuid| names.get(&id).cloned().unwrap_or_default();

    let no_shows: Vec<NoShow> = shift_no_shows
        .iter()
        .filter_map(|(s, shift)| {
            shift.as_ref().map(|shift| NoShow {
                name: name(s.person_id),
                activity: station_name(shift.station_id),
            })
        })
        .chain(event_no_shows.iter().filter_map(|(r, event)| {
            event.as_ref().map(|e| NoShow {
                name: name(r.person_id),
                activity: text(&e.title),
            })
        }))
        .collect();
    let new_signups: Vec<NewSignup> = new_signups
        .iter()
        .filter_map(|(s, shift)| {
            shift.as_ref().map(|shift| NewSignup {
                name: name(s.person_id),
                activity: station_name(shift.station_id),
                starts_at: date_time(shift.starts_at, zone, locale),
            })
        })
        .collect();

    let overdue = care_plan::Entity::find()
        .filter(care_plan::Column::CommunityId.eq(community.id))
        .filter(care_plan::Column::EndedAt.is_null())
        .filter(care_plan::Column::NextDueOn.lt(today))
        .order_by_asc(care_plan::Column::NextDueOn)
        .all(db)
        .await?;
    let carers: HashMap<Uuid, String> = person::Entity::find()
        .filter(
            person::Column::Id.is_in(
                overdue
                    .iter()
                    .flat_map(|p| [p.person_id, p.assignee_id])
                    .collect::<Vec<_>>(),
            ),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.full_name))
        .collect();
    let overdue_care: Vec<OverdueCare> = overdue
        .iter()
        .map(|plan| OverdueCare {
            resident: carers.get(&plan.person_id).cloned().unwrap_or_default(),
            assignee: carers.get(&plan.assignee_id).cloned().unwrap_or_default(),
            due_on: date(plan.next_due_on, locale),
        })
        .collect();

    let pending_volunteers: Vec<PendingVolunteer> = person::Entity::find()
        .filter(person::Column::CommunityId.eq(community.id))
        .filter(person::Column::Status.eq(PersonStatus::Pending))
        .order_by_asc(person::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|p| PendingVolunteer {
            name: p.full_name,
            applied_on: date(p.created_at.with_timezone(&zone).date_naive(), locale),
        })
        .collect();

    Ok(vec![
        ("date", date(today, locale).into()),
        (
            "pending_volunteers",
            Value::from_serialize(&pending_volunteers),
        ),
        ("overdue_care", Value::from_serialize(&overdue_care)),
        ("understaffed", Value::from_serialize(&understaffed)),
        ("no_shows", Value::from_serialize(&no_shows)),
        ("new_signups", Value::from_serialize(&new_signups)),
    ])
}
