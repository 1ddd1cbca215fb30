//! Mail to many at once (notices, survey invitations and reminders) goes out at one
//! rate, `HUASHEN_NOTICE_RATE` a minute: its ledger rows are written with due times
//! spaced at that rate, after any such mail still queued, so thousands of residents do
//! not trip the SMTP server and the rate holds however many workers send.

use chrono::{DateTime, Duration, Utc};
use entities::enums::NotificationStatus;
use entities::notification;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::kinds::MailKind;
use crate::planner::{Due, ledger_row, write_rows};

/// Bulk mails per minute unless `HUASHEN_NOTICE_RATE` says otherwise.
pub const DEFAULT_RATE: u32 = 120;

/// The kinds that share the rate.
pub const KINDS: [MailKind; 3] = [
    MailKind::Notice,
    MailKind::SurveyInvitation,
    MailKind::SurveyReminder,
];

/// The time between two bulk mails.
pub fn interval(per_minute: u32) -> Duration {
    Duration::microseconds(60_000_000 / i64::from(std::cmp::max(per_minute, 1)))
}

/// Writes the ledger rows of `mails` (each with its reader's locale), the first due at
/// `now` or after the last bulk mail still queued, the rest one interval apart; rows
/// whose dedupe key exists are left out. Returns how many were written.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    mails: Vec<(Due, String)>,
    per_minute: u32,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let tail: Option<DateTime<Utc>> = notification::Entity::find()
        .select_only()
        .expr(notification::Column::DueAt.max())
        .filter(notification::Column::Kind.is_in(KINDS))
        .filter(notification::Column::Status.eq(NotificationStatus::Queued))
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    let step = interval(per_minute);
    let first = tail.map_or(now, |tail| std::cmp::max(tail + step, now));
    let rows = mails
        .into_iter()
        .enumerate()
        .map(|(i, (mut due, locale))| {
            due.due_at = first + step * i as i32;
            ledger_row(&due, &locale, now)
        })
        .collect();
    write_rows(db, rows).await
}
