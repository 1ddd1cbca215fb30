//! Mail templates, embedded at compile time: `templates/<kind>/<locale>/{subject.txt,
//! text.txt, html.html}` rendered with minijinja in strict mode, so a template that
//! names a variable the sender does not provide fails instead of printing nothing.

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior, Value};

use crate::kinds::MailKind;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// A rendered mail, ready to be sent as multipart/alternative.
#[derive(Clone, Debug)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

fn collect(dir: &'static Dir<'static>, env: &mut Environment<'static>) {
    for file in dir.files() {
        let name = file.path().to_string_lossy().replace('\\', "/");
        if let Some(source) = file.contents_utf8()
            && !name.ends_with(".md")
        {
            env.add_template_owned(name, source.to_owned())
                .unwrap_or_else(|e| panic!("template {}: {e}", file.path().display()));
        }
    }
    for sub in dir.dirs() {
        collect(sub, env);
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::load()
    }
}

impl Templates {
    /// Parses every embedded template.
    ///
    /// # Panics
    /// On a template that does not parse: the test suite renders them all.
    pub fn load() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(false);
        collect(&TEMPLATES, &mut env);
        Self { env }
    }

    pub fn has(&self, kind: MailKind, locale: &str) -> bool {
        ["subject.txt", "text.txt", "html.html"].iter().all(|part| {
            self.env
                .get_template(&format!("{}/{locale}/{part}", kind.as_str()))
                .is_ok()
        })
    }

    /// Renders the three parts of `kind` in `locale` (else the closest locale there are
    /// templates for) with `context`.
    pub fn render(
        &self,
        kind: MailKind,
        locale: &str,
        context: &Value,
    ) -> Result<RenderedMail, minijinja::Error> {
        let locale = crate::locale::mail_locale(locale, crate::locale::FALLBACK);
        let part = |name: &str| {
            self.env
                .get_template(&format!("{}/{locale}/{name}", kind.as_str()))?
                .render(context)
        };
        Ok(RenderedMail {
            subject: part("subject.txt")?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            text: part("text.txt")?,
            html: part("html.html")?,
        })
    }
}

