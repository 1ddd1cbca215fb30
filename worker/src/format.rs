//! Dates and times as a reader expects them: in their time zone, in their language.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

fn chrono_locale(locale: &str) -> chrono::Locale {
    match locale {
        "zh-CN" => chrono::Locale::zh_CN,
        "ko" => chrono::Locale::ko_KR,
        "ja" => chrono::Locale::ja_JP,
        "fr" => chrono::Locale::fr_FR,
        "de" => chrono::Locale::de_DE,
        "es" => chrono::Locale::es_ES,
        "ru" => chrono::Locale::ru_RU,
        _ => chrono::Locale::en_GB,
    }
}

fn date_pattern(locale: &str) -> &'static str {
    match locale {
        "zh-CN" | "ja" => "%Y年%-m月%-d日（%a）",
        "ko" => "%Y년 %-m월 %-d일 (%a)",
        "fr" => "%A %-d %B %Y",
        "de" => "%A, %-d. %B %Y",
        "es" => "%A, %-d de %B de %Y",
        "ru" => "%A, %-d %B %Y",
        _ => "%A %-d %B %Y",
    }
}

/// E.g. `2026年12月5日（六） 19:00` or `Saturday 5 December 2026, 19:00`.
pub fn date_time(at: DateTime<Utc>, zone: Tz, locale: &str) -> String {
    let local = at.with_timezone(&zone);
    let separator = match locale {
        "zh-CN" | "ja" | "ko" => " ",
        "fr" => " à ",
        _ => ", ",
    };
    format!(
        "{}{separator}{}",
        local.format_localized(date_pattern(locale), chrono_locale(locale)),
        local.format("%H:%M")
    )
}

/// E.g. `19:00`.
pub fn time(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%H:%M").to_string()
}

/// E.g. `2026年12月5日（六）` or `Saturday 5 December 2026`.
pub fn date(day: NaiveDate, locale: &str) -> String {
    day.format_localized(date_pattern(locale), chrono_locale(locale))
        .to_string()
}

/// A time zone name from the database; an unknown one (it was validated on the way in)
/// reads as UTC rather than failing a mail.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn local_and_localized() {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 11, 0, 0).unwrap();
        assert_eq!(
            date_time(at, zone("Asia/Shanghai"), "zh-CN"),
            "2026年12月5日（六） 19:00"
        );
        assert_eq!(
            date_time(at, zone("Asia/Shanghai"), "en"),
            "Saturday 5 December 2026, 19:00"
        );
        assert_eq!(
            date_time(at, zone("America/New_York"), "en"),
            "Saturday 5 December 2026, 06:00"
        );
        assert!(
            date_time(at, zone("Europe/Paris"), "fr").starts_with("samedi 5 décembre 2026 à 12:00")
        );
        assert_eq!(time(at, zone("Asia/Seoul")), "20:00");
    }
}
