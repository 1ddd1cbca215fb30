//! `/v1/communities/{id}/applications`: residents and volunteers join by themselves.

use std::time::Instant;

use chrono::NaiveDate;
use entities::community;
use entities::enums::{ChallengePurpose, PersonStatus};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::{Object, OpenApi};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
use serde::Deserialize;
use uuid::Uuid;

use super::people::{PersonCreate, check_person, new_person};
use super::sessions::{Accepted, CodeSent, limit_client};
use super::{Result, Tag};
use crate::body::JsonBody;
use crate::db::begin_write;
use crate::error::ApiError;
use crate::limits::{Bucket, hit};
use crate::self_service::{self, answer_alike, person_by_email};
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// The consent an applicant gives to the community's privacy notice.
#[derive(Object, Deserialize)]
pub struct Consent {
    /// Which version of the consent text the applicant was shown.
    #[oai(validator(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$"))]
    pub text_version: String,
    /// Must be `true`: without consent nothing is stored.
    pub accepted: bool,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct Application {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub full_name: String,
    #[oai(validator(max_length = 254))]
    pub email: String,
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub locale: String,
    #[oai(validator(min_length = 2, max_length = 2, pattern = "^[A-Z]{2}$"))]
    pub nationality: String,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(
        max_items = 50,
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    ))]
    pub languages: Vec<String>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(max_items = 50, max_length = 64))]
    pub skills: Vec<String>,
    /// Defaults to the community's time zone.
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
    pub birthday: Option<NaiveDate>,
    /// Applies as a volunteer; where the community says so, an organizer approves first.
    pub wants_to_volunteer: bool,
    pub consent: Consent,
}

pub struct ApplicationsApi;

#[OpenApi(prefix_path = "/v1/communities", tag = "Tag::SignIn")]
impl ApplicationsApi {
    /// Apply to join a community (no key), with consent. A code to confirm the address
    /// goes to it; confirming signs the applicant in. Volunteers wait for an
    /// organizer's approval where the community wants that. An address already known
    /// gets a sign-in code instead and nothing changes; the answer is the same.
    #[oai(
        path = "/:id/applications",
        method = "post",
        operation_id = "applyToCommunity"
    )]
    async fn apply(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        id: Path<Uuid>,
        body: JsonBody<Application>,
    ) -> Result<Accepted> {
        let started = Instant::now();
        let body = body.0;
        let community = community::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("community"))?;
        let now = now();
        let consent = body.consent;
        let mut model = new_person(
            &community,
            PersonCreate {
                community_id: community.id,
                full_name: body.full_name,
                email: body.email,
                phone: None,
                nationality: body.nationality,
                locale: Some(body.locale),
                time_zone: body.time_zone,
                birthday: body.birthday,
                languages: body.languages,
                skills: body.skills,
                is_volunteer: body.wants_to_volunteer,
                is_organizer: false,
                moved_in_on: None,
                moving_out_on: None,
                notifications: None,
            },
            now,
        );
        model.status = PersonStatus::Unverified;
        model.consent_version = Some(consent.text_version);
        model.consent_at = Some(now);
        let mut checks = Checks::default();
        checks.ensure(
            consent.accepted,
            "consent.accepted",
            "required",
            "without consent to the privacy notice nothing can be stored",
        );
        check_person(&mut checks, &model);
        checks.finish()?;
        limit_client(&state, req).await?;
        hit(
            &state.db,
            &state.settings.limits,
            Bucket::Mail(&model.email_normalized),
            now,
        )
        .await?;
        let known = person_by_email(&state.db, community.id, &model.email).await?;
        let (person, purpose) = match known {
            Some(known) => (known, ChallengePurpose::SignIn),
            None => (model, ChallengePurpose::VerifyEmail),
        };
        let txn = begin_write(&state.db).await?;
        let created = match purpose {
            ChallengePurpose::VerifyEmail => person
                .clone()
                .into_active_model()
                .reset_all()
                .insert(&txn)
                .await
                .map(|_| ())
                .map_err(ApiError::from),
            _ => Ok(()),
        };
        match created {
            // The same address applied at the same moment: that one is answered.
            Err(ApiError::Duplicate) => {}
            Err(err) => return Err(err),
            Ok(()) => {
                let mail =
                    self_service::start_challenge(&txn, &person, purpose, &person.email, now)
                        .await?;
                txn.commit().await?;
                self_service::dispatch(&state, mail).await;
            }
        }
        answer_alike(started).await;
        Ok(Accepted::Accepted(CodeSent::answer()))
    }
}

impl poem_openapi::types::Example for Application {
    fn example() -> Self {
        Self {
            full_name: "Olga Petrova".to_owned(),
            email: "olga.petrova@example.com".to_owned(),
            locale: "ru".to_owned(),
            nationality: "RU".to_owned(),
            languages: vec!["ru".to_owned(), "en".to_owned()],
            skills: vec!["translation".to_owned()],
            time_zone: None,
            birthday: None,
            wants_to_volunteer: true,
            consent: Consent {
                text_version: "2026-11".to_owned(),
                accepted: true,
            },
        }
    }
}
