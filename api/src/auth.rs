//! API keys and what each role may do.
//!
//! A key is a random secret shown once; only its SHA-256 hash is stored. Roles:
//! admin (everything), organizer (one community), volunteer (read its community, act
//! only for its own person). A session key is the same kind of key, made when a
//! person signs in by email: bound to that person, and expiring.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use entities::enums::Role;
use entities::token;
use entities::{api_key, person};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::time::now;

const SECRET_PREFIX: &str = "hs_";

/// Who is calling: the checked API key.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: Uuid,
    pub role: Role,
    pub community_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    /// Set for session keys.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// May create and change things in `community_id`.
    pub fn can_manage(&self, community_id: Uuid) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Organizer => self.community_id == Some(community_id),
            Role::Volunteer => false,
        }
    }

    /// May read things of `community_id`.
    pub fn can_read(&self, community_id: Uuid) -> bool {
        self.is_admin() || self.community_id == Some(community_id)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("this operation needs an admin key"))
        }
    }

    /// Refuses unless the caller may manage `community_id`.
    pub fn require_manage(&self, community_id: Uuid) -> Result<(), ApiError> {
        if self.can_manage(community_id) {
            Ok(())
        } else if self.role == Role::Volunteer {
            Err(ApiError::forbidden("volunteer keys cannot change this"))
        } else {
            Err(ApiError::forbidden(
                "this API key belongs to another community",
            ))
        }
    }

    /// Refuses unless the caller may act for `person_id` in `community_id`: volunteer
    /// keys only for their own person, organizers for anyone of their community.
    pub fn require_acting_for(&self, community_id: Uuid, person_id: Uuid) -> Result<(), ApiError> {
        match self.role {
            Role::Volunteer if self.person_id == Some(person_id) => Ok(()),
            Role::Volunteer => Err(ApiError::forbidden(
                "volunteer keys act only for their own person",
            )),
            _ => self.require_manage(community_id),
        }
    }

    /// The community a listing is confined to: `requested` for admins, the key's own otherwise.
    pub fn list_scope(&self, requested: Option<Uuid>) -> Result<Option<Uuid>, ApiError> {
        match (self.is_admin(), requested, self.community_id) {
            (true, requested, _) => Ok(requested),
            (false, Some(requested), Some(own)) if requested != own => Err(ApiError::forbidden(
                "this API key belongs to another community",
            )),
            (false, _, own) => Ok(own),
        }
    }
}

/// `Authorization: Bearer <key>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "authenticate")]
pub struct ApiKey(pub Caller);

/// A key of an admin or organizer: a volunteer key is refused with 403 before the
/// request's parameters or body are looked at. Same scheme as [`ApiKey`].
#[derive(SecurityScheme)]
#[oai(rename = "ApiKey", ty = "bearer", checker = "authenticate_staff")]
pub struct StaffKey(pub Caller);

/// For public operations: a key adds rights, none is needed.
#[derive(SecurityScheme)]
pub enum OptionalApiKey {
    Key(ApiKey),
    #[oai(fallback)]
    Anonymous,
}

impl OptionalApiKey {
    /// The caller, if any. A key that was sent but is wrong is still a 401.
    pub fn caller(self, req: &Request) -> Result<Option<Caller>, ApiError> {
        match self {
            Self::Key(ApiKey(caller)) => Ok(Some(caller)),
            Self::Anonymous if req.header("authorization").is_some() => Err(ApiError::Unauthorized),
            Self::Anonymous => Ok(None),
        }
    }
}

/// The live (neither revoked nor expired) key whose secret is `secret`.
/// How long a key found in the database is trusted without looking again: a key
/// revoked through another process stops working within this many seconds; one revoked
/// through this process, at once.
pub const KEY_CACHE_SECONDS: u64 = 5;
/// Keys remembered at most; past that the stale ones go, then all.
const KEY_CACHE_ENTRIES: usize = 10_000;

/// Live keys recently found, by the hash of their secret, so that most requests need
/// no lookup of their key. Wrong keys are not remembered.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (api_key::Model, Instant)>>,
}

