//! `/v1/me`: the person a session (or a volunteer key) acts for.

use chrono::{DateTime, Utc};
use entities::enums::{ChallengePurpose, Role};
use entities::{community, person};
use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use sea_orm::{EntityTrait, IntoActiveModel};
use serde::Deserialize;

use super::communities::Community;
use super::people::{NotificationPreferencesPatch, Person, PersonPatch, change};
use super::sessions::{Accepted, CodeSent, limit_client};
use super::{Deleted, Fetched, Result, Tag, etag};
use crate::auth::{ApiKey, Caller};
use crate::body::JsonBody;
use crate::db::begin_write;
use crate::error::ApiError;
use crate::limits::{Bucket, hit};
use crate::self_service::{self, answer_code, normalize_email};
use crate::state::AppState;
use crate::store::save_versioned;
use crate::time::now;
use crate::validate::Checks;
use crate::{personal_data, routes};

/// The caller as a person.
#[derive(Object)]
pub struct Me {
    pub person: Person,
    pub role: Role,
    pub community: Community,
    /// When the session ends; unset for keys that do not expire.
    pub session_expires_at: Option<DateTime<Utc>>,
}

/// What a person changes about themselves; `null` clears the phone number.
#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct MePatch {
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub locale: Option<String>,
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
    #[oai(validator(
        max_items = 50,
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    ))]
    pub languages: Option<Vec<String>>,
    #[oai(validator(max_items = 50, max_length = 64))]
    pub skills: Option<Vec<String>>,
    #[serde(default)]
    #[oai(validator(min_length = 3, max_length = 40))]
    pub phone: MaybeUndefined<String>,
    pub notifications: Option<NotificationPreferencesPatch>,
}

impl From<MePatch> for PersonPatch {
    fn from(me: MePatch) -> Self {
        Self {
            locale: me.locale,
            time_zone: me.time_zone,
            languages: me.languages,
            skills: me.skills,
            phone: me.phone,
            notifications: me.notifications,
            ..Self::default()
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example)]
pub struct EmailChange {
    /// The new address; a code goes to it.
    #[oai(validator(max_length = 254))]
    pub email: String,
}

#[derive(Object, Deserialize)]
#[oai(example)]
pub struct EmailChangeVerify {
    /// The six digits sent to the new address.
    #[oai(validator(max_length = 6, pattern = "^[0-9]{6}$"))]
    pub code: String,
}

#[derive(Object, Deserialize)]
#[oai(example)]
pub struct EraseMe {
    /// The caller's own email address, to confirm.
    #[oai(validator(max_length = 254))]
    pub confirm: String,
}

/// The person the caller acts for.
async fn own_person(state: &AppState, caller: &Caller) -> Result<person::Model> {
    let id = caller
        .person_id
        .ok_or_else(|| ApiError::forbidden("this key acts for no person; sign in by email"))?;
    person::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|p| p.erased_at.is_none())
        .ok_or(ApiError::Unauthorized)
}

