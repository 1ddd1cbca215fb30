//! The one place where failures become RFC 9457 `application/problem+json` responses.
//!
//! Handlers return [`ApiError`]; the [`problem_responses`] middleware turns every other
//! error poem raises (unknown route, unparsable body, missing key, oversized body) into
//! the same shape. Internal causes are logged, never sent.

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use sea_orm::{DbErr, SqlErr};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Object)]
pub struct FieldError {
    /// The field, as named in the request (`email`, `name.en`, `limit`).
    pub field: String,
    /// A stable machine-readable code, e.g. `required`, `length`, `invalid_time_zone`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Object)]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Present for validation problems.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<FieldError>>,
    /// The request's `X-Request-Id`: quote it when reporting a problem.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

/// A failure a handler reports to its caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request does not fit the contract: unparsable, or a value outside the
    /// bounds its schema declares (400).
    #[error("the request does not match the API's schema")]
    Malformed(Vec<FieldError>),
    /// The request fits the contract, but its values break a rule the schema cannot
    /// state: a real time zone, `ends_at` after `starts_at`, a known station (422).
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid API key is required")]
    Unauthorized,
    /// A sign-in code or link that is wrong, used, expired or dead after too many
    /// wrong tries; which of these is not said.
    #[error("the code or link is wrong, used or expired; ask for a new one")]
    CodeRejected,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A unique constraint refused the write; [`ApiError::or_unique`] names the field.
    #[error("a resource with the same unique value already exists")]
    Duplicate,
    /// A foreign key refused the write; [`ApiError::or_referenced`] says why.
    #[error("the resource is still referenced by others, or refers to one that does not exist")]
    Referenced,
    #[error("{0}")]
    Gone(String),
    #[error("the resource has changed since it was read; fetch it again")]
    PreconditionFailed,
    #[error("{0}")]
    Unprocessable(String),
    /// An abuse limit was reached; the caller may try again after `retry_after` seconds.
    #[error("too many requests; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    /// The database stayed contended (deadlock, lock timeout) after retries.
    #[error("the service is busy; retry the request")]
    Busy,
    /// The database cannot be reached (down, restarting, refusing connections).
    #[error("the database is unavailable; retry the request")]
    DatabaseUnavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn forbidden(detail: &str) -> Self {
        Self::Forbidden(detail.to_owned())
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(detail.into())
    }

    /// A value that breaks a rule of the domain (422).
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// A value outside the bounds the contract declares (400).
    pub fn malformed(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Malformed(vec![FieldError::new(field, code, message)])
    }

    /// Names the field of a unique-constraint conflict.
    pub fn or_unique(self, field: &str, message: &str) -> Self {
        match self {
            Self::Duplicate => Self::Conflict(format!("{message} ({field})")),
            other => other,
        }
    }

    /// Explains a foreign-key conflict.
    pub fn or_referenced(self, message: &str) -> Self {
        match self {
            Self::Referenced => Self::Conflict(message.to_owned()),
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized | Self::CodeRejected => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::Duplicate | Self::Referenced => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy | Self::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let errors = match self {
            Self::Malformed(errors) | Self::Validation(errors) => Some(errors.clone()),
            _ => None,
        };
        let kind = match self {
            Self::Malformed(_) => "malformed",
            Self::Validation(_) => "validation",
            Self::CodeRejected => "code-rejected",
            _ => slug(status),
        };
        Problem {
            kind: format!("https://huashen.dev/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors,
            request_id: crate::observe::request_id(),
        }
    }
}

fn slug(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "request-timeout",
        409 => "conflict",
        410 => "gone",
        412 => "precondition-failed",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        429 => "too-many-requests",
        503 => "busy",
        _ if status.is_server_error() => "internal",
        _ => "error",
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Duplicate,
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::Referenced,
            _ if is_contention(&err) => Self::Busy,
            _ if is_unavailable(&err) => {
                tracing::warn!(error = %err, "the database is unavailable");
                Self::DatabaseUnavailable
            }
            // SQLite reports ON DELETE RESTRICT as SQLITE_CONSTRAINT_TRIGGER (1811),
            // which sea-orm leaves unclassified; its message is fixed.
            _ if err.to_string().contains("FOREIGN KEY constraint failed") => Self::Referenced,
            _ => Self::Internal(err.into()),
        }
    }
}

/// A deadlock or serialization failure (PostgreSQL) or a lock wait that ran out
/// (SQLite): the same transaction may well succeed when run again. So may one that
/// PostgreSQL's overlap constraint refused (`migration::SIGNUP_OVERLAP`, which keeps a
/// volunteer from two shifts at the same time): run again, it sees the other place
/// and refuses with its reason (`signups`).
fn is_contention(err: &DbErr) -> bool {
    if let Some(refusal) = driver_error(err).and_then(|e| e.as_database_error()) {
        let retried = match refusal.code().as_deref() {
            Some("40P01" | "40001") => true,
            Some("23P01") => refusal.constraint() == Some(migration::SIGNUP_OVERLAP),
            _ => false,
        };
        if retried {
            return true;
        }
    }
    let text = err.to_string();
    ["(code: 5)", "(code: 517)", "database is locked"]
        .iter()
        .any(|mark| text.contains(mark))
}

