//! Recurring shifts: expanding an RFC 5545 RRULE into shifts at a local time of day.
//!
//! The rule is anchored with `DTSTART;TZID=<station zone>`, so an English Corner at
//! 19:00 stays at 19:00 local time when the clocks change. A series reaches at most a
//! year ahead.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use entities::enums::ShiftStatus;
use entities::json::TagList;
use entities::{shift, shift_series, station};
use rrule::RRuleSet;
use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel};
use uuid::Uuid;

/// The furthest a series may reach, from its first day.
pub const HORIZON_DAYS: i64 = 366;

/// When one shift of a series starts and ends.
pub type Occurrence = (DateTime<Utc>, DateTime<Utc>);

/// Why a series cannot be expanded.
#[derive(Debug, PartialEq, Eq)]
pub enum SeriesError {
    Rule(String),
    TooFar,
}

/// The start and end instants of each occurrence of `rule` from `starts_on` at
/// `start_time` in `zone`, up to `until` (a local date, inclusive) or `count`
/// occurrences, and never past a year.
pub fn occurrences(
    rule: &str,
    zone: chrono_tz::Tz,
    starts_on: NaiveDate,
    start_time: NaiveTime,
    duration: Duration,
    until: Option<NaiveDate>,
    count: Option<u16>,
) -> Result<Vec<Occurrence>, SeriesError> {
    let upper = rule.to_ascii_uppercase();
    if ["DTSTART", "UNTIL", "COUNT", "\\n", "\n", "RRULE:"]
        .iter()
        .any(|part| upper.contains(part))
    {
        return Err(SeriesError::Rule(
            "give only the rule's parts (e.g. FREQ=WEEKLY;BYDAY=WE); the first day, `until` and `count` are fields of their own".to_owned(),
        ));
    }
    let horizon = starts_on + Duration::days(HORIZON_DAYS);
    if until.is_some_and(|until| until >= horizon) {
        return Err(SeriesError::TooFar);
    }
    let last_day = until.unwrap_or(horizon - Duration::days(1));
    let text = format!(
        "DTSTART;TZID={}:{}\nRRULE:{rule}",
        zone.name(),
        starts_on.and_time(start_time).format("%Y%m%dT%H%M%S"),
    );
    let set: RRuleSet = text
        .parse()
        .map_err(|e: rrule::RRuleError| SeriesError::Rule(e.to_string()))?;
    // Everything before the local midnight after the last day.
    let end = rrule::Tz::Tz(zone)
        .from_local_datetime(&(last_day + Duration::days(1)).and_time(NaiveTime::MIN))
        .earliest()
        .ok_or(SeriesError::TooFar)?;
    let limit = count
        .unwrap_or(HORIZON_DAYS as u16)
        .min(HORIZON_DAYS as u16);
    let result = set.before(end).all(limit);
    Ok(result
        .dates
        .into_iter()
        .map(|start| {
            let start = start.with_timezone(&Utc);
            (start, start + duration)
        })
        .collect())
}

/// What a new series looks like.
pub struct NewSeries {
    pub rrule: String,
    pub starts_on: NaiveDate,
    pub start_time: NaiveTime,
    pub duration_minutes: i32,
    pub capacity: i32,
    pub min_volunteers: i32,
    pub languages_wanted: Vec<String>,
    pub skills_wanted: Vec<String>,
    pub notes: Option<String>,
    pub until: Option<NaiveDate>,
    pub count: Option<u16>,
}