fn tagged(model: person::Model) -> (Json<Person>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

pub struct MeApi;

#[OpenApi(prefix_path = "/v1/me", tag = "Tag::SignIn")]
impl MeApi {
    /// Who the caller is: their person, role, community and when the session ends. The
    /// ETag is the person's, for `PATCH /v1/me`.
    #[oai(path = "/", method = "get", operation_id = "getMe")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
    ) -> Result<Fetched<Me>> {
        let person = own_person(&state, &caller).await?;
        let community = community::Entity::find_by_id(person.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("community"))?;
        let tag = etag(person.version);
        let me = Me {
            person: person.into(),
            role: caller.role,
            community: community.into(),
            session_expires_at: caller.expires_at,
        };
        Ok(Fetched::Ok(Json(me), tag))
    }

    /// Change one's own locale, time zone, languages, skills, phone or mail
    /// preferences. The address changes through `POST /v1/me/email`.
    #[oai(path = "/", method = "patch", operation_id = "updateMe")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<MePatch>,
    ) -> Result<Fetched<Person>> {
        let current = own_person(&state, &caller).await?;
        let next = change(
            &state,
            &caller,
            current,
            body.0.into(),
            if_match.0.as_deref(),
        )
        .await?;
        let (body, tag) = tagged(next);
        Ok(Fetched::Ok(body, tag))
    }

    /// Erase oneself, as an organizer would (`erasePerson`), after confirming with
    /// one's own email address. The session ends with it.
    #[oai(path = "/", method = "delete", operation_id = "eraseMe")]
    async fn erase(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        body: JsonBody<EraseMe>,
    ) -> Result<Deleted> {
        let person = own_person(&state, &caller).await?;
        if normalize_email(&body.0.confirm) != person.email_normalized {
            return Err(ApiError::invalid(
                "confirm",
                "mismatch",
                "confirm with your own email address",
            ));
        }
        let lead = state.settings.self_cancel_lead;
        personal_data::erase(&state.db, &caller, person, now(), lead).await?;
        // The person's keys, this one among them, were revoked.
        state.keys.forget_all();
        Ok(Deleted::NoContent)
    }

    /// Ask to change one's address: a code goes to the new address, and the change is
    /// made by `POST /v1/me/email/verify` with it.
    #[oai(path = "/email", method = "post", operation_id = "changeMyEmail")]
    async fn change_email(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        ApiKey(caller): ApiKey,
        body: JsonBody<EmailChange>,
    ) -> Result<Accepted> {
        let person = own_person(&state, &caller).await?;
        let address = body.0.email.trim().to_owned();
        let mut checks = Checks::default();
        checks.email("email", &address);
        checks.finish()?;
        limit_client(&state, req).await?;
        let now = now();
        let normalized = normalize_email(&address);
        hit(
            &state.db,
            &state.settings.limits,
            Bucket::Mail(&normalized),
            now,
        )
        .await?;
        self_service::send_code(
            &state,
            &person,
            ChallengePurpose::ChangeEmail,
            &address,
            now,
        )
        .await?;
        Ok(Accepted::Accepted(CodeSent::answer()))
    }

    /// Confirm the new address with the code sent to it; the address changes now.
    #[oai(
        path = "/email/verify",
        method = "post",
        operation_id = "verifyMyEmail"
    )]
    async fn verify_email(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        body: JsonBody<EmailChangeVerify>,
    ) -> Result<Fetched<Person>> {
        let current = own_person(&state, &caller).await?;
        let now = now();
        hit(
            &state.db,
            &state.settings.limits,
            Bucket::Verification(&current.email_normalized),
            now,
        )
        .await?;
        let txn = begin_write(&state.db).await?;
        let challenge = answer_code(
            &txn,
            current.id,
            &[ChallengePurpose::ChangeEmail],
            &body.0.code,
            now,
        )
        .await;
        // A wrong code is counted even though the change fails.
        let challenge = match challenge {
            Ok(challenge) => challenge,
            Err(err) => {
                txn.commit().await?;
                return Err(err);
            }
        };
        let mut next = current.clone();
        next.email = challenge.email.clone();
        next.email_normalized = normalize_email(&challenge.email);
        next.email_verified_at = Some(now);
        next.version = current.version + 1;
        next.updated_at = now;
        save_versioned(
            &txn,
            next.clone().into_active_model(),
            current.id,
            current.version,
        )
        .await
        .map_err(|e| e.or_unique("email", routes::people::DUPLICATE_EMAIL))?;
        txn.commit().await?;
        let (body, tag) = tagged(next);
        Ok(Fetched::Ok(body, tag))
    }
}

impl poem_openapi::types::Example for MePatch {
    fn example() -> Self {
        Self {
            locale: Some("en".to_owned()),
            languages: Some(vec!["en".to_owned(), "zh".to_owned()]),
            ..Self::default()
        }
    }
}

impl poem_openapi::types::Example for EmailChange {
    fn example() -> Self {
        Self {
            email: "anna.new@example.com".to_owned(),
        }
    }
}

impl poem_openapi::types::Example for EmailChangeVerify {
    fn example() -> Self {
        Self {
            code: "042917".to_owned(),
        }
    }
}

impl poem_openapi::types::Example for EraseMe {
    fn example() -> Self {
        Self {
            confirm: "anna.mueller@example.com".to_owned(),
        }
    }
}
