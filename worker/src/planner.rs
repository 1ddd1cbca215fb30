//! The planner: turns due facts into rows of the notification ledger.
//!
//! Each row has a unique dedupe key, so planning the same fact again is a no-op and a
//! restarted worker simply plans again. Every query is bounded by an indexed column
//! (creation time, start or end time, birthday month-day, moving-out date,
//! cancellation or promotion time); no query walks every person.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use entities::enums::{
    CancelReason, EventStatus, NotificationStatus, RegistrationStatus, ShiftStatus, SignupStatus,
    SubjectType,
};
use entities::{
    care_plan, community, event, event_registration, notification, person, shift, shift_signup,
};
use migration::database::write_turn;
use sea_orm::sea_query::{Expr, OnConflict, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::format::zone;
use crate::kinds::{MailKind, grace};
use crate::locale::mail_locale;

/// A mail that has fallen due.
#[derive(Clone, Debug)]
pub struct Due {
    pub kind: MailKind,
    pub community_id: Uuid,
    pub recipient: Uuid,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    pub dedupe_key: String,
    pub due_at: DateTime<Utc>,
}

/// How far back the planner looks for facts it may have missed while stopped.
pub const CATCH_UP: i64 = 2;
/// Birthday cards and farewells go out at this local hour.
pub const MORNING_MAIL_HOUR: u32 = 9;
/// The organizer digest goes out at this local hour.
pub const DIGEST_HOUR: u32 = 8;

/// What the planner needs to know beyond the database.
#[derive(Clone, Copy, Debug)]
pub struct PlanSettings {
    /// How long after an event ends its feedback requests go out.
    pub feedback_delay: Duration,
    /// How long after the moving-in day a welcome letter is still sent.
    pub welcome_within: Duration,
    /// Notice mails per minute.
    pub notice_rate: u32,
}

/// Plans every kind of mail due at `now`; returns how many new ledger rows it wrote.
pub async fn plan(
    db: &DatabaseConnection,
    settings: PlanSettings,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    plan_waking(db, settings, now, None).await
}

/// `plan`, notifying `sender` whenever a page of rows is written, so that a sender
/// waiting on it sends the first pages while the rest are still being planned.
pub async fn plan_waking(
    db: &DatabaseConnection,
    settings: PlanSettings,
    now: DateTime<Utc>,
    sender: Option<&Notify>,
) -> Result<usize, DbErr> {
    let started = std::time::Instant::now();
    let planned = plan_all(db, settings, now, sender).await;
    metrics::histogram!("huashen_planner_duration_seconds").record(started.elapsed().as_secs_f64());
    planned
}

async fn plan_all(
    db: &DatabaseConnection,
    settings: PlanSettings,
    now: DateTime<Utc>,
    sender: Option<&Notify>,
) -> Result<usize, DbErr> {
    let communities: HashMap<Uuid, community::Model> = community::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut ledger = Ledger {
        db,
        communities: &communities,
        now,
        sender,
        written: 0,
    };
    welcomes(&mut ledger, settings).await?;
    birthdays(&mut ledger).await?;
    farewells(&mut ledger).await?;
    ledger
        .write(shift_reminders(db, &communities, now).await?)
        .await?;
    ledger
        .write(event_reminders(db, &communities, now).await?)
        .await?;
    ledger
        .write(feedback_requests(db, settings, now).await?)
        .await?;
    ledger.write(promotions(db, now).await?).await?;
    ledger.write(cancellations(db, now).await?).await?;
    ledger
        .write(care_reminders(db, &communities, now).await?)
        .await?;
    ledger.write(digests(db, &communities, now).await?).await?;
    let bulk = crate::notices::plan(db, settings.notice_rate, now).await?
        + crate::surveys::plan(db, settings.notice_rate, now).await?;
    Ok(ledger.written as usize + bulk)
}

/// Rows the planner reads and writes at a time: memory stays bounded however much is
/// due, and a page is one statement.
const PAGE: usize = 500;

/// Where the planner writes: each due mail in its reader's locale, a page at a time.
struct Ledger<'a> {
    db: &'a DatabaseConnection,
    communities: &'a HashMap<Uuid, community::Model>,
    now: DateTime<Utc>,
    /// Told whenever new rows are written.
    sender: Option<&'a Notify>,
    /// New rows written so far.
    written: u64,
}

