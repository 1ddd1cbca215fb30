//! `/v1/communities/{id}/imports` and `/v1/imports/{id}`: bringing residents in from a
//! file as a job with progress (`crate::imports` says how rows are read and matched).

use chrono::{DateTime, Utc};
use entities::enums::{ImportFormat, ImportMail, ImportState, RowOutcome};
use entities::{community, import, import_row};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiRequest, ApiResponse, Object, OpenApi};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::{Caller, StaffKey};
use crate::error::{ApiError, FieldError};
use crate::imports::{self, ImportOptions, ImportTotals};
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;

/// The file to import: a person per row, in the columns `GET /v1/people` writes as CSV
/// (`full_name`, `email` and `nationality` required).
#[derive(ApiRequest)]
pub enum ImportFile {
    /// CSV as a spreadsheet saves it: UTF-8 (with or without a byte-order mark), a
    /// header row naming the columns; lists separated by `;`.
    #[oai(content_type = "text/csv")]
    Csv(Binary<Vec<u8>>),
    /// JSON lines: one object per line, keys as the CSV columns.
    #[oai(content_type = "application/x-ndjson")]
    Jsonl(Binary<Vec<u8>>),
}

/// An import and how far it has come.
#[derive(Object)]
pub struct Import {
    pub id: Uuid,
    pub community_id: Uuid,
    pub format: ImportFormat,
    pub dry_run: bool,
    pub atomic: bool,
    pub mail: ImportMail,
    pub state: ImportState,
    /// Rows in the file.
    pub rows_total: i32,
    /// Rows done so far (a progress bar's value).
    pub rows_done: i32,
    /// Set once it is done.
    pub totals: Option<ImportTotals>,
    /// Why a failed import failed.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<import::Model> for Import {
    fn from(m: import::Model) -> Self {
        let count = |n: i32| u32::try_from(n).unwrap_or_default();
        Self {
            id: m.id,
            community_id: m.community_id,
            format: m.format,
            dry_run: m.dry_run,
            atomic: m.atomic,
            mail: m.mail,
            state: m.state,
            rows_total: m.rows_total,
            rows_done: m.rows_done,
            totals: (m.state == ImportState::Done).then(|| ImportTotals {
                rows: count(m.rows_done),
                created: count(m.created),
                updated: count(m.updated),
                unchanged: count(m.unchanged),
                errors: count(m.errors),
            }),
            failure: m.failure,
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
        }
    }
}

/// What became of one row.
#[derive(Object)]
pub struct ImportedRow {
    /// The row's number among the data rows, from 1.
    pub row: i32,
    pub outcome: RowOutcome,
    pub email: Option<String>,
    pub person_id: Option<Uuid>,
    /// Each problem of the row, by field.
    pub errors: Vec<FieldError>,
}

impl From<import_row::Model> for ImportedRow {
    fn from(m: import_row::Model) -> Self {
        let errors: Vec<serde_json::Value> = serde_json::from_str(&m.errors).unwrap_or_default();
        Self {
            row: m.row,
            outcome: m.outcome,
            email: m.email,
            person_id: m.person_id,
            errors: errors
                .into_iter()
                .filter_map(|e| poem_openapi::types::ParseFromJSON::parse_from_json(Some(e)).ok())
                .collect(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ImportQueued {
    /// Queued; follow `Location` for its progress.
    #[oai(status = 202)]
    Accepted(Json<Import>, #[oai(header = "Location")] String),
}

/// The import `id`, if the caller manages its community.
async fn managed(state: &AppState, caller: &Caller, id: Uuid) -> Result<import::Model> {
    let found = import::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|i| caller.can_read(i.community_id))
        .ok_or_else(|| ApiError::not_found("import"))?;
    caller.require_manage(found.community_id)?;
    Ok(found)
}

pub struct ImportsApi;

#[OpenApi(tag = "Tag::People")]
impl ImportsApi {
    /// Import residents from a file (organizers): up to 100,000 rows, each checked as
    /// `createPerson` checks one and matched by email within the community, so the same
    /// file twice changes nothing the second time. A row with an error changes nothing;
    /// `atomic` makes the whole file all-or-nothing; `dry_run` checks and reports only.
    /// Runs as a job: answers 202 with `Location: /v1/imports/{id}`.
    #[oai(
        path = "/v1/communities/:id/imports",
        method = "post",
        operation_id = "importPeople"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// Check and report, write nothing.
        dry_run: Query<Option<bool>>,
        /// All rows or none.
        atomic: Query<Option<bool>>,
        /// `none`: nobody imported gets a welcome letter; `new_arrivals` (the default):
        /// those whose moving-in day is recent or ahead do.
        mail: Query<Option<ImportMail>>,
        file: ImportFile,
    ) -> Result<ImportQueued> {
        caller.require_manage(id.0)?;
        let community = community::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("community"))?;
        let (format, data) = match file {
            ImportFile::Csv(Binary(data)) => (ImportFormat::Csv, data),
            ImportFile::Jsonl(Binary(data)) => (ImportFormat::Jsonl, data),
        };
        let text = imports::text_of(&data)?;
        let options = ImportOptions {
            dry_run: dry_run.0.unwrap_or(false),
            atomic: atomic.0.unwrap_or(false),
            mail: mail.0.unwrap_or(ImportMail::NewArrivals),
        };
        let stored = imports::queue(&state, &community, text, format, options).await?;
        let location = format!("/v1/imports/{}", stored.id);
        Ok(ImportQueued::Accepted(Json(stored.into()), location))
    }

    /// An import's state and progress, and its totals once done (organizers).
    #[oai(path = "/v1/imports/:id", method = "get", operation_id = "getImport")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<Import>> {
        Ok(Json(managed(&state, &caller, id.0).await?.into()))
    }

    /// What became of each row, in file order (organizers); `outcome=error` lists the
    /// rows to fix.
    #[oai(
        path = "/v1/imports/:id/rows",
        method = "get",
        operation_id = "listImportRows"
    )]
    async fn rows(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        outcome: Query<Option<RowOutcome>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<ImportedRow>>> {
        let found = managed(&state, &caller, id.0).await?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        // The cursor carries the last row number in its id.
        let after = page.after.as_ref().map_or(0, |c| c.id.as_u128());
        let after = i32::try_from(after).unwrap_or(i32::MAX);
        let mut select = import_row::Entity::find()
            .filter(import_row::Column::ImportId.eq(found.id))
            .filter(import_row::Column::Row.gt(after));
        if let Some(outcome) = outcome.0 {
            select = select.filter(import_row::Column::Outcome.eq(outcome));
        }
        let rows = select
            .order_by_asc(import_row::Column::Row)
            .limit(page.limit + 1)
            .all(&state.db)
            .await?;
        Ok(Json(page.finish(
            rows,
            |r| Cursor {
                at: None,
                id: Uuid::from_u128(u128::try_from(r.row).unwrap_or_default()),
            },
            ImportedRow::from,
        )))
    }
}
