//! Who bulk mail goes to, as queries: the people of a community who can be reached,
//! narrowed to its foreign residents, its volunteers, or the people of a shift,
//! station or event. Notices and surveys draw their audiences from here.

use entities::enums::{PersonStatus, RegistrationStatus, SignupStatus};
use entities::{community, event_registration, person, shift, shift_signup};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query, SelectStatement};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

/// The community's people who may get mail: not erased, their address not unconfirmed.
pub fn people(community_id: Uuid) -> Select<person::Entity> {
    person::Entity::find()
        .filter(person::Column::CommunityId.eq(community_id))
        .filter(person::Column::ErasedAt.is_null())
        .filter(person::Column::Status.ne(PersonStatus::Unverified))
}

/// Residents whose nationality is not the community's country.
pub fn foreign_residents(community: &community::Model) -> Select<person::Entity> {
    people(community.id).filter(person::Column::Nationality.ne(community.country.clone()))
}

/// People with a sign-up in `statuses` on the shift `shift_id`.
pub fn on_shift(
    community_id: Uuid,
    shift_id: Uuid,
    statuses: impl IntoIterator<Item = SignupStatus>,
) -> Select<person::Entity> {
    among(
        community_id,
        Query::select()
            .column(shift_signup::Column::PersonId)
            .from(shift_signup::Entity)
            .and_where(shift_signup::Column::ShiftId.eq(shift_id))
            .and_where(shift_signup::Column::Status.is_in(statuses))
            .to_owned(),
    )
}

/// People with a sign-up that was not cancelled on any shift of the station.
pub fn at_station(community_id: Uuid, station_id: Uuid) -> Select<person::Entity> {
    among(
        community_id,
        Query::select()
            .column(shift_signup::Column::PersonId)
            .from(shift_signup::Entity)
            .inner_join(
                shift::Entity,
                Expr::col((shift::Entity, shift::Column::Id))
                    .equals((shift_signup::Entity, shift_signup::Column::ShiftId)),
            )
            .and_where(shift::Column::StationId.eq(station_id))
            .and_where(shift_signup::Column::Status.ne(SignupStatus::Cancelled))
            .to_owned(),
    )
}

/// People with a registration in `statuses` for the event `event_id`.
pub fn at_event(
    community_id: Uuid,
    event_id: Uuid,
    statuses: impl IntoIterator<Item = RegistrationStatus>,
) -> Select<person::Entity> {
    among(
        community_id,
        Query::select()
            .column(event_registration::Column::PersonId)
            .from(event_registration::Entity)
            .and_where(event_registration::Column::EventId.eq(event_id))
            .and_where(event_registration::Column::Status.is_in(statuses))
            .to_owned(),
    )
}

fn among(community_id: Uuid, ids: SelectStatement) -> Select<person::Entity> {
    people(community_id).filter(person::Column::Id.in_subquery(ids))
}