impl<'a> Ledger<'a> {
    /// The language `person` reads their mail in.
    fn locale<'p>(&self, person_locale: &'p str, community: Uuid) -> &'p str
    where
        'a: 'p,
    {
        let default = self
            .communities
            .get(&community)
            .map_or("en", |c| c.default_locale.as_str());
        mail_locale(person_locale, default)
    }

    /// Writes a row for each of `due` whose dedupe key is new; a recipient who no longer
    /// exists gets none.
    async fn write(&mut self, due: Vec<Due>) -> Result<(), DbErr> {
        for page in due.chunks(PAGE) {
            let readers: HashMap<Uuid, (String, Uuid)> = person::Entity::find()
                .select_only()
                .columns([
                    person::Column::Id,
                    person::Column::Locale,
                    person::Column::CommunityId,
                ])
                .filter(person::Column::Id.is_in(page.iter().map(|d| d.recipient)))
                .into_tuple()
                .all(self.db)
                .await?
                .into_iter()
                .map(|(id, locale, community)| (id, (locale, community)))
                .collect();
            let rows = page
                .iter()
                .filter_map(|d| {
                    let (locale, community) = readers.get(&d.recipient)?;
                    Some(ledger_row(d, self.locale(locale, *community), self.now))
                })
                .collect();
            self.write_page(rows).await?;
        }
        Ok(())
    }

    /// Writes the rows of one page and tells the sender if any are new.
    async fn write_page(&mut self, rows: Vec<notification::Model>) -> Result<(), DbErr> {
        // In line with the sender's claims and marks, which it would otherwise make sleep.
        let turn = write_turn(self.db).await;
        let written = write_rows(self.db, rows).await?;
        drop(turn);
        self.written += written;
        if let Some(sender) = self.sender.filter(|_| written > 0) {
            sender.notify_one();
        }
        Ok(())
    }

    /// Goes through the people matching `filter` a page at a time, in id order, and
    /// writes what `due` makes of each page.
    async fn for_people(
        &mut self,
        filter: Condition,
        due: impl Fn(&person::Model) -> Option<Due>,
    ) -> Result<(), DbErr> {
        let mut after = None;
        loop {
            let mut page = person::Entity::find().filter(filter.clone());
            if let Some(last) = after {
                page = page.filter(person::Column::Id.gt(last));
            }
            let people = page
                .order_by_asc(person::Column::Id)
                .limit(PAGE as u64)
                .all(self.db)
                .await?;
            let Some(last) = people.last() else {
                return Ok(());
            };
            after = Some(last.id);
            let full = people.len() == PAGE;
            let rows = people
                .iter()
                .filter_map(|p| {
                    let due = due(p)?;
                    Some(ledger_row(
                        &due,
                        self.locale(&p.locale, p.community_id),
                        self.now,
                    ))
                })
                .collect();
            self.write_page(rows).await?;
            if !full {
                return Ok(());
            }
        }
    }
}

