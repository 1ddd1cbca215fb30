//! Cursor pagination: `limit` (1–200, default 50) and an opaque `cursor`.
//!
//! The cursor is the sort key of the last item returned, base64url-encoded JSON, so a
//! page never skips or repeats rows when others are inserted meanwhile.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use sea_orm::sea_query::{Condition, IntoCondition};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QueryResult,
    QueryTrait, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::reads::Reads;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

/// The query of one page, ordered, its `LIMIT` still to come.
///
/// The limit is written into the SQL as a number rather than sent as a parameter:
/// PostgreSQL cannot reuse a plan for `LIMIT $n` (a generic plan must assume a tenth of
/// the matching rows, so it loses to planning each execution afresh), and planning a
/// page of shifts took longer than running it. With the number in the text, each page
/// size is one prepared statement with one cached plan.
pub struct PageQuery<E: EntityTrait> {
    select: Select<E>,
    rows: u64,
}

impl<E: EntityTrait> PageQuery<E> {
    /// The page's models, read by sea-orm's reader.
    pub async fn all(self, reads: &Reads) -> Result<Vec<E::Model>, DbErr> {
        self.read(reads, |row| E::Model::from_query_result(row, ""))
            .await
    }

    /// The page's rows, each read by `read`, such as a model's reader by position.
    pub async fn read<M>(
        self,
        reads: &Reads,
        read: impl Fn(&QueryResult) -> Result<M, DbErr>,
    ) -> Result<Vec<M>, DbErr> {
        let mut statement = self.select.build(reads.backend());
        statement.sql.push_str(&format!(" LIMIT {}", self.rows));
        reads.query_all(statement).await?.iter().map(read).collect()
    }
}

/// One page of a list.
#[derive(Object, Serialize)]
pub struct Page<T: ParseFromJSON + ToJSON + Send + Sync> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The position after which a page starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at: Option<DateTime<Utc>>,
    pub id: Uuid,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The validated `limit` and `cursor` of a list request.
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Self, ApiError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as u64,
            Some(_) => {
                return Err(ApiError::malformed(
                    "limit",
                    "range",
                    format!("limit must be between 1 and {MAX_LIMIT}"),
                ));
            }
        };
        let after = match cursor {
            None => None,
            Some(text) => Some(Cursor::decode(&text).ok_or_else(|| {
                ApiError::invalid(
                    "cursor",
                    "invalid_cursor",
                    "the cursor is not one this API returned",
                )
            })?),
        };
        Ok(Self { limit, after })
    }

    /// Orders by `id` (time-ordered UUIDs) and starts after the cursor.
    pub fn by_id<E: EntityTrait>(&self, select: Select<E>, id: E::Column) -> PageQuery<E> {
        let select = match &self.after {
            Some(cursor) => select.filter(id.gt(cursor.id)),
            None => select,
        };
        self.query(select.order_by_asc(id))
    }

    /// Orders by a time column, then `id`, and starts after the cursor.
    pub fn by_time<E: EntityTrait>(
        &self,
        select: Select<E>,
        at: E::Column,
        id: E::Column,
    ) -> PageQuery<E> {
        let select = match &self.after {
            Some(Cursor {
                at: Some(t),
                id: last,
            }) => select.filter(
                Condition::any().add(at.gt(*t)).add(
                    Condition::all()
                        .add(at.eq(*t))
                        .add(id.gt(*last))
                        .into_condition(),
                ),
            ),
            Some(Cursor { at: None, id: last }) => select.filter(id.gt(*last)),
            None => select,
        };
        self.query(select.order_by_asc(at).order_by_asc(id))
    }

    /// The page's rows and one more, to learn whether more follow.
    fn query<E: EntityTrait>(&self, select: Select<E>) -> PageQuery<E> {
        PageQuery {
            select,
            rows: self.limit + 1,
        }
    }

    /// Cuts the extra row fetched to learn whether more follow, and converts the rest.
    pub fn finish<M, T>(
        &self,
        mut rows: Vec<M>,
        key: impl Fn(&M) -> Cursor,
        convert: impl Fn(M) -> T,
    ) -> Page<T>
    where
        T: ParseFromJSON + ToJSON + Send + Sync,
    {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| key(row).encode())
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(convert).collect(),
            next_cursor,
        }
    }
}