/// A context with every variable `kind` is given, for tests and previews.
pub fn sample_context(kind: MailKind) -> Value {
    let common = [
        ("name", Value::from("Kim Min-jun")),
        ("community", Value::from("Huashenmiao <Community>")),
    ];
    let specific: Vec<(&str, Value)> = match kind {
        MailKind::Welcome => vec![
            ("moved_in_on", "1 September 2026".into()),
            (
                "stations",
                Value::from(vec!["English Corner", "Foreign Friends Service Station"]),
            ),
        ],
        MailKind::ShiftReminder => vec![
            ("station", "English Corner".into()),
            ("starts_at", "Wednesday 2 December 2026, 19:00".into()),
            ("ends_at", "20:30".into()),
            ("location", "Library".into()),
        ],
        MailKind::EventReminder => vec![
            ("event", "Winter Solstice Dumplings".into()),
            ("starts_at", "Sunday 6 December 2026, 15:00".into()),
            ("venue", "Community centre".into()),
        ],
        MailKind::Birthday | MailKind::VolunteerApproved => vec![],
        MailKind::SignIn | MailKind::VerifyEmail => vec![
            ("code", "042917".into()),
            ("sign_in_url", "https://example.cn/sign-in/abc".into()),
            ("valid_minutes", 15.into()),
        ],
        MailKind::Farewell => vec![("moving_out_on", "30 June 2027".into())],
        MailKind::FeedbackRequest => vec![
            ("event", "Winter Solstice Dumplings".into()),
            ("feedback_url", "https://example.cn/feedback/abc".into()),
        ],
        MailKind::WaitlistPromoted => {
            vec![
                ("activity", "English Corner".into()),
                ("starts_at", "Wednesday 2 December 2026, 19:00".into()),
            ]
        }
        MailKind::ShiftCancelled => {
            vec![
                ("station", "English Corner".into()),
                ("starts_at", "Wednesday 2 December 2026, 19:00".into()),
            ]
        }
        MailKind::EventCancelled => vec![
            ("event", "Winter Solstice Dumplings".into()),
            ("starts_at", "Sunday 6 December 2026, 15:00".into()),
        ],
        MailKind::CareDue => vec![
            ("resident", "张伟".into()),
            ("visit", false.into()),
            ("due_on", "Monday 30 November 2026".into()),
            ("overdue", true.into()),
        ],
        MailKind::Notice => vec![
            ("subject", "停水通知 Water off on Friday".into()),
            ("body", "**Water** is off on Friday 9:00–12:00.".into()),
            (
                "body_html",
                Value::from_safe_string(
                    "<p><strong>Water</strong> is off on Friday 9:00–12:00.</p>".to_owned(),
                ),
            ),
        ],
        MailKind::SurveyInvitation | MailKind::SurveyReminder => vec![
            (
                "title",
                "2026 居民满意度调查 Resident satisfaction survey".into(),
            ),
            ("intro", "Ten minutes, anonymous in the report.".into()),
            (
                "survey_url",
                "https://hsm.example.cn/survey-invitations/abc".into(),
            ),
            ("closes_on", "Thursday 31 December 2026".into()),
            ("questions", 8.into()),
        ],
        MailKind::Digest => vec![
            ("date", "Saturday 28 November 2026".into()),
            (
                "pending_volunteers",
                Value::from_serialize(vec![
                    serde_json::json!({"name": "Olga Petrova", "applied_on": "Friday 27 November 2026"}),
                ]),
            ),
            (
                "understaffed",
                Value::from_serialize(vec![
                    serde_json::json!({"station": "Micro-Happiness Station", "starts_at": "Sunday 29 November 2026, 09:00", "confirmed": 1, "minimum": 2}),
                ]),
            ),
            (
                "no_shows",
                Value::from_serialize(vec![
                    serde_json::json!({"name": "Li Ming", "activity": "Safety patrol"}),
                ]),
            ),
            (
                "overdue_care",
                Value::from_serialize(vec![
                    serde_json::json!({"resident": "张伟", "assignee": "王芳", "due_on": "Monday 23 November 2026"}),
                ]),
            ),
            (
                "new_signups",
                Value::from_serialize(vec![
                    serde_json::json!({"name": "Anna Müller", "activity": "English Corner", "starts_at": "Wednesday 2 December 2026, 19:00"}),
                ]),
            ),
        ],
    };
    Value::from_iter(common.into_iter().chain(specific))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locale::LOCALES;

    #[test]
    fn every_kind_in_every_locale_renders_with_its_variables() {
        let templates = Templates::load();
        let mut missing = Vec::new();
        for kind in <MailKind as sea_orm::Iterable>::iter() {
            for locale in LOCALES {
                if !templates.has(kind, locale) {
                    missing.push(format!("{}/{locale}", kind.as_str()));
                    continue;
                }
                let mail = templates
                    .render(kind, locale, &sample_context(kind))
                    .unwrap_or_else(|e| panic!("{}/{locale}: {e:#}", kind.as_str()));
                assert!(
                    !mail.subject.is_empty() && !mail.text.trim().is_empty(),
                    "{}/{locale}",
                    kind.as_str()
                );
                assert!(
                    mail.html.contains("<html>"),
                    "{}/{locale} extends the layout",
                    kind.as_str()
                );
                assert!(
                    mail.text.contains("Kim Min-jun"),
                    "{}/{locale} greets the reader",
                    kind.as_str()
                );
            }
        }
        assert!(missing.is_empty(), "templates missing: {missing:?}");
    }

    #[test]
    fn unknown_variables_fail() {
        let templates = Templates::load();
        let without_station =
            Value::from_iter([("name", Value::from("x")), ("community", Value::from("y"))]);
        assert!(
            templates
                .render(MailKind::ShiftReminder, "en", &without_station)
                .is_err()
        );
    }

    #[test]
    fn html_is_escaped_text_is_not() {
        let templates = Templates::load();
        let mail = templates
            .render(
                MailKind::Birthday,
                "en",
                &sample_context(MailKind::Birthday),
            )
            .unwrap();
        assert!(mail.html.contains("Huashenmiao &lt;Community&gt;"));
        assert!(mail.text.contains("Huashenmiao <Community>"));
    }
}
