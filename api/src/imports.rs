//! Bringing a community's residents in from a file: CSV as a spreadsheet saves it
//! (UTF-8, with or without a byte-order mark, a header row naming the columns) or JSON
//! lines. Each row is a person, held to the same bounds and rules as
//! `POST /v1/people` and matched by email within the community, so the same file
//! imported twice changes nothing the second time. Rows are read and written in
//! chunks, so memory stays bounded by the chunk, not the file.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use entities::enums::{ImportState, NotificationStatus};
use entities::{community, import, import_file, import_row, notification, person};
use huashen_worker::jobs::{ImportRunner, RunImport};
use huashen_worker::locale::mail_locale;
use huashen_worker::planner::{ledger_row, welcome, write_rows};
use poem_openapi::Object;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::body::parse_value;
use crate::error::{ApiError, FieldError};
use crate::routes::people::{PersonCreate, check_person, new_person};
use crate::state::AppState;
use crate::validate::Checks;

/// The most rows one file may hold.
pub const MAX_ROWS: usize = 100_000;
/// Rows read, checked and written together.
const CHUNK: usize = 500;
/// How long a running import's claim holds before another process may take it over.
const STALE_CLAIM: chrono::Duration = chrono::Duration::minutes(30);
/// Rows written between refreshes of PostgreSQL's table statistics.
const STATISTICS_EVERY: usize = 10_000;

/// The columns a file may have, in the order an export writes them. Lists (languages,
/// skills) are separated by `;`; booleans are `true`/`false` (or `yes`/`no`, `1`/`0`).
pub const COLUMNS: [&str; 18] = [
    "full_name",
    "email",
    "phone",
    "nationality",
    "locale",
    "time_zone",
    "birthday",
    "languages",
    "skills",
    "is_volunteer",
    "is_organizer",
    "moved_in_on",
    "moving_out_on",
    "notify_reminders",
    "notify_birthday",
    "notify_feedback",
    "notify_notices",
    "notify_surveys",
];
const REQUIRED: [&str; 3] = ["full_name", "email", "nationality"];
const LISTS: [&str; 2] = ["languages", "skills"];
const FLAGS: [&str; 7] = [
    "is_volunteer",
    "is_organizer",
    "notify_reminders",
    "notify_birthday",
    "notify_feedback",
    "notify_notices",
    "notify_surveys",
];

pub use entities::enums::{ImportFormat, ImportMail, RowOutcome};

#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// All or nothing: one row with an error and no row is written.
    pub atomic: bool,
    pub mail: ImportMail,
}

/// What became of one row.
#[derive(Object, Clone, Debug)]
pub struct RowResult {
    /// The row's number among the data rows, from 1.
    pub row: u32,
    pub email: Option<String>,
    pub outcome: RowOutcome,
    pub person_id: Option<Uuid>,
    pub errors: Vec<FieldError>,
}

/// Counts over the whole file.
#[derive(Object, Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportTotals {
    /// Rows read.
    pub rows: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub errors: u32,
}

impl ImportTotals {
    fn count(&mut self, outcome: RowOutcome) {
        self.rows += 1;
        match outcome {
            RowOutcome::Created => self.created += 1,
            RowOutcome::Updated => self.updated += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
            RowOutcome::Error => self.errors += 1,
        }
    }
}

pub struct ImportReport {
    pub totals: ImportTotals,
    /// Every row, in file order.
    pub rows: Vec<RowResult>,
    /// Whether anything was written (not for a dry run, nor an atomic file with errors).
    pub written: bool,
}

