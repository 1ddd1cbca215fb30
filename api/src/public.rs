//! What anyone may see without a key, stated once: events that are not drafts, and
//! scheduled shifts that have not yet begun (with their places and waitlist counts;
//! shift resources name nobody). Everything else needs a key of the community.

use chrono::{DateTime, Utc};
use entities::enums::{EventStatus, ShiftStatus};
use entities::{event, shift};
use sea_orm::{ColumnTrait, Condition};

pub fn event_is_public(event: &event::Model) -> bool {
    event.status != EventStatus::Draft
}

/// The events listed to anyone.
pub fn public_events() -> Condition {
    Condition::all().add(event::Column::Status.ne(EventStatus::Draft))
}

pub fn shift_is_public(shift: &shift::Model, now: DateTime<Utc>) -> bool {
    shift.status == ShiftStatus::Scheduled && shift.starts_at > now
}

/// The shifts listed to anyone at `now`.
pub fn public_shifts(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(shift::Column::Status.eq(ShiftStatus::Scheduled))
        .add(shift::Column::StartsAt.gt(now))
}