/// Stores a series at `station` and every shift it expands into; returns the series
/// and its shifts.
pub async fn create(
    db: &impl ConnectionTrait,
    station: &station::Model,
    new: NewSeries,
    now: DateTime<Utc>,
) -> Result<(shift_series::Model, Vec<shift::Model>), SeriesError> {
    let zone: chrono_tz::Tz = station.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let times = occurrences(
        &new.rrule,
        zone,
        new.starts_on,
        new.start_time,
        Duration::minutes(new.duration_minutes.into()),
        new.until,
        new.count,
    )?;
    if times.is_empty() {
        return Err(SeriesError::Rule(
            "the rule yields no shift in its range".to_owned(),
        ));
    }
    let series = shift_series::Model {
        id: Uuid::now_v7(),
        station_id: station.id,
        community_id: station.community_id,
        rrule: new.rrule,
        starts_on: new.starts_on,
        start_time: new.start_time.format("%H:%M").to_string(),
        duration_minutes: new.duration_minutes,
        capacity: new.capacity,
        min_volunteers: new.min_volunteers,
        languages_wanted: TagList(new.languages_wanted),
        skills_wanted: TagList(new.skills_wanted),
        notes: new.notes,
        time_zone: station.time_zone.clone(),
        until: new.until,
        count: new.count.map(i32::from),
        cancelled_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
    .map_err(|e| SeriesError::Rule(format!("storing the series: {e}")))?;
    let mut shifts = Vec::with_capacity(times.len());
    for (starts_at, ends_at) in times {
        let shift = shift::Model {
            id: Uuid::now_v7(),
            station_id: station.id,
            community_id: station.community_id,
            starts_at,
            ends_at,
            capacity: series.capacity,
            min_volunteers: series.min_volunteers,
            languages_wanted: series.languages_wanted.clone(),
            skills_wanted: series.skills_wanted.clone(),
            notes: series.notes.clone(),
            status: ShiftStatus::Scheduled,
            confirmed_count: 0,
            waitlist_count: 0,
            cancelled_at: None,
            series_id: Some(series.id),
            created_at: now,
            updated_at: now,
            version: 1,
        }
        .into_active_model()
        .reset_all()
        .insert(db)
        .await
        .map_err(|e| SeriesError::Rule(format!("storing a shift: {e}")))?;
        shifts.push(shift);
    }
    Ok((series, shifts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai_time(hour: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, 0, 0).unwrap()
    }

    #[test]
    fn weekly_at_local_time_across_dst() {
        let zone: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2027, 3, 3).unwrap();
        let until = NaiveDate::from_ymd_opt(2027, 3, 24).unwrap();
        let got = occurrences(
            "FREQ=WEEKLY;BYDAY=WE",
            zone,
            start,
            shanghai_time(19),
            Duration::minutes(90),
            Some(until),
            None,
        )
        .unwrap();
        let starts: Vec<String> = got.iter().map(|(s, _)| s.to_rfc3339()).collect();
        // 19:00 EST is 00:00 UTC; after 14 March, 19:00 EDT is 23:00 UTC.
        assert_eq!(
            starts,
            [
                "2027-03-04T00:00:00+00:00",
                "2027-03-11T00:00:00+00:00",
                "2027-03-17T23:00:00+00:00",
                "2027-03-24T23:00:00+00:00"
            ]
        );
        assert_eq!(got[0].1 - got[0].0, Duration::minutes(90));
    }

    #[test]
    fn bounded_by_count_and_a_year() {
        let zone: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let five = occurrences(
            "FREQ=WEEKLY",
            zone,
            start,
            shanghai_time(19),
            Duration::hours(1),
            None,
            Some(5),
        )
        .unwrap();
        assert_eq!(five.len(), 5);
        let daily = occurrences(
            "FREQ=DAILY",
            zone,
            start,
            shanghai_time(9),
            Duration::hours(1),
            None,
            None,
        )
        .unwrap();
        assert_eq!(daily.len(), 366, "a year at most");
        let too_far = NaiveDate::from_ymd_opt(2028, 1, 1);
        assert_eq!(
            occurrences(
                "FREQ=DAILY",
                zone,
                start,
                shanghai_time(9),
                Duration::hours(1),
                too_far,
                None
            ),
            Err(SeriesError::TooFar)
        );
        assert!(matches!(
            occurrences(
                "FREQ=SOMETIMES",
                zone,
                start,
                shanghai_time(9),
                Duration::hours(1),
                None,
                None
            ),
            Err(SeriesError::Rule(_))
        ));
        assert!(matches!(
            occurrences(
                "FREQ=DAILY;COUNT=3",
                zone,
                start,
                shanghai_time(9),
                Duration::hours(1),
                None,
                None
            ),
            Err(SeriesError::Rule(_))
        ));
    }
}
