//! `/v1/sign-in` and `/v1/sessions`: signing in by an emailed code, without a password.

use std::time::Instant;

use chrono::{DateTime, Utc};
use entities::email_challenge::VALID_MINUTES;
use entities::enums::{ChallengePurpose, Role};
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde::Deserialize;
use uuid::Uuid;

use super::people::Person;
use super::{Deleted, Result, Tag};
use crate::auth::ApiKey;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::limits::{Bucket, hit};
use crate::self_service::{
    self, answer_alike, answer_code, answer_token, normalize_email, person_by_email,
};
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// What sign-in and applications answer, whatever became of the request.
#[derive(Object)]
pub struct CodeSent {
    /// The same words for every address, known or not.
    pub detail: String,
    /// How long the emailed code works.
    pub valid_minutes: i64,
}

impl CodeSent {
    pub fn answer() -> Json<Self> {
        Json(Self {
            detail: "If this address belongs to someone of the community, a code is on its way \
                     to it."
                .to_owned(),
            valid_minutes: VALID_MINUTES,
        })
    }
}

/// Accepted: a mail may be on its way.
#[derive(ApiResponse)]
pub enum Accepted {
    /// The same answer for known and unknown addresses.
    #[oai(status = 202)]
    Accepted(Json<CodeSent>),
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SignInRequest {
    pub community_id: Uuid,
    #[oai(validator(max_length = 254))]
    pub email: String,
}

/// Either the code from the mail with the address it went to, or the token of its link.
#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SignInVerify {
    pub community_id: Option<Uuid>,
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    /// The six digits from the mail.
    #[oai(validator(max_length = 6, pattern = "^[0-9]{6}$"))]
    pub code: Option<String>,
    /// The token from the mail's link.
    #[oai(validator(max_length = 128, pattern = "^[0-9a-f]+$"))]
    pub token: Option<String>,
}

/// A new session.
#[derive(Object)]
pub struct SessionCreated {
    /// The session key: `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// `volunteer`, or `organizer` for people who organize.
    pub role: Role,
    pub person: Person,
}

#[derive(ApiResponse)]
pub enum SignedIn {
    /// Signed in.
    #[oai(status = 201)]
    Created(Json<SessionCreated>),
}

/// Counts a request from the caller's address against the per-client limit.
pub async fn limit_client(state: &AppState, req: &Request) -> Result<()> {
    if let Some(ip) = crate::limits::client_ip(req, &state.settings.trusted_proxies) {
        hit(&state.db, &state.settings.limits, Bucket::Client(ip), now()).await?;
    }
    Ok(())
}

pub struct SessionsApi;

#[OpenApi(tag = "Tag::SignIn")]
impl SessionsApi {
    /// Ask for a sign-in code by email (no key). The answer is the same whether or not
    /// the address is known; a known person gets a mail in their language at once with
    /// a six-digit code and a link, both single use and valid 15 minutes. Limited per
    /// address and per client (429).
    #[oai(path = "/v1/sign-in", method = "post", operation_id = "requestSignIn")]
    async fn request(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        body: JsonBody<SignInRequest>,
    ) -> Result<Accepted> {
        let started = Instant::now();
        let body = body.0;
        let mut checks = Checks::default();
        checks.email("email", body.email.trim());
        checks.finish()?;
        limit_client(&state, req).await?;
        let email = normalize_email(&body.email);
        let now = now();
        hit(&state.db, &state.settings.limits, Bucket::Mail(&email), now).await?;
        if let Some(person) = person_by_email(&state.db, body.community_id, &email).await? {
            let address = person.email.clone();
            self_service::send_code(&state, &person, ChallengePurpose::SignIn, &address, now)
                .await?;
        }
        answer_alike(started).await;
        Ok(Accepted::Accepted(CodeSent::answer()))
    }

    /// Sign in with the emailed code (with `community_id` and `email`) or with the
    /// link's `token` (no key). Answers a session key: volunteer, or organizer for
    /// people who organize. A wrong, used or expired code is 401; the fifth wrong code
    /// ends it. Confirms an applicant's address.
    #[oai(
        path = "/v1/sign-in/verify",
        method = "post",
        operation_id = "verifySignIn"
    )]
    async fn verify(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        body: JsonBody<SignInVerify>,
    ) -> Result<SignedIn> {
        let body = body.0;
        limit_client(&state, req).await?;
        let now = now();
        let challenge = match (body.token, body.community_id, body.email, body.code) {
            (Some(token), None, None, None) => answer_token(&state.db, &token, now).await?,
            (None, Some(community_id), Some(email), Some(code)) => {
                let mut checks = Checks::default();
                checks.email("email", email.trim());
                checks.finish()?;
                let email = normalize_email(&email);
                hit(
                    &state.db,
                    &state.settings.limits,
                    Bucket::Verification(&email),
                    now,
                )
                .await?;
                let person = person_by_email(&state.db, community_id, &email)
                    .await?
                    .ok_or(ApiError::CodeRejected)?;
                answer_code(
                    &state.db,
                    person.id,
                    &[ChallengePurpose::SignIn, ChallengePurpose::VerifyEmail],
                    &code,
                    now,
                )
                .await?
            }
            _ => {
                return Err(ApiError::invalid(
                    "token",
                    "one_of",
                    "give either `token`, or `community_id`, `email` and `code`",
                ));
            }
        };
        let session = self_service::sign_in(&state, &challenge, now).await?;
        Ok(SignedIn::Created(Json(SessionCreated {
            token: session.secret,
            expires_at: session.key.expires_at.unwrap_or(now),
            role: session.key.role,
            person: session.person.into(),
        })))
    }

    /// Sign out: the session key stops working. Other keys are revoked under
    /// `/v1/api-keys`.
    #[oai(
        path = "/v1/sessions/current",
        method = "delete",
        operation_id = "signOut"
    )]
    async fn sign_out(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
    ) -> Result<Deleted> {
        if caller.expires_at.is_none() {
            return Err(ApiError::forbidden(
                "this is an API key, not a session; revoke it under /v1/api-keys",
            ));
        }
        let key = entities::api_key::Entity::find_by_id(caller.key_id)
            .one(&state.db)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let mut active = key.into_active_model();
        active.revoked_at = Set(Some(now()));
        active.update(&state.db).await?;
        state.keys.forget_all();
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for SignInRequest {
    fn example() -> Self {
        Self {
            community_id: super::example_id(1),
            email: "anna.mueller@example.com".to_owned(),
        }
    }
}

impl poem_openapi::types::Example for SignInVerify {
    fn example() -> Self {
        Self {
            community_id: Some(super::example_id(1)),
            email: Some("anna.mueller@example.com".to_owned()),
            code: Some("042917".to_owned()),
            token: None,
        }
    }
}