/// The driver's error under `err`, where a statement or connection failed.
fn driver_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    use sea_orm::RuntimeErr::SqlxError;
    match err {
        DbErr::Query(SqlxError(e)) | DbErr::Exec(SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// No connection to the database: none could be opened or taken from the pool, or
/// the one in use broke (PostgreSQL's class 08, or 57P01–57P03: shutting down,
/// restarting, refusing connections).
pub(crate) fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error;
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    let Some(driver) = driver_error(err) else {
        return false;
    };
    match driver {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

/// Seconds a client waits before retrying a 503.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

fn problem_response(problem: &Problem, retry_after: Option<u64>) -> Response {
    let body =
        serde_json::to_vec(&poem_openapi::types::ToJSON::to_json(problem)).unwrap_or_default();
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON);
    let retry_after = match status {
        StatusCode::SERVICE_UNAVAILABLE => Some(BUSY_RETRY_AFTER_SECS),
        _ => retry_after,
    };
    if let Some(seconds) = retry_after {
        response = response.header(poem::http::header::RETRY_AFTER, seconds.to_string());
    }
    response.body(body)
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        if let Self::Internal(err) = self {
            tracing::error!(error = ?err, "request failed");
        }
        let retry_after = match self {
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        };
        problem_response(&self.problem(), retry_after)
    }
}

/// Registers the problem schema; which problem statuses each operation can answer is
/// the contract's rule (`crate::contract`), since it differs by operation.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses { responses: vec![] }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

/// Turns every error that reaches the edge of the app into a problem response.
pub async fn problem_responses<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    match next.call(req).await {
        Ok(response) => Ok(response.into_response()),
        Err(err) => {
            // Keep saying which operation answered, for logs and metrics.
            let operation = err.data::<poem_openapi::OperationId>().copied();
            let mut response = error_response(err);
            if let Some(operation) = operation {
                response.set_data(operation);
            }
            Ok(response)
        }
    }
}

/// The problem response for any error poem or a handler raised.
pub fn error_response(err: poem::Error) -> Response {
    if let Some(api_error) = err.downcast_ref::<ApiError>() {
        return poem::error::ResponseError::as_response(api_error);
    }
    // A path that names no resource of the right shape names none at all.
    if err.is::<poem_openapi::error::ParsePathError>() {
        return poem::error::ResponseError::as_response(&ApiError::NotFound(
            "no such resource".to_owned(),
        ));
    }
    let status = err.status();
    let detail = if status.is_server_error() {
        tracing::error!(error = %err, "request failed");
        "internal error".to_owned()
    } else if status == StatusCode::UNAUTHORIZED {
        ApiError::Unauthorized.to_string()
    } else if status == StatusCode::NOT_FOUND {
        "no such route".to_owned()
    } else {
        err.to_string()
    };
    problem_response(
        &Problem {
            kind: format!("https://huashen.dev/problems/{}", slug(status)),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors: None,
            request_id: crate::observe::request_id(),
        },
        None,
    )
}

/// Refuses bodies over `max_bytes` (files to import: `max_import_bytes`) with 413,
/// whether or not they declare their length, and bodies that do not arrive whole
/// within `timeout` (files to import: ten times that) with 408.
pub fn body_limit(
    max_bytes: usize,
    max_import_bytes: usize,
    timeout: std::time::Duration,
) -> BodyLimitMiddleware {
    BodyLimitMiddleware {
        max_bytes,
        max_import_bytes,
        timeout,
    }
}

pub struct BodyLimitMiddleware {
    max_bytes: usize,
    max_import_bytes: usize,
    timeout: std::time::Duration,
}

impl<E: Endpoint> poem::Middleware<E> for BodyLimitMiddleware {
    type Output = BodyLimit<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimit {
            inner,
            max_bytes: self.max_bytes,
            max_import_bytes: self.max_import_bytes,
            timeout: self.timeout,
        }
    }
}

pub struct BodyLimit<E> {
    inner: E,
    max_bytes: usize,
    max_import_bytes: usize,
    timeout: std::time::Duration,
}

impl<E: Endpoint> Endpoint for BodyLimit<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match self.limit(req).await {
            Ok(req) => self.inner.call(req).await.map(IntoResponse::into_response),
            Err(err) => Ok(error_response(err)),
        }
    }
}

impl<E> BodyLimit<E> {
    /// Passes the request on with its body read whole, if it fits and arrives in time.
    async fn limit(&self, mut req: Request) -> poem::Result<Request> {
        let (max_bytes, timeout) = if req.uri().path().ends_with("/imports") {
            (self.max_import_bytes, self.timeout * 10)
        } else {
            (self.max_bytes, self.timeout)
        };
        let too_large = || {
            poem::Error::from_string(
                "the request body is too large",
                StatusCode::PAYLOAD_TOO_LARGE,
            )
        };
        let declared = req
            .header(poem::http::header::CONTENT_LENGTH)
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > max_bytes) {
            return Err(too_large());
        }
        // Read whole before anything else: a client that trickles its body is cut off.
        let body = tokio::time::timeout(timeout, req.take_body().into_bytes_limit(max_bytes));
        match body.await {
            Err(_) => Err(poem::Error::from_string(
                "the request body did not arrive in time",
                StatusCode::REQUEST_TIMEOUT,
            )),
            Ok(Ok(bytes)) => {
                req.set_body(bytes);
                Ok(req)
            }
            Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => Err(too_large()),
            Ok(Err(err)) => Err(err.into()),
        }
    }
}
