//! The planner over a city's worth of people: `huashen-worker plan` over `people`
//! residents (birthdays spread over the year, arrivals over thirty years, a few moving
//! out, ten organizers due their digest), beside the shifts, events and care plans
//! `seed_due_soon` made due. It runs
//! twice: once when all that is due today is new, once more when it is all planned
//! already, as every later minute's run finds it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, Days, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use entities::community;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::peak_rss_mb;

/// One `huashen-worker plan`.
pub struct Planned {
    /// Ledger rows it wrote.
    pub rows: u64,
    /// Its own measure of the planning, in ms (without starting up and connecting).
    pub millis: f64,
    pub peak_rss_mb: f64,
}

/// What the planner did over one database.
pub struct Planner {
    pub db: &'static str,
    pub people: usize,
    pub first: Planned,
    pub again: Planned,
}

/// Zones no more than three hours apart all round the world: at any moment one of them
/// is in its morning (the organizers' digest is due from 08:00 for four hours) and one
/// in its daytime (birthday cards are due from 09:00).
const ZONES: [chrono_tz::Tz; 11] = [
    chrono_tz::Pacific::Honolulu,
    chrono_tz::America::Los_Angeles,
    chrono_tz::America::New_York,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Europe::London,
    chrono_tz::Europe::Berlin,
    chrono_tz::Europe::Moscow,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Asia::Shanghai,
    chrono_tz::Australia::Sydney,
    chrono_tz::Pacific::Auckland,
];

/// The first of `ZONES` where the local hour now is within `hours`.
fn zone_at(now: DateTime<Utc>, hours: std::ops::RangeInclusive<u32>) -> anyhow::Result<Tz> {
    ZONES
        .into_iter()
        .find(|zone| hours.contains(&now.with_timezone(zone).hour()))
        .with_context(|| format!("a zone at {hours:?} o'clock"))
}

/// Adds `people` residents of `community`, numbered from `first`, all in a zone where it
/// is past ten in the morning, ten of them organizers; moves the community to a zone
/// where it is digest time; and runs the planner over them twice.
pub async fn measure(
    db: &DatabaseConnection,
    database_url: &str,
    worker: &Path,
    community: Uuid,
    first: usize,
    people: usize,
    kind: &'static str,
) -> anyhow::Result<Planner> {
    let now = Utc::now();
    let zone = zone_at(now, 10..=22)?;
    let today = now.with_timezone(&zone).date_naive();
    let leap_year = NaiveDate::from_ymd_opt(1980, 1, 1).context("1 January 1980")?;
    huashen_tests::insert_residents(db, community, first..first + people, |n, person| {
        let birthday = leap_year + Days::new((n % 366) as u64);
        person.time_zone = zone.name().to_owned();
        person.birthday = Some(birthday);
        person.birthday_md = Some(format!("{:02}-{:02}", birthday.month(), birthday.day()));
        person.moved_in_on = Some(today - Days::new((n % (30 * 365)) as u64));
        person.moving_out_on = (n % 1000 == 0).then(|| today + Days::new((n / 1000 % 30) as u64));
        person.is_organizer = n % (people / 10).max(1) == 0;
    })
    .await?;
    community::Entity::update_many()
        .col_expr(
            community::Column::TimeZone,
            Expr::value(zone_at(now, 8..=11)?.name()),
        )
        .filter(community::Column::Id.eq(community))
        .exec(db)
        .await?;
    let first = plan(worker, database_url)?;
    let again = plan(worker, database_url)?;
    Ok(Planner {
        db: kind,
        people,
        first,
        again,
    })
}

/// Runs `huashen-worker plan` to its end.
fn plan(worker: &Path, database_url: &str) -> anyhow::Result<Planned> {
    let mut child = Command::new(worker)
        .arg("plan")
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", worker.display()))?;
    // The high-water mark, read until the process is gone: it only grows.
    let mut peak: f64 = 0.0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak = peak.max(peak_rss_mb(child.id()).unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut printed = String::new();
    std::io::Read::read_to_string(
        &mut child.stdout.take().context("the planner's output")?,
        &mut printed,
    )?;
    if !status.success() {
        bail!("the planner failed ({status}): {printed}");
    }
    // "planned N in X ms"
    let words: Vec<&str> = printed.split_whitespace().collect();
    let (Some(rows), Some(millis)) = (
        words.get(1).and_then(|w| w.parse().ok()),
        words.get(3).and_then(|w| w.parse().ok()),
    ) else {
        bail!("unexpected planner output: {printed}");
    };
    Ok(Planned {
        rows,
        millis,
        peak_rss_mb: peak,
    })
}