impl KeyCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (api_key::Model, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live key whose secret is `secret`.
    pub async fn find(
        &self,
        db: &impl ConnectionTrait,
        secret: &str,
    ) -> Result<Option<api_key::Model>, ApiError> {
        let hash = token::hash_token(secret);
        let fresh = StdDuration::from_secs(KEY_CACHE_SECONDS);
        let remembered = self
            .entries()
            .get(&hash)
            .filter(|(key, at)| at.elapsed() < fresh && key.expires_at.is_none_or(|e| e > now()))
            .map(|(key, _)| key.clone());
        if remembered.is_some() {
            return Ok(remembered);
        }
        let found = find_key_by_hash(db, &hash).await?;
        let mut entries = self.entries();
        match &found {
            Some(key) => {
                if entries.len() >= KEY_CACHE_ENTRIES {
                    entries.retain(|_, (_, at)| at.elapsed() < fresh);
                }
                if entries.len() >= KEY_CACHE_ENTRIES {
                    entries.clear();
                }
                entries.insert(hash, (key.clone(), Instant::now()));
            }
            None => {
                entries.remove(&hash);
            }
        }
        Ok(found)
    }

    /// Forgets every key: after a revocation, so that it takes effect here at once.
    pub fn forget_all(&self) {
        self.entries().clear();
    }
}

async fn find_key_by_hash(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<api_key::Model>, ApiError> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(hash))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(api_key::Column::ExpiresAt.is_null())
                .add(api_key::Column::ExpiresAt.gt(now())),
        )
        .one(db)
        .await?)
}

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    let key = state
        .keys
        .find(&state.db, &bearer.token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Caller {
        key_id: key.id,
        role: key.role,
        community_id: key.community_id,
        person_id: key.person_id,
        expires_at: key.expires_at,
    })
}

async fn authenticate_staff(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let caller = authenticate(req, bearer).await?;
    if caller.role == Role::Volunteer {
        return Err(ApiError::forbidden("this operation is for organizers").into());
    }
    Ok(caller)
}

/// A fresh secret: `hs_` and 32 random bytes in hex.
fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", token::new_token(32))
}

/// What a new key is for.
pub struct NewKey {
    pub name: String,
    pub role: Role,
    pub community_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
}

/// Stores a new key and returns it with its secret, which exists nowhere else.
///
/// # Errors
/// A validation error when the role's binding is wrong (an organizer without a
/// community, a volunteer without a person, or a person of another community).
pub async fn create_key(
    db: &impl ConnectionTrait,
    new: NewKey,
) -> Result<(api_key::Model, String), ApiError> {
    let NewKey {
        name,
        role,
        mut community_id,
        person_id,
    } = new;
    match role {
        Role::Admin if community_id.is_some() || person_id.is_some() => {
            return Err(ApiError::invalid(
                "role",
                "binding",
                "admin keys are bound to no community or person",
            ));
        }
        Role::Organizer if community_id.is_none() => {
            return Err(ApiError::invalid(
                "community_id",
                "required",
                "organizer keys need a community",
            ));
        }
        Role::Organizer if person_id.is_some() => {
            return Err(ApiError::invalid(
                "person_id",
                "binding",
                "organizer keys are not bound to a person",
            ));
        }
        Role::Volunteer => {
            let Some(person_id) = person_id else {
                return Err(ApiError::invalid(
                    "person_id",
                    "required",
                    "volunteer keys need a person",
                ));
            };
            let person = entities::person::Entity::find_by_id(person_id)
                .one(db)
                .await?
                .ok_or_else(|| ApiError::invalid("person_id", "not_found", "no such person"))?;
            if community_id.is_some_and(|c| c != person.community_id) {
                return Err(ApiError::invalid(
                    "community_id",
                    "mismatch",
                    "the person belongs to another community",
                ));
            }
            community_id = Some(person.community_id);
        }
        _ => {}
    }
    if let Some(id) = community_id
        && entities::community::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_none()
    {
        return Err(ApiError::invalid(
            "community_id",
            "not_found",
            "no such community",
        ));
    }
    store_key(db, name, role, community_id, person_id, None).await
}

/// A session for `person`, who just proved their address: a volunteer key, or an
/// organizer key for people who organize, that expires after `lifetime`.
pub async fn create_session(
    db: &impl ConnectionTrait,
    person: &person::Model,
    lifetime: Duration,
) -> Result<(api_key::Model, String), ApiError> {
    let role = if person.is_organizer {
        Role::Organizer
    } else {
        Role::Volunteer
    };
    store_key(
        db,
        "session".to_owned(),
        role,
        Some(person.community_id),
        Some(person.id),
        Some(now() + lifetime),
    )
    .await
}

async fn store_key(
    db: &impl ConnectionTrait,
    name: String,
    role: Role,
    community_id: Option<Uuid>,
    person_id: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(api_key::Model, String), ApiError> {
    let secret = new_secret();
    let model = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        prefix: Set(secret[..SECRET_PREFIX.len() + 6].to_owned()),
        secret_hash: Set(token::hash_token(&secret)),
        role: Set(role),
        community_id: Set(community_id),
        person_id: Set(person_id),
        created_at: Set(now()),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok((model, secret))
}
