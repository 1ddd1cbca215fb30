//! The domain's checks on request bodies, beyond the bounds their types declare (and
//! the contract shows): real IANA zones, BCP 47 locales, ISO countries, localized
//! maps, email addresses, and rules across fields. They answer 422; bounds answer
//! 400.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::{ApiError, FieldError};

/// Collects every problem of a request, so the client learns of all of them at once.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn fail(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    pub fn ensure(&mut self, ok: bool, field: &str, code: &str, message: &str) {
        if !ok {
            self.fail(field, code, message);
        }
    }

    pub fn time_zone(&mut self, field: &str, value: &str) {
        if chrono_tz::Tz::from_str(value).is_err() {
            self.fail(
                field,
                "invalid_time_zone",
                format!("`{value}` is not an IANA time zone"),
            );
        }
    }

    pub fn locale(&mut self, field: &str, value: &str) {
        if !is_locale(value) {
            self.fail(
                field,
                "invalid_locale",
                format!("`{value}` is not a BCP 47 language tag such as `zh-CN` or `en`"),
            );
        }
    }

    /// An address as RFC 5322 has it (the `email` format's own reading), at a domain
    /// name with a dot: no display text, no IP literal.
    pub fn email(&mut self, field: &str, value: &str) {
        let strict = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            allow_long_local_parts: false,
        };
        if email_address::EmailAddress::parse_with_options(value, strict).is_err() {
            self.fail(field, "email", format!("`{value}` is not an email address"));
        }
    }

    pub fn country(&mut self, field: &str, value: &str) {
        if !is_country(value) {
            self.fail(
                field,
                "invalid_country",
                format!("`{value}` is not an ISO 3166-1 alpha-2 country code"),
            );
        }
    }

    /// Skills and other tags: no blank entries (their count and length are bounds on
    /// the request type).
    pub fn tags(&mut self, field: &str, values: &[String]) {
        if values.iter().any(|value| value.trim().is_empty()) {
            self.fail(field, "blank", "entries must not be blank");
        }
    }

    /// Languages are BCP 47 tags.
    pub fn languages(&mut self, field: &str, values: &[String]) {
        self.tags(field, values);
        for value in values {
            if !is_locale(value) {
                self.fail(
                    field,
                    "invalid_locale",
                    format!("`{value}` is not a BCP 47 language tag"),
                );
            }
        }
    }

    /// A text in several languages: at least one entry when `required`, each key a
    /// locale, no text blank (lengths are bounds on the request type).
    pub fn localized(&mut self, field: &str, map: &BTreeMap<String, String>, required: bool) {
        if required && map.is_empty() {
            self.fail(field, "required", "give the text in at least one language");
        }
        for (locale, text) in map {
            if !is_locale(locale) {
                self.fail(
                    &format!("{field}.{locale}"),
                    "invalid_locale",
                    format!("`{locale}` is not a BCP 47 language tag"),
                );
            }
            if text.trim().is_empty() {
                self.fail(&format!("{field}.{locale}"), "blank", "must not be blank");
            }
        }
    }

    pub fn interval(&mut self, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) {
        if ends_at <= starts_at {
            self.fail("ends_at", "order", "ends_at must be after starts_at");
        }
    }

    /// The problems found so far.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// A BCP 47 tag of the common shape: language (2–3 letters), optional script (4
/// letters), optional region (2 letters or 3 digits), e.g. `en`, `zh-CN`, `zh-Hans-CN`.
pub fn is_locale(tag: &str) -> bool {
    let mut parts = tag.split('-').peekable();
    let Some(language) = parts.next() else {
        return false;
    };
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    if let Some(script) = parts.peek()
        && script.len() == 4
        && script.chars().all(|c| c.is_ascii_alphabetic())
    {
        parts.next();
    }
    if let Some(region) = parts.next() {
        let letters = region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase());
        let digits = region.len() == 3 && region.chars().all(|c| c.is_ascii_digit());
        if !(letters || digits) {
            return false;
        }
    }
    parts.next().is_none()
}

/// The officially assigned ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO \
DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM \
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR \
LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL \
NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ \
SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA \
VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split_ascii_whitespace().any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales() {
        for ok in ["en", "zh-CN", "zh-Hans-CN", "ko", "es-419", "fil"] {
            assert!(is_locale(ok), "{ok}");
        }
        for bad in ["", "EN", "zh_CN", "zh-cn", "english", "en-", "en-US-x"] {
            assert!(!is_locale(bad), "{bad}");
        }
    }

    #[test]
    fn countries() {
        assert_eq!(COUNTRIES.split_ascii_whitespace().count(), 249);
        assert!(is_country("CN") && is_country("KR") && is_country("US"));
        assert!(!is_country("cn") && !is_country("XX") && !is_country("CHN"));
    }
}