/// A file's text, refused whole when it is not UTF-8; a byte-order mark is dropped.
pub fn text_of(data: &[u8]) -> Result<&str, ApiError> {
    let text = std::str::from_utf8(data).map_err(|err| {
        ApiError::invalid(
            "file",
            "encoding",
            format!(
                "the file is not UTF-8 (at byte {}); save it as \"CSV UTF-8\"",
                err.valid_up_to()
            ),
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// A row read from the file: its number and its fields as a `PersonCreate` would have
/// them, or why it could not be read.
type ReadRow = (u32, Result<Map<String, Value>, FieldError>);

/// The file's rows, one by one, after its header (CSV) is checked.
pub fn rows(
    text: &str,
    format: ImportFormat,
) -> Result<Box<dyn Iterator<Item = ReadRow> + Send + '_>, ApiError> {
    match format {
        ImportFormat::Csv => {
            let (reader, header) = csv_reader(text)?;
            Ok(Box::new(reader.into_records().zip(1..).map(
                move |(record, row)| {
                    let fields = record
                        .map_err(|e| FieldError::new("row", "csv", e.to_string()))
                        .and_then(|record| {
                            header
                                .iter()
                                .zip(record.iter())
                                .filter(|(_, cell)| !cell.is_empty())
                                .map(|(column, cell)| {
                                    Ok((column.clone(), cell_value(column, cell)?))
                                })
                                .collect()
                        });
                    (row, fields)
                },
            )))
        }
        ImportFormat::Jsonl => Ok(Box::new(
            text.lines()
                .filter(|line| !line.trim().is_empty())
                .zip(1..)
                .map(|(line, row)| {
                    let fields = match serde_json::from_str::<Value>(line) {
                        Ok(Value::Object(map)) => check_columns(map.keys().map(String::as_str))
                            .map_err(|_| {
                                FieldError::new(
                                    "row",
                                    "columns",
                                    format!("keys are among {}", COLUMNS.join(", ")),
                                )
                            })
                            .map(|()| map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
                        Ok(_) => Err(FieldError::new(
                            "row",
                            "json",
                            "each line is one JSON object",
                        )),
                        Err(e) => Err(FieldError::new("row", "json", e.to_string())),
                    };
                    (row, fields)
                }),
        )),
    }
}

/// A reader of the CSV `text`, past its header row, and the header's columns (checked).
fn csv_reader(text: &str) -> Result<(csv::Reader<&[u8]>, Vec<String>), ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::invalid("file", "csv", format!("no header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    check_columns(header.iter().map(String::as_str))?;
    Ok((reader, header))
}

/// How many rows the file has, without reading their fields; at most [`MAX_ROWS`].
fn count_rows(text: &str, format: ImportFormat) -> Result<usize, ApiError> {
    let total = match format {
        ImportFormat::Csv => csv_reader(text)?.0.into_records().count(),
        ImportFormat::Jsonl => text.lines().filter(|line| !line.trim().is_empty()).count(),
    };
    if total > MAX_ROWS {
        return Err(ApiError::invalid(
            "file",
            "rows",
            format!("{total} rows; at most {MAX_ROWS} at a time"),
        ));
    }
    Ok(total)
}

/// Unknown columns would be dropped silently, so they refuse the file; so does a
/// missing required one (CSV only: a JSON line lacking one is that row's error).
fn check_columns<'a>(mut columns: impl Iterator<Item = &'a str> + Clone) -> Result<(), ApiError> {
    if let Some(unknown) = columns.clone().find(|c| !COLUMNS.contains(c)) {
        return Err(ApiError::invalid(
            "file",
            "columns",
            format!(
                "unknown column `{unknown}`; the columns are {}",
                COLUMNS.join(", ")
            ),
        ));
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !columns.any(|c| c == **r)) {
        return Err(ApiError::invalid(
            "file",
            "columns",
            format!("the column `{missing}` is missing"),
        ));
    }
    Ok(())
}

/// A CSV cell as the JSON value its column takes. A leading `'` before what would be
/// a formula is how Huashen's own CSV escapes such a cell, and is dropped again.
fn cell_value(column: &str, cell: &str) -> Result<Value, FieldError> {
    let cell = cell
        .strip_prefix('\'')
        .filter(|rest| is_formula(rest))
        .unwrap_or(cell);
    if LISTS.contains(&column) {
        return Ok(Value::Array(
            cell.split(';')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ));
    }
    if FLAGS.contains(&column) {
        return match cell.to_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(FieldError::new(
                column,
                "boolean",
                format!("`{cell}` is not true or false"),
            )),
        };
    }
    Ok(Value::String(cell.to_owned()))
}

/// A cell a spreadsheet would run as a formula (CSV injection).
pub fn is_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The person a row describes, checked as `POST /v1/people` checks one, and the
/// columns it gives (the others keep their value on an update).
fn check_row(
    community: &community::Model,
    mut fields: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(person::Model, HashSet<String>), Vec<FieldError>> {
    let given: HashSet<String> = fields.keys().cloned().collect();
    // Preferences come as flat columns.
    let mut notifications = Map::new();
    for (column, key) in [
        ("notify_reminders", "reminders"),
        ("notify_birthday", "birthday_card"),
        ("notify_feedback", "feedback"),
        ("notify_notices", "notices"),
        ("notify_surveys", "surveys"),
    ] {
        if let Some(value) = fields.remove(column) {
            notifications.insert(key.to_owned(), value);
        }
    }
    if !notifications.is_empty() {
        fields.insert("notifications".to_owned(), Value::Object(notifications));
    }
    fields.insert(
        "community_id".to_owned(),
        Value::String(community.id.to_string()),
    );
    let body: PersonCreate = parse_value(Value::Object(fields)).map_err(|err| match err {
        ApiError::Malformed(errors) | ApiError::Validation(errors) => errors,
        other => vec![FieldError::new("row", "invalid", other.to_string())],
    })?;
    let mut checks = Checks::default();
    let formula = is_formula(&body.full_name) || body.skills.iter().any(|s| is_formula(s));
    checks.ensure(
        !formula,
        if is_formula(&body.full_name) {
            "full_name"
        } else {
            "skills"
        },
        "formula",
        "a cell that starts with =, +, -, @ or a tab would run as a spreadsheet formula",
    );
    let model = new_person(community, body, now);
    check_person(&mut checks, &model);
    let errors = checks.into_errors();
    if errors.is_empty() {
        Ok((model, given))
    } else {
        Err(errors)
    }
}

/// `current` with the columns a row gives taken from `row`.
fn merged(current: &person::Model, row: &person::Model, given: &HashSet<String>) -> person::Model {
    let mut next = current.clone();
    let has = |column: &str| given.contains(column);
    if has("full_name") {
        next.full_name.clone_from(&row.full_name);
    }
    if has("email") {
        next.email.clone_from(&row.email);
    }
    if has("phone") {
        next.phone.clone_from(&row.phone);
    }
    if has("nationality") {
        next.nationality.clone_from(&row.nationality);
    }
    if has("locale") {
        next.locale.clone_from(&row.locale);
    }
    if has("time_zone") {
        next.time_zone.clone_from(&row.time_zone);
    }
    if has("birthday") {
        next.birthday = row.birthday;
        next.birthday_md.clone_from(&row.birthday_md);
    }
    if has("languages") {
        next.languages.clone_from(&row.languages);
    }
    if has("skills") {
        next.skills.clone_from(&row.skills);
    }
    if has("is_volunteer") {
        next.is_volunteer = row.is_volunteer;
    }
    if has("is_organizer") {
        next.is_organizer = row.is_organizer;
    }
    if has("moved_in_on") {
        next.moved_in_on = row.moved_in_on;
    }
    if has("moving_out_on") {
        next.moving_out_on = row.moving_out_on;
    }
    if has("notify_reminders") {
        next.notify_reminders = row.notify_reminders;
    }
    if has("notify_birthday") {
        next.notify_birthday = row.notify_birthday;
    }
    if has("notify_feedback") {
        next.notify_feedback = row.notify_feedback;
    }
    if has("notify_notices") {
        next.notify_notices = row.notify_notices;
    }
    if has("notify_surveys") {
        next.notify_surveys = row.notify_surveys;
    }
    next
}

/// What one chunk decided: the rows' results, and the writes they lead to.
#[derive(Default)]
struct Plan {
    results: Vec<RowResult>,
    creates: Vec<person::Model>,
    updates: Vec<person::Model>,
}

async fn plan_chunk(
    db: &impl ConnectionTrait,
    community: &community::Model,
    chunk: Vec<ReadRow>,
    seen: &mut HashMap<String, u32>,
    now: DateTime<Utc>,
) -> Result<Plan, ApiError> {
    let mut checked = Vec::with_capacity(chunk.len());
    let mut plan = Plan::default();
    let error = |row: u32, email: Option<String>, errors: Vec<FieldError>| RowResult {
        row,
        email,
        outcome: RowOutcome::Error,
        person_id: None,
        errors,
    };
    for (row, fields) in chunk {
        let email = fields
            .as_ref()
            .ok()
            .and_then(|f| f.get("email"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match fields
            .map_err(|e| vec![e])
            .and_then(|fields| check_row(community, fields, now))
        {
            Err(errors) => plan.results.push(error(row, email, errors)),
            Ok((model, given)) => {
                if let Some(first) = seen.insert(model.email_normalized.clone(), row) {
                    let message = format!("the same email as row {first}");
                    plan.results.push(error(
                        row,
                        email,
                        vec![FieldError::new("email", "duplicate", message)],
                    ));
                } else {
                    checked.push((row, model, given));
                }
            }
        }
    }
    let emails: Vec<String> = checked
        .iter()
        .map(|(_, m, _)| m.email_normalized.clone())
        .collect();
    let existing: HashMap<String, person::Model> = person::Entity::find()
        .filter(person::Column::CommunityId.eq(community.id))
        .filter(person::Column::EmailNormalized.is_in(emails))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.email_normalized.clone(), p))
        .collect();
    for (row, model, given) in checked {
        let email = Some(model.email.clone());
        let result = |outcome, id| RowResult {
            row,
            email: email.clone(),
            outcome,
            person_id: Some(id),
            errors: Vec::new(),
        };
        match existing.get(&model.email_normalized) {
            None => {
                plan.results.push(result(RowOutcome::Created, model.id));
                plan.creates.push(model);
            }
            Some(current) => {
                let next = merged(current, &model, &given);
                if next == *current {
                    plan.results.push(result(RowOutcome::Unchanged, current.id));
                } else {
                    plan.results.push(result(RowOutcome::Updated, current.id));
                    let mut next = next;
                    next.version = current.version + 1;
                    next.updated_at = now;
                    plan.updates.push(next);
                }
            }
        }
    }
    plan.results.sort_by_key(|r| r.row);
    Ok(plan)
}

async fn write_chunk(
    db: &impl ConnectionTrait,
    community: &community::Model,
    plan: Plan,
    mail: ImportMail,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if !plan.creates.is_empty() {
        let rows = plan
            .creates
            .iter()
            .cloned()
            .map(|p| p.into_active_model().reset_all());
        person::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    if mail == ImportMail::None {
        // A skipped welcome under its dedupe key: the planner never writes another.
        let skipped = plan
            .creates
            .iter()
            // Only where a welcome could still come (the window is at most a year).
            .filter(|p| {
                p.moved_in_on
                    .is_some_and(|day| day >= now.date_naive() - chrono::Days::new(366))
            })
            .map(|p| {
                let locale = mail_locale(&p.locale, &community.default_locale);
                notification::Model {
                    status: NotificationStatus::Skipped,
                    skip_reason: Some("imported with mail=none".to_owned()),
                    ..ledger_row(&welcome(p, now), locale, now)
                }
            })
            .collect();
        write_rows(db, skipped).await?;
    }
    for person in plan.updates {
        let id = person.id;
        let mut active = person.into_active_model().reset_all();
        active.id = sea_orm::ActiveValue::Unchanged(id);
        active.update(db).await?;
    }
    Ok(())
}

/// Imports `text` into `community`, reporting progress as rows are done. Each chunk is
/// one transaction; an atomic import checks the whole file first and then writes it
/// in one transaction, or not at all.
pub async fn import(
    db: &DatabaseConnection,
    community: &community::Model,
    text: &str,
    format: ImportFormat,
    options: ImportOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<ImportReport, ApiError> {
    let total = count_rows(text, format)?;
    let now = crate::time::now();
    let checking_first = options.atomic && !options.dry_run;
    let report = run(
        db,
        community,
        text,
        format,
        options,
        checking_first || options.dry_run,
        now,
        total,
        progress,
    )
    .await?;
    if !checking_first || report.totals.errors > 0 {
        return Ok(report);
    }
    // All rows are good: write them all, in one transaction.
    let txn = db.begin().await?;
    let mut seen = HashMap::new();
    let mut done = 0;
    let mut all = rows(text, format)?.peekable();
    while all.peek().is_some() {
        let chunk: Vec<ReadRow> = all.by_ref().take(CHUNK).collect();
        done += chunk.len();
        let plan = plan_chunk(&txn, community, chunk, &mut seen, now).await?;
        write_chunk(&txn, community, plan, options.mail, now).await?;
        if done % STATISTICS_EVERY < CHUNK {
            refresh_statistics(&txn).await?;
        }
    }
    txn.commit().await?;
    Ok(ImportReport {
        written: true,
        ..report
    })
}

/// Lets the database know how large `people` has grown: with the statistics of a
/// nearly empty table it looks people up by scanning the table, and a large import
/// slows to a crawl. Autovacuum (PostgreSQL) catches up only after the fact; SQLite's
/// `optimize` refreshes statistics only where a table's size changed much.
async fn refresh_statistics(db: &impl ConnectionTrait) -> Result<(), ApiError> {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => db.execute_unprepared("ANALYZE people").await?,
        _ => db.execute_unprepared("PRAGMA optimize").await?,
    };
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    db: &DatabaseConnection,
    community: &community::Model,
    text: &str,
    format: ImportFormat,
    options: ImportOptions,
    check_only: bool,
    now: DateTime<Utc>,
    total: usize,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<ImportReport, ApiError> {
    let mut seen = HashMap::new();
    let mut totals = ImportTotals::default();
    let mut results = Vec::with_capacity(total);
    let mut all = rows(text, format)?.peekable();
    while all.peek().is_some() {
        let chunk: Vec<ReadRow> = all.by_ref().take(CHUNK).collect();
        let plan = if check_only {
            plan_chunk(db, community, chunk, &mut seen, now).await?
        } else {
            let txn = crate::db::begin_write(db).await?;
            let plan = plan_chunk(&txn, community, chunk, &mut seen, now).await?;
            let results = plan.results.clone();
            write_chunk(&txn, community, plan, options.mail, now).await?;
            txn.commit().await?;
            Plan {
                results,
                ..Plan::default()
            }
        };
        for result in &plan.results {
            totals.count(result.outcome);
        }
        results.extend(plan.results);
        progress(results.len(), total);
        if !check_only && results.len() % STATISTICS_EVERY < CHUNK {
            refresh_statistics(db).await?;
        }
    }
    Ok(ImportReport {
        totals,
        rows: results,
        written: !check_only,
    })
}

/// The options an import was asked with.
pub fn options_of(stored: &import::Model) -> ImportOptions {
    ImportOptions {
        dry_run: stored.dry_run,
        atomic: stored.atomic,
        mail: stored.mail,
    }
}

/// Stores `text` as an import into `community` and queues its job.
pub async fn queue(
    state: &AppState,
    community: &community::Model,
    text: &str,
    format: ImportFormat,
    options: ImportOptions,
) -> Result<import::Model, ApiError> {
    // A file that cannot be read is refused now, not found out by the job.
    let total = count_rows(text, format)?;
    let stored = import::Model {
        id: Uuid::now_v7(),
        community_id: community.id,
        format,
        dry_run: options.dry_run,
        atomic: options.atomic,
        mail: options.mail,
        state: ImportState::Queued,
        rows_total: i32::try_from(total).unwrap_or(i32::MAX),
        rows_done: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        errors: 0,
        failure: None,
        created_at: crate::time::now(),
        started_at: None,
        finished_at: None,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let stored = stored.into_active_model().reset_all().insert(&txn).await?;
    import_file::Model {
        import_id: stored.id,
        content: text.to_owned(),
    }
    .into_active_model()
    .reset_all()
    .insert(&txn)
    .await?;
    txn.commit().await?;
    if let Err(err) = state
        .imports
        .push(vec![RunImport {
            import_id: stored.id,
        }])
        .await
    {
        // Left queued: the next `huashen serve` start queues it again.
        tracing::warn!(error = %err, "queueing an import failed");
    }
    Ok(stored)
}

/// What the `imports` queue runs: the stored import `id`. Running one again (a job
/// retried after a crash) is safe, since rows are matched by email.
pub fn runner(db: DatabaseConnection) -> ImportRunner {
    Arc::new(move |id| {
        let db = db.clone();
        Box::pin(async move { run_stored(&db, id).await })
    })
}

async fn run_stored(db: &DatabaseConnection, id: Uuid) -> anyhow::Result<()> {
    let Some(stored) = import::Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    let file = import_file::Entity::find_by_id(id).one(db).await?;
    let (Some(file), ImportState::Queued | ImportState::Running) = (file, stored.state) else {
        return Ok(());
    };
    let community = community::Entity::find_by_id(stored.community_id)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the community of import {id} is gone"))?;
    // Claim it: one process runs an import; one that died running it is taken over
    // once its claim is stale (rows are matched by email, so running again is safe).
    let now = crate::time::now();
    let claimed = import::Entity::update_many()
        .col_expr(import::Column::State, Expr::value(ImportState::Running))
        .col_expr(import::Column::StartedAt, Expr::value(now))
        .filter(import::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(import::Column::State.eq(ImportState::Queued))
                .add(import::Column::StartedAt.lt(now - STALE_CLAIM)),
        )
        .exec(db)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(());
    }

    // Progress is written by a ticker, so the import itself never waits for it.
    let done = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let (db, done) = (db.clone(), Arc::clone(&done));
        async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let rows = i32::try_from(done.load(Ordering::Relaxed)).unwrap_or(i32::MAX);
                let _ = import::Entity::update_many()
                    .col_expr(import::Column::RowsDone, Expr::value(rows))
                    .filter(import::Column::Id.eq(id))
                    .exec(&db)
                    .await;
            }
        }
    });
    let mut progress = |rows: usize, _total: usize| done.store(rows, Ordering::Relaxed);
    let outcome = import(
        db,
        &community,
        &file.content,
        stored.format,
        options_of(&stored),
        &mut progress,
    )
    .await;
    ticker.abort();
    let mut active = stored.into_active_model();
    active.finished_at = Set(Some(crate::time::now()));
    match outcome {
        Ok(report) => {
            import_row::Entity::delete_many()
                .filter(import_row::Column::ImportId.eq(id))
                .exec(db)
                .await?;
            for chunk in report.rows.chunks(CHUNK) {
                let rows = chunk.iter().map(|r| {
                    import_row::Model {
                        import_id: id,
                        row: i32::try_from(r.row).unwrap_or(i32::MAX),
                        outcome: r.outcome,
                        email: r.email.clone(),
                        person_id: r.person_id,
                        errors: serde_json::to_string(
                            &r.errors
                                .iter()
                                .map(poem_openapi::types::ToJSON::to_json)
                                .collect::<Vec<_>>(),
                        )
                        .unwrap_or_else(|_| "[]".to_owned()),
                    }
                    .into_active_model()
                    .reset_all()
                });
                import_row::Entity::insert_many(rows)
                    .exec_without_returning(db)
                    .await?;
            }
            let t = report.totals;
            let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
            active.state = Set(ImportState::Done);
            active.rows_done = Set(count(t.rows));
            active.created = Set(count(t.created));
            active.updated = Set(count(t.updated));
            active.unchanged = Set(count(t.unchanged));
            active.errors = Set(count(t.errors));
        }
        Err(err) => {
            active.state = Set(ImportState::Failed);
            active.failure = Set(Some(err.to_string()));
        }
    }
    active.update(db).await?;
    import_file::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Queues again every import still waiting, as a process that runs the `imports`
/// queue starts: a job lost with a crash is not lost for good.
pub async fn requeue_waiting(state: &AppState) -> anyhow::Result<()> {
    let waiting: Vec<Uuid> = import::Entity::find()
        .filter(import::Column::State.is_in([ImportState::Queued, ImportState::Running]))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    if !waiting.is_empty() {
        state
            .imports
            .push(
                waiting
                    .into_iter()
                    .map(|import_id| RunImport { import_id })
                    .collect(),
            )
            .await?;
    }
    Ok(())
}
