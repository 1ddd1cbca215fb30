//! Writes shared by every versioned resource.

use std::str::FromStr;

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::ApiError;

/// Overwrites row `id` with `model` if the row is still at `version`.
///
/// The version check and the write are one statement, so two concurrent `PATCH`es
/// cannot both win: the second gets 412.
pub async fn save_versioned<A>(
    db: &impl ConnectionTrait,
    model: A,
    id: Uuid,
    version: i32,
) -> Result<(), ApiError>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Column: FromStr,
{
    let column = |name: &str| {
        <A::Entity as EntityTrait>::Column::from_str(name)
            .unwrap_or_else(|_| panic!("versioned tables have a `{name}` column"))
    };
    let result = A::Entity::update_many()
        .set(model.reset_all())
        .filter(column("id").eq(id))
        .filter(column("version").eq(version))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed)
    }
}
