//! Choosing the language a person reads: their locale, else the community's default,
//! else English; a regional variant falls back to its language (`en-GB` → `en`).

use entities::json::LocalizedText;

/// The locales every mail kind has templates for.
pub const LOCALES: [&str; 8] = ["en", "zh-CN", "ko", "ja", "fr", "de", "es", "ru"];

pub const FALLBACK: &str = "en";

fn language(tag: &str) -> &str {
    tag.split('-').next().unwrap_or(tag)
}

/// The best of `available` for `wanted`: the same tag, else the same language.
fn best<'a>(wanted: &str, available: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'a str> {
    available
        .clone()
        .into_iter()
        .find(|tag| tag.eq_ignore_ascii_case(wanted))
        .or_else(|| {
            available
                .into_iter()
                .find(|tag| language(tag).eq_ignore_ascii_case(language(wanted)))
        })
}

/// The template locale for a reader whose own locale is `person` in a community
/// whose default is `community`.
pub fn mail_locale(person: &str, community: &str) -> &'static str {
    best(person, LOCALES)
        .or_else(|| best(community, LOCALES))
        .unwrap_or(FALLBACK)
}

/// The locale of `text` a reader of `locale` gets: theirs, else the community's
/// default, else English, else the first there is.
pub fn choose<'a>(
    text: &'a LocalizedText,
    locale: &str,
    community_default: &str,
) -> Option<&'a str> {
    let keys = text.0.keys().map(String::as_str);
    best(locale, keys.clone())
        .or_else(|| best(community_default, keys.clone()))
        .or_else(|| best(FALLBACK, keys))
        .or_else(|| text.0.keys().next().map(String::as_str))
}

/// A localized text in the locale [`choose`] picks.
pub fn pick(text: &LocalizedText, locale: &str, community_default: &str) -> String {
    choose(text, locale, community_default)
        .and_then(|key| text.0.get(key))
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_person_community_english() {
        assert_eq!(mail_locale("ko", "zh-CN"), "ko");
        assert_eq!(mail_locale("en-GB", "zh-CN"), "en");
        assert_eq!(mail_locale("zh-TW", "en"), "zh-CN");
        assert_eq!(mail_locale("it", "zh-CN"), "zh-CN");
        assert_eq!(mail_locale("it", "pt"), "en");
    }

    #[test]
    fn picks_localized_text() {
        let text = LocalizedText(
            [
                ("zh-CN".to_owned(), "英语角".to_owned()),
                ("en".to_owned(), "English Corner".to_owned()),
            ]
            .into(),
        );
        assert_eq!(pick(&text, "ko", "zh-CN"), "英语角");
        assert_eq!(pick(&text, "en-US", "zh-CN"), "English Corner");
        assert_eq!(pick(&text, "fr", "de"), "English Corner");
        let only = LocalizedText([("ja".to_owned(), "書道".to_owned())].into());
        assert_eq!(pick(&only, "fr", "de"), "書道");
    }
}