/// Writes `rows` in statements of a few hundred, leaving out any whose dedupe key
/// exists; returns how many it wrote.
pub async fn write_rows(
    db: &impl ConnectionTrait,
    rows: Vec<notification::Model>,
) -> Result<u64, DbErr> {
    let mut written = 0;
    for page in rows.chunks(PAGE) {
        written += notification::Entity::insert_many(
            page.iter()
                .map(|row| row.clone().into_active_model().reset_all()),
        )
        .on_conflict(
            OnConflict::column(notification::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(written)
}

/// The queued ledger row for `due`, read in `locale`.
pub fn ledger_row(due: &Due, locale: &str, now: DateTime<Utc>) -> notification::Model {
    notification::Model {
        id: Uuid::now_v7(),
        community_id: due.community_id,
        kind: due.kind,
        recipient_id: Some(due.recipient),
        subject_type: due.subject_type,
        subject_id: due.subject_id,
        dedupe_key: due.dedupe_key.clone(),
        locale: locale.to_owned(),
        status: NotificationStatus::Queued,
        due_at: due.due_at,
        attempts: 0,
        last_error: None,
        skip_reason: None,
        sent_at: None,
        locked_until: None,
        created_at: now,
        updated_at: now,
    }
}

/// The welcome letter of `person`, due at `due_at`; one per person.
pub fn welcome(person: &person::Model, due_at: DateTime<Utc>) -> Due {
    to_person(
        person,
        MailKind::Welcome,
        format!("welcome:{}", person.id),
        due_at,
    )
}

/// A mail of `kind` to `person` about themselves.
fn to_person(
    person: &person::Model,
    kind: MailKind,
    dedupe_key: String,
    due_at: DateTime<Utc>,
) -> Due {
    Due {
        kind,
        community_id: person.community_id,
        recipient: person.id,
        subject_type: SubjectType::Person,
        subject_id: person.id,
        dedupe_key,
        due_at,
    }
}

/// Writes a ledger row unless one with the same dedupe key exists; returns its id if
/// it wrote one. The api calls it too, inside the transaction of the change the mail
/// is about, for mail that goes out at once.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    due: &Due,
    locale: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    let row = ledger_row(due, locale, now);
    let id = row.id;
    Ok((write_rows(db, vec![row]).await? == 1).then_some(id))
}

fn lead(communities: &HashMap<Uuid, community::Model>, community_id: Uuid) -> Duration {
    Duration::minutes(
        communities
            .get(&community_id)
            .map_or(24 * 60, |c| c.reminder_lead_minutes)
            .into(),
    )
}

fn longest_lead(communities: &HashMap<Uuid, community::Model>) -> Duration {
    Duration::minutes(
        communities
            .values()
            .map(|c| c.reminder_lead_minutes)
            .max()
            .unwrap_or(24 * 60)
            .into(),
    )
}

/// A welcome letter at 09:00 on the day a person moves in, in their own time zone, or
/// when they are added within `welcome_within` of that day; none for an older (or no)
/// moving-in day, none once they have moved out. Bounded by the moving-in date.
async fn welcomes(ledger: &mut Ledger<'_>, settings: PlanSettings) -> Result<(), DbErr> {
    let now = ledger.now;
    let days = todays_dates(now);
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(());
    };
    for day in (*first - settings.welcome_within)
        .iter_days()
        .take_while(|day| day <= last)
    {
        let arrived = Condition::all()
            .add(person::Column::MovedInOn.eq(day))
            .add(person::Column::ErasedAt.is_null())
            .add(not_welcomed());
        ledger
            .for_people(arrived, |p| welcome_due(p, settings, now))
            .await?;
    }
    Ok(())
}

/// A person with no welcome letter in the ledger yet: the people who moved in within
/// the last days are walked every planning run, and those welcomed need not be read again.
fn not_welcomed() -> SimpleExpr {
    use sea_orm::sea_query::ExprTrait as _;
    let welcome = Query::select()
        .expr(Expr::val(1))
        .from(notification::Entity)
        .and_where(
            Expr::col((notification::Entity, notification::Column::RecipientId))
                .equals((person::Entity, person::Column::Id)),
        )
        .and_where(notification::Column::Kind.eq(MailKind::Welcome))
        .to_owned();
    Expr::exists(welcome).not()
}

/// The welcome letter `p` is due at `now`, if any.
fn welcome_due(p: &person::Model, settings: PlanSettings, now: DateTime<Utc>) -> Option<Due> {
    let zone = zone(&p.time_zone);
    let today = now.with_timezone(&zone).date_naive();
    let moved_in = p.moved_in_on?;
    let arrival = local_instant(moved_in, MORNING_MAIL_HOUR, zone);
    if arrival > now
        || now > arrival + settings.welcome_within
        || p.moving_out_on.is_some_and(|out| out <= today)
    {
        return None;
    }
    // Someone added days after moving in is welcomed from then on.
    Some(welcome(p, arrival.max(p.created_at)))
}

/// Reminders for confirmed volunteers once a shift is within its community's lead.
/// Someone who signs up inside the lead gets theirs at once.
async fn shift_reminders(
    db: &DatabaseConnection,
    communities: &HashMap<Uuid, community::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Due>, DbErr> {
    let rows = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift_signup::Column::Status.eq(SignupStatus::Confirmed))
        .filter(shift::Column::Status.eq(ShiftStatus::Scheduled))
        .filter(shift::Column::StartsAt.gt(now))
        .filter(shift::Column::StartsAt.lte(now + longest_lead(communities)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(signup, shift)| {
            let shift = shift?;
            let due_at = shift.starts_at - lead(communities, shift.community_id);
            (due_at <= now).then(|| Due {
                kind: MailKind::ShiftReminder,
                community_id: shift.community_id,
                recipient: signup.person_id,
                subject_type: SubjectType::ShiftSignup,
                subject_id: signup.id,
                dedupe_key: format!("shift_reminder:{}", signup.id),
                due_at: due_at.max(signup.updated_at).min(now),
            })
        })
        .collect())
}

/// Reminders for registered residents once an event is within its community's lead.
async fn event_reminders(
    db: &DatabaseConnection,
    communities: &HashMap<Uuid, community::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Due>, DbErr> {
    let rows = event_registration::Entity::find()
        .find_also_related(event::Entity)
        .filter(event_registration::Column::Status.eq(RegistrationStatus::Registered))
        .filter(event::Column::Status.eq(EventStatus::Published))
        .filter(event::Column::StartsAt.gt(now))
        .filter(event::Column::StartsAt.lte(now + longest_lead(communities)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(registration, event)| {
            let event = event?;
            let due_at = event.starts_at - lead(communities, event.community_id);
            (due_at <= now).then(|| Due {
                kind: MailKind::EventReminder,
                community_id: event.community_id,
                recipient: registration.person_id,
                subject_type: SubjectType::EventRegistration,
                subject_id: registration.id,
                dedupe_key: format!("event_reminder:{}", registration.id),
                due_at: due_at.max(registration.updated_at).min(now),
            })
        })
        .collect())
}

/// Every calendar date that is "today" somewhere on Earth at `now`.
fn todays_dates(now: DateTime<Utc>) -> BTreeSet<NaiveDate> {
    [-12, 0, 14]
        .iter()
        .map(|hours| (now + Duration::hours(*hours)).date_naive())
        .collect()
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

/// Whether `birthday` is celebrated on `day`: 29 February falls on 28 February in
/// other years.
pub fn is_birthday(birthday: NaiveDate, day: NaiveDate) -> bool {
    let same = birthday.month() == day.month() && birthday.day() == day.day();
    let leapling = birthday.month() == 2
        && birthday.day() == 29
        && day.month() == 2
        && day.day() == 28
        && !is_leap(day.year());
    same || leapling
}

/// `hour`:00 on `day` in `zone`, as an instant; on a day when that hour does not exist
/// (a DST jump), the first instant after the gap.
pub fn local_instant(day: NaiveDate, hour: u32, zone: chrono_tz::Tz) -> DateTime<Utc> {
    let wanted = day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default());
    (0..=3)
        .find_map(|later| {
            zone.from_local_datetime(&(wanted + Duration::hours(later)))
                .earliest()
        })
        .map_or_else(|| Utc.from_utc_datetime(&wanted), |t| t.with_timezone(&Utc))
}

/// Birthday cards at 09:00 on the person's birthday, in their own time zone.
async fn birthdays(ledger: &mut Ledger<'_>) -> Result<(), DbErr> {
    let now = ledger.now;
    let mut month_days = BTreeSet::new();
    for day in todays_dates(now) {
        month_days.insert(format!("{:02}-{:02}", day.month(), day.day()));
        if day.month() == 2 && day.day() == 28 && !is_leap(day.year()) {
            month_days.insert("02-29".to_owned());
        }
    }
    for month_day in month_days {
        let born = Condition::all().add(person::Column::BirthdayMd.eq(month_day));
        ledger.for_people(born, |p| birthday_due(p, now)).await?;
    }
    Ok(())
}

/// The birthday card `p` is due at `now`, if any.
fn birthday_due(p: &person::Model, now: DateTime<Utc>) -> Option<Due> {
    let zone = zone(&p.time_zone);
    let today = now.with_timezone(&zone).date_naive();
    if !is_birthday(p.birthday?, today) || p.moving_out_on.is_some_and(|out| out < today) {
        return None;
    }
    let due_at = local_instant(today, MORNING_MAIL_HOUR, zone);
    (due_at <= now).then(|| {
        let dedupe_key = format!("birthday:{}:{}", p.id, today.year());
        to_person(p, MailKind::Birthday, dedupe_key, due_at)
    })
}

/// A farewell at 09:00 on the day a person moves out, in their time zone.
async fn farewells(ledger: &mut Ledger<'_>) -> Result<(), DbErr> {
    let now = ledger.now;
    for day in todays_dates(now) {
        let leaving = Condition::all().add(person::Column::MovingOutOn.eq(day));
        ledger.for_people(leaving, |p| farewell_due(p, now)).await?;
    }
    Ok(())
}

/// The farewell `p` is due at `now`, if any.
fn farewell_due(p: &person::Model, now: DateTime<Utc>) -> Option<Due> {
    let zone = zone(&p.time_zone);
    let today = now.with_timezone(&zone).date_naive();
    if p.moving_out_on != Some(today) {
        return None;
    }
    let due_at = local_instant(today, MORNING_MAIL_HOUR, zone);
    (due_at <= now).then(|| to_person(p, MailKind::Farewell, format!("farewell:{}", p.id), due_at))
}

/// Feedback requests to those who checked in, `feedback_delay` after the event ended.
async fn feedback_requests(
    db: &DatabaseConnection,
    settings: PlanSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Due>, DbErr> {
    let ended_by = now - settings.feedback_delay;
    let rows = event_registration::Entity::find()
        .find_also_related(event::Entity)
        .filter(event_registration::Column::Status.eq(RegistrationStatus::CheckedIn))
        .filter(event::Column::Status.is_in([EventStatus::Published, EventStatus::Completed]))
        .filter(event::Column::EndsAt.lte(ended_by))
        .filter(event::Column::EndsAt.gt(ended_by - grace(MailKind::FeedbackRequest)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(registration, event)| {
            let event = event?;
            Some(Due {
                kind: MailKind::FeedbackRequest,
                community_id: event.community_id,
                recipient: registration.person_id,
                subject_type: SubjectType::EventRegistration,
                subject_id: registration.id,
                dedupe_key: format!("feedback_request:{}", registration.id),
                due_at: event.ends_at + settings.feedback_delay,
            })
        })
        .collect())
}

/// Notices to those who moved up from a waitlist.
async fn promotions(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Due>, DbErr> {
    let since = now - Duration::days(CATCH_UP);
    let signups = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift_signup::Column::PromotedAt.gte(since))
        .filter(shift_signup::Column::Status.eq(SignupStatus::Confirmed))
        .all(db)
        .await?;
    let registrations = event_registration::Entity::find()
        .find_also_related(event::Entity)
        .filter(event_registration::Column::PromotedAt.gte(since))
        .filter(event_registration::Column::Status.eq(RegistrationStatus::Registered))
        .all(db)
        .await?;
    let shifts = signups.into_iter().filter_map(|(s, shift)| {
        let (shift, promoted_at) = (shift?, s.promoted_at?);
        Some(Due {
            kind: MailKind::WaitlistPromoted,
            community_id: shift.community_id,
            recipient: s.person_id,
            subject_type: SubjectType::ShiftSignup,
            subject_id: s.id,
            dedupe_key: format!("waitlist_promoted:{}:{}", s.id, promoted_at.timestamp()),
            due_at: promoted_at,
        })
    });
    let events = registrations.into_iter().filter_map(|(r, event)| {
        let (event, promoted_at) = (event?, r.promoted_at?);
        Some(Due {
            kind: MailKind::WaitlistPromoted,
            community_id: event.community_id,
            recipient: r.person_id,
            subject_type: SubjectType::EventRegistration,
            subject_id: r.id,
            dedupe_key: format!("waitlist_promoted:{}:{}", r.id, promoted_at.timestamp()),
            due_at: promoted_at,
        })
    });
    Ok(shifts.chain(events).collect())
}

/// Notices to everyone who held or awaited a place on a cancelled shift or event.
async fn cancellations(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Due>, DbErr> {
    let since = now - Duration::days(CATCH_UP);
    let signups = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift::Column::CancelledAt.gte(since))
        .filter(shift_signup::Column::CancelReason.eq(CancelReason::ShiftCancelled))
        .all(db)
        .await?;
    let registrations = event_registration::Entity::find()
        .find_also_related(event::Entity)
        .filter(event::Column::CancelledAt.gte(since))
        .filter(event_registration::Column::CancelReason.eq(CancelReason::EventCancelled))
        .all(db)
        .await?;
    let shifts = signups.into_iter().filter_map(|(s, shift)| {
        let shift = shift?;
        Some(Due {
            kind: MailKind::ShiftCancelled,
            community_id: shift.community_id,
            recipient: s.person_id,
            subject_type: SubjectType::ShiftSignup,
            subject_id: s.id,
            dedupe_key: format!("shift_cancelled:{}", s.id),
            due_at: shift.cancelled_at?,
        })
    });
    let events = registrations.into_iter().filter_map(|(r, event)| {
        let event = event?;
        Some(Due {
            kind: MailKind::EventCancelled,
            community_id: event.community_id,
            recipient: r.person_id,
            subject_type: SubjectType::EventRegistration,
            subject_id: r.id,
            dedupe_key: format!("event_cancelled:{}", r.id),
            due_at: event.cancelled_at?,
        })
    });
    Ok(shifts.chain(events).collect())
}

/// Reminders to whoever is assigned a care call or visit, at 09:00 in their own time
/// zone on the due day; once per due day.
async fn care_reminders(
    db: &DatabaseConnection,
    communities: &HashMap<Uuid, community::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Due>, DbErr> {
    let latest_today = todays_dates(now)
        .into_iter()
        .max()
        .unwrap_or(now.date_naive());
    let plans = care_plan::Entity::find()
        .filter(care_plan::Column::EndedAt.is_null())
        .filter(care_plan::Column::NextDueOn.lte(latest_today))
        .filter(
            care_plan::Column::NextDueOn
                .gte(latest_today - grace(MailKind::CareDue) - Duration::days(1)),
        )
        .all(db)
        .await?;
    let assignees: HashMap<Uuid, String> = person::Entity::find()
        .filter(person::Column::Id.is_in(plans.iter().map(|p| p.assignee_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.time_zone))
        .collect();
    Ok(plans
        .into_iter()
        .filter_map(|plan| {
            let zone_name = assignees
                .get(&plan.assignee_id)
                .or(communities.get(&plan.community_id).map(|c| &c.time_zone))?;
            let due_at = local_instant(plan.next_due_on, MORNING_MAIL_HOUR, zone(zone_name));
            (due_at <= now).then(|| Due {
                kind: MailKind::CareDue,
                community_id: plan.community_id,
                recipient: plan.assignee_id,
                subject_type: SubjectType::CarePlan,
                subject_id: plan.id,
                dedupe_key: format!("care_due:{}:{}", plan.id, plan.next_due_on),
                due_at,
            })
        })
        .collect())
}

/// The organizer digest at 08:00 community time, to each organizer of the community.
async fn digests(
    db: &DatabaseConnection,
    communities: &HashMap<Uuid, community::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Due>, DbErr> {
    let mut due = Vec::new();
    for community in communities.values() {
        let zone = zone(&community.time_zone);
        let today = now.with_timezone(&zone).date_naive();
        let due_at = local_instant(today, DIGEST_HOUR, zone);
        if now < due_at || now > due_at + grace(MailKind::Digest) {
            continue;
        }
        let organizers = person::Entity::find()
            .filter(person::Column::CommunityId.eq(community.id))
            .filter(person::Column::IsOrganizer.eq(true))
            .all(db)
            .await?;
        due.extend(organizers.into_iter().map(|p| Due {
            kind: MailKind::Digest,
            community_id: community.id,
            recipient: p.id,
            subject_type: SubjectType::Community,
            subject_id: community.id,
            dedupe_key: format!("digest:{}:{today}", p.id),
            due_at,
        }));
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_day_birthdays() {
        let leapling = NaiveDate::from_ymd_opt(1992, 2, 29).unwrap();
        assert!(is_birthday(
            leapling,
            NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()
        ));
        assert!(!is_birthday(
            leapling,
            NaiveDate::from_ymd_opt(2028, 2, 28).unwrap()
        ));
        assert!(is_birthday(
            leapling,
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        ));
        assert!(!is_birthday(
            leapling,
            NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()
        ));
    }

    #[test]
    fn nine_in_the_morning_local() {
        let day = NaiveDate::from_ymd_opt(2027, 3, 14).unwrap();
        let shanghai = local_instant(day, 9, zone("Asia/Shanghai"));
        assert_eq!(
            shanghai,
            Utc.with_ymd_and_hms(2027, 3, 14, 1, 0, 0).unwrap()
        );
        // New York springs forward that very day at 02:00; 09:00 is EDT (UTC-4).
        let new_york = local_instant(day, 9, zone("America/New_York"));
        assert_eq!(
            new_york,
            Utc.with_ymd_and_hms(2027, 3, 14, 13, 0, 0).unwrap()
        );
        // 02:00 does not exist in New York that day: the first instant after the gap.
        let gap = local_instant(day, 2, zone("America/New_York"));
        assert_eq!(gap, Utc.with_ymd_and_hms(2027, 3, 14, 7, 0, 0).unwrap());
    }
}
